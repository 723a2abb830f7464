"""`haconsole check FILE [FILE ...]`: keepalived -t's verdicts, then what it never says.

One file per node. Each file gets the findings `keepalived -t` of one release gives
(haconsole.keepalived.conf: 2.2.7, 2.3 or 2.4, default the newest; `--local` asks the
installed keepalived) plus a little lint. A finding haconsole ranks a warning while
`keepalived -t` fails on it says so: keepalived's daemon runs such a config, but its config
test (and so any check before a deploy or reload) rejects it. With several files the
nodes are compared the way a VRRP segment will compare them at run time: same VRID,
version, advert_int, authentication and VIPs, distinct priorities, consistent nopreempt,
unicast peers that point at each other, and tracked checks whose weight can actually move
the VIP. `--what-if` runs the real state machine on a virtual
clock to answer "if this fails, who takes over, and when?".

Fast preemption (`haconsole agent --fast-preempt`: a preempting backup takes over as soon
as the master it follows advertises a priority below its own, instead of waiting out
Master_Down_Interval) is a flag of the agent, never a keepalived.conf keyword: keepalived
refuses unknown keywords, so a keyword would break a file shared with keepalived nodes.
`--fast-preempt` (every node) or `--fast-preempt-on FILE` (the agents among keepalived
nodes) makes the what-if assume it, says which nodes run it, and notes the instances it
cannot apply to (nopreempt) or applies to only after preempt_delay.

Output: `FILE:LINE: error|warning|info: message` per finding (or `--json`); exit status 1
when any finding is an error, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from haconsole.config import Config, VrrpInstance
from haconsole.keepalived.conf import Environment, Finding, ParseResult, Severity, parse_file
from haconsole.keepalived.conf.environment import NEWEST, VERSIONS, installed_keepalived
from haconsole.vrrp.timing import US, advert_interval_us
from haconsole.vrrp.tracking import file_spec, interface_spec, process_spec, script_spec

if TYPE_CHECKING:
    from haconsole.vrrp.sim import Simulation

PRIO_OWNER = 255


@dataclass
class Node:
    """One node's config: the file it came from and what the parser made of it."""

    path: str
    result: ParseResult

    @property
    def config(self) -> Config:
        return self.result.config

    @property
    def label(self) -> str:
        return os.path.basename(self.path)


@dataclass
class Report:
    nodes: list[Node]
    findings: list[Finding]
    what_if: list[WhatIfRow] | None = None
    version: str = NEWEST  # the keepalived release judged like
    fast_preempt: list[str] = field(default_factory=list)  # labels assumed --fast-preempt

    def rejected(self) -> list[tuple[Node, int]]:
        """The files `keepalived -t` fails on (with its exit status) although haconsole
        finds no error in them."""
        out = []
        for node in self.nodes:
            status = node.result.keepalived_status()
            if status and not any(f.severity == "error" for f in node.result.findings):
                out.append((node, status))
        return out

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    @property
    def exit_status(self) -> int:
        return 1 if self.errors else 0


@dataclass(frozen=True)
class WhatIfRow:
    """One line of the what-if table."""

    instance: str
    node: str
    event: str
    master_before: str
    master_after: str
    vip_moves_after: float | None  # seconds from the event; None: the VIP does not move
    note: str = ""


# --------------------------------------------------------------------------------------
# CLI entry points (called by haconsole.cli)
# --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `haconsole check`."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="keepalived.conf files, one per node of the same cluster")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--what-if", action="store_true", dest="what_if",
                        help="simulate each check failing and each node dying or stopping")
    parser.add_argument("--fast-preempt", action="store_true", dest="fast_preempt",
                        help="what-if every node ran `haconsole agent --fast-preempt` "
                             "(implies --what-if)")
    parser.add_argument("--fast-preempt-on", action="append", default=[], metavar="FILE",
                        dest="fast_preempt_on",
                        help="what-if this node (one of the FILEs) ran the agent with "
                             "--fast-preempt; repeatable (implies --what-if)")
    parser.add_argument("--local", action="store_true",
                        help="also check interfaces, scripts and users against this machine,"
                             " as keepalived -t run here would (and judge like the installed "
                             "keepalived's version)")
    parser.add_argument("--keepalived-version", choices=list(VERSIONS), default=None,
                        dest="keepalived_version",
                        help=f"judge like this keepalived release (default: {NEWEST}, or the "
                             "installed one with --local)")
    parser.add_argument("--config-id", metavar="ID",
                        help="the node name that `@ID` config lines match (keepalived -i)")


