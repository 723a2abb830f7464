"""Reshape keepalived console logs (`-l`) into the forms syslog daemons and journald write.

Why: the labs run keepalived and the agent with `-l` (console form); incidents in the
field come as /var/log/syslog (RFC 3164), RFC 5424 files, `journalctl -o short-iso`,
`short-precise` and `json`. This rewrites real console logs into those forms as rsyslog
and journald would: a host field per node, keepalived's process names and pids, other
programs' lines in between (one of them about keepalived itself), and a clock offset
for a node, so the history reader is tested on real keepalived lines in every form.

Independent of the code under test: stamps are read and written with datetime only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

FORMS = ("rfc3164", "rfc5424", "short-iso", "short-precise", "json")

_CONSOLE = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\w{3}) +(\d+) (\d\d:\d\d:\d\d)"
                      r"(?:\.(\d+))? (\d{4}): ?(.*)")
_PARENT = ("Starting Keepalived", "Running on", "Command line", "  ", "Opening file",
           "Configuration file", "NOTICE", "Starting VRRP child", "Stopped Keepalived",
           "CPU usage", "Startup complete", "pid ", "VRRP child process(", "Restart of VRRP")
_NOISE = [
    ("systemd", 1, "Started Session {n} of User root."),
    ("CRON", 4000, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"),
    ("kernel", 0, "[{n}.123456] br0: port 2(p1-nginx2) entered forwarding state"),
    ("sshd", 900, "Accepted publickey for root from 192.0.2.200 port {n} ssh2"),
    ("systemd", 1, "keepalived.service: Consumed {n}ms CPU time."),
]


@dataclass(frozen=True)
class Entry:
    t: float
    host: str
    ident: str
    pid: int
    message: str


def console_entries(text: str, host: str, *, agent: bool = False,
                    offset: float = 0.0) -> list[Entry]:
    """The keepalived lines of a console log as entries of `host` (lines in no console
    form, like the lab's own "--- start" markers, are left out); `offset` seconds are
    added to every stamp (a node whose clock is off)."""
    out = []
    pid = 3000 + 100 * len(host)
    for line in text.splitlines():
        m = _CONSOLE.fullmatch(line)
        if m is None:
            continue
        mon, day, hms, frac, year, message = m.groups()
        t = datetime.strptime(f"{year} {mon} {day} {hms}", "%Y %b %d %H:%M:%S").timestamp()
        t += int((frac or "0")[:6].ljust(6, "0")) / 1e6 + offset
        if message.startswith(("Starting Keepalived", "Starting haconsole agent")):
            pid += 10
        if agent:
            out.append(Entry(t, host, "haconsole", pid, message))
        elif message.startswith(_PARENT):
            out.append(Entry(t, host, "Keepalived", pid, message))
        else:
            out.append(Entry(t, host, "Keepalived_vrrp", pid + 2, message))
    return out


def with_noise(entries: Iterable[Entry], *, every: int = 3,
               extra_host: str = "db1") -> list[Entry]:
    """Other programs' lines between keepalived's: on the same hosts and on another."""
    out: list[Entry] = []
    for i, entry in enumerate(entries):
        if i % every == 0:
            ident, pid, text = _NOISE[(i // every) % len(_NOISE)]
            host = entry.host if i % (2 * every) == 0 else extra_host
            out.append(Entry(entry.t, host, ident, pid + i, text.format(n=1000 + i)))
        out.append(entry)
    return out


def merged(*groups: Iterable[Entry]) -> list[Entry]:
    """Entries of several hosts in the order a central log receives them (by stamp)."""
    return sorted((e for g in groups for e in g), key=lambda e: e.t)


def _local(t: float, fmt: str) -> str:
    return datetime.fromtimestamp(t).strftime(fmt)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def line(entry: Entry, form: str, seq: int = 0) -> str:
    """One entry in `form` (see FORMS)."""
    t = entry.t
    whole = math.floor(t)
    tag = f"{entry.ident}[{entry.pid}]" if entry.pid else entry.ident
    if form == "rfc3164":
        d = datetime.fromtimestamp(whole)
        return f"{d:%b} {d.day:2d} {d:%H:%M:%S} {entry.host} {tag}: {entry.message}"
    if form == "short-precise":
        d = datetime.fromtimestamp(t)
        return f"{d:%b} {d.day:2d} {d:%H:%M:%S.%f} {entry.host} {tag}: {entry.message}"
    if form == "short-iso":
        return (f"{_utc(whole):%Y-%m-%dT%H:%M:%S}+0000 {entry.host} {tag}: "
                f"{entry.message}")
    if form == "rfc5424":
        sd = f'[meta sequenceId="{seq}"]' if seq % 4 == 0 else "-"
        pri = 30 if entry.ident.startswith(("Keepalived", "haconsole")) else 13
        return (f"<{pri}>1 {_utc(t):%Y-%m-%dT%H:%M:%S.%f}+00:00 {entry.host} {entry.ident} "
                f"{entry.pid or '-'} - {sd} {entry.message}")
    if form == "json":
        return json.dumps({
            "__CURSOR": f"s=0;i={seq:x}", "__REALTIME_TIMESTAMP": str(round(t * 1e6)),
            "__MONOTONIC_TIMESTAMP": str(seq * 1000), "_BOOT_ID": "3f1c" * 8,
            "PRIORITY": "6", "SYSLOG_FACILITY": "3", "SYSLOG_IDENTIFIER": entry.ident,
            "_PID": str(entry.pid), "_COMM": entry.ident.lower()[:15],
            "_HOSTNAME": entry.host, "MESSAGE": entry.message,
        })
    raise ValueError(f"unknown form {form!r}")


def render(entries: Iterable[Entry], form: str) -> str:
    """A whole file in `form`; journal forms start with journalctl's header line."""
    out = []
    if form in ("short-iso", "short-precise"):
        out.append("-- Journal begins at Mon 2026-11-30 00:00:01 UTC. --")
    out += [line(e, form, i) for i, e in enumerate(entries)]
    return "\n".join(out) + "\n"
