"""Write keepalived's log forms: console (`-l`), file (`-g`) and syslog datagrams.

Why: the engine logs in keepalived's exact wording and forms, so an operator's habits
(`journalctl -u keepalived`, `grep "Entering MASTER"`) keep working, and the same reader
(shapes.py, parser.py) serves stock keepalived nodes and haconsole nodes alike.

Forms (facts from keepalived 2.2.7, lib/logger.c and glibc's syslog(3)):

- console (`-l`, with `-n`): `strftime("%c")` in the C locale, i.e. the day of month is
  padded with a space: `Sun Nov  2 15:20:10 2026: message`; local time; messages are cut
  at 510 characters (keepalived's buffer).
- file (`-g`/`--log-file`): `Sun Nov 02 15:20:10.123456000 2026: message` (zero-padded day,
  nanoseconds; we carry microseconds, so the last three digits are 0).
- syslog: the datagram glibc sends to /dev/log: `<30>Nov  2 15:20:10 Keepalived_vrrp[4240]:
  message` (`<facility|severity>`, space-padded day, no year, no host). keepalived logs
  nearly everything at LOG_INFO, so with the default facility (daemon) the prefix is `<30>`.

keepalived's command-line flags for these (`-l`, `-D`, `-S`, `-g`, `-G`) are read by the
agent's command line (haconsole/agent/cli.py) into a `LogOptions`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO, Literal

__all__ = [
    "DAYS",
    "DEFAULT_LOG_FILE",
    "DETAIL",
    "LOG_DAEMON",
    "LOG_LOCAL0",
    "LOG_USER",
    "MONTHS",
    "TIME_ATTR",
    "KeepalivedFormatter",
    "KeepalivedSyslogHandler",
    "LogOptions",
    "build_log_handlers",
    "format_console_time",
    "format_file_time",
    "format_syslog_time",
    "time_extra",
]

#: Day and month names of the C locale, as `%c`, `%a` and `%b` print them.
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Level for messages keepalived only logs with `-D` (log detail): GARP lines, "sent 0
#: priority", "Master received priority 0 message"... Between DEBUG and INFO, so a handler
#: at INFO drops them and `-D` lowers handlers to DETAIL. Sent to syslog as LOG_INFO.
DETAIL = 15
logging.addLevelName(DETAIL, "DETAIL")

#: LogRecord attribute carrying the wall-clock time to print (the engine's clock, or a
#: test's fixed time). Without it the record's creation time is used.
TIME_ATTR = "keepalived_time"

#: syslog facilities as <syslog.h> defines them (already shifted): `-S` picks one.
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
        f"{DAYS[d.weekday()]} {MONTHS[d.month - 1]} {d.day:2d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {d.year}"
    )


def format_file_time(t: float, tz: tzinfo | None = None) -> str:
    """keepalived's log-file stamp: `Sun Nov 02 15:20:10.123456000 2026`."""
    d = _local(t, tz)
    return (
        f"{DAYS[d.weekday()]} {MONTHS[d.month - 1]} {d.day:02d} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond * 1000:09d} {d.year}"
    )


def format_syslog_time(t: float, tz: tzinfo | None = None) -> str:
    """glibc syslog's `%h %e %T`: `Nov  2 15:20:10`."""
    d = _local(t, tz)
    return f"{MONTHS[d.month - 1]} {d.day:2d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


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
