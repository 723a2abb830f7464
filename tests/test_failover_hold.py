"""The operator's failover hold suppresses preemption, never a takeover (issue: outage).

After `failover` the released node holds back for a while so the VIP stays where the
operator moved it. The hold must only stop it from *preempting* a live master of lower
priority; when that master dies, stops (priority 0) or is cut off, the held node takes
over at the RFC time, exactly as without a hold. Virtual clock, exact to the µs; the
same three scenarios run on the in-process lab in real time further down, and on real
agents in tests/netns/test_agent_pair.py.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haconsole.config import TrackRef, VirtualAddress, VrrpInstance
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.timing import master_down_us, skew_time_us
from haconsole.vrrp.tracking import TrackSpec

US = 1e-6
HOLD = 60.0
MDI_100 = master_down_us(2, 1_000_000, 100) / 1e6  # nginx1's Master_Down_Interval
SKEW_100 = skew_time_us(2, 1_000_000, 100) / 1e6


def vi(prio: int, **kw: object) -> VrrpInstance:
    return VrrpInstance(
        name="VI_1", interface="eth0", virtual_router_id=100, priority=prio,
        virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))],
        **kw,  # type: ignore[arg-type]
    )


def released_pair() -> tuple[Simulation, float]:
    """nginx1 (100) master, released by the operator at t=10.5: nginx2 (90) is master."""
    sim = Simulation(wire=True)
    sim.add_node("nginx1", "192.0.2.11", [vi(100)])
    sim.add_node("nginx2", "192.0.2.12", [vi(90)])
    sim.start_all()
    sim.run_until(10.5)
    assert sim.masters(100) == ["nginx1"]
    sim.release("nginx1", 100, hold=HOLD)
    sim.run_until(15.0)
    assert sim.masters(100) == ["nginx2"]
    held = sim.nodes["nginx1"].instances[100]
    assert held.hold_until(sim.now) == pytest.approx(10.5 + HOLD)
    return sim, 10.5


def last_heard(sim: Simulation, node: str, before: float) -> float:
    return max(r.t for r in sim.records
               if r.what == "recv" and r.node == node and r.t <= before and r.priority > 0)


def test_hold_keeps_the_vip_on_the_live_lower_priority_master() -> None:
    sim, t0 = released_pair()
    sim.run_until(t0 + HOLD - 1)
    assert sim.masters(100) == ["nginx2"]  # no preemption back during the hold
    assert not any("discarding" in line for line in sim.logs("nginx1"))


def test_crash_of_the_new_master_during_the_hold_takes_over_at_master_down_interval() -> None:
    sim, t0 = released_pair()
    sim.run_until(18.3)
    sim.crash("nginx2")
    sim.run_until(30.0)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=t0)
    assert rec is not None, "nothing took over while the hold ran: an outage"
    assert rec.t - last_heard(sim, "nginx1", rec.t) == pytest.approx(MDI_100, abs=US)
    assert "(VI_1) Receive advertisement timeout" in sim.logs("nginx1")
    assert sim.masters(100) == ["nginx1"]
    assert sim.nodes["nginx1"].vips == {"192.0.2.170"}
    assert sim.nodes["nginx1"].instances[100].hold_until(sim.now) is None


def test_halt_of_the_new_master_during_the_hold_takes_over_at_skew_time() -> None:
    sim, t0 = released_pair()
    sim.run_until(18.3)
    sim.stop("nginx2")  # clean stop: priority 0
    t_stop = sim.now
    sim.run_until(30.0)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=t0)
    assert rec is not None
    assert rec.t - t_stop == pytest.approx(SKEW_100, abs=US)
    assert "(VI_1) Backup received priority 0 advertisement" in sim.logs("nginx1")


def test_partition_of_the_new_master_during_the_hold_takes_over_at_master_down_interval(
) -> None:
    sim, t0 = released_pair()
    sim.run_until(18.3)
    sim.partition("nginx2")
    sim.run_until(30.0)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=t0)
    assert rec is not None
    assert rec.t - last_heard(sim, "nginx1", rec.t) == pytest.approx(MDI_100, abs=US)
    assert sorted(sim.masters(100)) == ["nginx1", "nginx2"]  # split brain, as partitioned


def test_after_the_hold_preemption_applies_again() -> None:
    sim, t0 = released_pair()
    sim.run_until(t0 + HOLD + 10)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=t0)
    assert rec is not None
    # the first advert after the hold is discarded; the takeover comes one
    # Master_Down_Interval after the last advert accepted during the hold
    assert rec.t - last_heard(sim, "nginx1", t0 + HOLD) == pytest.approx(MDI_100, abs=US)


def test_cancel_hold_preempts_one_master_down_interval_after_the_last_accepted_advert(
) -> None:
    sim, t0 = released_pair()
    sim.run_until(20.2)
    inst = sim.nodes["nginx1"].instances[100]
    assert inst.cancel_hold(sim.now) is True
    assert inst.cancel_hold(sim.now) is False  # nothing left to cancel
    sim.run_until(30.0)
    rec = sim.first("transition", node="nginx1", new=State.MASTER, after=t0)
    assert rec is not None
    assert rec.t - last_heard(sim, "nginx1", 20.2) == pytest.approx(MDI_100, abs=US)


# ----------------------------------------------------------------------------- property

EPS = 0.011  # the checking step (10 ms) plus rounding
STEP = 0.01


@st.composite
def segments(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(2, 4))
    version = draw(st.sampled_from([2, 3]))
    advert_int = 1.0 if version == 2 else draw(st.sampled_from([0.1, 1.0]))
    nodes = [{"priority": draw(st.integers(1, 254)),
              "nopreempt": draw(st.booleans()),
              "preempt_delay": draw(st.sampled_from([0.0, 0.0, 2.0, 15.0])),
              "weight": draw(st.sampled_from([0, -20, -60]))} for _ in range(n)]
    chaos = draw(st.lists(st.tuples(
        st.floats(0, 25), st.sampled_from(
            ("crash", "stop", "restart", "failover", "failover", "partition", "heal", "fail",
             "recover", "cancel")),
        st.integers(0, n - 1), st.sampled_from([3.0, 20.0, 60.0])), max_size=14))
    return {"version": version, "advert_int": advert_int, "nodes": nodes, "chaos": chaos,
            "loss": draw(st.sampled_from([0.0, 0.0, 0.2])), "seed": draw(st.integers(0, 999))}


def _build(seg: dict[str, object]) -> Simulation:
    sim = Simulation(loss=float(seg["loss"]), seed=int(seg["seed"]))  # type: ignore[arg-type]
    for i, spec in enumerate(seg["nodes"]):  # type: ignore[attr-defined]
        weight = spec["weight"]
        cfg = VrrpInstance(
            name="VI_1", interface="eth0", virtual_router_id=7, priority=spec["priority"],
            version=seg["version"], advert_int=seg["advert_int"],  # type: ignore[arg-type]
            nopreempt=spec["nopreempt"], preempt_delay=spec["preempt_delay"],
            virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface("192.0.2.200/24"))],
            track_script=[TrackRef("chk")] if weight else [],
        )
        tracks = {"VI_1": [TrackSpec("chk", weight)]} if weight else {}
        sim.add_node(f"n{i}", f"192.0.2.{10 + i}", [cfg], tracks)
    return sim


def _act(sim: Simulation, action: str, name: str, hold: float) -> None:
    node = sim.nodes[name]
    inst = node.instances.get(7)
    if action in ("crash", "stop") and node.alive:
        sim.crash(name) if action == "crash" else sim.stop(name)
    elif action == "restart" and not node.alive:
        sim.start(name)
    elif action in ("partition", "heal"):
        sim.partition(name, action == "partition")
    elif action in ("fail", "recover") and node.alive:
        sim.set_track(name, "chk", action == "recover")
    elif action == "failover" and node.alive and inst is not None and inst.state == State.MASTER:
        sim.release(name, 7, hold)
    elif action == "cancel" and node.alive and inst is not None:
        inst.cancel_hold(sim.now)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments())
def test_no_master_never_lasts_longer_than_master_down_interval(
        seg: dict[str, object]) -> None:
    """Whenever a backup that can be master (alive, BACKUP) sees no live master for longer
    than Master_Down_Interval + ε, it has become master: holds, nopreempt and
    preempt_delay never stretch an outage."""
    sim = _build(seg)
    version = int(seg["version"])  # type: ignore[call-overload]
    adv_us = round(float(seg["advert_int"]) * 1e6)  # type: ignore[arg-type]
    bound = master_down_us(version, adv_us, 1) / 1e6 + EPS
    sim.start_all()
    since = dict.fromkeys(sim.nodes, 0.0)  # when each node last (re)started or rejoined
    alone_since: dict[str, float] = {}  # node -> since when it sees no master
    chaos = sorted(seg["chaos"])  # type: ignore[call-overload]
    t = 0.0
    while t < 40.0:
        t = round(t + STEP, 6)
        while chaos and chaos[0][0] <= t:
            at, action, index, hold = chaos.pop(0)
            sim.run_until(at)
            name = f"n{index}"
            was = (sim.nodes[name].alive, sim.nodes[name].partitioned)
            _act(sim, action, name, hold)
            if (sim.nodes[name].alive, sim.nodes[name].partitioned) != was:
                since[name] = sim.now
        sim.run_until(t)
        masters = [n for n, node in sim.nodes.items()
                   if node.alive and node.instances[7].state == State.MASTER]
        for name, node in sim.nodes.items():
            if not node.alive or node.instances[7].state != "BACKUP":
                alone_since.pop(name, None)
                continue
            visible = [m for m in masters
                       if not node.partitioned and not sim.nodes[m].partitioned]
            if visible:
                alone_since.pop(name, None)
                continue
            start = max(alone_since.setdefault(name, t), since[name])
            assert t - start <= bound, (
                f"{name} saw no master for {t - start:.3f} s > {bound:.3f} s at t={t:.2f}")
