"""keepalived's log formats: write them (console, syslog, file) and read them back as events.

Why both directions live here: the engine logs in keepalived's exact wording and forms, so
an operator's habits (`journalctl -u keepalived`, `grep "Entering MASTER"`) keep working,
and the one parser below serves stock keepalived nodes and haconsole nodes alike.

Forms (facts from keepalived 2.2.7, lib/logger.c and glibc's syslog(3)):

- console (`-l`, with `-n`): `strftime("%c")` in the C locale, i.e. the day of month is
  padded with a space: `Sun Nov  2 15:20:10 2026: message`; local time; messages are cut
  at 510 characters (keepalived's buffer).
- file (`-g`/`--log-file`): `Sun Nov 02 15:20:10.123456000 2026: message` (zero-padded day,
  nanoseconds; we carry microseconds, so the last three digits are 0).
- syslog: the datagram glibc sends to /dev/log: `<30>Nov  2 15:20:10 Keepalived_vrrp[4240]:
  message` (`<facility|severity>`, space-padded day, no year, no host). keepalived logs
  nearly everything at LOG_INFO, so with the default facility (daemon) the prefix is `<30>`.

Reading accepts those three plus what syslog daemons and journald make of them:
`/var/log/messages` (`Nov 22 15:20:10 host Keepalived_vrrp[4240]: message`),
`journalctl` (same), and `journalctl -o short-iso` / `short-iso-precise`
(`2026-11-22T15:20:10+0000 host Keepalived_vrrp[4240]: message`).

Writing API: `KeepalivedFormatter`, `KeepalivedSyslogHandler`, `add_log_arguments`,
`LogOptions`, `log_options_from_args`, `build_log_handlers`, `DETAIL`, `time_extra`.
Reading API: `parse_line` (prefix -> `ParsedLine`), `classify` (message ->
`KeepalivedMessage`), `KeepalivedLogParser(node).feed(line) -> list[Event]`.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import IO, Literal

from haconsole.cluster.events import (
    AdvertReceived,
    AdvertSent,
    Event,
    LogLine,
    PacketDropped,
    PriorityChange,
    State,
    TrackResult,
    Transition,
    VipAdded,
    VipRemoved,
)
from haconsole.config import VrrpInstance

__all__ = [
    "DEFAULT_LOG_FILE",
    "DETAIL",
    "LOG_DAEMON",
    "LOG_USER",
    "TIME_ATTR",
    "KeepalivedFormatter",
    "KeepalivedLogParser",
    "KeepalivedMessage",
    "KeepalivedSyslogHandler",
    "LogOptions",
    "ParsedLine",
    "add_log_arguments",
    "build_log_handlers",
    "classify",
    "format_console_time",
    "format_file_time",
    "format_syslog_time",
    "handlers_from_argv",
    "log_options_from_args",
    "parse_facility",
    "parse_line",
    "time_extra",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name: i + 1 for i, name in enumerate(_MONTHS)}

# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

#: Level for messages keepalived only logs with `-D` (log detail): GARP lines, "sent 0
#: priority", "Master received priority 0 message"... Between DEBUG and INFO, so a handler
#: at INFO drops them and `-D` lowers handlers to DETAIL. Sent to syslog as LOG_INFO.
DETAIL = 15
logging.addLevelName(DETAIL, "DETAIL")

#: LogRecord attribute carrying the wall-clock time to print (the engine's clock, or a
#: test's fixed time). Without it the record's creation time is used.
TIME_ATTR = "keepalived_time"

LOG_USER = 1 << 3
LOG_DAEMON = 3 << 3
LOG_LOCAL0 = 16 << 3

#: keepalived's default for `-g` without a file name ("keepalived.log" in its tmp dir).
DEFAULT_LOG_FILE = "/tmp/keepalived.log"

#: keepalived formats console/file lines into a 2 * MAX_LOG_MSG + 1 byte buffer.
_CONSOLE_MAX = 2 * 255

Form = Literal["console", "file", "syslog"]


def time_extra(t: float) -> dict[str, float]:
    """`extra=` for a logging call so the line carries time `t`, not the record's creation."""
    return {TIME_ATTR: t}


def _local(t: float, tz: tzinfo | None) -> datetime:
    """keepalived uses localtime_r; `tz` overrides (tests, remote nodes in other zones)."""
    if tz is None:
        return datetime.fromtimestamp(t)
    return datetime.fromtimestamp(t, tz)


def format_console_time(t: float, tz: tzinfo | None = None) -> str:
    """`%c` in the C locale: `Sun Nov  2 15:20:10 2026` (space-padded day)."""
    d = _local(t, tz)
    return (
        f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:2d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {d.year}"
    )


