"""Alarms: everything an operator must look at now, as a pure function of the view and `now`.

Why a function and not state: the same alarms serve the banner, `status`, metrics and the
incident report, live or replayed; computing them from the folded view at a given instant
means they can never disagree, and an alarm ends by itself when its cause does.

The rule an on-call engineer needs most: never say "all clear" while degraded. So beyond
the protocol alarms (split brain, no master, flapping, priority inversion) there are the
service alarms: the VIP sits on a node whose service is down, a router has no healthy
backup left, a node is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from haconsole.cluster.view import ClusterView, GroupKey, InstanceView

#: kind -> the banner's title and severity. Critical: clients are (or may be) failing now.
KINDS: dict[str, tuple[str, str]] = {
    "split-brain": ("SPLIT BRAIN", "critical"),
    "no-master": ("NO MASTER", "critical"),
    "service-down": ("SERVICE DOWN ON VIP OWNER", "critical"),
    "degraded": ("DEGRADED", "warning"),
    "node-lost": ("NODE LOST", "warning"),
    "flapping": ("FLAPPING", "warning"),
    "priority-inversion": ("PRIORITY INVERSION", "warning"),
    "stale-source": ("STALE SOURCE", "warning"),
    "clock-skew": ("CLOCK SKEW", "warning"),
    # what passive captures show (cluster.wire): only when a wire source reports
    "wire-two-masters": ("TWO MASTERS ON THE WIRE", "critical"),
    "wire-vip-two-macs": ("VIP ANSWERED BY TWO MACS", "critical"),
    "wire-auth-mismatch": ("AUTH MISMATCH", "warning"),
    "wire-vrid-collision": ("VRID COLLISION", "warning"),
    "wire-unknown-speaker": ("UNKNOWN SPEAKER", "warning"),
    "wire-arp-owner": ("ARP OWNER NOT MASTER", "warning"),
    "wire-ttl": ("ADVERT TTL NOT 255", "warning"),
    "wire-interval-mismatch": ("INTERVAL MISMATCH", "warning"),
}


@dataclass(frozen=True)
class Alarm:
    kind: str  # a key of KINDS
    severity: str  # "critical" | "warning"
    message: str
    since: float
    instance: str = ""  # the instance (router) it is about, "" for node-wide alarms
    node: str = ""  # the node it is about, "" for router-wide alarms

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, (self.kind.upper(), ""))[0]


def _alarm(kind: str, message: str, since: float, *, instance: str = "",
           node: str = "") -> Alarm:
    return Alarm(kind, KINDS[kind][1], message, since, instance, node)


def alarms(view: ClusterView, now: float) -> list[Alarm]:
    """Every alarm at `now`, most severe first, then oldest first."""
    out: list[Alarm] = []
    for group, members in view.groups().items():
        out.extend(_router_alarms(view, group, members, now))
    for vip in view.vips.values():
        if len(vip.holders) > 1:
            holders = sorted(vip.holders)
            out.append(_alarm("split-brain", f"VIP {vip.vip} is on {' and '.join(holders)}",
                              max(vip.holders.values()), instance=vip.instance))
    cfg = view.config
    for inst in view.instances.values():
        recent = [t for t in inst.transition_times if now - cfg.flap_window < t <= now]
        if len(recent) >= cfg.flap_count:
            out.append(_alarm("flapping", f"{inst.name} on {inst.node}: {len(recent)} "
                              f"transitions in {cfg.flap_window:g} s", recent[0],
                              instance=inst.name, node=inst.node))
    for node in view.nodes.values():
        if not node.up:
            out.append(_alarm("node-lost", f"{node.name} is lost "
                              f"({node.lost_reason or 'gone'})", node.lost_at, node=node.name))
        elif not node.health_ok:
            out.append(_alarm("stale-source", f"{node.name}: "
                              f"{node.health_detail or 'source unhealthy'}", node.last_event,
                              node=node.name))
        elif now - node.last_event > cfg.stale_after:
            out.append(_alarm("stale-source", f"{node.name}: no news for "
                              f"{now - node.last_event:.0f} s", node.last_event, node=node.name))
        if node.clock_offset is not None and abs(node.clock_offset) > cfg.clock_skew:
            out.append(_alarm("clock-skew", f"{node.name}'s clock is {node.clock_offset:+.1f} s "
                              "off this console's: its times are corrected, but check NTP",
                              node.first_seen, node=node.name))
    out.extend(_wire_alarms(view, now))
    out.sort(key=lambda a: (a.severity != "critical", a.since))
    return out


def _wire_alarms(view: ClusterView, now: float) -> list[Alarm]:
    """What the wire contradicts or reveals (rules: `cluster.wire.WireView.problems`)."""
    return [_alarm(p.kind, p.message, p.since, instance=p.instance, node=p.node)
            for p in view.wire.problems(view, now)]


def _router_alarms(view: ClusterView, group: GroupKey, members: list[InstanceView],
                   now: float) -> list[Alarm]:
    out: list[Alarm] = []
    name = members[0].name
    label = f"{name} (VRID {group[0]})"
    masters = [m for m in members if m.live_master]
    if len(masters) > 1:
        nodes = " and ".join(sorted(m.node for m in masters))
        since = max(m.last_transition.t if m.last_transition else m.first_seen
                    for m in masters)
        out.append(_alarm("split-brain", f"{label} is MASTER on {nodes}", since,
                          instance=name))
    live = [m for m in members if not m.lost]
    if not masters:
        since = view.no_master_since(group, min(m.first_seen for m in members))
        grace = max(m.master_down_interval for m in members) if live else 0.0
        if now - since > grace:
            out.append(_alarm("no-master", f"{label} has no MASTER", since, instance=name))
        return out
    master = masters[0]
    problems = view.service_problems(master.node)
    if len(masters) == 1 and problems:
        since = view.problem_since(master.node) or master.first_seen
        vips = ", ".join(master.vips) or "its VIPs"
        out.append(_alarm("service-down", f"{'; '.join(problems)} on {master.node}, "
                          f"which holds {vips} ({name})", since, instance=name,
                          node=master.node))
    if len(masters) == 1 and not view.successors(group, master.node, now):
        others = [m for m in members if m.node != master.node]
        why = "; ".join(f"{m.node}: {view.unfit_reason(m, now)}" for m in others) \
            or "no other node runs it"
        since = max([view.problem_since(m.node) or m.first_seen for m in others] or
                    [master.first_seen])
        out.append(_alarm("degraded", f"{label} has no healthy backup ({why})", since,
                          instance=name))
    inv_since = view.inversion_since(group)
    if inv_since is not None:
        backup = view.inverted_backup(members, master, now)
        # a backup whose hold just ended gets its Master_Down_Interval to preempt
        start = max(inv_since, backup.hold_until or inv_since) if backup else inv_since
        if backup is not None and now - start > backup.master_down_interval + backup.advert_int:
            out.append(_alarm(
                "priority-inversion",
                f"{name}: {backup.node} has priority {backup.effective_priority} > "
                f"MASTER {master.node} ({master.effective_priority})", inv_since,
                instance=name, node=backup.node))
    return out

