"""The big node's hot path: advert trains (vrrp.instance), deadlines in buckets and one
flush per timer batch (engine.timers, engine.node), and no idle counters timer.

Trains only ever move a master's periodic advert earlier, never later, and only the
first one after an out-of-turn advert; once on its train an instance keeps an exact
period. A queued periodic advert never goes out after a later advert of the same node
(a priority 0 must stay the last word).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import itertools
import math
import time
from typing import Any

import pytest

from haconsole.config import Config, GlobalDefs, VirtualAddress, VrrpInstance
from haconsole.engine.node import ADVERT_TRAINS, Node
from haconsole.engine.timers import MANY_INSTANCES, TimerQueue
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.packet import Advert
from haconsole.vrrp.state import State
from haconsole.vrrp.tracking import TrackSpec

SRC = ipaddress.ip_address("192.0.2.11")


def vi(vrid: int = 100, *, prio: int = 100, advert_int: float = 1.0, version: int = 2,
       **kw: Any) -> VrrpInstance:
    return VrrpInstance(name=f"VI_{vrid}", interface="eth0", virtual_router_id=vrid,
                        priority=prio, advert_int=advert_int, version=version,
                        virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface(
                            f"192.0.2.{vrid % 200 + 20}/24"))], **kw)


def master(trains: int, at: float, tracks: tuple[TrackSpec, ...] = (), **kw: Any) -> Instance:
    """An instance that became master at `at` (the down timer fired then)."""
    inst = Instance(vi(**kw), SRC, tracks=tracks)
    inst.advert_trains = trains
    for spec in tracks:
        inst.set_track(spec.name, True, at - 20)
    inst.start(at - 10)
    actions = inst.on_timer(at)
    assert inst.state == State.MASTER and any(isinstance(a, act.SendAdvert) for a in actions)
    return inst


def sends(inst: Instance, until: float, late: float = 0.0007) -> list[float]:
    """Run the instance's timers (each fired `late` after its deadline) until `until`;
    the times of its adverts."""
    out = []
    while (due := inst.next_deadline()) is not None and due < until:
        now = due + late
        if any(isinstance(a, act.SendAdvert) for a in inst.on_timer(now)):
            out.append(now)
    return out


@pytest.mark.parametrize("at", [1000.0, 1000.0004, 1234.5678, 987654.321])
def test_a_train_moves_the_first_periodic_advert_earlier_then_keeps_the_period(at) -> None:
    inst = master(4, at)
    first = inst.next_deadline()
    assert first is not None and at < first <= at + 1.0  # never later than the interval
    assert at + 1.0 - first < 0.25 + 1e-9  # at most one tick earlier
    assert math.isclose(first / 0.25, round(first / 0.25), abs_tol=1e-6)  # on a tick
    times = sends(inst, at + 30)
    assert len(times) >= 29
    # Drift-free: the deadlines stay on the ticks whatever the wake-up lateness.
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(g - 1.0) < 1e-6 for g in gaps), gaps[:5]


def test_without_trains_every_advert_is_one_interval_after_the_last() -> None:
    inst = master(0, 1234.5678)
    assert inst.next_deadline() == pytest.approx(1235.5678, abs=1e-9)
    times = sends(inst, 1240)
    assert all(abs((b - a) - 1.0007) < 1e-9 for a, b in itertools.pairwise(times))


def test_masters_of_one_interval_share_their_send_times() -> None:
    starts = [1000 + k * 0.0371 for k in range(40)]  # taking over across a second and a half
    masters = [master(4, t, vrid=1 + k) for k, t in enumerate(starts)]
    assert len({m.next_deadline() for m in masters}) <= 4 + 2  # ticks in 1.5 s, exactly equal
    v3 = master(4, 1000.01, version=3, advert_int=0.3)
    due = v3.next_deadline()
    assert due is not None and math.isclose(due / 0.075, round(due / 0.075), abs_tol=1e-6)


def test_trains_never_touch_a_backups_timer() -> None:
    inst = Instance(vi(prio=90), SRC)
    inst.advert_trains = 4
    inst.start(100.0)
    peer = Advert(version=2, vrid=100, priority=100, advert_int_cs=100,
                  addresses=(ipaddress.ip_address("192.0.2.120"),), auth_type=0,
                  auth_data=bytes(8))
    inst.on_advert(peer, ipaddress.ip_address("192.0.2.12"), 101.2345)
    assert inst.next_deadline() == pytest.approx(101.2345 + inst.master_down_interval,
                                                 abs=1e-9)


def test_a_priority_change_is_sent_at_once_and_the_train_follows() -> None:
    inst = master(4, 1000.1, tracks=(TrackSpec("chk", -20),))
    actions = inst.set_track("chk", False, 1000.6)
    assert [a.advert.priority for a in actions if isinstance(a, act.SendAdvert)] == [80]
    assert inst.next_deadline() == pytest.approx(1001.5, abs=1e-9)  # the next tick <= 1001.6


# ----------------------------------------------------------------------------- engine
class FakeLoop:
    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[tuple[float, Any]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> Any:
        handle = asyncio.TimerHandle(when, callback, (), asyncio.new_event_loop())
        self.handles.append((when, handle))
        return handle

    def advance(self, to: float) -> None:
        while True:
            due = sorted((w, h) for w, h in self.handles if w <= to and not h.cancelled())
            if not due:
                break
            when, handle = due[0]
            self.handles.remove((when, handle))
            self.now = max(self.now, when)
            handle._run()
        self.now = to


def test_timer_batches_end_with_one_after_call_and_keep_set_order() -> None:
    loop = FakeLoop()
    fired: list[str] = []
    afters: list[list[str]] = []
    queue: TimerQueue[str] = TimerQueue(loop, fired.append,  # type: ignore[arg-type]
                                        after=lambda: afters.append(list(fired)))
    for key in ("c", "a", "b"):
        queue.set(key, 5.0)  # one train: one bucket
    queue.set("d", 6.0)
    assert len(queue._heap) == 2  # two distinct deadlines
    loop.advance(5.5)
    assert fired == ["c", "a", "b"] and afters == [["c", "a", "b"]]
    loop.advance(7.0)
    assert fired[-1] == "d" and len(afters) == 2


class QueueTransport:
    """A transport with RawTransport's prepare/queue/flush, recording the wire."""

    def __init__(self, interface: str, family: int) -> None:
        self.interface, self.family = interface, family
        self.wire: list[int] = []  # the priority byte of each packet, in wire order
        self._queued: list[Any] = []

    def primary_address(self) -> Any:
        return SRC

    def set_receiver(self, receiver: Any) -> None:
        pass

    def send(self, payload: bytes, src: Any, dst: Any) -> None:
        self.wire.append(payload[2])

    def prepare(self, payload: bytes, src: Any, dst: Any) -> Any:
        transport = self

        class Packet:
            def __call__(self) -> None:
                transport.wire.append(payload[2])

        packet = Packet()
        packet.queue = functools.partial(self._queued.append, packet)  # type: ignore[attr-defined]
        return packet

    def flush(self) -> None:
        for packet in self._queued:
            packet()
        self._queued.clear()

    def close(self) -> None:
        pass


