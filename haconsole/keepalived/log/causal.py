"""Merge several nodes' log events into one time order that respects cause and effect.

Why not just sort by stamp: keepalived's console and syslog stamps have one-second
resolution, and nodes' clocks differ by fractions of a second. In a preemption the new
master enters MASTER, the old one hears its advert and steps down, within a millisecond;
with equal or skewed stamps a plain sort can put the step-down first, and an incident
report would see a moment without a master, or no failover at all. Some lines prove an
order across nodes, and those orders are kept:

- an advert heard from X with a priority above 0 ("received lower priority (90) advert
  from 192.0.2.12", "Master received advert from ... with higher priority") belongs to one
  of X's masterships (its MASTER entry to its exit, as X's log stamps them): the one its
  stamp falls in, else the nearest within `CAUSAL_TOLERANCE` seconds, among those whose
  priorities (where X's log gave them: "Changing effective priority") include the
  advert's, and that do not contradict the orders already known (one-second stamps often
  leave two masterships in reach: the wrong one would need X to enter MASTER after what
  the hearer did next). The advert comes after that entry and before that exit (a backup
  sends none);
- a priority 0 advert heard ("Backup received priority 0 advertisement") comes after the
  nearest priority 0 another node sent within the tolerance ("sent 0 priority", or its
  leaving MASTER for STOP or FAULT, which sends it).

The merge is a topological order of these constraints and each node's own order (never
changed), taking at each step the ready event with the earliest stamp (a node's lines of one stamp
stay together: one event-loop pass, as "Master received advert ..." then "Entering BACKUP
STATE"). An event that
waited for another node's takes that one's stamp when it is later: stamps move forward by
at most the tolerance, and `notes` says by how much per node. Addresses map to nodes by
what each node logged ("Assigned address 192.0.2.11 for interface eth0"), or, for a pair
of nodes that logged none (haconsole agents), by the adverts each heard from the other.

Also here, because it needs every node's events: the `NodeLost` of a run that fell silent
(history.py `Silent`) goes where the first peer took over one of its instances.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from haconsole.cluster import events as ev

__all__ = ["CAUSAL_TOLERANCE", "Silent", "merge_nodes"]

#: How far (seconds) a line may be stamped before what it answers and still be moved after
#: it: one-second stamps plus a clock offset below a second.
CAUSAL_TOLERANCE = 2.0

_MASTER = ev.State.MASTER
_ZERO_STATES = (ev.State.STOP, ev.State.FAULT)  # leaving MASTER for these sends priority 0

Member = tuple[str, str]  # (node, instance)
Position = tuple[int, int]  # (node number, index in its events)


@dataclass(frozen=True)
class Silent:
    """A daemon run of `node` ended without a word: its last line at `last`, the next run
    started at `restart`; it was MASTER of `masters`; `index` is where, in the node's
    events, the next run begins."""

    node: str
    last: float
    restart: float
    masters: tuple[str, ...]
    index: int


NodeInput = tuple[str, list[ev.Event], list[str], list[Silent]]


@dataclass
class _Mastership:
    """One stay of a member in MASTER, by its own node's positions and stamps."""

    entry: int
    entry_t: float
    exit: int | None = None
    exit_t: float | None = None
    priorities: set[int] | None = None  # None: its log never said


class _Node:
    """One node's events with the positions of those that are not log lines (the rules
    look only at those; most of a history is log lines)."""

    def __init__(self, number: int, name: str, events: list[ev.Event], addresses: list[str],
                 silent: list[Silent]) -> None:
        self.number = number
        self.name = name
        self.events = events
        self.addresses = addresses
        self.silent = silent
        self.notable: list[int] = []

    def index(self, notes: list[str]) -> None:
        """Keep the node's own order (a stamp before the one before it, a clock stepped
        back, takes that one) and list the positions of its non-log events."""
        events = self.events
        floor = float("-inf")
        worst = 0.0
        notable = self.notable = []
        log_line = ev.LogLine
        for i, e in enumerate(events):
            t = e.t
            if t < floor:
                worst = max(worst, floor - t)
                events[i] = e = dataclasses.replace(e, t=floor)
            else:
                floor = t
            if type(e) is not log_line:
                notable.append(i)
        if worst > 0:
            notes.append(f"{self.name}: stamps go back by up to {worst:.3f} s (clock "
                         "stepped?); kept in log order")

    def of(self, kind: type[ev.Event]) -> Iterator[tuple[int, Any]]:
        events = self.events
        for i in self.notable:
            e = events[i]
            if type(e) is kind:
                yield i, e


