"""`Recorder` writes a recording, `Recording` reads one (while it is written, too).

The recorder never makes its caller wait: `record(item)` appends to a queue; a thread
wakes once a second, condenses what came (`condense`), writes it as blocks and commits
(so a SIGKILL loses at most that second), folds it into a `ClusterView` of its own and
every ~30 000 stored events freezes that view as a keyframe (`keyframes`), so that a
reader seeks anywhere by folding from the nearest one.

The recorder's fold follows event time, not arrival: it folds what is older than a few
seconds (`lag`), in time order. An event older than that (history read at attach, a
node whose clock lags) is late: the keyframes it invalidates are deleted with the block
that holds it, and the fold restarts from the newest keyframe left, catching up from the
file a bounded chunk per second (writing goes on meanwhile).
"""

from __future__ import annotations

import atexit
import heapq
import json
import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.record import codec, keyframes, layout
from haconsole.record.codec import Item, Row
from haconsole.record.condense import Condenser
from haconsole.record.layout import BLOCK_SPAN, FileState, RecordingError

__all__ = ["Checkpoint", "Recorder", "Recording", "RecordingError"]

FAR = 1e300  # beyond any timestamp (SQLite compares it like any REAL)
BLOCK_ROWS = 5000  # events per block at most (a history burst is split)
PAGE = 32  # blocks per query when reading (each query is its own read transaction)


# ---------------------------------------------------------------------- reading
def iter_rows(conn: sqlite3.Connection, lo: float, hi: float,
              skipped: list[int] | None = None) -> Iterator[Row]:
    """Every stored (t, seq, item) with lo < t <= hi, in (t, seq) order.

    Blocks come by t_min; a block's rows are sorted, and blocks may overlap (late
    events), so rows wait in a heap until no block still to come can precede them.
    """
    heap: list[Row] = []
    after = (max(lo - BLOCK_SPAN, -FAR), -1)
    while True:
        blocks = conn.execute(
            "SELECT id, t_min, data FROM blocks WHERE (t_min, id) > (?, ?) AND t_min <= ? "
            "AND t_max > ? ORDER BY t_min, id LIMIT ?",
            (after[0], after[1], hi, lo, PAGE)).fetchall()
        for block_id, t_min, data in blocks:
            while heap and heap[0][0] < t_min:
                yield heapq.heappop(heap)
            try:
                rows, bad = codec.unpack(data)
            except ValueError as err:
                raise ValueError(f"block {block_id}: {err}") from None
            if bad and skipped is not None:
                skipped[0] += bad
            for row in rows:
                if lo < row[0] <= hi:
                    heapq.heappush(heap, row)
            after = (t_min, block_id)
        if len(blocks) < PAGE:
            break
    while heap:
        yield heapq.heappop(heap)


