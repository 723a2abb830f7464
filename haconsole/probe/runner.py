"""Requests at a steady rate to each VIP, published as `cluster.events.ClientRequest`.

Why a fixed schedule with overlapping requests: a client population does not wait for a
slow answer before sending the next request, so neither does the probe. Each request is
stamped with the time it was sent: an outage runs from the first request that failed to
the first that succeeded after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from haconsole.cluster import events as ev
from haconsole.probe.http import Outcome, Target, request

DEFAULT_RATE = 20.0  # requests per second per target
DEFAULT_TIMEOUT = 0.2  # seconds for the whole request


@dataclass(frozen=True)
class ProbeTarget:
    """A URL and the VIP it goes through (shown and matched by the view)."""

    target: Target
    vip: str

    @classmethod
    def parse(cls, url: str, vip: str = "") -> ProbeTarget:
        target = Target.parse(url)
        return cls(target, vip or target.host)


def to_event(client: str, probe: ProbeTarget, sent: float, outcome: Outcome) -> ev.ClientRequest:
    return ev.ClientRequest(sent, client, target=probe.target.url, vip=probe.vip,
                            ok=outcome.ok, status=outcome.status, served_by=outcome.served_by,
                            error=outcome.error, latency=round(outcome.latency, 6))


class ClientProbe:
    """Probe every target at `rate` per second until stopped."""

    def __init__(self, targets: Sequence[ProbeTarget], publish: Callable[[ev.Event], None], *,
                 client: str = "client", rate: float = DEFAULT_RATE,
                 timeout: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.time) -> None:
        if rate <= 0 or timeout <= 0:
            raise ValueError("the probe's rate and timeout must be positive")
        self.targets = list(targets)
        self.publish = publish
        self.client = client
        self.rate = rate
        self.timeout = timeout
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._run(p)) for p in self.targets]

    async def stop(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops, self._tasks = [], set()

    async def _run(self, probe: ProbeTarget) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate
        next_at = loop.time()
        while True:
            task = loop.create_task(self._one(probe))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            next_at += period
            delay = next_at - loop.time()
            if delay < -1.0:  # we fell far behind (a stopped process): skip, do not burst
                next_at = loop.time()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))

    async def _one(self, probe: ProbeTarget) -> None:
        sent = self.clock()
        outcome = await request(probe.target, self.timeout)
        self.publish(to_event(self.client, probe, sent, outcome))
