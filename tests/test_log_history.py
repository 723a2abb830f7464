"""read_history: real keepalived and agent logs (tests/data/incident, the 2.4.3 corpus), in
every form a node's log reaches an operator (reshape.py makes them from the real console
logs), several hosts in one file, gzip, rotation, years, windows, and bad input."""

from __future__ import annotations

import gzip
import importlib.util
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from haconsole.cluster import events as ev
from haconsole.keepalived.log.history import (
    SILENT_REASON,
    History,
    LogHistoryError,
    read_history,
)
from haconsole.report import build_report

DATA = Path(__file__).parent / "data"
INCIDENT = DATA / "incident"
N1, N2 = "nginx1", "nginx2"
PREFIXES = ["keepalived", "haconsole", "keepalived-haconsole"]
AGENTS = {"keepalived": (False, False), "haconsole": (True, True),
          "keepalived-haconsole": (False, True)}


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"incident_{name}", INCIDENT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


reshape = _load("reshape")
make_incident = _load("make_incident")


def console(prefix: str, node: str) -> Path:
    return INCIDENT / f"{prefix}-{node}.log"


def pair(prefix: str) -> list[tuple[str, Path]]:
    return [(node, console(prefix, node)) for node in (N1, N2)]


def transitions(history: History, node: str) -> list[tuple[str, str]]:
    return [(str(e.old), str(e.new)) for e in history.events
            if isinstance(e, ev.Transition) and e.node == node]


def failovers(history: History) -> list[tuple[str | None, str, str]]:
    (router,) = build_report(history.events).instances
    return [(f.old, f.new, f.kind) for f in router.failovers]


def entries(prefix: str, *, offset: float = 0.0, shift: float = 0.0) -> list[Any]:
    """Both nodes' real lines; nginx2's clock `offset` off; everything moved by `shift`."""
    one, two = AGENTS[prefix]
    first = reshape.console_entries(console(prefix, N1).read_text(), N1, agent=one,
                                    offset=shift)
    second = reshape.console_entries(console(prefix, N2).read_text(), N2, agent=two,
                                     offset=shift + offset)
    return reshape.merged(first, second)


def write(path: Path, text: str, *, mtime: float | None = None) -> Path:
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# ----------------------------------------------------------------------------- one log

def test_a_keepalived_console_log() -> None:
    history = read_history([(N1, console("keepalived", N1))])
    assert history.nodes == [N1] and history.lines > 100
    assert history.problems == [f"{console('keepalived', N1)}: 3 lines in no known log form "
                                "skipped (first: line 1)"]  # the lab's "--- start" markers
    seen = [e for e in history.events if isinstance(e, ev.NodeSeen)]
    assert [(e.agent, e.address) for e in seen] == [("keepalived", "192.0.2.11")] * 3
    lost = [e.reason for e in history.events if isinstance(e, ev.NodeLost)]
    assert len(lost) == 2 and lost[0].startswith(SILENT_REASON) and lost[1] == "stopped"
    drop = next(e for e in history.events if isinstance(e, ev.PriorityChange))
    assert (drop.old, drop.new, drop.cause) == (100, 80, "chk_nginx failed (weight -20)")
    assert {e.vip for e in history.events if isinstance(e, ev.VipAdded)} == {"192.0.2.170"}
    assert transitions(history, N1)[:3] == [("INIT", "BACKUP"), ("BACKUP", "MASTER"),
                                            ("MASTER", "BACKUP")]
    stamps = [e.t for e in history.events]
    assert stamps == sorted(stamps)


def test_the_agents_log_names_it_an_agent() -> None:
    history = read_history([(N1, console("haconsole", N1)), (N2, console("haconsole", N2))])
    seen = {(e.node, e.agent, e.address) for e in history.events
            if isinstance(e, ev.NodeSeen)}
    # The agent logs no address: each node's is the one its peer heard adverts from.
    assert seen == {(N1, "haconsole", "192.0.2.11"), (N2, "haconsole", "192.0.2.12")}


def test_a_silent_death_is_placed_at_the_peers_takeover() -> None:
    history = read_history(pair("keepalived"))
    events = history.events
    lost = next(i for i, e in enumerate(events)
                if isinstance(e, ev.NodeLost) and e.reason.startswith(SILENT_REASON))
    takeover = next(e for e in events[lost:] if isinstance(e, ev.Transition)
                    and e.node == N2 and e.new == "MASTER")
    assert 0 < takeover.t - events[lost].t < 0.001
    last_words = max(e.t for e in events[:lost] if e.node == N1)
    assert events[lost].t >= last_words


def test_a_vrrp_child_killed_and_respawned() -> None:
    """keepalived 2.4.3: the parent logs its child's death and starts another."""
    history = read_history([(N1, DATA / "keepalived-2.4.3" / "incident-nginx1.log")])
    lost = next(e for e in history.events if isinstance(e, ev.NodeLost))
    assert lost.reason == "crashed: VRRP process killed by signal 9 (Killed)"
    after = [e for e in history.events if e.t >= lost.t and not isinstance(e, ev.LogLine)]
    assert isinstance(after[1], ev.NodeSeen) and after[1].agent == "keepalived"
    assert next(e for e in after if isinstance(e, ev.Transition)).old == "INIT"


