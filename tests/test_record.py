"""The recording file: what it keeps, replay equal to live, crashes, bad files, retention.

A replay is compared with the live view on the facts an operator sees (states,
priorities, VIP owners and since when, transitions, failovers with their timings,
alarms, log lines) at instants that separate the live event stream: every event at or
before the instant had been folded live, none after it. Advert rates are not compared:
the recording keeps adverts as per-second counters on purpose.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from haconsole.cli import main as cli_main
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, CommandIssued
from haconsole.lab.definition import DEFAULT_LAB, LabDefinition, load_lab, parse_lab_text
from haconsole.lab.lab import InProcessLab
from haconsole.record import Recorder, Recording, RecordingError, Timeline, codec
from haconsole.record.condense import Condenser
from haconsole.record.layout import FORMAT_VERSION

try:  # the scripted lab moved from the console to the lab
    from haconsole.lab.scripted import SCENES, Scene
except ImportError:  # pragma: no cover
    from haconsole.console.demo import SCENES, Scene  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def operator_facts(view: ClusterView, now: float) -> dict[str, Any]:
    """What an operator reads off a view at `now` (rates aside)."""
    return {
        "instances": {k: (str(i.state), i.base_priority, i.effective_priority, i.vips,
                          i.master_address, i.hold_until, i.lost, i.priority_cause,
                          i.first_seen, i.last_transition, list(i.transition_times))
                      for k, i in view.instances.items()},
        "nodes": {n: (v.up, v.lost_reason, v.lost_at, dict(v.services), dict(v.tracks),
                      dict(v.changed_at), v.health_ok, v.health_detail, v.first_seen)
                  for n, v in view.nodes.items()},
        "vips": {k: (v.instance, v.owner, v.since, v.previous_owner, dict(v.holders))
                 for k, v in view.vips.items()},
        "transitions": list(view.transitions),
        "failovers": [dataclasses.astuple(f) for f in view.failovers],
        "pending": {g: dataclasses.astuple(f) for g, f in view.pending.items()},
        "alarms": view.alarms(now),
        "log": [(e.t, e.node, e.text, e.level) for e in view.log],
    }


def live_samples(items: list[Any]) -> list[tuple[float, dict[str, Any]]]:
    """Fold `items` as a console does (in order) and take the facts at every instant that
    separates them (the events before it all earlier or equal, the ones after later)."""
    view = ClusterView()
    suffix_min = [float("inf")] * (len(items) + 1)
    for k in range(len(items) - 1, -1, -1):
        suffix_min[k] = min(items[k].t, suffix_min[k + 1])
    samples = []
    prefix_max = float("-inf")
    for k, item in enumerate(items):
        view.apply(item)
        prefix_max = max(prefix_max, item.t)
        if item.t >= prefix_max and suffix_min[k + 1] > item.t:
            samples.append((item.t, operator_facts(view, item.t)))
    return samples


def record(path: Path, items: list[Any], **kwargs: Any) -> None:
    recorder = Recorder(path, **kwargs)
    recorder.record_many(items)
    recorder.close()


def assert_replay_equals(path: Path, samples: list[tuple[float, dict[str, Any]]]) -> None:
    with Recording.open(path) as rec:
        timeline = Timeline(rec, keyframe_events=10)
        for t, facts in samples:
            assert operator_facts(timeline.view_at(t), t) == facts, f"at {t}"


# ---------------------------------------------------------------------- round trips
STORM = Scene("storm", "5:stop nginx1; 9:start nginx1; 14:failover nginx1; 20:kill nginx2; "
              "24:boot nginx2; 30:partition nginx2; 36:heal nginx2; 40:halt nginx1; "
              "44:restart nginx1", 50.0)


def fast_lab() -> LabDefinition:
    """The nginx pair in VRRPv3 at 100 ms: ten adverts a second, so counters aggregate
    and the stopwatch's first advert after a cause must be kept as it came."""
    text = DEFAULT_LAB.read_text().replace("advert_int = 1 ", "advert_int = 0.1\nversion = 3 ")
    return parse_lab_text("\n".join(line for line in text.splitlines()
                                     if not line.startswith("auth_")))


