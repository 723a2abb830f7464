"""Fast preemption (opt-in): a backup takes over at once when the master it followed says
it is worse, instead of waiting out Master_Down_Interval. Virtual clock, exact to the µs.

The RFC backup (test_instance.py) discards lower-priority adverts and takes over one
Master_Down_Interval after the last advert it accepted: ~3.6 s of outage for a dead nginx
that the master announced in milliseconds.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haconsole.config import TrackRef, VirtualAddress, VrrpInstance
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.timing import master_down_us
from haconsole.vrrp.tracking import TrackSpec

US = 1e-6


def vi(prio: int, **kw: object) -> VrrpInstance:
    return VrrpInstance(
        name="VI_1", interface="eth0", virtual_router_id=100, priority=prio,
        virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))],
        track_script=[TrackRef("chk_nginx")], **kw,  # type: ignore[arg-type]
    )


def pair(*, fast: bool = True, backup: dict[str, object] | None = None) -> Simulation:
    """nginx1 (100, RFC) master; nginx2 (90) backup with fast preemption."""
    sim = Simulation(wire=True)
    tracks = {"VI_1": [TrackSpec("chk_nginx", -20)]}
    sim.add_node("nginx1", "192.0.2.11", [vi(100)], tracks)
    sim.add_node("nginx2", "192.0.2.12", [vi(90, **(backup or {}))], tracks, fast_preempt=fast)
    sim.start_all()
    sim.set_track("nginx1", "chk_nginx", True)
    sim.set_track("nginx2", "chk_nginx", True)
    sim.run_until(10.2)
    assert sim.masters(100) == ["nginx1"]
    return sim


def test_takes_over_on_the_first_lower_priority_advert() -> None:
    sim = pair()
    sim.set_track("nginx1", "chk_nginx", False)  # the master advertises 80 at once
    t_fail = sim.now
    sim.run_until(15)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None and rec.t == pytest.approx(t_fail, abs=US)
    assert "fast preemption" in rec.detail
    assert sim.masters(100) == ["nginx2"]  # the RFC master stepped down on our advert
    assert sim.nodes["nginx2"].vips == {"192.0.2.170"} and not sim.nodes["nginx1"].vips
    assert any("fast preemption: master 192.0.2.11 advertised priority 80, below ours 90"
               in line for line in sim.logs("nginx2"))


def test_without_the_option_the_rfc_timer_runs() -> None:
    sim = pair(fast=False)
    sim.set_track("nginx1", "chk_nginx", False)
    t_fail = sim.now
    sim.run_until(20)
    rec = sim.first("transition", node="nginx2", new=State.MASTER)
    assert rec is not None and rec.t - t_fail > 2.5


@pytest.mark.parametrize("backup", [{"nopreempt": True}, {"preempt_delay": 5.0}])
def test_never_with_nopreempt_or_a_pending_preempt_delay(backup: dict[str, object]) -> None:
    sim = pair(backup=backup)
    sim.set_track("nginx1", "chk_nginx", False)
    t_fail = sim.now
    sim.run_until(t_fail + 3.0)
    assert sim.masters(100) == ["nginx1"]


def test_never_during_an_operator_hold() -> None:
    sim = pair()
    sim.nodes["nginx2"].instances[100].release(sim.now, 60.0)  # a hold, as after a failover
    sim.set_track("nginx1", "chk_nginx", False)
    sim.run_until(sim.now + 3.0)
    assert sim.masters(100) == ["nginx1"]


def test_not_on_an_advert_from_a_node_that_never_was_our_master() -> None:
    """A lower-priority advert from a newcomer (not the master we followed) is discarded."""
    sim = pair()
    stranger = vi(50)
    sim.add_node("rogue", "192.0.2.99", [stranger])
    sim.start("rogue")
    inst = sim.nodes["rogue"].instances[100]
    sim.run_until(sim.now + 0.001)
    actions = sim.nodes["nginx2"].instances[100].on_advert(
        inst.make_advert(50), ipaddress.ip_address("192.0.2.99"), sim.now)
    assert not any(getattr(a, "new", None) == State.MASTER for a in actions)
    assert sim.nodes["nginx2"].instances[100].state == "BACKUP"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0, 20), st.integers(0, 2), st.booleans()), max_size=10),
       st.sampled_from([0.0, 0.2]), st.integers(0, 999))
def test_at_most_one_master_after_convergence(chaos: list[tuple[float, int, bool]],
                                              loss: float, seed: int) -> None:
    sim = Simulation(loss=loss, seed=seed)
    tracks = {"VI_1": [TrackSpec("chk_nginx", -20)]}
    for i, prio in enumerate((100, 95, 90)):
        sim.add_node(f"n{i}", f"192.0.2.{11 + i}", [vi(prio)], tracks, fast_preempt=True)
    sim.start_all()
    for name in sim.nodes:
        sim.set_track(name, "chk_nginx", True)
    for t, index, ok in sorted(chaos):
        sim.run_until(t)
        sim.set_track(f"n{index}", "chk_nginx", ok)
    sim.loss = 0.0
    sim.run_for(2 * master_down_us(2, 1_000_000, 1) / 1e6)
    masters = sim.masters(100)
    assert len(masters) == 1
    best = max(sim.nodes[n].instances[100].effective_priority for n in sim.nodes)
    assert sim.nodes[masters[0]].instances[100].effective_priority == best
