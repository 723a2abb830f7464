"""Split whole log files into `ParsedLine`s, a million lines at a time: one splitter per form.

Why not shapes.parse_line for every line: a history file is read in one go, so its form is
known after the first lines (`detect_form`) and every later line goes through that form's
one regular expression; stamps repeat (many lines per second), so each second is turned
into epoch seconds once and cached. The forms journald and syslog daemons add around
keepalived's messages also live here (RFC 5424, `journalctl -o json`), since only whole-
file readers meet them.

Forms, by `Form` name:
- `console`: keepalived `-l` (`Sun Nov 22 15:20:10 2026: msg`) and `file`: `-g`
  (`Sun Nov 22 15:20:10.123456000 2026: msg`); one node, no process field;
- `syslog`: RFC 3164 as /var/log/syslog and `journalctl` (default, `-o short-precise`) print
  it: `[<pri>]Nov 22 15:20:10[.ffffff] [host] proc[pid]: msg`; no year;
- `iso`: `journalctl -o short-iso[-precise]`, rsyslog's RFC 3339 files:
  `2026-11-22T15:20:10[.ffffff]+00:00 host proc[pid]: msg`;
- `rfc5424`: `<pri>1 2026-11-22T15:20:10.123Z host app procid msgid [sd] msg`;
- `json`: `journalctl -o json` (one object a line: `__REALTIME_TIMESTAMP`, `_HOSTNAME`,
  `SYSLOG_IDENTIFIER`, `_PID`, `PRIORITY`, `MESSAGE`).

Console, syslog and short-precise stamps are the node's local time: `tz` (default this
machine's zone). Syslog stamps carry no year: the splitter is given the first line's year
and counts a December -> January step as New Year.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

from haconsole.keepalived.log.shapes import ParsedLine
from haconsole.keepalived.log.writer import MONTHS

__all__ = ["FORMS", "OTHER", "Form", "Splitter", "detect_form", "journal_marker",
           "make_splitter", "syslog_months"]

Form = Literal["console", "file", "syslog", "iso", "rfc5424", "json"]
FORMS: tuple[Form, ...] = ("json", "rfc5424", "iso", "console", "file", "syslog")

_MONTH = {name: i + 1 for i, name in enumerate(MONTHS)}
_MON = "(?:" + "|".join(MONTHS) + ")"
_HOST_PROC = (r"(?:(?P<host>[^\s\[\]:]+) )?(?P<proc>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?"
              r"(?P<msg>.*)")

_CONSOLE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<stamp>" + _MON + r" [ \d]\d \d\d:\d\d:\d\d)"
    r"(?:\.(?P<frac>\d{1,9}))? (?P<year>\d{4}): ?(?P<msg>.*)", re.S)
_SYSLOG = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<stamp>" + _MON + r" [ \d]?\d \d\d:\d\d:\d\d)"
    r"(?:\.(?P<frac>\d{1,9}))? " + _HOST_PROC, re.S)
_ISO = re.compile(
    r"(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d\d:?\d\d)? " + _HOST_PROC, re.S)
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<stamp>\S+) (?P<host>\S+) (?P<proc>\S+) (?P<pid>\S+) \S+ "
    r"(?P<rest>.*)", re.S)
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?")

#: Lines journalctl adds between entries ("-- Boot 1a2b... --", "-- No entries --").
_JOURNAL_MARKER = re.compile(r"-- (?:Boot [0-9a-f]+|No entries|Logs begin at .*|"
                             r"Journal begins at .*|Reboot) --")


def journal_marker(line: str) -> bool:
    """Whether `line` is journalctl's own separator, not an entry (skipped silently)."""
    return line.startswith("-- ") and _JOURNAL_MARKER.fullmatch(line.strip()) is not None


def _micro(frac: str | None) -> float:
    return int(frac[:6].ljust(6, "0")) / 1e6 if frac else 0.0


