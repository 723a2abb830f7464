"""The lab's commands, once: what each one needs, what it does and how its result reads.

Why: the in-process lab (`lab.InProcessLab`, real time) and a scripted run
(`lab.scripted.ScriptedRun`, virtual clock) take the same commands. With one dispatcher
they check the same preconditions and answer in the same words; each lab only says how
to do the thing on its nodes (`LabControl`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from haconsole.cluster import commands as cmd


class LabControl(Protocol):
    """What an operator can do to a lab's nodes (a node's "agent" is its VRRP engine)."""

    def has_node(self, node: str) -> bool: ...

    def is_running(self, node: str) -> bool:
        """The node's VRRP agent runs (not halted, killed or never booted)."""
        ...

    def services(self, node: str) -> Collection[str]: ...

    def instance_names(self, node: str) -> list[str]: ...

    def set_service(self, node: str, service: str, up: bool) -> None: ...

    async def restart(self, node: str) -> None:
        """Stop the agent cleanly (if running) and start it again."""
        ...

    async def halt(self, node: str) -> list[str]:
        """Stop the agent cleanly; the instances that were MASTER (they sent priority 0)."""
        ...

    async def kill(self, node: str) -> None:
        """Crash the node: no priority 0, its VIPs vanish with it."""
        ...

    async def boot(self, node: str) -> None:
        """Start the node's agent (nothing when it runs)."""
        ...

    def partition(self, node: str, cut: bool) -> None: ...

    def release(self, node: str, instance: str) -> bool:
        """Operator failover of one instance; False when it is not MASTER there."""
        ...

    def cancel_hold(self, node: str, instance: str) -> list[str]:
        """End the failover hold of `instance` ("" = every one); those that had one."""
        ...


Result = tuple[bool, str]


def supports(command: type[cmd.Command]) -> bool:
    """Whether a lab can run that kind of command (a link going down needs a real NIC)."""
    return command in _COMMANDS


async def execute(lab: LabControl, command: cmd.Command) -> Result:
    """Run `command` on `lab`: (ok, what happened, in words an operator reads)."""
    if not lab.has_node(command.node):
        return False, f"no node named {command.node!r} in this lab"
    run = _COMMANDS.get(type(command))
    if run is None:
        return False, f"the lab cannot run {command.name}"
    return await run(lab, command)


async def _service(lab: LabControl, command: cmd.StopService | cmd.StartService) -> Result:
    node, service = command.node, command.service
    if service not in lab.services(node):
        return False, f"{node} runs no {service}"
    up = isinstance(command, cmd.StartService)
    lab.set_service(node, service, up)
    return True, f"{service} {'started' if up else 'stopped'} on {node}"


async def _restart(lab: LabControl, command: cmd.RestartAgent) -> Result:
    await lab.restart(command.node)
    return True, f"VRRP agent restarted on {command.node}"


async def _halt(lab: LabControl, command: cmd.StopAgent) -> Result:
    node = command.node
    if not lab.is_running(node):
        return False, f"{node} is already down"
    masters = await lab.halt(node)
    # Only a master sends priority 0 when it stops; a backup just goes quiet.
    sent = (f"priority 0 sent for {', '.join(masters)}" if masters
            else "master of no instance: no priority 0 sent")
    return True, f"VRRP agent stopped on {node} ({sent})"


async def _failover(lab: LabControl, command: cmd.Failover) -> Result:
    node = command.node
    if not lab.is_running(node):
        return False, f"{node} is not running"
    names = [command.instance] if command.instance else lab.instance_names(node)
    released = [name for name in names if lab.release(node, name)]
    if not released:
        return False, f"{node} is not MASTER of {', '.join(names)}"
    return True, f"{node} released {', '.join(released)} (priority 0 sent)"


async def _cancel_hold(lab: LabControl, command: cmd.CancelHold) -> Result:
    node = command.node
    if not lab.is_running(node):
        return False, f"{node} is not running"
    cancelled = lab.cancel_hold(node, command.instance)
    if not cancelled:
        return False, f"{node} has no failover hold running"
    return True, f"{node} may preempt again ({', '.join(cancelled)})"


async def _kill(lab: LabControl, command: cmd.KillNode) -> Result:
    node = command.node
    if not lab.is_running(node):
        return False, f"{node} is already down"
    await lab.kill(node)
    return True, f"{node} crashed (no priority 0)"


async def _boot(lab: LabControl, command: cmd.StartNode) -> Result:
    await lab.boot(command.node)
    return True, f"{command.node} started"


async def _partition(lab: LabControl, command: cmd.PartitionNode) -> Result:
    lab.partition(command.node, command.partitioned)
    state = "partitioned from" if command.partitioned else "reconnected to"
    return True, f"{command.node} {state} the segment"


_COMMANDS: dict[type[cmd.Command], Callable[[LabControl, Any], Awaitable[Result]]] = {
    cmd.StopService: _service,
    cmd.StartService: _service,
    cmd.RestartAgent: _restart,
    cmd.StopAgent: _halt,
    cmd.Failover: _failover,
    cmd.CancelHold: _cancel_hold,
    cmd.KillNode: _kill,
    cmd.StartNode: _boot,
    cmd.PartitionNode: _partition,
}
