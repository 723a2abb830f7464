"""What every source is: something that publishes cluster events and runs commands.

The console holds a list of sources and never looks inside them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from haconsole.cluster.commands import Command
from haconsole.cluster.events import Event

Publish = Callable[[Event], None]


class Source(Protocol):
    """A producer of `cluster.events` for one or more nodes."""

    name: str

    async def start(self, publish: Publish) -> None:
        """Begin publishing events; returns once the source is running."""

    async def execute(self, command: Command) -> tuple[bool, str]:
        """Run a command; returns (ok, human-readable detail). Never raises for user errors."""

    def supports(self, command: type[Command]) -> bool:
        """Whether this source can run that kind of command."""

    async def stop(self) -> None:
        """Stop publishing and release everything the source holds."""


@runtime_checkable
class WarnsBeforeCommands(Protocol):
    """A source that can say what a command will cause beyond its name (keepalived's
    preemption taking the VIP straight back after a failover).

    Optional: the console asks it while it builds the confirmation dialog, on the UI's
    event loop, so `warning` must answer from facts the source already holds, no I/O.
    """

    def warning(self, command: Command) -> str:
        """What the operator should know before confirming `command`, or ""."""


async def end_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a source's background task and wait until it has ended (None: nothing):
    every source's `stop` does this before releasing what the task used."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
