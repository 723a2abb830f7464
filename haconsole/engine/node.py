"""The asyncio runtime of one VRRP node.

A `Node` owns the sans-IO instances of one configuration, gives them real time
(`loop.time()`), carries out their actions through a transport and a VIP manager, feeds
them tracker results, and publishes `cluster.events` for whoever watches (the console, an
agent's control socket). It is the same code in the in-process lab and in the agent; only
the transports, the VIP manager and the trackers differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from haconsole.cluster import events as ev
from haconsole.config import Config, VrrpInstance
from haconsole.engine.files import FileTracker
from haconsole.engine.publish import events as events_of
from haconsole.engine.timers import MANY_INSTANCES, TimerQueue
from haconsole.net.base import IPAddress, Received, Transport, VipManager
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.packet import encode
from haconsole.vrrp.state import State
from haconsole.vrrp.syncgroup import build_groups
from haconsole.vrrp.tracking import track_specs

Publish = Callable[[ev.Event], None]

COUNTERS_INTERVAL = 1.0  # seconds between InstanceCounters checks (sent only on change)
# Above MANY_INSTANCES instances, masters send their periodic adverts in this many trains
# per advert interval (vrrp.instance: advert trains): two wake-ups a second at advert_int
# 1 instead of one per instance, or per cluster of instances that took over together.
# Measured at 1 000 instances (benchmarks/failover.py --cpu): a wake-up costs from a few
# hundred microseconds to a millisecond of CPU on top of its adverts (caches, TLB and
# clock gone cold while idle); 2 trains cut the agent's CPU by a fifth against 4. The price:
# the first periodic advert after an out-of-turn one comes up to half an interval early.
# At or below MANY_INSTANCES, each instance keeps its own schedule.
ADVERT_TRAINS = 2
FLUSH_EVERY = 64  # queued periodic adverts leave at the latest after this many more


_SEND_ADVERT = act.SendAdvert  # the hot path's type test, without a module lookup


def _prepared(transport: Transport, payload: bytes, src: IPAddress,
              dst: IPAddress) -> Callable[[], object]:
    """One packet ready to go: the transport's own prepared send where it has one
    (`RawTransport.prepare`: socket arguments built once), else a bound `send`."""
    prepare = getattr(transport, "prepare", None)
    if prepare is not None:
        return prepare(payload, src, dst)  # type: ignore[no-any-return]
    return functools.partial(transport.send, payload, src, dst)


def _trains_for(config: Config) -> int:
    """Instance.advert_trains for a node running `config` (see ADVERT_TRAINS)."""
    return ADVERT_TRAINS if len(config.vrrp_instances) > MANY_INSTANCES else 0


def _transport_key(cfg: VrrpInstance) -> tuple[str, int]:
    return (cfg.interface, cfg.family)


def _vrid_key(cfg: VrrpInstance) -> tuple[str, int, int]:
    """How received adverts find their instance: interface, family, VRID."""
    return (cfg.interface, cfg.family, cfg.virtual_router_id)


TransportFor = Callable[[str, int], Transport]  # (interface, family) -> shared transport


class Tracker(Protocol):
    """Something whose results move priorities: checks report (name, ok, cause), value
    trackers (FileTracker) report (name, integer, cause); Node hands each its callback."""

    name: str

    def start(self, report: Callable[[str, Any, str], None],
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
        fast_preempt: bool = False,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.config = config
        self.transport_for = transport_for
        self.vips = vips
        self.publish = publish
        self.trackers = list(trackers or [])
        self.failover_hold = failover_hold
        self.fast_preempt = fast_preempt  # haconsole's opt-in fast preemption (vrrp.instance)
        self.wall_time = wall_time
        self.instances: dict[str, Instance] = {}
        self.running = False
        self.logger = logging.getLogger(f"haconsole.node.{name}")
        self._by_vrid: dict[tuple[str, int, int], Instance] = {}
        self._transports: dict[tuple[str, int], Transport] = {}
        self._timers: TimerQueue[Instance] | None = None  # one loop timer for all instances
        # Each instance's last advert (the core hands out the same action object while
        # its priority stays) and the ready packets it became, as calls that send them
        # now and calls that queue them for the transport's next flush: a master repeats
        # it every interval, so the hot path is one identity check and the queueing.
        self._encoded: dict[Instance, tuple[act.SendAdvert, list[Callable[[], object]],
                                            list[Callable[[], object]]]] = {}
        self._queued = 0  # packets queued on the transports since the last flush
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: Callable[[], float] = time.monotonic  # the loop's time(), bound at start
        # Per-advert events (one per instance per second each way): the agent turns them
        # off while nobody is subscribed, so they cost nothing on an unwatched node.
        self.advert_events = True
        # keepalived's counters (InstanceCounters) once a second when they moved, under
        # the same rule: the agent turns them off while nobody is subscribed, and then
        # their timer does not run (a wake-up a second for nothing, on an idle node).
        self._counter_events = True
        self._counters_sent: dict[str, dict[str, int]] = {}
        self._masters_sent: dict[str, object] = {}  # master_address last published
        self._counters_timer: asyncio.TimerHandle | None = None
        # During a takeover, log lines and events queued until the wire work is done.
        self._held: list[ev.Event] | None = None
        # The core's log lines reworded on their way out (the agent's --log-compat 2.4:
        # keepalived.log.compat); None: as the core words them.
        self.reword: Callable[[Instance, list[act.Action]], list[act.Action]] | None = None
        self._trains = 0  # Instance.advert_trains for this node's configuration
        self._vips_seen: set[str] | None = None  # see _vips_looked_up_once
        # The trackers' last results, handed to instances created by a reload.
        self._checks: dict[str, bool] = {}
        self._values: dict[str, int] = {}

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # The loop's clock, without a Python frame when it is the stock one (monotonic).
        stock = type(self._loop).time is asyncio.BaseEventLoop.time
        self._clock = time.monotonic if stock else self._loop.time
        self.running = True
        self._trains = _trains_for(self.config)
        self._open_transports(self.config)
        for cfg in self.config.vrrp_instances:
            inst = self._new_instance(self.config, cfg)
            self.instances[cfg.name] = inst
            self._by_vrid[_vrid_key(cfg)] = inst
        self._build_groups()
        self.publish(ev.NodeSeen(self.wall_time(), self.name, agent="haconsole"))
        with self._vips_looked_up_once():
            for inst in self.instances.values():
                self._run(inst, inst.start(self._now()))
                self._publish_state(inst)
        for tracker in self.trackers:
            self._start_tracker(tracker)
        self._arm_counters()

    @property
    def counter_events(self) -> bool:
        """Whether InstanceCounters are published once a second (when they moved)."""
        return self._counter_events

    @counter_events.setter
    def counter_events(self, on: bool) -> None:
        self._counter_events = on
        if not on and self._counters_timer is not None:
            self._counters_timer.cancel()
            self._counters_timer = None
        elif on:
            self._arm_counters()

    def _arm_counters(self) -> None:
        if self._counters_timer is None and self._counter_events and self.running \
                and self._loop is not None:
            self._counters_timer = self._loop.call_later(COUNTERS_INTERVAL, self._counters_tick)

    def _counters_tick(self) -> None:
        self._counters_timer = None
        if not self.running or self._loop is None:
            return
        self.publish_counters()
        self._arm_counters()

    def publish_counters(self, *, force: bool = False) -> None:
        """An InstanceCounters event per instance whose counters moved since the last
        one (every instance with `force`: a scrape wants them all, now); and a fresh
        InstanceState where the master a backup hears changed (a new master's first
        advert changes no state, so nothing else would say it)."""
        wall = self.wall_time()
        for name, inst in self.instances.items():
            if self._masters_sent.get(name, inst.master_address) != inst.master_address:
                self._publish_state(inst)
            if not force and self._counters_sent.get(name) == inst.stats:
                continue
            counters = dict(inst.stats)
            self._counters_sent[name] = counters
            self._emit(ev.InstanceCounters(wall, self.name, instance=name, counters=counters))

    def _open_transports(self, config: Config) -> None:
        """Open the shared transport of every (interface, family) `config` needs. On
        failure, close the ones opened here and re-raise: nothing is left half-done."""
        opened: list[tuple[str, int]] = []
        try:
            for cfg in config.vrrp_instances:
                key = _transport_key(cfg)
                if key not in self._transports:
                    transport = self.transport_for(*key)
                    transport.set_receiver(self._on_packet)
                    self._transports[key] = transport
                    opened.append(key)
        except BaseException:
            for key in opened:
                self._transports.pop(key).close()
            raise

    def _build_groups(self) -> None:
        """vrrp_sync_groups over the current instances (haconsole.vrrp.syncgroup)."""
        for inst in self.instances.values():
            inst.sync = None
        build_groups(((g.name, g.group) for g in self.config.vrrp_sync_groups),
                     self.instances)

    def _new_instance(self, config: Config, cfg: VrrpInstance) -> Instance:
        transport = self._transports[_transport_key(cfg)]
        inst = Instance(cfg, transport.primary_address(), tracks=track_specs(config, cfg),
                        fast_preempt=self.fast_preempt)
        inst.advert_trains = self._trains
        inst.preset_tracks(self._checks, self._values)
        return inst

    async def reconfigure(self, config: Config, trackers: list[Tracker]) -> None:
        """Apply a reloaded configuration the way keepalived does, without a failover.

        Instances whose name, interface, family and VRID still match carry on in their
        state (`Instance.resume`); an unchanged one is left alone. Removed instances (or
        ones whose identity changed) stop as on SIGTERM: priority 0, VIPs removed. New
        ones start from INIT. Trackers present in both lists (the same objects: the
        caller reuses those whose definition is unchanged) keep running and their last
        results carry over; the others are stopped or started. Raises, changing nothing,
        when a new interface cannot be opened.
        """
        self._open_transports(config)
        self._trains = _trains_for(config)
        now = self._now()
        wanted = {cfg.name: cfg for cfg in config.vrrp_instances}
        with self._vips_looked_up_once():
            for name, inst in list(self.instances.items()):
                cfg = wanted.get(name)
                if cfg is None or _vrid_key(cfg) != _vrid_key(inst.config) \
                        or cfg.version != inst.version:
                    self._run(inst, inst.shutdown(now))
                    self._publish_state(inst)
                    self._forget(inst)
                    del self.instances[name]
                    self._by_vrid.pop(_vrid_key(inst.config), None)
        keep = [t for t in self.trackers if any(t is n for n in trackers)]
        for tracker in self.trackers:
            if not any(tracker is k for k in keep):
                await tracker.stop()
                self._checks.pop(tracker.name, None)
                self._values.pop(tracker.name, None)
        self.config = config
        instances: dict[str, Instance] = {}
        with self._vips_looked_up_once():
            for cfg in config.vrrp_instances:
                old = self.instances.get(cfg.name)
                if old is not None and old.config == cfg \
                        and [t.spec for t in old.tracks.values()] == track_specs(config, cfg):
                    old.advert_trains = self._trains
                    instances[cfg.name] = old
                    continue
                inst = self._new_instance(config, cfg)
                if old is not None:
                    self._forget(old)
                    self._run(inst, inst.resume(old, self._now()))
                else:
                    self._run(inst, inst.start(self._now()))
                instances[cfg.name] = inst
                self._by_vrid[_vrid_key(cfg)] = inst
                self._publish_state(inst)
        self.instances = instances
        self._build_groups()
        used = {_transport_key(cfg) for cfg in config.vrrp_instances}
        for key in [k for k in self._transports if k not in used]:
            self._transports.pop(key).close()
        self.trackers = list(trackers)
        for tracker in self.trackers:
            if not any(tracker is k for k in keep):
                self._start_tracker(tracker)

    def _start_tracker(self, tracker: Tracker) -> None:
        if isinstance(tracker, FileTracker):
            tracker.start(self.set_track_value, self.log)
        else:
            tracker.start(self.set_track, self.log)

    async def stop(self) -> None:
        """Clean stop: masters send priority 0 and drop their VIPs (SIGTERM semantics).

        Priority 0 goes out first: backups start their Skew_Time while we wait for the
        trackers (script subprocesses) to wind down, not after.
        """
        if not self.running:
            return
        self.log("Stopping")
        with self._vips_looked_up_once():
            for inst in self.instances.values():
                self._run(inst, inst.shutdown(self._now()))
        self.running = False
        await self._stop_trackers()
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
        if self._counters_timer is not None:
            self._counters_timer.cancel()
            self._counters_timer = None
        if self._timers is not None:
            self._timers.clear()
            self._timers = None
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()
        self._encoded.clear()  # their sends hold the closed transports
        self._queued = 0
        self._by_vrid.clear()
        self.publish(ev.NodeLost(self.wall_time(), self.name, reason=reason))

    # ----------------------------------------------------------------- inputs
    def _now(self) -> float:
        assert self._loop is not None
        return self._clock()

    def _on_packet(self, rx: Received) -> None:
        if not self.running or len(rx.payload) < 2:
            return
        inst = self._by_vrid.get((rx.interface, rx.src.version, rx.payload[1]))
        if inst is None:
            return
        # A raw transport stamps each packet with the kernel's receive time on the loop
        # clock: the RFC's timers run from the advert's arrival, not from our wake-up.
        now = self._now() if rx.at is None else rx.at
        self._run(inst, inst.on_packet(rx.payload, rx.src, rx.dst, rx.ttl, now))

    def set_track(self, name: str, ok: bool, cause: str = "") -> None:
        """A tracker reported; every instance tracking `name` re-derives its priority."""
        if not self.running:
            return
        self._checks[name] = ok
        self.publish(ev.TrackResult(self.wall_time(), self.name, track=name, ok=ok,
                                    detail=cause))
        for inst in self.instances.values():
            if name in inst.tracks:
                self._run(inst, inst.set_track(name, ok, self._now(), cause))

    def set_track_value(self, name: str, value: int, cause: str = "") -> None:
        """A tracked file changed; every instance tracking `name` re-derives its priority."""
        if not self.running:
            return
        self._values[name] = value
        self.publish(ev.TrackResult(self.wall_time(), self.name, track=name,
                                    ok=not self._value_faults(name, value),
                                    detail=cause or f"{name} = {value}"))
        for inst in self.instances.values():
            if name in inst.tracks:
                self._run(inst, inst.set_track_value(name, value, self._now(), cause))

    def _value_faults(self, name: str, value: int) -> bool:
        """Whether `value` puts some instance tracking `name` in FAULT (for the event)."""
        for inst in self.instances.values():
            track = inst.tracks.get(name)
            if track is not None and track.spec.kind == "value":
                probe = dataclasses.replace(track, value=value)
                if probe.faulted:
                    return True
        return False

    def release(self, instance: str, hold: float | None = None) -> bool:
        """Operator failover of one instance; False when it is not master here."""
        inst = self.instances.get(instance)
        if inst is None or not self.running or inst.state != State.MASTER:
            return False
        self._run(inst, inst.release(self._now(), self.failover_hold if hold is None else hold))
        return True

    def cancel_hold(self, instance: str | None = None) -> list[str]:
        """End the operator's hold on `instance` (every instance when None); the names of
        the instances whose hold was running."""
        if not self.running:
            return []
        now = self._now()
        names = [instance] if instance else list(self.instances)
        cancelled = [n for n in names
                     if n in self.instances and self.instances[n].cancel_hold(now)]
        for name in cancelled:
            self.log(f"({name}) failover hold cancelled by operator: preemption applies again")
            self._publish_state(self.instances[name])
        return cancelled

    def log(self, message: str) -> None:
        self._emit(ev.LogLine(self.wall_time(), self.name, text=message))

    # ----------------------------------------------------------------- outputs
    def _fire(self, inst: Instance) -> None:
        if not self.running:
            return
        actions = inst.on_timer(self._clock())
        if len(actions) <= 1:  # a master's periodic advert: nothing to hold back
            if actions and not self.advert_events and type(actions[0]) is _SEND_ADVERT:
                # The hot path (once per instance per interval): no event to build, and an
                # advert alone moves no sync group. Queue it: the adverts of this timer
                # wake-up leave together when it ends (_flush), or every FLUSH_EVERY.
                a = actions[0]
                cached = self._encoded.get(inst)
                if cached is None or cached[0] is not a:
                    cached = self._encode(inst, a)
                for queue in cached[2]:
                    queue()
                self._queued += len(cached[2])
                if self._queued >= FLUSH_EVERY:
                    self._flush()
                timers = self._timers
                if timers is not None:
                    timers.set(inst, inst.next_deadline())
                return
            self._run(inst, actions)
            return
        # A takeover: the wire first. Log lines and events wait, in their order, while
        # the advert, the VIP add and the GARP go out (as keepalived notifies after its
        # GARPs); logging them first cost ~0.6 ms between a new master's advert and GARP.
        self._held = []
        try:
            self._run(inst, actions)
        finally:
            held, self._held = self._held, None
            for event in held:
                self._publish_now(event)

    def _emit(self, event: ev.Event) -> None:
        """Publish now, or after the wire work of a takeover (see `_fire`)."""
        if self._held is None:
            self._publish_now(event)
        else:
            self._held.append(event)

    def _publish_now(self, event: ev.Event) -> None:
        if type(event) is ev.LogLine:
            self.logger.info(event.text)
        self.publish(event)

    def _forget(self, inst: Instance) -> None:
        """An instance object leaves the node (replaced by a reload, or removed)."""
        if self._timers is not None:
            self._timers.cancel(inst)
        self._encoded.pop(inst, None)

    def _schedule(self, inst: Instance) -> None:
        timers = self._timers
        if timers is None:
            if self._loop is None:
                return
            timers = self._timers = TimerQueue(self._loop, self._fire, after=self._flush)
        timers.set(inst, inst.next_deadline() if self.running else None)

    def _run(self, inst: Instance, actions: list[act.Action]) -> None:
        if self.reword is not None:
            actions = self.reword(inst, actions)
        for a in actions:
            self._execute(inst, a)
        self._schedule(inst)
        if inst.sync is not None:  # a vrrp_sync_group moves the other members along
            for member, moves in inst.sync.follow(inst, actions, self._now()):
                self._run(member, moves)

    def _execute(self, inst: Instance, a: act.Action) -> None:
        """Carry out one action: its effect on the wire or the node's addresses, then
        its events (haconsole.engine.publish), built before the effect so that they see
        the VIPs held before a removal."""
        events = events_of(a, inst, self, self.wall_time(), adverts=self.advert_events)
        if isinstance(a, act.SendAdvert):
            self._send(inst, a)
        elif isinstance(a, act.AddVips):
            self.vips.add(a.vips, a.interface)
            if self._vips_seen is not None:
                self._vips_seen.update(str(v) for v in a.vips)
        elif isinstance(a, act.RemoveVips):
            self.vips.remove(a.vips, a.interface)
            if self._vips_seen is not None:
                self._vips_seen.difference_update(str(v) for v in a.vips)
        elif isinstance(a, act.Announce):
            for _ in range(a.repeat):
                self.vips.announce(a.vips, a.interface)
        for event in events:
            self._emit(event)

    def _send(self, inst: Instance, a: act.SendAdvert) -> None:
        """Send now, after whatever periodic adverts are queued (never overtake them: a
        priority 0 must not be followed by an older advert of the same instance)."""
        if self._queued:
            self._flush()
        cached = self._encoded.get(inst)
        if cached is None or cached[0] is not a:
            cached = self._encode(inst, a)
        for send in cached[1]:
            send()

    def _encode(self, inst: Instance, a: act.SendAdvert) -> tuple[
            act.SendAdvert, list[Callable[[], object]], list[Callable[[], object]]]:
        """The packets of `a`, ready (cached for the instance's next adverts)."""
        transport = self._transports.get((inst.interface, inst.address.version))
        if transport is None:
            return (a, [], [])
        sends = [_prepared(transport, encode(a.advert, a.src, dst), a.src, dst)
                 for dst in a.destinations]
        queues = [getattr(send, "queue", send) for send in sends]
        self._encoded[inst] = cached = (a, sends, queues)
        return cached

    def _flush(self) -> None:
        """Send the queued periodic adverts (one system call per transport)."""
        if not self._queued:
            return
        self._queued = 0
        for transport in self._transports.values():
            flush = getattr(transport, "flush", None)
            if flush is not None:
                flush()

    def held_vips(self) -> set[str]:
        """The VIPs present on this node now (haconsole.engine.publish.NodeFacts)."""
        if self._vips_seen is not None:
            return self._vips_seen
        return self.vips.held()

    @contextlib.contextmanager
    def _vips_looked_up_once(self) -> Iterator[None]:
        """Around actions on every instance at once (start, stop, reload): ask the VIP
        manager what the node holds once and follow our own adds and removes, instead of
        one lookup per instance (a netlink dump of every address each: at 1 000
        instances, seconds between the first priority-0 advert of a SIGTERM and the
        last)."""
        self._vips_seen = set(self.vips.held())
        try:
            yield
        finally:
            self._vips_seen = None

    def _publish_state(self, inst: Instance) -> None:
        self._emit(self.instance_state(inst))

    def instance_state(self, inst: Instance) -> ev.InstanceState:
        self._masters_sent[inst.name] = inst.master_address
        wall = self.wall_time()
        hold = inst.hold_until(self._now()) if self._loop is not None else None
        return ev.InstanceState(
            wall,
            self.name,
            instance=inst.name,
            vrid=inst.vrid,
            state=inst.state,
            base_priority=inst.base_priority,
            effective_priority=inst.effective_priority,
            interface=inst.interface,
            version=inst.version,
            advert_int=inst.adver_int_us / 1e6,
            vips=tuple(str(v) for v in inst.vips),
            address=str(inst.address),
            master_address=str(inst.master_address or ""),
            hold_until=None if hold is None else wall + (hold - self._now()),
        )

    def snapshot(self) -> list[ev.Event]:
        """Everything a newly attached watcher needs to know now: each instance's state
        and, for masters, the VIPs they hold (dated from when the instance took over), so
        a console attaching to a running master shows who owns each VIP at once."""
        events: list[ev.Event] = [self.instance_state(i) for i in self.instances.values()]
        held = self.vips.held()
        now, wall = self._now() if self._loop else 0.0, self.wall_time()
        for inst in self.instances.values():
            if inst.state != State.MASTER:
                continue
            since = wall - (now - inst.last_transition) if inst.last_transition else wall
            events.extend(ev.VipAdded(since, self.name, instance=inst.name, vip=str(vip))
                          for vip in inst.all_vips if str(vip) in held)
        return events
