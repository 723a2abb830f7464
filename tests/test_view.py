"""ClusterView: the pure fold, each alarm and the failover stopwatch on scripted streams."""

from __future__ import annotations

import dataclasses
import time

import pytest

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, CommandIssued, ViewConfig
from haconsole.lab.scripted import SCENES, T0

VIP = "192.0.2.170"
ADDR = {"nginx1": "192.0.2.11", "nginx2": "192.0.2.12"}


def state(t: float, node: str, st: str, prio: int, eff: int | None = None,
          vrid: int = 100, instance: str = "VI_1") -> ev.InstanceState:
    return ev.InstanceState(T0 + t, node, instance=instance, vrid=vrid, state=ev.State(st),
                            base_priority=prio, effective_priority=prio if eff is None else eff,
                            interface="eth0", advert_int=1.0, vips=(VIP,), address=ADDR[node])


def trans(t: float, node: str, old: str, new: str, reason: str = "") -> ev.Transition:
    return ev.Transition(T0 + t, node, instance="VI_1", old=ev.State(old), new=ev.State(new),
                         reason=reason)


def started(view: ClusterView) -> None:
    """nginx1 (100) MASTER holding the VIP, nginx2 (90) BACKUP, at T0 + 4."""
    view.apply_all([
        ev.NodeSeen(T0, "nginx1"), ev.NodeSeen(T0, "nginx2"),
        state(0, "nginx1", "BACKUP", 100), state(0, "nginx2", "BACKUP", 90),
        trans(0, "nginx1", "INIT", "BACKUP", "init"), trans(0, "nginx2", "INIT", "BACKUP", "init"),
        trans(3.6, "nginx1", "BACKUP", "MASTER", "advert timeout"),
        state(3.6, "nginx1", "MASTER", 100),
        ev.AdvertSent(T0 + 3.6, "nginx1", instance="VI_1", priority=100),
        ev.VipAdded(T0 + 3.6, "nginx1", instance="VI_1", vip=VIP),
        ev.AdvertReceived(T0 + 3.6, "nginx2", instance="VI_1", source=ADDR["nginx1"],
                          priority=100),
    ])


def adverts(view: ClusterView, start: float, end: float, master: str = "nginx1",
            backup: str = "nginx2", prio: int = 100) -> None:
    t = start
    while t < end:
        view.apply(ev.AdvertSent(T0 + t, master, instance="VI_1", priority=prio))
        view.apply(ev.AdvertReceived(T0 + t, backup, instance="VI_1", source=ADDR[master],
                                     priority=prio))
        t += 1.0


def fail_over(view: ClusterView, t: float, new: str = "nginx2", old: str = "nginx1",
              reason: str = "priority 0 from 192.0.2.11") -> None:
    """The new master's advert, transition and VIP at T0 + t; the old one steps down."""
    view.apply_all([
        ev.AdvertSent(T0 + t, new, instance="VI_1", priority=90),
        trans(t, new, "BACKUP", "MASTER", reason),
        state(t, new, "MASTER", 90),
        ev.VipAdded(T0 + t + 0.001, new, instance="VI_1", vip=VIP),
    ])
    if old:
        view.apply_all([
            ev.VipRemoved(T0 + t + 0.002, old, instance="VI_1", vip=VIP),
            trans(t + 0.002, old, "MASTER", "BACKUP", "higher priority"),
            state(t + 0.002, old, "BACKUP", 100),
        ])


# ----------------------------------------------------------------------------- the fold


def test_fold_keeps_last_facts_per_node_instance_and_vip() -> None:
    view = ClusterView()
    started(view)
    inst = view.instances[("nginx1", "VI_1")]
    assert (inst.state, inst.base_priority, inst.effective_priority) == ("MASTER", 100, 100)
    assert view.master_of("VI_1") == "nginx1"
    vip = view.vips[VIP]
    assert (vip.owner, vip.since, vip.previous_owner, vip.instance) == (
        "nginx1", T0 + 3.6, "", "VI_1")
    assert [r.new for r in view.transitions] == ["BACKUP", "BACKUP", "MASTER"]
    assert view.instances[("nginx2", "VI_1")].last_transition.reason == "init"  # type: ignore[union-attr]