def format_file_time(t: float, tz: tzinfo | None = None) -> str:
    """keepalived's log-file stamp: `Sun Nov 02 15:20:10.123456000 2026`."""
    d = _local(t, tz)
    return (
        f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond * 1000:09d} {d.year}"
    )


def format_syslog_time(t: float, tz: tzinfo | None = None) -> str:
    """glibc syslog's `%h %e %T`: `Nov  2 15:20:10`."""
    d = _local(t, tz)
    return f"{_MONTHS[d.month - 1]} {d.day:2d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def _severity(levelno: int) -> int:
    """Python level -> syslog severity; INFO and DETAIL are LOG_INFO as in keepalived."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= DETAIL:
        return 6
    return 7


class KeepalivedFormatter(logging.Formatter):
    """Render a record as keepalived would print it in one of its three forms.

    The time comes from the record's `keepalived_time` attribute (see `time_extra`) so the
    engine's clock and tests' fixed times are printed, not the moment of formatting.
    """

    def __init__(
        self,
        form: Form = "console",
        *,
        tz: tzinfo | None = None,
        ident: str = "Keepalived_vrrp",
        pid: int | None = None,
        facility: int = LOG_DAEMON,
    ) -> None:
        super().__init__()
        if form not in ("console", "file", "syslog"):
            raise ValueError(f"unknown keepalived log form {form!r}")
        self.form: Form = form
        self.tz = tz
        self.ident = ident
        self.pid = pid
        self.facility = facility

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        t = getattr(record, TIME_ATTR, None)
        when = float(t) if t is not None else record.created
        if self.form == "syslog":
            pri = self.facility | _severity(record.levelno)
            pid = self.pid if self.pid is not None else os.getpid()
            return f"<{pri}>{format_syslog_time(when, self.tz)} {self.ident}[{pid}]: {message}"
        stamp = (
            format_console_time(when, self.tz)
            if self.form == "console"
            else format_file_time(when, self.tz)
        )
        line = f"{stamp}: {message[:_CONSOLE_MAX]}"
        if record.exc_info:
            # keepalived never logs tracebacks, but losing one of ours would be worse.
            line += "\n" + self.formatException(record.exc_info)
        return line


class KeepalivedSyslogHandler(logging.Handler):
    """Send keepalived-form syslog datagrams to a local socket (normally /dev/log).

    The stdlib SysLogHandler adds its own `<pri>` and no timestamp; this one sends exactly
    what glibc's syslog(3) sends for keepalived. A send failure reconnects once and then
    drops the line (counted in `dropped`): logging must never take the engine down.
    """

    def __init__(self, address: str = "/dev/log", formatter: KeepalivedFormatter | None = None):
        super().__init__()
        self.address = address
        self.setFormatter(formatter or KeepalivedFormatter("syslog"))
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._stream = False

    def _connect(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.connect(self.address)
            self._stream = False
        except OSError:
            sock.close()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            self._stream = True
        return sock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = self.format(record).encode("utf-8", "replace")
        except Exception:  # a bad format string in the caller's record
            self.handleError(record)
            return
        for _attempt in range(2):
            try:
                if self._sock is None:
                    self._sock = self._connect()
                self._sock.send(data + b"\0" if self._stream else data)
                return
            except OSError:
                self._close_socket()
        self.dropped += 1

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def close(self) -> None:
        self.acquire()
        try:
            self._close_socket()
        finally:
            self.release()
        super().close()


@dataclass(frozen=True)
class LogOptions:
    """keepalived's logging flags: `-l`, `-D` (repeatable), `-S`, `-g`/`--log-file`, `-G`."""

    console: bool = False
    detail: int = 0
    facility: int = LOG_DAEMON
    log_file: str | None = None
    syslog: bool = True
    flush_log_file: bool = False

    @property
    def level(self) -> int:
        """Handler level: INFO; `-D` adds DETAIL lines; `-DD` (extra detail) adds DEBUG."""
        if self.detail >= 2:
            return logging.DEBUG
        if self.detail == 1:
            return DETAIL
        return logging.INFO


def parse_facility(value: str) -> int:
    """`-S` like keepalived: `0`-`7` or `local0`-`local7` (LOG_LOCALn), `daemon`, `user`."""
    text = value.strip()
    digits = text[5:] if text.startswith("local") else text
    if digits.isdigit() and 0 <= int(digits) <= 7:
        return LOG_LOCAL0 + (int(digits) << 3)
    if text == "daemon":
        return LOG_DAEMON
    if text == "user":
        return LOG_USER
    raise ValueError(f"Invalid log facility '{value}' (expected 0-7, local0-local7, user, daemon)")


