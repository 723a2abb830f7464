"""Commands flow down: the console creates them, the source that owns the node runs them.

`destructive` marks the ones a remote operator must confirm and `--readonly` forbids.
`lab_only` marks the ones that only make sense on a simulated or namespace lab.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Command:
    name: ClassVar[str] = "command"
    destructive: ClassVar[bool] = True
    lab_only: ClassVar[bool] = False
    node: str

    def describe(self) -> str:
        return f"{self.name} on {self.node}"


@dataclass(frozen=True)
class StopService(Command):
    name: ClassVar[str] = "stop-service"
    service: str = "nginx"

    def describe(self) -> str:
        return f"stop {self.service} on {self.node}"


@dataclass(frozen=True)
class StartService(Command):
    name: ClassVar[str] = "start-service"
    destructive: ClassVar[bool] = False
    service: str = "nginx"

    def describe(self) -> str:
        return f"start {self.service} on {self.node}"


@dataclass(frozen=True)
class RestartAgent(Command):
    name: ClassVar[str] = "restart-agent"

    def describe(self) -> str:
        return f"restart the VRRP agent on {self.node}"


@dataclass(frozen=True)
class StopAgent(Command):
    """Stop the VRRP agent cleanly: masters send priority 0 (backups wait Skew_Time)."""

    name: ClassVar[str] = "stop-agent"

    def describe(self) -> str:
        return f"stop the VRRP agent on {self.node}"


@dataclass(frozen=True)
class Failover(Command):
    """The master of `instance` on `node` releases (priority 0) so the best backup takes over."""

    name: ClassVar[str] = "failover"
    instance: str = ""

    def describe(self) -> str:
        return f"fail over {self.instance or 'every instance'} away from {self.node}"


@dataclass(frozen=True)
class CancelHold(Command):
    """End the operator's failover hold on `node`: it may preempt again (the VIP can move
    back to it one Master_Down_Interval later if it outranks the master)."""

    name: ClassVar[str] = "cancel-hold"
    instance: str = ""

    def describe(self) -> str:
        return f"cancel the failover hold of {self.instance or 'every instance'} on {self.node}"


@dataclass(frozen=True)
class KillNode(Command):
    """Crash the node: no priority 0, backups wait Master_Down_Interval (lab only)."""

    name: ClassVar[str] = "kill-node"
    lab_only: ClassVar[bool] = True

    def describe(self) -> str:
        return f"kill {self.node} (crash)"


@dataclass(frozen=True)
class StartNode(Command):
    name: ClassVar[str] = "start-node"
    destructive: ClassVar[bool] = False
    lab_only: ClassVar[bool] = True


@dataclass(frozen=True)
class PartitionNode(Command):
    """Cut the node off the segment (or heal it): split-brain on demand (lab only)."""

    name: ClassVar[str] = "partition"
    lab_only: ClassVar[bool] = True
    partitioned: bool = True

    def describe(self) -> str:
        return f"{'partition' if self.partitioned else 'heal'} {self.node}"


@dataclass(frozen=True)
class LinkDown(Command):
    """Take the node's link down (its NIC loses carrier: instances go to FAULT), or bring
    it up again: unlike a partition, the node knows (namespace lab only)."""

    name: ClassVar[str] = "link-down"
    lab_only: ClassVar[bool] = True
    down: bool = True

    def describe(self) -> str:
        return f"take {self.node}'s link {'down' if self.down else 'up'}"


def outcome(what: str, ok: bool, detail: str) -> str:
    """How every view says what became of a command: `stop nginx on n1: done - ...`."""
    return f"{what}: {'done' if ok else 'FAILED'}" + (f" - {detail}" if detail else "")


@dataclass(frozen=True)
class Step:
    """A command to run `at` seconds after a scenario starts (lab.scenario parses them)."""

    at: float
    command: Command


async def play(execute: Callable[[Command], Awaitable[tuple[bool, str]]],
               steps: Sequence[Step]) -> None:
    """Run each step's command at its time (seconds after the call), on any source."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for step in steps:
        delay = start + step.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await execute(step.command)
