"""Scenario tests of the sans-IO instance on the virtual clock, exact to the microsecond.

Reference timings (tests/data/VECTORS.md, keepalived 2.2.7 on the wire, advert_int 1 s):
- Master_Down_Interval for a priority-90 backup = 3 + (256 - 90)/256 = 3.648437 s.
- Skew_Time for a priority-90 backup = (256 - 90)/256 = 0.648437 s.

Note on the check-failure case: the backup's down timer runs from the *last advert it
accepted* (the last one at priority 100); lower-priority adverts are discarded without
restarting it (RFC 5798 §6.4.2, keepalived vrrp_state_backup). The node2 log of the
vectors shows exactly that: three "received lower priority (80)" lines, then the timeout
within the same second as the third, i.e. 2.648 s after the first lowered advert and
3.648 s after the last accepted one.
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from haconsole.config import Secret, TrackRef, VirtualAddress, VrrpInstance
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.packet import MCAST_V4, encode
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.timing import master_down_us, skew_time_us
from haconsole.vrrp.tracking import TrackSpec

MDI_90 = 3.648437
SKEW_90 = 0.648437
MDI_100 = 3.609375
US = 1e-6


def vi(prio: int, *, name: str = "VI_1", vrid: int = 100, **kw: object) -> VrrpInstance:
    kw.setdefault("auth_type", "PASS")
    kw.setdefault("auth_pass", Secret("mypassword"))
    return VrrpInstance(
        name=name, interface="eth0", virtual_router_id=vrid, priority=prio,
        virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))],
        **kw,  # type: ignore[arg-type]
    )


def nginx_pair(*, wire: bool = True, **kw: object) -> Simulation:
    """The classic pair: nginx1 (100) and nginx2 (90), chk_nginx weight -20."""
    sim = Simulation(wire=wire)
    tracks = {"VI_1": [TrackSpec("chk_nginx", -20)]}
    sim.add_node("nginx1", "192.0.2.11", [vi(100, track_script=[TrackRef("chk_nginx")], **kw)],
                 tracks)
    sim.add_node("nginx2", "192.0.2.12", [vi(90, track_script=[TrackRef("chk_nginx")], **kw)],
                 tracks)
    sim.start_all()
    sim.set_track("nginx1", "chk_nginx", True)
    sim.set_track("nginx2", "chk_nginx", True)
    return sim


def last_accepted(sim: Simulation, node: str, before: float, min_priority: int) -> float:
    times = [r.t for r in sim.records if r.what == "recv" and r.node == node and r.t <= before
             and r.priority >= min_priority]
    return max(times)


def test_timer_arithmetic_matches_keepalived() -> None:
    assert skew_time_us(2, 1_000_000, 90) == 648_437
    assert master_down_us(2, 1_000_000, 90) == 3_648_437
    assert skew_time_us(3, 1_000_000, 90) == 648_437
    assert master_down_us(3, 50_000, 100) == 150_000 + 30_468
    assert skew_time_us(2, 1_000_000, 255) == 3_906


def test_startup_both_backup_highest_wins_after_master_down_interval() -> None:
    sim = nginx_pair()
    sim.run_until(10)
    rec = sim.first("transition", new=State.MASTER)
    assert rec is not None and rec.node == "nginx1"
    assert rec.t == pytest.approx(MDI_100, abs=US)
    assert sim.masters(100) == ["nginx1"]
    assert sim.nodes["nginx1"].vips == {"192.0.2.170"}
    assert sim.nodes["nginx2"].vips == set()


def test_check_failure_takeover_after_master_down_interval() -> None:
    sim = nginx_pair()
    sim.run_until(10.2)
    sim.set_track("nginx1", "chk_nginx", False)
    assert sim.nodes["nginx1"].instances[100].effective_priority == 80
    sim.run_until(20)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None
    t_last = last_accepted(sim, "nginx2", rec.t, 90)
    assert rec.t - t_last == pytest.approx(MDI_90, abs=US)
    first_lowered = sim.first("send", node="nginx1", priority=80)
    assert first_lowered is not None
    # the master advertises its lowered priority at once (haconsole; keepalived waits
    # for its next interval), which does not change the takeover time above
    assert first_lowered.t == pytest.approx(10.2, abs=US)
    assert sim.masters(100) == ["nginx2"]
    logs = sim.logs("nginx1")
    assert "(VI_1) Changing effective priority from 100 to 80" in logs
    assert "(VI_1) Master received advert from 192.0.2.12 with higher priority 90, ours 80" in logs
    assert "(VI_1) received lower priority (80) advert from 192.0.2.11 - discarding" in \
        sim.logs("nginx2")


def test_priority_zero_takeover_after_skew_time() -> None:
    sim = nginx_pair()
    sim.run_until(10.5)
    sim.stop("nginx1")
    t_stop = sim.now
    sim.run_until(15)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None
    assert rec.t - t_stop == pytest.approx(SKEW_90, abs=US)
    assert "(VI_1) sent 0 priority" in sim.logs("nginx1")
    assert "(VI_1) Backup received priority 0 advertisement" in sim.logs("nginx2")
    assert sim.nodes["nginx1"].instances[100].stats["pri_zero_sent"] == 1
    assert sim.nodes["nginx2"].instances[100].stats["pri_zero_rcvd"] == 1


def test_crash_takeover_after_master_down_interval() -> None:
    sim = nginx_pair()
    sim.run_until(10.5)
    sim.crash("nginx1")
    sim.run_until(20)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None
    assert rec.t - last_accepted(sim, "nginx2", rec.t, 1) == pytest.approx(MDI_90, abs=US)


def test_preempt_back_on_recovery() -> None:
    sim = nginx_pair()
    sim.run_until(10.2)
    sim.set_track("nginx1", "chk_nginx", False)
    sim.run_until(20.3)
    assert sim.masters(100) == ["nginx2"]
    sim.set_track("nginx1", "chk_nginx", True)
    sim.run_until(30)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=20.3)
    assert rec is not None
    # the down timer, restarted at the last accepted advert (90 >= 80), is shortened by
    # the priority change to the priority-100 Master_Down_Interval.
    assert rec.t - last_accepted(sim, "nginx1", 20.3, 90) == pytest.approx(MDI_100, abs=US)
    assert sim.masters(100) == ["nginx1"]
    assert "(VI_1) received lower priority (90) advert from 192.0.2.12 - discarding" in \
        sim.logs("nginx1")


def test_nopreempt_keeps_the_current_master() -> None:
    sim = Simulation(wire=True)
    sim.add_node("a", "192.0.2.11", [vi(100, nopreempt=True)])
    sim.add_node("b", "192.0.2.12", [vi(90, nopreempt=True)])
    sim.start("b")
    sim.run_until(5)
    assert sim.masters(100) == ["b"]
    sim.start("a")
    sim.run_until(60)
    assert sim.masters(100) == ["b"]
    assert sim.state("a", 100) == State.BACKUP


def test_preempt_delay_postpones_preemption() -> None:
    sim = Simulation(wire=True)
    sim.add_node("a", "192.0.2.11", [vi(100, preempt_delay=10.0)])
    sim.add_node("b", "192.0.2.12", [vi(90)])
    sim.start("b")
    sim.run_until(5)
    sim.start("a")
    t_start = sim.now
    sim.run_until(40)
    rec = sim.first("transition", node="a", new=State.MASTER)
    assert rec is not None
    first_seen = sim.first("recv", node="a")
    assert first_seen is not None
    assert 10.0 <= rec.t - first_seen.t <= 10.0 + MDI_100 + US
    assert rec.t - t_start > MDI_100
    assert any("start preempt delay (10.000000)" in line for line in sim.logs("a"))


def test_priority_255_owner_is_master_at_once_and_preempts() -> None:
    sim = Simulation(wire=True)
    sim.add_node("owner", "192.0.2.11", [vi(255)])
    sim.add_node("b", "192.0.2.12", [vi(90)])
    sim.start("b")
    sim.run_until(5)
    assert sim.masters(100) == ["b"]
    sim.start("owner")
    t0 = sim.now
    sim.run_until(t0 + 0.01)
    rec = sim.first("transition", node="owner", new=State.MASTER)
    assert rec is not None and rec.t - t0 == pytest.approx(1e-6, abs=US)
    assert sim.masters(100) == ["owner"]
    owner = sim.nodes["owner"].instances[100]
    owner_actions = owner.set_track("x", False, sim.now)
    assert owner_actions == [] and owner.effective_priority == 255


def test_vrrpv3_five_centiseconds() -> None:
    sim = Simulation(wire=True)
    cfg = {"version": 3, "advert_int": 0.05, "auth_type": None, "auth_pass": None}
    sim.add_node("a", "192.0.2.11", [vi(200, vrid=55, **cfg)])
    sim.add_node("b", "192.0.2.12", [vi(100, vrid=55, **cfg)])
    sim.start_all()
    sim.run_until(1)
    assert sim.masters(55) == ["a"]
    sends = [r.t for r in sim.records if r.what == "send" and r.node == "a"]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(sends[1:])}
    assert gaps == {0.05}
    sim.crash("a")
    t_crash = sim.now
    sim.run_until(2)
    rec = sim.first("transition", node="b", new=State.MASTER)
    assert rec is not None
    mdi = (3 * 50_000 + 30_468) * US
    assert rec.t - last_accepted(sim, "b", rec.t, 1) == pytest.approx(mdi, abs=US)
    assert rec.t - t_crash <= mdi


def test_equal_priority_tie_goes_to_the_higher_address() -> None:
    sim = Simulation(wire=True)
    sim.add_node("low", "192.0.2.11", [vi(100)])
    sim.add_node("high", "192.0.2.12", [vi(100)])
    sim.start_all()
    sim.run_until(10)
    assert sim.masters(100) == ["high"]
    assert ("(VI_1) Master received advert from 192.0.2.12 with same priority 100 but higher "
            "IP address than ours") in sim.logs("low")


def test_weight_zero_check_failure_is_fault_and_master_releases() -> None:
    sim = Simulation(wire=True)
    tracks = {"VI_1": [TrackSpec("chk", 0)]}
    sim.add_node("a", "192.0.2.11", [vi(100, track_script=[TrackRef("chk")])], tracks)
    sim.add_node("b", "192.0.2.12", [vi(90)])
    sim.start_all()
    assert sim.state("a", 100) == "INIT"  # held until the weight-0 check reports
    sim.set_track("a", "chk", True)
    assert sim.state("a", 100) == State.BACKUP
    sim.run_until(10)
    assert sim.masters(100) == ["a"]
    t_fault = sim.now
    sim.set_track("a", "chk", False)
    assert sim.state("a", 100) == State.FAULT
    assert "(VI_1) Entering FAULT STATE" in sim.logs("a")
    sim.run_until(15)
    rec = sim.first("transition", node="b", new=State.MASTER)
    assert rec is not None and rec.t - t_fault == pytest.approx(SKEW_90, abs=US)
    sim.set_track("a", "chk", True)
    assert sim.state("a", 100) == State.BACKUP


def test_master_answers_a_lower_priority_advert_at_once() -> None:
    a = Instance(vi(100), ipaddress.ip_address("192.0.2.11"))
    a.start(0.0)
    a.on_timer(a.next_deadline() or 0.0)
    assert a.state == State.MASTER
    lower = a.make_advert(50)
    out = a.on_advert(lower, ipaddress.ip_address("192.0.2.12"), 5.0)
    sends = [x for x in out if isinstance(x, act.SendAdvert)]
    assert len(sends) == 1 and sends[0].advert.priority == 100
    assert act.Log("(VI_1) Received advert from 192.0.2.12 with lower priority 50, ours 100, "
                   "forcing new election") in out
    assert a.next_deadline() == pytest.approx(6.0)


def _announce_times(refresh: float, repeat: int, until: float) -> list[tuple[float, int]]:
    """(time, repeat) of every Announce a lone master sends before `until`."""
    a = Instance(vi(100, garp_master_delay=0.0, garp_master_refresh=refresh,
                    garp_master_refresh_repeat=repeat), ipaddress.ip_address("192.0.2.11"))
    a.start(0.0)
    seen: list[tuple[float, int]] = []
    while (t := a.next_deadline()) is not None and t < until:
        seen += [(round(t, 6), x.repeat) for x in a.on_timer(t) if isinstance(x, act.Announce)]
    return seen


def test_garp_master_refresh_reannounces_with_the_first_advert_past_it() -> None:
    """keepalived checks the refresh time when it sends an advert, and only once it has
    passed: with advert_int 1 and refresh 3, the takeover's announce is followed by one at
    each fourth advert after it."""
    took_over = _announce_times(0, 1, 60)[0][0]
    seen = _announce_times(3, 2, took_over + 9.5)
    assert seen[0] == (took_over, 5)  # the takeover: garp_master_repeat
    assert seen[1:] == [(pytest.approx(took_over + 4), 2), (pytest.approx(took_over + 8), 2)]
    assert _announce_times(0, 2, took_over + 9.5) == [(took_over, 5)]  # 0: never


def test_garp_master_refresh_is_rearmed_by_each_takeover() -> None:
    a = Instance(vi(100, garp_master_delay=0.0, garp_master_refresh=2),
                 ipaddress.ip_address("192.0.2.11"))
    a.start(0.0)
    a.on_timer(a.next_deadline() or 0.0)
    assert a.state == State.MASTER
    a.on_advert(a.make_advert(200), ipaddress.ip_address("192.0.2.12"), 10.0)
    assert a.state == State.BACKUP  # no refresh while BACKUP: the backup's timer only
    took_over = a.next_deadline() or 0.0
    a.on_timer(took_over)
    assert a.state == State.MASTER
    announces = []
    while (t := a.next_deadline() or 0.0) < took_over + 3.5:
        announces += [t - took_over for x in a.on_timer(t) if isinstance(x, act.Announce)]
    assert announces == [pytest.approx(3.0)]  # the first advert past took_over + 2


def test_bad_password_is_counted_dropped_and_logged() -> None:
    a = Instance(vi(100), ipaddress.ip_address("192.0.2.11"))
    a.start(0.0)
    other = Instance(vi(90, auth_pass=Secret("wrong")), ipaddress.ip_address("192.0.2.12"))
    payload = encode(other.make_advert(90), other.address, MCAST_V4)
    out = a.on_packet(payload, other.address, MCAST_V4, 255, 1.0)
    assert a.stats["auth_failure"] == 1
    assert act.Log("(VI_1) received an invalid passwd!") in out
    assert any(isinstance(x, act.PacketRejected) and x.reason == "auth_failure" for x in out)
    assert a.state == State.BACKUP and a.stats["advert_rcvd"] == 0


def test_ttl_not_255_is_dropped() -> None:
    a = Instance(vi(100), ipaddress.ip_address("192.0.2.11"))
    a.start(0.0)
    payload = encode(a.make_advert(120), ipaddress.ip_address("192.0.2.12"), MCAST_V4)
    out = a.on_packet(payload, ipaddress.ip_address("192.0.2.12"), MCAST_V4, 64, 1.0)
    assert a.stats["ip_ttl_err"] == 1
    assert [x.reason for x in out if isinstance(x, act.PacketRejected)] == ["ip_ttl_err"]


def test_operator_failover_moves_the_vip_within_skew_time_and_holds() -> None:
    sim = nginx_pair()
    sim.run_until(10.5)
    sim.release("nginx1", 100, hold=30.0)
    t0 = sim.now
    sim.run_until(t0 + 20)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None and rec.t - t0 == pytest.approx(SKEW_90, abs=US)
    assert sim.masters(100) == ["nginx2"]  # held: no preemption back during the hold
    sim.run_until(t0 + 40)
    assert sim.masters(100) == ["nginx1"]  # after the hold, preemption applies again


def test_positive_weight_and_clamping() -> None:
    inst = Instance(vi(250, track_script=[TrackRef("up")]), ipaddress.ip_address("192.0.2.11"),
                    tracks=[TrackSpec("up", 10), TrackSpec("down", -253)])
    inst.start(0.0)
    assert inst.effective_priority == 250  # no reports yet: no weight applied
    inst.set_track("up", True, 1.0)
    assert inst.effective_priority == 254  # clamped below the owner priority
    inst.set_track("down", False, 2.0)
    assert inst.effective_priority == 7
    inst.set_track("up", False, 3.0)
    assert inst.effective_priority == 1  # clamped at 1


def test_secret_never_in_repr() -> None:
    inst = vi(100)
    assert "mypassword" not in repr(inst)
