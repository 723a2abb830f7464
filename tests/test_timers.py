"""TimerQueue (engine/timers.py) and the precise loop's timerfd selector.

The queue is driven by a fake loop whose clock the test moves, so every check is exact
and nothing sleeps; one test runs the real precise loop to check a timer is not early.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from typing import Any

import pytest

from haconsole.agent import loop as precise_loop
from haconsole.engine.timers import TimerQueue


class FakeHandle:
    def __init__(self, when: float, callback: Any) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """call_at/time only; `advance(t)` runs due handles in order, as asyncio would."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[tuple[float, int, FakeHandle]] = []
        self._seq = itertools.count()
        self.created = 0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> FakeHandle:
        handle = FakeHandle(when, callback)
        heapq.heappush(self.handles, (when, next(self._seq), handle))
        self.created += 1
        return handle

    def live(self) -> list[FakeHandle]:
        return [h for _, _, h in self.handles if not h.cancelled]

    def advance(self, to: float) -> None:
        while self.handles and self.handles[0][0] <= to:
            when, _, handle = heapq.heappop(self.handles)
            if handle.cancelled:
                continue
            self.now = max(self.now, when)
            handle.callback()
        self.now = to


def make(fire: Any = None) -> tuple[FakeLoop, TimerQueue[str], list[tuple[float, str]]]:
    loop = FakeLoop()
    fired: list[tuple[float, str]] = []
    queue: TimerQueue[str] = TimerQueue(loop, fire or (lambda k: fired.append((loop.now, k))))  # type: ignore[arg-type]
    return loop, queue, fired


def test_fires_each_key_at_its_deadline_in_order() -> None:
    loop, queue, fired = make()
    queue.set("b", 2.0)
    queue.set("a", 1.0)
    queue.set("c", 3.0)
    loop.advance(10)
    assert fired == [(1.0, "a"), (2.0, "b"), (3.0, "c")]
    assert len(queue) == 0 and loop.live() == []


def test_one_loop_timer_for_many_keys() -> None:
    loop, queue, _ = make()
    for i in range(100):
        queue.set(f"k{i}", 5.0 + i)
    assert len(loop.live()) == 1 and loop.live()[0].when == 5.0
    assert loop.created == 1  # later deadlines do not touch the loop timer


def test_moving_a_deadline_replaces_it() -> None:
    loop, queue, fired = make()
    queue.set("a", 1.0)
    queue.set("b", 2.0)
    queue.set("a", 3.0)  # the armed (earliest) key moves later: re-arm for b
    assert [h.when for h in loop.live()] == [2.0]
    loop.advance(10)
    assert fired == [(2.0, "b"), (3.0, "a")]


def test_cancel_and_none() -> None:
    loop, queue, fired = make()
    queue.set("a", 1.0)
    queue.set("b", 2.0)
    queue.cancel("a")
    queue.set("b", None)
    assert loop.live() == [] and len(queue) == 0
    loop.advance(10)
    assert fired == []


def test_same_deadline_twice_is_a_no_op() -> None:
    loop, queue, _ = make()
    queue.set("a", 1.0)
    queue.set("a", 1.0)
    assert loop.created == 1 and len(queue._heap) == 1


def test_callbacks_may_reschedule_themselves_and_others() -> None:
    loop = FakeLoop()
    fired: list[tuple[float, str]] = []

    def fire(key: str) -> None:
        fired.append((loop.now, key))
        if key == "a" and loop.now < 3:
            queue.set("a", loop.now + 1.0)  # a periodic advert
        if key == "a" and loop.now == 1.0:
            queue.set("b", 1.5)  # moves b, which was due in the same batch

    queue: TimerQueue[str] = TimerQueue(loop, fire)  # type: ignore[arg-type]
    queue.set("a", 1.0)
    queue.set("b", 1.0)
    loop.advance(1.0)
    assert fired == [(1.0, "a")]  # b moved to 1.5 by a's callback: not fired now
    loop.advance(10)
    assert fired == [(1.0, "a"), (1.5, "b"), (2.0, "a"), (3.0, "a")]


def test_past_deadline_set_in_a_callback_runs_on_the_next_iteration() -> None:
    loop = FakeLoop()
    fired: list[str] = []

    def fire(key: str) -> None:
        fired.append(key)
        if key == "a":
            queue.set("c", loop.now - 1)  # already due

    queue: TimerQueue[str] = TimerQueue(loop, fire)  # type: ignore[arg-type]
    queue.set("a", 1.0)
    loop.advance(1.0)
    assert fired == ["a", "c"]  # via a new loop timer, not inside a's batch
    assert loop.created == 2


