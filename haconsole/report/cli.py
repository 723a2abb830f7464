"""`haconsole replay SOURCE... [--since T] [--until T] [--report [--json|--markdown]]`.

SOURCES are recordings (haconsole/record) or keepalived logs of any form (one node's, or a
syslog / journal file of several hosts; `NAME=PATH` names a node), told apart by their
content: a recording is an SQLite file. Without `--report` the events open in the
console's replay screen; with it, the incident report is printed (text, `--markdown` to
paste into a postmortem, `--json` for machines).

T is ISO 8601 (`2026-11-30T18:51:45`, a zone optional, local time without one; a space
for the T works too), a clock time today (`18:51:45`), epoch seconds, or relative to now
(`-2h`, `-30m`, `-90s`, `-1d`).

Exit codes: 0, 1 for a source that cannot be used (one line naming it), 2 for bad flags.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = ["add_arguments", "load_sources", "main_replay", "parse_time"]

_RELATIVE = re.compile(r"-(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SQLITE = b"SQLite format 3\x00"


class SourceError(Exception):
    """A source cannot be used; one line naming it."""


def parse_time(text: str, *, now: float | None = None) -> float:
    """A --since / --until value as epoch seconds (formats: the module docstring);
    ValueError with the accepted forms otherwise."""
    value = text.strip()
    now = time.time() if now is None else now
    m = _RELATIVE.fullmatch(value)
    if m:
        return now - float(m["n"]) * _UNITS[m["unit"]]
    try:
        return float(value)
    except ValueError:
        pass
    if re.fullmatch(r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?", value):
        today = datetime.fromtimestamp(now).strftime("%Y-%m-%d")
        value = f"{today}T{value}"
    iso = value.replace(" ", "T", 1)
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise ValueError(f"{text!r}: not a time (ISO 8601 like 2026-11-30T18:51:45, "
                         "a clock time like 18:51:45, or relative like -2h, -30m)") from None


def _time_arg(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a recording, or a keepalived log (any form, .gz; NAME=PATH "
                             "names the node)")
    parser.add_argument("--since", type=_time_arg, default=None, metavar="T",
                        help="start of the window (ISO 8601, or relative: -2h)")
    parser.add_argument("--until", type=_time_arg, default=None, metavar="T",
                        help="end of the window (ISO 8601, or relative: -10m)")
    parser.add_argument("--report", action="store_true",
                        help="print the incident report instead of opening the replay")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="the report as JSON")
    form.add_argument("--markdown", action="store_true",
                      help="the report as Markdown, for a postmortem")


def _is_recording(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(_SQLITE)) == _SQLITE
    except OSError:
        return False


def _optional(module: str) -> Any:
    """A module another part of haconsole provides, or None while it does not exist."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module.startswith(err.name):
            return None
        raise


def load_sources(sources: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Every source's events (time order) and notes; SourceError for one unusable.

    Logs are read whole (the state at `since` needs what came before); recordings give
    what they hold. The window itself is the report's or the replay's to apply.
    """
    from haconsole.keepalived.log.history import LogHistoryError, read_history

    events: list[Any] = []
    notes: list[str] = []
    logs: list[str] = []
    for path in sources:
        if not _is_recording(path):
            logs.append(path)
            continue
        store = _optional("haconsole.record.store")
        if store is None:
            raise SourceError(f"{path}: a recording, but this build cannot read recordings "
                              "yet (haconsole.record is missing)")
        try:
            with store.Recording.open(path) as recording:
                events.extend(recording.events())
                if recording.skipped:
                    notes.append(f"{path}: {recording.skipped} events of kinds this build "
                                 "does not know skipped")
        except store.RecordingError as err:
            raise SourceError(str(err)) from None
    if logs:
        try:
            history = read_history(logs)
        except LogHistoryError as err:
            raise SourceError(str(err)) from None
        events.extend(history.events)
        notes.extend(history.problems)
    events.sort(key=lambda e: e.t)
    return events, notes


def main_replay(args: argparse.Namespace) -> int:
    """Run `haconsole replay` with parsed `args` (see the module docstring)."""
    if args.since is not None and args.until is not None and args.until < args.since:
        print("haconsole replay: --until is before --since", file=sys.stderr)
        return 2
    if (args.json or args.markdown) and not args.report:
        args.report = True
    try:
        events, notes = load_sources(args.sources)
    except SourceError as err:
        print(f"haconsole replay: {err}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not events:
        print("haconsole replay: no events in these sources", file=sys.stderr)
        return 1
    if args.report:
        from haconsole.report import build_report, to_json, to_markdown, to_text

        report = build_report(events, since=args.since, until=args.until)
        render = to_json if args.json else to_markdown if args.markdown else to_text
        text = render(report)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    return _replay_screen(events, args, notes)


def _replay_screen(events: list[Any], args: argparse.Namespace, notes: list[str]) -> int:
    replay = _optional("haconsole.console.replay")
    timeline_mod = _optional("haconsole.record.timeline")
    if replay is None or not hasattr(replay, "run_replay") or timeline_mod is None:
        print("haconsole replay: the console replay is not available yet in this build; "
              "use --report for the incident report", file=sys.stderr)
        return 1
    timeline = timeline_mod.Timeline(events)
    offered = {"since": args.since, "until": args.until, "notes": notes,
               "title": ", ".join(args.sources)}
    accepted = inspect.signature(replay.run_replay).parameters
    anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in offered.items() if anything or k in accepted}
    result = replay.run_replay(timeline, **kwargs)
    return int(result) if isinstance(result, int) else 0