def _facility_arg(value: str) -> int:
    try:
        return parse_facility(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """Add keepalived's logging flags to a CLI, with keepalived's letters and meanings."""
    parser.add_argument(
        "-l", "--log-console", action="store_true", help="log messages to local console"
    )
    parser.add_argument(
        "-D", "--log-detail", action="count", default=0, help="detailed log messages"
    )
    parser.add_argument(
        "-S",
        "--log-facility",
        type=_facility_arg,
        default=LOG_DAEMON,
        metavar="([0-7]|local[0-7]|user|daemon)",
        help="syslog facility LOG_LOCAL[0-7], user or daemon (default)",
    )
    parser.add_argument(
        "-g",
        "--log-file",
        nargs="?",
        const=DEFAULT_LOG_FILE,
        default=None,
        metavar="FILE",
        help=f"also log to FILE (default {DEFAULT_LOG_FILE})",
    )
    parser.add_argument(
        "--flush-log-file", action="store_true", help="flush log file on write"
    )
    parser.add_argument("-G", "--no-syslog", action="store_true", help="don't log via syslog")


def log_options_from_args(args: argparse.Namespace) -> LogOptions:
    """Read the flags `add_log_arguments` defined back into a `LogOptions`."""
    return LogOptions(
        console=bool(getattr(args, "log_console", False)),
        detail=int(getattr(args, "log_detail", 0) or 0),
        facility=int(getattr(args, "log_facility", LOG_DAEMON)),
        log_file=getattr(args, "log_file", None),
        syslog=not getattr(args, "no_syslog", False),
        flush_log_file=bool(getattr(args, "flush_log_file", False)),
    )


def build_log_handlers(
    options: LogOptions,
    *,
    stream: IO[str] | None = None,
    syslog_address: str = "/dev/log",
    ident: str = "Keepalived_vrrp",
    pid: int | None = None,
    tz: tzinfo | None = None,
) -> list[logging.Handler]:
    """The handlers keepalived would log to with these flags, levels already set.

    Console (`-l`) goes to `stream` (stderr by default), the file (`--log-file`) in the
    file form, and syslog to `syslog_address` only when that socket exists (keepalived's
    syslog(3) silently loses lines without a syslog daemon; we simply don't add it).
    """
    handlers: list[logging.Handler] = []
    if options.console:
        console = logging.StreamHandler(stream if stream is not None else sys.stderr)
        console.setFormatter(KeepalivedFormatter("console", tz=tz))
        handlers.append(console)
    if options.log_file:
        # FileHandler flushes after every record, which also covers --flush-log-file.
        file_handler = logging.FileHandler(options.log_file, mode="a", encoding="utf-8")
        file_handler.setFormatter(KeepalivedFormatter("file", tz=tz))
        handlers.append(file_handler)
    if options.syslog and os.path.exists(syslog_address):
        formatter = KeepalivedFormatter(
            "syslog", tz=tz, ident=ident, pid=pid, facility=options.facility
        )
        handlers.append(KeepalivedSyslogHandler(syslog_address, formatter))
    for handler in handlers:
        handler.setLevel(options.level)
    return handlers


def handlers_from_argv(
    argv: Sequence[str],
    *,
    stream: IO[str] | None = None,
    syslog_address: str = "/dev/log",
    ident: str = "Keepalived_vrrp",
    pid: int | None = None,
    tz: tzinfo | None = None,
) -> list[logging.Handler]:
    """Handlers for a keepalived-style argument list, e.g. `["-l", "-D", "-S", "3"]`.

    Only logging flags are accepted; anything else is an argparse error (SystemExit).
    """
    parser = argparse.ArgumentParser(prog="keepalived", add_help=False)
    add_log_arguments(parser)
    options = log_options_from_args(parser.parse_args(list(argv)))
    return build_log_handlers(
        options, stream=stream, syslog_address=syslog_address, ident=ident, pid=pid, tz=tz
    )


# --------------------------------------------------------------------------------------
# Reading: line prefixes
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Reading: messages
# --------------------------------------------------------------------------------------

MessageKind = Literal[
    "enter_state",  # state; detail "init" for "(init)"; reason for "entering FAULT state (..)"
    "advert_timeout",
    "higher_priority_advert",  # master saw a better master: source, priority, ours
    "same_priority_higher_ip",  # source, priority
    "lower_priority_discarded",  # backup ignores a lower-priority master: source, priority
    "lower_priority_advert",  # master saw a lower-priority advert: source, priority, ours
    "priority_zero_received",  # backup received priority 0 (master left)
    "master_priority_zero_received",
    "priority_zero_sent",
    "priority_change",  # old, new
    "script_result",  # track, ok, detail
    "script_status",  # track, status
    "interface_state",  # interface, ok
    "process_quorum",  # track, ok
    "vips",  # ok=True setting / False removing; detail "VIPs" | "E-VIPs"
    "garp_queued",  # instance, interface, address, detail "gratuitous ARPs" | "Unsolicited ..."
    "garp_sent",  # interface, address (ARP)
    "na_sent",  # interface, address (IPv6 unsolicited neighbour advert)
    "packet_error",  # instance, reason (keepalived's counter), detail
    "sync_group",  # group, state
    "starting",
    "stopping",
    "stopped",
    "error",  # detail
]


@dataclass(frozen=True)
class KeepalivedMessage:
    """What one keepalived message says, in fields; `kind` tells which fields matter."""

    kind: MessageKind
    instance: str = ""
    state: str = ""
    source: str = ""
    priority: int | None = None
    ours: int | None = None
    old: int | None = None
    new: int | None = None
    track: str = ""
    ok: bool | None = None
    status: int | None = None
    interface: str = ""
    address: str = ""
    reason: str = ""
    detail: str = ""
    group: str = ""


# "(VI_1) rest", "(VI_1): rest" (2.x) and "VRRP_Instance(VI_1) rest" (1.x).
_INSTANCE_RE = re.compile(r"^(?:VRRP_Instance)?\((?P<inst>[^()\s]+)\):? (?P<rest>.*)$")

# Messages about one instance; matched against the text after the instance prefix.
_INSTANCE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Entering (?P<state>MASTER|BACKUP|FAULT) STATE(?P<init> \(init\))?$"),
     "enter_state"),
    (re.compile(r"^(?:[Ee]ntering|Now in) (?P<state>FAULT) [Ss]tate(?: \((?P<reason>.*)\))?$"),
     "enter_state"),
    (re.compile(r"^[Ee]ntering (?P<state>FAULT) state due to (?P<reason>script \S+)$"),
     "enter_state"),
    (re.compile(r"^Receive advertisement timeout$"), "advert_timeout"),
    (re.compile(
        r"^(?:Master )?[Rr]eceived advert from (?P<source>\S+) with higher priority "
        r"(?P<priority>\d+), ours (?P<ours>\d+)$"), "higher_priority_advert"),
    (re.compile(r"^Received advert with higher priority (?P<priority>\d+), ours (?P<ours>\d+)$"),
     "higher_priority_advert"),
    (re.compile(
        r"^Master received advert from (?P<source>\S+) with same priority (?P<priority>\d+) "
        r"but higher IP address than ours$"), "same_priority_higher_ip"),
    (re.compile(
        r"^received lower priority \((?P<priority>\d+)\) advert from (?P<source>\S+) "
        r"- discarding$"), "lower_priority_discarded"),
    (re.compile(
        r"^Received advert from (?P<source>\S+) with lower priority (?P<priority>\d+), "
        r"ours (?P<ours>\d+)(?:, forcing new election)?$"), "lower_priority_advert"),
    (re.compile(r"^Backup received priority 0 advertisement$"), "priority_zero_received"),
    (re.compile(r"^Master received priority 0 message$"), "master_priority_zero_received"),
    (re.compile(r"^sent 0 priority$"), "priority_zero_sent"),
    (re.compile(r"^Changing effective priority from (?P<old>\d+) to (?P<new>\d+)$"),
     "priority_change"),
    (re.compile(r"^(?P<verb>sett|remov)ing (?:protocol )?(?P<what>E-VIPs|VIPs)\.?$"), "vips"),
    (re.compile(
        r"^Sending/queueing (?P<what>gratuitous ARPs|Unsolicited Neighbour Adverts) "
        r"on (?P<interface>\S+) for (?P<address>\S+)$"), "garp_queued"),
    # Packet checks (vrrp_check_packet & co); reason = keepalived's stats counter.
    (re.compile(r"^received an invalid passwd!?$"), "packet_error:auth_failure"),
    (re.compile(r"^IPSEC-AH : invalid IPSEC HMAC-MD5 value.*$"), "packet_error:auth_failure"),
    (re.compile(r"^received a \d+ auth, expecting \d+!?$"), "packet_error:authtype_mismatch"),
    (re.compile(r"^(?:Received AH header but auth type not AH|No AH header but auth type is AH)$"),
     "packet_error:authtype_mismatch"),
    (re.compile(r"^Invalid auth type: \d+$"), "packet_error:invalid_authtype"),
    (re.compile(r"^invalid TTL/HL\. Received \d+ and expect \d+$"), "packet_error:ip_ttl_err"),
    (re.compile(r"^TTL/HL \d+ not in range \d+ - \d+$"), "packet_error:ip_ttl_err"),
    (re.compile(r"^vrrp packet too (?:long|short), length \d+ and expect \d+$"),
     "packet_error:packet_len_err"),
    (re.compile(r"^ip_tot_len mismatch against received length\. \d+ and received \d+$"),
     "packet_error:packet_len_err"),
    (re.compile(r"^wrong version\. Received \d+ and expect \d+$"), "packet_error:vers_err"),
    (re.compile(r"^advertisement interval mismatch mine=.*$"),
     "packet_error:advert_interval_err"),
    (re.compile(r"^Invalid packet type\. \d+ and expect \d+$"),
     "packet_error:invalid_type_rcvd"),
    (re.compile(r"^received an unexpected ip number count \d+, expected \d+!?$"),
     "packet_error:addr_list_err"),
    (re.compile(r"^expected \d+ VIPs but received \d+$"), "packet_error:addr_list_err"),
    (re.compile(
        r"^ip address associated with VRID \d+ not present in MASTER advert: (?P<source>\S+)$"),
     "packet_error:addr_list_err"),
    (re.compile(r"^Invalid VRRPv[23] checksum$"), "packet_error:chk_err"),
    (re.compile(r"^unicast source address (?P<source>\S+) not a unicast peer$"),
     "packet_error:unicast_src_err"),
    (re.compile(r"^Expected (?:un|mult)icast packet but received (?:un|mult)icast packet$"),
     "packet_error:cast_err"),
    (re.compile(r"^(?:CONFIGURATION ERROR|WARNING)\b.*$"), "error"),
]

