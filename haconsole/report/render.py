"""Print a Report: plain text (a terminal), Markdown (a postmortem), JSON (a machine).

The JSON has a fixed schema (docs in the README): times in UTC ISO 8601 with milliseconds,
durations in seconds; vrid is null when the events never said it (keepalived logs).
Text and Markdown also name what ran VRRP on each node ("nginx1 (keepalived 2.4.3)"),
which the JSON's fixed schema has no field for.
Text and Markdown give local times (the zone in the header), as the nodes' logs do, plus
what the JSON leaves out: the sequence of masters, check failures, priority changes.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from haconsole.report.model import InstanceReport, Report

__all__ = ["report_dict", "to_json", "to_markdown", "to_text"]


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    ms = round(t * 1000)
    d = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def report_dict(report: Report) -> dict[str, Any]:
    """The report as the JSON object (see the module docstring)."""
    return {
        "window": {"from": _iso(report.start), "to": _iso(report.end)},
        "nodes": list(report.nodes),
        "instances": [_instance_dict(r) for r in report.instances],
    }


def _instance_dict(r: InstanceReport) -> dict[str, Any]:
    return {
        "instance": r.instance,
        "vrid": r.vrid,
        "vips": list(r.vips),
        "transitions": r.transitions,
        "failovers": [{"at": _iso(f.at), "from": f.old, "to": f.new, "kind": f.kind,
                       "cause": f.cause, "cause_node": f.cause_node,
                       "no_master_s": f.no_master_s} for f in r.failovers],
        "split_brain": [{"from": _iso(s.start), "to": _iso(s.end), "masters": list(s.masters)}
                        for s in r.split_brain],
        "no_master": [{"from": _iso(w.start), "to": _iso(w.end)} for w in r.no_master],
        "flapping": r.flapping,
    }


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False)


# ----------------------------------------------------------------------------- words

class _Clock:
    """Local times, with the date only when the report spans several days."""

    def __init__(self, report: Report) -> None:
        first = time.localtime(report.start)
        last = time.localtime(report.end)
        self.dated = first[:3] != last[:3]

    def __call__(self, t: float | None) -> str:
        if t is None:
            return "…"
        ms = round(t * 1000)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S" if self.dated else "%H:%M:%S",
                              time.localtime(ms // 1000))
        return f"{stamp}.{ms % 1000:03d}"


def _zone(t: float) -> str:
    offset = datetime.fromtimestamp(t).astimezone().strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"


def _title(report: Report) -> str:
    day = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.start))
    end = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.end))
    return f"{day} → {end} ({_zone(report.start)})"


def _node(report: Report, node: str, quote: str = "") -> str:
    """A node's name, and what ran VRRP there when its events said."""
    what = report.software.get(node)
    return f"{quote}{node}{quote}" + (f" ({what})" if what else "")


def _seconds(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _label(r: InstanceReport) -> str:
    vrid = f"VRID {r.vrid}" if r.vrid is not None else "VRID not in the logs"
    family = f", IPv{r.family}" if r.family else ""
    vips = f", VIP {', '.join(r.vips)}" if r.vips else ""
    return f"{r.instance} ({vrid}{family}{vips})"


def _summary(r: InstanceReport) -> str:
    parts = [f"{r.transitions} transition{'s' if r.transitions != 1 else ''}",
             f"{len(r.failovers)} failover{'s' if len(r.failovers) != 1 else ''}"]
    if r.split_brain:
        parts.append(f"{len(r.split_brain)} split brain")
    if r.no_master:
        parts.append(f"{len(r.no_master)} without master")
    if r.flapping:
        parts.append("FLAPPING")
    return ", ".join(parts)


def to_text(report: Report) -> str:
    clock = _Clock(report)
    out = [f"Incident report {_title(report)}",
           f"nodes: {', '.join(_node(report, n) for n in report.nodes) or 'none'}"]
    if not report.instances:
        out.append("no VRRP instance in these events")
    for r in report.instances:
        out += ["", f"{_label(r)}: {_summary(r)}"]
        if r.masters:
            out.append(f"  masters: {' → '.join(r.masters)}")
        if r.failovers:
            out.append("  failovers:")
            for f in r.failovers:
                gap = f", {_seconds(f.no_master_s)} without master" \
                    if f.no_master_s is not None else ""
                out.append(f"    {clock(f.at)}  {f.old or '?'} → {f.new}  [{f.kind}{gap}]")
                out.append(f"      {f.cause}")
        for s in r.split_brain:
            out.append(f"  split brain {clock(s.start)} → {clock(s.end)} "
                       f"({_seconds(s.duration)}): {', '.join(s.masters)}")
        for w in r.no_master:
            end = clock(w.end) if w.end is not None else "(still none at the end)"
            out.append(f"  no master {clock(w.start)} → {end} "
                       f"({_seconds(w.duration(report.end))})")
        for node, t in r.flaps:
            out.append(f"  flapping on {node} from {clock(t)}")
        for c in r.checks:
            out.append(f"  check {c.check} failed on {c.node} {_times(c.failures)} "
                       f"({clock(c.first)}" + (f" … {clock(c.last)})" if c.failures > 1
                                                else ")"))
        for p in r.priorities:
            cause = f" ({p.cause})" if p.cause else ""
            out.append(f"  priority {clock(p.at)} {p.node} {p.old}→{p.new}{cause}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    clock = _Clock(report)
    out = [f"## Incident report: {_title(report)}", "",
           f"Nodes: {', '.join(_node(report, n, '`') for n in report.nodes) or 'none'}."]
    if not report.instances:
        out += ["", "No VRRP instance in these events."]
    for r in report.instances:
        out += ["", f"### {_md(_label(r))}", "", f"{_summary(r)}."]
        if r.masters:
            out += ["", "Masters: " + " → ".join(f"`{m}`" for m in r.masters) + "."]
        if r.failovers:
            out += ["", "| at | from | to | kind | no master | cause |",
                    "|---|---|---|---|---|---|"]
            for f in r.failovers:
                gap = _seconds(f.no_master_s) if f.no_master_s is not None else "-"
                out.append(f"| {clock(f.at)} | {f.old or '?'} | {f.new} | {f.kind} | {gap} "
                           f"| {_md(f.cause)} |")
        if r.split_brain:
            out += ["", "**Split brain:**", ""]
            out += [f"- {clock(s.start)} → {clock(s.end)} ({_seconds(s.duration)}): "
                    f"{', '.join(s.masters)}" for s in r.split_brain]
        if r.no_master:
            out += ["", "**No master:**", ""]
            out += [f"- {clock(w.start)} → "
                    f"{clock(w.end) if w.end is not None else 'still none at the end'} "
                    f"({_seconds(w.duration(report.end))})" for w in r.no_master]
        if r.flaps:
            out += ["", "**Flapping:** " + "; ".join(f"{n} from {clock(t)}"
                                                      for n, t in r.flaps)]
        if r.checks:
            out += ["", "**Checks that failed:**", ""]
            out += [f"- `{c.check}` on {c.node}: {_times(c.failures)} ({clock(c.first)}"
                    + (f" … {clock(c.last)})" if c.failures > 1 else ")") for c in r.checks]
        if r.priorities:
            out += ["", "**Priority changes:**", ""]
            out += [f"- {clock(p.at)} {p.node}: {p.old} → {p.new}"
                    + (f" ({_md(p.cause)})" if p.cause else "") for p in r.priorities]
    return "\n".join(out) + "\n"
