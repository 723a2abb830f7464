"""ClusterView: the pure fold of `cluster.events` into what an operator looks at.

Why a fold: every source (lab, agent, keepalived over SSH, passive capture) speaks the same
events, so one fold gives every screen the same figures, and it is tested without a UI.
Nothing here reads a clock: time comes from the events' `t` or from an explicit `now`.

What it derives, beyond the last known facts per node / instance / VIP:
- adverts/s sent and received over a sliding window (per-packet events or cumulative
  `AdvertCounters`, whichever the source gives);
- alarms: split brain, flapping, no master, priority inversion, stale source;
- the failover stopwatch: from a cause (a command, a service stopping, a node lost, a
  priority drop) to the new master's first advert and to its VIP being present.

Instances are grouped by (VRID, address family): one group is one virtual router on one
segment, whatever each node calls its instance.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haconsole.cluster import events as ev

GroupKey = tuple[int, int]  # (vrid, 4 | 6)
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


@dataclass(frozen=True)
class Alarm:
    kind: str  # "split-brain" | "flapping" | "no-master" | "priority-inversion" | "stale-source"
    severity: str  # "critical" | "warning"
    message: str
    since: float


@dataclass
class FailoverRecord:
    """One failover, timed from its cause (cause_t None: the cause was not observed)."""

    group: GroupKey
    instance: str
    cause: str
    cause_t: float | None
    old_master: str
    new_master: str = ""
    elected_t: float | None = None
    advert_t: float | None = None
    vip_t: float | None = None

    def _ms(self, t: float | None) -> float | None:
        if t is None or self.cause_t is None:
            return None
        return max(0.0, (t - self.cause_t) * 1000.0)

    @property
    def elected_ms(self) -> float | None:
        return self._ms(self.elected_t)

    @property
    def advert_ms(self) -> float | None:
        return self._ms(self.advert_t)

    @property
    def vip_ms(self) -> float | None:
        return self._ms(self.vip_t)

    @property
    def complete(self) -> bool:
        return self.advert_t is not None and self.vip_t is not None


@dataclass
class NodeView:
    name: str
    first_seen: float
    last_event: float
    address: str = ""
    agent: str = ""
    up: bool = True
    lost_reason: str = ""
    services: dict[str, bool] = field(default_factory=dict)
    tracks: dict[str, bool] = field(default_factory=dict)
    health_ok: bool = True
    health_detail: str = ""


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
    priority_cause: str = ""
    lost: bool = False
    last_transition: TransitionRecord | None = None
    transition_times: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    adverts: deque[tuple[float, int, int]] = field(default_factory=deque)  # (t, sent, recv)
    counters: tuple[int, int] | None = None

    @property
    def key(self) -> InstanceKey:
        return (self.node, self.name)

    @property
    def group(self) -> GroupKey:
        return (self.vrid, 6 if ":" in self.address else 4)

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
        """RFC 3768: 3 * Advertisement_Interval + Skew_Time, for this instance's priority."""
        prio = max(1, min(255, self.effective_priority))
        return 3 * self.advert_int + (256 - prio) / 256 * self.advert_int


@dataclass
class VipView:
    vip: str
    instance: str = ""
    owner: str = ""
    since: float | None = None
    previous_owner: str = ""
    holders: dict[str, float] = field(default_factory=dict)  # node -> since


@dataclass
class ViewConfig:
    """Thresholds; the defaults match the issue (3 transitions in 60 s)."""

    rate_window: float = 10.0
    spark_span: int = 30  # seconds of history kept for sparklines
    flap_count: int = 3
    flap_window: float = 60.0
    stale_after: float = 10.0
    failover_timeout: float = 30.0
    cause_chain: float = 10.0
    log_lines: int = 2000
    history: int = 500