# Messages not about one instance.
_GLOBAL_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^VRRP_Script\((?P<track>[^)]+)\) (?P<result>succeeded|failed|timed_out)"
                r"(?: \((?P<why>.*)\))?$"), "script_result"),
    (re.compile(r"^VRRP_Script\((?P<track>[^)]+)\) considered (?P<result>successful|"
                r"unsuccessful) on reload$"), "script_result"),
    (re.compile(r"^Script `(?P<track>[^`]+)` now returning (?P<status>-?\d+)$"),
     "script_status"),
    (re.compile(r"^(?:Netlink|Linkbeat|Kernel) reports (?P<interface>\S+) (?P<updown>up|down)$"),
     "interface_state"),
    (re.compile(r"^Quorum (?P<updown>gained|lost) for tracked process (?P<track>.+)$"),
     "process_quorum"),
    (re.compile(r"^Sending gratuitous ARP on (?P<interface>\S+) for (?P<address>\S+)$"),
     "garp_sent"),
    (re.compile(r"^Sending unsolicited Neighbour Advert on (?P<interface>\S+) "
                r"for (?P<address>\S+)$"), "na_sent"),
    (re.compile(r"^VRRP_Group\((?P<group>[^)]+)\):? Syncing (?:instances|\S+) to "
                r"(?P<state>MASTER|BACKUP|FAULT) state$"), "sync_group"),
    (re.compile(r"^Starting Keepalived\b.*$"), "starting"),
    (re.compile(r"^Stopping$"), "stopping"),
    (re.compile(r"^Stopped(?: - used| Keepalived|$).*$"), "stopped"),
    (re.compile(r"^(?:Error \d+|ERROR|Backstop thread invoked|Cant send advert|cant open)\b.*$"),
     "error"),
]


