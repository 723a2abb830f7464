"""The failover stopwatch: from a cause to the new master's first advert and its VIP.

Why a machine of its own: "how long did the VIP take to move, and why did it move" is the
figure an operator reads first, and it has more cases than it looks: a cause seen long
before the move (a check failing, then Master_Down_Interval), a cause never seen (the
console attached after it), a move back that no cause announced (a failback after a hold,
a heal, a boot), a master that comes back before anyone took over (no failover at all).

The ClusterView feeds it the happenings it folds, already resolved to virtual routers
(`GroupKey`); it keeps no clock: every time comes with the call.

Rules:
- `note` remembers the first of a run of related happenings on a node (the root cause:
  "nginx stopped" before "chk_nginx failed" before "priority 100→80");
- `cause` opens a pending failover for each router the node is the sole live master of;
- `elected` records the new master of a pending failover (the old master coming back
  instead cancels it; a new master with no pending cause is recorded "cause not observed");
- `advert` / `vip` complete it; a complete record leaves `pending`;
- `settled` is told each time a router has exactly one live master: when that master is
  not the previous one and no record covers the move (a preemption while the old master
  still advertised, a heal), a record is made for it, so the headline always shows the
  latest move of the VIP.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

GroupKey = tuple[int, int, str]  # (vrid, 4 | 6, segment): one virtual router


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
    client_outage: tuple[float, float, int] | None = None  # (first failed, recovered, failed)

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
    def client_outage_ms(self) -> float | None:
        """What the clients saw: first failed request to the first success after it."""
        if self.client_outage is None:
            return None
        return max(0.0, (self.client_outage[1] - self.client_outage[0]) * 1000.0)

    @property
    def complete(self) -> bool:
        return self.advert_t is not None and self.vip_t is not None


class Stopwatch:
    """The failovers of every virtual router; see the module docstring."""

    def __init__(self, *, cause_chain: float = 10.0, timeout: float = 30.0,
                 history: int = 100) -> None:
        self.cause_chain = cause_chain
        self.timeout = timeout
        self.pending: dict[GroupKey, FailoverRecord] = {}
        self.failovers: deque[FailoverRecord] = deque(maxlen=history)
        # node -> (text, t, recovery); recovery None: an operator's command, which
        # whatever follows within the window joins
        self._chain: dict[str, tuple[str, float, bool | None]] = {}
        self._last_master: dict[GroupKey, str] = {}
        self._owner: dict[GroupKey, str] = {}
        self._outages: dict[GroupKey, deque[tuple[float, float, int]]] = {}  # recent ones

    def current(self) -> FailoverRecord | None:
        """The failover in progress, else the latest one."""
        for rec in self.pending.values():
            return rec
        return self.failovers[-1] if self.failovers else None

    # ---------------------------------------------------------------- causes
    def note(self, node: str, text: str, t: float, *, force: bool = False,
             recovery: bool = False) -> None:
        """Remember a possible root cause on `node`: the first of a run of related
        happenings, unless forced (an operator's command starts a run that anything joins).
        A recovery (a service started, a priority rising) never joins a run of failures,
        nor the reverse: "nginx started" is the cause of a failback even when "nginx
        stopped" happened a few seconds before."""
        chain = self._chain.get(node)
        if force:
            self._chain[node] = (text, t, None)
        elif chain is None or t - chain[1] > self.cause_chain or \
                chain[2] not in (None, recovery):
            self._chain[node] = (text, t, recovery)

    def cause(self, node: str, text: str, t: float, mastered: list[tuple[GroupKey, str]],
              *, force: bool = False) -> None:
        """Something that can make `node` lose mastership happened; `mastered` lists the
        routers (and their instance names) it is the sole live master of."""
        self.note(node, text, t, force=force)
        for group, name in mastered:
            self.open(group, name, node, node, t)

    def open(self, group: GroupKey, name: str, old_master: str, cause_node: str,
             t: float) -> None:
        """A failover away from `old_master` may be starting, caused on `cause_node`."""
        rec = self.pending.get(group)
        if rec is not None and rec.old_master == old_master and not rec.new_master and \
                rec.cause_t is not None and t - rec.cause_t < self.timeout:
            return  # keep the earliest cause of this failover
        if rec is not None and rec.old_master == old_master and rec.new_master:
            return  # the failover away from it is recorded already (causes out of order)
        cause, cause_t, _recovery = self._chain.get(cause_node, ("", t, False))
        self.pending[group] = FailoverRecord(group, name, cause, cause_t, old_master)

    # ---------------------------------------------------------------- the move
    def _candidate(self, group: GroupKey, node: str, t: float) -> FailoverRecord | None:
        """The pending failover `node` is the new master of (recording it on first sight)."""
        rec = self.pending.get(group)
        if rec is None:
            return None
        if rec.cause_t is not None and t - rec.cause_t > self.timeout:
            del self.pending[group]
            return None
        if node == rec.old_master or rec.new_master not in ("", node):
            return None
        if not rec.new_master:
            rec.new_master = node
            self._record(rec)
        return rec

    def elected(self, group: GroupKey, name: str, node: str, t: float, reason: str, *,
                alone: bool, holds_vips: bool) -> None:
        """`node` entered MASTER at `t`; `alone`: no other live master of the router."""
        previous = self._last_master.get(group)
        self._last_master[group] = node
        rec = self.pending.get(group)
        if rec is not None and node == rec.old_master and not rec.new_master:
            del self.pending[group]  # the old master came back: no failover happened
            return
        rec = self._candidate(group, node, t)
        if rec is None and previous and previous != node and alone:
            rec = FailoverRecord(group, name, f"{reason} (cause not observed)", None,
                                 previous, node)
            self._record(rec)
            self.pending[group] = rec
        if rec is not None and rec.elected_t is None:
            rec.elected_t = t
        if rec is not None:
            if holds_vips:
                rec.vip_t = rec.vip_t or t
            self._settle(rec)

    def advert(self, group: GroupKey, node: str, t: float) -> None:
        """`node` sent (or was heard sending) a non-zero priority advert at `t`."""
        rec = self._candidate(group, node, t)
        if rec is not None and rec.advert_t is None:
            rec.advert_t = t
            self._settle(rec)

    def vip(self, group: GroupKey, node: str, t: float) -> None:
        """`node` added a VIP of the router at `t`."""
        rec = self.pending.get(group)
        if rec is not None and rec.vip_t is None and node != rec.old_master:
            rec.vip_t = t
            self._settle(rec)

    def settled(self, group: GroupKey, name: str, node: str, t: float, *,
                elected_t: float | None, vip_t: float | None, reason: str,
                hold_ended: float | None = None) -> None:
        """The router has exactly one live master, `node`. A move no record covers gets
        one: timed from a cause on either node when one was noted, else from the end of
        an operator's hold `node` had, else untimed."""
        previous = self._owner.get(group)
        self._owner[group] = node
        if previous is None or previous == node:
            return
        latest = next((r for r in reversed(self.failovers) if r.group == group), None)
        if latest is not None and (latest.old_master, latest.new_master) == (previous, node):
            return
        if self.pending.get(group) is not None and not self.pending[group].new_master:
            del self.pending[group]
        cause, cause_t = "", None
        for who in (node, previous):
            chain = self._chain.get(who)
            if chain is not None and elected_t is not None and \
                    0 <= elected_t - chain[1] <= self.cause_chain:
                cause, cause_t = chain[0], chain[1]
                break
        if not cause and hold_ended is not None:
            cause, cause_t = f"failover hold on {node} ended (preemption)", hold_ended
        if not cause:
            cause = f"{reason or 'took over'} (cause not observed)"
        rec = FailoverRecord(group, name, cause, cause_t, previous, node,
                             elected_t=elected_t, advert_t=elected_t, vip_t=vip_t)
        self._record(rec)
        if not rec.complete:
            self.pending[group] = rec

    def client_outage(self, group: GroupKey, start: float, end: float, failed: int) -> None:
        """Clients of the router's VIP failed from `start` to `end`: it belongs to the
        latest failover that happened during it (or whose cause came just before). The
        probe is a source of its own, so the new master's first answer can arrive before
        the new master's transition does: the outage is also kept a while, for the
        failover recorded just after it (`_record`), and a pending failover (its cause
        seen, its new master not yet) takes it at once."""
        outage = (start, end, failed)
        self._outages.setdefault(group, deque(maxlen=8)).append(outage)
        rec = self.pending.get(group)
        if rec is not None and self._pin(rec, outage):
            return
        latest = next((r for r in reversed(self.failovers) if r.group == group), None)
        if latest is not None:
            self._pin(latest, outage)

    def _pin(self, rec: FailoverRecord, outage: tuple[float, float, int]) -> bool:
        """Give `rec` the outage if the failover began during it (or its cause came
        less than `timeout` before it) and it is the longest `rec` has seen (of the
        same length: the one with more failed requests, a late timeout joined it)."""
        start, end, _failed = outage
        began = rec.cause_t if rec.cause_t is not None else rec.elected_t
        if began is None or not start - self.timeout <= began <= end:
            return False
        held = rec.client_outage
        if held is None or (end - start, outage[2]) > (held[1] - held[0], held[2]):
            rec.client_outage = outage
        return True

    def _record(self, rec: FailoverRecord) -> None:
        """A failover with its new master: it takes a client outage told before it."""
        self.failovers.append(rec)
        for outage in self._outages.get(rec.group, ()):
            self._pin(rec, outage)

    def _settle(self, rec: FailoverRecord) -> None:
        if rec.complete and rec.new_master and self.pending.get(rec.group) is rec:
            del self.pending[rec.group]
