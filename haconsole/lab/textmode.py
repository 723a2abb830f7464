"""`haconsole lab --text`: the lab's keepalived-format logs, merged, one line per event."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import TextIO

from haconsole.cluster import events as ev
from haconsole.cluster.commands import outcome
from haconsole.keepalived.log import format_console_time
from haconsole.lab.definition import LabDefinition
from haconsole.lab.lab import InProcessLab
from haconsole.lab.scenario import Step, play


def render(event: ev.Event, width: int) -> str | None:
    """The text line for an event, or None for events text mode does not show."""
    prefix = f"{event.node:<{width}} | {format_console_time(event.t)}: "
    if isinstance(event, ev.LogLine):
        return prefix + event.text
    if isinstance(event, ev.CommandResult):
        return prefix + f"[haconsole] {outcome(event.command, event.ok, event.detail)}"
    if isinstance(event, ev.ServiceState):
        return prefix + f"[haconsole] {event.service} is {'up' if event.up else 'DOWN'}"
    if isinstance(event, ev.NodeLost):
        return prefix + f"[haconsole] node {event.reason}"
    return None


async def run_lab_text(definition: LabDefinition, steps: list[Step], *,
                       duration: float | None, out: TextIO,
                       observe: Callable[[ev.Event], None] | None = None) -> None:
    """Print the lab's lines until a signal or `duration`; `observe` sees every event
    (`--record`, `--metrics`: `console.cli.TextTap`)."""
    width = max(len(n.name) for n in definition.nodes)

    def publish(event: ev.Event) -> None:
        if observe is not None:
            observe(event)
        line = render(event, width)
        if line is not None:
            print(line, file=out, flush=True)

    lab = InProcessLab(definition)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await lab.start(publish)
    scenario = asyncio.create_task(play(lab.execute, steps))
    try:
        if duration is not None:
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
        else:
            await stop.wait()
    finally:
        scenario.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scenario
        await lab.stop()
