"""Simulated clients of the in-process lab's VIPs: the Clients panel without root.

Why simulated this way: a real client sends to the MAC its ARP cache holds for the VIP,
which is the node that announced the VIP last (gratuitous ARP). So a request is answered
when that node still holds the VIP and its nginx runs (refused when nginx is down), and
times out when the node no longer holds it (a crashed or stepped-down master the cache
still points at) or nobody ever announced it. The same rules the namespace lab's real
client lives by, decided from the lab's own events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Protocol

from haconsole.cluster import events as ev
from haconsole.probe.runner import DEFAULT_RATE, DEFAULT_TIMEOUT

Publish = Callable[[ev.Event], None]


class ServedBy(Protocol):
    """What the clients need to know of a lab node."""

    def holds(self, vip: str) -> bool: ...

    def serving(self) -> bool: ...


class SimulatedClients:
    """Requests to every VIP at `rate`/s, answered by the lab's rules (module docstring)."""

    def __init__(self, nodes: Callable[[], Mapping[str, ServedBy]], vips: list[str],
                 publish: Publish, clock: Callable[[], float], *, rate: float = DEFAULT_RATE,
                 timeout: float = DEFAULT_TIMEOUT, client: str = "client") -> None:
        self.nodes = nodes
        self.vips = vips
        self.publish = publish
        self.clock = clock
        self.rate = rate
        self.timeout = timeout
        self.client = client
        self.arp: dict[str, str] = {}  # VIP -> the node that announced it last
        self._task: asyncio.Task[None] | None = None

    def observe(self, event: ev.Event) -> None:
        """Learn ARP from the lab's events (a new master announces its VIPs)."""
        if isinstance(event, ev.VipAdded):
            self.arp[event.vip.split("/", 1)[0]] = event.node

    def answer(self, vip: str, sent: float) -> ev.ClientRequest:
        """The outcome of one request to `vip` sent at `sent`."""
        owner = self.arp.get(vip, "")
        node = self.nodes().get(owner)
        target = f"http://{vip}/"
        if node is None or not node.holds(vip):
            return ev.ClientRequest(sent, self.client, target=target, vip=vip, ok=False,
                                    error="timeout", latency=self.timeout)
        if not node.serving():
            return ev.ClientRequest(sent, self.client, target=target, vip=vip, ok=False,
                                    served_by=owner, error="refused", latency=0.001)
        return ev.ClientRequest(sent, self.client, target=target, vip=vip, ok=True, status=200,
                                served_by=owner, latency=0.001)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate
        next_at = loop.time()
        while True:
            sent = self.clock()
            for vip in self.vips:
                self.publish(self.answer(vip, sent))
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
