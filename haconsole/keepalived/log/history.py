"""Read keepalived history from whole log files: every node's past as one list of events.

Why: after an incident the logs are often all there is. `haconsole replay` and the incident
report take the keepalived logs of the nodes (copied off the machines, rotated, gzipped,
straight from /var/log/syslog or `journalctl`), and this module turns them into the same
`cluster.events` a live source publishes, in time order across nodes.

`read_history(paths)` takes files as paths or `(name, path)` pairs (`"NAME=PATH"` too):
- the form is detected from content (forms.py: keepalived's `-l` console and `-g` file
  forms, RFC 3164 and RFC 5424 syslog, `journalctl` short/short-precise/short-iso/json);
  gzip is detected from the bytes, whatever the name;
- syslog and journal forms carry a host field: each host in a file is its own node, named
  by that field (a NAME given for a file of one host names it instead); other programs'
  lines are skipped; keepalived's own forms hold one node, named NAME or after the file;
  files of the same node (rotations) are read in the order of their first stamps;
- RFC 3164 stamps have no year: the year is taken from the file's modification time (the
  last line is no later than that), counting a December -> January step as New Year;
- each node's lines go through its own `KeepalivedLogParser`, a fresh one per keepalived
  (or agent) run, since a restarted daemon starts from INIT.

What a log says only between the lines, turned into events (the incident report relies on
these reasons; see haconsole/report/build.py):
- a run starts ("Starting Keepalived v2.2.7", "Starting haconsole agent", a respawned VRRP
  child): `NodeSeen(agent=..., version=...)` (the release its start line names), with the
  node's address when it logged one;
- the VRRP process dies ("pid 123 exited due to signal 9", "VRRP child process(123) died"):
  `NodeLost(reason="crashed: ...")` at that line;
- a clean end ("Stopped Keepalived ..."): `NodeLost(reason="stopped")`;
- a run that starts again without its previous run having stopped or died in the log fell
  silent (SIGKILL of every process, a power cut): `NodeLost(reason="fell silent ...")`,
  placed when a peer took over one of its instances (the first sign of its death), else
  at the restart. A master whose log simply ends is taken as still master: a log that says
  nothing more cannot tell a crash from a partition.

Cross-node order (causal.py): stamps of different nodes are compared as they are, except
where a line proves what it answers came first (an advert heard from a node means that node
was already MASTER); such lines move after it, by at most `CAUSAL_TOLERANCE` seconds.

`since` / `until` limit the events returned; the state at `since` comes first as one
`InstanceState` per instance (and `NodeLost` for nodes down then, `NodeSeen` with the
release for those up), so a report or a replay starting there knows who was master.
`max_lines` reads only the last lines of each file.

Anything odd becomes one line in `History.problems` ("app.log: 12 lines in no known log
form (first: line 3)"); a file that cannot be used at all raises `LogHistoryError`, one
line naming the file (with `skip_unusable=True`, that line goes to `problems` instead).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from haconsole.cluster import events as ev
from haconsole.keepalived.log.causal import CAUSAL_TOLERANCE, Silent, merge_nodes
from haconsole.keepalived.log.forms import (
    OTHER,
    Form,
    detect_form,
    journal_marker,
    make_splitter,
    syslog_months,
)
from haconsole.keepalived.log.messages import classify
from haconsole.keepalived.log.parser import KeepalivedLogParser
from haconsole.keepalived.log.shapes import ParsedLine, parse_line

__all__ = ["CAUSAL_TOLERANCE", "SAMPLE_LINES", "SILENT_REASON", "History", "LogHistoryError",
           "read_history"]

#: How many lines decide a file's form, and whether it is keepalived's at all.
SAMPLE_LINES = 1000
#: The start of a NodeLost reason for a run that ended without a word (see the docstring).
SILENT_REASON = "fell silent"

PathSpec = str | os.PathLike[str] | tuple[str, "str | os.PathLike[str]"]


class LogHistoryError(Exception):
    """A file cannot be used at all; the message is one line naming the file."""


@dataclass
class History:
    """Events of every node, in time order, and what was odd about the input."""

    events: list[ev.Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    lines: int = 0  # keepalived lines read


# ----------------------------------------------------------------------------- files

def _name_and_path(spec: PathSpec) -> tuple[str | None, str]:
    if isinstance(spec, tuple):
        return str(spec[0]), os.fspath(spec[1])
    text = os.fspath(spec)
    name, sep, rest = text.partition("=")
    if sep and name and "/" not in name and rest and not os.path.exists(text):
        return name, rest
    return None, text


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in (".gz", ".log", ".txt", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def _gunzip(data: bytes, label: str, problems: list[str]) -> bytes:
    """Every gzip member; a truncated or damaged end keeps what came before, with a note."""
    out: list[bytes] = []
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(d.decompress(rest))
        except zlib.error as err:
            problems.append(f"{label}: damaged gzip data ({err}); read what came before")
            break
        if not d.eof:
            problems.append(f"{label}: gzip data ends early (truncated); read what came before")
            break
        rest = d.unused_data.lstrip(b"\0")
    return b"".join(out)


def _read_text(path: str, label: str, problems: list[str]) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise LogHistoryError(f"{label}: a directory, not a log file") from None
    except OSError as err:
        raise LogHistoryError(f"{label}: cannot read ({err.strerror or err})") from None
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, label, problems)
    if not data.strip():
        raise LogHistoryError(f"{label}: empty file")
    head = data[:65536]
    if b"\0" in head or sum(b < 9 or 13 < b < 32 for b in head[:4096]) > 40:
        raise LogHistoryError(f"{label}: binary data, not a log")
    text = data.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def _mtime_year_month(path: str) -> tuple[int, int]:
    try:
        when = datetime.fromtimestamp(os.stat(path).st_mtime)
    except OSError:
        when = datetime.now()
    return when.year, when.month


# ----------------------------------------------------------------------------- one node

_LIFECYCLE_PREFIXES = ("Starting Keepalived", "Starting haconsole agent", "Starting VRRP child",
                       "Stopped Keepalived", "Stopped haconsole agent", "Assigned address ",
                       "VRRP child process(")
_START = re.compile(r"Starting (?:Keepalived v(?P<ka>\S+)|haconsole agent (?P<agent>\S+))")
_STOPPED = re.compile(r"Stopped (?:Keepalived v\S+|haconsole agent)")
_VRRP_CHILD = re.compile(r"Starting VRRP child process, pid=(?P<pid>\d+)")
_EXITED = re.compile(
    r"(?:pid (?P<pid>\d+)|(?P<prog>\S+)) exited (?:due to signal (?P<sig>\d+)"
    r"(?: \((?P<signame>[^)]*)\))?|due to (?P<segv>segmentation fault)|with permanent error "
    r"(?P<perm>\S+)|with status (?P<status>\d+))")
_DIED = re.compile(r"VRRP child process\((?P<pid>\d+)\) died")
_ASSIGNED = re.compile(r"Assigned address (?P<address>\S+) for interface")
_ANNOUNCED = re.compile(r"\((?P<instance>[^)\s]+)\):? Sending/queueing (?:gratuitous ARPs|"
                        r"Unsolicited Neighbour Adverts) on \S+ for (?P<vip>\S+)")


def _keepalived_process(proc: str) -> bool:
    low = proc.lower()
    return low.startswith("keepalived") or low.startswith("haconsole")


class _NodeReader:
    """One node's lines -> events, with a fresh parser per daemon run (see the module)."""

    def __init__(self, node: str, tz: tzinfo | None) -> None:
        self.node = node
        self.tz = tz
        self.parser = KeepalivedLogParser(node, tz=tz)
        self.events: list[ev.Event] = []
        self.silent: list[Silent] = []
        self.addresses: list[str] = []
        self.running = False  # a run is under way (or the log began mid-run)
        self.vrrp_dead = False
        self.vrrp_pid: int | None = None
        self.version = ""  # the running daemon's release, from its start line
        self.last_t: float | None = None
        self.vips: dict[str, list[str]] = {}  # instance -> VIPs its announcements named

    def _new_run(self, t: float, agent: str, version: str) -> None:
        if self.running and not self.vrrp_dead and self.last_t is not None:
            masters = tuple(sorted(name for name, state in self.parser.states.items()
                                   if state == ev.State.MASTER))
            self.silent.append(Silent(self.node, self.last_t, t, masters, len(self.events)))
        self.parser = KeepalivedLogParser(self.node, tz=self.tz)
        self.running, self.vrrp_dead, self.vrrp_pid = True, False, None
        self.version = version
        self.events.append(ev.NodeSeen(t, self.node, agent=agent, version=version))

    def _death(self, t: float, reason: str) -> None:
        if self.vrrp_dead:
            return
        self.vrrp_dead = True
        self.events.append(ev.NodeLost(t, self.node, reason=f"crashed: {reason}"))

    def _lifecycle(self, t: float, msg: str) -> bool:
        """Before the parser sees the line: runs, deaths, addresses. True: a clean stop
        (its NodeLost goes after the line's own events)."""
        if msg.startswith("Assigned address "):
            m = _ASSIGNED.match(msg)
            if m and not m["address"].lower().startswith("fe80") and \
                    m["address"] not in self.addresses:
                self.addresses.append(m["address"])
            return False
        if msg.startswith("Stopped "):
            return _STOPPED.match(msg) is not None
        m = _START.match(msg)
        if m:
            self._new_run(t, "keepalived" if m["ka"] else "haconsole",
                          m["ka"] or m["agent"] or "")
            return False
        m = _VRRP_CHILD.match(msg)
        if m:
            if self.vrrp_dead:  # the parent respawned its VRRP child
                self.parser = KeepalivedLogParser(self.node, tz=self.tz)
                self.vrrp_dead = False
                self.events.append(ev.NodeSeen(t, self.node, agent="keepalived",
                                               version=self.version))
            self.running = True
            self.vrrp_pid = int(m["pid"])
            return False
        m = _DIED.match(msg)
        if m:
            self._death(t, f"VRRP process {m['pid']} died")
            return False
        m = _EXITED.match(msg)
        if m:
            pid = int(m["pid"]) if m["pid"] else None
            vrrp = (pid is not None and pid == self.vrrp_pid) or \
                "vrrp" in (m["prog"] or "").lower()
            if vrrp:
                if m["sig"]:
                    how = f"killed by signal {m['sig']}" + (
                        f" ({m['signame']})" if m["signame"] else "")
                elif m["segv"]:
                    how = "segmentation fault"
                elif m["perm"]:
                    how = f"permanent error {m['perm']}"
                else:
                    how = f"exited with status {m['status']}"
                self._death(t, f"VRRP process {how}")
        return False

    def feed(self, parsed: ParsedLine) -> None:
        msg = parsed.message
        t = parsed.t if parsed.t is not None else (self.last_t or 0.0)
        stopped = False
        if msg.startswith(_LIFECYCLE_PREFIXES) or " exited " in msg:
            stopped = self._lifecycle(t, msg)
        elif not self.running:
            self.running = True
        if "Sending/queueing" in msg:
            m = _ANNOUNCED.match(msg)
            if m:
                known = self.vips.setdefault(m["instance"], [])
                if m["vip"] not in known:
                    known.append(m["vip"])
        self.events.extend(self.parser.feed_parsed(parsed))
        if stopped:
            self.running = False
            self.events.append(ev.NodeLost(t, self.node, reason="stopped"))
        self.last_t = t