# ----------------------------------------------------------------------------- every form

@pytest.mark.parametrize("form", reshape.FORMS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_form_tells_the_same_incident(tmp_path: Path, prefix: str, form: str) -> None:
    """One file of both hosts (plus a third host and other programs between), nginx2's
    clock 0.37 s behind: the same transitions per node as the console logs, and the same
    report, whatever the form's stamp resolution."""
    lines = reshape.render(reshape.with_noise(entries(prefix, offset=-0.37)), form)
    path = write(tmp_path / f"{form}.log", lines, mtime=time.time())
    history = read_history([path])
    assert sorted(history.nodes) == [N1, N2]  # db1 only ever logged other programs
    base = read_history(pair(prefix))
    for node in (N1, N2):
        assert transitions(history, node) == transitions(base, node)
    assert failovers(history) == make_incident.EXPECTED
    (router,) = build_report(history.events).instances
    (split,) = router.split_brain
    assert split.masters == (N1, N2) and split.duration >= 2.0
    assert not any("no known log form" in p for p in history.problems)


@pytest.mark.parametrize("form", reshape.FORMS)
def test_keepalived_243_in_every_form(tmp_path: Path, form: str) -> None:
    """2.4.3's wording ("master set to", senders in error lines) and its VRRP child
    respawned after a SIGKILL, through syslog and the journal."""
    corpus = DATA / "keepalived-2.4.3"
    texts = {node: (corpus / f"incident-{node}.log").read_text() for node in (N1, N2)}
    lines = reshape.merged(reshape.console_entries(texts[N1], N1),
                           reshape.console_entries(texts[N2], N2, offset=0.37))
    path = write(tmp_path / form, reshape.render(reshape.with_noise(lines), form))
    base = read_history([(node, corpus / f"incident-{node}.log") for node in (N1, N2)])
    history = read_history([path])
    for node in (N1, N2):
        assert transitions(history, node) == transitions(base, node)
    assert failovers(history) == failovers(base)
    reasons = [e.reason for e in history.events if isinstance(e, ev.NodeLost)]
    assert "crashed: VRRP process killed by signal 9 (Killed)" in reasons


@pytest.mark.parametrize("offset", [-0.8, -0.37, 0.37, 0.8])
def test_a_clock_offset_keeps_cause_before_effect(tmp_path: Path, offset: float) -> None:
    path = write(tmp_path / "syslog", reshape.render(entries("haconsole", offset=offset),
                                                     "rfc3164"), mtime=time.time())
    history = read_history([path])
    assert failovers(history) == make_incident.EXPECTED
    stamps = [e.t for e in history.events]
    assert stamps == sorted(stamps)


def test_precise_stamps_show_the_offset_and_the_gap(tmp_path: Path) -> None:
    path = write(tmp_path / "journal.json",
                 reshape.render(entries("keepalived", offset=0.37), "json"))
    history = read_history([path])
    transitions_n2 = [e.t for e in history.events if isinstance(e, ev.Transition)
                      and e.node == N2]
    assert all(round(t % 1, 2) == 0.37 for t in transitions_n2)
    (router,) = build_report(history.events).instances
    stop = router.failovers[4]
    assert stop.kind == "priority-0" and stop.no_master_s is not None
    assert 0 < stop.no_master_s < 1.5


def test_separate_files_per_host_and_names(tmp_path: Path) -> None:
    both = entries("keepalived")
    for node in (N1, N2):
        mine = [e for e in both if e.host == node]
        write(tmp_path / f"{node}.short-iso", reshape.render(mine, "short-iso"))
    named = read_history([f"primary={tmp_path / 'nginx1.short-iso'}",
                          ("backup", tmp_path / "nginx2.short-iso")])
    assert named.nodes == ["primary", "backup"]
    by_host = read_history([tmp_path / "nginx1.short-iso", tmp_path / "nginx2.short-iso"])
    assert by_host.nodes == [N1, N2]
    assert failovers(named) == [(a.replace(N1, "primary").replace(N2, "backup"),
                                 b.replace(N1, "primary").replace(N2, "backup"), k)
                                for a, b, k in make_incident.EXPECTED]


def test_a_name_for_a_file_of_several_hosts_is_noted(tmp_path: Path) -> None:
    path = write(tmp_path / "all", reshape.render(entries("keepalived"), "rfc5424"))
    history = read_history([("cluster", path)])
    assert sorted(history.nodes) == [N1, N2]
    assert any("holds 2 hosts" in p and "'cluster'" in p for p in history.problems)


def test_gzip_and_rotation_in_any_order(tmp_path: Path) -> None:
    lines = console("keepalived", N1).read_text().splitlines(keepends=True)
    half = len(lines) // 2
    older = tmp_path / "keepalived.log.1.gz"
    older.write_bytes(gzip.compress("".join(lines[:half]).encode()))
    newer = write(tmp_path / "keepalived.log", "".join(lines[half:]))
    whole = read_history([(N1, console("keepalived", N1))])
    for order in ([older, newer], [newer, older]):
        rotated = read_history([(N1, p) for p in order])
        assert rotated.nodes == [N1]
        assert transitions(rotated, N1) == transitions(whole, N1)


def test_a_syslog_year_comes_from_the_mtime_across_new_year(tmp_path: Path) -> None:
    """RFC 3164 has no year: the real incident moved to straddle midnight of New Year's
    Eve, the file last written on January 1st."""
    original = entries("keepalived")
    first = original[0].t
    eve = datetime(2030, 12, 31, 23, 59, 50).timestamp()
    moved = entries("keepalived", shift=eve - first)
    mtime = datetime(2031, 1, 1, 0, 5).timestamp()
    path = write(tmp_path / "syslog", reshape.render(moved, "rfc3164"), mtime=mtime)
    history = read_history([path])
    years = {datetime.fromtimestamp(e.t).year for e in history.events}
    assert years == {2030, 2031}
    assert abs(history.events[0].t - (eve - (first % 1))) < 1.0
    assert failovers(history) == make_incident.EXPECTED


def test_since_starts_from_the_state_then(tmp_path: Path) -> None:
    full = read_history(pair("keepalived"))
    (router,) = build_report(full.events).instances
    since = router.failovers[0].at + 1  # nginx2 is master
    until = router.failovers[3].at + 0.5
    window = read_history(pair("keepalived"), since=since, until=until)
    first = [e for e in window.events if e.t == since]
    states = {(e.node, str(e.state)) for e in first if isinstance(e, ev.InstanceState)}
    assert states == {(N1, "BACKUP"), (N2, "MASTER")}
    assert min(e.t for e in window.events) == since
    assert max(e.t for e in window.events) <= until
    (part,) = build_report(window.events, since=since, until=until).instances
    assert [(f.old, f.new, f.kind) for f in part.failovers] == make_incident.EXPECTED[1:4]
    assert part.masters[0] == N2


def test_max_lines_reads_the_last(tmp_path: Path) -> None:
    history = read_history([(N1, console("keepalived", N1))], max_lines=40)
    assert history.lines <= 40
    assert any("only the last 40" in p for p in history.problems)


# ----------------------------------------------------------------------------- bad input

def _bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.log"
    if kind == "empty":
        path.write_text("\n\n")
    elif kind == "binary":
        path.write_bytes((DATA / "keepalived-2.2.7-vectors.pcap").read_bytes())
    elif kind == "not-a-log":
        path.write_text((DATA / "VECTORS.md").read_text())
    elif kind == "json-dump":  # keepalived's own JSON dump: JSON, not a journal
        path.write_text((DATA / "keepalived.json").read_text())
    elif kind == "other-program":  # a syslog of other programs only
        noise = [e for e in reshape.with_noise(entries("keepalived"))
                 if not e.ident.startswith("Keepalived")]
        path.write_text(reshape.render(noise, "rfc3164"))
    elif kind == "directory":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["empty", "binary", "not-a-log", "json-dump",
                                  "other-program", "directory", "missing"])
