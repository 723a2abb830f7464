"""`haconsole record (INVENTORY | --lab) -o FILE`: every event of the sources, to a file.

Headless on purpose (a tmux pane, a systemd unit, cron): no terminal is needed and
nothing is printed but a line at the start and one at the end. SIGTERM, SIGINT and
SIGHUP flush and close the file (exit 0); a SIGKILL loses at most the last second.
The recorder never sends commands: an inventory's nodes are watched read-only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import re
import signal
import sys
import time
from typing import Any, Protocol

from haconsole.cluster import commands as cmd
from haconsole.cluster.view import CommandIssued
from haconsole.record.store import Recorder, Recording, RecordingError

MAX_GAP = 86400.0  # seconds of history an appended session reads at most
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


class _Source(Protocol):
    name: str

    async def start(self, publish: Any) -> None: ...

    async def stop(self) -> None: ...


def parse_duration(text: str) -> float:
    """"90", "90s", "30m", "24h", "7d" -> seconds (argparse reports a refusal)."""
    m = _DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (e.g. 3600, 90s, 30m, 24h, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inventory", nargs="?", default=None,
                   help="inventory TOML of the nodes to record (or --lab)")
    p.add_argument("--lab", action="store_true", help="record the in-process lab instead")
    p.add_argument("-n", "--nodes", type=int, default=None, help="lab: number of nodes")
    p.add_argument("--config", default=None, help="lab: definition (TOML)")
    p.add_argument("--scenario", "--script", dest="scenario", default=None,
                   help="lab: timed steps, e.g. '5:stop nginx1; 15:start nginx1'")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the recording (created, or appended to if it is one)")
    p.add_argument("--duration", type=parse_duration, default=None,
                   help="stop after this long (e.g. 600, 10m, 24h)")
    p.add_argument("--retain", type=parse_duration, default=None, metavar="DURATION",
                   help="keep only this much history (e.g. 24h): older events are "
                        "deleted once a minute, so the file stays bounded")
    p.add_argument("--accept-new-host-keys", action="store_true",
                   help="inventory: trust and record host keys of hosts not yet known")
    p.add_argument("--since", default=None, metavar="DURATION",
                   help="inventory: keepalived history to read at attach (default: as "
                        "`connect`; when FILE is a recording already, from its end)")


def main_record(args: argparse.Namespace) -> int:
    """Record until a signal or --duration; 0 on a clean stop, 2 on bad input."""
    if (args.inventory is None) == (not args.lab):
        print("haconsole record: give an INVENTORY or --lab (one of them)", file=sys.stderr)
        return 2
    try:
        source, steps, meta = _build_source(args)
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    try:
        recorder = Recorder(args.output, retain=args.retain, meta=meta)
    except RecordingError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    print(f"haconsole: recording {source.name} to {args.output}"
          + (f" (keeping {args.retain:g} s)" if args.retain else "")
          + "; SIGTERM or Ctrl-C stops", file=sys.stderr)
    try:
        asyncio.run(_record(source, steps, recorder, args.duration))
    finally:
        try:
            recorder.close()
        except RecordingError as err:
            print(f"haconsole: {err}", file=sys.stderr)
            return 1
    print(f"haconsole: {recorder.stored} events in {args.output}", file=sys.stderr)
    return 0


def _build_source(args: argparse.Namespace) -> tuple[_Source, list[Any], dict[str, Any]]:
    """The source to record, the lab's scenario steps, and what the file notes about it
    (names only: no key paths, no secrets). ValueError: one line."""
    from haconsole.config import ConfigError

    if args.lab:
        from haconsole.lab.definition import load_lab
        from haconsole.lab.lab import InProcessLab
        from haconsole.lab.scenario import ScenarioError, parse_scenario

        try:
            definition = load_lab(args.config, nodes=args.nodes)
        except (ConfigError, ValueError) as err:
            raise ValueError(str(err)) from None
        try:
            steps = parse_scenario(args.scenario, definition) if args.scenario else []
        except ScenarioError as err:
            raise ValueError(f"--scenario: {err}") from None
        meta = {"sources": [{"kind": "lab", "lab": definition.name,
                             "nodes": [n.name for n in definition.nodes]}]}
        return InProcessLab(definition), steps, meta
    from haconsole.sources.connect import build_fleet
    from haconsole.sources.inventory import load_inventory

    try:
        inventory = load_inventory(args.inventory)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    kwargs: dict[str, Any] = {}
    if "since" in inspect.signature(build_fleet).parameters:  # history at attach
        since = args.since if args.since is not None else _gap(args.output)
        if since is not None:
            kwargs["since"] = since
    fleet = build_fleet(inventory, readonly=True,
                        accept_new_host_keys=args.accept_new_host_keys, **kwargs)
    meta = {"sources": [{"kind": "ssh", "inventory": str(args.inventory),
                         "cluster": inventory.name,
                         "nodes": [n.name for n in inventory.nodes]}]}
    return fleet, [], meta


def _gap(path: str) -> str | None:
    """When `path` is a recording already: the history to read so that the appended
    session starts where it ended (at most a day), else None (connect's default)."""
    try:
        with Recording.open(path) as rec:
            _, end = rec.time_range()
    except RecordingError:
        return None
    gap = time.time() - end if end else MAX_GAP
    return f"{int(min(max(gap, 0.0), MAX_GAP)) + 1}s"


async def _record(source: _Source, steps: list[Any], recorder: Recorder,
                  duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    scenario: asyncio.Task[None] | None = None
    try:
        await source.start(recorder.record)
        if steps:
            from haconsole.lab.scenario import play

            execute = source.execute  # type: ignore[attr-defined]

            async def run(command: cmd.Command) -> tuple[bool, str]:
                # the console's note, so a replay names the cause as the console did
                recorder.record(CommandIssued(time.time(), command.node, command.describe()))
                result: tuple[bool, str] = await execute(command)
                return result

            scenario = asyncio.create_task(play(run, steps))
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        if scenario is not None:
            scenario.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scenario
        with contextlib.suppress(Exception):
            await asyncio.wait_for(source.stop(), 10.0)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(prog="haconsole record")
    add_arguments(parser)
    return main_record(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