def test_clear_releases_the_loop_timer() -> None:
    loop, queue, fired = make()
    queue.set("a", 1.0)
    queue.clear()
    assert loop.live() == [] and len(queue) == 0
    loop.advance(5)
    assert fired == []


def test_stale_entries_are_compacted() -> None:
    _, queue, _ = make()
    queue.set("head", 1.0)  # keeps the stale entries below the top of the heap
    for step in range(1000):  # a backup's down timer pushed back by every advert
        queue.set("a", 10.0 + step)
    assert len(queue._heap) <= 4 * len(queue) + 64
    assert queue.deadline("a") == 1009.0


def test_matches_one_call_at_per_key_on_random_schedules() -> None:
    """Same firing times and order as a reference that keeps one deadline per key."""
    rng = random.Random(7)
    for _ in range(50):
        loop, queue, fired = make()
        expected: dict[str, float] = {}
        t = 0.0
        for _ in range(200):
            key = f"k{rng.randrange(20)}"
            offset = rng.choice([0.0, 0.25, 0.5, 1.0, rng.random() * 3])
            when = None if rng.random() < 0.15 else t + offset
            queue.set(key, when)
            if when is None:
                expected.pop(key, None)
            else:
                expected[key] = when
            t += rng.random() * 0.3
            due = sorted((w, k) for k, w in expected.items() if w <= t)
            before = len(fired)
            loop.advance(t)
            assert sorted(fired[before:]) == due  # each key at exactly its deadline
            for _, k in due:
                del expected[k]
            assert set(expected) == set(queue._due)


def test_precise_loop_timer_fires_on_time_not_early() -> None:
    """The timerfd selector: a call_at runs at or after its time, within a few ms."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        lates = []
        for delay in (0.0004, 0.003, 0.02):
            done = loop.create_future()
            when = loop.time() + delay
            loop.call_at(when, lambda f=done: f.set_result(loop.time()))
            lates.append(await done - when)
        return lates

    lates = precise_loop.run(main())
    assert all(late >= 0 for late in lates)
    assert min(lates) < 0.005  # a stock loop rounds each up by ~1 ms; this one by µs


@pytest.mark.parametrize("precise", [True, False])
def test_precise_loop_still_reports_ready_sockets(precise: bool) -> None:
    import socket

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        got = loop.create_future()
        loop.add_reader(a.fileno(), lambda: got.done() or got.set_result(a.recv(10)))
        loop.call_later(0.5, lambda: None)  # an armed timer while we wait for the socket
        loop.call_later(0.01, b.send, b"x")
        try:
            return await asyncio.wait_for(got, 2)
        finally:
            loop.remove_reader(a.fileno())
            a.close()
            b.close()

    precise_loop.set_precise(precise)
    try:
        assert precise_loop.run(main()) == b"x"
    finally:
        precise_loop.set_precise(True)


def test_receive_stamp_becomes_loop_time_and_wall_clock_steps_are_ignored() -> None:
    """raw.parse_v4 turns SCM_TIMESTAMPNS (wall clock) into loop time for the node."""
    import socket
    import struct

    from haconsole.net import raw

    header = bytes([0x45, 0xC0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0,
                    192, 0, 2, 11, 224, 0, 0, 18])
    payload = bytes(8)

    def stamp(wall: float) -> list[tuple[int, int, bytes]]:
        seconds = int(wall)
        nanos = round((wall - seconds) * 1e9)
        return [(socket.SOL_SOCKET, raw.SO_TIMESTAMPNS, struct.pack("=qq", seconds, nanos)),
                (socket.IPPROTO_IP, raw.IP_TTL, struct.pack("=i", 255))]

    clock = (1000.0, 1_700_000_000.0 - 1000.0)  # loop 1000.0 == wall 1_700_000_000.0
    got = raw.parse_v4(header + payload, stamp(1_700_000_000.0 - 0.0025), "eth0", clock)
    assert got is not None and got.ttl == 255 and got.payload == payload
    assert got.at == pytest.approx(999.9975, abs=1e-6)  # 2.5 ms before the wake-up
    for wall in (1_700_000_000.0 + 0.5, 1_700_000_000.0 - 3600):  # future, or a step
        late = raw.parse_v4(header + payload, stamp(wall), "eth0", clock)
        assert late is not None and late.at is None  # the node then uses loop.time()
    assert raw.parse_v4(header + payload, stamp(1_700_000_000.0), "eth0").at is None


async def test_node_runs_the_down_timer_from_the_packet_arrival() -> None:
    """Node passes Received.at to the core: Skew_Time counts from the kernel's stamp."""
    import ipaddress

    from haconsole.engine.node import Node
    from haconsole.net.base import Received
    from haconsole.netns.lab import VIP4, pair_configs
    from haconsole.vrrp.packet import AUTH_PASS, MCAST_V4, Advert, encode

    class Transport:
        interface, family = "eth0", 4

        def primary_address(self) -> ipaddress.IPv4Address:
            return ipaddress.IPv4Address("192.0.2.12")

        def set_receiver(self, receiver: Any) -> None: ...

        def send(self, payload: bytes, src: Any, dst: Any) -> None: ...

        def close(self) -> None: ...

    class Vips:
        def add(self, vips: Any, interface: str) -> None: ...

        def remove(self, vips: Any, interface: str) -> None: ...

        def announce(self, vips: Any, interface: str) -> None: ...

        def held(self) -> set[str]:
            return set()

    config = pair_configs(check_nginx=False)["nginx2"]
    node = Node("nginx2", config, transport_for=lambda i, f: Transport(), vips=Vips(),
                publish=lambda e: None)
    await node.start()
    inst = node.instances["VI_1"]
    assert inst.state == "BACKUP"
    master = ipaddress.IPv4Address("192.0.2.11")
    zero = Advert(version=2, vrid=100, priority=0, advert_int_cs=100,
                  addresses=(ipaddress.IPv4Address(VIP4),), auth_type=AUTH_PASS,
                  auth_data=b"lab-pass")
    at = asyncio.get_running_loop().time() - 0.002  # read 2 ms after it arrived
    node._on_packet(Received(encode(zero, master, MCAST_V4), master, MCAST_V4, 255, "eth0", at))
    assert node._timers is not None
    assert node._timers.deadline(inst) == pytest.approx(at + inst.skew_time, abs=1e-9)
    await node.stop()
    assert node._timers is None


