"""A virtual-clock driver for the sans-IO core: many nodes on one simulated segment.

No asyncio and no real time: a heap of deadlines and packet deliveries, advanced by
`run_until(t)`. Elections are therefore exact to the microsecond and thousands of them run
in a second. Used by tests, property tests, `haconsole check --what-if` and benchmarks.

Packets travel as `Advert` values by default; `wire=True` encodes and decodes each one
through the real codec, which exercises checksums and validation too.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from haconsole.config import VrrpInstance
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.packet import Advert, encode
from haconsole.vrrp.state import State
from haconsole.vrrp.syncgroup import build_groups
from haconsole.vrrp.tracking import TrackSpec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class SimNode:
    name: str
    address: IPAddress
    configs: list[VrrpInstance]
    tracks: dict[str, list[TrackSpec]] = field(default_factory=dict)
    instances: dict[int, Instance] = field(default_factory=dict)
    alive: bool = False
    partitioned: bool = False
    vips: set[str] = field(default_factory=set)
    sync_groups: dict[str, list[str]] = field(default_factory=dict)  # group -> instance names
    fast_preempt: bool = False  # haconsole's opt-in fast preemption on this node


@dataclass(frozen=True)
class Record:
    """Something that happened in the simulation, for assertions and tables."""

    t: float
    node: str
    instance: str
    what: str  # "log" | "transition" | "send" | "recv" | "vip_add" | "vip_del" | "drop"
    detail: str = ""
    priority: int = 0
    old: str = ""
    new: str = ""


class Simulation:
    """A broadcast segment of VRRP nodes on a virtual clock."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        loss: float = 0.0,
        seed: int = 0,
        wire: bool = False,
        start_time: float = 0.0,
    ) -> None:
        self.now = start_time
        self.delay = delay
        self.loss = loss
        self.wire = wire
        self.rng = random.Random(seed)
        self.nodes: dict[str, SimNode] = {}
        self.records: list[Record] = []
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._timer_version: dict[tuple[str, int], int] = {}
        self.listeners: list[Callable[[Record], None]] = []

    # ----------------------------------------------------------------- topology
    def add_node(
        self,
        name: str,
        address: str | IPAddress,
        configs: Iterable[VrrpInstance],
        tracks: dict[str, list[TrackSpec]] | None = None,
        sync_groups: dict[str, list[str]] | None = None,
        *,
        fast_preempt: bool = False,
    ) -> SimNode:
        node = SimNode(name, ipaddress.ip_address(address), list(configs), dict(tracks or {}),
                       sync_groups=dict(sync_groups or {}), fast_preempt=fast_preempt)
        self.nodes[name] = node
        return node

    def start(self, name: str) -> None:
        node = self.nodes[name]
        node.alive = True
        node.instances = {
            cfg.virtual_router_id: Instance(cfg, node.address,
                                            tracks=node.tracks.get(cfg.name, ()),
                                            fast_preempt=node.fast_preempt)
            for cfg in node.configs
        }
        build_groups(node.sync_groups.items(),
                     {i.name: i for i in node.instances.values()})
        for inst in node.instances.values():
            self._apply(node, inst, inst.start(self.now))

    def start_all(self) -> None:
        for name in self.nodes:
            self.start(name)

    def crash(self, name: str) -> None:
        """The node dies silently: no priority 0, its VIPs vanish with it."""
        node = self.nodes[name]
        node.alive = False
        node.vips.clear()
        for inst in node.instances.values():
            self._timer_version[(name, inst.vrid)] = self._timer_version.get(
                (name, inst.vrid), 0) + 1

    def stop(self, name: str) -> None:
        """Clean stop: masters send priority 0 first."""
        node = self.nodes[name]
        for inst in node.instances.values():
            self._apply(node, inst, inst.shutdown(self.now))
        node.alive = False

    def partition(self, name: str, cut: bool = True) -> None:
        self.nodes[name].partitioned = cut

    def set_track(self, name: str, track: str, ok: bool) -> None:
        node = self.nodes[name]
        for inst in node.instances.values():
            self._apply(node, inst, inst.set_track(track, ok, self.now))

    def set_track_value(self, name: str, track: str, value: int) -> None:
        node = self.nodes[name]
        for inst in node.instances.values():
            self._apply(node, inst, inst.set_track_value(track, value, self.now))

    def release(self, name: str, vrid: int, hold: float) -> None:
        node = self.nodes[name]
        inst = node.instances[vrid]
        self._apply(node, inst, inst.release(self.now, hold))

    # ----------------------------------------------------------------- clock
    def at(self, t: float, fn: Callable[[], None]) -> None:
        """Schedule `fn` at virtual time `t` (scenario steps, injected faults)."""
        self._push(t, fn)

    def _push(self, t: float, fn: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn))

    def run_until(self, t: float) -> None:
        while self._heap and self._heap[0][0] <= t:
            when, _, fn = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            fn()
        self.now = max(self.now, t)

    def run_for(self, dt: float) -> None:
        self.run_until(self.now + dt)

    # ----------------------------------------------------------------- plumbing
    def _schedule_timer(self, node: SimNode, inst: Instance) -> None:
        key = (node.name, inst.vrid)
        version = self._timer_version.get(key, 0) + 1
        self._timer_version[key] = version
        deadline = inst.next_deadline()
        if deadline is None:
            return

        def fire() -> None:
            if self._timer_version.get(key) != version or not node.alive:
                return
            self._apply(node, inst, inst.on_timer(self.now))

        self._push(deadline, fire)

    def _record(self, rec: Record) -> None:
        self.records.append(rec)
        for listener in self.listeners:
            listener(rec)

    def _apply(self, node: SimNode, inst: Instance, actions: list[act.Action]) -> None:
        for a in actions:
            if isinstance(a, act.SendAdvert):
                self._record(Record(self.now, node.name, inst.name, "send",
                                    priority=a.advert.priority))
                self._broadcast(node, a)
            elif isinstance(a, act.StateChanged):
                self._record(Record(self.now, node.name, inst.name, "transition",
                                    detail=a.reason, old=a.old, new=a.new))
            elif isinstance(a, act.Log):
                self._record(Record(self.now, node.name, inst.name, "log", detail=a.message))
            elif isinstance(a, act.AddVips):
                node.vips.update(str(v) for v in a.vips)
                self._record(Record(self.now, node.name, inst.name, "vip_add"))
            elif isinstance(a, act.RemoveVips):
                node.vips.difference_update(str(v) for v in a.vips)
                self._record(Record(self.now, node.name, inst.name, "vip_del"))
            elif isinstance(a, act.PacketRejected):
                self._record(Record(self.now, node.name, inst.name, "drop", detail=a.reason))
        self._schedule_timer(node, inst)
        if inst.sync is not None:
            for member, moves in inst.sync.follow(inst, actions, self.now):
                self._apply(node, member, moves)

    def _broadcast(self, sender: SimNode, send: act.SendAdvert) -> None:
        if sender.partitioned:
            return
        payload = encode(send.advert, send.src, send.destinations[0]) if self.wire else None
        for node in self.nodes.values():
            if node is sender or node.partitioned:
                continue
            if self.loss and self.rng.random() < self.loss:
                continue
            self._push(self.now + self.delay, self._deliver_fn(
                node, send.advert, payload, send.src, send.destinations[0]))

    def _deliver_fn(
        self, node: SimNode, advert: Advert, payload: bytes | None, src: IPAddress,
        dst: IPAddress,
    ) -> Callable[[], None]:
        def deliver() -> None:
            if not node.alive or node.partitioned:
                return
            inst = node.instances.get(advert.vrid)
            if inst is None:
                return
            if payload is not None:
                actions = inst.on_packet(payload, src, dst, 255, self.now)
            else:
                actions = inst.on_advert(advert, src, self.now)
            self._record(Record(self.now, node.name, inst.name, "recv", detail=str(src),
                                priority=advert.priority))
            self._apply(node, inst, actions)

        return deliver

    # ----------------------------------------------------------------- queries
    def masters(self, vrid: int) -> list[str]:
        return [
            n.name
            for n in self.nodes.values()
            if n.alive and vrid in n.instances and n.instances[vrid].state == State.MASTER
        ]

    def state(self, name: str, vrid: int) -> str:
        return self.nodes[name].instances[vrid].state

    def first(self, what: str, *, node: str | None = None, new: str | None = None,
              after: float = float("-inf"), priority: int | None = None) -> Record | None:
        """The first record matching the filters, at or after `after`."""
        for r in self.records:
            if r.t < after or r.what != what:
                continue
            if node is not None and r.node != node:
                continue
            if new is not None and r.new != new:
                continue
            if priority is not None and r.priority != priority:
                continue
            return r
        return None

    def logs(self, node: str | None = None) -> list[str]:
        return [r.detail for r in self.records if r.what == "log" and (node in (None, r.node))]
