"""Entry points that start the console on a source: they wire layers together (the app
itself sees only `sources.base.Source`), so they may import the lab, sources and exports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from haconsole.cluster.commands import Step
from haconsole.console.app import HAConsoleApp, Observer, Service, console_themes
from haconsole.lab.definition import LabDefinition


def run_console(definition: LabDefinition, steps: Sequence[Step], *, theme: str | None = None,
                readonly: bool = False, args: argparse.Namespace | None = None) -> int:
    """`haconsole` / `haconsole lab`: the console on the in-process lab (no confirmation:
    it is a lab), with `--record` / `--metrics` from `args`. Returns the exit status."""
    from haconsole.lab.lab import Lab

    try:
        themes, theme = console_themes(theme)
        extras = console_extras(args or argparse.Namespace(), [f"lab {definition.name}"])
    except ValueError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    app = HAConsoleApp([Lab(definition)], cluster=definition.name, kind="lab", theme=theme,
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
