"""Command line of `haconsole agent` and `haconsole agent ctl` (wired into haconsole.cli).

The flags are keepalived's where keepalived has one (`-f`, `-l`, `-D`, `-n`, `-p`,
`-g/--log-file`, `-S`, `-G`, `-v`, `-t`, `-P`, `-i`), so an existing unit file, script
or habit carries over: `-v` prints the version, `-t` tests the config and exits with
keepalived -t's status, `-P` (VRRP only) is what the agent always does, and `-i ID`
selects the `@ID` lines of the config as keepalived does.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haconsole.agent import loop as precise_loop
from haconsole.agent.ctl import ACTIONS as CTL_ACTIONS
from haconsole.agent.daemon import (
    DEFAULT_CONTROL,
    EXIT_FATAL,
    Agent,
    AgentError,
    AgentOptions,
    config_test,
    version,
)
from haconsole.keepalived.log.compat import LOG_COMPAT
from haconsole.keepalived.log.writer import (
    DEFAULT_LOG_FILE,
    LOG_DAEMON,
    LOG_LOCAL0,
    LOG_USER,
    LogOptions,
    build_log_handlers,
)
from haconsole.pipes import silence_stdout

if TYPE_CHECKING:
    from haconsole.cluster.view import ClusterView


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`haconsole agent [-f FILE] [-l] [-D] [-n] [-p PIDFILE] ...` and `agent ctl ...`."""
    parser.add_argument("-f", "--use-file", dest="config_file",
                        default="/etc/keepalived/keepalived.conf",
                        help="keepalived configuration file "
                             "(default /etc/keepalived/keepalived.conf)")
    add_log_arguments(parser)
    parser.add_argument("-n", "--dont-fork", action="store_true",
                        help="don't fork the daemon process (stay in the foreground)")
    parser.add_argument("-v", "--version", dest="show_version", action="store_true",
                        help="print the version and exit")
    parser.add_argument("-t", "--config-test", nargs="?", const="", default=None,
                        metavar="LOG_FILE",
                        help="check the configuration like keepalived -t and exit with its "
                             "status (messages to stderr, or appended to LOG_FILE)")
    parser.add_argument("-P", "--vrrp", action="store_true",
                        help="only run the VRRP subsystem (the agent runs nothing else)")
    parser.add_argument("-i", "--config-id", default=None, metavar="ID",
                        help="the config id `@ID` lines match (default: the host name)")
    parser.add_argument("-p", "--pid", dest="pidfile", default=None,
                        help="pidfile (default: none)")
    parser.add_argument("--control", default=DEFAULT_CONTROL,
                        help=f"control socket path (default {DEFAULT_CONTROL})")
    parser.add_argument("--name", default=None,
                        help="node name in events (default: router_id, else the hostname)")
    parser.add_argument("--service", nargs=3, action="append", default=[],
                        metavar=("NAME", "START", "STOP"),
                        help="a service the console may stop/start, with its commands")
    parser.add_argument("--metrics", type=_listen, default=None, metavar="[ADDR:]PORT",
                        help="serve Prometheus metrics at http://ADDR:PORT/metrics, with "
                             "keepalived-exporter's names (e.g. 9165; ADDR: every address)")
    parser.add_argument("--fast-preempt", action="store_true",
                        help="haconsole only: take over at once when the master this backup "
                             "follows advertises a priority below ours, instead of waiting "
                             "Master_Down_Interval (nopreempt, preempt_delay and a failover "
                             "hold still apply; keepalived masters step down as usual)")
    parser.add_argument("--log-compat", choices=LOG_COMPAT, default="2.2",
                        help="log in keepalived 2.2's wording (default) or 2.4's: a refused "
                             "advert names its sender and is logged once until the next "
                             "transition, and -D adds 'master set to' lines")
    parser.add_argument("--failover-hold", type=float, default=60.0,
                        help="seconds a released master holds back from preempting "
                             "(default 60; it still takes over at once if the new master "
                             "dies)")
    sub = parser.add_subparsers(dest="agent_command", metavar="ctl")
    ctl = sub.add_parser("ctl", help="talk to a running agent through its control socket")
    ctl.add_argument("--control", default=argparse.SUPPRESS,
                     help=f"control socket path (default {DEFAULT_CONTROL})")
    ctl.add_argument("--json", action="store_true", help="print raw JSON replies")
    ctl.add_argument("--stream", action="store_true",
                     help="bridge stdin/stdout to the control socket (JSON lines; for SSH)")
    ctl.add_argument("action", nargs="?", default=None,
                     choices=CTL_ACTIONS)
    ctl.add_argument("target", nargs="?", default=None,
                     help="instance (failover, cancel-hold) or service (stop-/start-service)")