def main_check(args: argparse.Namespace) -> int:
    """Run the checks the parsed arguments ask for; print; return the exit status."""
    env = Environment.local() if getattr(args, "local", False) else Environment()
    if getattr(args, "local", False) and installed_keepalived() is None:
        print(f"haconsole check: no keepalived installed here - judging like keepalived "
              f"{args.keepalived_version or NEWEST}", file=sys.stderr)
    if getattr(args, "keepalived_version", None):
        env = replace(env, version=args.keepalived_version)
    config_id = getattr(args, "config_id", None)
    if config_id is not None:
        env = replace(env, config_id=config_id)
    files = list(args.files)
    try:
        fast = fast_preempt_nodes(files, bool(getattr(args, "fast_preempt", False)),
                                  list(getattr(args, "fast_preempt_on", None) or []))
    except ValueError as err:
        print(f"haconsole check: {err}", file=sys.stderr)
        return 2
    what_if = bool(getattr(args, "what_if", False)) or bool(fast)
    report = check_files(files, env, what_if=what_if, fast_preempt=fast)
    if getattr(args, "json", False):
        print(format_json(report))
    else:
        text = format_text(report)
        if text:
            print(text)
        print(summary(report), file=sys.stderr)
    return report.exit_status


def fast_preempt_nodes(paths: Sequence[str], every: bool, named: Sequence[str]) -> list[str]:
    """The files (as given) whose node is assumed to run `--fast-preempt`: all of them
    with `every`, else those `named` (by path or file name); ValueError for a name that
    is none of `paths`."""
    if every:
        return list(paths)
    chosen: list[str] = []
    for name in named:
        match = [p for p in paths if p == name or os.path.basename(p) == name
                 or os.path.abspath(p) == os.path.abspath(name)]
        if not match:
            raise ValueError(f"--fast-preempt-on {name}: not one of the files checked")
        chosen.extend(p for p in match if p not in chosen)
    return chosen


def check_files(paths: Sequence[str], env: Environment | None = None, *,
                what_if: bool = False, fast_preempt: Sequence[str] = ()) -> Report:
    """Parse every file, lint each one, compare them as nodes of one cluster. The files
    in `fast_preempt` are nodes whose agent runs `--fast-preempt` (in the what-if)."""
    env = env or Environment()
    nodes = [Node(path, parse_file(path, env)) for path in paths]
    fast = [n for n in nodes if n.path in set(fast_preempt)]
    findings: list[Finding] = []
    for node in nodes:
        findings.extend(_fast_preempt_keyword(_test_notes(node.result.findings, env.version)))
        findings.extend(lint(node))
        if node in fast:
            findings.extend(_fast_preempt_notes(node))
    if len(nodes) > 1:
        findings.extend(cross_node(nodes))
    table = what_if_table([(n.label, n.config) for n in nodes],
                          fast_preempt=[n.label for n in fast]) if what_if else None
    if table is not None:
        static = {(f.file, f.line) for f in findings if f.message.endswith(
            "(or weight 0 for FAULT)")}
        findings.extend(f for f in _trap_findings_from_table(nodes, table)
                        if (f.file, f.line) not in static)
    return Report(nodes, _unique(findings), table, env.version,
                  fast_preempt=[n.label for n in fast])


# A keyword someone might write for the agent's fast preemption, as keepalived spells
# keywords: keepalived has none of them and refuses the file's line.
FAST_PREEMPT_WORDS = frozenset({"fast_preempt", "fast-preempt", "fast_preemption",
                                "fastpreempt", "preempt_fast"})
FAST_PREEMPT_NOTE = ("fast preemption is the agent's flag `haconsole agent --fast-preempt`, "
                     "not a keepalived.conf keyword: keepalived refuses unknown keywords, so "
                     "one here would break a file shared with keepalived nodes; `haconsole "
                     "check --what-if --fast-preempt` shows what it changes")


