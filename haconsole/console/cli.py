"""Entry points that start the console on a source: they wire layers together (the app
itself sees only `sources.base.Source`), so they may import the lab, sources and exports."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from haconsole.cluster.commands import Step
from haconsole.console.app import HAConsoleApp, Observer, Service, console_themes
from haconsole.lab.definition import LabDefinition


def run_console(definition: LabDefinition, steps: Sequence[Step], *, theme: str | None = None,
                readonly: bool = False, args: argparse.Namespace | None = None) -> int:
    """`haconsole` / `haconsole lab`: the console on the in-process lab (no confirmation:
    it is a lab), with `--record` / `--metrics` from `args`. Returns the exit status."""
    from haconsole.lab.lab import InProcessLab

    try:
        themes, theme = console_themes(theme)
        extras = console_extras(args or argparse.Namespace(), [f"lab {definition.name}"])
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    app = HAConsoleApp([InProcessLab(definition)], cluster=definition.name, kind="lab", theme=theme,
                       readonly=readonly, confirm=False, steps=steps, themes=themes,
                       observers=extras.observers, services=extras.services)
    try:
        result = app.run()
    finally:
        extras.close()
    return result or 0


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    """What every console command takes besides its sources: record, export."""
    from haconsole.export.metrics import listen_arg

    parser.add_argument("--record", metavar="FILE", default=None,
                        help="record every event the console folds to FILE (replay it with "
                             "`haconsole replay FILE`)")
    parser.add_argument("--metrics", metavar="[ADDR:]PORT", type=listen_arg, default=None,
                        help="serve Prometheus metrics (keepalived-exporter's names) of every "
                             "node the console sees")


@dataclass
class Extras:
    """A recorder and a metrics endpoint around the console, as the command line asks."""

    observers: list[Observer] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    recorder: Any = None

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            if getattr(self.recorder, "error", None):
                print(f"haconsole: recording stopped: {self.recorder.error}", file=sys.stderr)


class TextTap:
    """`--record` and `--metrics` in text mode (`--text`, or stdout not a terminal, as
    under nohup): the events the lines are printed from also go to the recorder, and
    fold into a view the metrics endpoint reads, as around the console. Without it both
    options were taken and silently did nothing there."""

    def __init__(self, extras: Extras) -> None:
        from haconsole.cluster.view import ClusterView

        self.extras = extras
        self.view = ClusterView()  # folded only for a metrics endpoint
        self._running: list[Any] = []

    def __call__(self, event: Any) -> None:
        if self.extras.services:
            self.view.apply_all([event], on_error=lambda _item, _err: None)
        for observe in self.extras.observers:
            observe([event])

    async def start(self) -> None:
        """Start the metrics endpoint; OSError (a port in use) is said in one line."""
        view = self.view
        for service in self.extras.services:
            try:
                self._running.append(await service(lambda: view))
            except OSError as err:
                print(f"haconsole: --metrics: cannot start: {err}", file=sys.stderr)

    async def stop(self) -> None:
        for running in self._running:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.close(), 5.0)

    async def around(self, run: Coroutine[Any, Any, None]) -> None:
        """Await `run` (a text-mode coroutine) with the endpoint up."""
        await self.start()
        try:
            await run
        finally:
            await self.stop()


def run_lab_text(definition: LabDefinition, steps: Sequence[Step], *,
                 args: argparse.Namespace, duration: float | None) -> int:
    """`haconsole lab --text` (or not on a terminal): the lab's lines, with `--record` /
    `--metrics` honoured."""
    from haconsole.lab.textmode import run_lab_text as run_lines

    try:
        extras = console_extras(args, [f"lab {definition.name}"])
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    return _run_text_with(extras, lambda tap: run_lines(
        definition, list(steps), duration=duration, out=sys.stdout, observe=tap))


def console_extras(args: argparse.Namespace, sources: Sequence[str]) -> Extras:
    """The observers and services for `--record` / `--metrics`; ValueError (one line) when
    the recording cannot be opened."""
    extras = Extras()
    path = getattr(args, "record", None)
    if path:
        from haconsole.record.store import Recorder, RecordingError

        try:
            extras.recorder = Recorder(path, meta={"sources": list(sources)})
        except RecordingError as err:
            raise ValueError(str(err)) from None
        extras.observers.append(extras.recorder.record_many)
    listen = getattr(args, "metrics", None)
    if listen is not None:
        from haconsole.export.metrics import serve

        addr, port = listen
        extras.services.append(lambda view: serve(view, addr, port))
    return extras


# ----------------------------------------------------------------------------- connect


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    """`haconsole connect (INVENTORY | --prometheus URL) ...`."""
    from haconsole.sources.connect import DEFAULT_SINCE

    parser.add_argument("inventory", nargs="?", default=None,
                        help="inventory TOML (see configs/inventory.example.toml)")
    parser.add_argument("--prometheus", metavar="URL", default=None,
                        help="read the fleet from a Prometheus server instead of SSH "
                             "(keepalived-exporter's families; read-only: no actions)")
    parser.add_argument("--match", metavar="SELECTOR", default="",
                        help="with --prometheus: a label selector, e.g. 'job=\"keepalived\"'")
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
    add_console_arguments(parser)


def make_console(fleet: Any, *, readonly: bool = False, theme: str | None = None,
                 themes: dict[str, Any] | None = None, extra: Sequence[Any] = (),
                 extras: Extras | None = None) -> HAConsoleApp:
    """The console on the fleet (and `extra` sources: wire captures); remote commands are
    confirmed."""
    extras = extras or Extras()
    return HAConsoleApp([fleet, *extra], cluster=fleet.name, kind="ssh", theme=theme,
                        themes=themes, readonly=readonly, confirm=True,
                        observers=extras.observers, services=extras.services)


def main_connect(args: argparse.Namespace) -> int:
    """`haconsole connect`: exit 2 on a bad inventory, --since or theme, else run the
    console (or text) on the inventory's nodes, or on a fleet read from Prometheus."""
    from haconsole.config import ConfigError
    from haconsole.sources.connect import DEFAULT_SINCE, build_fleet, parse_since
    from haconsole.sources.inventory import load_inventory

    inventory_path = getattr(args, "inventory", None)
    url = getattr(args, "prometheus", None)
    if bool(inventory_path) == bool(url):
        print("haconsole connect: give an INVENTORY or --prometheus URL (one of them)",
              file=sys.stderr)
        return 2
    theme = getattr(args, "theme", None)
    text = getattr(args, "text", False) or not sys.stdout.isatty()
    try:
        themes, theme = console_themes(theme)
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    if url:
        return _run_prometheus(args, url, theme, themes, text=text)
    assert inventory_path is not None
    since = getattr(args, "since", DEFAULT_SINCE)
    try:
        parse_since(since)
        inventory = load_inventory(inventory_path)
    except (ValueError, ConfigError) as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    fleet = build_fleet(inventory, readonly=args.readonly,
                        accept_new_host_keys=args.accept_new_host_keys, since=since)
    try:
        extras = console_extras(args, [f"inventory {inventory.path}"])
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    if text:
        return _run_text_with(extras, lambda tap: run_text(
            fleet, duration=getattr(args, "duration", None), out=sys.stdout, observe=tap))
    from haconsole.sources.wire import ssh_wire_sources

    app = make_console(fleet, readonly=args.readonly, theme=theme, themes=themes,
                       extra=ssh_wire_sources(inventory, fleet.options), extras=extras)
    try:
        return int(app.run() or 0)
    finally:
        extras.close()


