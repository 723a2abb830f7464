"""The incident report: its cause rules (one test each), its windows, its renderers, the
report of real captured incidents (keepalived, agents, mixed), of the in-process lab after
a scripted incident, and `haconsole replay --report`."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import CommandIssued
from haconsole.keepalived.log.history import read_history
from haconsole.report import ReportConfig, build_report, to_json, to_markdown, to_text
from haconsole.report.cli import add_arguments, main_replay, parse_time

DATA = Path(__file__).parent / "data"
INCIDENT = DATA / "incident"
T0 = 1_800_000_000.0
N1, N2 = "nginx1", "nginx2"
M, B, INIT, S, F = (ev.State.MASTER, ev.State.BACKUP, ev.State.INIT, ev.State.STOP,
                 ev.State.FAULT)


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"incident_{name}", INCIDENT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_incident = _load("make_incident")


# ----------------------------------------------------------------------------- helpers

def tr(t: float, node: str, old: ev.State, new: ev.State, reason: str = "",
       instance: str = "VI_1") -> ev.Transition:
    return ev.Transition(T0 + t, node, instance, old, new, reason)


def elected() -> list[Any]:
    """Both nodes start; nginx1 (100) is elected at +3, nginx2 (90) backs it up."""
    return [ev.NodeSeen(T0, N1, "192.0.2.11", "keepalived"),
            ev.NodeSeen(T0, N2, "192.0.2.12", "keepalived"),
            tr(0, N1, INIT, B, "init"), tr(0, N2, INIT, B, "init"),
            tr(3, N1, B, M, "advert timeout"),
            ev.AdvertReceived(T0 + 4, N2, "VI_1", "192.0.2.11", 100),
            ev.AdvertReceived(T0 + 4, N1, "VI_1", "192.0.2.12", 90)]


def takeover(t: float, reason: str = "advert timeout") -> ev.Transition:
    return tr(t, N2, B, M, reason)


def only_failover(events: list[Any], **kwargs: Any) -> Any:
    (router,) = build_report(events, **kwargs).instances
    (failover,) = router.failovers
    return failover


# ----------------------------------------------------------------------------- rules

def test_first_election_is_not_a_failover() -> None:
    (router,) = build_report(elected()).instances
    assert router.failovers == [] and router.masters == [N1]
    assert router.no_master == [] and router.split_brain == []


def test_check_names_the_check_and_the_priority_change() -> None:
    events = [*elected(),
              ev.TrackResult(T0 + 5, N1, "chk_nginx", False, "failed (exited with status 7)"),
              ev.PriorityChange(T0 + 5, N1, "VI_1", 100, 80, 100, "chk_nginx failed (weight -20)"),
              takeover(8, "advert timeout, preempting lower priority 80 master 192.0.2.11"),
              tr(8.001, N1, M, B, "higher priority 90 advert from 192.0.2.12 (ours 80)")]
    f = only_failover(events)
    assert (f.old, f.new, f.kind, f.cause_node, f.no_master_s) == (N1, N2, "check", N1, None)
    assert f.at == T0 + 8
    assert "chk_nginx failed on nginx1" in f.cause and "100→80" in f.cause
    assert "below nginx2's 90" in f.cause  # nginx2's priority, from the advert nginx1 heard


def test_clean_stop_is_priority_0_with_the_time_without_master() -> None:
    events = [*elected(), tr(5, N1, M, S, "keepalived stopping"),
              ev.AdvertSent(T0 + 5, N1, "VI_1", 0), ev.NodeLost(T0 + 5.1, N1, "stopped"),
              takeover(5.65, "advert timeout after priority 0 advert (master left)")]
    f = only_failover(events)
    assert (f.kind, f.cause_node, f.no_master_s) == ("priority-0", N1, 0.65)
    (router,) = build_report(events).instances
    assert [(w.start, w.end) for w in router.no_master] == [(T0 + 5, T0 + 5.65)]


def test_priority_0_sent_just_before_the_loss_is_priority_0() -> None:
    """keepalived's VRRP child stops cleanly (priority 0) when its parent is killed: the
    log shows "sent 0 priority", then nothing until the next start."""
    events = [*elected(), ev.AdvertSent(T0 + 5, N1, "VI_1", 0),
              ev.NodeLost(T0 + 5.649999, N1, "fell silent: no stop logged"), takeover(5.65)]
    f = only_failover(events)
    assert f.kind == "priority-0" and "sent priority 0" in f.cause


def test_crash_is_timed_from_the_loss() -> None:
    events = [*elected(), ev.NodeLost(T0 + 5, N1, "crashed: VRRP process killed by signal 9"),
              takeover(8.65)]
    f = only_failover(events)
    assert (f.kind, f.no_master_s) == ("crash", 3.65)
    assert "crashed: VRRP process killed by signal 9" in f.cause


def test_a_silent_death_has_no_time_without_master() -> None:
    """The log reader places a "fell silent" loss at the peer's takeover: the real gap is
    unknown, so neither a number nor a no-master window is made up."""
    events = [*elected(), ev.NodeLost(T0 + 8.649999, N1, "fell silent: no stop logged"),
              takeover(8.65)]
    f = only_failover(events)
    assert (f.kind, f.no_master_s) == ("crash", None)
    (router,) = build_report(events).instances
    assert router.no_master == []


def test_fault_of_an_interface_is_link() -> None:
    events = [*elected(), ev.TrackResult(T0 + 5, N1, "eth0", False, "Netlink reports eth0 down"),
              tr(5, N1, M, F, "eth0 down"), takeover(5.65)]
    f = only_failover(events)
    assert (f.kind, f.cause_node) == ("link", N1) and "FAULT (eth0 down)" in f.cause


def test_fault_from_a_script_is_check() -> None:
    events = [*elected(),
              ev.TrackResult(T0 + 5, N1, "chk_nginx", False, "failed (exited with status 1)"),
              tr(5, N1, M, F, "chk_nginx failed"), takeover(5.65)]
    f = only_failover(events)
    assert f.kind == "check" and "chk_nginx failed" in f.cause and "FAULT" in f.cause


def _back_to_nginx1(*between: Any, t: float = 20.0) -> list[Any]:
    """nginx1 crashed, nginx2 took over; then what `between` says, and nginx1 preempts."""
    return [*elected(), ev.NodeLost(T0 + 5, N1, "crashed"), takeover(8.65), *between,
            tr(t, N1, B, M, "advert timeout, preempting lower priority 90 master 192.0.2.12"),
            tr(t + 0.001, N2, M, B, "higher priority 100 advert from 192.0.2.11 (ours 90)")]


def test_preempt_by_a_node_that_came_back() -> None:
    events = _back_to_nginx1(ev.NodeSeen(T0 + 16, N1, "192.0.2.11", "keepalived"),
                             tr(16, N1, INIT, B, "init"))
    (router,) = build_report(events).instances
    assert [(f.old, f.new, f.kind) for f in router.failovers] == [
        (N1, N2, "crash"), (N2, N1, "preempt")]
    back = router.failovers[1]
    assert back.cause_node == N1 and "came back (restarted)" in back.cause
    assert back.no_master_s is None  # nginx2 was master until nginx1 took over
    assert router.masters == [N1, N2, N1]


def test_preempt_by_a_recovered_node() -> None:
    events = [*elected(),
              ev.PriorityChange(T0 + 5, N1, "VI_1", 100, 80, 100, "chk_nginx failed (weight -20)"),
              takeover(8), tr(8.001, N1, M, B, "higher priority 90 advert"),
              ev.PriorityChange(T0 + 12, N1, "VI_1", 80, 100, 100,
                                "chk_nginx succeeded (priority +20)"),
              tr(15, N1, B, M, "advert timeout"), tr(15.001, N2, M, B, "higher priority 100")]
    (router,) = build_report(events).instances
    back = router.failovers[1]
    assert back.kind == "preempt"
    assert "recovered (chk_nginx succeeded, priority 80→100)" in back.cause


@pytest.mark.parametrize("evidence", ["result", "issued", "requested", "agent-line"])
def test_a_command_makes_it_operator(evidence: str) -> None:
    note: Any = {
        "result": ev.CommandResult(T0 + 5, N1, "stop nginx on nginx1", True, "nginx stopped"),
        "issued": CommandIssued(T0 + 5, N1, "stop nginx on nginx1"),
        "requested": ev.LogLine(T0 + 5, N1, "[haconsole] stop nginx on nginx1: requested"),
        "agent-line": ev.LogLine(T0 + 5, N1, "nginx stopped by operator"),
    }[evidence]
    events = [*elected(), note,
              ev.PriorityChange(T0 + 5.5, N1, "VI_1", 100, 80, 100, "chk_nginx failed"),
              takeover(8.5), tr(8.501, N1, M, B, "higher priority 90 advert")]
    f = only_failover(events)
    assert f.kind == "operator" and "stop nginx on nginx1" in f.cause
    assert "priority 100→80" in f.cause  # and what followed


def test_an_old_command_is_not_the_cause() -> None:
    events = [*elected(), ev.CommandResult(T0 + 1, N1, "start nginx on nginx1", True, ""),
              ev.NodeLost(T0 + 20, N1, "crashed"), takeover(23.65)]
    assert only_failover(events).kind == "crash"
    failed = [*elected(), ev.CommandResult(T0 + 19, N1, "fail over VI_1", False, "no"),
              ev.NodeLost(T0 + 20, N1, "crashed"), takeover(23.65)]
    assert only_failover(failed).kind == "crash"  # a command that failed did nothing


def test_release_without_a_command_is_operator() -> None:
    """From logs alone: the agent's failover sends priority 0 and stays BACKUP (keepalived
    sends priority 0 only when stopping or going FAULT); or its reason says so."""
    by_log = [*elected(), ev.AdvertSent(T0 + 5, N1, "VI_1", 0), tr(5, N1, M, B, "became backup"),
              takeover(5.65)]
    f = only_failover(by_log)
    assert f.kind == "operator" and "released VI_1" in f.cause and f.no_master_s == 0.65
    by_reason = [*elected(), tr(5, N1, M, B, "released by operator (failover)"),
                 takeover(5.65)]
    assert only_failover(by_reason).kind == "operator"


def test_sync_group_is_unknown() -> None:
    events = [*elected(), tr(5, N1, M, B, "sync group G1"), takeover(5.65)]
    f = only_failover(events)
    assert f.kind == "unknown" and "sync group G1" in f.cause


def test_split_brain_longer_than_a_preemption_overlap() -> None:
    short = [*elected(), takeover(10), tr(10.5, N2, M, B, "higher priority 100")]
    (router,) = build_report(short).instances
    assert router.split_brain == [] and router.failovers == []
    long = [*elected(), takeover(10), tr(13, N2, M, B, "higher priority 100")]
    (router,) = build_report(long).instances
    (split,) = router.split_brain
    assert (split.start, split.end, split.masters) == (T0 + 10, T0 + 13, (N1, N2))
    assert router.failovers == [] and router.masters == [N1]


def test_no_master_window_still_open_at_the_end() -> None:
    events = [*elected(), ev.NodeLost(T0 + 5, N1, "crashed"),
              ev.LogLine(T0 + 9, N2, "(VI_1) something")]
    (router,) = build_report(events).instances
    assert [(w.start, w.end) for w in router.no_master] == [(T0 + 5, None)]
    assert json.loads(to_json(build_report(events)))["instances"][0]["no_master"] == [
        {"from": "2027-01-15T08:00:05.000Z", "to": None}]


def test_flapping_is_the_views_rule() -> None:
    flaps = [*elected(), takeover(10), tr(10.001, N1, M, B, "higher"),
             tr(20, N1, B, M, "timeout"), tr(20.001, N2, M, B, "higher")]
    assert build_report(flaps).instances[0].flapping
    slow = [*elected(), takeover(40), tr(40.001, N1, M, B, "higher"),
            tr(120, N1, B, M, "timeout"), tr(120.001, N2, M, B, "higher")]
    assert not build_report(slow).instances[0].flapping
    assert build_report(slow, config=ReportConfig(flap_window=120)).instances[0].flapping


def _state(node: str, name: str, vrid: int, address: str) -> ev.InstanceState:
    return ev.InstanceState(T0, node, instance=name, vrid=vrid, state=B, address=address,
                            vips=("2001:db8::170",) if ":" in address else ("192.0.2.170",))


def test_routers_group_by_vrid_and_family_else_by_name() -> None:
    events = [_state(N1, "VI_web", 51, "192.0.2.11"), _state(N2, "VI_1", 51, "192.0.2.12"),
              _state(N1, "VI_6", 51, "2001:db8::11"), tr(1, N1, INIT, B, "init", "VI_x"),
              tr(1, N2, INIT, B, "init", "VI_x"), tr(1, N2, INIT, B, "init", "VI_y")]
    routers = build_report(events).instances
    assert [(r.instance, r.vrid, r.family, r.nodes) for r in routers] == [
        ("VI_1/VI_web", 51, 4, (N1, N2)), ("VI_6", 51, 6, (N1,)),
        ("VI_x", None, None, (N1, N2)), ("VI_y", None, None, (N2,))]


def test_window_limits_what_is_reported() -> None:
    events = _back_to_nginx1(ev.NodeSeen(T0 + 16, N1, "192.0.2.11", "keepalived"),
                             tr(16, N1, INIT, B, "init"))
    report = build_report(events, since=T0 + 10, until=T0 + 30)
    (router,) = report.instances
    assert [(f.old, f.new) for f in router.failovers] == [(N2, N1)]
    assert router.masters == [N2, N1]  # the master when the window opens comes first
    assert report.start == T0 + 10 and report.end == T0 + 30


def test_client_probes_are_not_nodes() -> None:
    events = [*elected(), ev.ClientRequest(T0 + 4, "client", target="http://192.0.2.170/")]
    assert build_report(events).nodes == [N1, N2]


# ----------------------------------------------------------------------------- renderers

def test_json_is_the_issue_schema_exactly() -> None:
    events = [*elected(), ev.NodeLost(T0 + 5, N1, "crashed"), takeover(8.65),
              ev.VipAdded(T0 + 8.65, N2, "VI_1", "192.0.2.170")]
    data = json.loads(to_json(build_report(events)))
    assert set(data) == {"window", "nodes", "instances"}
    assert data["window"] == {"from": "2027-01-15T08:00:00.000Z",
                              "to": "2027-01-15T08:00:08.650Z"}
    (router,) = data["instances"]
    assert set(router) == {"instance", "vrid", "vips", "transitions", "failovers",
                           "split_brain", "no_master", "flapping"}
    assert (router["instance"], router["vrid"], router["vips"]) == ("VI_1", None,
                                                                    ["192.0.2.170"])
    (failover,) = router["failovers"]
    assert set(failover) == {"at", "from", "to", "kind", "cause", "cause_node",
                             "no_master_s"}
    assert failover["no_master_s"] == 3.65 and failover["kind"] == "crash"


def test_text_and_markdown_say_the_same() -> None:
    events = [*elected(), ev.NodeLost(T0 + 5, N1, "crashed"), takeover(8.65),
              ev.PriorityChange(T0 + 9, N2, "VI_1", 90, 70, 90, "chk_nginx failed")]
    report = build_report(events)
    text, md = to_text(report), to_markdown(report)
    for out in (text, md):
        assert "nginx1 crashed" in out and "crash" in out and "3.650 s" in out
        assert "90" in out and "70" in out  # the priority change
    assert md.startswith("## Incident report") and "| at | from | to | kind |" in md
    assert "masters: nginx1 → nginx2" in text


# ----------------------------------------------------------------------------- real logs

def incident_logs(prefix: str) -> list[tuple[str, Path]]:
    return [(node, INCIDENT / f"{prefix}-{node}.log") for node in (N1, N2)]


@pytest.mark.parametrize("prefix", ["keepalived", "haconsole", "keepalived-haconsole"])
def test_report_of_a_captured_incident(prefix: str) -> None:
    """tests/data/incident/: the steps of make_incident.py on a real pair."""
    report = build_report(read_history(incident_logs(prefix)).events)
    (router,) = report.instances
    assert [(f.old, f.new, f.kind) for f in router.failovers] == make_incident.EXPECTED
    assert router.masters == make_incident.EXPECTED_MASTERS
    (split,) = router.split_brain
    assert split.masters == (N1, N2) and split.duration >= 2.0
    check, _back, crash, _back2, stop, _back3 = router.failovers
    assert "chk_nginx" in check.cause and "100→80" in check.cause
    assert crash.no_master_s is None and "fell silent" in crash.cause
    assert stop.no_master_s is not None and 0 <= stop.no_master_s <= 1.0
    assert router.vips == ("192.0.2.170",) and router.flapping


def test_report_of_keepalived_243_logs() -> None:
    """The 2.4.3 corpus: check failure, SIGKILL of the VRRP child (its parent respawns it
    at once), partition and heal, then the lab's teardown (nginx1 stopped first)."""
    corpus = DATA / "keepalived-2.4.3"
    history = read_history([(N1, corpus / "incident-nginx1.log"),
                            (N2, corpus / "incident-nginx2.log")])
    (router,) = build_report(history.events).instances
    assert [(f.old, f.new, f.kind) for f in router.failovers] == [
        (N1, N2, "check"), (N2, N1, "preempt"), (N1, N2, "crash"), (N2, N1, "preempt"),
        (N1, N2, "priority-0")]
    crash = router.failovers[2]
    assert "killed by signal 9" in crash.cause and crash.no_master_s is not None
    assert 2.0 <= crash.no_master_s <= 5.0  # the respawned child stayed quiet till then
    assert [s.masters for s in router.split_brain] == [(N1, N2)]