def test_priority_change_keeps_base_and_weight() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.PriorityChange(T0 + 5, "nginx1", instance="VI_1", old=100, new=80, base=100,
                                 cause="chk_nginx failed (weight -20)"))
    inst = view.instances[("nginx1", "VI_1")]
    assert (inst.base_priority, inst.weight, inst.effective_priority) == (100, -20, 80)
    assert inst.priority_cause == "chk_nginx failed (weight -20)"


def test_advert_rates_from_packets_over_a_sliding_window() -> None:
    view = ClusterView(ViewConfig(rate_window=10.0))
    started(view)
    adverts(view, 4.6, 30.0)
    sent, recv = view.advert_rates(("nginx1", "VI_1"), T0 + 30.0)
    assert sent == pytest.approx(1.0)
    assert recv == 0.0
    assert view.advert_rates(("nginx2", "VI_1"), T0 + 30.0) == (0.0, pytest.approx(1.0))
    # nothing for 20 s: the window empties
    assert view.advert_rates(("nginx1", "VI_1"), T0 + 50.0) == (0.0, 0.0)
    assert view.advert_series(("nginx1", "VI_1"), T0 + 30.0, 5) == [1, 1, 1, 1, 1]


def test_advert_rates_from_cumulative_counters() -> None:
    view = ClusterView(ViewConfig(rate_window=10.0))
    started(view)
    for i, total in enumerate((100, 102, 104, 106, 108, 110)):
        view.apply(ev.AdvertCounters(T0 + 10 + 2 * i, "nginx1", instance="VI_1", sent=total,
                                     received=7))
    sent, recv = view.advert_rates(("nginx1", "VI_1"), T0 + 20.5)
    # 5 samples of +2 inside the 10 s window (the first sample is only a baseline)
    assert sent == pytest.approx(1.0, abs=0.11)
    assert recv == 0.0
    # a restart resets counters: that sample is skipped, not a negative rate
    view.apply(ev.AdvertCounters(T0 + 22, "nginx1", instance="VI_1", sent=1, received=0))
    assert view.advert_rates(("nginx1", "VI_1"), T0 + 22)[0] >= 0


def test_node_lost_drops_its_vips_and_marks_instances_lost() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.NodeLost(T0 + 10, "nginx1", reason="crashed"))
    assert not view.nodes["nginx1"].up
    assert view.instances[("nginx1", "VI_1")].lost
    assert view.vips[VIP].owner == ""
    assert view.vips[VIP].previous_owner == "nginx1"
    assert view.master_of("VI_1") is None
    view.apply(ev.NodeSeen(T0 + 20, "nginx1"))
    assert not view.instances[("nginx1", "VI_1")].lost


def test_log_keeps_keepalived_lines_and_haconsole_notes_with_instance() -> None:
    view = ClusterView()
    view.apply(ev.LogLine(T0, "nginx1", text="(VI_1) Entering MASTER STATE"))
    view.apply(ev.CommandResult(T0, "nginx1", command="stop nginx on nginx1", ok=False,
                                detail="boom"))
    view.apply(ev.ServiceState(T0, "nginx1", service="nginx", up=False))
    texts = [(e.text, e.instance, e.level) for e in view.log]
    assert texts[0] == ("(VI_1) Entering MASTER STATE", "VI_1", "info")
    assert texts[1] == ("[haconsole] stop nginx on nginx1: FAILED - boom", "", "error")
    assert texts[2][0] == "[haconsole] nginx is DOWN"
    assert [e.seq for e in view.log] == [1, 2, 3]