def read_meta(conn: sqlite3.Connection, path: str) -> dict[str, Any]:
    """The meta table as a dict; RecordingError when it is not a recording's."""
    try:
        pairs = conn.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            raise RecordingError(f"{path}: not a haconsole recording (no meta table)") from None
        raise
    meta: dict[str, Any] = {}
    for key, value in pairs:
        try:
            meta[str(key)] = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            meta[str(key)] = value
    if meta.get("format") != layout.FORMAT:
        raise RecordingError(f"{path}: not a haconsole recording (format "
                             f"{meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise RecordingError(f"{path}: damaged recording (no format version)")
    if version > layout.FORMAT_VERSION:
        raise RecordingError(f"{path}: recorded by a newer haconsole (recording format "
                             f"{version}; this one reads up to {layout.FORMAT_VERSION})")
    return meta


def time_range(conn: sqlite3.Connection) -> tuple[float, float] | None:
    """(first, last) event time, or None when nothing is stored (the t_min index only)."""
    first = conn.execute("SELECT MIN(t_min) FROM blocks").fetchone()[0]
    if first is None:
        return None
    last = conn.execute("SELECT MAX(t_max) FROM blocks WHERE t_min >= "
                        "(SELECT MAX(t_min) FROM blocks) - ?", (BLOCK_SPAN,)).fetchone()[0]
    return float(first), float(last)


@dataclass(frozen=True)
class Checkpoint:
    """A keyframe in the file: the fold of every event at or before `t`."""

    id: int
    t: float
    events: int  # events folded into it
    usable: bool  # written by this build's fold (else ignored: never wrong, only slower)


def usable(codec_name: str, fingerprint: str) -> bool:
    return codec_name == keyframes.CODEC and fingerprint == keyframes.fingerprint()


class Recording:
    """A recording opened for reading (`Recording.open`); it may still be written."""

    def __init__(self, path: str, conn: sqlite3.Connection, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self._conn = conn
        self._skipped = [0]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Recording:
        """Open `path`; RecordingError (one line naming it) unless it is a recording."""
        name = str(path)
        state = layout.check_file(path)
        if state is FileState.MISSING:
            raise RecordingError(f"{name}: no such file")
        if state is FileState.EMPTY:
            raise RecordingError(f"{name}: empty file, not a haconsole recording")
        conn = layout.connect(path, readonly=True)
        try:
            meta = read_meta(conn, name)
            conn.execute("SELECT 1 FROM blocks LIMIT 1").fetchall()
        except RecordingError:
            conn.close()
            raise
        except sqlite3.Error as err:
            conn.close()
            raise layout.damaged(name, err) from None
        return cls(name, conn, meta)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def skipped(self) -> int:
        """Stored events this build could not read (kinds it does not know)."""
        return self._skipped[0]

    @property
    def closed_cleanly(self) -> bool:
        """Whether the recorder closed it (False while it is written, or after a kill)."""
        return bool(self.meta.get("closed"))

    def refresh(self) -> None:
        """Re-read the meta (a recording being written changes)."""
        self.meta = self._guard(lambda: read_meta(self._conn, self.path))

    def time_range(self) -> tuple[float, float]:
        """(first, last) event time; after retention, first is where history is whole.
        (0.0, 0.0) when nothing is stored yet."""
        span = self._guard(lambda: time_range(self._conn))
        if span is None:
            return 0.0, 0.0
        retained = self.meta.get("retained_from")
        start = max(span[0], float(retained)) if isinstance(retained, int | float) else span[0]
        return min(start, span[1]), span[1]

    def events(self, since: float | None = None, until: float | None = None) -> Iterator[Item]:
        """Stored events with since <= t <= until, in time order (ties: as received)."""
        lo = -FAR if since is None else math.nextafter(since, -math.inf)
        hi = FAR if until is None else until
        for row in self.rows(lo, hi):
            yield row[2]

    def rows(self, lo: float, hi: float) -> Iterator[Row]:
        """(t, seq, item) with lo < t <= hi, in order (what a Timeline folds)."""
        rows = iter_rows(self._conn, lo, hi, self._skipped)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except (sqlite3.Error, ValueError) as err:
                raise layout.damaged(self.path, err) from None
            yield row

    def count(self) -> int:
        """How many events are stored."""
        return int(self._guard(
            lambda: self._conn.execute("SELECT COALESCE(SUM(n), 0) FROM blocks").fetchone()[0]))

    def checkpoints(self, since: float | None = None,
                    until: float | None = None) -> list[Checkpoint]:
        """The keyframes in the file (time order), each saying whether this build can
        use it."""
        rows = self._guard(lambda: self._conn.execute(
            "SELECT id, t, events, codec, fingerprint FROM keyframes WHERE t >= ? AND t <= ? "
            "ORDER BY t", (-FAR if since is None else since,
                           FAR if until is None else until)).fetchall())
        return [Checkpoint(int(i), float(t), int(n), usable(c, f)) for i, t, n, c, f in rows]

    def load_checkpoint(self, checkpoint: Checkpoint) -> ClusterView | None:
        """The view frozen in `checkpoint`; None when unusable or unreadable (it may have
        been deleted by retention, or by a late event, since it was listed)."""
        if not checkpoint.usable:
            return None
        row = self._guard(lambda: self._conn.execute(
            "SELECT data FROM keyframes WHERE id = ?", (checkpoint.id,)).fetchone())
        return keyframes.load(row[0]) if row is not None else None

    def marks(self, since: float | None = None,
              until: float | None = None) -> list[tuple[float, str, str, str, str, str]]:
        """Every transition (t, node, instance, old, new, reason), in time order."""
        return self._guard(lambda: self._conn.execute(
            "SELECT t, node, instance, old, new, reason FROM marks WHERE t >= ? AND t <= ? "
            "ORDER BY t, rowid", (-FAR if since is None else since,
                                  FAR if until is None else until)).fetchall())

    def _guard(self, query: Callable[[], Any]) -> Any:
        try:
            return query()
        except sqlite3.Error as err:
            raise layout.damaged(self.path, err) from None


# ---------------------------------------------------------------------- writing
class _Writer:
    """The recorder thread's state: the connection, the condenser and the fold."""

    def __init__(self, path: str, conn: sqlite3.Connection, *, retain: float | None,
                 keyframe_events: int, keyframe_age: float, retain_every: float,
                 lag: float, clock: Callable[[], float]) -> None:
        self.path = path
        self.conn = conn
        self.retain = retain
        self.keyframe_events = keyframe_events
        self.keyframe_age = keyframe_age
        self.retain_every = retain_every
        self.lag = lag
        self.clock = clock
        self.condenser = Condenser()
        self.stored = 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        self.next_seq = int(json.loads(row[0])) if row else 0
        span = time_range(conn)
        self.max_t = span[1] if span else -FAR
        self.retained_at = self.max_t
        # the fold: every stored event with t <= fold_t is in view, none after it
        self.view = ClusterView()
        self.fold_t = -FAR
        self.folded = 0  # events in view (for the keyframe rows)
        self.since_keyframe = 0
        self.keyframe_t = -FAR  # the newest keyframe written by this fold
        self.keyframe_max = self.newest_keyframe()  # of any build, in the file
        self.pending: list[Row] = []  # stored, newer than fold_t (live mode)
        self.catching_up = False
        if span is not None:  # appending: the fold starts where the file's left off
            self.restart_fold(FAR)

    # ---------------------------------------------------------------- a cycle
    def cycle(self, items: Iterable[Item], *, final: bool, force: bool = False) -> None:
        """Store what came (and, when `force`d, every advert counted so far)."""
        out: list[Item] = []
        feed = self.condenser.feed
        for item in items:
            feed(item, out)
        self.condenser.flush(out, None if final or force else self.clock())
        conn = self.conn
        conn.execute("BEGIN")
        try:
            if out:
                self.write(out)
            self.fold_step(final)
            if self.retain is not None and (final or self.max_t - self.retained_at
                                            >= self.retain_every):
                self.apply_retention()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def write(self, items: list[Item]) -> None:
        seq = self.next_seq
        rows: list[Row] = []
        for item in items:
            if math.isfinite(item.t):  # a NaN time would sort nowhere
                rows.append((item.t, seq, item))
                seq += 1
        if not rows:
            return
        self.next_seq = seq
        rows.sort(key=itemgetter(0))  # stable: equal times keep the order received
        conn = self.conn
        start = 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or i - start >= BLOCK_ROWS or \
                    rows[i][0] - rows[start][0] > BLOCK_SPAN:
                block = rows[start:i]
                conn.execute("INSERT INTO blocks (t_min, t_max, n, data) VALUES (?, ?, ?, ?)",
                             (block[0][0], block[-1][0], len(block),
                              codec.pack([(s, it) for _, s, it in block])))
                start = i
        marks = [(t, it.node, it.instance, str(it.old), str(it.new), it.reason)
                 for t, _, it in rows if type(it) is ev.Transition]
        if marks:
            conn.executemany("INSERT INTO marks VALUES (?, ?, ?, ?, ?, ?)", marks)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (str(seq),))
        self.stored += len(rows)
        self.max_t = max(self.max_t, rows[-1][0])
        oldest = rows[0][0]
        if oldest <= self.keyframe_max:  # keyframes that miss these events: void
            conn.execute("DELETE FROM keyframes WHERE t >= ?", (oldest,))
            self.keyframe_max = self.newest_keyframe()
        if oldest <= self.fold_t:  # late: the fold missed them too
            lateness = self.fold_t - oldest
            if lateness < 120.0:  # a source a little behind: wait for it from now on
                self.lag = max(self.lag, min(120.0, lateness + 1.0))
            self.restart_fold(oldest)
        elif not self.catching_up:
            if self.pending:
                self.pending.extend(rows)
                heapq.heapify(self.pending)
            else:
                self.pending = rows  # sorted: already a heap

    # ---------------------------------------------------------------- the fold
    def newest_keyframe(self) -> float:
        row = self.conn.execute("SELECT MAX(t) FROM keyframes").fetchone()
        return -FAR if row is None or row[0] is None else float(row[0])

    def restart_fold(self, before: float) -> None:
        """Fold again from the newest usable keyframe older than `before` (catch-up)."""
        self.view, self.fold_t, self.folded = ClusterView(), -FAR, 0
        bound = before
        while True:
            row = self.conn.execute(
                "SELECT id, t, events, data FROM keyframes WHERE t < ? AND codec = ? AND "
                "fingerprint = ? ORDER BY t DESC LIMIT 1",
                (bound, keyframes.CODEC, keyframes.fingerprint())).fetchone()
            if row is None:
                break
            view = keyframes.load(row[3])
            if view is not None and view.config == self.view.config:
                self.view, self.fold_t, self.folded = view, float(row[1]), int(row[2])
                break
            bound = float(row[1])
        self.keyframe_t = self.fold_t
        self.since_keyframe = 0
        self.pending = []
        self.catching_up = True

    def watermark(self, final: bool) -> float:
        """Events at or before this are all here (unless late): fold them."""
        if final:
            return FAR
        return min(self.max_t, self.clock()) - self.lag

    def fold_step(self, final: bool, budget: int = 50_000) -> None:
        mark = self.watermark(final)
        if self.catching_up:
            deadline = time.monotonic() + (2.0 if final else 0.0)
            while True:
                done = self.catch_up(mark, budget)
                if done or time.monotonic() >= deadline:
                    break
            if self.catching_up:
                return
        rows: list[Row] = []
        pending = self.pending
        while pending and pending[0][0] <= mark:
            rows.append(heapq.heappop(pending))
        self.fold(rows)
        if mark < FAR:
            self.fold_t = max(self.fold_t, mark)
        elif rows:
            self.fold_t = max(self.fold_t, rows[-1][0])
        if self.since_keyframe and (final or self.fold_t - self.keyframe_t >= self.keyframe_age):
            self.keyframe(self.fold_t)

    def catch_up(self, mark: float, budget: int) -> bool:
        """Fold up to `budget` stored events from the file; True once caught up (then the
        fold goes on from memory)."""
        rows: list[Row] = []
        exhausted = True
        for row in iter_rows(self.conn, self.fold_t, mark):
            if len(rows) >= budget and row[0] > rows[-1][0]:
                exhausted = False
                break
            rows.append(row)
        self.fold(rows)
        if not exhausted:
            self.fold_t = rows[-1][0]
            return False
        self.fold_t = max(self.fold_t, mark if mark < FAR else rows[-1][0] if rows else -FAR)
        self.pending = list(iter_rows(self.conn, self.fold_t, FAR))
        heapq.heapify(self.pending)
        self.catching_up = False
        return True

    def fold(self, rows: list[Row]) -> None:
        """Fold rows (in order), writing a keyframe every `keyframe_events` events, at a
        time boundary (a keyframe holds all the events of its instant)."""
        view = self.view
        batch: list[Item] = []
        prev = self.fold_t  # everything at or before it is folded already
        for t, _, item in rows:
            if t > prev and self.since_keyframe + len(batch) >= self.keyframe_events:
                view.apply_all(batch)
                self.since_keyframe += len(batch)
                self.folded += len(batch)
                batch = []
                self.keyframe(prev)
            batch.append(item)
            prev = t
        view.apply_all(batch)
        self.since_keyframe += len(batch)
        self.folded += len(batch)

    def keyframe(self, t: float) -> None:
        self.conn.execute(
            "INSERT INTO keyframes (t, events, codec, fingerprint, data) VALUES (?, ?, ?, ?, ?)",
            (t, self.folded, keyframes.CODEC, keyframes.fingerprint(), keyframes.dump(self.view)))
        self.keyframe_t = t
        self.keyframe_max = max(self.keyframe_max, t)
        self.since_keyframe = 0

    # ---------------------------------------------------------------- retention
    def apply_retention(self) -> None:
        """Delete what is older than `retain`, down to a keyframe: the oldest kept event's
        view is still whole (the keyframe is where replay starts)."""
        assert self.retain is not None
        self.retained_at = self.max_t
        cutoff = min(self.max_t, self.clock()) - self.retain  # a clock ahead deletes nothing
        row = self.conn.execute("SELECT t FROM keyframes WHERE t <= ? ORDER BY t DESC LIMIT 1",
                                (cutoff,)).fetchone()
        if row is None:
            return
        base = float(row[0])
        conn = self.conn
        conn.execute("DELETE FROM blocks WHERE t_min <= ?", (base - BLOCK_SPAN,))
        conn.execute("DELETE FROM keyframes WHERE t < ?", (base,))
        conn.execute("DELETE FROM marks WHERE t <= ?", (base,))
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('retained_from', ?)", (repr(base),))

    def set_meta(self, key: str, value: object) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


class Recorder:
    """Record items to `path` (created, or appended to when it is a recording already).

    `record(item)` is cheap and never blocks (a queue); a thread writes once a second.
    `retain`: seconds of history to keep (older blocks are deleted once a minute).
    `meta`: what to note about this session (e.g. {"sources": [...]}; no secrets).
    The keyword arguments after those tune the file for tests and benchmarks.
    """

    MAX_QUEUE = 2_000_000  # items waiting for the thread; beyond, items are counted lost

    def __init__(self, path: str | os.PathLike[str], *, retain: float | None = None,
                 meta: dict[str, Any] | None = None, interval: float = 1.0,
                 keyframe_events: int = 30_000, keyframe_age: float = 600.0,
                 retain_every: float = 60.0, lag: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        if retain is not None and not retain > 0:
            raise ValueError("retain must be a positive number of seconds")
        state = layout.check_file(path)
        if state is FileState.MISSING:
            try:
                open(path, "xb").close()
            except FileExistsError:
                state = layout.check_file(path)
            except OSError as err:
                raise RecordingError(f"{self.path}: cannot create "
                                     f"({err.strerror or err})") from None
        self._lock = layout.lock(path)  # one recorder per file
        conn = layout.connect(path, readonly=False)
        try:
            self._open(conn, state, meta or {})
            self._writer = _Writer(self.path, conn, retain=retain,
                                   keyframe_events=keyframe_events, keyframe_age=keyframe_age,
                                   retain_every=retain_every, lag=lag, clock=clock)
        except RecordingError:
            conn.close()
            self._lock.close()
            raise
        except sqlite3.Error as err:
            conn.close()
            self._lock.close()
            raise layout.damaged(self.path, err) from None
        self.interval = interval
        self.error: str | None = None  # set when writing failed (recording stopped)
        self.lost = 0  # items dropped because the queue was full
        self._queue: deque[Item] = deque()
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="haconsole-recorder",
                                         daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _open(self, conn: sqlite3.Connection, state: FileState, meta: dict[str, Any]) -> None:
        from haconsole import __version__

        now = time.time()
        sources = list(meta.get("sources", []))
        if state is FileState.RECORDING:
            known = read_meta(conn, self.path)
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
        else:
            layout.create(conn)
            known = {"format": layout.FORMAT, "format_version": layout.FORMAT_VERSION,
                     "haconsole": __version__, "created": now, "sessions": [],
                     "sources": []}
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: a process kill loses nothing
        merged = list(known.get("sources", []))
        merged += [s for s in sources if s not in merged]
        session = {"started": now, "haconsole": __version__, "sources": sources}
        values = dict(known)
        values.update({k: v for k, v in meta.items() if k != "sources"})
        values.update({"sources": merged, "closed": False,
                       "sessions": [*known.get("sessions", []), session]})
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                         [(k, json.dumps(v)) for k, v in values.items()])
        conn.execute("COMMIT")

    # ------------------------------------------------------------------ the API
    def record(self, item: Item) -> None:
        """Queue one item (a cluster event or the console's CommandIssued note)."""
        queue = self._queue
        if len(queue) < self.MAX_QUEUE and not self._closed:
            queue.append(item)
        else:
            self.lost += 1

    def record_many(self, items: Iterable[Item]) -> None:
        """Queue items (the console's batch of a tick)."""
        if self._closed:
            return
        self._queue.extend(items)
        excess = len(self._queue) - self.MAX_QUEUE
        for _ in range(max(0, excess)):
            self._queue.pop()
            self.lost += 1

    def flush(self) -> None:
        """Return once everything recorded so far is written and committed."""
        if self._closed and not self._thread.is_alive():
            self._raise_error()
            return
        with self._cond:
            self._requested += 1
            target = self._requested
        self._wake.set()
        with self._cond:
            while self._done < target and self._thread.is_alive():
                self._cond.wait(0.5)
        self._raise_error()

    def close(self) -> None:
        """Write what is queued, the last counters and a final keyframe; close the file."""
        if self._closed and not self._thread.is_alive():
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        atexit.unregister(self.close)
        self._raise_error()

    @property
    def stored(self) -> int:
        """Events written so far (after condensing)."""
        return self._writer.stored

    @property
    def condensed(self) -> int:
        """Adverts folded into counters so far."""
        return self._writer.condenser.adverts

    def _raise_error(self) -> None:
        if self.error is not None:
            raise RecordingError(f"{self.path}: recording stopped: {self.error}")

    # ------------------------------------------------------------------ the thread
    def _drain(self) -> list[Item]:
        queue = self._queue
        popleft = queue.popleft
        return [popleft() for _ in range(len(queue))]

    def _run(self) -> None:
        writer = self._writer
        next_at = time.monotonic() + self.interval
        try:
            while True:
                self._wake.wait(max(0.0, next_at - time.monotonic()))
                self._wake.clear()
                stopping = self._stopping
                with self._cond:
                    requested = self._requested
                    forced = requested > self._done  # flush(): every count, too
                if time.monotonic() >= next_at:
                    next_at = time.monotonic() + self.interval
                try:
                    writer.cycle(self._drain(), final=stopping, force=forced)
                    if stopping:
                        writer.set_meta("closed", True)
                except Exception as err:  # disk full, file removed...: stop, say why
                    self.error = f"{type(err).__name__}: {err}"
                    self._closed = True
                    stopping = True
                with self._cond:
                    self._done = requested
                    self._cond.notify_all()
                if stopping:
                    break
        finally:
            self._closed = True
            writer.conn.close()
            self._lock.close()
            with self._cond:
                self._done = self._requested
                self._cond.notify_all()