# ----------------------------------------------------------------------------- the lab

async def test_report_of_the_in_process_lab_after_a_scripted_incident() -> None:
    """Faults made directly (a dead nginx, a crash, a partition) and by commands (a
    failover, cancelling its hold): the report names each as such."""
    from haconsole.lab.definition import load_lab
    from haconsole.lab.lab import InProcessLab

    events: list[Any] = []
    lab = InProcessLab(load_lab(), failover_hold=60.0)
    await lab.start(events.append)

    async def masters(*expected: str) -> None:
        assert await lab.wait_for(lambda: sorted(lab.masters("VI_1")) == sorted(expected),
                                  15), f"masters {lab.masters('VI_1')}, not {expected}"

    try:
        await masters(N1)
        lab.hosts[N1].set_service("nginx", False)  # nginx dies on its own: no command
        await masters(N2)
        lab.hosts[N1].set_service("nginx", True)
        await masters(N1)
        node = lab.hosts[N1].node
        assert node is not None
        await node.crash()
        await masters(N2)
        await lab.hosts[N1].start()
        await masters(N1)
        ok, detail = await lab.execute(cmd.Failover(N1, "VI_1"))
        assert ok, detail
        await masters(N2)
        ok, detail = await lab.execute(cmd.CancelHold(N1, "VI_1"))
        assert ok, detail
        await masters(N1)
        lab.segment.partition(N2, True)
        await masters(N1, N2)
        split_from = events[-1].t
        assert await lab.wait_for(lambda: lab.now() - split_from > 2.0, 5)
        lab.segment.partition(N2, False)
        await masters(N1)
        end = lab.now()
    finally:
        await lab.stop()
    (router,) = build_report(events, until=end).instances
    assert (router.instance, router.vrid, router.vips) == ("VI_1", 100, ("192.0.2.170",))
    assert [(f.old, f.new, f.kind) for f in router.failovers] == [
        (N1, N2, "check"), (N2, N1, "preempt"), (N1, N2, "crash"), (N2, N1, "preempt"),
        (N1, N2, "operator"), (N2, N1, "operator")]
    crash, release, cancel = router.failovers[2], router.failovers[4], router.failovers[5]
    assert crash.no_master_s is not None and 3.0 < crash.no_master_s < 4.5  # MDI 3.65
    assert "fail over VI_1" in release.cause and release.no_master_s is not None
    assert release.no_master_s < 1.0  # Skew_Time 0.65
    assert "cancel the failover hold" in cancel.cause
    (split,) = router.split_brain
    assert split.masters == (N1, N2) and split.duration > 2.0