SCRIPTS = {**{name: (scene, None) for name, scene in SCENES.items()},
           "storm": (STORM, None), "storm at 100 ms": (STORM, fast_lab)}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_replay_of_the_scripted_lab_equals_the_live_view(tmp_path: Path, name: str) -> None:
    scene, lab = SCRIPTS[name]
    items = scene.events(lab() if lab else None)
    samples = live_samples(items)
    assert len(samples) > 10
    path = tmp_path / "scene.hcr"
    record(path, items, keyframe_events=8)
    assert_replay_equals(path, samples)
    with Recording.open(path) as rec:  # adverts went into counters
        kept = [e for e in rec.events() if isinstance(e, ev.AdvertSent | ev.AdvertReceived)]
        assert len(kept) < sum(isinstance(e, ev.AdvertSent | ev.AdvertReceived) for e in items)
        assert any(c.usable for c in rec.checkpoints())


async def test_replay_of_the_in_process_lab_equals_the_live_view(tmp_path: Path) -> None:
    lab = InProcessLab(load_lab())
    path = tmp_path / "lab.hcr"
    recorder = Recorder(path)
    items: list[Any] = []
    watch = ClusterView()

    def publish(item: Any) -> None:
        items.append(item)
        recorder.record(item)
        watch.apply(item)

    await lab.start(publish)
    try:
        assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], 10.0)
        publish(CommandIssued(time.time(), "nginx1", "stop nginx on nginx1"))
        await lab.execute(cmd.StopService("nginx1"))
        assert await lab.wait_for(
            lambda: bool(watch.failovers) and watch.failovers[-1].complete, 15.0)
        assert await lab.wait_for(  # a counter of the new master's adverts too
            lambda: sum(isinstance(i, ev.AdvertSent) for i in items) >= 4, 10.0)
    finally:
        await lab.stop()
        recorder.close()
    samples = live_samples(items)
    assert samples and samples[-1][1]["failovers"]
    assert_replay_equals(path, samples)
    # The lab's auth_pass is nowhere in the file, raw or decoded.
    secrets = {i.auth_pass.reveal() for i in lab.definition.instances if i.auth_pass}
    assert secrets
    raw = path.read_bytes()
    with Recording.open(path) as rec:
        decoded = repr(list(rec.events()))
    for secret in secrets:
        assert secret.encode() not in raw and secret not in decoded


def test_reading_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "live.hcr"
    items = STORM.events()
    half = len(items) // 2
    recorder = Recorder(path, keyframe_events=20, lag=0.0)
    try:
        recorder.record_many(items[:half])
        recorder.flush()
        with Recording.open(path) as rec:
            first = rec.count()
            assert first > 0 and not rec.closed_cleanly
            timeline = Timeline(rec)
            middle = items[half - 1].t
            assert operator_facts(timeline.view_at(middle), middle)["instances"]
            recorder.record_many(items[half:])
            recorder.flush()
            assert rec.count() > first
            timeline.refresh()
            assert timeline.end == pytest.approx(max(i.t for i in items), abs=1.0)
    finally:
        recorder.close()
    with Recording.open(path) as rec:
        assert rec.closed_cleanly


def test_an_appended_session_continues_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "twice.hcr"
    items = STORM.events(fast_lab())
    half = len(items) // 2
    record(path, items[:half], keyframe_events=10, meta={"sources": [{"kind": "a"}]})
    record(path, items[half:], keyframe_events=10, meta={"sources": [{"kind": "b"}]})
    assert_replay_equals(path, live_samples(items))
    with Recording.open(path) as rec:
        assert [s["kind"] for s in rec.meta["sources"]] == ["a", "b"]
        assert len(rec.meta["sessions"]) == 2


# ---------------------------------------------------------------------- what is kept
T = 1_700_000_000.0


def condense(items: list[Any], flush_every: int = 0) -> list[Any]:
    c, out = Condenser(), []
    for k, item in enumerate(items, 1):
        c.feed(item, out)
        if flush_every and k % flush_every == 0:
            c.flush(out)
    c.flush(out)
    return out


def test_adverts_become_counters_and_the_first_after_a_change_stays() -> None:
    adverts = [ev.AdvertSent(T + k, "n1", "VI_1", 100) for k in range(10)]
    change = ev.PriorityChange(T + 10.5, "n2", "VI_1", old=90, new=70, base=90)
    later = [ev.AdvertSent(T + 11 + k, "n1", "VI_1", 100) for k in range(5)]
    out = condense([*adverts, change, *later], flush_every=4)
    sent = [e for e in out if isinstance(e, ev.AdvertSent)]
    assert [e.t for e in sent] == [T, T + 11]  # the first one, and the first after a change
    counters = [e for e in out if isinstance(e, ev.AdvertCounters)]
    assert counters[0] == ev.AdvertCounters(T, "n1", "VI_1", 0, 0)  # the series starts
    assert counters[-1].sent == 13 and counters[-1].t == T + 15  # the others, counted
    view = ClusterView()
    view.apply_all(out)
    live = ClusterView()
    live.apply_all([*adverts, change, *later])
    assert view.advert_rates(("n1", "VI_1"), T + 15) == live.advert_rates(("n1", "VI_1"), T + 15)


