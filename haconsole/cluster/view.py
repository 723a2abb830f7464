"""ClusterView: the pure fold of `cluster.events` into what an operator looks at.

Why a fold: every source (lab, agent, keepalived over SSH, passive capture, a recording)
speaks the same events, so one fold gives every screen, export and report the same figures,
and replaying the same events gives the same view. Nothing here reads a clock: time comes
from the events' `t` or from an explicit `now`.

What it keeps: the last known facts per node / instance / VIP, the transitions, the merged
log (ordered by time across nodes), advert rates over a sliding window (per-packet events
or cumulative `AdvertCounters`), and the inputs of the two derived parts that live in
their own modules: `cluster.alarms` (a pure function of the view and `now`) and
`cluster.stopwatch` (the failover stopwatch, fed as events are folded).

`apply` / `apply_all` return what changed (`Changes`) so a UI repaints only that.

Instances are grouped by (VRID, address family): one group is one virtual router on one
segment, whatever each node calls its instance.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from haconsole.cluster import alarms as alarm_rules
from haconsole.cluster import events as ev
from haconsole.cluster.alarms import Alarm
from haconsole.cluster.commands import outcome
from haconsole.cluster.stopwatch import FailoverRecord, Stopwatch
from haconsole.cluster.wire import WIRE_EVENTS, WireView
from haconsole.vrrp import timing

__all__ = [
    "Alarm",
    "Changes",
    "ClusterView",
    "CommandIssued",
    "FailoverRecord",
    "InstanceView",
    "LogEntry",
    "NodeView",
    "TransitionRecord",
    "ViewConfig",
    "VipView",
]

GroupKey = tuple[int, int, str]  # (vrid, 4 | 6, segment): one virtual router
InstanceKey = tuple[str, str]  # (node, instance)

_INSTANCE_PREFIX = re.compile(r"^\((?P<name>[^)]+)\)")


@dataclass(frozen=True)
class CommandIssued:
    """Not a source event: the console's own note that it sent a command (a stopwatch cause)."""

    t: float
    node: str
    command: str


@dataclass(frozen=True)
class TransitionRecord:
    t: float
    node: str
    instance: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class LogEntry:
    """One line of the merged log: keepalived's own lines and haconsole's notes."""

    seq: int
    t: float
    node: str
    text: str
    level: str = "info"
    instance: str = ""


@dataclass
class NodeView:
    name: str
    first_seen: float
    last_event: float
    address: str = ""
    agent: str = ""
    version: str = ""  # the agent's release, as its source said ("" unknown)
    up: bool = True
    lost_reason: str = ""
    lost_at: float = 0.0
    services: dict[str, bool] = field(default_factory=dict)
    tracks: dict[str, bool] = field(default_factory=dict)
    # since when each service / track has its current result (for "down since")
    changed_at: dict[str, float] = field(default_factory=dict)
    health_ok: bool = True
    health_detail: str = ""
    clock_offset: float | None = None  # node clock - console clock, measured at attach
    clock_error: float = 0.0
    history_end: float | None = None  # where the node's past (read at attach) ended

    @property
    def software(self) -> str:
        """What runs VRRP there, in words: "keepalived 2.4.3", "haconsole 0.4.0"; the
        agent alone when its release is unknown; "" when nothing said."""
        return f"{self.agent} {self.version}" if self.agent and self.version else \
            self.agent or self.version

    def failing(self) -> list[str]:
        """The node's services that are down and its checks that fail, in words."""
        out = [f"{name} down" for name, up in sorted(self.services.items()) if not up]
        out.extend(f"{name} failing" for name, ok in sorted(self.tracks.items()) if not ok)
        return out