def test_the_fold_never_reads_a_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock() -> float:
        raise AssertionError("the fold read a clock")

    monkeypatch.setattr(time, "time", no_clock)
    monkeypatch.setattr(time, "monotonic", no_clock)
    view = ClusterView()
    started(view)
    adverts(view, 4.6, 8.0)
    view.apply(CommandIssued(T0 + 8, "nginx1", "fail over VI_1 away from nginx1"))
    fail_over(view, 8.7)
    view.alarms(T0 + 9)
    view.advert_rates(("nginx1", "VI_1"), T0 + 9)


# ----------------------------------------------------------------------------- alarms


def kinds(view: ClusterView, now: float) -> list[str]:
    return [a.kind for a in view.alarms(T0 + now)]


def test_no_alarm_in_steady_state() -> None:
    view = ClusterView()
    started(view)
    adverts(view, 4.6, 30.0)
    assert kinds(view, 30.0) == []


def test_split_brain_two_masters_for_one_vrid() -> None:
    view = ClusterView()
    started(view)
    view.apply_all([trans(10, "nginx2", "BACKUP", "MASTER", "advert timeout"),
                    state(10, "nginx2", "MASTER", 90)])
    alarms = view.alarms(T0 + 11)
    assert alarms[0].kind == "split-brain"
    assert alarms[0].severity == "critical"
    assert "nginx1 and nginx2" in alarms[0].message


def test_split_brain_one_vip_on_two_nodes() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.VipAdded(T0 + 10, "nginx2", instance="VI_1", vip=VIP))
    assert any(a.kind == "split-brain" and VIP in a.message for a in view.alarms(T0 + 11))


def test_split_brain_ignores_other_vrids() -> None:
    view = ClusterView()
    started(view)
    view.apply(state(5, "nginx2", "MASTER", 90, vrid=101, instance="VI_2"))
    assert "split-brain" not in kinds(view, 6)


def test_flapping_after_three_transitions_in_sixty_seconds() -> None:
    view = ClusterView()
    started(view)  # BACKUP -> MASTER at 3.6 (the INIT transition does not count)
    view.apply(trans(20, "nginx1", "MASTER", "BACKUP"))
    assert "flapping" not in kinds(view, 21)
    view.apply(trans(40, "nginx1", "BACKUP", "MASTER"))
    assert "flapping" in kinds(view, 41)
    assert "flapping" not in kinds(view, 70)  # the first one left the 60 s window


def test_flapping_threshold_is_configurable() -> None:
    view = ClusterView(ViewConfig(flap_count=5, flap_window=30))
    started(view)
    view.apply(trans(10, "nginx1", "MASTER", "BACKUP"))
    view.apply(trans(12, "nginx1", "BACKUP", "MASTER"))
    assert "flapping" not in kinds(view, 13)


def test_no_master_only_after_master_down_interval() -> None:
    view = ClusterView()
    view.apply_all([state(0, "nginx1", "BACKUP", 100), state(0, "nginx2", "BACKUP", 90)])
    assert "no-master" not in kinds(view, 3.0)  # an election takes Master_Down_Interval
    assert "no-master" in kinds(view, 4.0)
    started(view)
    assert "no-master" not in kinds(view, 5.0)
    view.apply(ev.NodeLost(T0 + 10, "nginx1", reason="crashed"))
    assert "no-master" not in kinds(view, 12.0)
    alarm = next(a for a in view.alarms(T0 + 14.5) if a.kind == "no-master")
    assert alarm.since == T0 + 10


def test_master_down_interval_follows_the_version() -> None:
    """v2's Skew_Time is (256 - p) / 256 s whatever the interval; v3's scales with it."""
    def pair(version: int, vrid: int) -> list[ev.Event]:
        return [dataclasses.replace(state(0, node, "BACKUP", prio, vrid=vrid), advert_int=2.0,
                                    version=version)
                for node, prio in (("nginx1", 100), ("nginx2", 90))]

    view = ClusterView()
    view.apply_all(pair(3, 100))
    assert view.instances[("nginx2", "VI_1")].master_down_interval == pytest.approx(
        6 + 2 * 166 / 256, abs=1e-6)  # 7.297 s
    assert "no-master" not in kinds(view, 7.2)
    view = ClusterView()
    view.apply_all(pair(2, 100))
    assert view.instances[("nginx2", "VI_1")].master_down_interval == pytest.approx(
        6 + 166 / 256, abs=1e-6)  # 6.648 s
    assert "no-master" not in kinds(view, 6.6)
    assert "no-master" in kinds(view, 6.7)  # an election is over by then


