"""keepalived's log formats: write them (console, syslog, file) and read them back as events.

Why both directions live together: the engine logs in keepalived's exact wording and
forms, so an operator's habits (`journalctl -u keepalived`, `grep "Entering MASTER"`) keep
working, and one reader serves stock keepalived nodes and haconsole nodes alike.

One job per module:
- `writer`: keepalived's three forms (console, file, syslog datagram), `KeepalivedFormatter`,
  `KeepalivedSyslogHandler`, `LogOptions` -> `build_log_handlers`, `DETAIL`, `time_extra`;
- `shapes`: a line's prefix in any form keepalived, syslog daemons or journald write
  (`parse_line` -> `ParsedLine`);
- `messages`: the message table (`classify` -> `KeepalivedMessage`);
- `parser`: `KeepalivedLogParser(node).feed(line) -> list[Event]`, stateful;
- `compat`: keepalived 2.4's wording over the core's actions (`Wording24`), for an agent
  that logs like 2.4 (`--log-compat 2.4`); the core itself words like 2.2.7.

keepalived's logging flags (`-l`, `-D`, `-S`, `-g`, `-G`) are the agent's command line:
haconsole/agent/cli.py.
"""

from haconsole.keepalived.log.messages import KeepalivedMessage, classify
from haconsole.keepalived.log.parser import KeepalivedLogParser
from haconsole.keepalived.log.shapes import ParsedLine, parse_line
from haconsole.keepalived.log.writer import (
    DEFAULT_LOG_FILE,
    DETAIL,
    LOG_DAEMON,
    LOG_LOCAL0,
    LOG_USER,
    TIME_ATTR,
    KeepalivedFormatter,
    KeepalivedSyslogHandler,
    LogOptions,
    build_log_handlers,
    format_console_time,
    format_file_time,
    format_syslog_time,
    time_extra,
)

__all__ = [
    "DEFAULT_LOG_FILE",
    "DETAIL",
    "LOG_DAEMON",
    "LOG_LOCAL0",
    "LOG_USER",
    "TIME_ATTR",
    "KeepalivedFormatter",
    "KeepalivedLogParser",
    "KeepalivedMessage",
    "KeepalivedSyslogHandler",
    "LogOptions",
    "ParsedLine",
    "build_log_handlers",
    "classify",
    "format_console_time",
    "format_file_time",
    "format_syslog_time",
    "parse_line",
    "time_extra",
]