def _fast_preempt_keyword(findings: list[Finding]) -> list[Finding]:
    """keepalived's "Unknown keyword" on a fast-preemption keyword says where it lives."""
    out = []
    for f in findings:
        word = f.message.removeprefix("Unknown keyword '").removesuffix("'")
        if f.message.startswith("Unknown keyword '") and word.lower() in FAST_PREEMPT_WORDS:
            f = replace(f, note=f"{f.note}; {FAST_PREEMPT_NOTE}" if f.note
                        else FAST_PREEMPT_NOTE)
        out.append(f)
    return out


def _fast_preempt_notes(node: Node) -> list[Finding]:
    """What --fast-preempt cannot change on this node's instances (info findings)."""
    out: list[Finding] = []
    for inst in node.config.vrrp_instances:
        if inst.nopreempt:
            message = (f"{inst.name}: nopreempt: fast preemption (--fast-preempt) never "
                       "applies; a backup here takes over only when the master is gone")
        elif inst.preempt_delay > 0:
            message = (f"{inst.name}: preempt_delay {inst.preempt_delay:g} s: with "
                       "--fast-preempt the takeover still waits for it (it damps flapping)")
        else:
            continue
        out.append(Finding(inst.file or node.path, inst.line, "info", message, "haconsole",
                           None))
    return out


def _test_notes(findings: list[Finding], version: str) -> list[Finding]:
    """Warnings that make `keepalived -t` fail say so: "0 errors" must never read as
    "keepalived accepts this"."""
    return [replace(f, note=f"keepalived {version} -t rejects this (exit {f.test_status});"
                    " its daemon still starts")
            if f.severity == "warning" and f.test_status else f for f in findings]


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.file, f.line, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def format_text(report: Report) -> str:
    lines = [_printable(f.format()) for f in report.findings]
    if report.what_if is not None:
        lines.append(format_what_if(report.what_if, report.fast_preempt))
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Bytes that are not UTF-8 (binary files) shown as \\xNN, never a crash."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def summary(report: Report) -> str:
    files = len(report.nodes)
    text = (f"haconsole check: {files} file{'s' * (files != 1)}, {report.errors} "
            f"error{'s' * (report.errors != 1)}, {report.warnings} "
            f"warning{'s' * (report.warnings != 1)}")
    rejected = report.rejected()
    if rejected:
        shown = ", ".join(f"{node.label} (exit {status})" for node, status in rejected)
        text += (f"; but keepalived {report.version} -t rejects {shown}: its config test "
                 "fails on the warnings marked so")
    return text


def format_json(report: Report) -> str:
    doc: dict[str, object] = {
        "files": [n.path for n in report.nodes],
        "keepalived_version": report.version,
        "keepalived_test_status": {n.path: n.result.keepalived_status() for n in report.nodes},
        "errors": report.errors,
        "warnings": report.warnings,
        "findings": [
            {k: _printable(v) if isinstance(v, str) else v for k, v in f.as_dict().items()}
            for f in report.findings
        ],
    }
    if report.what_if is not None:
        doc["what_if"] = [row.__dict__ for row in report.what_if]
        doc["fast_preempt"] = report.fast_preempt
    return json.dumps(doc, indent=2)


