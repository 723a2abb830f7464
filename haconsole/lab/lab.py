"""The in-process lab: engine Nodes on a memory segment, each guarding a simulated nginx.

It is a `Source` like any other: it publishes cluster events and runs commands (stop or
start nginx, restart the agent, fail over, crash a node, partition it). No root, no
network: the demo that runs anywhere within a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.engine.node import Node
from haconsole.engine.trackers import CheckTracker
from haconsole.lab.definition import LabDefinition, LabNode
from haconsole.net.memory import MemorySegment, MemoryVips

Publish = Callable[[ev.Event], None]


@dataclass
class SimService:
    """A simulated service (nginx) that a check script probes."""

    name: str = "nginx"
    up: bool = True


class LabHost:
    """One lab node: its services, its VIPs and (while running) its engine Node."""

    def __init__(self, lab: Lab, spec: LabNode) -> None:
        self.lab = lab
        self.spec = spec
        self.name = spec.name
        self.config = lab.definition.config_for(spec)
        self.services = {c.service: SimService(c.service) for c in lab.definition.checks.values()}
        self.services.setdefault("nginx", SimService("nginx"))
        self.vips = MemoryVips()
        self.node: Node | None = None

    def _trackers(self) -> list[CheckTracker]:
        trackers = []
        for check in self.lab.definition.checks.values():
            service = self.services[check.service]

            async def probe(service: SimService = service) -> int:
                return 0 if service.up else 1

            trackers.append(CheckTracker(check.name, probe, interval=check.interval,
                                         rise=check.rise, fall=check.fall))
        return trackers

    async def start(self) -> None:
        if self.node is not None and self.node.running:
            return
        segment = self.lab.segment
        address = self.spec.address
        self.node = Node(
            self.name,
            self.config,
            transport_for=lambda iface, family: segment.attach(self.name, iface, address),
            vips=self.vips,
            publish=self.lab.publish,
            trackers=list(self._trackers()),
            failover_hold=self.lab.failover_hold,
        )
        await self.node.start()
        for service in self.services.values():
            self.lab.publish(ev.ServiceState(self.lab.now(), self.name, service=service.name,
                                             up=service.up))

    @property
    def running(self) -> bool:
        return self.node is not None and self.node.running

    def set_service(self, name: str, up: bool) -> None:
        service = self.services[name]
        service.up = up
        self.lab.publish(ev.ServiceState(self.lab.now(), self.name, service=name, up=up))


class Lab:
    """The lab as a Source. Build from a LabDefinition; `await start(publish)`."""

    name = "lab"

    def __init__(self, definition: LabDefinition, *, delay: float = 0.0, loss: float = 0.0,
                 seed: int | None = None, failover_hold: float = 60.0) -> None:
        self.definition = definition
        self.segment = MemorySegment(delay=delay, loss=loss, seed=seed)
        self.failover_hold = failover_hold
        self.hosts = {n.name: LabHost(self, n) for n in definition.nodes}
        self._publish: Publish = lambda e: None

    def now(self) -> float:
        return time.time()

    def publish(self, event: ev.Event) -> None:
        self._publish(event)

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        for host in self.hosts.values():
            await host.start()

    async def stop(self) -> None:
        for host in self.hosts.values():
            if host.node is not None:
                await host.node.stop()

    def supports(self, command: type[cmd.Command]) -> bool:
        return True

    # ----------------------------------------------------------------- commands
    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        """Run a command; returns (ok, detail) and publishes a CommandResult event."""
        ok, detail = await self._execute(command)
        self.publish(ev.CommandResult(self.now(), command.node, command=command.describe(),
                                      ok=ok, detail=detail))
        return ok, detail

    async def _execute(self, command: cmd.Command) -> tuple[bool, str]:
        host = self.hosts.get(command.node)
        if host is None:
            return False, f"no node named {command.node!r} in this lab"
        if isinstance(command, cmd.StopService | cmd.StartService):
            if command.service not in host.services:
                return False, f"{host.name} runs no {command.service}"
            up = isinstance(command, cmd.StartService)
            host.set_service(command.service, up)
            return True, f"{command.service} {'started' if up else 'stopped'} on {host.name}"
        if isinstance(command, cmd.RestartAgent):
            if host.node is not None:
                await host.node.stop()
            await host.start()
            return True, f"VRRP agent restarted on {host.name}"
        if isinstance(command, cmd.StopAgent):
            if host.node is None or not host.running:
                return False, f"{host.name} is already down"
            await host.node.stop()
            return True, f"VRRP agent stopped on {host.name} (priority 0 sent)"
        if isinstance(command, cmd.Failover):
            if host.node is None or not host.running:
                return False, f"{host.name} is not running"
            names = [command.instance] if command.instance else list(host.node.instances)
            released = [n for n in names if host.node.release(n)]
            if not released:
                return False, f"{host.name} is not MASTER of {', '.join(names)}"
            return True, f"{host.name} released {', '.join(released)} (priority 0 sent)"
        if isinstance(command, cmd.CancelHold):
            if host.node is None or not host.running:
                return False, f"{host.name} is not running"
            cancelled = host.node.cancel_hold(command.instance or None)
            if not cancelled:
                return False, f"{host.name} has no failover hold running"
            return True, f"{host.name} may preempt again ({', '.join(cancelled)})"
        if isinstance(command, cmd.KillNode):
            if host.node is None or not host.running:
                return False, f"{host.name} is already down"
            await host.node.crash()
            return True, f"{host.name} crashed (no priority 0)"
        if isinstance(command, cmd.StartNode):
            await host.start()
            return True, f"{host.name} started"
        if isinstance(command, cmd.PartitionNode):
            self.segment.partition(host.name, command.partitioned)
            state = "partitioned from" if command.partitioned else "reconnected to"
            return True, f"{host.name} {state} the segment"
        return False, f"the lab cannot run {command.name}"

    # ----------------------------------------------------------------- helpers for tests
    def state(self, node: str, instance: str) -> str:
        host = self.hosts[node]
        if host.node is None or not host.running:
            return "STOP"
        return host.node.instances[instance].state

    def masters(self, instance: str) -> list[str]:
        return [n for n in self.hosts if self.state(n, instance) == "MASTER"]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float,
                       poll: float = 0.01) -> bool:
        """Wait until predicate() holds (True) or the timeout passes (False)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() >= end:
                return False
            await asyncio.sleep(poll)
        return True