# ----------------------------------------------------------------------------- one file

@dataclass
class _FileLines:
    """One file's keepalived lines, per host ("" for lines without a host field)."""

    label: str
    name: str | None
    hosts: dict[str, list[ParsedLine]]
    form: Form


def _keepalived_sample(form: Form, sample: Sequence[str]) -> bool:
    """Whether keepalived (or the agent) wrote any of these lines."""
    split = make_splitter(form)
    for line in sample:
        parsed = split(line)
        if parsed is None:
            continue
        if form in ("console", "file"):
            if classify(parsed.message) is not None or parsed.message.startswith(
                    _LIFECYCLE_PREFIXES):
                return True
        elif _keepalived_process(parsed.process):
            return True
    return False


def _split_file(path: str, name: str | None, label: str, *, tz: tzinfo | None,
                max_lines: int | None, until: float | None,
                problems: list[str]) -> _FileLines:
    text = _read_text(path, label, problems)
    lines = text.split("\n")
    if max_lines is not None and len(lines) > max_lines:
        problems.append(f"{label}: only the last {max_lines} of {len(lines)} lines read")
        lines = lines[-max_lines:]
    sample: list[str] = []
    for line in lines:
        if line.strip() and not journal_marker(line):
            sample.append(line)
            if len(sample) >= SAMPLE_LINES:
                break
    form, _count = detect_form(sample)
    if form is None:
        raise LogHistoryError(f"{label}: not a log (no line in a known log form in the "
                              f"first {len(sample)})")
    own_form = form in ("console", "file")
    if own_form and not _keepalived_sample(form, sample):
        raise LogHistoryError(f"{label}: not a keepalived log (no keepalived line in the "
                              f"first {len(sample)})")
    year = 1970
    if form == "syslog":
        mtime_year, mtime_month = _mtime_year_month(path)
        last_month, crossings = syslog_months(lines)
        end_year = mtime_year - 1 if last_month is not None and last_month > mtime_month \
            else mtime_year
        year = end_year - crossings
    split = make_splitter(form, tz=tz, year=year,
                          ours=None if own_form else _keepalived_process)
    hosts: dict[str, list[ParsedLine]] = {}
    unknown, first_unknown = 0, 0
    horizon = until + 60.0 if until is not None else None
    for number, line in enumerate(lines, 1):
        if not own_form and "eepalived" not in line and "haconsole" not in line:
            continue  # another program's line (or a blank one): not ours, not a problem
        parsed = split(line)
        if parsed is OTHER:
            continue  # another program's line that mentions keepalived
        if parsed is None:
            if not line.strip() or journal_marker(line):
                continue
            parsed = parse_line(line, tz=tz, year=year)
            if parsed.t is None:
                unknown += 1
                first_unknown = first_unknown or number
                continue
            if not own_form:
                if not _keepalived_process(parsed.process):
                    continue
                parsed = dataclasses.replace(parsed, process="")
        if horizon is not None and parsed.t is not None and parsed.t > horizon:
            break
        host_lines = hosts.get(parsed.host)
        if host_lines is None:
            host_lines = hosts[parsed.host] = []
        host_lines.append(parsed)
    if unknown:
        problems.append(f"{label}: {unknown} line{'s' if unknown > 1 else ''} in no known "
                        f"log form skipped (first: line {first_unknown})")
    if not hosts:
        raise LogHistoryError(f"{label}: not a keepalived log (no keepalived line in "
                              f"{len(lines)} lines)")
    return _FileLines(label, name, hosts, form)