class ClusterView:
    """Fold events with `apply`; read the attributes; ask `alarms(now)` and rates with `now`."""

    def __init__(self, config: ViewConfig | None = None) -> None:
        self.config = config or ViewConfig()
        self.nodes: dict[str, NodeView] = {}
        self.instances: dict[InstanceKey, InstanceView] = {}
        self.vips: dict[str, VipView] = {}
        self.transitions: deque[TransitionRecord] = deque(maxlen=self.config.history)
        self.failovers: deque[FailoverRecord] = deque(maxlen=100)
        self.pending: dict[GroupKey, FailoverRecord] = {}
        self.log: deque[LogEntry] = deque(maxlen=self.config.log_lines)
        self.log_seq = 0
        self.version = 0  # bumped on every applied input: the UI repaints only on change
        self.state_version = 0  # bumped by all but adverts and log lines (panels repaint)
        self.last_t = 0.0
        self.dirty: set[InstanceKey] = set()
        self._chain: dict[str, tuple[str, float]] = {}
        self._last_master: dict[GroupKey, str] = {}
        self._no_master_since: dict[GroupKey, float] = {}
        self._inversion_since: dict[GroupKey, float] = {}
        self._members: dict[GroupKey, dict[InstanceKey, InstanceView]] = {}

    # ------------------------------------------------------------------ queries
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

    def current_failover(self) -> FailoverRecord | None:
        """The failover in progress, else the latest one."""
        for rec in self.pending.values():
            return rec
        return self.failovers[-1] if self.failovers else None

    # ------------------------------------------------------------------ alarms
    def alarms(self, now: float) -> list[Alarm]:
        """Everything an operator must look at now, most severe first."""
        out: list[Alarm] = []
        for group, members in self.groups().items():
            out.extend(self._group_alarms(group, members, now))
        for vip in self.vips.values():
            if len(vip.holders) > 1:
                holders = sorted(vip.holders)
                out.append(Alarm("split-brain", "critical",
                                 f"VIP {vip.vip} is on {' and '.join(holders)}",
                                 max(vip.holders.values())))
        for inst in self.instances.values():
            recent = [t for t in inst.transition_times if now - self.config.flap_window < t <= now]
            if len(recent) >= self.config.flap_count:
                out.append(Alarm("flapping", "warning",
                                 f"{inst.name} on {inst.node}: {len(recent)} transitions in "
                                 f"{self.config.flap_window:g} s", recent[0]))
        for node in self.nodes.values():
            if not node.health_ok:
                out.append(Alarm("stale-source", "warning",
                                 f"{node.name}: {node.health_detail or 'source unhealthy'}",
                                 node.last_event))
            elif node.up and now - node.last_event > self.config.stale_after:
                out.append(Alarm("stale-source", "warning",
                                 f"{node.name}: no news for {now - node.last_event:.0f} s",
                                 node.last_event))
        out.sort(key=lambda a: (a.severity != "critical", a.since))
        return out

    def _group_alarms(self, group: GroupKey, members: list[InstanceView],
                      now: float) -> list[Alarm]:
        out: list[Alarm] = []
        name = members[0].name
        masters = [m for m in members if m.live_master]
        if len(masters) > 1:
            nodes = " and ".join(sorted(m.node for m in masters))
            since = max(m.last_transition.t if m.last_transition else m.first_seen
                        for m in masters)
            out.append(Alarm("split-brain", "critical",
                             f"{name} (VRID {group[0]}) is MASTER on {nodes}", since))
        live = [m for m in members if not m.lost]
        if not masters:
            since = self._no_master_since.get(group, min(m.first_seen for m in members))
            grace = max(m.master_down_interval for m in members) if live else 0.0
            if now - since > grace:
                out.append(Alarm("no-master", "critical",
                                 f"{name} (VRID {group[0]}) has no MASTER", since))
        inv_since = self._inversion_since.get(group)
        if inv_since is not None and masters:
            master = masters[0]
            backup = self._inverted_backup(members, master, now)
            # a backup whose hold just ended gets its Master_Down_Interval to preempt
            start = max(inv_since, backup.hold_until or inv_since) if backup else inv_since
            if backup is not None and now - start > (
                    backup.master_down_interval + backup.advert_int):
                out.append(Alarm(
                    "priority-inversion", "warning",
                    f"{name}: {backup.node} has priority {backup.effective_priority} > "
                    f"MASTER {master.node} ({master.effective_priority})", inv_since))
        return out

    @staticmethod
    def _inverted_backup(members: list[InstanceView], master: InstanceView,
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

    # ------------------------------------------------------------------ the fold
    def apply_all(self, items: list[ev.Event | CommandIssued]) -> None:
        for item in items:
            self.apply(item)

    def apply(self, item: ev.Event | CommandIssued) -> None:
        """Fold one event (or the console's CommandIssued note) into the view."""
        self.version += 1
        if type(item) not in _RATE_ONLY:
            self.state_version += 1
        self.last_t = max(self.last_t, item.t)
        if isinstance(item, CommandIssued):
            self._log(item.t, item.node, f"[haconsole] {item.command}: requested")
            self._cause(item.node, item.command, item.t, force=True)
            return
        node = self._node(item)
        handler = _HANDLERS.get(type(item))
        if handler is not None:
            handler(self, item, node)

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
            self.dirty.add((node, name))
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
        self.log_seq += 1
        match = _INSTANCE_PREFIX.match(text)
        self.log.append(LogEntry(self.log_seq, t, node, text, level,
                                 match.group("name") if match else ""))

    # ---- handlers (one per event type)
    def _on_node_seen(self, e: ev.NodeSeen, node: NodeView) -> None:
        node.up, node.lost_reason = True, ""
        node.address = e.address or node.address
        node.agent = e.agent or node.agent
        for inst in self.instances.values():
            if inst.node == e.node:
                inst.lost = False
                self.dirty.add(inst.key)

    def _on_node_lost(self, e: ev.NodeLost, node: NodeView) -> None:
        self._cause(e.node, f"{e.node} lost ({e.reason or 'gone'})", e.t)
        node.up, node.lost_reason = False, e.reason
        self._log(e.t, e.node, f"[haconsole] node {e.reason or 'lost'}", "error")
        for inst in self.instances.values():
            if inst.node == e.node:
                inst.lost = True
                self.dirty.add(inst.key)
        for vip in self.vips.values():
            self._drop_holder(vip, e.node, e.t)
        for group in {i.group for i in self.instances.values() if i.node == e.node}:
            self._recompute_group(group, e.t)

    def _on_instance_state(self, e: ev.InstanceState, node: NodeView) -> None:
        known = (e.node, e.instance) in self.instances
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        before = _snapshot(inst)
        old_group = inst.group
        inst.vrid, inst.state = e.vrid, e.state
        inst.base_priority, inst.effective_priority = e.base_priority, e.effective_priority
        inst.interface, inst.version, inst.advert_int = e.interface, e.version, e.advert_int
        inst.vips, inst.address, inst.master_address = e.vips, e.address, e.master_address
        inst.hold_until = e.hold_until
        inst.lost = not node.up
        if known and _snapshot(inst) == before:
            return  # sources re-send unchanged snapshots: nothing to recompute
        self.state_version += 1
        self.dirty.add(inst.key)
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
        self.transitions.append(rec)
        inst.last_transition = rec
        inst.state = e.new
        if e.old != "INIT" and "MASTER" in (e.old, e.new):
            inst.transition_times.append(e.t)
        if e.new == "MASTER":
            self._new_master(inst, e)
        self._recompute_group(inst.group, e.t)

    def _on_advert_sent(self, e: ev.AdvertSent, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        self._count(inst, e.t, 1, 0)
        if e.priority > 0:
            self._first_advert(inst, e.t)

    def _on_advert_received(self, e: ev.AdvertReceived, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        self._count(inst, e.t, 0, 1)
        if e.priority > 0 and inst.group in self.pending:
            for other in self.group_members(inst.group):
                if other.address == e.source:
                    self._first_advert(other, e.t)

    def _on_advert_counters(self, e: ev.AdvertCounters, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t, changed=False)
        if inst.counters is not None:
            sent = e.sent - inst.counters[0]
            recv = e.received - inst.counters[1]
            if sent >= 0 and recv >= 0:  # a restart resets counters: skip that sample
                self._count(inst, e.t, sent, recv)
                if sent > 0:
                    self._first_advert(inst, e.t)
        inst.counters = (e.sent, e.received)

    def _on_priority_change(self, e: ev.PriorityChange, node: NodeView) -> None:
        inst = self._instance(e.node, e.instance, e.t)
        inst.base_priority, inst.effective_priority = e.base, e.new
        inst.priority_cause = e.cause
        if e.new < e.old:
            self._cause(e.node, f"priority {e.old}→{e.new} on {e.node}"
                        + (f" ({e.cause})" if e.cause else ""), e.t)
        else:
            self._note_chain(e.node, f"priority {e.old}→{e.new} on {e.node}", e.t)
            masters = self.masters(inst.group)
            if masters and masters[0].node != e.node and \
                    e.new > masters[0].effective_priority:
                self._open_pending(inst.group, inst.name, masters[0].node, e.node, e.t)
        self._recompute_group(inst.group, e.t)

    def _on_track_result(self, e: ev.TrackResult, node: NodeView) -> None:
        node.tracks[e.track] = e.ok

    def _on_vip_added(self, e: ev.VipAdded, node: NodeView) -> None:
        self.dirty.add((e.node, e.instance))
        vip = self.vips.setdefault(e.vip, VipView(e.vip))
        vip.instance = e.instance or vip.instance
        if e.node not in vip.holders:
            vip.holders[e.node] = e.t
        if vip.owner != e.node:
            if vip.owner:
                vip.previous_owner = vip.owner
            vip.owner, vip.since = e.node, e.t
        rec = self.pending.get(self._group_of(e.node, e.instance))
        if rec is not None and rec.vip_t is None and e.node != rec.old_master:
            rec.vip_t = e.t
            self._settle(rec)

    def _on_vip_removed(self, e: ev.VipRemoved, node: NodeView) -> None:
        self.dirty.add((e.node, e.instance))
        vip = self.vips.get(e.vip)
        if vip is not None:
            self._drop_holder(vip, e.node, e.t)

    def _on_service_state(self, e: ev.ServiceState, node: NodeView) -> None:
        node.services[e.service] = e.up
        verb = "started" if e.up else "stopped"
        self._log(e.t, e.node, f"[haconsole] {e.service} is {'up' if e.up else 'DOWN'}",
                  "info" if e.up else "warning")
        if e.up:
            self._note_chain(e.node, f"{e.service} {verb} on {e.node}", e.t)
        else:
            self._cause(e.node, f"{e.service} {verb} on {e.node}", e.t)

    def _on_log(self, e: ev.LogLine, node: NodeView) -> None:
        self._log(e.t, e.node, e.text, e.level)

    def _on_source_health(self, e: ev.SourceHealth, node: NodeView) -> None:
        node.health_ok, node.health_detail = e.ok, e.detail
        if not e.ok:
            self._log(e.t, e.node, f"[haconsole] source: {e.detail}", "warning")

    def _on_command_result(self, e: ev.CommandResult, node: NodeView) -> None:
        verdict = "done" if e.ok else "FAILED"
        self._log(e.t, e.node, f"[haconsole] {e.command}: {verdict} - {e.detail}",
                  "info" if e.ok else "error")

    def _on_packet_dropped(self, e: ev.PacketDropped, node: NodeView) -> None:
        self._instance(e.node, e.instance, e.t, changed=False)

    # ---- helpers
    def _count(self, inst: InstanceView, t: float, sent: int, recv: int) -> None:
        inst.adverts.append((t, sent, recv))
        horizon = t - max(self.config.rate_window, self.config.spark_span)
        while inst.adverts and inst.adverts[0][0] < horizon:
            inst.adverts.popleft()

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
        return inst.group if inst is not None else (-1, 0)

    def _recompute_group(self, group: GroupKey, t: float) -> None:
        """Track since when a group has had no master, or an inverted priority."""
        members = self.group_members(group)
        if not members:
            return
        masters = [m for m in members if m.live_master]
        if masters:
            self._no_master_since.pop(group, None)
            inverted = self._inverted_backup(members, masters[0]) is not None
        else:
            self._no_master_since.setdefault(group, t)
            inverted = False
        if inverted:
            self._inversion_since.setdefault(group, t)
        else:
            self._inversion_since.pop(group, None)

    # ---- the failover stopwatch
    def _note_chain(self, node: str, text: str, t: float) -> None:
        """Remember the first of a run of related happenings on a node (the root cause)."""
        chain = self._chain.get(node)
        if chain is None or t - chain[1] > self.config.cause_chain:
            self._chain[node] = (text, t)

    def _cause(self, node: str, text: str, t: float, *, force: bool = False) -> None:
        """Something that can make `node` lose mastership happened at `t`."""
        if force:
            self._chain[node] = (text, t)
        else:
            self._note_chain(node, text, t)
        for inst in list(self.instances.values()):
            if inst.node == node and [m.node for m in self.masters(inst.group)] == [node]:
                self._open_pending(inst.group, inst.name, node, node, t)

    def _open_pending(self, group: GroupKey, name: str, old_master: str, cause_node: str,
                      t: float) -> None:
        rec = self.pending.get(group)
        if rec is not None and rec.old_master == old_master and not rec.new_master and \
                rec.cause_t is not None and t - rec.cause_t < self.config.failover_timeout:
            return  # keep the earliest cause of this failover
        cause, cause_t = self._chain.get(cause_node, ("", t))
        self.pending[group] = FailoverRecord(group, name, cause, cause_t, old_master)

    def _candidate(self, inst: InstanceView, t: float) -> FailoverRecord | None:
        """The pending failover `inst` is the new master of (recording it on first sight)."""
        rec = self.pending.get(inst.group)
        if rec is None:
            return None
        if rec.cause_t is not None and t - rec.cause_t > self.config.failover_timeout:
            del self.pending[inst.group]
            return None
        if inst.node == rec.old_master or rec.new_master not in ("", inst.node):
            return None
        if not rec.new_master:
            rec.new_master = inst.node
            self.failovers.append(rec)
        return rec

    def _first_advert(self, inst: InstanceView, t: float) -> None:
        rec = self._candidate(inst, t)
        if rec is not None and rec.advert_t is None:
            rec.advert_t = t
            self._settle(rec)

    def _new_master(self, inst: InstanceView, e: ev.Transition) -> None:
        previous = self._last_master.get(inst.group)
        self._last_master[inst.group] = inst.node
        rec = self.pending.get(inst.group)
        if rec is not None and inst.node == rec.old_master and not rec.new_master:
            del self.pending[inst.group]  # the old master came back: no failover happened
            return
        rec = self._candidate(inst, e.t)
        if rec is None and previous and previous != inst.node and \
                not any(m.node != inst.node for m in self.masters(inst.group)):
            rec = FailoverRecord(inst.group, inst.name, f"{e.reason} (cause not observed)",
                                 None, previous, inst.node)
            self.failovers.append(rec)
            self.pending[inst.group] = rec
        if rec is not None and rec.elected_t is None:
            rec.elected_t = e.t
        if rec is not None:
            if all(v in self._held_by(inst.node) for v in inst.vips) and inst.vips:
                rec.vip_t = rec.vip_t or e.t
            self._settle(rec)

    def _held_by(self, node: str) -> set[str]:
        return {v.vip for v in self.vips.values() if node in v.holders}

    def _settle(self, rec: FailoverRecord) -> None:
        if rec.complete and rec.new_master and self.pending.get(rec.group) is rec:
            del self.pending[rec.group]


# Events that never change what the panels show (InstanceState bumps it itself, when the
# snapshot differs: sources re-send unchanged ones).
_RATE_ONLY = {ev.AdvertSent, ev.AdvertReceived, ev.AdvertCounters, ev.LogLine,
              ev.PacketDropped, ev.InstanceState}


def _snapshot(inst: InstanceView) -> tuple[object, ...]:
    return (inst.vrid, inst.state, inst.base_priority, inst.effective_priority, inst.vips,
            inst.address, inst.master_address, inst.hold_until, inst.lost)


_HANDLERS: dict[type[ev.Event], Callable[[ClusterView, Any, NodeView], None]] = {
    ev.NodeSeen: ClusterView._on_node_seen,
    ev.NodeLost: ClusterView._on_node_lost,
    ev.InstanceState: ClusterView._on_instance_state,
    ev.Transition: ClusterView._on_transition,
    ev.AdvertSent: ClusterView._on_advert_sent,
    ev.AdvertReceived: ClusterView._on_advert_received,
    ev.AdvertCounters: ClusterView._on_advert_counters,
    ev.PriorityChange: ClusterView._on_priority_change,
    ev.TrackResult: ClusterView._on_track_result,
    ev.VipAdded: ClusterView._on_vip_added,
    ev.VipRemoved: ClusterView._on_vip_removed,
    ev.ServiceState: ClusterView._on_service_state,
    ev.LogLine: ClusterView._on_log,
    ev.SourceHealth: ClusterView._on_source_health,
    ev.CommandResult: ClusterView._on_command_result,
    ev.PacketDropped: ClusterView._on_packet_dropped,
}