def _run_prometheus(args: argparse.Namespace, url: str, theme: str | None,
                    themes: dict[str, Any], *, text: bool = False) -> int:
    """`connect --prometheus URL`: the fleet as Prometheus has it, read-only (`text`:
    its transitions, VIP moves and health as lines)."""
    from urllib.parse import urlsplit

    from haconsole.sources.prometheus import PrometheusSource

    try:
        source = PrometheusSource(url, getattr(args, "match", ""))
        extras = console_extras(args, [f"prometheus {url}"])
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    if text:
        return _run_text_with(extras, lambda tap: run_text(
            source, duration=getattr(args, "duration", None), out=sys.stdout, observe=tap))
    app = HAConsoleApp([source], cluster=urlsplit(url).netloc or url, kind="prometheus",
                       theme=theme, readonly=True, confirm=True, themes=themes,
                       observers=extras.observers, services=extras.services)
    try:
        return int(app.run() or 0)
    finally:
        extras.close()


def _run_text_with(extras: Extras,
                   run: Callable[[TextTap], Coroutine[Any, Any, None]]) -> int:
    """A text mode (`run`, given the tap every event goes to) with --record / --metrics;
    the recording is closed however it ends."""
    tap = TextTap(extras)
    try:
        asyncio.run(tap.around(run(tap)))
    finally:
        extras.close()
    return 0


def render(event: Any, width: int) -> str | None:
    """Text mode: the lab's line format plus connection health."""
    from haconsole.cluster import events as ev
    from haconsole.keepalived.log import format_console_time
    from haconsole.lab.textmode import render as lab_render

    line = lab_render(event, width)
    if line is not None:
        return line
    if isinstance(event, ev.SourceHealth | ev.Transition | ev.VipAdded | ev.VipRemoved |
                  ev.HistoryEnd | ev.ClockOffset):
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


async def run_text(fleet: Any, *, duration: float | None, out: TextIO,
                   stop: asyncio.Event | None = None,
                   observe: Callable[[Any], None] | None = None) -> None:
    """Print the fleet's events as lines until interrupted (or `duration` passes);
    `observe` sees every event (`TextTap`)."""
    width = max((len(n) for n in getattr(fleet, "nodes", ())), default=12)

    def publish(event: Any) -> None:
        if observe is not None:
            observe(event)
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