def classify(message: str) -> KeepalivedMessage | None:
    """Recognise one keepalived message (no prefix); None when it is not one we know."""
    text = message.strip()
    mi = _INSTANCE_RE.match(text)
    if mi:
        instance, rest = mi["inst"], mi["rest"]
        for pattern, kind in _INSTANCE_PATTERNS:
            m = pattern.match(rest)
            if m:
                return _instance_message(kind, instance, rest, m)
        # "(VI_1): send advert error 101 (...)", "(VI_1) Cant send advert to ...".
        if re.match(r"^(?:send advert error|Cant send advert|cant do IP)", rest):
            return KeepalivedMessage("error", instance=instance, detail=rest)
        return None
    for pattern, kind in _GLOBAL_PATTERNS:
        m = pattern.match(text)
        if m:
            return _global_message(kind, text, m)
    return None


def _int(m: re.Match[str], name: str) -> int | None:
    value = m.groupdict().get(name)
    return int(value) if value is not None else None


def _instance_message(kind: str, instance: str, rest: str, m: re.Match[str]) -> KeepalivedMessage:
    groups = m.groupdict()
    if kind.startswith("packet_error:"):
        return KeepalivedMessage(
            "packet_error",
            instance=instance,
            reason=kind.split(":", 1)[1],
            source=groups.get("source") or "",
            detail=rest,
        )
    if kind == "enter_state":
        return KeepalivedMessage(
            "enter_state",
            instance=instance,
            state=groups["state"],
            detail="init" if groups.get("init") else "",
            reason=groups.get("reason") or "",
        )
    if kind == "vips":
        return KeepalivedMessage(
            "vips", instance=instance, ok=groups["verb"] == "sett", detail=groups["what"]
        )
    if kind == "garp_queued":
        return KeepalivedMessage(
            "garp_queued",
            instance=instance,
            interface=groups["interface"],
            address=groups["address"],
            detail=groups["what"],
        )
    if kind == "error":
        return KeepalivedMessage("error", instance=instance, detail=rest)
    return KeepalivedMessage(
        kind,  # type: ignore[arg-type]
        instance=instance,
        source=groups.get("source") or "",
        priority=_int(m, "priority"),
        ours=_int(m, "ours"),
        old=_int(m, "old"),
        new=_int(m, "new"),
    )