def _node_names(files: list[_FileLines], problems: list[str]) -> dict[str, list[list[ParsedLine]]]:
    """node -> its batches of lines (one per file), named as the module docstring says."""
    nodes: dict[str, list[list[ParsedLine]]] = {}
    for f in files:
        named = [h for h in f.hosts if h]
        for host, lines in f.hosts.items():
            if len(f.hosts) == 1 and f.name:
                node = f.name
            elif host:
                node = host
            else:
                node = f.name or _stem(f.label)
            nodes.setdefault(node, []).append(lines)
        if f.name and len(f.hosts) > 1:
            problems.append(f"{f.label}: holds {len(f.hosts)} hosts ({', '.join(named)}): "
                            f"each is named by its host field, not {f.name!r}")
    return nodes


# ----------------------------------------------------------------------------- all of it

def read_history(paths: Sequence[PathSpec], *, since: float | None = None,
                 until: float | None = None, max_lines: int | None = None,
                 tz: tzinfo | None = None, skip_unusable: bool = False) -> History:
    """Every node's events from these log files, in time order (see the module docstring).

    Raises LogHistoryError (one line naming the file) for a file that cannot be used, or
    with `skip_unusable`, notes it in `problems` and goes on (raising if none was usable).
    """
    # A million events are a million tracked objects, none in a cycle: the cyclic
    # collector would walk them all again and again while they are made (quadratic).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read(paths, since, until, max_lines, tz, skip_unusable)
    finally:
        if collecting:
            gc.enable()