def _listen(text: str) -> tuple[str, int]:
    from haconsole.export.metrics import listen_arg

    return listen_arg(text)


async def _serve_metrics(view: Callable[[], ClusterView], addr: str, port: int) -> Any:
    """The agent's /metrics: its one node, with keepalived-exporter's labels exactly."""
    from haconsole.export.metrics import serve

    return await serve(view, addr, port, one_node=True)


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


def _setup_logging(args: argparse.Namespace) -> None:
    options = log_options_from_args(args)
    handlers = build_log_handlers(options)
    if not handlers:  # no console, no file, no syslog socket: keep errors visible
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handlers = [handler]
    root = logging.getLogger("haconsole")
    root.setLevel(min(h.level for h in handlers))
    root.propagate = False
    for handler in handlers:
        root.addHandler(handler)


def _log_to_files(message: str) -> None:
    """An error for the log file / syslog, not again on the terminal we print it to."""
    record = logging.LogRecord("haconsole.agent", logging.ERROR, __file__, 0, message, None,
                               None)
    for handler in logging.getLogger("haconsole").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            continue
        handler.handle(record)


def _daemonize() -> None:
    """The classic double fork: the agent survives its parent, with no terminal."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _write_pidfile(path: str) -> None:
    p = Path(path)
    if p.exists():
        try:
            old = int(p.read_text().strip())
            os.kill(old, 0)
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            raise AgentError(f"daemon is already running (pid in {path})") from None
        else:
            raise AgentError(f"daemon is already running (pid {old} in {path})")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{os.getpid()}\n")


def main_agent(args: argparse.Namespace) -> int:
    """Run the daemon, or the ctl client when `agent ctl` was given."""
    if getattr(args, "agent_command", None) == "ctl":
        from haconsole.agent.ctl import main_ctl

        try:
            return main_ctl(args)
        except BrokenPipeError:  # `ctl events | head`: the reader left, not an error
            silence_stdout()
            return 0
    if args.show_version:
        print(f"haconsole agent v{version()} (keepalived-compatible VRRP daemon)",
              file=sys.stderr)  # keepalived -v writes to stderr too
        return 0
    if args.config_test is not None:
        return _config_test(args.config_file, args.config_id, args.config_test)
    services = {name: (start, stop) for name, start, stop in args.service}
    options = AgentOptions(config_file=args.config_file, control=args.control,
                           node_name=args.name, services=services,
                           failover_hold=args.failover_hold, config_id=args.config_id,
                           fast_preempt=args.fast_preempt,
                           metrics=args.metrics, log_compat=args.log_compat,
                           log_detail=bool(args.log_detail))
    agent = Agent(options, serve_metrics=_serve_metrics if args.metrics else None)
    try:
        agent.load()  # config errors are reported before forking, on the terminal
    except AgentError as err:
        print(f"haconsole agent: {err}", file=sys.stderr)
        return err.code
    if not args.dont_fork:
        _daemonize()
    _setup_logging(args)
    try:
        if args.pidfile:
            _write_pidfile(args.pidfile)
        try:
            return precise_loop.run(agent.run())
        finally:
            if args.pidfile:
                with contextlib.suppress(OSError):
                    os.unlink(args.pidfile)
    except AgentError as err:
        _log_to_files(f"haconsole agent: {err}")
        print(f"haconsole agent: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        return 0
    except OSError as err:
        print(f"haconsole agent: {err}", file=sys.stderr)
        return EXIT_FATAL


def _config_test(path: str, config_id: str | None, log_file: str) -> int:
    """`-t [LOG_FILE]`: keepalived appends the messages to LOG_FILE when given."""
    if not log_file:
        return config_test(path, config_id, sys.stderr)
    try:
        with open(log_file, "a", encoding="utf-8") as out:
            return config_test(path, config_id, out)
    except OSError as err:
        print(f"haconsole agent: cannot open config-test log file {log_file}: "
              f"{err.strerror}", file=sys.stderr)
        return 1




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="haconsole agent",
                                     description="the haconsole VRRP engine as a daemon")
    add_arguments(parser)
    return main_agent(parser.parse_args(argv))