def _place_silent(nodes: list[_Node], reason: str) -> None:
    """Insert each Silent's NodeLost into its node's events (see the module docstring)."""
    if not any(node.silent for node in nodes):
        return
    takeovers: dict[str, list[tuple[float, str]]] = {}
    for node in nodes:
        for _i, e in node.of(ev.Transition):
            if e.new == _MASTER:
                takeovers.setdefault(e.instance, []).append((e.t, node.name))
    for times in takeovers.values():
        times.sort()
    for node in nodes:
        inserts: dict[int, ev.NodeLost] = {}
        for s in node.silent:
            when = s.restart
            for name in s.masters:
                times = takeovers.get(name, [])
                for k in range(bisect_right(times, (s.last, "\uffff")), len(times)):
                    t, who = times[k]
                    if t > s.restart:
                        break
                    if who != node.name:
                        when = min(when, max(s.last, t - 1e-6))
                        break
            stamp = time.strftime("%H:%M:%S", time.localtime(s.restart))
            inserts[s.index] = ev.NodeLost(
                when, node.name, reason=f"{reason}: no stop logged before it started again "
                                        f"at {stamp}")
        if not inserts:
            continue
        # one pass: inserting one by one is quadratic on a long history
        events, at = node.events, sorted(inserts)
        rebuilt: list[ev.Event] = []
        start = 0
        for index in at:
            rebuilt.extend(events[start:index])
            rebuilt.append(inserts[index])
            start = index
        rebuilt.extend(events[start:])
        node.events[:] = rebuilt
        # an event at k moves past every insert at or before it; insert m lands at at[m] + m
        moved = [k + bisect_right(at, k) for k in node.notable]
        node.notable = sorted(moved + [index + m for m, index in enumerate(at)])


def _address_map(nodes: list[_Node]) -> dict[str, str]:
    owners = {a: node.name for node in nodes for a in node.addresses}
    if len(nodes) == 2:
        for me, other in (nodes, nodes[::-1]):
            if any(owner == me.name for owner in owners.values()):
                continue
            for _i, e in other.of(ev.AdvertReceived):
                if e.source and e.priority > 0 and owners.get(e.source, me.name) == me.name:
                    owners[e.source] = me.name
    return owners


def merge_nodes(inputs: Sequence[NodeInput], *, silent_reason: str = "fell silent",
                tolerance: float = CAUSAL_TOLERANCE) -> tuple[list[ev.Event], list[str]]:
    """One list of every node's events in causal time order, and notes on what moved.
    The input lists may be changed in place."""
    notes: list[str] = []
    nodes = [_Node(n, *item) for n, item in enumerate(inputs)]
    for node in nodes:
        node.index(notes)
    _place_silent(nodes, silent_reason)
    owners = _address_map(nodes)
    for node in nodes:
        mine = sorted((a for a, who in owners.items() if who == node.name),
                      key=lambda a: ":" in a)
        if mine:
            for i, e in list(node.of(ev.NodeSeen)):
                if not e.address:
                    node.events[i] = dataclasses.replace(e, address=mine[0])
    merge = _Merge(nodes, owners, tolerance)
    merged = merge.run()
    for name, shift in merge.moved.items():
        notes.append(f"{name}: some lines stamped up to {shift:.3f} s before the other "
                     "node's lines they answer (clock offset?); moved after them")
    return merged, notes


def _masterships(node: _Node) -> dict[Member, list[_Mastership]]:
    out: dict[Member, list[_Mastership]] = {}
    current: dict[str, _Mastership] = {}
    priority: dict[str, int] = {}
    events = node.events
    for i in node.notable:
        e = events[i]
        kind = type(e)
        if kind is ev.Transition:
            assert isinstance(e, ev.Transition)
            name = e.instance
            if e.new == _MASTER and name not in current:
                known = priority.get(name)
                entered = current[name] = _Mastership(
                    i, e.t, priorities=None if known is None else {known})
                out.setdefault((node.name, name), []).append(entered)
            elif e.new != _MASTER and name in current:
                left = current.pop(name)
                left.exit, left.exit_t = i, e.t
        elif kind is ev.NodeLost:
            for name in list(current):
                left = current.pop(name)
                left.exit, left.exit_t = i, e.t
        elif kind is ev.NodeSeen:
            priority.clear()
        elif kind is ev.PriorityChange:
            assert isinstance(e, ev.PriorityChange)
            priority[e.instance] = e.new
            stay = current.get(e.instance)
            if stay is not None:
                stay.priorities = (stay.priorities or {e.old}) | {e.new}
    return out