@dataclass
class InstanceView:
    node: str
    name: str
    first_seen: float
    vrid: int = 0
    state: str = "INIT"
    base_priority: int = 0
    effective_priority: int = 0
    interface: str = ""
    version: int = 2
    advert_int: float = 1.0
    vips: tuple[str, ...] = ()
    address: str = ""
    master_address: str = ""
    hold_until: float | None = None  # an operator's failover hold (wall clock)
    segment: str = ""  # which segment, when the source sees several (see InstanceState)
    since: float | None = None  # when it entered its state, as its node reported
    state_t: float = 0.0  # the time of the fact `state` comes from (older facts are history)
    priority_cause: str = ""
    lost: bool = False
    last_transition: TransitionRecord | None = None
    transition_times: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    adverts: deque[tuple[float, int, int]] = field(default_factory=deque)  # (t, sent, recv)
    counters: tuple[int, int] | None = None
    stats: dict[str, int] = field(default_factory=dict)  # keepalived's counters, as reported
    entered: dict[str, int] = field(default_factory=dict)  # transitions seen, by new state

    @property
    def key(self) -> InstanceKey:
        return (self.node, self.name)

    @property
    def group(self) -> GroupKey:
        return (self.vrid, 6 if ":" in self.address else 4, self.segment)

    @property
    def weight(self) -> int:
        """The sum of applied track weights: effective minus base priority."""
        return self.effective_priority - self.base_priority

    @property
    def live_master(self) -> bool:
        return self.state == "MASTER" and not self.lost

    def hold_left(self, now: float) -> float | None:
        """Seconds left of the operator's failover hold, or None when none runs."""
        if self.hold_until is None or self.hold_until <= now or self.lost:
            return None
        return self.hold_until - now

    @property
    def master_down_interval(self) -> float:
        """3 * Advertisement_Interval + Skew_Time for this instance's version and priority
        (haconsole.vrrp.timing: v2's Skew_Time does not scale with the interval)."""
        return timing.master_down_interval(self.version, self.advert_int,
                                           self.effective_priority)


@dataclass
class VipView:
    vip: str
    instance: str = ""
    owner: str = ""
    since: float | None = None
    previous_owner: str = ""
    holders: dict[str, float] = field(default_factory=dict)  # node -> since


@dataclass(frozen=True)
class ClientOutage:
    """What a client saw: from the first request that failed to the first that succeeded
    after it, and how many failed in between."""

    vip: str
    start: float
    end: float
    failed: int

    @property
    def ms(self) -> float:
        return max(0.0, (self.end - self.start) * 1000.0)


@dataclass
class ClientView:
    """One probe target (a URL through a VIP), as its client saw it."""

    target: str
    vip: str
    client: str
    first_seen: float
    results: deque[tuple[float, bool, str, str]] = field(default_factory=deque)
    #          (sent at, ok, served by, error) for the last minute
    last_served_by: str = ""
    last_error: str = ""
    last_error_t: float | None = None
    last_ok_t: float | None = None
    outage_since: float | None = None  # the first failed request of a running outage
    outage_failed: int = 0
    outages: deque[ClientOutage] = field(default_factory=lambda: deque(maxlen=50))

    def window(self, now: float, seconds: float) -> tuple[int, int]:
        """(requests, successes) sent in the `seconds` before `now`."""
        sent = ok = 0
        for t, good, _by, _err in reversed(self.results):
            if t <= now - seconds:
                break
            if t <= now:
                sent += 1
                ok += good
        return sent, ok

    def strip(self, now: float, buckets: int) -> list[tuple[int, int]]:
        """(successes, failures) per second for the last `buckets` seconds, oldest first."""
        out = [(0, 0)] * buckets
        for t, good, _by, _err in reversed(self.results):
            age = int(now - t)
            if age >= buckets:
                break
            if age >= 0:
                ok, bad = out[buckets - 1 - age]
                out[buckets - 1 - age] = (ok + good, bad + (not good))
        return out


@dataclass
class Changes:
    """What folding some events changed, for a UI that repaints only that."""

    instances: set[InstanceKey] = field(default_factory=set)  # rows to redraw
    panels: bool = False  # state beyond rates and log lines (alarms, VIPs, transitions)
    log: bool = False  # new log lines (or lines inserted before the newest)

    def update(self, other: Changes) -> None:
        self.instances |= other.instances
        self.panels = self.panels or other.panels
        self.log = self.log or other.log


@dataclass
class ViewConfig:
    """Thresholds: flapping is 3 transitions in 60 s by default."""

    rate_window: float = 10.0
    spark_span: int = 30  # seconds of history kept for sparklines
    flap_count: int = 3
    flap_window: float = 60.0
    stale_after: float = 10.0
    failover_timeout: float = 30.0
    cause_chain: float = 10.0
    log_lines: int = 2000
    history: int = 500
    clock_skew: float = 1.0  # a node's clock further off than this is an alarm


