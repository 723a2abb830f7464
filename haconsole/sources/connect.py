"""`haconsole connect inventory.toml`: every node of the inventory, live, over SSH.

Builds one `SshFleet` (a `Source` for the whole inventory: keepalived nodes and
haconsole agents side by side) and hands it to the console. The fleet routes each
command to the node it names and shares one fold of what its nodes publish (a
`ClusterView`, `SshFleet.view`), so a keepalived failover on one node can wait for
another node to become MASTER. With `--since` (default 1h) each keepalived node's log of
that long ago is read at attach, and the fleet publishes the nodes' pasts merged in time
order (`HistoryMerge`) before going live: an incident that happened before the console
started shows in its Failovers panel and alarms. With `probe = [...]` in the inventory the
console's host is also a client of each VIP (`sources.probe.ClientProbeSource`): the
Clients panel and the stopwatch say what clients saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import re
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import ConfigError
from haconsole.probe.runner import ProbeTarget
from haconsole.sources.agent_ssh import AgentSshNode
from haconsole.sources.base import Publish
from haconsole.sources.inventory import Inventory, load_inventory
from haconsole.sources.keepalived_ssh import KeepalivedSshNode
from haconsole.sources.probe import ClientProbeSource
from haconsole.sources.ssh import HistoryMerge, SharedView, SshOptions

__all__ = ["DEFAULT_SINCE", "SshFleet", "add_arguments", "build_fleet", "main_connect",
           "make_console", "parse_since"]

RemoteNode = KeepalivedSshNode | AgentSshNode

DEFAULT_SINCE = "1h"
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_since(text: str) -> float:
    """`--since`: `0` (live only), `90s`, `30m`, `2h`, `1d` (a bare number is seconds) ->
    seconds. ValueError with the words to show when it is none of those."""
    m = _DURATION.match(text.strip().lower())
    seconds = float(m.group(1)) * _UNITS[m.group(2)] if m else -1.0
    if not 0 <= seconds <= 366 * 86400:
        raise ValueError(f"--since: expected a duration like 30m, 2h or 1d (0: live only, "
                         f"at most 366d), got {text!r}")
    return seconds


class SshFleet:
    """All nodes of an inventory as one `Source`; each node connects on its own.

    `since`: seconds of each keepalived node's log read at attach (0: live only), said as
    `since_label`; their pasts are published merged in time order, waiting at most
    `history_wait` s after the first node's for the others'.
    """

    def __init__(self, inventory: Inventory, options: SshOptions | None = None, *,
                 readonly: bool = False, failover_timeout: float = 15.0,
                 since: float = 3600.0, since_label: str = DEFAULT_SINCE,
                 history_wait: float = 3.0) -> None:
        self.inventory = inventory
        self.name = inventory.name or "ssh"
        self.readonly = readonly
        self.options = options or SshOptions(known_hosts=inventory.known_hosts,
                                             ssh_config=inventory.ssh_config)
        self.view = SharedView()
        keepalived = [s.name for s in inventory.nodes if s.kind != "haconsole"]
        self.merge = HistoryMerge(keepalived, wait=history_wait) if since > 0 else None
        self.nodes: dict[str, RemoteNode] = {}
        for spec in inventory.nodes:
            if spec.kind == "haconsole":
                self.nodes[spec.name] = AgentSshNode(spec, self.options, view=self.view)
            else:
                self.nodes[spec.name] = KeepalivedSshNode(
                    spec, self.options, view=self.view, merge=self.merge, since=since,
                    since_label=since_label, failover_timeout=failover_timeout)
        self.probe = ClientProbeSource(
            [ProbeTarget.parse(*p.split("=", 1)) for p in inventory.probes],
            client="console") if inventory.probes else None

    async def start(self, publish: Publish) -> None:
        """Start every node's connection task; returns at once (nodes connect in parallel)."""
        for node in self.nodes.values():
            await node.start(publish)
        if self.probe is not None:
            await self.probe.start(publish)

    async def stop(self) -> None:
        if self.probe is not None:
            await self.probe.stop()
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))

    def supports(self, command: type[cmd.Command]) -> bool:
        if self.readonly and command.destructive:
            return False
        return any(node.supports(command) for node in self.nodes.values())

    def warning(self, command: cmd.Command) -> str:
        """What to tell the operator before confirming `command` ("" if nothing)."""
        node = self.nodes.get(command.node)
        return node.warning(command) if node is not None else ""

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        if self.readonly and command.destructive:
            return False, f"read-only: {command.describe()} is not allowed (--readonly)"
        node = self.nodes.get(command.node)
        if node is None:
            return False, f"no node named {command.node!r} in {self.inventory.path}"
        if not node.supports(type(command)):
            return False, f"{command.node} cannot run {command.name}"
        return await node.execute(command)

    def connected(self) -> list[str]:
        return [name for name, node in self.nodes.items()
                if node.link is not None and node.link.connected.is_set()]