class _Merge:
    """The causal merge of the module docstring."""

    def __init__(self, nodes: list[_Node], owners: dict[str, str], tolerance: float) -> None:
        self.nodes = nodes
        self.tolerance = tolerance
        self.names = [node.name for node in nodes]
        number = {node.name: node.number for node in nodes}
        stays: dict[Member, list[_Mastership]] = {}
        zeros: dict[str, list[tuple[float, int, int]]] = {}  # instance -> (t, node, position)
        heard: list[tuple[float, int, int, ev.AdvertReceived]] = []
        for node in nodes:
            stays.update(_masterships(node))
            n, events = node.number, node.events
            for i in node.notable:
                e = events[i]
                kind = type(e)
                if kind is ev.AdvertReceived:
                    assert isinstance(e, ev.AdvertReceived)
                    heard.append((e.t, n, i, e))
                elif (kind is ev.Transition or kind is ev.AdvertSent) and (
                        (isinstance(e, ev.Transition) and e.old == _MASTER and
                        e.new in _ZERO_STATES) or
                        (isinstance(e, ev.AdvertSent) and e.priority == 0)):
                    zeros.setdefault(e.instance, []).append((e.t, n, i))
        for found in zeros.values():
            found.sort()
        heard.sort(key=lambda h: h[:3])
        starts = {m: [s.entry_t for s in ss] for m, ss in stays.items()}
        self.before: dict[Position, list[Position]] = {}  # what must come first
        # Priority 0 first: which one an advert answers does not depend on the rest.
        for _t, n, i, e in heard:
            if e.priority == 0:
                sender = owners.get(e.source) if e.source else None
                if sender != self.names[n]:
                    zero = _zero_of(e.t, zeros.get(e.instance, []), n,
                                    number.get(sender) if sender else None, tolerance)
                    if zero is not None:
                        self._edge(zero, (n, i))
        for _t, n, i, e in heard:
            sender = owners.get(e.source) if e.source else None
            if e.priority == 0 or sender is None or sender == self.names[n]:
                continue
            member = (sender, e.instance)
            x = number[sender]
            candidates = _stays_of(e.t, e.priority, stays.get(member, []),
                                   starts.get(member, []), tolerance)
            sure = len(candidates) == 1 and candidates[0].entry_t <= e.t and (
                candidates[0].exit_t is None or candidates[0].exit_t >= e.t)
            for stay in candidates:  # (a lone mastership the stamp falls in needs no check)
                if sure or not self._cycle(n, i, x, stay):
                    self._edge((x, stay.entry), (n, i))
                    if stay.exit is not None:
                        self._edge((n, i), (x, stay.exit))
                    break
        self.moved: dict[str, float] = {}

    def _edge(self, first: Position, then: Position) -> None:
        self.before.setdefault(then, []).append(first)

    def _cycle(self, n: int, i: int, x: int, stay: _Mastership) -> bool:
        """Whether hearing at (n, i) from `stay` of node x contradicts what is known:
        its entry already comes after (n, i) or later, or (n, i) after its exit."""
        if self._reaches((n, i), (x, stay.entry)):
            return True
        return stay.exit is not None and self._reaches((x, stay.exit), (n, i))

    def _reaches(self, source: Position, target: Position, budget: int = 400) -> bool:
        """Whether `target` must come after `source` (or a later event of its node): a
        search back from `target` over edges and each node's own order, within a budget
        (the constraints that matter are a few seconds and a few lines around)."""
        sn, si = source
        floor = self.nodes[sn].events[si].t - 2 * self.tolerance
        stack = [target]
        seen: set[Position] = set()
        while stack and budget > 0:
            budget -= 1
            n, i = stack.pop()
            if n == sn and i >= si:
                return True
            if (n, i) in seen:
                continue
            seen.add((n, i))
            stack.extend(self.before.get((n, i), ()))
            node = self.nodes[n]
            k = bisect_right(node.notable, i - 1) - 1  # the notable event before it
            if k >= 0 and node.events[node.notable[k]].t >= floor:
                stack.append((n, node.notable[k]))
        return False

    def run(self) -> list[ev.Event]:
        count = len(self.nodes)
        lists = [node.events for node in self.nodes]
        # per node: position -> the (node, position)s it waits for; positions waited for
        before: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(count)]
        waited: list[set[int]] = [set() for _ in range(count)]
        for (n, i), firsts in self.before.items():
            before[n][i] = firsts
            for pn, pi in firsts:
                waited[pn].add(pi)
        # Stamps, and the positions the rules look at: between two of those, a node's
        # events go out as a slice (most of a history: log lines between facts).
        times = [[e.t for e in events] for events in lists]
        special = [sorted(set(before[n]) | waited[n]) for n in range(count)]
        done = [0] * count  # how many of each node's events are out
        stamp = [float("-inf")] * count  # the last stamp out, per node
        out_t: dict[tuple[int, int], float] = {}  # stamps of events others wait for
        merged: list[ev.Event] = []
        append = merged.append
        last = float("-inf")
        in_order = True
        heap = [(events[0].t, n) for n, events in enumerate(lists) if events]
        heapq.heapify(heap)
        blocked: dict[int, tuple[int, int]] = {}  # node -> the event its head waits for
        waiting: dict[tuple[int, int], list[int]] = {}  # event -> nodes waiting for it
        inf = float("inf")
        while heap or blocked:
            if not heap:  # contradictory constraints: release the earliest waiting head
                n = min(blocked, key=lambda k: lists[k][done[k]].t)
                del blocked[n]
                forced = True
            else:
                n = heapq.heappop(heap)[1]
                forced = False
            events, pre, watched, size = lists[n], before[n], waited[n], len(lists[n])
            stamps, marked = times[n], special[n]
            limit_t, limit_n = heap[0] if heap else (inf, count)
            run_t = -inf  # a node's lines of one stamp go out together
            i = done[n]
            while i < size:
                if not forced and stamps[i] >= stamp[n]:
                    # the slice up to the next rule, the other nodes' turn, or the end
                    j = min(bisect_right(marked, i - 1), len(marked))
                    end = marked[j] if j < len(marked) else size
                    upto = max(bisect_right(stamps, run_t, i, end),
                               (bisect_left if n > limit_n else bisect_right)(
                                   stamps, limit_t, i, end))
                    if upto > i:
                        merged.extend(events[i:upto])
                        if stamps[i] < last:
                            in_order = False
                        last = run_t = stamp[n] = stamps[upto - 1]
                        i = done[n] = upto
                        continue
                e = events[i]
                t = e.t
                preds = pre.get(i) if pre else None
                if preds is not None and not forced:
                    pending = next(((pn, pi) for pn, pi in preds if done[pn] <= pi), None)
                    if pending is not None:
                        blocked[n] = pending
                        waiting.setdefault(pending, []).append(n)
                        break
                forced = False
                if t > run_t and (t > limit_t or (t == limit_t and n > limit_n)):
                    heapq.heappush(heap, (t, n))
                    break
                run_t = t
                if preds is not None:
                    t = max([t, *(out_t.get(p, t) for p in preds)])
                if t < stamp[n]:
                    t = stamp[n]
                if t != e.t:
                    name = self.names[n]
                    self.moved[name] = max(self.moved.get(name, 0.0), t - e.t)
                    e = dataclasses.replace(e, t=t)
                stamp[n] = t
                if t < last:
                    in_order = False
                last = t
                append(e)
                i += 1
                done[n] = i
                if watched and (i - 1) in watched:
                    out_t[(n, i - 1)] = t
                    for w in waiting.pop((n, i - 1), ()):
                        if blocked.get(w) == (n, i - 1):
                            del blocked[w]
                            heapq.heappush(heap, (lists[w][done[w]].t, w))
                    limit_t, limit_n = heap[0] if heap else (inf, count)
        if not in_order:  # a wait released late: put it back by stamp (stable)
            merged.sort(key=attrgetter("t"))
        return merged


