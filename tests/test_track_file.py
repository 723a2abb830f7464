"""track_file in the core: keepalived's value * weight arithmetic, FAULT and INIT rules.

The expected numbers follow keepalived 2.2.7's trackers/track_file.c: status =
value * weight (negated with `reverse`), clamped to -254..253; -254 means FAULT even with
a non-zero weight; with weight 0 a non-zero value (zero when reversed) means FAULT.
"""

from __future__ import annotations

import ipaddress

import pytest

from haconsole.config import Config, TrackFile, TrackRef, VrrpInstance
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.tracking import TrackSpec, track_specs
from tests.test_instance import SKEW_90, US, vi

ADDR = ipaddress.ip_address("192.0.2.11")


def file_instance(prio: int, weight: int, reverse: bool = False) -> Instance:
    inst = Instance(vi(prio, track_file=[TrackRef("tf")]), ADDR,
                    tracks=[TrackSpec("tf", weight, reverse, kind="value")])
    inst.start(0.0)
    return inst


@pytest.mark.parametrize(("weight", "reverse", "value", "expected"), [
    (1, False, 0, 100),
    (1, False, 20, 120),
    (1, False, -30, 70),
    (-10, False, 3, 70),
    (-10, True, 3, 130),
    (5, False, 100, 254),    # 500 clamps to status 253, priority clamps to 254
    (2, False, -120, 1),     # status -240: priority clamps at 1, not FAULT
])
def test_value_times_weight(weight: int, reverse: bool, value: int, expected: int) -> None:
    inst = file_instance(100, weight, reverse)
    inst.set_track_value("tf", value, 1.0)
    assert inst.effective_priority == expected
    assert inst.state == State.BACKUP


def test_status_at_minus_254_is_fault_even_with_a_weight() -> None:
    inst = file_instance(100, 2)
    inst.set_track_value("tf", -127, 1.0)
    assert inst.state == State.FAULT
    inst.set_track_value("tf", -1, 2.0)
    assert inst.state == State.BACKUP
    assert inst.effective_priority == 98


@pytest.mark.parametrize(("reverse", "faulting", "healthy"), [(False, 1, 0), (True, 0, 7)])
def test_weight_zero_means_fault_on_non_zero(reverse: bool, faulting: int, healthy: int) -> None:
    inst = file_instance(100, 0, reverse)
    assert inst.state == State.INIT  # a weight-0 file that has not been read holds INIT
    inst.set_track_value("tf", healthy, 1.0)
    assert inst.state == State.BACKUP and inst.effective_priority == 100
    inst.set_track_value("tf", faulting, 2.0)
    assert inst.state == State.FAULT
    inst.set_track_value("tf", healthy, 3.0)
    assert inst.state == State.BACKUP


def test_a_check_result_does_not_move_a_value_track() -> None:
    inst = file_instance(100, 1)
    assert inst.set_track("tf", False, 1.0) == []
    assert inst.effective_priority == 100


def test_master_lowered_by_the_file_loses_to_the_backup() -> None:
    """The operator's drain switch: echo -20 > file on the master moves the VIP."""
    sim = Simulation(wire=True)
    tracks = {"VI_1": [TrackSpec("drain", 1, kind="value")]}
    sim.add_node("a", "192.0.2.11", [vi(100, track_file=[TrackRef("drain")])], tracks)
    sim.add_node("b", "192.0.2.12", [vi(90)])
    sim.start_all()
    sim.run_until(10)
    assert sim.masters(100) == ["a"]
    sim.set_track_value("a", "drain", -20)
    t_lowered = sim.now
    sim.run_until(20)
    assert sim.masters(100) == ["b"]
    rec = sim.first("transition", node="b", new=State.MASTER)
    assert rec is not None and rec.t > t_lowered
    assert "(VI_1) Changing effective priority from 100 to 80" in sim.logs("a")


def test_weight_zero_fault_on_master_hands_over_in_skew_time() -> None:
    sim = Simulation(wire=True)
    tracks = {"VI_1": [TrackSpec("maint", 0, kind="value")]}
    sim.add_node("a", "192.0.2.11", [vi(100, track_file=[TrackRef("maint")])], tracks)
    sim.add_node("b", "192.0.2.12", [vi(90)])
    sim.start_all()
    sim.set_track_value("a", "maint", 0)
    sim.run_until(10)
    assert sim.masters(100) == ["a"]
    t_fault = sim.now
    sim.set_track_value("a", "maint", 1)
    assert sim.state("a", 100) == State.FAULT
    sim.run_until(15)
    rec = sim.first("transition", node="b", new=State.MASTER)
    assert rec is not None and rec.t - t_fault == pytest.approx(SKEW_90, abs=US)


def test_track_specs_resolve_file_weight_and_reverse() -> None:
    config = Config(track_files={"tf": TrackFile("tf", "/run/x", weight=-3, reverse=True)})
    inst = VrrpInstance("VI_1", track_file=[TrackRef("tf"), ])
    [spec] = track_specs(config, inst)
    assert spec == TrackSpec("tf", -3, True, kind="value")
    inst = VrrpInstance("VI_1", track_file=[TrackRef("tf", weight=4)])
    [spec] = track_specs(config, inst)
    assert spec == TrackSpec("tf", 4, False, kind="value")