def test_priority_inversion_after_master_down_interval() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.PriorityChange(T0 + 10, "nginx1", instance="VI_1", old=100, new=80,
                                 base=100, cause="chk_nginx failed"))
    assert "priority-inversion" not in kinds(view, 13.0)  # the backup should take over
    alarm = next(a for a in view.alarms(T0 + 15.0) if a.kind == "priority-inversion")
    assert "nginx2 has priority 90 > MASTER nginx1 (80)" in alarm.message
    assert alarm.since == T0 + 10
    fail_over(view, 15.5)
    assert "priority-inversion" not in kinds(view, 16.0)


def test_no_priority_inversion_for_a_backup_in_an_operator_hold() -> None:
    """The hold comes from the node's own state (a console that attaches later, or that
    did not issue the failover, knows it too); once it ends, the backup has its
    Master_Down_Interval to preempt before the alarm."""
    view = ClusterView()
    started(view)
    fail_over(view, 10, new="nginx2", old="")
    view.apply_all([trans(10, "nginx1", "MASTER", "BACKUP", "higher priority 90"),
                    dataclasses.replace(state(10, "nginx1", "BACKUP", 100),
                                        hold_until=T0 + 70)])
    assert view.instances[("nginx1", "VI_1")].hold_left(T0 + 30) == pytest.approx(40)
    assert "priority-inversion" not in kinds(view, 30)
    assert "priority-inversion" not in kinds(view, 73)  # hold over: time to preempt
    alarm = next(a for a in view.alarms(T0 + 75) if a.kind == "priority-inversion")
    assert alarm.since == T0 + 10


def test_stale_source_from_health_and_from_silence() -> None:
    view = ClusterView(ViewConfig(stale_after=10))
    started(view)
    adverts(view, 4.6, 20.0)
    assert "stale-source" not in kinds(view, 21)
    view.apply(ev.SourceHealth(T0 + 21, "nginx2", ok=False, detail="ssh: connection lost"))
    alarm = next(a for a in view.alarms(T0 + 21) if a.kind == "stale-source")
    assert "ssh: connection lost" in alarm.message
    view.apply(ev.SourceHealth(T0 + 22, "nginx2", ok=True))
    assert "stale-source" not in kinds(view, 22)
    assert kinds(view, 40).count("stale-source") == 2  # both silent for 20 s


# ----------------------------------------------------------------------------- stopwatch


def test_stopwatch_from_a_command_to_first_advert_and_vip() -> None:
    view = ClusterView()
    started(view)
    adverts(view, 4.6, 10.0)
    view.apply(CommandIssued(T0 + 10.0, "nginx1", "fail over VI_1 away from nginx1"))
    view.apply_all([ev.AdvertSent(T0 + 10.001, "nginx1", instance="VI_1", priority=0),
                    trans(10.001, "nginx1", "MASTER", "BACKUP", "released by operator"),
                    state(10.001, "nginx1", "BACKUP", 100)])
    assert view.pending  # in progress: the UI shows "electing…"
    fail_over(view, 10.650, old="")
    rec = view.failovers[-1]
    assert (rec.old_master, rec.new_master) == ("nginx1", "nginx2")
    assert rec.cause == "fail over VI_1 away from nginx1"
    assert rec.advert_ms == pytest.approx(650, abs=0.01)
    assert rec.vip_ms == pytest.approx(651, abs=0.01)
    assert rec.elected_ms == pytest.approx(650, abs=0.01)
    assert rec.complete and not view.pending