class NoVips:
    def add(self, vips: Any, interface: str) -> None: ...
    def remove(self, vips: Any, interface: str) -> None: ...
    def announce(self, vips: Any, interface: str) -> None: ...
    def held(self) -> set[str]:
        return set()


def config(n: int, **kw: Any) -> Config:
    return Config(source="<test>", global_defs=GlobalDefs(router_id="n"),
                  vrrp_instances=[vi(1 + k, **kw) for k in range(n)])


async def test_a_queued_periodic_advert_never_follows_the_priority_0() -> None:
    transports: list[QueueTransport] = []

    def transport_for(interface: str, family: int) -> QueueTransport:
        transports.append(QueueTransport(interface, family))
        return transports[-1]

    node = Node("n", config(1, prio=255, version=3, advert_int=0.05),
                transport_for=transport_for, vips=NoVips(), publish=lambda e: None)
    node.advert_events = False
    await node.start()
    inst = node.instances["VI_1"]
    await asyncio.sleep(0.2)  # owner: master at once, then periodic adverts (flushed)
    wire = transports[0].wire
    assert inst.state == State.MASTER and len(wire) >= 3 and set(wire) == {255}
    # A periodic advert falls due and is queued (as inside a timer batch) ...
    while (inst.next_deadline() or 0) > time.monotonic():
        time.sleep(0.001)
    before = len(wire)
    node._fire(inst)
    assert len(wire) == before  # queued, not sent yet
    await node.stop()  # ... then SIGTERM: the queue goes first, priority 0 last.
    assert wire[before:] == [255, 0]


async def test_big_nodes_send_in_trains_and_small_ones_do_not() -> None:
    for n, trains in ((MANY_INSTANCES, 0), (MANY_INSTANCES + 1, ADVERT_TRAINS)):
        node = Node("n", config(n), transport_for=QueueTransport, vips=NoVips(),
                    publish=lambda e: None)
        await node.start()
        try:
            assert {i.advert_trains for i in node.instances.values()} == {trains}
        finally:
            await node.stop()


async def test_no_counters_timer_while_nobody_watches() -> None:
    node = Node("n", config(1), transport_for=QueueTransport, vips=NoVips(),
                publish=lambda e: None)
    node.counter_events = False
    await node.start()
    try:
        assert node._counters_timer is None
        node.counter_events = True
        assert node._counters_timer is not None
        node.counter_events = False
        assert node._counters_timer is None
    finally:
        await node.stop()


class CountingVips(NoVips):
    """Holds what it was told to, counts how often it is asked."""

    def __init__(self) -> None:
        self.vips: set[str] = set()
        self.asked = 0

    def add(self, vips: Any, interface: str) -> None:
        self.vips.update(str(v) for v in vips)

    def remove(self, vips: Any, interface: str) -> None:
        self.vips.difference_update(str(v) for v in vips)

    def held(self) -> set[str]:
        self.asked += 1
        return set(self.vips)


async def test_a_stop_asks_for_the_nodes_vips_once_and_reports_each_removal() -> None:
    from haconsole.cluster import events as ev

    vips = CountingVips()
    events: list[Any] = []
    node = Node("n", config(5, prio=255), transport_for=QueueTransport, vips=vips,
                publish=events.append)
    await node.start()
    assert vips.asked == 1  # the start's clean-up of five instances: one look
    await asyncio.sleep(0.05)  # owners: masters at once
    assert len(vips.vips) == 5
    vips.asked = 0
    await node.stop()
    assert vips.asked == 1 and vips.vips == set()
    removed = [e.vip for e in events if isinstance(e, ev.VipRemoved)]
    assert sorted(removed) == sorted(str(v.ip) for i in config(5).vrrp_instances
                                     for v in i.virtual_ipaddress)
