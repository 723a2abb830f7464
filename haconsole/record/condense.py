"""What a recording keeps of what a console sees.

Why: at 4 000 adverts/s per-packet events would be most of the file and none of the
information. Everything that changes state, every log line and every console note is
kept as it came; adverts become per-instance cumulative `AdvertCounters`, once a second;
unchanged instance snapshots (sources re-send them every poll) are dropped.

Replay must still give the live view's facts, so the fold's uses of single adverts and
snapshots are kept:
- the failover stopwatch times a new master from its first advert after a cause: the
  first advert of each stream (node, instance, direction, source) after any event that
  can change state is kept as it came, as is an advert whose priority differs from the
  previous one on its stream (a priority-0 resignation, a lowered priority);
- an instance is first seen at its first event: a stream's first advert is kept, and a
  zero counter right after it starts the series the fold takes deltas from;
- staleness is the age of a node's last event: an unchanged snapshot is still kept when
  nothing else of its node was kept for a second;
- a source that reports counters itself (keepalived's dump) keeps its own series, and its
  per-advert events (from the log) are kept as they came: two series would not add up.
Counters are stamped with the time of the last advert they count: a count never appears
before its adverts happened.
PacketDropped (the fold only notes the instance) is kept at most once a second per
(node, instance, source, reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from haconsole.cluster import events as ev
from haconsole.record.codec import Item

HEARTBEAT = 1.0  # seconds: an unchanged snapshot is kept when its node was quiet this long
DROP_EVERY = 1.0  # seconds between two kept PacketDropped of one kind
WINDOW = 1.0  # seconds of adverts one counter covers at most (in event time)

# Kinds that never change what the failover stopwatch or the VRRP state shows: they do
# not make the next adverts worth keeping one by one. Anything else (including kinds
# added later) does, which costs a little space and is never wrong.
QUIET_KINDS = frozenset({"log", "advert_sent", "advert_received", "advert_counters",
                         "packet_dropped", "client_request", "source_health",
                         "command_result", "history_end", "clock_offset",
                         # the wire's facts never move VRRP state or the stopwatch
                         "wire_capture", "wire_speaker", "wire_owner", "wire_anomaly"})

Key = tuple[str, str]  # (node, instance)


@dataclass
class _Counter:
    sent: int = 0
    received: int = 0
    t: float = 0.0  # the last advert counted
    start: float = 0.0  # the first advert counted since the last emitted counter
    pending: bool = False  # adverts counted since the last emitted counter


class Condenser:
    """Feed it every item in the order the console saw them; it says what to store."""

    def __init__(self) -> None:
        self._epoch = 0  # bumped by every kept item that can change state
        self._streams: dict[tuple[str, str, str, str], tuple[int, int]] = {}
        self._counters: dict[Key, _Counter] = {}
        self._own_counters: set[Key] = set()  # instances whose source reports counters
        self._snapshots: dict[Key, tuple[object, ...]] = {}
        self._node_t: dict[str, float] = {}  # the latest item of each node kept or counted
        self._drops: dict[tuple[str, str, str, str], float] = {}
        self.adverts = 0  # adverts folded into counters (statistics)

    def feed(self, item: Item, out: list[Item]) -> None:
        """Append to `out` what to store for `item` now (possibly nothing)."""
        kind = type(item)
        if kind is ev.AdvertSent or kind is ev.AdvertReceived:
            self._advert(item, out)  # type: ignore[arg-type]
            return
        if kind is ev.InstanceState:
            self._snapshot(item, out)  # type: ignore[arg-type]
            return
        if kind is ev.PacketDropped:
            self._drop(item, out)  # type: ignore[arg-type]
            return
        if kind is ev.AdvertCounters:
            self._own_counters.add((item.node, item.instance))  # type: ignore[union-attr]
        self._keep(item, out)

    def flush(self, out: list[Item], now: float | None = None) -> None:
        """Append the counters of the instances that had adverts since their last counter;
        with `now`, only of those whose count started a second or more before it (the
        others go on counting: one counter a second, not one per flush)."""
        for key, c in self._counters.items():
            if c.pending and (now is None or now - c.start >= WINDOW):
                self._emit(key, c, out)

    @staticmethod
    def _emit(key: Key, c: _Counter, out: list[Item]) -> None:
        c.pending = False
        out.append(ev.AdvertCounters(c.t, key[0], instance=key[1], sent=c.sent,
                                     received=c.received))

    # ------------------------------------------------------------------ rules
    def _keep(self, item: Item, out: list[Item]) -> None:
        out.append(item)
        self._seen(item.node, item.t)
        if getattr(item, "kind", "") not in QUIET_KINDS:
            self._epoch += 1

    def _seen(self, node: str, t: float) -> None:
        if t > self._node_t.get(node, float("-inf")):
            self._node_t[node] = t

    def _advert(self, item: ev.AdvertSent | ev.AdvertReceived, out: list[Item]) -> None:
        key = (item.node, item.instance)
        if key in self._own_counters:
            self._keep(item, out)
            return
        sent = type(item) is ev.AdvertSent
        source = "" if sent else item.source  # type: ignore[union-attr]
        stream = (item.node, item.instance, "s" if sent else "r", source)
        last = self._streams.get(stream)
        counter = self._counters.get(key)
        if last is None or last[0] != self._epoch or last[1] != item.priority \
                or counter is None:
            self._streams[stream] = (self._epoch, item.priority)
            self._keep(item, out)
            if counter is None:  # the series starts at zero, after this advert
                self._counters[key] = _Counter(t=item.t)
                out.append(ev.AdvertCounters(item.t, item.node, instance=item.instance))
            return
        if counter.pending and item.t - counter.start >= WINDOW:  # in event time, too:
            self._emit(key, counter, out)  # a burst of old adverts is not one counter
        if not counter.pending:
            counter.start, counter.pending = item.t, True
        if sent:
            counter.sent += 1
        else:
            counter.received += 1
        if item.t > counter.t:
            counter.t = item.t
        self.adverts += 1
        self._seen(item.node, item.t)

    def _snapshot(self, item: ev.InstanceState, out: list[Item]) -> None:
        key = (item.node, item.instance)
        facts = tuple(v for k, v in item.__dict__.items() if k != "t")
        if self._snapshots.get(key) == facts:
            if self._node_t.get(item.node, float("-inf")) >= item.t - HEARTBEAT:
                return
            out.append(item)  # a heartbeat: the node is alive, nothing changed
            self._seen(item.node, item.t)
            return
        self._snapshots[key] = facts
        self._keep(item, out)

    def _drop(self, item: ev.PacketDropped, out: list[Item]) -> None:
        key = (item.node, item.instance, item.source, item.reason)
        if len(self._drops) > 10_000:  # spoofed sources: forget, never grow without end
            self._drops.clear()
        last = self._drops.get(key)
        if last is not None and item.t - last < DROP_EVERY:
            return
        self._drops[key] = item.t
        self._keep(item, out)