def format_what_if(rows: list[WhatIfRow], fast_preempt: Sequence[str] = ()) -> str:
    """The what-if answers as an aligned text table; `fast_preempt`: the nodes assumed
    to run the agent with --fast-preempt (named in the title)."""
    head = ("instance", "node", "if", "master before", "master after", "VIP moves within", "")
    body = [
        (r.instance, r.node, r.event, r.master_before, r.master_after,
         "never" if r.vip_moves_after is None else f"{r.vip_moves_after:.3f} s", r.note)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    title = "what-if (virtual clock, keepalived timers"
    if fast_preempt:
        title += f"; fast preemption (haconsole agent --fast-preempt) on {', '.join(fast_preempt)}"
    out = [title + "):"]
    for row in [head, *body]:
        cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        out.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# One node: advice keepalived does not give
# --------------------------------------------------------------------------------------


def lint(node: Node) -> list[Finding]:
    """Single-file advice (origin "haconsole"): traps keepalived accepts silently."""
    out: list[Finding] = []
    for inst in node.config.vrrp_instances:
        out.extend(_lint_instance(node, inst))
    return out


def _lint_instance(node: Node, inst: VrrpInstance) -> list[Finding]:
    out: list[Finding] = []
    if inst.nopreempt and _negative_tracks(node.config, inst):
        out.append(_advice(node, inst, "warning",
                           f"{inst.name}: nopreempt with a negative track weight: a lower "
                           "priority never makes a nopreempt backup take over; only a FAULT "
                           "(weight 0) or the master's death moves the VIP"))
    return out


def _advice(node: Node, inst: VrrpInstance, severity: Severity, message: str) -> Finding:
    return Finding(inst.file or node.path, inst.line, severity, message, "haconsole", None)


# --------------------------------------------------------------------------------------
# Several nodes: the segment's view
# --------------------------------------------------------------------------------------


@dataclass
class _Member:
    node: Node
    inst: VrrpInstance


@dataclass
class _Group:
    name: str
    members: list[_Member] = field(default_factory=list)


def _groups(nodes: list[Node]) -> list[_Group]:
    """Instances with the same name on different nodes form one virtual router."""
    groups: dict[str, _Group] = {}
    for node in nodes:
        for inst in node.config.vrrp_instances:
            groups.setdefault(inst.name, _Group(inst.name)).members.append(_Member(node, inst))
    return list(groups.values())


def cross_node(nodes: list[Node]) -> list[Finding]:
    """Compare the nodes' instances: what must match, what must differ."""
    out: list[Finding] = []
    for group in _groups(nodes):
        present = {m.node.path for m in group.members}
        if len(present) < len(nodes):
            missing = [n.label for n in nodes if n.path not in present]
            m = group.members[0]
            out.append(_advice(m.node, m.inst, "info",
                               f"{group.name}: not defined in {', '.join(missing)}"))
        if len(group.members) < 2:
            continue
        first = group.members[0]
        for other in group.members[1:]:
            out.extend(_must_match(first, other))
            out.extend(_unicast_pair(first, other))
        out.extend(_priorities(group))
        out.extend(_nopreempt(group))
        out.extend(_weight_traps(group))
    out.extend(_vrid_reuse(nodes))
    return out


def _say(member: _Member, severity: Severity, message: str) -> Finding:
    return _advice(member.node, member.inst, severity, message)


def _must_match(a: _Member, b: _Member) -> list[Finding]:
    """Settings a VRRP advert carries: a mismatch makes the nodes ignore each other."""
    out: list[Finding] = []
    x, y, where = a.inst, b.inst, a.node.label
    name = y.name
    if x.virtual_router_id != y.virtual_router_id:
        out.append(_say(b, "error", f"{name}: virtual_router_id {y.virtual_router_id} here but "
                        f"{x.virtual_router_id} in {where}: the nodes are different routers"))
    if x.version != y.version:
        out.append(_say(b, "error", f"{name}: VRRP version {y.version} here but {x.version} "
                        f"in {where}: the nodes drop each other's adverts"))
    if x.advert_int != y.advert_int:
        out.append(_say(b, "error", f"{name}: advert_int {y.advert_int:g}s here but "
                        f"{x.advert_int:g}s in {where}: adverts are rejected "
                        "(advert_interval_err)"))
    if _auth(x) != _auth(y):
        what = "auth_type" if x.auth_type != y.auth_type else "auth_pass"
        out.append(_say(b, "error", f"{name}: authentication ({what}) differs from {where}: "
                        "adverts fail authentication (auth_failure)"))
    vips_x, vips_y = _vip_set(x), _vip_set(y)
    if vips_x != vips_y:
        extra = ", ".join(sorted(vips_y - vips_x)) or "-"
        missing = ", ".join(sorted(vips_x - vips_y)) or "-"
        out.append(_say(b, "error", f"{name}: virtual_ipaddress differs from {where} (only "
                        f"here: {extra}; only there: {missing}): adverts fail the address "
                        "check (addr_list_err)"))
    if bool(x.unicast_peer) != bool(y.unicast_peer):
        mode = "unicast" if y.unicast_peer else "multicast"
        other = "unicast" if x.unicast_peer else "multicast"
        out.append(_say(b, "error", f"{name}: {mode} here but {other} in {where}: the nodes "
                        "never hear each other"))
    return out


def _auth(inst: VrrpInstance) -> tuple[str | None, str | None]:
    if inst.version != 2 or inst.auth_type is None:
        return None, None
    secret = inst.auth_pass.reveal() if inst.auth_pass is not None else None
    return inst.auth_type, secret


def _vip_set(inst: VrrpInstance) -> set[str]:
    return {str(v.address.ip) for v in inst.virtual_ipaddress}


def _unicast_pair(a: _Member, b: _Member) -> list[Finding]:
    """Each node's unicast_peer list must name the other's unicast_src_ip."""
    out: list[Finding] = []
    for me, peer in ((a, b), (b, a)):
        if not me.inst.unicast_peer or not peer.inst.unicast_peer:
            continue
        src = peer.inst.unicast_src_ip or peer.inst.mcast_src_ip
        if src is None:
            out.append(_say(peer, "info", f"{peer.inst.name}: no unicast_src_ip, so "
                            f"{me.node.label}'s unicast_peer cannot be checked against this "
                            "node"))
        elif src not in me.inst.unicast_peer:
            out.append(_say(me, "error", f"{me.inst.name}: unicast_peer does not list "
                            f"{src} ({peer.node.label}'s unicast_src_ip): its adverts are "
                            "never sent there"))
    return out


def _priorities(group: _Group) -> list[Finding]:
    out: list[Finding] = []
    by_prio: dict[int, list[_Member]] = {}
    for m in group.members:
        by_prio.setdefault(m.inst.priority, []).append(m)
    for prio, members in by_prio.items():
        if len(members) > 1:
            labels = ", ".join(m.node.label for m in members)
            out.append(_say(members[-1], "warning", f"{group.name}: priority {prio} on "
                            f"several nodes ({labels}): ties are broken by the higher IP "
                            "address"))
    owners = [m for m in group.members if m.inst.priority == PRIO_OWNER]
    if len(owners) > 1:
        out.append(_say(owners[-1], "error", f"{group.name}: priority 255 (address owner) on"
                        " more than one node"))
    return out


def _nopreempt(group: _Group) -> list[Finding]:
    """A non-preempting pair: every node state BACKUP with nopreempt."""
    flagged = [m for m in group.members if m.inst.nopreempt]
    if not flagged:
        masters = [m for m in group.members if m.inst.state == "MASTER"]
        if len(masters) > 1:
            return [_say(masters[-1], "warning", f"{group.name}: state MASTER on "
                         f"{len(masters)} nodes; only the highest priority keeps it")]
        return []
    out: list[Finding] = []
    for m in group.members:
        if not m.inst.nopreempt:
            out.append(_say(m, "warning", f"{group.name}: nopreempt on "
                            f"{', '.join(f.node.label for f in flagged)} but not here: this "
                            "node preempts anyway"))
    return out


def _vrid_reuse(nodes: list[Node]) -> list[Finding]:
    """One VRID on one interface is one virtual router: two names for it is a clash."""
    seen: dict[tuple[str, int, int], _Member] = {}
    out: list[Finding] = []
    for node in nodes:
        for inst in node.config.vrrp_instances:
            if not inst.virtual_router_id or inst.unicast_peer:
                continue
            key = (inst.interface, inst.virtual_router_id, inst.family)
            first = seen.setdefault(key, _Member(node, inst))
            if first.inst.name != inst.name and first.node is not node:
                out.append(_advice(node, inst, "error",
                                   f"{inst.name}: VRID {inst.virtual_router_id} on "
                                   f"{inst.interface} is also {first.inst.name} in "
                                   f"{first.node.label}: the two instances will fight over "
                                   "one virtual router"))
    return out


# --------------------------------------------------------------------------------------
# Tracked checks that cannot move the VIP (static, exact for priorities)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Weighted:
    kind: str
    name: str
    weight: int


def _tracks(config: Config, inst: VrrpInstance) -> list[_Weighted]:
    """Every tracked object with the weight the core applies (haconsole.vrrp.tracking),
    reverse ones (on the reference, the vrrp_script or the track_file block) left out."""
    specs = [("script", script_spec(config, ref)) for ref in inst.track_script]
    specs += [("interface", interface_spec(ref)) for ref in inst.track_interface]
    specs += [("file", file_spec(config, ref)) for ref in inst.track_file]
    specs += [("process", process_spec(config, ref)) for ref in inst.track_process]
    return [_Weighted(kind, spec.name, spec.weight) for kind, spec in specs if not spec.reverse]


def _advert_interval(inst: VrrpInstance) -> float:
    """The interval the core advertises at (v2: whole seconds, at least 1)."""
    return advert_interval_us(inst.version, inst.advert_int) / US


def _negative_tracks(config: Config, inst: VrrpInstance) -> list[_Weighted]:
    return [t for t in _tracks(config, inst) if t.weight < 0]


def _priority(config: Config, inst: VrrpInstance, failing: str | None = None) -> int:
    """The effective priority the engine's instance has with every check passing but
    `failing`, tracked files at their init_file value (else 0, as keepalived starts them):
    computed by the core itself, so the advice can never disagree with the engine."""
    import ipaddress

    from haconsole.vrrp.instance import Instance
    from haconsole.vrrp.tracking import track_specs

    specs = track_specs(config, inst)
    engine = Instance(inst, ipaddress.ip_address("192.0.2.1"), tracks=specs)
    values = {s.name: (config.track_files[s.name].init_file or 0)
              if s.name in config.track_files else 0 for s in specs if s.kind == "value"}
    engine.preset_tracks({s.name: s.name != failing for s in specs if s.kind == "check"},
                         values)
    return engine.effective_priority


def _healthy(config: Config, inst: VrrpInstance) -> int:
    """Effective priority with every check passing (positive weights applied)."""
    return _priority(config, inst)


def _weight_traps(group: _Group) -> list[Finding]:
    """If the master's check fails, does anyone outrank it? (RFC: strictly higher only.)"""
    healthy = {id(m): _healthy(m.node.config, m.inst) for m in group.members}
    master = max(group.members, key=lambda m: healthy[id(m)])
    others = [m for m in group.members if m is not master]
    if not others or master.inst.priority == PRIO_OWNER:
        return []
    best = max(others, key=lambda m: healthy[id(m)])
    out: list[Finding] = []
    for track in _tracks(master.node.config, master.inst):
        if track.weight == 0 or track.kind == "file":
            continue  # weight 0: FAULT, the VIP moves; a file reports values, not failures
        failed = _priority(master.node.config, master.inst, track.name)
        if failed <= healthy[id(best)]:
            continue
        out.append(_say(master, "warning", _trap_message(group.name, master, best, track,
                                                         healthy[id(master)], failed,
                                                         healthy[id(best)])))
    return out


def _trap_message(name: str, master: _Member, best: _Member, track: _Weighted, before: int,
                  after: int, rival: int) -> str:
    need = before - rival + 1
    fix = f"weight -{need} or lower" if track.weight < 0 else f"weight {need} or higher"
    return (f"{name}: if {track.kind} {track.name} fails on {master.node.label}, its priority "
            f"drops {before} -> {after}, still above {best.node.label}'s {rival}: the VIP does"
            f" not move. Use {fix} (or weight 0 for FAULT)")


# --------------------------------------------------------------------------------------
# What-if: the real state machine on a virtual clock
# --------------------------------------------------------------------------------------


def what_if_table(nodes: list[tuple[str, Config]],
                  fast_preempt: Collection[str] = ()) -> list[WhatIfRow]:
    """For every instance of the nodes: each tracked check failing on each node, each node
    crashing, each node stopping cleanly -> who is master after, when the VIP moves.

    Uses the sans-IO core (haconsole.vrrp) on its virtual clock, so the timings are the
    RFC/keepalived timers, exactly; the nodes labelled in `fast_preempt` run the core's
    fast preemption (haconsole agent --fast-preempt). Returns [] when the core is not
    available.
    """
    try:
        from haconsole.vrrp import sim as _sim  # noqa: F401
    except ImportError:
        return []
    rows: list[WhatIfRow] = []
    names: dict[str, list[tuple[str, Config, VrrpInstance]]] = {}
    for label, config in nodes:
        for inst in config.vrrp_instances:
            if inst.virtual_router_id:
                names.setdefault(inst.name, []).append((label, config, inst))
    for name, members in names.items():
        rows.extend(_Scenario(name, members, frozenset(fast_preempt)).rows())
    return rows


class _Scenario:
    """The what-if runs of one virtual router (one instance name across the nodes)."""

    def __init__(self, name: str, members: list[tuple[str, Config, VrrpInstance]],
                 fast_preempt: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.members = members
        self.fast = fast_preempt  # labels of the nodes whose agent runs --fast-preempt
        advert = max(_advert_interval(inst) for _, _, inst in members)
        self.settle = 5 * advert + 5.0
        self.horizon = 10 * advert + 5.0

    def fresh(self) -> Simulation:
        """A segment with every node started, every check passing, the election done."""
        from haconsole.vrrp.sim import Simulation
        from haconsole.vrrp.tracking import track_specs

        sim = Simulation()
        for n, (label, config, inst) in enumerate(self.members):
            address = f"fe80::{n + 1:x}" if inst.family == 6 else f"192.0.2.{200 + n % 50}"
            sim.add_node(label, address, [inst], {inst.name: track_specs(config, inst)},
                         fast_preempt=label in self.fast)
        sim.start_all()
        for label, config, inst in self.members:
            for spec in track_specs(config, inst):
                sim.set_track(label, spec.name, True)
        sim.run_until(self.settle)
        return sim

    def master(self, sim: Simulation) -> str:
        vrid = self.members[0][2].virtual_router_id
        masters = sim.masters(vrid)
        if not masters:
            return "none"
        return masters[0] if len(masters) == 1 else "split: " + ", ".join(masters)

    def worst_moment(self, sim: Simulation, master: str) -> float:
        """Just after the master's next advert: the failure then waits a whole interval."""
        sent = [r.t for r in sim.records if r.what == "send" and r.node == master]
        if not sent:
            return sim.now
        interval = max(_advert_interval(inst) for _, _, inst in self.members)
        return max(sim.now, sent[-1] + interval) + 1e-6

    def rows(self) -> list[WhatIfRow]:
        from haconsole.vrrp.tracking import track_specs

        out: list[WhatIfRow] = []
        for label, config, inst in self.members:
            for spec in track_specs(config, inst):
                detect, what = _detection(config, spec.name)
                note = f"+ up to {detect:g} s for the {what} to notice" if detect else ""
                if self.fast - {label}:  # a fast backup acts on the master's next advert
                    note = (f"{note}; " if note else "") + (
                        f"+ up to {_advert_interval(inst):g} s if this master is keepalived "
                        "(it advertises a new priority at its next advert, the agent at once)")
                out.append(self.run(label, f"check {spec.name} fails",
                                    _fail(label, spec.name), note))
            out.append(self.run(label, "node dies", _crash(label)))
            out.append(self.run(label, "node stops cleanly", _stop(label)))
        return out

    def run(self, label: str, event: str, action: Callable[[Simulation], None],
            note: str = "") -> WhatIfRow:
        sim = self.fresh()
        before = self.master(sim)
        t0 = self.worst_moment(sim, before)
        sim.run_until(t0)
        action(sim)
        sim.run_until(t0 + self.horizon)
        after = self.master(sim)
        moved = next((r.t - t0 for r in sim.records
                      if r.t >= t0 and r.what == "vip_add" and r.node != before), None)
        if moved is None and before != label:
            note = "not the master: nothing changes"
        return WhatIfRow(self.name, label, event, before, after, moved, note)


def _fail(node: str, track: str) -> Callable[[Simulation], None]:
    return lambda sim: sim.set_track(node, track, False)


def _crash(node: str) -> Callable[[Simulation], None]:
    return lambda sim: sim.crash(node)


def _stop(node: str) -> Callable[[Simulation], None]:
    return lambda sim: sim.stop(node)


def _detection(config: Config, track: str) -> tuple[float, str]:
    """How long keepalived takes to notice a failure of this tracked object (worst case)."""
    script = config.vrrp_scripts.get(track)
    if script is not None:
        return script.interval * max(script.fall, 1), "script"
    proc = config.track_processes.get(track)
    if proc is not None:
        return proc.delay, "process"
    return 0.0, ""


def _trap_findings_from_table(nodes: list[Node], rows: list[WhatIfRow]) -> list[Finding]:
    """Simulated confirmation of a trap: the check fails on the master, nothing moves."""
    by_label = {n.label: n for n in nodes}
    out: list[Finding] = []
    for row in rows:
        node = by_label.get(row.node)
        if node is None or not row.event.startswith("check ") or row.vip_moves_after is not None:
            continue
        if row.master_before != row.node:
            continue
        inst = next((i for i in node.config.vrrp_instances if i.name == row.instance), None)
        if inst is None:
            continue
        out.append(Finding(inst.file or node.path, inst.line, "warning",
                           f"{row.instance}: what-if: {row.event} on {row.node} leaves it "
                           "master; the VIP does not move", "haconsole", None))
    return out