def _stays_of(t: float, priority: int, stays: list[_Mastership], starts: list[float],
              tolerance: float) -> list[_Mastership]:
    """The masterships an advert stamped `t` may have come from, likeliest first (see the
    module docstring): the one its stamp falls in, then by distance, the earlier first."""
    found: list[tuple[float, int, _Mastership]] = []
    j = bisect_right(starts, t + tolerance) - 1
    while j >= 0:
        stay = stays[j]
        j -= 1
        if stay.exit_t is not None and stay.exit_t < t - tolerance:
            if stay.entry_t < t - 2 * tolerance:
                break
            continue
        if stay.priorities is not None and priority not in stay.priorities:
            continue
        shift = max(0.0, stay.entry_t - t,
                    t - stay.exit_t if stay.exit_t is not None else 0.0)
        found.append((shift, j, stay))
    found.sort(key=lambda f: f[:2])
    return [stay for _shift, _j, stay in found]


def _zero_of(t: float, zeros: list[tuple[float, int, int]], node: int, sender: int | None,
             tolerance: float) -> tuple[int, int] | None:
    """The priority 0 advert sent that one heard at `t` answers: the latest sent at or
    before `t` within the tolerance, else the earliest sent after it within it."""
    j = bisect_right(zeros, (t, 1 << 30, 0))
    for k in range(j - 1, -1, -1):
        zt, zn, zi = zeros[k]
        if zt < t - tolerance:
            break
        if zn != node and (sender is None or zn == sender):
            return zn, zi
    for zt, zn, zi in zeros[j:]:
        if zt > t + tolerance:
            break
        if zn != node and (sender is None or zn == sender):
            return zn, zi
    return None