def test_stopwatch_keeps_the_first_cause_of_a_chain() -> None:
    view = ClusterView()
    started(view)
    view.apply_all([
        ev.ServiceState(T0 + 10.0, "nginx1", service="nginx", up=False),
        ev.TrackResult(T0 + 10.4, "nginx1", track="chk_nginx", ok=False),
        ev.PriorityChange(T0 + 10.4, "nginx1", instance="VI_1", old=100, new=80, base=100,
                          cause="chk_nginx failed (weight -20)"),
        ev.AdvertSent(T0 + 10.6, "nginx1", instance="VI_1", priority=80),  # still master
    ])
    fail_over(view, 13.25, reason="advert timeout")
    rec = view.failovers[-1]
    assert rec.cause == "nginx stopped on nginx1"
    assert rec.advert_ms == pytest.approx(3250, abs=0.01)
    assert len(view.failovers) == 1  # the old master stepping down is not a second one


def test_stopwatch_node_lost_and_advert_seen_by_a_peer() -> None:
    """A source without AdvertSent: the new master's first advert as a peer received it."""
    view = ClusterView()
    started(view)
    view.apply(ev.NodeLost(T0 + 20, "nginx1", reason="crashed"))
    view.apply(ev.NodeSeen(T0 + 20.5, "nginx3"))
    view.apply(ev.InstanceState(T0 + 20.5, "nginx3", instance="VI_1", vrid=100, state="BACKUP",
                                base_priority=80, effective_priority=80,
                                address="192.0.2.13"))
    view.apply_all([trans(23.6, "nginx2", "BACKUP", "MASTER", "advert timeout"),
                    ev.AdvertReceived(T0 + 23.7, "nginx3", instance="VI_1",
                                      source=ADDR["nginx2"], priority=90),
                    ev.VipAdded(T0 + 23.8, "nginx2", instance="VI_1", vip=VIP)])
    rec = view.failovers[-1]
    assert rec.cause == "nginx1 lost (crashed)"
    assert (rec.elected_ms, rec.advert_ms, rec.vip_ms) == pytest.approx((3600, 3700, 3800))


def test_stopwatch_with_advert_counters_only() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.AdvertCounters(T0 + 5, "nginx2", instance="VI_1", sent=0, received=2))
    view.apply(CommandIssued(T0 + 10, "nginx1", "stop nginx on nginx1"))
    view.apply_all([trans(12, "nginx2", "BACKUP", "MASTER", "advert timeout"),
                    ev.VipAdded(T0 + 12.2, "nginx2", instance="VI_1", vip=VIP),
                    ev.AdvertCounters(T0 + 13, "nginx2", instance="VI_1", sent=1, received=2)])
    rec = view.failovers[-1]
    assert (rec.elected_ms, rec.vip_ms, rec.advert_ms) == pytest.approx((2000, 2200, 3000))


def test_no_failover_recorded_for_the_first_election_or_a_returning_master() -> None:
    view = ClusterView()
    started(view)
    assert not view.failovers
    view.apply(ev.PriorityChange(T0 + 10, "nginx1", instance="VI_1", old=100, new=80, base=100))
    assert view.pending
    view.apply(ev.PriorityChange(T0 + 11, "nginx1", instance="VI_1", old=80, new=100, base=100))
    view.apply(trans(11.5, "nginx1", "MASTER", "MASTER"))  # re-asserts: nobody took over
    assert not view.pending and not view.failovers


def test_a_failover_without_an_observed_cause_is_recorded_without_figures() -> None:
    view = ClusterView()
    started(view)
    view.apply_all([trans(20, "nginx1", "MASTER", "BACKUP", "higher priority")])
    view.pending.clear()  # as if the cause had happened long ago
    fail_over(view, 30, old="")
    rec = view.failovers[-1]
    assert rec.new_master == "nginx2"
    assert rec.advert_ms is None and "cause not observed" in rec.cause