def _read(paths: Sequence[PathSpec], since: float | None, until: float | None,
          max_lines: int | None, tz: tzinfo | None, skip_unusable: bool) -> History:
    problems: list[str] = []
    files: list[_FileLines] = []
    labels: set[str] = set()
    for spec in paths:
        name, path = _name_and_path(spec)
        label = path if path not in labels else f"{path} (again)"
        labels.add(path)
        try:
            files.append(_split_file(path, name, label, tz=tz, max_lines=max_lines,
                                     until=until, problems=problems))
        except LogHistoryError as err:
            if not skip_unusable:
                raise
            problems.append(str(err))
    if not files:
        raise LogHistoryError("no usable log file: " + "; ".join(problems))
    batches = _node_names(files, problems)
    readers: list[_NodeReader] = []
    total = 0
    for node, node_batches in batches.items():
        reader = _NodeReader(node, tz)
        node_batches.sort(key=lambda b: next((p.t for p in b if p.t is not None), 0.0))
        for batch in node_batches:
            total += len(batch)
            for parsed in batch:
                reader.feed(parsed)
        readers.append(reader)
    merged, notes = merge_nodes(
        [(r.node, r.events, r.addresses, r.silent) for r in readers],
        silent_reason=SILENT_REASON)
    problems.extend(notes)
    vips = {r.node: r.vips for r in readers if r.vips}
    if vips:
        merged = _name_vips(merged, vips)
    events = _window(merged, since, until)
    return History(events, problems, [r.node for r in readers], total)