def _global_message(kind: str, text: str, m: re.Match[str]) -> KeepalivedMessage:
    groups = m.groupdict()
    if kind == "script_result":
        result = groups["result"]
        ok = result in ("succeeded", "successful")
        why = groups.get("why")
        detail = f"{result} ({why})" if why else result
        return KeepalivedMessage("script_result", track=groups["track"], ok=ok, detail=detail)
    if kind == "script_status":
        status = int(groups["status"])
        return KeepalivedMessage(
            "script_status", track=groups["track"], status=status, ok=status == 0,
            detail=f"now returning {status}",
        )
    if kind == "interface_state":
        up = groups["updown"] == "up"
        return KeepalivedMessage(
            "interface_state", interface=groups["interface"], track=groups["interface"],
            ok=up, detail=text,
        )
    if kind == "process_quorum":
        return KeepalivedMessage(
            "process_quorum", track=groups["track"], ok=groups["updown"] == "gained",
            detail=f"quorum {groups['updown']}",
        )
    if kind in ("garp_sent", "na_sent"):
        return KeepalivedMessage(
            kind,  # type: ignore[arg-type]
            interface=groups["interface"], address=groups["address"],
        )
    if kind == "sync_group":
        return KeepalivedMessage("sync_group", group=groups["group"], state=groups["state"])
    return KeepalivedMessage(kind, detail=text)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Reading: the stateful parser
# --------------------------------------------------------------------------------------

#: How long a track result may explain a following priority change or FAULT (seconds):
#: keepalived logs both in the same event-loop pass, so at most one second tick apart.
_CAUSE_WINDOW = 1.5


@dataclass
class _Pending:
    """What an instance heard since its last transition: the reason for the next one."""

    timeout: bool = False
    priority_zero: bool = False
    lower: tuple[str, int] | None = None
    higher: str = ""
    fault: str = ""


@dataclass
class _Cause:
    text: str
    ok: bool
    t: float


@dataclass
class _InstanceInfo:
    state: State | None = None
    base: int | None = None
    effective: int | None = None
    pending: _Pending = field(default_factory=_Pending)


