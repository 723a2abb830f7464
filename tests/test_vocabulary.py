"""One VRRP vocabulary: the State enum across the core and the events, and the one table
that turns the core's actions into cluster events."""

from __future__ import annotations

import ipaddress
import json
import typing

import pytest

from haconsole.cluster import events as ev
from haconsole.config import VirtualAddress
from haconsole.engine import publish
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.state import State
from tests.test_instance import vi


def test_a_state_reads_and_writes_as_its_name() -> None:
    assert State.MASTER == "MASTER" and {"MASTER": 1}[State.MASTER] == 1
    assert f"Entering {State.MASTER} STATE" == "Entering MASTER STATE"
    assert json.dumps([State.BACKUP]) == '["BACKUP"]'


def test_events_hold_states_and_serialise_plain_strings() -> None:
    strings: dict[str, typing.Any] = {"old": "BACKUP", "new": "MASTER"}  # as a log reader has
    event = ev.Transition(1.0, "n", instance="VI_1", **strings)
    assert event.old is State.BACKUP and event.new is State.MASTER
    data = event.to_dict()
    assert type(data["old"]) is str and type(data["new"]) is str
    back = ev.event_from_dict(json.loads(json.dumps(data)))
    assert back == event and isinstance(back, ev.Transition) and back.new is State.MASTER
    snapshot = ev.event_from_dict(ev.InstanceState(1.0, "n", state=State.FAULT).to_dict())
    assert isinstance(snapshot, ev.InstanceState) and snapshot.state is State.FAULT
    with pytest.raises(ValueError):
        ev.event_from_dict({**data, "new": "PRIMARY"})


class _Facts:
    name = "n1"

    def __init__(self, held: set[str]) -> None:
        self.held = held

    def instance_state(self, inst: Instance) -> ev.InstanceState:
        return ev.InstanceState(0.0, self.name, instance=inst.name, state=inst.state)

    def held_vips(self) -> set[str]:
        return self.held


def test_every_core_action_has_one_translation() -> None:
    assert set(publish.RULES) == set(typing.get_args(act.Action))


def test_the_translation_of_each_report() -> None:
    inst = Instance(vi(100), ipaddress.ip_address("192.0.2.11"))
    vip = VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))
    facts = _Facts({"192.0.2.170"})

    def kinds(a: act.Action, **kw: bool) -> list[str]:
        return [e.kind for e in publish.events(a, inst, facts, 5.0, **kw)]

    changed = act.StateChanged(State.BACKUP, State.MASTER, "advert timeout")
    assert kinds(changed) == ["transition", "instance_state"]
    assert kinds(act.EffectivePriorityChanged(100, 80, "chk failed")) == [
        "priority_change", "instance_state"]
    assert kinds(act.RemoveVips((vip,), "eth0")) == ["vip_removed"]
    facts.held = set()
    assert kinds(act.RemoveVips((vip,), "eth0")) == []  # a backup's clean-up: nothing held
    garps = publish.events(act.Announce((vip,), "eth0", 2), inst, facts, 5.0)
    assert [e.text for e in garps if isinstance(e, ev.LogLine)] == [
        "Sending gratuitous ARP on eth0 for 192.0.2.170"] * 2
    accepted = act.AdvertAccepted(ipaddress.ip_address("192.0.2.12"), 90)
    assert kinds(accepted) == ["advert_received"]
    assert kinds(accepted, adverts=False) == []  # nobody watches the rates
    assert kinds(changed, adverts=False) == ["transition", "instance_state"]