def _offset(zone: str) -> tzinfo:
    if zone == "Z":
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


Splitter = Callable[[str], "ParsedLine | None"]
Ours = Callable[[str], bool] | None  # which processes' lines a reader keeps

#: What a splitter returns for a line of a process its reader does not keep.
OTHER = ParsedLine(None, None, "", "", "bare")


class _Stamps:
    """Epoch seconds of whole-second stamps, computed once each."""

    def __init__(self, tz: tzinfo | None) -> None:
        self.tz = tz
        self.cache: dict[tuple[str, int], float] = {}

    def local(self, year: int, month: int, day: int, hms: str) -> float:
        h, m, s = int(hms[0:2]), int(hms[3:5]), int(hms[6:8])
        return datetime(year, month, day, h, m, s, tzinfo=self.tz).timestamp()


def _console_splitter(tz: tzinfo | None) -> Splitter:
    stamps = _Stamps(tz)
    cache = stamps.cache
    fast: dict[str, float] = {}  # the whole 24-character prefix -> epoch seconds
    match = _CONSOLE.match

    def split(line: str) -> ParsedLine | None:
        # Fast path: `Www Mmm dd HH:MM:SS YYYY: ` is 26 characters; a stamp already seen
        # needs no regular expression.
        if line[24:26] == ": ":
            t = fast.get(line[:24])
            if t is not None:
                return ParsedLine(t, None, "", line[26:], "console")
        m = match(line)
        if m is None:
            return None
        stamp, year = m["stamp"], m["year"]
        key = (stamp, int(year))
        t = cache.get(key)
        if t is None:
            try:
                t = stamps.local(key[1], _MONTH[stamp[:3]], int(stamp[4:6]), stamp[7:15])
            except (ValueError, OverflowError, OSError):
                return None
            cache[key] = t
        frac = m["frac"]
        if not frac and line[24:26] == ": ":
            fast[line[:24]] = t
        return ParsedLine(t + _micro(frac) if frac else t, None, "", m["msg"],
                          "file" if frac else "console")

    return split


def _after_stamp(rest: str) -> tuple[str, str, int | None, str] | None:
    """`host proc[pid]: message` -> its parts; None when unusual (the regex decides)."""
    host, _, after = rest.partition(" ")
    tag, sep, message = after.partition(": ")
    if not sep or not host or host.endswith(":") or "[" in host or " " in tag:
        return None
    proc, bracket, pid = tag.partition("[")
    if not bracket:
        return host, proc, None, message
    if not pid.endswith("]") or not pid[:-1].isdigit():
        return None
    return host, proc, int(pid[:-1]), message


def _syslog_splitter(tz: tzinfo | None, year: int, ours: Ours) -> Splitter:
    """3164 stamps: `year` is the first line's; Dec -> Jan moves to the next year."""
    stamps = _Stamps(tz)
    cache = stamps.cache
    match = _SYSLOG.match
    state = {"year": year, "month": 0}
    previous: list[Any] = ["", 0.0]  # the last whole-second stamp and its epoch

    def split(line: str) -> ParsedLine | None:
        # Fast path: a line of the same second as the one before, in the usual shape.
        if line[15:16] == " " and line[:15] == previous[0]:
            parts = _after_stamp(line[16:])
            if parts is not None:
                host, proc, number, message = parts
                if ours is not None:
                    if not ours(proc):
                        return OTHER
                    proc = ""
                return ParsedLine(previous[1], number, proc, message, "syslog", host)
        m = match(line)
        if m is None:
            return None
        stamp = m["stamp"]
        month = _MONTH[stamp[:3]]
        if month != state["month"]:
            if state["month"] == 12 and month == 1:
                state["year"] += 1
            state["month"] = month
        key = (stamp, state["year"])
        t = cache.get(key)
        if t is None:
            day, _, hms = stamp[4:].strip().partition(" ")
            try:
                t = stamps.local(key[1], month, int(day), hms)
            except (ValueError, OverflowError, OSError):
                return None
            cache[key] = t
        frac, pri, pid = m["frac"], m["pri"], m["pid"]
        if not frac and not pri:
            previous[0], previous[1] = stamp if line[:15] == stamp else "", t
        proc = m["proc"]
        if ours is not None:
            if not ours(proc):
                return OTHER
            proc = ""
        return ParsedLine(t + _micro(frac) if frac else t, int(pid) if pid else None,
                          proc, m["msg"], "syslog", m["host"] or "",
                          int(pri) & 7 if pri else None)

    return split