class KeepalivedLogParser:
    """Turn one node's keepalived log lines into `cluster.events`, line by line.

    Stateful because keepalived states causes and effects on separate lines: "Receive
    advertisement timeout" then "Entering MASTER STATE"; "VRRP_Script(chk) failed" then
    "Changing effective priority"; "setting VIPs." without the VIPs. The parser remembers
    each instance's state (for `Transition.old`) and what it heard since its last
    transition (for `Transition.reason`).

    Every non-blank line yields a `LogLine` (last in the returned list) whatever it says;
    unknown lines yield only that. Nothing here raises on input.

    Feed one node's lines only (one parser per node): instance names are per node.
    VIPs: "setting VIPs." names none, so tell the parser with `set_vips` or `instances`
    (config or dump); otherwise VipAdded/VipRemoved carry `vip=""`.
    """

    def __init__(
        self,
        node: str,
        *,
        instances: Iterable[VrrpInstance] = (),
        year: int | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.node = node
        self.year = year
        self.tz = tz
        self._info: dict[str, _InstanceInfo] = {}
        self._vips: dict[str, tuple[str, ...]] = {}
        self._evips: dict[str, tuple[str, ...]] = {}
        self._cause: _Cause | None = None
        self._sync: tuple[str, str, float] | None = None
        self._last_t = 0.0
        self._last_month: int | None = None
        for inst in instances:
            self.set_vips(inst.name, [str(v) for v in inst.virtual_ipaddress])
            self._evips[inst.name] = tuple(str(v) for v in inst.virtual_ipaddress_excluded)
            self._instance(inst.name).base = inst.priority

    # -- configuration ---------------------------------------------------------------

    def set_vips(
        self, instance: str, vips: Iterable[str], excluded: Iterable[str] | None = None
    ) -> None:
        """Tell the parser an instance's VIPs (address strings), for VipAdded/VipRemoved."""
        self._vips[instance] = tuple(vips)
        if excluded is not None:
            self._evips[instance] = tuple(excluded)

    def set_base_priority(self, instance: str, priority: int) -> None:
        """Tell the parser an instance's configured priority, for `PriorityChange.base`."""
        self._instance(instance).base = priority

    @property
    def states(self) -> Mapping[str, State]:
        """Each instance's state as the log has shown it so far."""
        return {name: info.state for name, info in self._info.items() if info.state}

    # -- feeding ---------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[str]) -> list[Event]:
        """`feed` every line; the events in order."""
        events: list[Event] = []
        for line in lines:
            events.extend(self.feed(line))
        return events

    def feed(self, line: str) -> list[Event]:
        """Events for one line: what it means (maybe nothing), then its LogLine."""
        if not line.strip():
            return []
        parsed = parse_line(line, year=self._year_for(line), tz=self.tz)
        t = parsed.t if parsed.t is not None else self._last_t
        self._last_t = t
        keepalived = parsed.process == "" or parsed.process.lower().startswith("keepalived")
        msg = classify(parsed.message) if keepalived else None
        events: list[Event] = []
        if msg is not None:
            try:
                events = self._events(msg, t)
            except (ValueError, KeyError, TypeError):  # pragma: no cover - defensive
                events = []
        text = parsed.message if keepalived else _with_process(parsed)
        events.append(LogLine(t=t, node=self.node, text=text, level=_level(parsed, msg)))
        return events

    def _year_for(self, line: str) -> int | None:
        """Year for syslog stamps: the given one, advanced when the log crosses New Year."""
        if self.year is None:
            return None
        m = _SYSLOG_RE.match(line.rstrip("\r\n"))
        if m and m["mon"] in _MONTH_NUMBER and not _CONSOLE_RE.match(line):
            month = _MONTH_NUMBER[m["mon"]]
            if self._last_month == 12 and month == 1:
                self.year += 1
            self._last_month = month
        return self.year

    # -- meaning ---------------------------------------------------------------------

    def _instance(self, name: str) -> _InstanceInfo:
        info = self._info.get(name)
        if info is None:
            info = self._info[name] = _InstanceInfo()
        return info

    def _events(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        node = self.node
        kind = msg.kind
        if kind == "enter_state":
            return self._enter(msg, t)
        if kind == "advert_timeout":
            self._instance(msg.instance).pending.timeout = True
            return []
        if kind == "higher_priority_advert":
            info = self._instance(msg.instance)
            src = f" from {msg.source}" if msg.source else ""
            info.pending.higher = f"higher priority {msg.priority} advert{src} (ours {msg.ours})"
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "same_priority_higher_ip":
            info = self._instance(msg.instance)
            info.pending.higher = (
                f"same priority {msg.priority} advert from {msg.source} with higher IP address"
            )
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "lower_priority_discarded":
            self._instance(msg.instance).pending.lower = (msg.source, msg.priority or 0)
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "lower_priority_advert":
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "priority_zero_received":
            self._instance(msg.instance).pending.priority_zero = True
            return [AdvertReceived(t, node, msg.instance, "", 0)]
        if kind == "master_priority_zero_received":
            return [AdvertReceived(t, node, msg.instance, "", 0)]
        if kind == "priority_zero_sent":
            return [AdvertSent(t, node, msg.instance, 0)]
        if kind == "priority_change":
            return [self._priority_change(msg, t)]
        if kind in ("script_result", "script_status", "interface_state", "process_quorum"):
            ok = bool(msg.ok)
            if kind != "script_status":
                self._cause = _Cause(_cause_text(msg), ok, t)
            return [TrackResult(t, node, track=msg.track, ok=ok, detail=msg.detail)]
        if kind == "vips":
            return self._vip_events(msg, t)
        if kind == "packet_error":
            return [
                PacketDropped(t, node, msg.instance, msg.source, msg.reason, msg.detail)
            ]
        if kind == "sync_group":
            self._sync = (msg.group, msg.state, t)
            return []
        if kind == "stopping":
            return self._stop_all(t, "keepalived stopping")
        if kind == "stopped":
            return self._stop_all(t, "keepalived stopped")
        return []

    def _enter(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        info = self._instance(msg.instance)
        new: State = msg.state  # type: ignore[assignment]
        old: State = info.state or "INIT"
        if info.state == new:
            # "(X): entering FAULT state (...)" then "Entering FAULT STATE (init)": one change.
            return []
        reason = self._reason(info, old, new, msg, t)
        info.state = new
        info.pending = _Pending()
        return [Transition(t, self.node, msg.instance, old, new, reason)]

    def _recent_cause(self, t: float, ok: bool) -> str:
        cause = self._cause
        if cause is not None and cause.ok == ok and t - cause.t <= _CAUSE_WINDOW:
            return cause.text
        return ""

    def _reason(
        self, info: _InstanceInfo, old: State, new: State, msg: KeepalivedMessage, t: float
    ) -> str:
        """Words for why: what the instance heard since its last transition."""
        pending = info.pending
        if msg.detail == "init":
            return "init"
        if new == "FAULT":
            return msg.reason or pending.fault or self._recent_cause(t, ok=False) or "fault"
        if self._sync is not None and t - self._sync[2] <= _CAUSE_WINDOW and (
            self._sync[1] == new
        ):
            return f"sync group {self._sync[0]}"
        if new == "MASTER":
            if pending.timeout:
                if pending.priority_zero:
                    return "advert timeout after priority 0 advert (master left)"
                if pending.lower is not None:
                    src, prio = pending.lower
                    return f"advert timeout, preempting lower priority {prio} master {src}"
                return "advert timeout"
            if old == "FAULT":
                return "fault cleared" + _suffix(self._recent_cause(t, ok=True))
            return "became master"
        if new == "BACKUP":
            if pending.higher:
                return pending.higher
            if old == "FAULT":
                return "fault cleared" + _suffix(self._recent_cause(t, ok=True))
            return "became backup"
        return ""

    def _priority_change(self, msg: KeepalivedMessage, t: float) -> PriorityChange:
        info = self._instance(msg.instance)
        old = msg.old or 0
        new = msg.new or 0
        if info.base is None:
            # Not told: the first effective priority the log shows is the configured one.
            info.base = old
        info.effective = new
        cause = ""
        if self._cause is not None and t - self._cause.t <= _CAUSE_WINDOW:
            delta = new - old
            if not self._cause.ok and delta < 0:
                cause = f"{self._cause.text} (weight {delta:+d})"
            else:
                cause = f"{self._cause.text} (priority {delta:+d})"
        return PriorityChange(t, self.node, msg.instance, old, new, info.base, cause)

    def _vip_events(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        table = self._evips if msg.detail == "E-VIPs" else self._vips
        vips = table.get(msg.instance) or ("",)
        if msg.ok:
            return [VipAdded(t, self.node, msg.instance, vip) for vip in vips]
        return [VipRemoved(t, self.node, msg.instance, vip) for vip in vips]

    def _stop_all(self, t: float, reason: str) -> list[Event]:
        events: list[Event] = []
        for name, info in self._info.items():
            if info.state is not None and info.state != "STOP":
                events.append(Transition(t, self.node, name, info.state, "STOP", reason))
                info.state = "STOP"
                info.pending = _Pending()
        return events


def _cause_text(msg: KeepalivedMessage) -> str:
    """Short words for a track result, as a priority change's or a fault's cause."""
    if msg.kind == "script_result":
        return f"{msg.track} {msg.detail.split(' ', 1)[0]}"
    if msg.kind == "interface_state":
        return f"{msg.interface} {'up' if msg.ok else 'down'}"
    return f"process {msg.track} {msg.detail}"


def _suffix(cause: str) -> str:
    return f" ({cause})" if cause else ""


def _with_process(parsed: ParsedLine) -> str:
    pid = f"[{parsed.pid}]" if parsed.pid is not None else ""
    return f"{parsed.process}{pid}: {parsed.message}"


_SEVERITY_LEVEL = {0: "error", 1: "error", 2: "error", 3: "error", 4: "warning",
                   5: "info", 6: "info", 7: "debug"}
_RANK = {"debug": 0, "info": 1, "warning": 2, "error": 3}


def _level(parsed: ParsedLine, msg: KeepalivedMessage | None) -> str:
    """The louder of the syslog severity and what the message says (keepalived logs
    invalid passwords at LOG_INFO; the console should still flag them)."""
    level = _SEVERITY_LEVEL.get(parsed.severity, "info") if parsed.severity is not None else "info"
    said = "info"
    if msg is not None:
        if msg.kind == "packet_error":
            said = "warning"
        elif msg.kind == "error":
            said = "error"
        elif msg.kind == "enter_state" and msg.state == "FAULT":
            said = "warning"
    return said if _RANK[said] > _RANK[level] else level
