"""One dispatcher for the lab's commands: the in-process lab and a scripted run check the
same things and answer in the same words."""

from __future__ import annotations

import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.lab.definition import load_lab
from haconsole.lab.lab import InProcessLab
from haconsole.lab.scenario import Step, parse_scenario
from haconsole.lab.scripted import T0, ScriptedRun

SKEW_90 = 0.648437  # (256 - 90) / 256 s: nginx2's Skew_Time

# After the election (nginx1 MASTER of VI_1, nginx2 BACKUP), one after the other.
COMMANDS: list[cmd.Command] = [
    cmd.StopService("nope"),
    cmd.StopService("nginx1", service="redis"),
    cmd.Failover("nginx2", "VI_1"),
    cmd.CancelHold("nginx1"),
    cmd.StopAgent("nginx2"),
    cmd.StopAgent("nginx2"),
    cmd.KillNode("nginx2"),
    cmd.Failover("nginx2"),
    cmd.StartNode("nginx2"),
    cmd.PartitionNode("nginx2", True),
    cmd.PartitionNode("nginx2", False),
    cmd.Failover("nginx1", "VI_1"),
    cmd.CancelHold("nginx1"),
]

EXPECTED = [
    (False, "no node named 'nope' in this lab"),
    (False, "nginx1 runs no redis"),
    (False, "nginx2 is not MASTER of VI_1"),
    (False, "nginx1 has no failover hold running"),
    (True, "VRRP agent stopped on nginx2 (master of no instance: no priority 0 sent)"),
    (False, "nginx2 is already down"),
    (False, "nginx2 is already down"),
    (False, "nginx2 is not running"),
    (True, "nginx2 started"),
    (True, "nginx2 partitioned from the segment"),
    (True, "nginx2 reconnected to the segment"),
    (True, "nginx1 released VI_1 (priority 0 sent)"),
    (True, "nginx1 may preempt again (VI_1)"),
]


def scripted(scenario: str | list[Step], until: float) -> list[object]:
    steps = parse_scenario(scenario) if isinstance(scenario, str) else scenario
    return ScriptedRun(load_lab()).run(steps, until)


def results(events: list[object]) -> list[tuple[bool, str]]:
    return [(e.ok, e.detail) for e in events if isinstance(e, ev.CommandResult)]


def test_a_scripted_run_answers_every_command() -> None:
    events = scripted([Step(10.0, c) for c in COMMANDS], 11.0)
    assert results(events) == EXPECTED


async def test_the_lab_answers_in_the_same_words() -> None:
    lab = InProcessLab(load_lab())
    await lab.start(lambda e: None)
    try:
        assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)
        assert [await lab.execute(c) for c in COMMANDS] == EXPECTED
    finally:
        await lab.stop()


def test_halting_the_master_hands_over_in_skew_time_and_boot_takes_it_back() -> None:
    events = scripted("10:halt nginx1; 20:boot nginx1", 30.0)
    assert (True, "VRRP agent stopped on nginx1 (priority 0 sent for VI_1)") in results(events)
    took_over = [e.t - T0 for e in events if isinstance(e, ev.Transition)
                 and e.new == "MASTER"]
    assert took_over[1:] == [pytest.approx(10 + SKEW_90, abs=1e-6),
                             pytest.approx(20 + 3 + 156 / 256, abs=0.01)]  # nginx1 preempts
    lost = [(e.node, e.reason) for e in events if isinstance(e, ev.NodeLost)]
    assert lost == [("nginx1", "stopped")]


def test_a_restart_goes_through_stop_and_boot() -> None:
    events = scripted("10:restart nginx2", 11.0)
    assert (True, "VRRP agent restarted on nginx2") in results(events)
    after = [(type(e).__name__, e.node) for e in events
             if isinstance(e, ev.NodeLost | ev.NodeSeen) and e.t - T0 >= 10]
    assert after == [("NodeLost", "nginx2"), ("NodeSeen", "nginx2")]