def test_a_priority_change_on_an_advert_stream_is_kept() -> None:
    out = condense([ev.AdvertReceived(T, "n2", "VI_1", "192.0.2.1", 100),
                    ev.AdvertReceived(T + 1, "n2", "VI_1", "192.0.2.1", 100),
                    ev.AdvertReceived(T + 2, "n2", "VI_1", "192.0.2.1", 0)])
    assert [e.priority for e in out if isinstance(e, ev.AdvertReceived)] == [100, 0]


def test_unchanged_snapshots_are_dropped_but_a_quiet_node_keeps_a_heartbeat() -> None:
    snap = ev.InstanceState(T, "n1", "VI_1", vrid=1, state="BACKUP", base_priority=90)
    items = [dataclasses.replace(snap, t=T + k * 0.25) for k in range(9)]
    kept = [e.t for e in condense(items)]
    assert kept == [T, T + 1.25]  # the first, then one once the node was quiet 1 s
    moved = dataclasses.replace(snap, t=T + 2.5, effective_priority=70)
    assert condense([snap, moved]) == [snap, moved]


def test_a_source_with_counters_of_its_own_keeps_them_and_its_adverts() -> None:
    items = [ev.AdvertCounters(T, "k1", "VI_1", 5, 0), ev.AdvertSent(T + 1, "k1", "VI_1", 100),
             ev.AdvertSent(T + 2, "k1", "VI_1", 100), ev.AdvertCounters(T + 3, "k1", "VI_1", 8, 0)]
    assert condense(items) == items


def test_every_event_kind_round_trips_through_the_codec() -> None:
    items: list[Any] = [CommandIssued(T, "n1", "stop nginx on n1")]
    for cls in ev.EVENT_TYPES.values():
        fields = {f.name for f in dataclasses.fields(cls)}
        extra = {"instance": "VI_1"} if "instance" in fields else {}
        if "vips" in fields:
            extra["vips"] = ("192.0.2.10", "192.0.2.11")
        items.append(cls(T, "n1", **extra))  # type: ignore[arg-type]
    items.append(ev.LogLine(T, "n1", "bytes a log could not decode: \udcff, and \u00e9"))
    rows, skipped = codec.unpack(codec.pack(list(enumerate(items))))
    assert skipped == 0 and [r[2] for r in rows] == items
    newer = {"kind": "instance_state", "t": T, "node": "n1", "colour": "blue"}
    assert codec.decode(newer) == ev.InstanceState(T, "n1")  # an unknown field is dropped
    assert codec.decode({"kind": "from_the_future", "t": T, "node": "n1"}) is None


