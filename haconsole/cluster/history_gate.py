"""The pasts of several nodes, folded in time order however they arrive.

Why: the view is a fold, and what it derives across nodes (the failover stopwatch: who
took over from whom, and why) depends on the order of events. A console that attaches to
two agents gets each agent's past in one burst, node after node; folded as they come, the
second node's old events would land after the first node's newer ones, and a failover and
its failback would not pair up. So while a past is arriving, the gate holds every event
back, and releases them sorted by time once every node that sent old events has said
where its past ends (`HistoryEnd`) and no new past came for `settle` seconds (the other
sources attach at about the same time), or after `wait` seconds in any case.

It holds nothing back from a source with no past (the in-process lab: its events are never
older than the moment the gate started), so a demo is not delayed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Timed(Protocol):
    @property
    def t(self) -> float: ...

    @property
    def node(self) -> str: ...


class HistoryGate:
    """Feed it what arrives with `feed(items, now)`; fold what it returns, in order."""

    def __init__(self, started: float, *, wait: float = 3.0, settle: float = 0.5,
                 old: float = 1.0) -> None:
        self.started = started  # events older than this (minus `old`) are a past
        self.wait = wait
        self.settle = settle
        self.old = old
        self._last_past = 0.0  # when the newest past event arrived
        self._held: list[Timed] = []
        self._since: float | None = None  # when holding began
        self._pending: set[str] = set()  # nodes whose past has not ended yet
        self._released: set[str] = set()  # nodes whose past was folded: never held again

    @property
    def holding(self) -> bool:
        return self._since is not None

    def feed(self, items: Iterable[Timed], now: float) -> list[Timed]:
        out: list[Timed] = []
        for item in items:
            kind = getattr(item, "kind", "")
            if kind == "history_end":
                self._pending.discard(item.node)
            elif item.t < self.started - self.old and item.node not in self._released:
                if self._since is None:
                    self._since = now
                self._pending.add(item.node)
                self._last_past = now
            if self._since is None:
                out.append(item)
            else:
                self._held.append(item)
        settled = not self._pending and now - self._last_past >= self.settle
        if self._since is not None and (settled or now - self._since >= self.wait):
            # a stable sort: one node's events keep their order within the same instant
            out.extend(sorted(self._held, key=lambda e: e.t))
            self._released.update(e.node for e in self._held)
            self._held, self._since, self._pending = [], None, set()
        return out


class ReplayFilter:
    """What a reconnecting source already published, dropped from the past it is handed
    again: an agent replays its memory on every attach, and a console that lost the
    connection for a moment must not count the same failovers twice."""

    def __init__(self) -> None:
        self.seen_until = float("-inf")  # the newest event published so far
        self._past = True  # before this connection's HistoryEnd

    def connected(self) -> None:
        """A new connection: what comes first is the past again."""
        self._past = True

    def admit(self, event: Timed) -> bool:
        if getattr(event, "kind", "") == "history_end":
            self._past = False
            return True
        if self._past and event.t <= self.seen_until:
            return False
        self.seen_until = max(self.seen_until, event.t)
        return True