def _iso_epoch(cache: dict[tuple[str, str], float], stamp: str, zone: str | None,
               tz: tzinfo | None) -> float | None:
    key = (stamp, zone or "")
    t = cache.get(key)
    if t is None:
        try:
            d = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
            d = d.replace(tzinfo=_offset(zone) if zone else tz)
            t = d.timestamp()
        except (ValueError, OverflowError, OSError):
            return None
        cache[key] = t
    return t


def _iso_splitter(tz: tzinfo | None, ours: Ours) -> Splitter:
    cache: dict[tuple[str, str], float] = {}
    match = _ISO.match
    previous: list[Any] = ["", 0.0]  # the last stamp (with its zone) and its epoch

    def split(line: str) -> ParsedLine | None:
        # Fast path: the same stamp as the line before (whole seconds), the usual shape.
        head, space, rest = line.partition(" ")
        if space and head == previous[0]:
            parts = _after_stamp(rest)
            if parts is not None:
                host, proc, number, message = parts
                if ours is not None:
                    if not ours(proc):
                        return OTHER
                    proc = ""
                return ParsedLine(previous[1], number, proc, message, "iso", host)
        m = match(line)
        if m is None:
            return None
        t = _iso_epoch(cache, m["stamp"], m["tz"], tz)
        if t is None:
            return None
        if not m["frac"] and m["host"]:
            previous[0], previous[1] = head, t
        proc = m["proc"]
        if ours is not None:
            if not ours(proc):
                return OTHER
            proc = ""
        frac, pid = m["frac"], m["pid"]
        return ParsedLine(t + _micro(frac) if frac else t, int(pid) if pid else None,
                          proc, m["msg"], "iso", m["host"] or "")

    return split


def _structured_data_end(rest: str) -> int:
    """Index just past RFC 5424 STRUCTURED-DATA at the start of `rest` (`-` or `[...]...`;
    `]` and `"` inside quoted values are escaped with a backslash); -1 when malformed."""
    if rest.startswith("-"):
        return 1
    i, n = 0, len(rest)
    while i < n and rest[i] == "[":
        i += 1
        quoted = False
        while i < n:
            c = rest[i]
            if c == "\\" and quoted:
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == "]" and not quoted:
                break
            i += 1
        if i >= n:
            return -1
        i += 1
    return i if i > 0 else -1


def _rfc5424_splitter(tz: tzinfo | None, ours: Ours) -> Splitter:
    cache: dict[tuple[str, str], float] = {}
    match = _RFC5424.match

    def split(line: str) -> ParsedLine | None:
        m = match(line)
        if m is None:
            return None
        ts = _RFC3339.fullmatch(m["stamp"])
        if ts is None:
            return None
        t = _iso_epoch(cache, ts[1], ts[3], tz)
        if t is None:
            return None
        rest = m["rest"]
        end = _structured_data_end(rest)
        if end < 0:
            return None
        msg = rest[end + 1:] if rest[end:end + 1] == " " else rest[end:]
        if msg.startswith("\ufeff"):  # the BOM that marks a UTF-8 MSG
            msg = msg[1:]
        host, proc, pid = m["host"], m["proc"], m["pid"]
        proc = "" if proc == "-" else proc
        if ours is not None:
            if not ours(proc):
                return OTHER
            proc = ""
        return ParsedLine(t + _micro(ts[2]), int(pid) if pid.isdigit() else None,
                          proc, msg, "iso",
                          "" if host == "-" else host, int(m["pri"]) & 7)

    return split