def test_preemption_by_a_recovering_backup_is_timed_from_its_cause() -> None:
    view = ClusterView()
    started(view)
    fail_over(view, 10, reason="advert timeout")  # nginx2 is master now
    view.apply_all([
        CommandIssued(T0 + 30, "nginx1", "start nginx on nginx1"),
        ev.ServiceState(T0 + 30, "nginx1", service="nginx", up=True),
        ev.PriorityChange(T0 + 30.4, "nginx1", instance="VI_1", old=80, new=100, base=100),
    ])
    fail_over(view, 33.5, new="nginx1", old="nginx2", reason="advert timeout")
    rec = view.failovers[-1]
    assert (rec.old_master, rec.new_master, rec.cause) == (
        "nginx2", "nginx1", "start nginx on nginx1")
    assert rec.advert_ms == pytest.approx(3500)


def test_scripted_lab_scene_gives_the_rfc_figure() -> None:
    """The deterministic lab (real core, virtual clock): nginx stop at 30 s on nginx1."""
    scene = SCENES["failover"]
    view = scene.view()
    rec = view.failovers[-1]
    assert (rec.old_master, rec.new_master, rec.cause) == (
        "nginx1", "nginx2", "stop nginx on nginx1")
    # nginx2 discards the lower-priority adverts: Master_Down_Interval(90) = 3.648 s after
    # the last advert it accepted (at 29.609): 33.258 s, 3 258 ms after the command.
    assert rec.advert_ms == pytest.approx(3257.8, abs=0.5)
    assert view.vips[VIP].owner == "nginx2"
    # nginx1's nginx is still down: the VIP moved, but nothing could take it over again
    assert [(a.kind, a.message) for a in view.alarms(scene.now)] == [
        ("degraded", "VI_1 (VRID 100) has no healthy backup "
                     "(nginx1: nginx down, chk_nginx failing)")]


# ----------------------------------------------------------------------------- trust


def test_service_down_on_the_vip_owner_is_critical_until_the_vip_moves() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.ServiceState(T0 + 10, "nginx1", service="nginx", up=False))
    alarm = next(a for a in view.alarms(T0 + 11) if a.kind == "service-down")
    assert alarm.severity == "critical" and alarm.since == T0 + 10
    assert alarm.message == "nginx down on nginx1, which holds 192.0.2.170 (VI_1)"
    fail_over(view, 13.6)
    assert "service-down" not in kinds(view, 14)
    # ... and now nginx1, the only backup, cannot take over healthily
    degraded = next(a for a in view.alarms(T0 + 14) if a.kind == "degraded")
    assert "(nginx1: nginx down)" in degraded.message


def test_a_failing_check_on_the_owner_counts_too() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.TrackResult(T0 + 10, "nginx1", track="chk_nginx", ok=False))
    assert "chk_nginx failing on nginx1" in \
        next(a for a in view.alarms(T0 + 11) if a.kind == "service-down").message


def test_a_lost_node_is_an_alarm_until_it_is_back_and_the_pair_is_degraded() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.NodeLost(T0 + 10, "nginx2", reason="crashed"))
    alarms = {a.kind: a for a in view.alarms(T0 + 200)}  # long after any flapping window
    assert alarms["node-lost"].message == "nginx2 is lost (crashed)"
    assert alarms["degraded"].message == \
        "VI_1 (VRID 100) has no healthy backup (nginx2: lost (crashed))"
    view.apply(ev.NodeSeen(T0 + 201, "nginx2"))
    assert "node-lost" not in kinds(view, 202)


def test_degraded_when_the_backup_is_fault_and_not_when_healthy() -> None:
    view = ClusterView()
    started(view)
    assert "degraded" not in kinds(view, 5)
    view.apply_all([trans(10, "nginx2", "BACKUP", "FAULT", "eth0 down"),
                    state(10, "nginx2", "FAULT", 90)])
    assert any("nginx2: FAULT" in a.message for a in view.alarms(T0 + 11)
               if a.kind == "degraded")


