"""vrrp_sync_group in the core, after keepalived's vrrp_sync.c: members move together.

Two nodes, two instances each (VI_OUT vrid 51, VI_IN vrid 52) in group G. The scenarios
are the ones the group exists for: a check failure on one member moves both VIPs; a
failure that only one VRID sees (its adverts lost) does not split the group.
"""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from haconsole.config import TrackRef, VirtualAddress
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.tracking import TrackSpec
from tests.test_instance import SKEW_90, US, vi

GROUP = {"G": ["VI_OUT", "VI_IN"]}


def pair(sync: bool = True) -> Simulation:
    sim = Simulation(wire=True)
    for node, addr, prio in (("a", "192.0.2.11", 100), ("b", "192.0.2.12", 90)):
        out = vi(prio, name="VI_OUT", vrid=51, track_script=[TrackRef("chk")])
        inside = vi(prio, name="VI_IN", vrid=52)
        inside.virtual_ipaddress = [VirtualAddress(ipaddress.ip_interface("192.0.2.180/24"))]
        sim.add_node(node, addr, [out, inside], {"VI_OUT": [TrackSpec("chk", 0)]},
                     sync_groups=GROUP if sync else None)
    sim.start_all()
    sim.set_track("a", "chk", True)
    sim.set_track("b", "chk", True)
    sim.run_until(10)
    assert sim.masters(51) == ["a"] and sim.masters(52) == ["a"]
    return sim


def test_a_fault_on_one_member_moves_the_whole_group() -> None:
    sim = pair()
    t0 = sim.now
    sim.set_track("a", "chk", False)  # weight 0: VI_OUT -> FAULT on a
    assert sim.state("a", 51) == State.FAULT
    assert sim.state("a", 52) == State.FAULT  # pulled along: priority 0 sent, VIP removed
    assert "VRRP_Group(G) Syncing instances to FAULT state" in sim.logs("a")
    sim.run_until(t0 + 5)
    assert sim.masters(51) == ["b"] and sim.masters(52) == ["b"]
    took_over = {r.instance: r.t - t0 for r in sim.records
                 if r.what == "transition" and r.node == "b" and r.new == State.MASTER
                 and r.t >= t0}
    assert took_over == {"VI_OUT": pytest.approx(SKEW_90, abs=US),
                         "VI_IN": pytest.approx(SKEW_90, abs=US)}  # both priority 0 at once
    sim.set_track("a", "chk", True)  # recovery: the group leaves FAULT, then preempts
    assert sim.state("a", 51) == State.BACKUP and sim.state("a", 52) == State.BACKUP
    sim.run_until(t0 + 15)
    assert sim.masters(51) == ["a"] and sim.masters(52) == ["a"]


def test_without_the_group_only_the_faulted_instance_moves() -> None:
    sim = pair(sync=False)
    t0 = sim.now
    sim.set_track("a", "chk", False)
    sim.run_until(t0 + 5)
    assert sim.masters(51) == ["b"] and sim.masters(52) == ["a"]  # the split the group prevents


def test_backups_take_over_together_when_the_master_dies() -> None:
    sim = pair()
    t0 = sim.now
    sim.crash("a")
    sim.run_until(t0 + 6)
    assert sim.masters(51) == ["b"] and sim.masters(52) == ["b"]
    assert "VRRP_Group(G) Syncing instances to MASTER state" in sim.logs("b")


def test_one_vrid_losing_its_master_does_not_split_the_group() -> None:
    """b stops accepting a's VI_IN adverts (a member-only failure, here a password
    change on b): b's VI_IN wants MASTER, but VI_OUT still hears a, so the group prefers
    BACKUP rather than splitting the VIPs across nodes."""
    sim = pair()
    t0 = sim.now
    b_in = sim.nodes["b"].instances[52]
    b_in.expectation = dataclasses.replace(b_in.expectation, auth_pass=b"other")
    sim.run_until(t0 + 10)
    assert sim.state("b", 52) == State.BACKUP and sim.nodes["b"].instances[52].wants_master
    assert sim.masters(51) == ["a"]