def _name_vips(events: list[ev.Event],
               vips: dict[str, dict[str, list[str]]]) -> list[ev.Event]:
    """VipAdded/VipRemoved naming the VIPs: "setting VIPs." names none, the announcements
    that follow it do (one event per VIP of the instance)."""
    out: list[ev.Event] = []
    for e in events:
        if type(e) is ev.VipAdded or type(e) is ev.VipRemoved:
            named = vips.get(e.node, {}).get(e.instance) if not e.vip else None
            if named:
                out.extend(dataclasses.replace(e, vip=v) for v in named)
                continue
        out.append(e)
    return out


def _window(events: list[ev.Event], since: float | None,
            until: float | None) -> list[ev.Event]:
    """The events in [since, until], the state at `since` first (see the docstring)."""
    if since is None and until is None:
        return events
    out: list[ev.Event] = []
    lost: dict[str, ev.NodeLost] = {}
    seen: dict[str, ev.NodeSeen] = {}
    states: dict[tuple[str, str], ev.State] = {}
    priorities: dict[tuple[str, str], tuple[int, int]] = {}
    started = since is None
    for e in events:
        if until is not None and e.t > until:
            break
        if not started:
            if e.t < since:  # type: ignore[operator]
                _note_state(e, lost, seen, states, priorities)
                continue
            started = True
            out.extend(_snapshot(since, lost, seen, states,  # type: ignore[arg-type]
                                 priorities))
        out.append(e)
    if not started and since is not None:
        out.extend(_snapshot(since, lost, seen, states, priorities))
    return out


def _note_state(e: ev.Event, lost: dict[str, ev.NodeLost], seen: dict[str, ev.NodeSeen],
                states: dict[tuple[str, str], ev.State],
                priorities: dict[tuple[str, str], tuple[int, int]]) -> None:
    if isinstance(e, ev.Transition):
        states[(e.node, e.instance)] = e.new
    elif isinstance(e, ev.PriorityChange):
        priorities[(e.node, e.instance)] = (e.base, e.new)
    elif isinstance(e, ev.NodeLost):
        lost[e.node] = e
    elif isinstance(e, ev.NodeSeen):
        lost.pop(e.node, None)
        seen[e.node] = e
        for key in [k for k in states if k[0] == e.node]:
            del states[key]  # a new run: its instances start again from INIT


def _snapshot(t: float, lost: dict[str, ev.NodeLost], seen: dict[str, ev.NodeSeen],
              states: dict[tuple[str, str], ev.State],
              priorities: dict[tuple[str, str], tuple[int, int]]) -> Iterable[ev.Event]:
    for node, run in sorted(seen.items()):  # who runs there: its agent and release
        if node not in lost and run.version:
            yield ev.NodeSeen(t, node, address=run.address, agent=run.agent,
                              version=run.version)
    for node, e in sorted(lost.items()):
        yield ev.NodeLost(t, node, reason=e.reason)
    for (node, name), state in sorted(states.items()):
        base, effective = priorities.get((node, name), (0, 0))
        yield ev.InstanceState(t, node, instance=name, state=state, base_priority=base,
                               effective_priority=effective)