def test_precise_loop_signal_handlers_still_validate() -> None:
    import signal

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, precise_loop.PreciseEventLoop)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        assert loop.remove_signal_handler(signal.SIGHUP)
        with pytest.raises(ValueError):
            loop.add_signal_handler(10_000, lambda: None)
        with pytest.raises(TypeError):
            loop.add_signal_handler("SIGHUP", lambda: None)  # type: ignore[arg-type]

    precise_loop.run(main())


async def test_a_takeover_puts_the_wire_before_logs_and_events() -> None:
    """On a timer takeover the advert, VIP add and GARP happen before any log line or
    event of it is published; then every one of them is published, in order."""
    import ipaddress

    from haconsole.cluster import events as ev
    from haconsole.engine.node import Node
    from haconsole.netns.lab import pair_configs

    trace: list[str] = []

    class Transport:
        def primary_address(self) -> ipaddress.IPv4Address:
            return ipaddress.IPv4Address("192.0.2.11")

        def set_receiver(self, receiver: Any) -> None: ...

        def send(self, payload: bytes, src: Any, dst: Any) -> None:
            trace.append("wire:advert")

        def close(self) -> None: ...

    class Vips:
        def add(self, vips: Any, interface: str) -> None:
            trace.append("wire:vip")

        def remove(self, vips: Any, interface: str) -> None: ...

        def announce(self, vips: Any, interface: str) -> None:
            trace.append("wire:garp")

        def held(self) -> set[str]:
            return set()

    def publish(event: ev.Event) -> None:
        if isinstance(event, ev.InstanceCounters):
            return  # the once-a-second counters tick is not part of the takeover
        trace.append(event.kind if not isinstance(event, ev.LogLine) else f"log:{event.text}")

    config = pair_configs(check_nginx=False)["nginx1"]  # state MASTER: takes over alone
    node = Node("nginx1", config, transport_for=lambda i, f: Transport(), vips=Vips(),
                publish=publish)
    await node.start()
    inst = node.instances["VI_1"]
    trace.clear()
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 5  # the takeover is due one advert interval after start
    while inst.state != "MASTER":
        assert loop.time() < give_up, "no takeover"
        await asyncio.sleep(0.01)
    first_other = next(i for i, x in enumerate(trace) if not x.startswith("wire:"))
    assert trace[:first_other][:3] == ["wire:advert", "wire:vip", "wire:garp"]
    rest = trace[first_other:]
    assert "log:(VI_1) Entering MASTER STATE" in rest and "transition" in rest
    assert rest.index("log:(VI_1) Entering MASTER STATE") < rest.index("transition")
    await node.stop()
