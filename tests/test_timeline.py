"""Timeline.view_at(t) is the fold of every event at or before t, however it gets there.

"Equal" here is strict: the seeked view holds the same state as a view folded from
scratch (every attribute, recursively, in order, the counters of applied events and log
lines included), and it shows the same operator facts and alarms.
"""

from __future__ import annotations

import pickle
import random
import sqlite3
import zlib
from collections import deque
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.record import Mark, Recorder, Recording, Timeline
from tests.test_record import STORM, fast_lab, operator_facts, record


def scratch(items: list[Any], t: float) -> ClusterView:
    view = ClusterView()
    view.apply_all(sorted((i for i in items if i.t <= t), key=lambda i: i.t))
    return view


def state(obj: Any) -> Any:
    """Everything `obj` holds, as plain values (dict and deque order kept)."""
    if obj is None or isinstance(obj, str | int | float | bool | Enum):
        return obj
    if isinstance(obj, list | tuple | deque):
        return type(obj).__name__, getattr(obj, "maxlen", None), [state(x) for x in obj]
    if isinstance(obj, set | frozenset):
        return sorted(repr(state(x)) for x in obj)
    if isinstance(obj, dict):
        return [(state(k), state(v)) for k, v in obj.items()]
    return type(obj).__name__, state(vars(obj))


def assert_same(seeked: ClusterView, folded: ClusterView, t: float) -> None:
    assert operator_facts(seeked, t) == operator_facts(folded, t), f"at {t}"
    assert state(seeked) == state(folded), f"at {t}"


def instants(items: list[Any], n: int, seed: int) -> list[float]:
    """Random instants over the events' span, and some exact event times."""
    rng = random.Random(seed)
    lo, hi = min(i.t for i in items), max(i.t for i in items)
    exact = rng.sample([i.t for i in items], n // 2)
    return [*exact, *(rng.uniform(lo - 1, hi + 1) for _ in range(n - len(exact)))]


@pytest.fixture(scope="module")
def storm() -> list[Any]:
    return STORM.events(fast_lab())


def test_view_at_random_instants_equals_a_fold_from_scratch(storm: list[Any]) -> None:
    shuffled = random.Random(1).sample(storm, len(storm))  # in any order (ties: as given)
    timeline = Timeline(shuffled, keyframe_events=37)
    for t in instants(storm, 60, seed=2):
        assert_same(timeline.view_at(t), scratch(shuffled, t), t)
    assert len(timeline._keyframes) > 5  # it did seek from keyframes


def test_view_at_over_a_recording_equals_a_fold_of_what_it_stored(
        tmp_path: Path, storm: list[Any]) -> None:
    path = tmp_path / "storm.hcr"
    record(path, storm, keyframe_events=50)
    with Recording.open(path) as rec:
        stored = list(rec.events())
        assert len(rec.checkpoints()) > 5
        timeline = Timeline(rec, keyframe_events=40)
        for t in instants(storm, 60, seed=3):
            assert_same(timeline.view_at(t), scratch(stored, t), t)


@pytest.mark.parametrize("damage", [
    "UPDATE keyframes SET fingerprint = 'written by other code'",
    "UPDATE keyframes SET data = x'789c0300000000'",  # zlib of nothing
    "UPDATE keyframes SET data = x'00'",
])
def test_a_keyframe_that_cannot_be_used_is_folded_around(
        tmp_path: Path, storm: list[Any], damage: str) -> None:
    path = tmp_path / "damaged.hcr"
    record(path, storm, keyframe_events=50)
    with Recording.open(path) as rec:
        stored = list(rec.events())
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(damage + " WHERE id % 2 = 0")
    conn.close()
    with Recording.open(path) as rec:
        timeline = Timeline(rec)
        for t in instants(storm, 30, seed=4):
            assert_same(timeline.view_at(t), scratch(stored, t), t)


def test_a_keyframe_may_only_build_the_views_own_classes(tmp_path: Path,
                                                         storm: list[Any]) -> None:
    """A shared recording must never run code when it is opened."""
    path = tmp_path / "evil.hcr"
    record(path, storm, keyframe_events=50)

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    # a class imported by a module of the view, named through it
    sneaky = (b"\x80\x04\x8c\x16haconsole.cluster.view\x94\x8c\x05deque\x94\x93\x94)R\x94.")
    assert pickle.loads(sneaky) == deque()  # what it would build, unguarded
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE keyframes SET data = ? WHERE id % 2 = 0",
                     (zlib.compress(pickle.dumps(Evil(), protocol=5)),))
        conn.execute("UPDATE keyframes SET data = ? WHERE id % 2 = 1", (zlib.compress(sneaky),))
    conn.close()
    with Recording.open(path) as rec:
        assert all(rec.load_checkpoint(c) is None for c in rec.checkpoints())
        stored = list(rec.events())
        t = storm[-1].t
        assert_same(Timeline(rec).view_at(t), scratch(stored, t), t)


def test_late_events_void_the_keyframes_they_precede(tmp_path: Path,
                                                     storm: list[Any]) -> None:
    """History read at attach arrives after live events: every keyframe left in the file
    must still be the fold of everything at or before its time."""
    path = tmp_path / "late.hcr"
    cut = storm[0].t + 25
    live = [i for i in storm if i.t > cut]
    history = [i for i in storm if i.t <= cut]
    recorder = Recorder(path, keyframe_events=30, lag=0.5, clock=lambda: cut + 1e6)
    for chunk in range(0, len(live), 40):
        recorder.record_many(live[chunk:chunk + 40])
        recorder.flush()
    for chunk in range(0, len(history), 100):  # in several late batches
        recorder.record_many(history[chunk:chunk + 100])
        recorder.flush()
    recorder.close()
    with Recording.open(path) as rec:
        stored = list(rec.events())
        checkpoints = rec.checkpoints()
        assert any(cp.t <= cut for cp in checkpoints)  # history is in keyframes too
        for cp in checkpoints:
            view = rec.load_checkpoint(cp)
            assert view is not None
            assert_same(view, scratch(stored, cp.t), cp.t)
        timeline = Timeline(rec)
        for t in instants(storm, 30, seed=5):
            assert_same(timeline.view_at(t), scratch(stored, t), t)


def test_events_between_is_open_below_and_closed_above(storm: list[Any]) -> None:
    timeline = Timeline(storm)
    a, b = storm[10].t, storm[200].t
    between = timeline.events_between(a, b)
    assert between == [i for i in sorted(storm, key=lambda i: i.t) if a < i.t <= b]
    view = timeline.view_at(a)
    view.apply_all(between)  # playing forward from a view gives the view further on
    assert_same(view, scratch(storm, b), b)


def test_marks_are_every_transition(tmp_path: Path, storm: list[Any]) -> None:
    wanted = [Mark(e.t, e.node, e.instance, str(e.old), str(e.new), e.reason)
              for e in storm if isinstance(e, ev.Transition)]
    assert len(wanted) > 10
    assert Timeline(storm).marks() == wanted
    path = tmp_path / "marks.hcr"
    record(path, storm)
    with Recording.open(path) as rec:
        assert Timeline(rec).marks() == wanted


def test_an_empty_timeline() -> None:
    timeline = Timeline([])
    assert (timeline.start, timeline.end) == (0.0, 0.0)
    assert not timeline.view_at(1e9).nodes and timeline.marks() == []