class ClusterView:
    """Fold events with `apply`; read the attributes; ask `alarms(now)` and rates with `now`."""

    def __init__(self, config: ViewConfig | None = None) -> None:
        self.config = config or ViewConfig()
        self.nodes: dict[str, NodeView] = {}
        self.instances: dict[InstanceKey, InstanceView] = {}
        self.vips: dict[str, VipView] = {}
        self.transitions: deque[TransitionRecord] = deque(maxlen=self.config.history)
        self.stopwatch = Stopwatch(cause_chain=self.config.cause_chain,
                                   timeout=self.config.failover_timeout)
        self.log: deque[LogEntry] = deque(maxlen=self.config.log_lines)
        self.log_seq = 0
        self.version = 0  # bumped on every applied input
        self.last_t = 0.0
        self._changes = Changes()
        self._no_master_since: dict[GroupKey, float] = {}
        self._inversion_since: dict[GroupKey, float] = {}
        self._members: dict[GroupKey, dict[InstanceKey, InstanceView]] = {}
        self._hold_ended: dict[InstanceKey, float] = {}  # when a reported hold went away
        self.clients: dict[str, ClientView] = {}  # probe target URL -> what its client saw
        self.wire = WireView()  # what passive captures show (cluster.wire)

    # ------------------------------------------------------------------ queries
    @property
    def failovers(self) -> deque[FailoverRecord]:
        return self.stopwatch.failovers

    @property
    def pending(self) -> dict[GroupKey, FailoverRecord]:
        return self.stopwatch.pending

    def current_failover(self) -> FailoverRecord | None:
        """The failover in progress, else the latest one."""
        return self.stopwatch.current()

    def alarms(self, now: float) -> list[Alarm]:
        """Everything an operator must look at now (`cluster.alarms`), most severe first."""
        return alarm_rules.alarms(self, now)

    def group_members(self, group: GroupKey) -> list[InstanceView]:
        return list(self._members.get(group, {}).values())

    def groups(self) -> dict[GroupKey, list[InstanceView]]:
        return {g: list(m.values()) for g, m in self._members.items() if m}

    def masters(self, group: GroupKey) -> list[InstanceView]:
        return [i for i in self._members.get(group, {}).values() if i.live_master]

    def master_of(self, instance: str) -> str | None:
        """The node that is live MASTER of the instance named `instance` (first if several)."""
        for inst in self.instances.values():
            if inst.name == instance and inst.live_master:
                return inst.node
        return None

    def no_master_since(self, group: GroupKey, default: float) -> float:
        return self._no_master_since.get(group, default)

    def inversion_since(self, group: GroupKey) -> float | None:
        return self._inversion_since.get(group)

    def service_problems(self, node: str) -> list[str]:
        """What is failing on a live node (services down, checks failing); [] if lost."""
        view = self.nodes.get(node)
        return view.failing() if view is not None and view.up else []

    def problem_since(self, node: str) -> float | None:
        """Since when the node's current trouble lasts (lost, or the oldest failing fact)."""
        view = self.nodes.get(node)
        if view is None:
            return None
        if not view.up:
            return view.lost_at
        times = [view.changed_at.get(name, view.first_seen)
                 for name, ok in [*view.services.items(), *view.tracks.items()] if not ok]
        return min(times) if times else None

    def unfit_reason(self, inst: InstanceView, now: float) -> str:
        """Why `inst` could not take over healthily ("" if it can), e.g. "lost (crashed)",
        "FAULT", "nginx down, chk_nginx failing"."""
        node = self.nodes.get(inst.node)
        if inst.lost or (node is not None and not node.up):
            return f"lost ({node.lost_reason if node and node.lost_reason else 'gone'})"
        if node is not None and not node.health_ok:
            return f"stale ({node.health_detail or 'source unhealthy'})"
        if node is not None and now - node.last_event > self.config.stale_after:
            return f"stale (no news for {now - node.last_event:.0f} s)"
        if inst.state != "BACKUP":
            return str(inst.state)
        return ", ".join(self.service_problems(inst.node))

    def takeover_candidate(self, group: GroupKey, leaving: str) -> InstanceView | None:
        """Who VRRP elects if `leaving` stops being master: the live BACKUP with the highest
        effective priority (the higher address on a tie), healthy or not."""
        best: InstanceView | None = None
        for m in self._members.get(group, {}).values():
            if m.node == leaving or m.lost or m.state != "BACKUP":
                continue
            if best is None or (m.effective_priority, _addr_key(m.address)) > (
                    best.effective_priority, _addr_key(best.address)):
                best = m
        return best

    def successors(self, group: GroupKey, leaving: str, now: float) -> list[InstanceView]:
        """The members that could take over from `leaving` and serve: live, BACKUP,
        reporting, service and checks fine; best first (as VRRP would elect them)."""
        fit = [m for m in self._members.get(group, {}).values()
               if m.node != leaving and not self.unfit_reason(m, now)]
        return sorted(fit, key=lambda m: (m.effective_priority, _addr_key(m.address)),
                      reverse=True)

    def inverted_backup(self, members: list[InstanceView], master: InstanceView,
                        now: float | None = None) -> InstanceView | None:
        """A preempting BACKUP with a higher effective priority than the master, if any.

        With `now`, a backup in an operator's failover hold holds back on purpose: not
        inverted while the hold runs. Without it (the fold, which has no clock) holds are
        ignored, so the inversion's start is known when a hold ends without an event.
        """
        best: InstanceView | None = None
        for m in members:
            if m.lost or m.state != "BACKUP" or m.effective_priority <= master.effective_priority:
                continue
            if now is not None and m.hold_left(now) is not None:
                continue
            if best is None or m.effective_priority > best.effective_priority:
                best = m
        return best

    def advert_rates(self, key: InstanceKey, now: float) -> tuple[float, float]:
        """(sent/s, received/s) over the last `rate_window` seconds before `now`."""
        inst = self.instances.get(key)
        if inst is None:
            return 0.0, 0.0
        start = now - self.config.rate_window
        sent = recv = 0
        for t, s, r in reversed(inst.adverts):
            if t <= start:
                break
            if t <= now:
                sent += s
                recv += r
        span = max(1.0, min(self.config.rate_window, now - inst.first_seen))
        return sent / span, recv / span

    def advert_series(self, key: InstanceKey, now: float, buckets: int = 12) -> list[int]:
        """Adverts (sent + received) per second for the last `buckets` seconds, oldest first."""
        out = [0] * buckets
        inst = self.instances.get(key)
        if inst is None:
            return out
        for t, s, r in reversed(inst.adverts):
            age = int(now - t)
            if age >= buckets:
                break
            if age >= 0:
                out[buckets - 1 - age] += s + r
        return out

    # ------------------------------------------------------------------ the fold
    def apply_all(self, items: Iterable[ev.Event | CommandIssued], *,
                  on_error: Callable[[object, Exception], None] | None = None) -> Changes:
        """Fold every item; what changed, all together. With `on_error`, an item the fold
        cannot take is reported there and skipped, and the others are still folded (a
        console must not stop showing a node because of one bad event)."""
        for item in items:
            if on_error is None:
                self._fold(item)
                continue
            try:
                self._fold(item)
            except Exception as err:
                on_error(item, err)
        changes, self._changes = self._changes, Changes()
        return changes

    def apply(self, item: ev.Event | CommandIssued) -> Changes:
        """Fold one event (or the console's CommandIssued note); what it changed."""
        return self.apply_all((item,))

    def _fold(self, item: ev.Event | CommandIssued) -> None:
        self.version += 1
        if type(item) not in _RATE_ONLY:
            self._changes.panels = True
        self.last_t = max(self.last_t, item.t)
        if isinstance(item, CommandIssued):
            self._log(item.t, item.node, f"[haconsole] {item.command}: requested")
            self._cause(item.node, item.command, item.t, force=True)
            return
        if isinstance(item, ev.ClientRequest):  # a client, not a VRRP node
            self._on_client_request(item)
            return
        if isinstance(item, WIRE_EVENTS):  # a capture point, not a VRRP node
            self._changes.panels = self.wire.apply(item) or self._changes.panels
            return
        node = self._node(item)
        handler = _HANDLERS.get(type(item))
        if handler is not None:
            handler(self, item, node)

    def _dirty(self, key: InstanceKey) -> None:
        self._changes.instances.add(key)

    def _node(self, e: ev.Event) -> NodeView:
        node = self.nodes.get(e.node)
        if node is None:
            node = self.nodes[e.node] = NodeView(e.node, e.t, e.t)
        node.last_event = max(node.last_event, e.t)
        return node

    def _instance(self, node: str, name: str, t: float, *, changed: bool = True) -> InstanceView:
        """The instance's view (created on first sight); `changed` marks its row dirty.

        Adverts only move rates, which the UI refreshes on its own clock: not dirty.
        """
        inst = self.instances.get((node, name))
        if inst is None:
            inst = self.instances[(node, name)] = InstanceView(node, name, t)
            self._members.setdefault(inst.group, {})[inst.key] = inst
            changed = True
        if changed:
            self._dirty((node, name))
        return inst

    def _regroup(self, inst: InstanceView, old: GroupKey) -> None:
        if inst.group == old:
            return
        members = self._members.get(old, {})
        members.pop(inst.key, None)
        if not members:
            self._members.pop(old, None)
            self._no_master_since.pop(old, None)
            self._inversion_since.pop(old, None)
        self._members.setdefault(inst.group, {})[inst.key] = inst

    def _log(self, t: float, node: str, text: str, level: str = "info") -> None:
        """Add a line to the merged log, in time order across nodes (a line older than the
        newest is inserted in place: nodes' streams arrive interleaved, and history too)."""
        self.log_seq += 1
        self._changes.log = True
        match = _INSTANCE_PREFIX.match(text)
        entry = LogEntry(self.log_seq, t, node, text, level,
                         match.group("name") if match else "")
        if not self.log or self.log[-1].t <= t:
            self.log.append(entry)
            return
        index = bisect.bisect_right([e.t for e in self.log], t)
        if len(self.log) == self.log.maxlen:  # full: the oldest line makes room
            if index == 0:
                return  # older than everything kept: it would be the one to go
            self.log.popleft()
            index -= 1
        self.log.insert(index, entry)
        self.log_reordered_at = self.log_seq

    log_reordered_at = 0  # the log_seq of the last line inserted before the newest

    # ---- handlers (one per event type)
    def _on_node_seen(self, e: ev.NodeSeen, node: NodeView) -> None:
        node.up, node.lost_reason = True, ""
        node.address = e.address or node.address
        if e.version:
            node.version = e.version
        elif e.agent and e.agent != node.agent:
            node.version = ""  # another daemon now: the old one's release is not its
        node.agent = e.agent or node.agent
        for inst in self.instances.values():
            if inst.node == e.node:
                inst.lost = False
                self._dirty(inst.key)

    def _on_node_lost(self, e: ev.NodeLost, node: NodeView) -> None:
        self._cause(e.node, f"{e.node} lost ({e.reason or 'gone'})", e.t)
        if node.up:
            node.lost_at = e.t
        node.up, node.lost_reason = False, e.reason
        self._log(e.t, e.node, f"[haconsole] node {e.reason or 'lost'}", "error")
        for inst in self.instances.values():
            if inst.node == e.node:
                inst.lost = True
                self._dirty(inst.key)
        for vip in self.vips.values():
            self._drop_holder(vip, e.node, e.t)
        for group in {i.group for i in self.instances.values() if i.node == e.node}:
            self._recompute_group(group, e.t)

    def _on_instance_state(self, e: ev.InstanceState, node: NodeView) -> None:
        known = (e.node, e.instance) in self.instances
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        before = _snapshot(inst)
        old_group = inst.group
        if inst.hold_until is not None and e.hold_until is None:
            self._hold_ended[inst.key] = min(inst.hold_until, e.t)
        inst.vrid = e.vrid
        if e.t >= inst.state_t:
            inst.state, inst.state_t = e.state, e.t
        inst.since = e.since if e.since is not None else inst.since
        inst.base_priority, inst.effective_priority = e.base_priority, e.effective_priority
        inst.interface, inst.version, inst.advert_int = e.interface, e.version, e.advert_int
        inst.vips, inst.address, inst.master_address = e.vips, e.address, e.master_address
        inst.hold_until = e.hold_until
        inst.segment = e.segment
        inst.lost = not node.up
        if known and _snapshot(inst) == before:
            return  # sources re-send unchanged snapshots: nothing to recompute
        self._changes.panels = True
        self._dirty(inst.key)
        self._regroup(inst, old_group)
        for vip in e.vips:
            view = self.vips.setdefault(vip, VipView(vip))
            view.instance = view.instance or e.instance
        self._recompute_group(inst.group, e.t)

    def _on_transition(self, e: ev.Transition, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t)
        if e.old == "MASTER" and e.new != "MASTER":
            self._cause(e.node, f"{e.node} left MASTER ({e.reason})", e.t)
        rec = TransitionRecord(e.t, e.node, e.instance, e.old, e.new, e.reason)
        inst.entered[e.new] = inst.entered.get(e.new, 0) + 1
        self._add_transition(rec)
        if inst.last_transition is None or e.t >= inst.last_transition.t:
            inst.last_transition = rec
        if e.t >= inst.state_t:  # a fact older than the state we hold is history only
            inst.state, inst.state_t = e.new, e.t
        if e.old != "INIT" and "MASTER" in (e.old, e.new):
            inst.transition_times.append(e.t)
        if e.new == "MASTER":
            others = [m for m in self.masters(inst.group) if m.node != inst.node]
            self.stopwatch.elected(inst.group, inst.name, inst.node, e.t, e.reason,
                                   alone=not others,
                                   holds_vips=bool(inst.vips) and all(
                                       v in self._held_by(inst.node) for v in inst.vips))
        self._recompute_group(inst.group, e.t)

    def _on_advert_sent(self, e: ev.AdvertSent, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        self._count(inst, e.t, 1, 0)
        if e.priority > 0:
            self.stopwatch.advert(inst.group, inst.node, e.t)

    def _on_advert_received(self, e: ev.AdvertReceived, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        self._count(inst, e.t, 0, 1)
        if e.priority > 0 and inst.group in self.stopwatch.pending:
            for other in self.group_members(inst.group):
                if other.address == e.source:
                    self.stopwatch.advert(other.group, other.node, e.t)

    def _on_advert_counters(self, e: ev.AdvertCounters, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        if inst.counters is not None:
            sent = e.sent - inst.counters[0]
            recv = e.received - inst.counters[1]
            if sent >= 0 and recv >= 0:  # a restart resets counters: skip that sample
                self._count(inst, e.t, sent, recv)
                if sent > 0:
                    self.stopwatch.advert(inst.group, inst.node, e.t)
        inst.counters = (e.sent, e.received)

    def _on_instance_counters(self, e: ev.InstanceCounters, node: NodeView) -> None:
        """Kept for exports (metrics) only: rates come from adverts / AdvertCounters."""
        self._instance(e.node, e.instance, e.t, changed=False).stats = dict(e.counters)

    def _on_priority_change(self, e: ev.PriorityChange, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t)
        inst.base_priority, inst.effective_priority = e.base, e.new
        inst.priority_cause = e.cause
        if e.new < e.old:
            self._cause(e.node, f"priority {e.old}→{e.new} on {e.node}"
                        + (f" ({e.cause})" if e.cause else ""), e.t)
        else:
            self.stopwatch.note(e.node, f"priority {e.old}→{e.new} on {e.node}", e.t,
                                recovery=True)
            masters = self.masters(inst.group)
            if masters and masters[0].node != e.node and \
                    e.new > masters[0].effective_priority:
                self.stopwatch.open(inst.group, inst.name, masters[0].node, e.node, e.t)
        self._recompute_group(inst.group, e.t)

    def _on_track_result(self, e: ev.TrackResult, node: NodeView) -> None:
        if node.tracks.get(e.track) != e.ok:
            node.changed_at[e.track] = e.t
        node.tracks[e.track] = e.ok
        self._recompute_node(e.node, e.t)

    def _on_vip_added(self, e: ev.VipAdded, node: NodeView) -> None:
        self._dirty((e.node, e.instance))
        vip = self.vips.setdefault(e.vip, VipView(e.vip))
        vip.instance = e.instance or vip.instance
        if e.node not in vip.holders:
            vip.holders[e.node] = e.t
        if vip.owner != e.node:
            if vip.owner:
                vip.previous_owner = vip.owner
            vip.owner, vip.since = e.node, e.t
        self.stopwatch.vip(self._group_of(e.node, e.instance), e.node, e.t)
        self._recompute_group(self._group_of(e.node, e.instance), e.t)

    def _on_vip_removed(self, e: ev.VipRemoved, node: NodeView) -> None:
        self._dirty((e.node, e.instance))
        vip = self.vips.get(e.vip)
        if vip is not None and vip.holders.get(e.node, e.t) <= e.t:  # not an older removal
            self._drop_holder(vip, e.node, e.t)

    def _on_service_state(self, e: ev.ServiceState, node: NodeView) -> None:
        if node.services.get(e.service) != e.up:
            node.changed_at[e.service] = e.t
        node.services[e.service] = e.up
        verb = "started" if e.up else "stopped"
        self._log(e.t, e.node, f"[haconsole] {e.service} is {'up' if e.up else 'DOWN'}",
                  "info" if e.up else "warning")
        if e.up:
            self.stopwatch.note(e.node, f"{e.service} {verb} on {e.node}", e.t, recovery=True)
        else:
            self._cause(e.node, f"{e.service} {verb} on {e.node}", e.t)
        self._recompute_node(e.node, e.t)

    def _on_log(self, e: ev.LogLine, node: NodeView) -> None:
        self._log(e.t, e.node, e.text, e.level)

    def _on_source_health(self, e: ev.SourceHealth, node: NodeView) -> None:
        node.health_ok, node.health_detail = e.ok, e.detail
        if not e.ok:
            self._log(e.t, e.node, f"[haconsole] source: {e.detail}", "warning")

    def _on_command_result(self, e: ev.CommandResult, node: NodeView) -> None:
        self._log(e.t, e.node, f"[haconsole] {outcome(e.command, e.ok, e.detail)}",
                  "info" if e.ok else "error")

    def _on_packet_dropped(self, e: ev.PacketDropped, node: NodeView) -> None:
        self._instance(e.node, e.instance, e.t, changed=False)

    def _on_client_request(self, e: ev.ClientRequest) -> None:
        client = self.clients.get(e.target)
        if client is None:
            client = self.clients[e.target] = ClientView(e.target, e.vip, e.node, e.t)
            self._changes.panels = True
        client.results.append((e.t, e.ok, e.served_by, e.error))
        while client.results and client.results[0][0] < e.t - 60.0:
            client.results.popleft()
        if e.ok:
            client.last_served_by = e.served_by or client.last_served_by
            if client.outage_since is not None and e.t > client.outage_since:
                self._client_outage(client, ClientOutage(
                    client.vip, client.outage_since, e.t, client.outage_failed))
                client.outage_since, client.outage_failed = None, 0
            client.last_ok_t = max(client.last_ok_t or e.t, e.t)
            return
        client.last_error, client.last_error_t = e.error or "failed", e.t
        if e.served_by:
            client.last_served_by = e.served_by
        if client.last_ok_t is not None and e.t < client.last_ok_t:
            # answered out of order: it failed before a request that already succeeded,
            # so it belongs before that success, never to an outage running now
            last = client.outages[-1] if client.outages else None
            if last is not None and last.start <= e.t <= last.end:
                # a late timeout inside the outage already told: one more failed request
                # of it, not a second outage
                self._client_outage(client, replace(last, failed=last.failed + 1),
                                    joined=True)
                return
            recovered = min((t for t, ok, _by, _err in client.results if ok and t > e.t),
                            default=client.last_ok_t)
            self._client_outage(client, ClientOutage(client.vip, e.t, recovered, 1))
            return
        if client.outage_since is None:
            client.outage_since, client.outage_failed = e.t, 0
            self._changes.panels = True
        client.outage_since = min(client.outage_since, e.t)
        client.outage_failed += 1

    def _client_outage(self, client: ClientView, outage: ClientOutage, *,
                       joined: bool = False) -> None:
        """A client outage ended (`joined`: the last one, with one more failed request)."""
        if joined:
            client.outages[-1] = outage
        else:
            client.outages.append(outage)
        self._changes.panels = True
        group = self._group_of_vip(client.vip)
        if group is not None:
            self.stopwatch.client_outage(group, outage.start, outage.end, outage.failed)

    def _group_of_vip(self, vip: str) -> GroupKey | None:
        for inst in self.instances.values():
            if vip in inst.vips or any(v.split("/", 1)[0] == vip for v in inst.vips):
                return inst.group
        return None

    def _on_clock_offset(self, e: ev.ClockOffset, node: NodeView) -> None:
        node.clock_offset, node.clock_error = e.offset, e.error
        if abs(e.offset) > self.config.clock_skew:
            self._log(e.t, e.node, f"[haconsole] clock {e.offset:+.3f} s from this console's "
                      f"(±{e.error:.3f} s): its timestamps are corrected", "warning")

    def _on_history_end(self, e: ev.HistoryEnd, node: NodeView) -> None:
        node.history_end = e.t
        self._log(e.t, e.node, f"[haconsole] history: {e.events} events"
                  + (f" from {e.source}" if e.source else "") + "; live from here")

    # ---- helpers
    def _count(self, inst: InstanceView, t: float, sent: int, recv: int) -> None:
        inst.adverts.append((t, sent, recv))
        horizon = t - max(self.config.rate_window, self.config.spark_span)
        while inst.adverts and inst.adverts[0][0] < horizon:
            inst.adverts.popleft()

    def _add_transition(self, rec: TransitionRecord) -> None:
        """Keep transitions in time order (history arrives after live facts sometimes)."""
        if not self.transitions or self.transitions[-1].t <= rec.t:
            self.transitions.append(rec)
            return
        ordered = sorted([*self.transitions, rec], key=lambda r: r.t)
        self.transitions.clear()
        self.transitions.extend(ordered)

    def _drop_holder(self, vip: VipView, node: str, t: float) -> None:
        if vip.holders.pop(node, None) is None:
            return
        if vip.owner == node:
            vip.previous_owner = node
            if vip.holders:
                vip.owner, vip.since = max(vip.holders.items(), key=lambda kv: kv[1])
            else:
                vip.owner, vip.since = "", t

    def _group_of(self, node: str, instance: str) -> GroupKey:
        inst = self.instances.get((node, instance))
        return inst.group if inst is not None else (-1, 0, "")

    def _held_by(self, node: str) -> set[str]:
        return {v.vip for v in self.vips.values() if node in v.holders}

    def _cause(self, node: str, text: str, t: float, *, force: bool = False) -> None:
        """Something that can make `node` lose mastership happened at `t`."""
        mastered = [(inst.group, inst.name) for inst in list(self.instances.values())
                    if inst.node == node
                    and [m.node for m in self.masters(inst.group)] == [node]]
        self.stopwatch.cause(node, text, t, mastered, force=force)

    def _recompute_node(self, node: str, t: float) -> None:
        """A node's health changed: its rows and the routers it is in need a new look."""
        for inst in self.instances.values():
            if inst.node == node:
                self._dirty(inst.key)

    def _recompute_group(self, group: GroupKey, t: float) -> None:
        """Track since when a group has had no master, or an inverted priority, and tell
        the stopwatch who the sole master is."""
        members = self.group_members(group)
        if not members:
            return
        masters = [m for m in members if m.live_master]
        if masters:
            self._no_master_since.pop(group, None)
            inverted = self.inverted_backup(members, masters[0]) is not None
        else:
            self._no_master_since.setdefault(group, t)
            inverted = False
        if inverted:
            self._inversion_since.setdefault(group, t)
        else:
            self._inversion_since.pop(group, None)
        if len(masters) == 1:
            master = masters[0]
            rec = master.last_transition
            held = self._held_by(master.node)
            vip_t = max((self.vips[v].holders[master.node] for v in master.vips
                         if v in held), default=None) \
                if master.vips and all(v in held for v in master.vips) else None
            hold_end = self._hold_ended.get(master.key)
            if hold_end is not None and (rec is None or not 0 <= rec.t - hold_end <=
                                         self.config.cause_chain):
                hold_end = None
            self.stopwatch.settled(group, master.name, master.node, t,
                                   elected_t=rec.t if rec else None, vip_t=vip_t,
                                   reason=rec.reason if rec else "",
                                   hold_ended=hold_end)


# Events that never change what the panels show (InstanceState marks it itself, when the
# snapshot differs: sources re-send unchanged ones).
_RATE_ONLY = {ev.AdvertSent, ev.AdvertReceived, ev.AdvertCounters, ev.LogLine,
              ev.PacketDropped, ev.InstanceState, ev.InstanceCounters, *WIRE_EVENTS}


def _addr_key(address: str) -> tuple[int, ...]:
    """Order addresses numerically (the RFC's tie-break: the higher address wins)."""
    try:
        import ipaddress

        return (int(ipaddress.ip_address(address)),)
    except ValueError:
        return (-1,)


def _snapshot(inst: InstanceView) -> tuple[object, ...]:
    return (inst.vrid, inst.state, inst.base_priority, inst.effective_priority, inst.vips,
            inst.address, inst.master_address, inst.hold_until, inst.since, inst.segment,
            inst.lost)


_HANDLERS: dict[type[ev.Event], Callable[[ClusterView, Any, NodeView], None]] = {
    ev.NodeSeen: ClusterView._on_node_seen,
    ev.NodeLost: ClusterView._on_node_lost,
    ev.InstanceState: ClusterView._on_instance_state,
    ev.Transition: ClusterView._on_transition,
    ev.AdvertSent: ClusterView._on_advert_sent,
    ev.AdvertReceived: ClusterView._on_advert_received,
    ev.AdvertCounters: ClusterView._on_advert_counters,
    ev.InstanceCounters: ClusterView._on_instance_counters,
    ev.PriorityChange: ClusterView._on_priority_change,
    ev.TrackResult: ClusterView._on_track_result,
    ev.VipAdded: ClusterView._on_vip_added,
    ev.VipRemoved: ClusterView._on_vip_removed,
    ev.ServiceState: ClusterView._on_service_state,
    ev.LogLine: ClusterView._on_log,
    ev.SourceHealth: ClusterView._on_source_health,
    ev.CommandResult: ClusterView._on_command_result,
    ev.PacketDropped: ClusterView._on_packet_dropped,
    ev.ClockOffset: ClusterView._on_clock_offset,
    ev.HistoryEnd: ClusterView._on_history_end,
}
