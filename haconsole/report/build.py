"""Build the incident report from events: one pass over them, then explicit cause rules.

Why a fold of its own rather than ClusterView at each transition: the report needs what the
view forgets (each member's exit from MASTER and why, recent priority drops, who came back)
and must work from logs alone, where no CommandIssued exists. It keeps the view's
vocabulary and thresholds (grouping, live master, flapping) so the two never disagree.

Terms:
- A router is one virtual router: its instances on every node, grouped as ClusterView
  groups them, by (VRID, address family) where a source said the VRID (InstanceState);
  keepalived logs never say it, so there instances group by name (the JSON's vrid is null).
- A member (node, instance) is a live master while its state is MASTER and its node is
  not lost. NodeLost (any reason) makes every instance of the node not live, as in the
  view; a NodeSeen after it restarts them from INIT (the source reports their state next).
- The router's master is its only live master. Two or more at once for longer than
  `split_min` (1 s) is a split brain; shorter is the overlap of a preemption (one advert's
  transit, which one-second stamps and clock offsets stretch towards a second).
- A no-master window opens when a router that had a live master has none, and closes when
  one appears (the election at startup is not one); still open at the end: `end` None.
- Flapping: the view's rule (cluster/alarms.py): a member with `flap_count` (3) transitions
  into or out of MASTER (not from INIT) within `flap_window` (60 s).

A failover is a change of the router's master from A to B: B becomes the only live
master and A was the last one. It is dated when B entered MASTER. The first master of a
router (no previous one) is not a failover. `no_master_s` is the time from A's loss of
mastership to B's entry when the router had no master in between; None when B took over
while A still was master (a preemption) or when A's loss has no time of its own (a
"fell silent" NodeLost, placed at B's takeover by the log reader).

Cause rules, first match wins. "Recently" means within `cause_chain` (10 s, the view's
stopwatch chain) before the later of A's exit and B's entry (commands: up to 1 s after,
since a source reports a command when it has finished):
1. operator: a command on A or B recently and since A became master (a CommandIssued, a
   successful CommandResult, a "[haconsole] ...: requested" line, an agent's "nginx
   stopped by operator" line), or A
   left MASTER with a "... by operator" reason, or for BACKUP right after sending
   priority 0 (the agent's failover release; keepalived only does that when stopping or
   going FAULT). The sentence names the command and what followed.
2. crash: A's node was lost while master (NodeLost other than "stopped": crashed, fell
   silent, connection lost), without priority 0.
3. priority-0: A stopped cleanly: it went to STOP, or its NodeLost says "stopped", or it
   sent priority 0 just before it was lost (keepalived's VRRP child stops cleanly when
   its parent is killed).
4. check or link: A went FAULT. check when what failed is a tracked script or process
   (a failed TrackResult on A recently saying failed / timed_out / now returning N /
   quorum lost, or a FAULT reason naming a script); link otherwise (an interface, a
   FAULT the events do not explain).
5. check: A stepped down to BACKUP (a higher-priority advert) after its effective priority
   dropped recently: the sentence names the check (the PriorityChange's cause, or a failed
   TrackResult) and the priority change.
6. preempt: A stepped down without such a drop: B came back (restarted, left FAULT) or its
   priority rose recently, or simply outranks A (same priority: the higher address).
7. unknown: anything else (A followed its sync group, or its exit is not in the events).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from haconsole.cluster import events as ev
from haconsole.report.model import (
    CauseKind,
    CheckFailures,
    Failover,
    InstanceReport,
    NoMaster,
    PriorityStep,
    Report,
    SplitBrain,
)

__all__ = ["ReportConfig", "build_report"]

State = ev.State
Member = tuple[str, str]  # (node, instance)
GroupId = tuple[int, int, str]  # (vrid, family, name): vrid 0 = grouped by name

_REQUESTED = re.compile(r"\[haconsole\] (?P<command>.+): requested")
_BY_OPERATOR = re.compile(r"(?P<service>\S+) (?P<verb>stopped|started) by operator")
_SCRIPT_DETAIL = ("failed", "timed_out", "now returning", "quorum lost", "unsuccessful")
_NOT_VRRP = frozenset({"client_request"})  # event kinds about something else than a node
_WEIGHT = re.compile(r" \((?:weight|priority) [+-]?\d+\)$")


@dataclass(frozen=True)
class ReportConfig:
    """Thresholds, the view's by default (ViewConfig: flapping, cause chain)."""

    flap_count: int = 3
    flap_window: float = 60.0
    cause_chain: float = 10.0
    split_min: float = 1.0
    command_slack: float = 1.0