# ----------------------------------------------------------------------------- the CLI

def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="haconsole replay")
    add_arguments(parser)
    return main_replay(parser.parse_args(argv))


def test_replay_report_from_logs(capsys: pytest.CaptureFixture[str]) -> None:
    logs = [f"{node}={path}" for node, path in incident_logs("keepalived")]
    assert run_cli(["--report", *logs]) == 0
    assert "nginx1 → nginx2" in capsys.readouterr().out
    assert run_cli(["--json", *logs]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["kind"] for f in data["instances"][0]["failovers"]] == [
        k for _f, _t, k in make_incident.EXPECTED]
    assert run_cli(["--report", "--markdown", *logs]) == 0
    assert capsys.readouterr().out.startswith("## Incident report")


def test_replay_window_flags(capsys: pytest.CaptureFixture[str]) -> None:
    logs = [f"{node}={path}" for node, path in incident_logs("keepalived")]
    (router,) = build_report(read_history(incident_logs("keepalived")).events).instances
    since = str(router.failovers[0].at + 1)  # after the check failover
    assert run_cli(["--json", "--since", since, *logs]) == 0
    kinds = [f["kind"] for f in json.loads(capsys.readouterr().out)["instances"][0]
             ["failovers"]]
    assert kinds == [k for _f, _t, k in make_incident.EXPECTED][1:]


