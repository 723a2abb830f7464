"""`haconsole status`: connect, take one consistent snapshot, print it, exit 0/1/2/3.

    haconsole status INVENTORY [--since 2m]        stock keepalived / agents over SSH
    haconsole status --lab [-n N] [--config F] [--scenario S]   the in-process lab
    haconsole status --agent SOCKET                 a local haconsole agent
    ... [--json] [--wait SECONDS]

The source publishes into a ClusterView until the snapshot is consistent
(`export.status.settled`: every node answered, no election in progress) or `--wait`
runs out, and `export.status.evaluate` judges it. With `--scenario` the steps play
first, then status watches one Master_Down_Interval more (the longest VRRP takes to
react) before judging. Usage errors exit 3 (UNKNOWN), as monitoring plugins do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.export.status import UNKNOWN, StatusReport, evaluate, settled

DEFAULT_WAIT = 10.0
STATUS_SINCE = "2m"  # a keepalived node's recent log is read: flapping is judged on 60 s


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inventory", nargs="?", default=None,
                   help="inventory TOML of the nodes to check over SSH")
    p.add_argument("--lab", action="store_true", help="check the in-process lab")
    p.add_argument("-n", "--nodes", type=int, default=None, help="lab: number of nodes")
    p.add_argument("--config", default=None, help="lab: definition (TOML)")
    p.add_argument("--scenario", default=None,
                   help="lab: timed steps played before the snapshot, "
                        "e.g. '0:partition nginx2'")
    p.add_argument("--agent", metavar="SOCKET", default=None,
                   help="check the haconsole agent listening on this control socket")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                   help="wait at most this long for every source to answer "
                        "(default %(default)g)")
    p.add_argument("--since", default=STATUS_SINCE, metavar="DURATION",
                   help="SSH: read this much of each keepalived node's log, so recent "
                        "flapping counts (default %(default)s)")
    p.add_argument("--accept-new-host-keys", action="store_true",
                   help="SSH: trust and record host keys not yet in known_hosts")


class UsageError(Exception):
    """A bad command line or input file: one line, exit UNKNOWN."""


Expected = Callable[[], Collection[str]]


def main_status(args: argparse.Namespace) -> int:
    try:
        sources, expected, before = _sources(args)
    except UsageError as err:
        print(f"VRRP UNKNOWN - {err}", file=sys.stderr if args.json else sys.stdout)
        return UNKNOWN
    try:
        report = asyncio.run(check(sources, expected, args.wait, before=before,
                                   one_node=bool(args.agent)))
    except KeyboardInterrupt:
        return UNKNOWN
    try:
        print(report.json() if args.json else report.text(), flush=True)
    except BrokenPipeError:  # `status | head -1`: the reader has what it wanted
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the final flush goes there
    return report.code


def _sources(args: argparse.Namespace) -> tuple[list[Any], Expected,
                                                 Callable[[], Awaitable[None]] | None]:
    """(sources, the nodes that must answer, what to play before the snapshot)."""
    chosen = [name for name, given in (("INVENTORY", args.inventory), ("--lab", args.lab),
                                       ("--agent", args.agent)) if given]
    if len(chosen) != 1:
        raise UsageError("give exactly one of INVENTORY, --lab or --agent SOCKET"
                         + (f" (got {', '.join(chosen)})" if chosen else ""))
    if args.wait < 0 or args.wait != args.wait:
        raise UsageError(f"--wait: expected a number of seconds >= 0, got {args.wait}")
    if args.scenario and not args.lab:
        raise UsageError("--scenario needs --lab")
    if args.lab:
        return _lab(args)
    if args.agent:
        from haconsole.sources.agent import AgentSocketSource

        agent = AgentSocketSource("agent", args.agent)
        return [agent], lambda: [agent.node], None  # one node: see export.status
    from haconsole.config import ConfigError
    from haconsole.sources.connect import build_fleet, parse_since
    from haconsole.sources.inventory import load_inventory

    try:
        parse_since(args.since)
        inventory = load_inventory(args.inventory)
    except (ConfigError, ValueError) as err:
        raise UsageError(str(err)) from None
    fleet = build_fleet(inventory, readonly=True, since=args.since,
                        accept_new_host_keys=args.accept_new_host_keys)
    names = [spec.name for spec in inventory.nodes]
    return [fleet], lambda: names, None


def _lab(args: argparse.Namespace) -> tuple[list[Any], Expected,
                                            Callable[[], Awaitable[None]] | None]:
    from haconsole.config import ConfigError
    from haconsole.lab.definition import load_lab
    from haconsole.lab.lab import InProcessLab
    from haconsole.lab.scenario import ScenarioError, parse_scenario, play

    try:
        definition = load_lab(args.config, nodes=args.nodes)
        steps = parse_scenario(args.scenario, definition) if args.scenario else []
    except (ConfigError, ValueError) as err:
        raise UsageError(str(err)) from None
    except ScenarioError as err:
        raise UsageError(f"--scenario: {err}") from None
    lab = InProcessLab(definition, client_rate=0)
    names = [n.name for n in definition.nodes]

    async def scenario() -> None:
        await play(lab.execute, steps)

    return [lab], lambda: names, scenario if steps else None


async def check(sources: Sequence[Any], expected: Expected, wait: float, *,
                before: Callable[[], Awaitable[None]] | None = None,
                clock: Callable[[], float] = time.time,
                one_node: bool = False) -> StatusReport:
    """Start the sources, play `before` (then watch one Master_Down_Interval more),
    wait for a settled view (at most `wait` s), stop the sources, judge the snapshot
    (`one_node`: a single node's word, export.status)."""
    view, now = await snapshot(sources, expected, wait, before=before, clock=clock,
                               one_node=one_node)
    return evaluate(view, now, one_node=one_node)


async def snapshot(sources: Sequence[Any], expected: Expected, wait: float, *,
                   before: Callable[[], Awaitable[None]] | None = None,
                   clock: Callable[[], float] = time.time,
                   one_node: bool = False) -> tuple[ClusterView, float]:
    """The view as it stands once settled (or when `wait` runs out), and that `now`.
    Events after it (the sources stopping) are not folded: the snapshot is what was."""
    view = ClusterView()
    live = True

    def publish(event: ev.Event) -> None:
        if live:
            view.apply(event)

    loop = asyncio.get_running_loop()
    started: list[Any] = []
    try:
        for source in sources:
            await source.start(publish)
            started.append(source)
        if before is not None:
            await before()
            react = max((i.master_down_interval + i.advert_int
                         for i in view.instances.values()), default=0.0)
            await asyncio.sleep(min(react, wait))
        deadline = loop.time() + wait
        while not settled(view, clock(), expected(), one_node=one_node) \
                and loop.time() < deadline:
            await asyncio.sleep(0.05)
        now = clock()
        live = False
    finally:
        live = False
        for source in started:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.stop(), 5.0)
    return view, now


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(prog="haconsole status")
    add_arguments(parser)
    return main_status(parser.parse_args(argv))
