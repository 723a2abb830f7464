"""The asyncio runtime of one VRRP node.

A `Node` owns the sans-IO instances of one configuration, gives them real time
(`loop.time()`), carries out their actions through a transport and a VIP manager, feeds
them tracker results, and publishes `cluster.events` for whoever watches (the console, an
agent's control socket). It is the same code in the in-process lab and in the agent; only
the transports, the VIP manager and the trackers differ.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from haconsole.cluster import events as ev
from haconsole.config import Config
from haconsole.engine.timers import TimerQueue
from haconsole.net.base import Received, Transport, VipManager
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance, track_specs
from haconsole.vrrp.packet import encode

Publish = Callable[[ev.Event], None]
TransportFor = Callable[[str, int], Transport]  # (interface, family) -> shared transport


class Tracker(Protocol):
    name: str

    def start(self, report: Callable[[str, bool, str], None],
              log: Callable[[str], None]) -> None: ...

    async def stop(self) -> None: ...


class Node:
    """One node's VRRP instances driven in real time. See the module docstring."""

    def __init__(
        self,
        name: str,
        config: Config,
        *,
        transport_for: TransportFor,
        vips: VipManager,
        publish: Publish,
        trackers: list[Tracker] | None = None,
        failover_hold: float = 60.0,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.config = config
        self.transport_for = transport_for
        self.vips = vips
        self.publish = publish
        self.trackers = list(trackers or [])
        self.failover_hold = failover_hold
        self.wall_time = wall_time
        self.instances: dict[str, Instance] = {}
        self.running = False
        self.logger = logging.getLogger(f"haconsole.node.{name}")
        self._by_vrid: dict[tuple[str, int, int], Instance] = {}
        self._transports: dict[tuple[str, int], Transport] = {}
        self._timers: TimerQueue[Instance] | None = None  # one loop timer for all instances
        # The wire bytes of each instance's last advert: a master repeats the same one.
        self._encoded: dict[Instance, tuple[object, list[bytes]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.running = True
        for cfg in self.config.vrrp_instances:
            family = cfg.family
            key = (cfg.interface, family)
            transport = self._transports.get(key)
            if transport is None:
                transport = self.transport_for(cfg.interface, family)
                transport.set_receiver(self._on_packet)
                self._transports[key] = transport
            inst = Instance(cfg, transport.primary_address(),
                            tracks=track_specs(self.config, cfg))
            self.instances[cfg.name] = inst
            self._by_vrid[(cfg.interface, family, cfg.virtual_router_id)] = inst
        self.publish(ev.NodeSeen(self.wall_time(), self.name, agent="haconsole"))
        for inst in self.instances.values():
            self._run(inst, inst.start(self._now()))
            self._publish_state(inst)
        for tracker in self.trackers:
            tracker.start(self.set_track, self.log)

    async def stop(self) -> None:
        """Clean stop: masters send priority 0 and drop their VIPs (SIGTERM semantics)."""
        if not self.running:
            return
        self.log("Stopping")
        await self._stop_trackers()
        for inst in self.instances.values():
            self._run(inst, inst.shutdown(self._now()))
        self._teardown("stopped")

    async def crash(self) -> None:
        """Die without a word: no priority 0; VIPs vanish with the node (lab only)."""
        if not self.running:
            return
        await self._stop_trackers()
        self.vips.remove([v for i in self.instances.values() for v in i.all_vips], "")
        self._teardown("crashed")

    async def _stop_trackers(self) -> None:
        for tracker in self.trackers:
            await tracker.stop()

    def _teardown(self, reason: str) -> None:
        self.running = False
        if self._timers is not None:
            self._timers.clear()
            self._timers = None
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        self._by_vrid.clear()
        self.publish(ev.NodeLost(self.wall_time(), self.name, reason=reason))

    # ----------------------------------------------------------------- inputs
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _on_packet(self, rx: Received) -> None:
        if not self.running or len(rx.payload) < 2:
            return
        inst = self._by_vrid.get((rx.interface, rx.src.version, rx.payload[1]))
        if inst is None:
            return
        # A raw transport stamps each packet with the kernel's receive time on the loop
        # clock: the RFC's timers run from the advert's arrival, not from our wake-up.
        at = getattr(rx, "at", None)
        now = self._now() if at is None else at
        self._run(inst, inst.on_packet(rx.payload, rx.src, rx.dst, rx.ttl, now))

    def set_track(self, name: str, ok: bool, cause: str = "") -> None:
        """A tracker reported; every instance tracking `name` re-derives its priority."""
        if not self.running:
            return
        self.publish(ev.TrackResult(self.wall_time(), self.name, track=name, ok=ok,
                                    detail=cause))
        for inst in self.instances.values():
            if name in inst.tracks:
                self._run(inst, inst.set_track(name, ok, self._now(), cause))

    def release(self, instance: str, hold: float | None = None) -> bool:
        """Operator failover of one instance; False when it is not master here."""
        inst = self.instances.get(instance)
        if inst is None or not self.running or inst.state != "MASTER":
            return False
        self._run(inst, inst.release(self._now(), self.failover_hold if hold is None else hold))
        return True

    def log(self, message: str) -> None:
        self.logger.info(message)
        self.publish(ev.LogLine(self.wall_time(), self.name, text=message))

    # ----------------------------------------------------------------- outputs
    def _fire(self, inst: Instance) -> None:
        if not self.running:
            return
        actions = inst.on_timer(self._now())
        if len(actions) <= 1:  # a master's periodic advert: nothing to hold back
            self._run(inst, actions)
            return
        # A takeover: the wire first. Log lines and events wait, in their order, while
        # the advert, the VIP add and the GARP go out (as keepalived notifies after its
        # GARPs); logging them first cost ~0.6 ms between a new master's advert and GARP.
        queued: list[tuple[Callable[[Any], None], Any]] = []
        publish, log = self.publish, self.log
        self.publish = lambda event: queued.append((publish, event))
        self.log = lambda message: queued.append((log, message))  # type: ignore[method-assign]
        try:
            self._run(inst, actions)
        finally:
            del self.log
            self.publish = publish
            for emit, item in queued:
                emit(item)

    def _schedule(self, inst: Instance) -> None:
        timers = self._timers
        if timers is None:
            if self._loop is None:
                return
            timers = self._timers = TimerQueue(self._loop, self._fire)
        timers.set(inst, inst.next_deadline() if self.running else None)

    def _run(self, inst: Instance, actions: list[act.Action]) -> None:
        for a in actions:
            self._execute(inst, a)
        self._schedule(inst)

    def _execute(self, inst: Instance, a: act.Action) -> None:
        t = self.wall_time()
        if isinstance(a, act.SendAdvert):
            transport = self._transports.get((inst.interface, inst.address.version))
            if transport is not None:
                key = (a.advert, a.src, a.destinations)  # equal adverts encode equally
                cached = self._encoded.get(inst)
                if cached is not None and cached[0] == key:
                    payloads = cached[1]
                else:
                    payloads = [encode(a.advert, a.src, dst) for dst in a.destinations]
                    self._encoded[inst] = (key, payloads)
                for dst, payload in zip(a.destinations, payloads, strict=True):
                    transport.send(payload, a.src, dst)
            self.publish(ev.AdvertSent(t, self.name, instance=inst.name,
                                       priority=a.advert.priority))
        elif isinstance(a, act.Log):
            self.log(a.message)
        elif isinstance(a, act.AdvertAccepted):
            self.publish(ev.AdvertReceived(t, self.name, instance=inst.name, source=str(a.src),
                                           priority=a.priority))
        elif isinstance(a, act.Transition):
            self.publish(ev.Transition(t, self.name, instance=inst.name, old=a.old,  # type: ignore[arg-type]
                                       new=a.new, reason=a.reason))  # type: ignore[arg-type]
            self._publish_state(inst)
        elif isinstance(a, act.PriorityChanged):
            self.publish(ev.PriorityChange(t, self.name, instance=inst.name, old=a.old, new=a.new,
                                           base=inst.base_priority, cause=a.cause))
            self._publish_state(inst)
        elif isinstance(a, act.AddVips):
            self.vips.add(a.vips, a.interface)
            for vip in a.vips:
                self.publish(ev.VipAdded(t, self.name, instance=inst.name, vip=str(vip)))
        elif isinstance(a, act.RemoveVips):
            held = self.vips.held()
            self.vips.remove(a.vips, a.interface)
            for vip in a.vips:
                if str(vip) in held:
                    self.publish(ev.VipRemoved(t, self.name, instance=inst.name, vip=str(vip)))
        elif isinstance(a, act.Announce):
            self._announce(a)
        elif isinstance(a, act.PacketDropped):
            self.publish(ev.PacketDropped(t, self.name, instance=inst.name, source=str(a.src),
                                          reason=a.reason, detail=a.detail))

    def _announce(self, a: act.Announce) -> None:
        for _ in range(a.repeat):
            self.vips.announce(a.vips, a.interface)
            for vip in a.vips:
                dev = vip.dev or a.interface
                if vip.ip.version == 4:
                    self.log(f"Sending gratuitous ARP on {dev} for {vip}")
                else:
                    self.log(f"Sending unsolicited Neighbour Advert on {dev} for {vip}")

    def _publish_state(self, inst: Instance) -> None:
        self.publish(self.instance_state(inst))

    def instance_state(self, inst: Instance) -> ev.InstanceState:
        return ev.InstanceState(
            self.wall_time(),
            self.name,
            instance=inst.name,
            vrid=inst.vrid,
            state=inst.state,  # type: ignore[arg-type]
            base_priority=inst.base_priority,
            effective_priority=inst.effective_priority,
            interface=inst.interface,
            version=inst.version,
            advert_int=inst.adver_int_us / 1e6,
            vips=tuple(str(v) for v in inst.vips),
            address=str(inst.address),
            master_address=str(inst.master_address or ""),
        )

    def snapshot(self) -> list[ev.Event]:
        """Everything a newly attached watcher needs to know now."""
        return [self.instance_state(i) for i in self.instances.values()]