def test_parse_time_forms() -> None:
    now = 1_800_000_000.0
    assert parse_time("-2h", now=now) == now - 7200
    assert parse_time("-30m", now=now) == now - 1800
    assert parse_time("-90s", now=now) == now - 90
    assert parse_time("1800000000.5") == 1_800_000_000.5
    assert parse_time("2027-01-15T08:00:00Z") == T0
    assert parse_time("2027-01-15 09:00:00+01:00") == T0
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday")


@pytest.mark.parametrize("bad", ["empty", "binary", "foreign", "truncated-gz"])
def test_replay_bad_input_is_one_line(tmp_path: Path, bad: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    path = tmp_path / f"{bad}.log"
    if bad == "empty":
        path.write_text("")
    elif bad == "binary":
        path.write_bytes((DATA / "keepalived-2.2.7-vectors.pcap").read_bytes())
    elif bad == "foreign":
        path.write_text((DATA / "VECTORS.md").read_text())
    else:  # half a gzip of a keepalived log: what came before the cut is read
        path.write_bytes(gzip.compress((INCIDENT / "keepalived-nginx1.log").read_bytes())[:300])
    code = run_cli(["--report", str(path)])
    err = capsys.readouterr().err
    if bad == "truncated-gz":
        assert code == 0 and "truncated" in err
        return
    assert code == 1
    (line,) = err.strip().splitlines()
    assert str(path) in line and "Traceback" not in err


def test_replay_without_the_console_screen(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "haconsole.console.replay", None)
    logs = [f"{node}={path}" for node, path in incident_logs("keepalived")]
    assert run_cli(logs) == 1
    assert "--report" in capsys.readouterr().err


def test_replay_opens_the_console_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    replay = pytest.importorskip("haconsole.console.replay")
    seen: dict[str, Any] = {}

    def fake(timeline: Any, **kwargs: Any) -> int:
        seen.update(kwargs, events=len(timeline.events_between(-1e300, 1e300)))
        return 0

    monkeypatch.setattr(replay, "run_replay", fake)
    logs = [f"{node}={path}" for node, path in incident_logs("keepalived")]
    assert run_cli([*logs, "--since", "1800000000"]) == 0
    assert seen["since"] == 1_800_000_000.0 and seen["events"] > 100
    assert "nginx1=" in seen["title"]


def test_replay_reads_a_recording(tmp_path: Path) -> None:
    store = pytest.importorskip("haconsole.record.store")
    path = tmp_path / "incident.hacrec"
    recorder = store.Recorder(path)
    events = [*elected(), ev.NodeLost(T0 + 5, N1, "crashed"), takeover(8.65)]
    try:
        recorder.record_many(events)
    finally:
        recorder.close()
    from haconsole.report.cli import load_sources

    loaded, _notes = load_sources([str(path)])
    assert only_failover(loaded).kind == "crash"