# ---------------------------------------------------------------------- the command line
def _spawn(path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "haconsole", "record", "--lab", "-o", str(path), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_seconds(path: Path, seconds: float, timeout: float = 30.0) -> None:
    """Until the file holds `seconds` of events (the recorder commits once a second)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with Recording.open(path) as rec:
                first, last = rec.time_range()
                if last - first >= seconds:
                    return
        except RecordingError:
            pass  # not created yet
        time.sleep(0.1)
    raise TimeoutError(f"{path} never held {seconds} s of events")


def test_a_killed_recorder_leaves_a_readable_file_up_to_the_last_second(
        tmp_path: Path) -> None:
    path = tmp_path / "killed.hcr"
    proc = _spawn(path, "--scenario", "1:stop nginx1")
    try:
        _wait_for_seconds(path, 4.0)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    with Recording.open(path) as rec:
        assert not rec.closed_cleanly
        _, last = rec.time_range()
        # commits come once a second, and the last event of a commit (a counter of the
        # adverts of the second before it) may be a second older: 2 s, plus slack for a
        # loaded machine
        assert last >= killed_at - 3.0
        view = Timeline(rec).view_at(last)
        assert set(view.nodes) == {"nginx1", "nginx2"}
        assert any(isinstance(e, CommandIssued) for e in rec.events())  # the scenario's


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: s.name)
def test_a_signal_flushes_and_closes_the_recording(tmp_path: Path, sig: signal.Signals) -> None:
    path = tmp_path / "stopped.hcr"
    proc = _spawn(path)
    try:
        _wait_for_seconds(path, 1.0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    assert not Path(f"{path}-wal").exists()
    with Recording.open(path) as rec:
        assert rec.closed_cleanly and rec.count() > 0


# ---------------------------------------------------------------------- bad files
def _truncated(path: Path) -> None:
    record(path, SCENES["failover"].events())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _newer(path: Path) -> None:
    record(path, SCENES["overview"].events())
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {FORMAT_VERSION + 1}")
    conn.close()


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


BAD_FILES = {
    "truncated": (_truncated, "truncated"),
    "png": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), "not an SQLite"),
    "text": (lambda p: p.write_text("VI_1 was MASTER on nginx1\n"), "not an SQLite"),
    "foreign sqlite": (_foreign_sqlite, "not a haconsole recording"),
    "newer format": (_newer, "newer haconsole"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_is_refused_in_one_line_naming_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.hcr"
    make, words = BAD_FILES[kind]
    make(path)
    with pytest.raises(RecordingError) as caught:
        Recording.open(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


@pytest.mark.parametrize("kind", [k for k in BAD_FILES if k != "empty"])
def test_the_recorder_never_overwrites_a_file_that_is_not_its_own(
        tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.hcr"
    BAD_FILES[kind][0](path)
    before = path.read_bytes()
    assert cli_main(["record", "--lab", "-o", str(path), "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert path.read_bytes() == before


def test_an_inventory_is_recorded_read_only_and_names_no_secret(tmp_path: Path) -> None:
    from haconsole.record.cli import _build_source, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    inventory = ROOT / "configs" / "inventory.example.toml"
    args = parser.parse_args([str(inventory), "-o", str(tmp_path / "x.hcr")])
    fleet, steps, meta = _build_source(args)
    assert fleet.readonly and steps == []  # type: ignore[attr-defined]
    assert meta["sources"][0]["nodes"] == [n for n in fleet.nodes]  # type: ignore[attr-defined]
    assert "identity" not in repr(meta) and "pass" not in repr(meta)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[node]]\nname = 1\n")
    assert cli_main(["record", str(bad), "-o", str(tmp_path / "y.hcr")]) == 2


def test_one_file_takes_one_recorder(tmp_path: Path) -> None:
    path = tmp_path / "one.hcr"
    first = Recorder(path)
    try:
        with pytest.raises(RecordingError, match="another recorder is writing it"):
            Recorder(path)
    finally:
        first.close()
    Recorder(path).close()  # free again


def test_the_command_line_refuses_bad_arguments(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.hcr")
    assert cli_main(["record", "-o", out]) == 2  # neither an inventory nor --lab
    assert cli_main(["record", "--lab", "-o", str(tmp_path / "no" / "dir.hcr")]) == 2
    assert "cannot create" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["record", "--lab", "-o", out, "--retain", "forever"])


# ---------------------------------------------------------------------- retention
def _load(start: float, seconds: int, per_second: int = 400) -> list[Any]:
    """A busy cluster: per second, a log line and adverts for each of 20 instances."""
    items: list[Any] = [ev.InstanceState(start, f"n{k}", "VI_1", vrid=k, state="MASTER",
                                         base_priority=100, effective_priority=100)
                        for k in range(20)]
    for s in range(seconds):
        for k in range(per_second):
            t = start + s + k / per_second
            node = f"n{k % 20}"
            items.append(ev.LogLine(t, node, f"(VI_1) line {s}.{k}") if k % 4 == 0
                         else ev.AdvertSent(t, node, "VI_1", 100))
    return items


def test_retain_bounds_the_file_and_keeps_the_view_whole(tmp_path: Path) -> None:
    path = tmp_path / "bounded.hcr"
    start = time.time() - 10_000
    items = _load(start, 600)
    kwargs: dict[str, Any] = {"retain": 30.0, "retain_every": 5.0, "keyframe_events": 1000,
                              "lag": 1.0}
    sizes = []
    for half in (items[: len(items) // 2], items[len(items) // 2:]):
        recorder = Recorder(path, **kwargs)
        for s in range(0, len(half), 400):  # a second at a time, as a console would
            recorder.record_many(half[s:s + 400])
            recorder.flush()
        recorder.close()
        sizes.append(path.stat().st_size)
    everything = tmp_path / "everything.hcr"
    record(everything, items)
    assert sizes[1] <= sizes[0] * 1.3 < everything.stat().st_size
    with Recording.open(path) as rec:
        first, last = rec.time_range()
        assert last - first <= 30.0 + 20.0  # retain, plus a keyframe's spacing and lag
        view = Timeline(rec).view_at(first)
        assert len(view.instances) == 20  # the snapshots of the start are in the keyframe
        assert all(i.state == "MASTER" for i in view.instances.values())
