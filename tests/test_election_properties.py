"""Property tests: random segments of 2-5 nodes always converge to the right single master.

Each example builds a segment (priorities, preempt flags, v2 or v3, advert interval),
runs a chaotic phase (loss, crashes, restarts, partitions, check failures), then heals
everything and lets the segment stay connected and quiet for 2 x Master_Down_Interval.
Then: exactly one master; no preempting node has a higher effective priority than it
(ties keep the incumbent, as in RFC 5798); every transition has a cause and a log line.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haconsole.config import TrackRef, VirtualAddress, VrrpInstance
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.timing import master_down_us
from haconsole.vrrp.tracking import TrackSpec

ACTIONS = ("crash", "restart", "partition", "heal", "fail", "recover", "stop")


@st.composite
def segments(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(2, 5))
    version = draw(st.sampled_from([2, 3]))
    advert_int = 1.0 if version == 2 else draw(st.sampled_from([0.05, 0.2, 1.0]))
    nodes = [
        {
            "priority": draw(st.integers(1, 254)),
            "nopreempt": draw(st.booleans()),
            "weight": draw(st.integers(-60, 0)),
        }
        for _ in range(n)
    ]
    chaos = draw(st.lists(
        st.tuples(st.floats(0, 30), st.sampled_from(ACTIONS), st.integers(0, n - 1)),
        max_size=12,
    ))
    loss = draw(st.sampled_from([0.0, 0.0, 0.1, 0.3]))
    return {"version": version, "advert_int": advert_int, "nodes": nodes, "chaos": chaos,
            "loss": loss, "seed": draw(st.integers(0, 2**16))}


def build(seg: dict[str, object]) -> Simulation:
    sim = Simulation(loss=float(seg["loss"]), seed=int(seg["seed"]))  # type: ignore[arg-type]
    for i, spec in enumerate(seg["nodes"]):  # type: ignore[attr-defined]
        weight = spec["weight"]
        cfg = VrrpInstance(
            name="VI_1", interface="eth0", virtual_router_id=7, priority=spec["priority"],
            version=seg["version"], advert_int=seg["advert_int"],  # type: ignore[arg-type]
            nopreempt=spec["nopreempt"],
            virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface("192.0.2.200/24"))],
            track_script=[TrackRef("chk")] if weight else [],
        )
        tracks = {"VI_1": [TrackSpec("chk", weight)]} if weight else {}
        sim.add_node(f"n{i}", f"192.0.2.{10 + i}", [cfg], tracks)
    return sim


def apply(sim: Simulation, action: str, name: str) -> None:
    node = sim.nodes[name]
    if action in ("crash", "stop") and node.alive:
        sim.crash(name) if action == "crash" else sim.stop(name)
    elif action == "restart" and not node.alive:
        sim.start(name)
    elif action in ("partition", "heal"):
        sim.partition(name, action == "partition")
    elif action in ("fail", "recover") and node.alive:
        sim.set_track(name, "chk", action == "recover")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segments())
def test_segment_converges_to_one_right_master(seg: dict[str, object]) -> None:
    sim = build(seg)
    sim.start_all()
    for t, action, index in sorted(seg["chaos"]):  # type: ignore[call-overload]
        sim.run_until(t)
        apply(sim, action, f"n{index}")
    sim.run_until(31)
    # heal: everybody connected, running, no loss; checks as they are
    sim.loss = 0.0
    for name, node in sim.nodes.items():
        sim.partition(name, False)
        if not node.alive:
            sim.start(name)
    # the longest Master_Down_Interval on the segment: the lowest possible priority
    advert_us = round(float(seg["advert_int"]) * 1e6)  # type: ignore[arg-type]
    worst = master_down_us(int(seg["version"]), advert_us, 1) / 1e6  # type: ignore[call-overload]
    sim.run_for(2 * worst + 0.01)

    masters = sim.masters(7)
    assert len(masters) == 1, f"masters: {masters}"
    master = sim.nodes[masters[0]].instances[7]
    for name, node in sim.nodes.items():
        inst = node.instances[7]
        if name == masters[0] or inst.state != "BACKUP":
            continue
        if not inst.config.nopreempt:
            assert inst.effective_priority <= master.effective_priority, (
                f"{name} ({inst.effective_priority}, preempt) is backup under "
                f"{masters[0]} ({master.effective_priority})")
    vip_holders = [n for n, node in sim.nodes.items() if "192.0.2.200" in node.vips]
    assert vip_holders == masters
    for rec in sim.records:
        if rec.what == "transition":
            assert rec.detail, rec
            if rec.new in (State.MASTER, "BACKUP", "FAULT"):
                logs = [r.detail for r in sim.records
                        if r.what == "log" and r.node == rec.node and r.t == rec.t]
                assert any(f"Entering {rec.new} STATE" in line for line in logs), rec
