"""Pasts of several nodes folded in time order; a reconnect's replay not counted twice."""

from __future__ import annotations

from haconsole.cluster import events as ev
from haconsole.cluster.history_gate import HistoryGate, ReplayFilter
from haconsole.cluster.view import ClusterView

T0 = 1_795_000_000.0


def trans(t: float, node: str, old: str, new: str) -> ev.Transition:
    return ev.Transition(T0 + t, node, instance="VI_1", old=old, new=new, reason="x")


def state(t: float, node: str, st: str, prio: int, addr: str) -> ev.InstanceState:
    return ev.InstanceState(T0 + t, node, instance="VI_1", vrid=1, state=st,
                            base_priority=prio, effective_priority=prio, address=addr,
                            vips=("192.0.2.170",))


def pasts() -> tuple[list[ev.Event], list[ev.Event]]:
    """n1 and n2's memories of a failover (at 10) and a failback (at 20), each whole."""
    n1 = [state(0, "n1", "BACKUP", 100, "192.0.2.11"), trans(1, "n1", "BACKUP", "MASTER"),
          trans(10, "n1", "MASTER", "BACKUP"), trans(20, "n1", "BACKUP", "MASTER"),
          ev.HistoryEnd(T0 + 100, "n1", events=3)]
    n2 = [state(0, "n2", "BACKUP", 90, "192.0.2.12"), trans(10, "n2", "BACKUP", "MASTER"),
          trans(20, "n2", "MASTER", "BACKUP"), ev.HistoryEnd(T0 + 100, "n2", events=2)]
    return n1, n2


def test_node_by_node_pasts_are_folded_in_time_order() -> None:
    n1, n2 = pasts()
    naive = ClusterView()
    naive.apply_all([*n1, *n2])  # as they arrive: one node's past, then the other's
    gated = ClusterView()
    gate = HistoryGate(T0 + 100)
    assert gate.feed(n1, T0 + 100) == [] and gate.holding  # n1 ended: wait for others
    assert gate.feed(n2, T0 + 100.1) == []  # n2's past came too: settle
    released = gate.feed([], T0 + 100.7)
    assert [e.t for e in released] == sorted(e.t for e in released) and not gate.holding
    gated.apply_all(released)
    moves = [(f.old_master, f.new_master) for f in gated.failovers]
    assert moves == [("n1", "n2"), ("n2", "n1")]
    assert [(f.old_master, f.new_master) for f in naive.failovers] != moves


def test_a_node_that_never_ends_its_past_is_released_after_the_wait() -> None:
    n1, _ = pasts()
    gate = HistoryGate(T0 + 100, wait=3.0)
    assert gate.feed(n1[:-1], T0 + 100) == []
    assert gate.feed([], T0 + 102) == []
    assert len(gate.feed([], T0 + 103.5)) == 4


def test_live_events_of_a_source_with_no_past_are_never_held() -> None:
    gate = HistoryGate(T0)
    live = [trans(0.5, "lab1", "INIT", "BACKUP"), ev.LogLine(T0 + 0.6, "lab1", text="x")]
    assert gate.feed(live, T0 + 1) == live and not gate.holding


def test_a_reconnect_replays_the_past_but_only_what_is_new_is_published() -> None:
    n1, _ = pasts()
    seen = ReplayFilter()
    first = [e for e in n1 if seen.admit(e)]
    live = trans(30, "n1", "MASTER", "BACKUP")
    assert seen.admit(live)
    seen.connected()  # the connection drops and comes back: the agent replays its memory
    during = trans(40, "n1", "BACKUP", "MASTER")  # happened while we were away
    again = [e for e in [*n1[:-1], live, during, ev.HistoryEnd(T0 + 50, "n1", events=5)]
             if seen.admit(e)]
    assert first == n1
    assert again == [during, ev.HistoryEnd(T0 + 50, "n1", events=5)]


def test_a_node_whose_past_was_folded_is_never_held_again() -> None:
    """A node with a skewed clock keeps sending 'old' events: held once, then not."""
    gate = HistoryGate(T0 + 100, wait=3.0)
    gate.feed([trans(1, "n9", "BACKUP", "MASTER")], T0 + 100)
    assert len(gate.feed([], T0 + 104)) == 1
    late = trans(2, "n9", "MASTER", "BACKUP")
    assert gate.feed([late], T0 + 105) == [late] and not gate.holding
