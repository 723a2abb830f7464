"""Many deadlines behind one event-loop timer: deadlines in buckets, lazy deletion.

Why: a node with a thousand instances moves a thousand deadlines a second. With one
`loop.call_at` per instance, each move cancels a TimerHandle and creates another, and
asyncio's heap orders TimerHandles through a Python-level `__lt__`: that bookkeeping was
most of the agent's CPU at 1 000 instances. Here each distinct deadline is one float in a
heap (compared in C) and one bucket listing the keys set for it; keys that share a
deadline (masters sending in advert trains, engine.node) cost one list append each, not
a heap operation. A moved deadline is one more bucket entry (its old one is skipped when
it surfaces), and the loop holds a single TimerHandle for the earliest live deadline,
re-armed only when that earliest deadline changes. Every key due when the loop timer
fires runs in that one callback, in deadline order (ties in the order they were set); the
timing is the loop's own (`loop.time()`, call_at), so a key fires exactly when its own
call_at would have.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

_COMPACT_MIN = 64  # rebuild the heap when stale entries outnumber live ones past this

# A node with more instances than this is "big": the agent's loop drops sub-millisecond
# wake-ups (agent.loop) and masters send in advert trains (engine.node): CPU first.
MANY_INSTANCES = 200


class TimerQueue(Generic[K]):
    """Calls `fire(key)` at each key's deadline (loop time); one deadline per key; then
    `after()`, once per batch of keys that fell due together."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[K], None], *,
                 after: Callable[[], None] | None = None) -> None:
        self._loop = loop
        self._fire = fire
        self._after = after  # called once after each batch of fires (e.g. send what they queued)
        self._heap: list[float] = []  # the distinct deadlines that have a bucket
        self._buckets: dict[float, list[K]] = {}  # deadline -> keys set for it (some stale)
        self._entries = 0  # keys in all buckets, stale ones included
        self._due: dict[K, float] = {}  # the live deadline of each key
        self._handle: asyncio.TimerHandle | None = None
        self._armed: float | None = None  # when the loop timer is set for
        self._running = False

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def deadline(self, key: K) -> float | None:
        return self._due.get(key)

    def set(self, key: K, when: float | None) -> None:
        """Make `when` the key's deadline (None: no deadline); replaces the previous one."""
        due = self._due
        old = due.get(key)
        if when == old:
            return
        if when is None:
            del due[key]
        else:
            due[key] = when
            bucket = self._buckets.get(when)
            if bucket is None:
                self._buckets[when] = [key]
                heapq.heappush(self._heap, when)
            else:
                bucket.append(key)
            self._entries += 1
        if self._running:
            return  # the firing callback re-arms once, at its end
        armed = self._armed
        if when is not None and (armed is None or when < armed):
            self._arm(when)
        elif old is not None and old == armed:
            self._rearm()  # the earliest deadline moved or went away
        if self._entries > _COMPACT_MIN and self._entries > 4 * len(due):
            self._compact()

    def cancel(self, key: K) -> None:
        self.set(key, None)

    def clear(self) -> None:
        """Forget every deadline and release the loop timer."""
        self._due.clear()
        self._heap.clear()
        self._buckets.clear()
        self._entries = 0
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._armed = None

    # ------------------------------------------------------------------ internals
    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._run)
        self._armed = when

    def _rearm(self) -> None:
        """Drop buckets without a live key from the top, then arm for the earliest live
        deadline."""
        heap, due, buckets = self._heap, self._due, self._buckets
        while heap:
            when = heap[0]
            bucket = buckets[when]
            if any(due.get(key) == when for key in bucket):
                break
            heapq.heappop(heap)
            del buckets[when]
            self._entries -= len(bucket)
        if heap:
            if heap[0] != self._armed:
                self._arm(heap[0])
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._armed = None

    def _compact(self) -> None:
        """Keep only live entries (the first of a key's duplicates), bucket order kept."""
        due = self._due
        buckets: dict[float, list[K]] = {}
        for when in sorted(self._buckets):
            seen: set[K] = set()
            live = []
            for key in self._buckets[when]:
                if due.get(key) == when and key not in seen:
                    seen.add(key)
                    live.append(key)
            if live:
                buckets[when] = live
        self._buckets = buckets
        self._heap = list(buckets)  # sorted: a valid heap
        self._entries = sum(len(b) for b in buckets.values())

    def _run(self) -> None:
        """The loop timer fired: run every key due now, earliest first. A key set again
        for a time already past runs on the next loop iteration, as call_at would."""
        self._handle = None
        self._armed = None
        heap, buckets, pop = self._heap, self._buckets, heapq.heappop
        now = self._loop.time()
        batch: list[tuple[float, list[K]]] = []
        while heap and heap[0] <= now:
            when = pop(heap)
            bucket = buckets.pop(when)
            self._entries -= len(bucket)
            batch.append((when, bucket))
        due, fire = self._due, self._fire
        self._running = True
        try:
            for when, bucket in batch:
                for key in bucket:
                    if due.get(key) == when:  # live (a callback before it may move it)
                        del due[key]
                        fire(key)
        finally:
            self._running = False
            if self._after is not None:
                self._after()
            self._rearm()
