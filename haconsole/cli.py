"""Command-line entry points. Imports are lazy so that `haconsole --help` stays fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _node_count(text: str) -> int:
    """`-n`: a whole number of nodes the lab can run (argparse reports the refusal)."""
    from haconsole.lab.definition import MAX_NODES

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of nodes: {text!r}") from None
    if not 1 <= n <= MAX_NODES:
        raise argparse.ArgumentTypeError(f"a lab has 1..{MAX_NODES} nodes, not {n}")
    return n


def _add_lab_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--nodes", type=_node_count, default=None,
                   help="number of nodes (default: 2)")
    p.add_argument("--config", default=None, help="lab definition (TOML; default: the nginx pair)")
    p.add_argument("--scenario", "--script", dest="scenario", default=None,
                   help="timed steps, e.g. '5:stop nginx1; 15:start nginx1'")
    p.add_argument("--text", action="store_true",
                   help="print the merged keepalived-format logs instead of the console")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (text mode)")
    p.add_argument("--netns", action="store_true",
                   help="real namespaces, real VRRP, real nginx (needs root)")
    p.add_argument("--theme", default=None, help="colour theme (console)")
    p.add_argument("--readonly", action="store_true", help="disable actions (console)")
    from haconsole.console.cli import add_console_arguments

    add_console_arguments(p)


COMMANDS = {
    "lab": "run a lab (in-process, or real namespaces with --netns)",
    "connect": "watch remote keepalived / haconsole nodes over SSH",
    "status": "one-shot check, Nagios-style: print the cluster's state and exit 0/1/2/3",
    "agent": "run the VRRP engine as a daemon (keepalived drop-in)",
    "check": "lint keepalived.conf files like `keepalived -t`",
    "watch": "the wire: VRRP speakers, ARP owners and their alarms (pcap file or interface)",
    "record": "record every event to a file, headless (replay, reports)",
    "replay": "time travel through a recording or keepalived logs; --report: the incident "
              "report",
}


def _add_command_arguments(name: str, p: argparse.ArgumentParser) -> None:
    """Fill in one subcommand's flags; imported only when that command is used."""
    if name == "lab":
        _add_lab_arguments(p)
        from haconsole.netns import cli as netns_cli

        netns_cli.add_arguments(p)
    elif name == "connect":
        from haconsole.console.cli import add_connect_arguments

        add_connect_arguments(p)
    elif name == "status":
        from haconsole.export import cli as status_cli

        status_cli.add_arguments(p)
    elif name == "agent":
        from haconsole.agent import cli as agent_cli

        agent_cli.add_arguments(p)
    elif name == "check":
        from haconsole.keepalived import check as check_mod

        check_mod.add_arguments(p)
    elif name == "watch":
        from haconsole import watch as watch_mod

        watch_mod.add_arguments(p)
    elif name == "record":
        from haconsole.record import cli as record_cli

        record_cli.add_arguments(p)
    elif name == "replay":
        from haconsole.report import cli as replay_cli

        replay_cli.add_arguments(p)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in `argv` gets its (lazily imported) flags."""
    parser = argparse.ArgumentParser(
        prog="haconsole",
        description="A terminal operations console for VRRP high availability "
                    "(keepalived + nginx). With no command: the console on an in-process lab.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    _add_lab_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            _add_command_arguments(name, p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.version:
        from haconsole import __version__

        print(f"haconsole {__version__}")
        return 0
    command = args.command or "lab"
    try:
        if command == "lab":
            return _run_lab(args)
        if command == "connect":
            from haconsole.console.cli import main_connect

            return main_connect(args)
        if command == "status":
            from haconsole.export.cli import main_status

            return main_status(args)
        if command == "agent":
            from haconsole.agent.cli import main_agent

            return main_agent(args)
        if command == "check":
            from haconsole.keepalived.check import main_check

            return main_check(args)
        if command == "watch":
            from haconsole.watch import main_watch

            return main_watch(args)
        if command == "record":
            from haconsole.record.cli import main_record

            return main_record(args)
        if command == "replay":
            from haconsole.report.cli import main_replay

            return main_replay(args)
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {command!r}")
    return 2


def _run_lab(args: argparse.Namespace) -> int:
    from haconsole.config import ConfigError
    from haconsole.lab.definition import load_lab
    from haconsole.lab.scenario import ScenarioError, parse_scenario

    try:
        definition = load_lab(args.config, nodes=args.nodes)
        steps = parse_scenario(args.scenario, definition) if args.scenario else []
    except ConfigError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        print(f"haconsole: --scenario: {err}", file=sys.stderr)
        return 2
    if args.netns:
        from haconsole.netns.cli import main_netns_lab

        return main_netns_lab(args)
    if args.text or not sys.stdout.isatty():
        from haconsole.console.cli import run_lab_text

        return run_lab_text(definition, steps, args=args, duration=args.duration)
    from haconsole.console.cli import run_console

    return run_console(definition, steps, theme=args.theme, readonly=args.readonly, args=args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