@dataclass
class _Exit:
    """How a member's last mastership ended."""

    t: float
    lost: bool  # its node was lost (else a state change)
    new: State | None
    reason: str
    priority_zero: bool = False  # it had just sent priority 0


@dataclass
class _MemberState:
    node: str
    name: str
    state: State = State.INIT
    effective: int | None = None
    entered: float | None = None  # when it last entered MASTER
    gap: float | None = None  # no-master time before that entry (None: overlap/unknown)
    exit: _Exit | None = None
    zero_sent: float | None = None
    flips: list[float] = field(default_factory=list)  # transitions into/out of MASTER


@dataclass
class _Router:
    report: InstanceReport
    members: dict[Member, _MemberState] = field(default_factory=dict)
    live: frozenset[str] = frozenset()
    master: str | None = None
    nm_start: float | None = None
    nm_exact: bool = True
    split_start: float | None = None
    split_nodes: set[str] = field(default_factory=set)


def build_report(events: Iterable[Any], *, since: float | None = None,
                 until: float | None = None, config: ReportConfig | None = None) -> Report:
    """The report of `events` (cluster events, and the console's CommandIssued notes) for
    the window [since, until] (default: the events' span). Events before `since` set the
    state the window starts from. A pure function: same events, same report."""
    items = sorted(events, key=lambda e: e.t)
    return _Builder(items, since, until, config or ReportConfig()).run()


