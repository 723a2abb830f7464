"""Timed scenarios for demos: `"5:stop nginx1; 15:start nginx1"` as a list of commands.

Verbs: stop NODE / start NODE (its nginx), restart NODE (the VRRP agent), halt NODE (stop
the agent: priority 0), kill NODE (crash, no priority 0), boot NODE (start a stopped or
killed node), partition NODE, heal NODE, failover NODE [INSTANCE].

Given the lab it will run on, `parse_scenario` also checks every node and instance name
and fills in the instance of a bare `failover NODE` when the lab has only one, so a
typo is an error before the lab starts rather than a FAILED step half-way through.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from haconsole.cluster import commands as cmd
from haconsole.cluster.commands import Step, play  # timed steps: any source runs them

if TYPE_CHECKING:
    from haconsole.lab.definition import LabDefinition

__all__ = ["MAX_TIME", "ScenarioError", "Step", "parse_command", "parse_scenario", "play"]

#: The latest a step may run, in seconds (about 11 days): a bound, not a schedule.
MAX_TIME = 1_000_000.0


class ScenarioError(ValueError):
    """A scenario step that cannot be understood; the message says which and why."""


VERBS = ("stop", "start", "restart", "kill", "halt", "boot", "partition", "heal",
         "failover")


def parse_command(words: list[str]) -> cmd.Command:
    if not words:
        raise ScenarioError("empty step")
    verb, args = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise ScenarioError(f"unknown verb {verb!r} (one of: {', '.join(VERBS)})")
    if not args:
        raise ScenarioError(f"{verb!r} needs a node name")
    if len(args) > (2 if verb == "failover" else 1):
        usage = "NODE [INSTANCE]" if verb == "failover" else "NODE"
        raise ScenarioError(f"{verb!r} takes {usage}, got {' '.join(args)!r}")
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
    return table[verb]


def parse_scenario(text: str, lab: LabDefinition | None = None) -> list[Step]:
    """Parse `T:VERB NODE [ARG]` steps separated by `;` or newlines, sorted by time;
    with `lab`, check them against it (see the module docstring)."""
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
        if not (math.isfinite(at) and 0 <= at <= MAX_TIME):
            raise ScenarioError(f"step {part!r}: the time must be 0..{MAX_TIME:g} seconds")
        try:
            command = parse_command(rest.split())
            if lab is not None:
                command = _for_lab(command, lab)
        except ScenarioError as err:
            raise ScenarioError(f"step {part!r}: {err}") from None
        steps.append(Step(at, command))
    return sorted(steps, key=lambda s: s.at)


def _for_lab(command: cmd.Command, lab: LabDefinition) -> cmd.Command:
    """`command` with its names checked against `lab` (and a lone instance filled in)."""
    nodes = [n.name for n in lab.nodes]
    if command.node not in nodes:
        raise ScenarioError(f"no node {command.node!r} in the lab (nodes: {', '.join(nodes)})")
    if isinstance(command, cmd.Failover):
        instances = [i.name for i in lab.instances]
        if not command.instance and len(instances) == 1:
            return dataclasses.replace(command, instance=instances[0])
        if command.instance and command.instance not in instances:
            raise ScenarioError(f"no instance {command.instance!r} in the lab "
                                f"(instances: {', '.join(instances)})")
    return command
