"""Timed scenarios for demos: `"5:stop nginx1; 15:start nginx1"` as a list of commands.

Verbs: stop NODE / start NODE (its nginx), restart NODE (the VRRP agent), halt NODE (stop
the agent: priority 0), kill NODE (crash, no priority 0), boot NODE (start a stopped or
killed node), partition NODE, heal NODE, failover NODE [INSTANCE].
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from haconsole.cluster import commands as cmd


class ScenarioError(ValueError):
    """A scenario step that cannot be understood; the message says which and why."""


@dataclass(frozen=True)
class Step:
    at: float
    command: cmd.Command


def parse_command(words: list[str]) -> cmd.Command:
    if not words:
        raise ScenarioError("empty step")
    verb, args = words[0].lower(), words[1:]
    if not args:
        raise ScenarioError(f"{verb!r} needs a node name")
    node = args[0]
    table: dict[str, cmd.Command] = {
        "stop": cmd.StopService(node),
        "start": cmd.StartService(node),
        "restart": cmd.RestartAgent(node),
        "kill": cmd.KillNode(node),
        "halt": cmd.StopAgent(node),
        "boot": cmd.StartNode(node),
        "partition": cmd.PartitionNode(node, True),
        "heal": cmd.PartitionNode(node, False),
        "failover": cmd.Failover(node, args[1] if len(args) > 1 else ""),
    }
    if verb not in table:
        raise ScenarioError(f"unknown verb {verb!r} (one of: {', '.join(table)})")
    return table[verb]


def parse_scenario(text: str) -> list[Step]:
    """Parse `T:VERB NODE [ARG]` steps separated by `;` or newlines, sorted by time."""
    steps: list[Step] = []
    for raw in text.replace("\n", ";").split(";"):
        part = raw.strip()
        if not part or part.startswith("#"):
            continue
        when, sep, rest = part.partition(":")
        if not sep:
            raise ScenarioError(f"step {part!r}: expected TIME:VERB NODE, e.g. '5:stop nginx1'")
        try:
            at = float(when)
        except ValueError:
            raise ScenarioError(f"step {part!r}: {when!r} is not a time in seconds") from None
        if at < 0:
            raise ScenarioError(f"step {part!r}: time must not be negative")
        try:
            steps.append(Step(at, parse_command(rest.split())))
        except ScenarioError as err:
            raise ScenarioError(f"step {part!r}: {err}") from None
    return sorted(steps, key=lambda s: s.at)


async def play(execute: Callable[[cmd.Command], Awaitable[tuple[bool, str]]],
               steps: list[Step]) -> None:
    """Run each step's command at its time (seconds after the call)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for step in steps:
        delay = start + step.at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await execute(step.command)
