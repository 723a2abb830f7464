"""`haconsole status`: one snapshot of the view, judged like a monitoring plugin.

Pure: a ClusterView and `now` in; the first line (`VRRP OK|WARNING|CRITICAL|UNKNOWN -
... | perfdata`), a compact table, JSON and the exit code (0/1/2/3) out. Nagios, Icinga,
Sensu and friends read the first line and the exit code; people read the table; scripts
read the JSON. The judgement is the view's own alarms (`cluster.alarms`), each mapped
explicitly here, so `status`, the banner, the metrics and the report always agree:

| alarm | status | why |
|---|---|---|
| split-brain | CRITICAL | two masters answer for one VIP: clients are failing now |
| no-master | CRITICAL | nobody answers for the VIP |
| service-down | CRITICAL | the VIP owner's service is down: clients are failing now |
| flapping | WARNING | mastership moves back and forth |
| priority-inversion | WARNING | a better backup does not take over |
| stale-source, node-lost | WARNING | a source is down: part of the cluster is not seen |
| degraded | WARNING | no healthy backup left: one more fault is an outage |
| clock-skew | WARNING | node clocks disagree: times may mislead |

UNKNOWN (3): no instance could be read at all (nothing to judge). A kind this table does
not know falls back to its own severity (critical -> CRITICAL, else WARNING).

One node alone (`--agent`) cannot judge a router: it does not see its peers, so the
router-wide alarms (`ROUTER_ALARMS`: split brain, no master, no healthy backup, priority
inversion) are left out there, and only what the node says of itself counts.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from haconsole.cluster.alarms import Alarm
from haconsole.cluster.alarms import alarms as view_alarms
from haconsole.cluster.view import ClusterView, InstanceView

__all__ = ["ALARM_STATUS", "CRITICAL", "NAMES", "OK", "ROUTER_ALARMS", "UNKNOWN", "WARNING",
           "StatusReport", "evaluate", "judged", "reported", "settled"]

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}

#: Every alarm kind of cluster.alarms -> the plugin status it makes (see the docstring).
ALARM_STATUS: dict[str, int] = {
    "split-brain": CRITICAL,
    "no-master": CRITICAL,
    "service-down": CRITICAL,
    "flapping": WARNING,
    "priority-inversion": WARNING,
    "stale-source": WARNING,
    "node-lost": WARNING,
    "degraded": WARNING,
    "clock-skew": WARNING,
}


#: The alarms that need every node of a router to be judged (left out for one node).
ROUTER_ALARMS = frozenset({"split-brain", "no-master", "degraded", "priority-inversion"})


def judged(view: ClusterView, now: float, *, one_node: bool = False) -> list[Alarm]:
    """The view's alarms at `now`, without the router-wide ones for one node's view."""
    found = view_alarms(view, now)
    return [a for a in found if a.kind not in ROUTER_ALARMS] if one_node else found


def alarm_status(alarm: Alarm) -> int:
    if alarm.kind in ALARM_STATUS:
        return ALARM_STATUS[alarm.kind]
    return CRITICAL if alarm.severity == "critical" else WARNING


@dataclass
class Row:
    """One line of the table: an instance on a node."""

    instance: str
    node: str
    vrid: int
    state: str
    base_priority: int
    effective_priority: int
    vips: dict[str, str]  # VIP -> the node holding it ("" when nobody does)
    alarms: list[str]  # alarm kinds about this instance or its node


@dataclass
class StatusReport:
    code: int
    summary: str  # the first line, perfdata included
    rows: list[Row] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    perfdata: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # node -> source trouble
    software: dict[str, str] = field(default_factory=dict)  # node -> "keepalived 2.4.3"

    @property
    def status(self) -> str:
        return NAMES[self.code]

    def text(self) -> str:
        """The first line, the table, what runs on each node, then every alarm in full."""
        lines = [self.summary]
        if self.rows:
            lines.append("")
            lines.extend(_table(self.rows))
        if any(self.software.values()):
            lines.append("")
            lines.append("nodes: " + ", ".join(f"{node} {what or '(unknown)'}"
                                               for node, what in self.software.items()))
        if self.alarms:
            lines.append("")
            lines.extend(f"{NAMES[alarm_status(a)]}: {a.title}: {a.message}"
                         for a in self.alarms)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "summary": self.summary,
            "perfdata": self.perfdata,
            "instances": [r.__dict__ for r in self.rows],
            "alarms": [{"kind": a.kind, "status": NAMES[alarm_status(a)],
                        "severity": a.severity, "title": a.title, "message": a.message,
                        "since": a.since, "instance": a.instance, "node": a.node}
                       for a in self.alarms],
            "sources": self.sources,
            "nodes": dict(self.software),
        }

    def json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def evaluate(view: ClusterView, now: float, *, one_node: bool = False) -> StatusReport:
    """Judge the view at `now` (see the module docstring); `one_node`: the view holds
    one node's word about itself only."""
    alarms = judged(view, now, one_node=one_node)
    rows = [_row(view, inst, alarms) for inst in _ordered(view)]
    live = [r for r in rows if r.state != "LOST"]
    masters = sum(r.state == "MASTER" for r in live)
    perf = {
        "routers": len(view.groups()),
        "instances": len(rows),
        "masters": masters,
        "backups": sum(r.state == "BACKUP" for r in live),
        "faults": sum(r.state == "FAULT" for r in live),
        "nodes": len(view.nodes),
        "nodes_lost": sum(not n.up for n in view.nodes.values()),
        "critical": sum(alarm_status(a) == CRITICAL for a in alarms),
        "warning": sum(alarm_status(a) == WARNING for a in alarms),
    }
    sources = {n.name: n.health_detail or "unhealthy" for n in view.nodes.values()
               if not n.health_ok}
    software = {n.name: n.software for n in sorted(view.nodes.values(), key=lambda n: n.name)}
    perfdata = " ".join(f"{k}={v}" for k, v in perf.items())
    if not rows:
        why = "; ".join(f"{node}: {detail}" for node, detail in sorted(sources.items()))
        summary = "VRRP UNKNOWN - no VRRP instance could be read" + \
            (f" ({why})" if why else "") + f" | {perfdata}"
        return StatusReport(UNKNOWN, summary, rows, alarms, perf, sources, software)
    code = max((alarm_status(a) for a in alarms), default=OK)
    if code == OK:
        routers = perf["routers"]
        what = (f"{routers} virtual router{'s' * (routers != 1)} on {perf['nodes']} "
                f"node{'s' * (perf['nodes'] != 1)}, each with one MASTER") if not one_node \
            else (f"{', '.join(f'{r.instance} {r.state}' for r in rows)} on "
                  f"{rows[0].node} (one node: its peers are not judged)")
    else:
        worst = [a for a in alarms if alarm_status(a) == code]
        what = "; ".join(f"{a.title}: {a.message}" for a in worst[:2])
        if len(alarms) > 2:
            what += f" (+{len(alarms) - min(2, len(worst))} more)"
    summary = f"VRRP {NAMES[code]} - {what} | {perfdata}"
    return StatusReport(code, summary, rows, alarms, perf, sources, software)


