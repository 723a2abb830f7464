"""Read the shapes of a keepalived log line: which form, when, from which process.

A line's prefix says where it came from; `parse_line` splits it off and leaves
keepalived's message for messages.py. Accepted: the three forms keepalived writes
(writer.py: console, file, syslog datagram) plus what syslog daemons and journald make of
them: `/var/log/messages` (`Nov 22 15:20:10 host Keepalived_vrrp[4240]: message`),
`journalctl` (same), and `journalctl -o short-iso` / `short-iso-precise`
(`2026-11-22T15:20:10+0000 host Keepalived_vrrp[4240]: message`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Literal

from haconsole.keepalived.log.writer import MONTHS

__all__ = ["LineForm", "ParsedLine", "parse_line", "syslog_month"]

_MONTH_NUMBER = {name: i + 1 for i, name in enumerate(MONTHS)}

LineForm = Literal["console", "file", "syslog", "iso", "bare"]


@dataclass(frozen=True)
class ParsedLine:
    """One log line split into its prefix facts and keepalived's message.

    `t` is None when the line carried no recognisable time (a bare message);
    `severity` is the syslog severity when the line had a `<pri>`.
    """

    t: float | None
    pid: int | None
    process: str
    message: str
    form: LineForm
    host: str = ""
    severity: int | None = None


_CONSOLE_RE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]?\d) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))? (?P<year>\d{4}): ?"
    r"(?P<msg>.*)$"
)
_SYSLOG_RE = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d{1,9}))? "
    r"(?:(?P<host>[^\s\[\]:]+) )?(?P<proc>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d)T(?P<time>\d\d:\d\d:\d\d)(?:[.,](?P<frac>\d{1,9}))?"
    r"(?P<tz>Z|[+-]\d\d:?\d\d)? (?:(?P<host>[^\s\[\]:]+) )?(?P<proc>[^\s\[\]:]+)"
    r"(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)


def _micro(frac: str | None) -> int:
    return int((frac or "0")[:6].ljust(6, "0"))


def _epoch(
    year: int, month: int, day: int, h: int, m: int, s: int, us: int, tz: tzinfo | None
) -> float:
    """Local wall time -> epoch seconds; naive (tz None) means this machine's zone."""
    return datetime(year, month, day, h, m, s, us, tzinfo=tz).timestamp()


def parse_line(
    line: str, *, year: int | None = None, tz: tzinfo | None = None
) -> ParsedLine:
    """Split a keepalived log line in any known form; never raises.

    Syslog lines carry no year: `year` supplies it (default: the current year). Console
    and syslog stamps are the node's local time: `tz` names that zone (default: ours).
    A line in no known form comes back whole as a `bare` message with `t=None`.
    """
    text = line.rstrip("\r\n")
    try:
        mc = _CONSOLE_RE.match(text)
        if mc:
            frac = mc["frac"]
            t = _epoch(
                int(mc["year"]), _MONTH_NUMBER[mc["mon"]], int(mc["day"]),
                int(mc["h"]), int(mc["m"]), int(mc["s"]), _micro(frac), tz,
            )
            return ParsedLine(t, None, "", mc["msg"], "file" if frac else "console")
        mi = _ISO_RE.match(text)
        if mi:
            stamp = f"{mi['date']}T{mi['time']}"
            d = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(
                microsecond=_micro(mi["frac"])
            )
            zone = mi["tz"]
            if zone:
                d = d.replace(tzinfo=_parse_offset(zone))
            elif tz is not None:
                d = d.replace(tzinfo=tz)
            pid = int(mi["pid"]) if mi["pid"] else None
            return ParsedLine(
                d.timestamp(), pid, mi["proc"], mi["msg"], "iso", host=mi["host"] or ""
            )
        ms = _SYSLOG_RE.match(text)
        if ms and ms["mon"] in _MONTH_NUMBER:
            y = year if year is not None else time.localtime().tm_year
            t = _epoch(
                y, _MONTH_NUMBER[ms["mon"]], int(ms["day"]),
                int(ms["h"]), int(ms["m"]), int(ms["s"]), _micro(ms["frac"]), tz,
            )
            pri = int(ms["pri"]) if ms["pri"] else None
            return ParsedLine(
                t,
                int(ms["pid"]) if ms["pid"] else None,
                ms["proc"],
                ms["msg"],
                "syslog",
                host=ms["host"] or "",
                severity=pri & 7 if pri is not None else None,
            )
    except (ValueError, OverflowError, OSError):
        pass  # an impossible date (Feb 30, year 0): keep the line as a bare message
    return ParsedLine(None, None, "", text, "bare")


def _parse_offset(zone: str) -> tzinfo:
    if zone == "Z":
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def syslog_month(line: str) -> int | None:
    """The month (1-12) of a syslog-form stamp, which carries no year; None for any other
    form. The parser uses it to notice a log crossing New Year."""
    m = _SYSLOG_RE.match(line.rstrip("\r\n"))
    if m and m["mon"] in _MONTH_NUMBER and not _CONSOLE_RE.match(line):
        return _MONTH_NUMBER[m["mon"]]
    return None
