"""Timeline: events in time order, and the view at any instant of them.

Why keyframes: `view_at(t)` is a fold of every event at or before `t`, and folding a day
of a busy cluster from the start takes minutes. A Timeline folds from the nearest
keyframe at or before `t` instead: the recorder's (in the file), or its own, frozen every
`keyframe_events` events while it folds. A keyframe that cannot be used (other code,
damage, another view config) is skipped for an older one: never wrong, only slower.

Over a list of events (a log history, a test) everything is in memory; over a
`Recording` the events stay in the file and only the range being folded is read.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, ViewConfig
from haconsole.record import keyframes
from haconsole.record.codec import Item
from haconsole.record.store import FAR, Checkpoint, Recording

LATE_MARGIN = 120.0  # seconds: how late a recorder still takes events into its fold


@dataclass(frozen=True)
class Mark:
    """One transition, for a timeline's ticks."""

    t: float
    node: str
    instance: str
    old: str
    new: str
    reason: str = ""


@dataclass
class _Keyframe:
    t: float
    blob: bytes | None = None  # frozen by this Timeline
    checkpoint: Checkpoint | None = None  # or read from the recording when needed


class Timeline:
    """Events in time order with fold checkpoints: the view at any instant."""

    def __init__(self, events: Iterable[Item] | Recording, *, config: ViewConfig | None = None,
                 keyframe_events: int = 20_000, max_keyframes: int = 512) -> None:
        self.config = config or ViewConfig()
        self.keyframe_events = keyframe_events
        self.max_keyframes = max_keyframes
        self.recording = events if isinstance(events, Recording) else None
        self._items: list[Item] = []
        self._times: list[float] = []
        self._keyframes: list[_Keyframe] = []
        self._kf_times: list[float] = []
        self.start = self.end = 0.0
        self._safe = FAR  # keyframes of our own only at or before this instant
        if self.recording is None:
            assert not isinstance(events, Recording)
            self._items = sorted(events, key=attrgetter("t"))  # stable: ties as given
            self._times = [i.t for i in self._items]
            if self._items:
                self.start, self.end = self._times[0], self._times[-1]
        else:
            self.refresh()

    def refresh(self) -> None:
        """Take in what a recorder wrote since (a recording being written grows)."""
        rec = self.recording
        if rec is None:
            return
        rec.refresh()
        self.start, self.end = rec.time_range()
        own = [k for k in self._keyframes if k.blob is not None]
        marks = [c for c in rec.checkpoints() if c.usable]
        if rec.closed_cleanly:
            self._safe = FAR
        else:  # the recorder may still add events up to a little before its end
            newest = marks[-1].t if marks else -FAR
            self._safe = max(newest, self.end - LATE_MARGIN)
            own = [k for k in own if k.t <= newest]  # a late block may have voided later ones
        merged = own + [_Keyframe(c.t, checkpoint=c) for c in marks]
        merged.sort(key=attrgetter("t"))
        self._keyframes = merged
        self._kf_times = [k.t for k in merged]

    # ------------------------------------------------------------------ queries
    def view_at(self, t: float) -> ClusterView:
        """A view folded with every event at or before `t` (a new object each call)."""
        i = bisect.bisect_right(self._kf_times, t) - 1
        view: ClusterView | None = None
        base = -FAR
        while i >= 0:
            view = self._thaw(self._keyframes[i])
            if view is not None:
                base = self._keyframes[i].t
                break
            del self._keyframes[i]
            del self._kf_times[i]
            i -= 1
        if view is None:
            view = ClusterView(self.config)
        self._fold(view, base, t)
        return view

    def events_between(self, a: float, b: float) -> list[Item]:
        """The events with a < t <= b, in time order: what to fold to play from a to b."""
        return list(self._between(a, b))

    def marks(self) -> list[Mark]:
        """Every transition, in time order."""
        if self.recording is not None:
            return [Mark(*row) for row in self.recording.marks()]
        return [Mark(e.t, e.node, e.instance, str(e.old), str(e.new), e.reason)
                for e in self._items if type(e) is ev.Transition]

    # ------------------------------------------------------------------ inside
    def _between(self, lo: float, hi: float) -> Iterator[Item]:
        if self.recording is not None:
            for row in self.recording.rows(lo, hi):
                yield row[2]
            return
        i = bisect.bisect_right(self._times, lo)
        j = bisect.bisect_right(self._times, hi)
        yield from self._items[i:j]

    def _thaw(self, kf: _Keyframe) -> ClusterView | None:
        if kf.blob is not None:
            view = keyframes.load(kf.blob)
        elif kf.checkpoint is not None and self.recording is not None:
            view = self.recording.load_checkpoint(kf.checkpoint)
        else:
            view = None
        return view if view is not None and view.config == self.config else None

    def _fold(self, view: ClusterView, lo: float, hi: float) -> None:
        """Fold (lo, hi] into `view`, freezing a keyframe every `keyframe_events` events."""
        batch: list[Item] = []
        prev = lo
        for item in self._between(lo, hi):
            t = item.t
            if t > prev and len(batch) >= self.keyframe_events and prev <= self._safe:
                view.apply_all(batch)
                batch = []
                self._freeze(prev, view)
            batch.append(item)
            prev = t
        view.apply_all(batch)

    def _freeze(self, t: float, view: ClusterView) -> None:
        i = bisect.bisect_left(self._kf_times, t)
        if i < len(self._kf_times) and self._kf_times[i] == t:
            return
        self._keyframes.insert(i, _Keyframe(t, blob=keyframes.dump(view, level=1)))
        self._kf_times.insert(i, t)
        own = [k for k in self._keyframes if k.blob is not None]
        if len(own) > self.max_keyframes:  # thin out: every other one of our own goes
            drop = {id(k) for k in own[1::2]}
            self._keyframes = [k for k in self._keyframes if id(k) not in drop]
            self._kf_times = [k.t for k in self._keyframes]