def _ordered(view: ClusterView) -> list[InstanceView]:
    """Routers together (by instance name and VRID), nodes in name order."""
    return sorted(view.instances.values(), key=lambda i: (i.name, i.vrid, i.node))


def _row(view: ClusterView, inst: InstanceView, alarms: list[Alarm]) -> Row:
    owners = {}
    for vip in inst.vips:
        held = view.vips.get(vip)
        owners[vip] = ", ".join(sorted(held.holders)) if held is not None else ""
    mine = [a.kind for a in alarms
            if (a.instance == inst.name and a.node in ("", inst.node))
            or (not a.instance and a.node == inst.node)]
    state = "LOST" if inst.lost else str(inst.state)
    return Row(inst.name, inst.node, inst.vrid, state, inst.base_priority,
               inst.effective_priority, owners, sorted(set(mine), key=mine.index))


def _table(rows: list[Row]) -> list[str]:
    head = ("INSTANCE", "NODE", "STATE", "PRIORITY", "VIP OWNER", "ALARMS")
    cells = [head]
    for r in rows:
        prio = str(r.effective_priority) if r.base_priority == r.effective_priority \
            else f"{r.base_priority}{r.effective_priority - r.base_priority:+d}" \
                 f"={r.effective_priority}"
        vips = ", ".join(f"{vip} on {owner}" if owner else f"{vip} on nobody"
                         for vip, owner in r.vips.items()) or "-"
        cells.append((f"{r.instance} ({r.vrid})", r.node, r.state, prio, vips,
                      ", ".join(r.alarms) or "-"))
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]


# ------------------------------------------------------------------------ snapshot rules
#: How long a source may fail to read a node before a one-shot check gives up on it: a
#: connection refused or lost once (a loaded sshd, a restart) is retried, not reported.
UNREACHABLE_AFTER = 5.0


def reported(view: ClusterView, node: str, now: float | None = None) -> bool:
    """Whether `node` has answered: its instances are known, or its source has said for
    `UNREACHABLE_AFTER` seconds that it cannot read it (reported as a source down)."""
    seen = view.nodes.get(node)
    if seen is None:
        return False
    if not seen.up or not seen.health_ok:
        return now is None or now - seen.first_seen >= UNREACHABLE_AFTER
    return any(i.node == node for i in view.instances.values())


def settled(view: ClusterView, now: float, expected: Collection[str], *,
            one_node: bool = False) -> bool:
    """A consistent snapshot: every expected node answered, no live instance is still
    starting (INIT), and every router has a MASTER or has been without one for longer
    than its Master_Down_Interval (the no-master alarm is up): an election in progress
    is waited for, not reported."""
    if not all(reported(view, node, now) for node in expected):
        return False
    live = [i for i in view.instances.values() if not i.lost]
    if any(str(i.state) == "INIT" for i in live):
        return False
    if one_node:
        return True
    pending = {a.instance for a in view_alarms(view, now) if a.kind == "no-master"}
    for members in view.groups().values():
        if not any(m.live_master for m in members) and members[0].name not in pending:
            return False
    return True
