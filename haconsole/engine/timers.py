"""Many deadlines behind one event-loop timer: a heap with lazy deletion.

Why: a node with a thousand instances moves a thousand deadlines a second. With one
`loop.call_at` per instance, each move cancels a TimerHandle and creates another, and
asyncio's heap orders TimerHandles through a Python-level `__lt__`: that bookkeeping was
most of the agent's CPU at 1 000 instances. Here the heap holds plain tuples (compared
in C), a moved deadline is one heappush (its old entry is skipped when it surfaces), and
the loop holds a single TimerHandle for the earliest live deadline, re-armed only when
that earliest deadline changes. Every key due when the loop timer fires runs in that one
callback, in deadline order; the timing is the loop's own (`loop.time()`, call_at), so a
key fires exactly when its own call_at would have.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

_COMPACT_MIN = 64  # rebuild the heap when stale entries outnumber live ones past this


class TimerQueue(Generic[K]):
    """Calls `fire(key)` at each key's deadline (loop time); one deadline per key."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[K], None]) -> None:
        self._loop = loop
        self._fire = fire
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}  # the live deadline of each key
        self._seq = itertools.count()  # ties keep insertion order, keys never compared
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
            heapq.heappush(self._heap, (when, next(self._seq), key))
        if self._running:
            return  # the firing callback re-arms once, at its end
        armed = self._armed
        if when is not None and (armed is None or when < armed):
            self._arm(when)
        elif old is not None and old == armed:
            self._rearm()  # the earliest deadline moved or went away
        if len(self._heap) > _COMPACT_MIN and len(self._heap) > 4 * len(due):
            self._compact()

    def cancel(self, key: K) -> None:
        self.set(key, None)

    def clear(self) -> None:
        """Forget every deadline and release the loop timer."""
        self._due.clear()
        self._heap.clear()
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
        """Drop stale entries from the top, then arm for the earliest live deadline."""
        heap, due = self._heap, self._due
        while heap and due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        if heap:
            if heap[0][0] != self._armed:
                self._arm(heap[0][0])
        elif self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._armed = None

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if self._due.get(entry[2]) == entry[0]]
        heapq.heapify(self._heap)

    def _run(self) -> None:
        """The loop timer fired: run every key due now, earliest first. A key set again
        for a time already past runs on the next loop iteration, as call_at would."""
        self._handle = None
        self._armed = None
        heap, due, pop = self._heap, self._due, heapq.heappop
        now = self._loop.time()
        batch: list[tuple[float, K]] = []
        while heap and heap[0][0] <= now:
            when, _, key = pop(heap)
            if due.get(key) == when:
                batch.append((when, key))
        self._running = True
        try:
            for when, key in batch:
                if due.get(key) == when:  # a callback before it may have moved it
                    del due[key]
                    self._fire(key)
        finally:
            self._running = False
            self._rearm()
