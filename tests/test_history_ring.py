"""The agent's memory of its past: what it keeps, for how long, and what it hands over."""

from __future__ import annotations

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.engine.history import HistoryRing

T0 = 1_795_000_000.0


def test_keeps_state_changes_not_adverts_or_log_lines() -> None:
    ring = HistoryRing()
    ring.extend([ev.AdvertSent(T0, "n1", instance="VI_1", priority=100),
                 ev.LogLine(T0, "n1", text="(VI_1) Entering MASTER STATE"),
                 ev.Transition(T0, "n1", instance="VI_1", old="BACKUP", new="MASTER",
                               reason="advert timeout"),
                 ev.VipAdded(T0, "n1", instance="VI_1", vip="192.0.2.170")])
    assert [e.kind for e in ring.events(T0)] == ["transition", "vip_added"]


def test_bounded_by_age_and_by_count() -> None:
    ring = HistoryRing(max_age=3600, max_events=3)
    for i in range(5):
        ring.record(ev.TrackResult(T0 + i, "n1", track="chk", ok=bool(i % 2)))
    assert [e.t - T0 for e in ring.events(T0 + 5)] == [2, 3, 4]
    assert ring.events(T0 + 3600 + 3.5) == [ring.events(T0 + 5)[-1]]


def test_a_console_attaching_later_sees_the_flapping_that_came_before() -> None:
    ring = HistoryRing()
    t = T0
    for new, old in [("MASTER", "BACKUP"), ("BACKUP", "MASTER")] * 2:
        ring.record(ev.Transition(t, "n1", instance="VI_1", old=old, new=new, reason="x"))
        t += 10
    handed = ring.replay("n1", T0 + 45)
    assert handed[-1] == ev.HistoryEnd(T0 + 45, "n1", source=handed[-1].source, events=4)
    view = ClusterView()
    view.apply_all(handed)
    assert len(view.transitions) == 4
    assert "flapping" in {a.kind for a in view.alarms(T0 + 46)}
    assert view.nodes["n1"].history_end == T0 + 45