def test_history_older_than_the_current_state_never_overwrites_it() -> None:
    """A source may fold a node's past (read at attach) after its current snapshot."""
    view = ClusterView()
    started(view)  # nginx1 MASTER since T0 + 3.6
    view.apply_all([trans(-3000, "nginx1", "BACKUP", "MASTER", "advert timeout"),
                    trans(-2000, "nginx1", "MASTER", "BACKUP", "higher priority"),
                    ev.VipRemoved(T0 - 2000, "nginx1", instance="VI_1", vip=VIP)])
    inst = view.instances[("nginx1", "VI_1")]
    assert inst.state == "MASTER"
    assert inst.last_transition is not None and inst.last_transition.t == T0 + 3.6
    assert view.vips[VIP].owner == "nginx1"  # the old removal does not drop the holder
    assert [r.t - T0 for r in view.transitions][:2] == [-3000, -2000]  # in time order


def test_clock_offset_is_kept_and_past_one_second_raises_an_alarm() -> None:
    view = ClusterView()
    started(view)
    view.apply(ev.ClockOffset(T0 + 5, "nginx2", offset=0.2, error=0.001))
    assert "clock-skew" not in kinds(view, 6)
    view.apply(ev.ClockOffset(T0 + 5, "nginx1", offset=-2.5, error=0.001))
    alarm = next(a for a in view.alarms(T0 + 6) if a.kind == "clock-skew")
    assert alarm.node == "nginx1" and "-2.5 s" in alarm.message
    assert view.nodes["nginx2"].clock_offset == 0.2


def test_history_end_marks_where_live_begins_in_the_log() -> None:
    view = ClusterView()
    view.apply(ev.HistoryEnd(T0, "nginx1", source="journalctl --since 1h", events=42))
    assert view.nodes["nginx1"].history_end == T0
    assert view.log[-1].text == \
        "[haconsole] history: 42 events from journalctl --since 1h; live from here"


def test_merged_log_is_in_time_order_across_nodes() -> None:
    view = ClusterView()
    changes = view.apply_all([ev.LogLine(T0 + 2, "nginx1", text="b"),
                              ev.LogLine(T0 + 1, "nginx2", text="a"),
                              ev.LogLine(T0 + 3, "nginx2", text="c")])
    assert [e.text for e in view.log] == ["a", "b", "c"]
    assert changes.log and view.log_reordered_at == 2


def test_the_stopwatch_follows_a_failback_after_the_hold_ends() -> None:
    """failover nginx1 -> nginx2; 60 s later nginx1's hold ends and it preempts while
    nginx2 still advertises: the headline is the move back, timed from the hold's end."""
    view = ClusterView()
    started(view)
    view.apply(CommandIssued(T0 + 10, "nginx1", "fail over VI_1 away from nginx1"))
    view.apply_all([trans(10.0, "nginx1", "MASTER", "BACKUP", "released by operator"),
                    dataclasses.replace(state(10.0, "nginx1", "BACKUP", 100),
                                        hold_until=T0 + 70),
                    ev.VipRemoved(T0 + 10.0, "nginx1", instance="VI_1", vip=VIP)])
    fail_over(view, 10.65, old="")
    assert (view.failovers[-1].old_master, view.failovers[-1].new_master) == ("nginx1", "nginx2")
    # hold over at 70; nginx1 preempts at 73.6 (MDI after the last advert it accepted)
    view.apply_all([ev.AdvertSent(T0 + 73.6, "nginx1", instance="VI_1", priority=100),
                    trans(73.6, "nginx1", "BACKUP", "MASTER", "advert timeout"),
                    state(73.6, "nginx1", "MASTER", 100),
                    ev.VipAdded(T0 + 73.601, "nginx1", instance="VI_1", vip=VIP),
                    ev.VipRemoved(T0 + 73.602, "nginx2", instance="VI_1", vip=VIP),
                    trans(73.602, "nginx2", "MASTER", "BACKUP", "higher priority 100"),
                    state(73.602, "nginx2", "BACKUP", 90)])
    rec = view.current_failover()
    assert rec is not None and (rec.old_master, rec.new_master) == ("nginx2", "nginx1")
    assert rec.cause == "failover hold on nginx1 ended (preemption)"
    assert rec.elected_ms == pytest.approx(3600)
    assert rec.vip_ms == pytest.approx(3601)