class _Builder:
    def __init__(self, items: list[Any], since: float | None, until: float | None,
                 config: ReportConfig) -> None:
        self.items = items
        self.cfg = config
        first = items[0].t if items else 0.0
        last = items[-1].t if items else 0.0
        self.start = since if since is not None else first
        self.end = until if until is not None else max(last, self.start)
        self.groups = _group_ids(items)
        self.routers: dict[GroupId, _Router] = {}
        self.up: dict[str, bool] = {}
        self.nodes: set[str] = set()
        self.tracks: dict[tuple[str, str], bool] = {}
        self.failures: dict[tuple[str, str], list[float]] = {}
        self.recent_fail: dict[str, list[tuple[float, str, str]]] = {}
        self.drops: dict[Member, list[tuple[float, int, int, str]]] = {}
        self.rises: dict[Member, list[tuple[float, int, int, str]]] = {}
        self.returns: dict[str, list[tuple[float, str]]] = {}
        self.commands: dict[str, list[tuple[float, str]]] = {}
        self.services_down: dict[str, list[tuple[float, str]]] = {}
        self.vips: dict[GroupId, set[str]] = {}
        self.owners: dict[str, str] = {}  # address -> node (NodeSeen, InstanceState)
        self.software: dict[str, str] = {}  # node -> "keepalived 2.4.3" (NodeSeen)

    # ------------------------------------------------------------------ the pass
    def run(self) -> Report:
        for gid in sorted(set(self.groups.values())):
            self._router(gid)
        opened = False
        for item in self.items:
            if item.t > self.end:
                break
            if not opened and item.t >= self.start:
                self._open_window()
                opened = True
            self._fold(item)
        if not opened:
            self._open_window()
        for router in self.routers.values():
            self._finish(router)
        instances = sorted((r.report for r in self.routers.values()),
                           key=lambda r: (r.instance, r.vrid or 0, r.family or 0))
        return Report(self.start, self.end, sorted(self.nodes), instances,
                      {node: self.software[node] for node in sorted(self.software)})

    def _open_window(self) -> None:
        """The window starts: each router's master then is the first of its sequence."""
        for router in self.routers.values():
            if router.master is not None and router.master in router.live:
                router.report.masters.append(router.master)

    def in_window(self, t: float) -> bool:
        return self.start <= t <= self.end

    def _router(self, gid: GroupId) -> _Router:
        router = self.routers.get(gid)
        if router is None:
            vrid, family, name = gid
            report = InstanceReport(name, vrid or None, family or None, (), ())
            router = self.routers[gid] = _Router(report)
        return router

    def _member(self, node: str, name: str) -> tuple[_Router, _MemberState]:
        gid = self.groups.get((node, name)) or (0, 0, name)
        router = self._router(gid)
        member = router.members.get((node, name))
        if member is None:
            member = router.members[(node, name)] = _MemberState(node, name)
        return router, member

    def _fold(self, e: Any) -> None:
        if getattr(e, "kind", "") in _NOT_VRRP:
            return  # e.g. a client probe's requests: their `node` is the probe
        node = e.node
        self.nodes.add(node)
        if node not in self.up:
            self.up[node] = True
        kind = type(e)
        if kind is ev.LogLine:
            self._log_line(e)
        elif kind is ev.Transition:
            self._transition(e)
        elif kind is ev.NodeLost:
            self._node_lost(e)
        elif kind is ev.NodeSeen:
            self._node_seen(e)
        elif kind is ev.InstanceState:
            self._instance_state(e)
        elif kind is ev.PriorityChange:
            self._priority(e)
        elif kind is ev.TrackResult:
            self._track(e)
        elif kind is ev.AdvertSent:
            if e.priority == 0:
                self._member(node, e.instance)[1].zero_sent = e.t
        elif kind is ev.AdvertReceived:
            sender = self.owners.get(e.source)
            if sender is not None and e.priority > 0 and (sender, e.instance) in self.groups:
                self._member(sender, e.instance)[1].effective = e.priority
        elif kind is ev.VipAdded:
            if e.vip:
                gid = self.groups.get((node, e.instance))
                if gid is not None:
                    self.vips.setdefault(gid, set()).add(e.vip)
        elif kind is ev.ServiceState:
            if not e.up:
                self.services_down.setdefault(node, []).append((e.t, e.service))
        elif kind is ev.CommandResult:
            if e.ok:
                self.commands.setdefault(node, []).append((e.t, e.command))
        elif hasattr(e, "command") and not hasattr(e, "kind"):  # view.CommandIssued
            self.commands.setdefault(node, []).append((e.t, str(e.command)))

    # ------------------------------------------------------------------ handlers
    def _log_line(self, e: ev.LogLine) -> None:
        text = e.text
        if "[haconsole]" in text:
            m = _REQUESTED.search(text)
            if m:
                self.commands.setdefault(e.node, []).append((e.t, m["command"]))
        elif "by operator" in text:
            m = _BY_OPERATOR.search(text)
            if m:
                verb = "stop" if m["verb"] == "stopped" else "start"
                self.commands.setdefault(e.node, []).append(
                    (e.t, f"{verb} {m['service']} on {e.node}"))

    def _transition(self, e: ev.Transition) -> None:
        router, m = self._member(e.node, e.instance)
        old, new = m.state, State(e.new)
        m.state = new
        if self.in_window(e.t):
            router.report.transitions += 1
        if old != State.INIT and State.MASTER in (old, new) and old != new:
            m.flips.append(e.t)
        if new == State.MASTER and old != State.MASTER:
            m.entered = e.t
        elif old == State.MASTER and new != State.MASTER:
            m.exit = _Exit(e.t, False, new, e.reason,
                           priority_zero=_just_before(m.zero_sent, m.entered, e.t))
        if old == State.FAULT and new == State.BACKUP:
            self.returns.setdefault(e.node, []).append((e.t, f"left FAULT ({e.reason})"))
        self._settle(router, e.t)

    def _node_lost(self, e: ev.NodeLost) -> None:
        if not self.up.get(e.node, True):
            return
        self.up[e.node] = False
        for router in self.routers.values():
            touched = False
            for (node, _name), m in router.members.items():
                if node != e.node:
                    continue
                touched = True
                if m.state == State.MASTER:
                    m.exit = _Exit(e.t, True, None, e.reason, priority_zero=_just_before(
                        m.zero_sent, m.entered, e.t))
            if touched:
                self._settle(router, e.t)

    def _node_seen(self, e: ev.NodeSeen) -> None:
        if e.address:
            self.owners[e.address] = e.node
        if e.version:
            self.software[e.node] = f"{e.agent} {e.version}".strip()
        if self.up.get(e.node, True):
            self.up[e.node] = True
            return
        self.up[e.node] = True
        self.returns.setdefault(e.node, []).append((e.t, "restarted"))
        for router in self.routers.values():
            for (node, _name), m in router.members.items():
                if node == e.node:
                    m.state = State.INIT
            self._settle(router, e.t)

    def _instance_state(self, e: ev.InstanceState) -> None:
        router, m = self._member(e.node, e.instance)
        new = State(e.state)
        if e.address:
            self.owners[e.address] = e.node
        if m.state == State.MASTER and new != State.MASTER:
            m.exit = _Exit(e.t, False, new, "reported by its source")
        if new == State.MASTER and m.state != State.MASTER:
            m.entered = e.since if e.since is not None else e.t
        m.state = new
        if e.effective_priority:
            m.effective = e.effective_priority
        if e.vips:
            self.vips.setdefault(self.groups.get((e.node, e.instance)) or (0, 0, e.instance),
                                 set()).update(e.vips)
        self._settle(router, e.t)

    def _priority(self, e: ev.PriorityChange) -> None:
        router, m = self._member(e.node, e.instance)
        m.effective = e.new
        step = (e.t, e.old, e.new, e.cause)
        (self.drops if e.new < e.old else self.rises).setdefault(
            (e.node, e.instance), []).append(step)
        if self.in_window(e.t):
            router.report.priorities.append(PriorityStep(e.t, e.node, e.old, e.new, e.cause))

    def _track(self, e: ev.TrackResult) -> None:
        key = (e.node, e.track)
        before = self.tracks.get(key)
        self.tracks[key] = e.ok
        if not e.ok:
            self.recent_fail.setdefault(e.node, []).append((e.t, e.track, e.detail))
            if before is not False and self.in_window(e.t):
                self.failures.setdefault(key, []).append(e.t)

    # ------------------------------------------------------------------ the router
    def _settle(self, router: _Router, t: float) -> None:
        live = frozenset(m.node for m in router.members.values()
                         if m.state == State.MASTER and self.up.get(m.node, True))
        before = router.live
        for node in live - before:
            m = self._master_member(router, node)
            if not before and router.nm_start is not None:
                m.gap = t - router.nm_start if router.nm_exact else None
            else:
                m.gap = None
        if before and not live:
            router.nm_start = t
            # a crash inferred from a silent log has no known start (see the docstring)
            router.nm_exact = not any(
                m.exit is not None and m.exit.t == t and m.exit.lost and
                m.exit.reason.startswith("fell silent") for m in router.members.values())
        elif live and not before and router.nm_start is not None:
            self._no_master(router, router.nm_start, t)
            router.nm_start = None
        if len(live) >= 2:
            if router.split_start is None:
                router.split_start = t
                router.split_nodes = set(live)
            else:
                router.split_nodes |= live
        elif router.split_start is not None:
            self._split(router, router.split_start, t)
            router.split_start = None
        if len(live) == 1:
            (node,) = live
            if router.master != node:
                if self.in_window(t):
                    if router.master is not None:
                        new = self._master_member(router, node)
                        router.report.failovers.append(self._failover(router, new, t))
                    router.report.masters.append(node)
                router.master = node
        router.live = live

    def _master_member(self, router: _Router, node: str) -> _MemberState:
        return next(m for m in router.members.values()
                    if m.node == node and m.state == State.MASTER)

    def _no_master(self, router: _Router, start: float, end: float | None) -> None:
        if not router.nm_exact:
            return  # the loss was only inferred at the takeover: no window to give
        if end is not None and (end <= self.start or end - start <= 0):
            return
        if start > self.end:
            return
        clipped_end = end if end is not None and end <= self.end else None
        router.report.no_master.append(NoMaster(max(start, self.start), clipped_end))

    def _split(self, router: _Router, start: float, end: float) -> None:
        if end - start <= self.cfg.split_min or end < self.start or start > self.end:
            return
        router.report.split_brain.append(SplitBrain(
            max(start, self.start), min(end, self.end), tuple(sorted(router.split_nodes))))

    def _finish(self, router: _Router) -> None:
        report = router.report
        if router.nm_start is not None:
            self._no_master(router, router.nm_start, None)
        if router.split_start is not None:
            self._split(router, router.split_start, self.end)
        names = sorted({name for _node, name in router.members})
        report.instance = "/".join(names) or report.instance
        report.nodes = tuple(sorted({node for node, _name in router.members}))
        gid = next((g for g, r in self.routers.items() if r is router), None)
        report.vips = tuple(sorted(self.vips.get(gid, set()) if gid else ()))
        cfg = self.cfg
        for m in router.members.values():
            flips = [t for t in m.flips if self.in_window(t)]
            for i in range(len(flips) - cfg.flap_count + 1):
                if flips[i + cfg.flap_count - 1] - flips[i] < cfg.flap_window:
                    report.flapping = True
                    report.flaps.append((m.node, flips[i]))
                    break
        for (node, check), times in sorted(self.failures.items()):
            if node in report.nodes:
                report.checks.append(CheckFailures(node, check, len(times), times[0], times[-1]))

    # ------------------------------------------------------------------ causes
    def _failover(self, router: _Router, new: _MemberState, t: float) -> Failover:
        assert router.master is not None
        old = next((m for m in router.members.values() if m.node == router.master), None)
        at = new.entered if new.entered is not None else t
        gap = round(new.gap, 3) if new.gap is not None else None
        if old is None or old.exit is None:
            return Failover(at, router.master, new.node, "unknown",
                            f"{router.master} left MASTER; the events do not say why",
                            None, gap)
        kind, cause, cause_node = self._cause(old, new, at, gap)
        split = next((s for s in router.report.split_brain[-1:] if s.start <= at <= s.end),
                     None)
        if split is None and router.split_start is not None and router.split_start <= at:
            split = SplitBrain(router.split_start, t, ())
        if split is not None:
            cause += f" (after a split brain from {_clock(split.start)})"
        return Failover(at, old.node, new.node, kind, cause, cause_node, gap)

    def _recent(self, items: dict[Any, list[Any]], key: Any, lo: float,
                hi: float) -> list[Any]:
        """The items (tuples, stamp first, in time order) with lo <= stamp <= hi."""
        found = items.get(key)
        if not found:
            return []
        start = bisect.bisect_left(found, lo, key=_first)
        end = bisect.bisect_right(found, hi, key=_first)
        return found[start:end]

    def _cause(self, old: _MemberState, new: _MemberState, at: float,
               gap: float | None) -> tuple[CauseKind, str, str | None]:
        exit_ = old.exit
        assert exit_ is not None
        a, b = old.node, new.node
        ref = max(exit_.t, at)
        lo, chain_hi = ref - self.cfg.cause_chain, ref + self.cfg.command_slack
        after = "" if gap is None else f"; {b} took over {gap:.3f} s later" if gap > 0 \
            else f"; {b} took over at once (same stamp)"
        # A command counts while A was master (or just before it lost that).
        since_master = max(lo, old.entered) if old.entered is not None else lo
        commands = [(t, text, who) for who in (a, b)
                    for t, text in self._recent(self.commands, who, since_master, chain_hi)]
        what = self._what_happened(old, new, exit_, lo)
        if commands:
            _t, text, who = min(commands)
            return "operator", f"operator: {text}" + (f" ({what})" if what else ""), who
        if not exit_.lost and "by operator" in exit_.reason:
            return "operator", f"{a}: {exit_.reason}", a
        if not exit_.lost and exit_.new == State.BACKUP and exit_.priority_zero:
            return "operator", (f"{a} released {old.name} (sent priority 0 and stayed "
                                f"BACKUP: an operator's failover){after}"), a
        if exit_.lost and exit_.priority_zero:
            return "priority-0", (f"{a} sent priority 0 and was lost ({exit_.reason}){after}"), a
        if exit_.lost and not exit_.reason.startswith("stopped"):
            reason = exit_.reason
            if reason.startswith("crashed"):
                why = reason.removeprefix("crashed").removeprefix(":").strip()
                text = f"{a} crashed" + (f": {why}" if why else "")
            elif reason.startswith("fell silent"):
                text = f"{a} {reason}"
            else:
                text = f"{a} was lost ({reason or 'gone'})"
            return "crash", text + ", without priority 0" + after, a
        if exit_.lost or exit_.new == State.STOP:
            how = "stopped" if exit_.lost else f"stopped ({exit_.reason})"
            return "priority-0", f"{a} {how} and sent priority 0{after}", a
        if exit_.new == State.FAULT:
            failed = self._script_failure(a, exit_, lo)
            if failed:
                return "check", f"{failed} on {a}: FAULT{after}", a
            return "link", f"{a} went FAULT ({exit_.reason or 'no reason logged'}){after}", a
        if exit_.new == State.BACKUP:
            if exit_.reason.startswith("sync group"):
                return "unknown", f"{a} followed its {exit_.reason}", a
            drops = self._recent(self.drops, (a, old.name), lo, exit_.t)
            if drops:
                _t, before, lowered, cause = drops[-1]
                named = (_WEIGHT.sub("", cause) or self._failed_track(a, lo, exit_.t)
                         or "its priority dropped")
                down = self._service_down(a, lo, exit_.t)
                rival = f", below {b}'s {new.effective}" if new.effective else ""
                return "check", (f"{down}{named} on {a}: priority {before}→{lowered}{rival}"
                                 ), a
            return "preempt", self._preempt_text(old, new, lo, at), b
        return "unknown", f"{a} left MASTER ({exit_.reason or 'no reason'})", a

    def _what_happened(self, old: _MemberState, new: _MemberState, exit_: _Exit,
                       lo: float) -> str:
        """Short words for what followed an operator's command (for its sentence)."""
        drops = self._recent(self.drops, (old.node, old.name), lo, exit_.t)
        if drops:
            _t, before, lowered, cause = drops[-1]
            cause = _WEIGHT.sub("", cause)
            return f"{cause + ', ' if cause else ''}priority {before}→{lowered} on {old.node}"
        if exit_.lost:
            return f"{old.node} {exit_.reason}"
        if exit_.new == State.STOP:
            return f"{old.node} stopped, priority 0"
        if exit_.priority_zero:
            return f"{old.node} sent priority 0"
        if exit_.new == State.FAULT:
            return f"{old.node} went FAULT"
        return ""

    def _failed_track(self, node: str, lo: float, hi: float) -> str:
        failed = self._recent(self.recent_fail, node, lo, hi)
        if not failed:
            return ""
        _t, track, detail = failed[-1]
        return f"{track} {detail}".strip()

    def _script_failure(self, node: str, exit_: _Exit, lo: float) -> str:
        if exit_.reason.startswith("script ") or "due to script" in exit_.reason:
            return exit_.reason
        for _t, track, detail in reversed(self._recent(self.recent_fail, node, lo, exit_.t)):
            if detail.startswith(_SCRIPT_DETAIL):
                return f"{track} {detail}"
        return ""

    def _service_down(self, node: str, lo: float, hi: float) -> str:
        down = self._recent(self.services_down, node, lo, hi)
        return f"{down[-1][1]} down; " if down else ""

    def _preempt_text(self, old: _MemberState, new: _MemberState, lo: float,
                      at: float) -> str:
        a, b = old.node, new.node
        ours = f" ({old.effective})" if old.effective else ""
        prio = f" with priority {new.effective}" if new.effective else ""
        rises = self._recent(self.rises, (b, new.name), lo, at)
        returns = self._recent(self.returns, b, lo, at)
        if rises and (not returns or rises[-1][0] > returns[-1][0]):
            _t, before, raised, cause = rises[-1]
            why = f"{_WEIGHT.sub('', cause)}, " if cause else ""
            return f"{b} recovered ({why}priority {before}→{raised}) and preempted {a}{ours}"
        if returns:
            return f"{b} came back ({returns[-1][1]}){prio} and preempted {a}{ours}"
        if old.exit is not None and "same priority" in old.exit.reason:
            return f"{b} has the same priority as {a} and a higher address"
        return f"{b}{prio} preempted {a}{ours}"


def _group_ids(items: list[Any]) -> dict[Member, GroupId]:
    """(node, instance) -> its router, as the view groups them (see the docstring)."""
    known: dict[Member, GroupId] = {}
    seen: set[Member] = set()
    for e in items:
        name = getattr(e, "instance", "")
        if not name or not isinstance(name, str):
            continue
        seen.add((e.node, name))
        if type(e) is ev.InstanceState and e.vrid > 0:
            family = 6 if ":" in e.address or (not e.address and e.vips and ":" in e.vips[0]) \
                else 4
            known[(e.node, name)] = (e.vrid, family, "")
    by_name: dict[str, GroupId] = {}
    for (_node, name), gid in sorted(known.items()):
        by_name.setdefault(name, gid)
    return {member: known.get(member) or by_name.get(member[1]) or (0, 0, member[1])
            for member in seen}


def _just_before(sent: float | None, entered: float | None, t: float) -> bool:
    """Whether priority 0 was sent during this mastership, at most 1.5 s before `t`."""
    return sent is not None and 0 <= t - sent <= 1.5 and (entered is None or sent >= entered)


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _clock(t: float) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