def test_an_unusable_file_is_one_line_naming_it(tmp_path: Path, kind: str) -> None:
    path = _bad(tmp_path, kind)
    with pytest.raises(LogHistoryError) as err:
        read_history([(N1, console("keepalived", N1)), path])
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    expected = {"empty": "empty file", "binary": "binary data", "not-a-log": "not a log",
                "json-dump": "not a log", "other-program": "not a keepalived log",
                "directory": "a directory", "missing": "cannot read"}[kind]
    assert expected in message
    kept = read_history([(N1, console("keepalived", N1)), path], skip_unusable=True)
    assert kept.nodes == [N1] and message in kept.problems


def test_a_truncated_gzip_keeps_what_came_before(tmp_path: Path) -> None:
    data = gzip.compress(console("keepalived", N1).read_bytes())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    history = read_history([(N1, path)])
    assert any("truncated" in p for p in history.problems)
    whole = read_history([(N1, console("keepalived", N1))])
    assert 0 < history.lines < whole.lines
    assert transitions(history, N1)[0] == ("INIT", "BACKUP")


def test_unreadable_lines_are_counted(tmp_path: Path) -> None:
    text = console("keepalived", N1).read_text().splitlines()
    text[10:10] = ["garbage \x01 line", "another one"]
    history = read_history([(N1, write(tmp_path / "n1.log", "\n".join(text)))])
    assert any("5 lines in no known log form skipped (first: line 1)" in p
               for p in history.problems)


def test_a_million_lines_load_in_bounded_time() -> None:
    """Generous bound only (a shared CI machine); the figure is benchmarks/logs.py's."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        import logs as bench
    finally:
        sys.path.pop(0)
    figures = bench.bench_log_history(50_000, "console")
    assert figures["lines"] == 50_000
    assert figures["seconds"] < 20
