"""A node's recent past, kept in memory and handed to whoever attaches.

Why: the page comes after the flap. A console that attaches to an agent must see what
happened before it arrived — transitions, priority changes, check results, VIP moves,
the operator's commands — with their own timestamps, so the Failovers panel, the VIP
"since"/"previous" columns and the flapping alarm include the past. Adverts and log lines
are not kept: they are most of the volume and none of the story.

Bounded twice: by age (24 h by default) and by count, oldest first out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from haconsole.cluster import events as ev

#: What a node's history keeps: the events that change what an operator sees.
KEPT: tuple[type[ev.Event], ...] = (ev.Transition, ev.PriorityChange, ev.TrackResult,
                                    ev.VipAdded, ev.VipRemoved, ev.ServiceState,
                                    ev.CommandResult, ev.NodeLost)

DAY = 24 * 3600.0


class HistoryRing:
    """The last `max_age` seconds (at most `max_events`) of a node's state changes."""

    def __init__(self, *, max_age: float = DAY, max_events: int = 50_000) -> None:
        self.max_age = max_age
        self._events: deque[ev.Event] = deque(maxlen=max_events)

    def record(self, event: ev.Event) -> None:
        """Keep `event` if it is a state change (cheap to call with any event)."""
        if isinstance(event, KEPT):
            self._events.append(event)
            self._expire(event.t)

    def _expire(self, now: float) -> None:
        events = self._events
        while events and events[0].t < now - self.max_age:
            events.popleft()

    def events(self, now: float) -> list[ev.Event]:
        """The kept events of the last `max_age` seconds before `now`, oldest first."""
        self._expire(now)
        return list(self._events)

    def replay(self, node: str, now: float, *, source: str = "") -> list[ev.Event]:
        """What an attaching watcher gets first: the past, then the marker that ends it."""
        past = self.events(now)
        hours = self.max_age / 3600
        return [*past, ev.HistoryEnd(now, node, source=source or
                                     f"the agent's memory of the last {hours:g} h",
                                     events=len(past))]

    def extend(self, events: Iterable[ev.Event]) -> None:
        for event in events:
            self.record(event)