def build_fleet(inventory: Inventory, *, readonly: bool = False,
                accept_new_host_keys: bool = False,
                options: SshOptions | None = None, since: str = DEFAULT_SINCE) -> SshFleet:
    """The fleet `haconsole connect` runs, with the command line's choices applied
    (`since` as typed: ValueError if it is not a duration)."""
    opts = options or SshOptions(known_hosts=inventory.known_hosts,
                                 ssh_config=inventory.ssh_config)
    opts.accept_new_host_keys = opts.accept_new_host_keys or accept_new_host_keys
    return SshFleet(inventory, opts, readonly=readonly, since=parse_since(since),
                    since_label=since.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inventory", help="inventory TOML (see configs/inventory.example.toml)")
    parser.add_argument("--readonly", action="store_true",
                        help="watch only: no action that changes a node")
    parser.add_argument("--accept-new-host-keys", action="store_true",
                        help="trust and record host keys of hosts not yet in known_hosts "
                             "(a changed key is still refused)")
    parser.add_argument("--since", default=DEFAULT_SINCE, metavar="DURATION",
                        help="read each keepalived node's log of this long ago at attach "
                             "(30m, 2h, 1d; 0: live only; default %(default)s)")
    parser.add_argument("--text", action="store_true",
                        help="print the merged logs instead of the console")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (text mode)")
    parser.add_argument("--theme", default=None, help="colour theme (console)")


def console_entry() -> Callable[..., int] | None:
    """The console's function that runs the app on a list of sources, if it has one."""
    try:
        from haconsole.console import app
    except ImportError:
        return None
    for name in ("run_sources", "run_remote"):
        fn = getattr(app, name, None)
        if fn is not None:
            return fn  # type: ignore[no-any-return]
    return None


def make_console(fleet: SshFleet, *, readonly: bool = False, theme: str | None = None) -> Any:
    """The console app on the fleet (None when the console cannot be imported).

    Uses the console's public `HAConsoleApp(sources, ...)`; remote commands are confirmed.
    """
    try:
        from haconsole.console.app import HAConsoleApp
    except ImportError:
        return None
    return HAConsoleApp([fleet], cluster=fleet.name, kind="ssh", theme=theme,
                        readonly=readonly, confirm=True)


def main_connect(args: argparse.Namespace) -> int:
    """`haconsole connect`: exit 2 on a bad inventory or --since, else run the console
    (or text)."""
    since = getattr(args, "since", DEFAULT_SINCE)
    try:
        parse_since(since)
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    try:
        inventory = load_inventory(args.inventory)
    except ConfigError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    fleet = build_fleet(inventory, readonly=args.readonly,
                        accept_new_host_keys=args.accept_new_host_keys, since=since)
    theme = getattr(args, "theme", None)
    text = getattr(args, "text", False) or not sys.stdout.isatty()
    entry = None if text else console_entry()
    if entry is not None:
        kwargs: dict[str, Any] = {"readonly": args.readonly, "theme": theme,
                                  "cluster": fleet.name, "kind": "ssh"}
        params = inspect.signature(entry).parameters
        return entry([fleet], **{k: v for k, v in kwargs.items() if k in params})
    app = None if text else make_console(fleet, readonly=args.readonly, theme=theme)
    if app is None:
        asyncio.run(run_text(fleet, duration=getattr(args, "duration", None), out=sys.stdout))
        return 0
    return int(app.run() or 0)


def render(event: ev.Event, width: int) -> str | None:
    """Text mode: the lab's line format plus connection health."""
    from haconsole.lab.textmode import render as lab_render

    line = lab_render(event, width)
    if line is not None:
        return line
    if isinstance(event, ev.SourceHealth | ev.Transition | ev.VipAdded | ev.VipRemoved |
                  ev.HistoryEnd | ev.ClockOffset):
        from haconsole.keepalived.log import format_console_time

        prefix = f"{event.node:<{width}} | {format_console_time(event.t)}: [haconsole] "
        if isinstance(event, ev.SourceHealth):
            return prefix + ("" if event.ok else "STALE ") + event.detail
        if isinstance(event, ev.HistoryEnd):
            return prefix + f"history: {event.events} events from {event.source}; live from here"
        if isinstance(event, ev.ClockOffset):
            return prefix + (f"clock {event.offset:+.3f} s from this console's "
                             f"(±{event.error:.3f} s)")
        if isinstance(event, ev.Transition):
            return prefix + f"{event.instance} {event.old} -> {event.new} ({event.reason})"
        verb = "holds" if isinstance(event, ev.VipAdded) else "released"
        return prefix + f"{verb} VIP {event.vip} ({event.instance})"
    return None


async def run_text(fleet: SshFleet, *, duration: float | None, out: TextIO,
                   stop: asyncio.Event | None = None) -> None:
    """Print the fleet's events as lines until interrupted (or `duration` passes)."""
    width = max((len(n) for n in fleet.nodes), default=4)

    def publish(event: ev.Event) -> None:
        line = render(event, width)
        if line is not None:
            print(line, file=out, flush=True)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await fleet.start(publish)
    try:
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        await fleet.stop()


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(prog="haconsole connect")
    add_arguments(parser)
    return main_connect(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