def test_the_stopwatch_follows_a_heal_that_leaves_the_other_master() -> None:
    view = ClusterView()
    started(view)
    fail_over(view, 10, old="")  # a partition: both MASTER
    view.apply_all([ev.VipRemoved(T0 + 20, "nginx1", instance="VI_1", vip=VIP),
                    trans(20, "nginx1", "MASTER", "BACKUP", "higher priority"),
                    state(20, "nginx1", "BACKUP", 100)])
    rec = view.current_failover()
    assert rec is not None and (rec.old_master, rec.new_master) == ("nginx1", "nginx2")


def test_a_failback_is_caused_by_the_recovery_not_by_the_failure_before_it() -> None:
    """nginx stops on nginx1 (failover), starts 5 s later (failback): the failback's cause
    is the start, although the stop happened within the cause window."""
    view = ClusterView()
    started(view)
    view.apply_all([
        ev.ServiceState(T0 + 10, "nginx1", service="nginx", up=False),
        ev.PriorityChange(T0 + 10.4, "nginx1", instance="VI_1", old=100, new=80, base=100),
    ])
    fail_over(view, 13.6)
    view.apply_all([
        ev.ServiceState(T0 + 15, "nginx1", service="nginx", up=True),
        ev.PriorityChange(T0 + 15.4, "nginx1", instance="VI_1", old=80, new=100, base=100),
    ])
    fail_over(view, 18.6, new="nginx1", old="nginx2")
    first, second = list(view.failovers)[-2:]
    assert first.cause == "nginx stopped on nginx1"
    assert second.cause == "nginx started on nginx1"
    assert second.vip_ms == pytest.approx(3601)


def test_two_clusters_reusing_a_vrid_on_two_segments_are_two_routers() -> None:
    """A fleet read from Prometheus: VRID 51 is MASTER on a1 and on b1, of two clusters."""
    view = ClusterView()
    for node, segment in (("a1", "web"), ("b1", "db")):
        view.apply(ev.InstanceState(T0, node, instance="VI_1", vrid=51, state="MASTER",
                                    base_priority=100, effective_priority=100,
                                    address="192.0.2.11", segment=segment))
    assert len(view.groups()) == 2
    assert "split-brain" not in kinds(view, 1)


def test_a_late_line_into_a_full_log_takes_the_oldest_ones_place() -> None:
    """The merged log is bounded; a line older than the newest (another node's, a past)
    arriving when it is full must not break the fold (it did: IndexError from deque)."""
    view = ClusterView(ViewConfig(log_lines=5))
    view.apply_all([ev.LogLine(T0 + i, "a", text=f"l{i}") for i in range(5)])
    view.apply(ev.LogLine(T0 + 2.5, "b", text="late"))
    assert [e.text for e in view.log] == ["l1", "l2", "late", "l3", "l4"]
    view.apply(ev.LogLine(T0 - 10, "b", text="ancient"))  # older than all: not kept
    assert [e.text for e in view.log] == ["l1", "l2", "late", "l3", "l4"]


def test_with_on_error_a_bad_event_is_skipped_and_the_rest_folded() -> None:
    view = ClusterView()
    seen: list[str] = []
    bad = ev.InstanceState(T0, "n1", instance="VI_1", vrid=1)
    object.__setattr__(bad, "vips", None)  # a value the fold cannot iterate
    view.apply_all([bad, ev.LogLine(T0 + 1, "n1", text="after")],
                   on_error=lambda item, err: seen.append(type(err).__name__))
    assert seen == ["TypeError"]
    assert view.log[-1].text == "after"