def _json_text(value: object) -> str:
    """A journal field: a string, or (binary data) a list of byte values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return bytes(b & 0xFF for b in value).decode("utf-8", "replace")
    if value is None:
        return ""
    return str(value)


def _json_splitter(tz: tzinfo | None, ours: Ours) -> Splitter:
    loads = json.loads

    def split(line: str) -> ParsedLine | None:
        try:
            entry = loads(line)
        except ValueError:
            return None
        if not isinstance(entry, dict):
            return None
        stamp = entry.get("__REALTIME_TIMESTAMP") or entry.get("_SOURCE_REALTIME_TIMESTAMP")
        try:
            t = int(str(stamp)) / 1e6
        except ValueError:
            return None
        proc = _json_text(entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM"))
        if ours is not None:
            if not ours(proc):
                return OTHER
            proc = ""
        pid = _json_text(entry.get("SYSLOG_PID") or entry.get("_PID"))
        prio = _json_text(entry.get("PRIORITY"))
        return ParsedLine(t, int(pid) if pid.isdigit() else None, proc,
                          _json_text(entry.get("MESSAGE")), "iso",
                          _json_text(entry.get("_HOSTNAME")),
                          int(prio) & 7 if prio.isdigit() else None)

    return split


def make_splitter(form: Form, *, tz: tzinfo | None = None, year: int = 1970,
                  ours: Ours = None) -> Splitter:
    """The line splitter of `form`: a line -> ParsedLine, or None when not of that form.
    With `ours` (forms with a process field): lines of a process it refuses come back as
    `OTHER`, the others with an empty process (keepalived's own, for the parser)."""
    if form in ("console", "file"):
        return _console_splitter(tz)
    if form == "syslog":
        return _syslog_splitter(tz, year, ours)
    if form == "iso":
        return _iso_splitter(tz, ours)
    if form == "rfc5424":
        return _rfc5424_splitter(tz, ours)
    return _json_splitter(tz, ours)


_PROBES: dict[Form, Callable[[str], bool]] = {
    "json": lambda s: s.startswith("{") and '"__REALTIME_TIMESTAMP"' in s,
    "rfc5424": lambda s: _RFC5424.match(s) is not None,
    "iso": lambda s: _ISO.match(s) is not None,
    "console": lambda s: (m := _CONSOLE.match(s)) is not None and not m["frac"],
    "file": lambda s: (m := _CONSOLE.match(s)) is not None and bool(m["frac"]),
    "syslog": lambda s: _SYSLOG.match(s) is not None,
}


def detect_form(sample: Sequence[str]) -> tuple[Form | None, int]:
    """The form most of `sample`'s lines are in, and how many are; (None, 0) if none is.
    keepalived's console and file forms count as one (a file may hold both)."""
    counts: dict[Form, int] = dict.fromkeys(FORMS, 0)
    for line in sample:
        for form in FORMS:
            if _PROBES[form](line):
                counts[form] += 1
                break
    counts["console"] += counts.pop("file")
    best = max(counts, key=lambda f: counts[f])
    if counts[best] == 0:
        return None, 0
    return best, counts[best]


def syslog_months(lines: Sequence[str]) -> tuple[int | None, int]:
    """(the last stamp's month, how many New Years the stamps cross) for syslog lines;
    the month is None when no line has a syslog stamp."""
    last: int | None = None
    crossings = 0
    for line in lines:
        head = line[:8]
        if head.startswith("<"):
            head = line[line.find(">") + 1:][:3]
        month = _MONTH.get(head[:3])
        if month is None:
            continue
        if last == 12 and month == 1:
            crossings += 1
        last = month
    return last, crossings
