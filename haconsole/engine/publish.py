"""The core's actions as cluster events: the one translation every runtime publishes.

Why one table: the engine's `Node` (real time) and the lab's scripted run (virtual clock)
both tell watchers what a VRRP instance did. With one mapping from `vrrp.actions` to
`cluster.events`, the console cannot tell the two apart, and a new action is one entry
here rather than one branch per runtime. It lives in the engine because turning the
core's actions into effects and reports is the runtime's job; `cluster` stays free of the
core's vocabulary, which the keepalived sources do not speak.

Only events are built here. The effects (sending adverts, adding VIPs, GARPs) stay with
each runtime, as does the timing of publication (a takeover's wire work goes first).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from haconsole.cluster import events as ev
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance


class NodeFacts(Protocol):
    """What the translation needs from the runtime about the node an instance runs on."""

    @property
    def name(self) -> str: ...

    def instance_state(self, inst: Instance) -> ev.InstanceState:
        """A full snapshot of `inst` now, as this runtime stamps it."""
        ...

    def held_vips(self) -> Collection[str]:
        """The VIPs present on the node (before the action is carried out)."""
        ...


Rule = Callable[[Any, Instance, NodeFacts, float], list[ev.Event]]


def _advert_sent(a: act.SendAdvert, inst: Instance, node: NodeFacts,
                 t: float) -> list[ev.Event]:
    return [ev.AdvertSent(t, node.name, instance=inst.name, priority=a.advert.priority)]


def _advert_received(a: act.AdvertAccepted, inst: Instance, node: NodeFacts,
                     t: float) -> list[ev.Event]:
    return [ev.AdvertReceived(t, node.name, instance=inst.name, source=str(a.src),
                              priority=a.priority)]


def _packet_dropped(a: act.PacketRejected, inst: Instance, node: NodeFacts,
                    t: float) -> list[ev.Event]:
    return [ev.PacketDropped(t, node.name, instance=inst.name, source=str(a.src),
                             reason=a.reason, detail=a.detail)]


def _transition(a: act.StateChanged, inst: Instance, node: NodeFacts,
                t: float) -> list[ev.Event]:
    return [ev.Transition(t, node.name, instance=inst.name, old=a.old, new=a.new,
                          reason=a.reason),
            node.instance_state(inst)]


def _priority_change(a: act.EffectivePriorityChanged, inst: Instance, node: NodeFacts,
                     t: float) -> list[ev.Event]:
    return [ev.PriorityChange(t, node.name, instance=inst.name, old=a.old, new=a.new,
                              base=inst.base_priority, cause=a.cause),
            node.instance_state(inst)]


def _vips_added(a: act.AddVips, inst: Instance, node: NodeFacts, t: float) -> list[ev.Event]:
    return [ev.VipAdded(t, node.name, instance=inst.name, vip=str(vip)) for vip in a.vips]


def _vips_removed(a: act.RemoveVips, inst: Instance, node: NodeFacts,
                  t: float) -> list[ev.Event]:
    """Only the VIPs the node held: a backup's clean-up at start removes nothing."""
    held = node.held_vips()
    return [ev.VipRemoved(t, node.name, instance=inst.name, vip=str(vip))
            for vip in a.vips if str(vip) in held]


def _announced(a: act.Announce, inst: Instance, node: NodeFacts, t: float) -> list[ev.Event]:
    """keepalived's log lines for gratuitous ARPs / unsolicited NAs, one per packet."""
    lines = []
    for vip in a.vips:
        dev = vip.dev or a.interface
        if vip.ip.version == 4:
            lines.append(f"Sending gratuitous ARP on {dev} for {vip}")
        else:
            lines.append(f"Sending unsolicited Neighbour Advert on {dev} for {vip}")
    return [ev.LogLine(t, node.name, text=line) for _ in range(a.repeat) for line in lines]


def _log(a: act.Log, inst: Instance, node: NodeFacts, t: float) -> list[ev.Event]:
    return [ev.LogLine(t, node.name, text=a.message)]


RULES: dict[type[Any], Rule] = {
    act.SendAdvert: _advert_sent,
    act.AdvertAccepted: _advert_received,
    act.PacketRejected: _packet_dropped,
    act.StateChanged: _transition,
    act.EffectivePriorityChanged: _priority_change,
    act.AddVips: _vips_added,
    act.RemoveVips: _vips_removed,
    act.Announce: _announced,
    act.Log: _log,
}

PER_ADVERT: frozenset[type[Any]] = frozenset({act.SendAdvert, act.AdvertAccepted})
"""The actions that happen once per advert (per instance per second, each way)."""


def events(a: act.Action, inst: Instance, node: NodeFacts, t: float, *,
           adverts: bool = True) -> list[ev.Event]:
    """What watchers learn from `inst` on `node` producing `a` at wall time `t`.
    `adverts=False` leaves out the per-advert events (nobody is watching rates)."""
    if not adverts and type(a) in PER_ADVERT:
        return []
    return RULES[type(a)](a, inst, node, t)
