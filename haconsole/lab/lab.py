"""The in-process lab: engine Nodes on a memory segment, each guarding a simulated nginx.

It is a `Source` like any other: it publishes cluster events and runs commands (stop or
start nginx, restart the agent, fail over, crash a node, partition it). No root, no
network: the demo that runs anywhere within a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import VrrpScript
from haconsole.engine.build import build_trackers
from haconsole.engine.node import Node, Tracker
from haconsole.engine.trackers import Probe
from haconsole.lab import commands
from haconsole.lab.clients import SimulatedClients
from haconsole.lab.definition import LabDefinition, LabNodeSpec
from haconsole.net.memory import MemorySegment, MemoryVips
from haconsole.probe.runner import DEFAULT_RATE
from haconsole.vrrp.state import State

Publish = Callable[[ev.Event], None]


@dataclass
class SimService:
    """A simulated service (nginx) that a check script probes."""

    name: str = "nginx"
    up: bool = True


class LabHost:
    """One lab node: its services, its VIPs and (while running) its engine Node."""

    def __init__(self, lab: InProcessLab, spec: LabNodeSpec) -> None:
        self.lab = lab
        self.spec = spec
        self.name = spec.name
        self.config = lab.definition.config_for(spec)
        self.services = {c.service: SimService(c.service) for c in lab.definition.checks.values()}
        self.services.setdefault("nginx", SimService("nginx"))
        self.vips = MemoryVips()
        self.node: Node | None = None

    def _trackers(self) -> list[Tracker]:
        """The agent's trackers for this node's config (engine.build), each check probing
        the simulated service its lab definition names instead of running a script."""
        checks = self.lab.definition.checks

        def probe(script: VrrpScript, user: str | None) -> Probe:
            service = self.services[checks[script.name].service]

            async def run() -> int:
                return 0 if service.up else 1

            return run

        return list(build_trackers(self.config, probe=probe).values())

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
            fast_preempt=self.spec.fast_preempt,
        )
        await self.node.start()
        for service in self.services.values():
            self.lab.publish(ev.ServiceState(self.lab.now(), self.name, service=service.name,
                                             up=service.up))

    @property
    def running(self) -> bool:
        return self.node is not None and self.node.running

    # What the simulated clients ask (haconsole.lab.clients.ServedBy).
    def holds(self, vip: str) -> bool:
        return self.running and vip in self.vips.held()

    def serving(self) -> bool:
        return self.running and self.services["nginx"].up

    def set_service(self, name: str, up: bool) -> None:
        service = self.services[name]
        service.up = up
        self.lab.publish(ev.ServiceState(self.lab.now(), self.name, service=name, up=up))


class InProcessLab:
    """The lab as a Source. Build from a LabDefinition; `await start(publish)`."""

    name = "lab"

    def __init__(self, definition: LabDefinition, *, delay: float = 0.0, loss: float = 0.0,
                 seed: int | None = None, failover_hold: float = 60.0,
                 client_rate: float = DEFAULT_RATE) -> None:
        self.definition = definition
        self.segment = MemorySegment(delay=delay, loss=loss, seed=seed)
        self.failover_hold = failover_hold
        self.hosts = {n.name: LabHost(self, n) for n in definition.nodes}
        self._publish: Publish = lambda e: None
        vips = sorted({str(v) for spec in definition.nodes
                       for inst in definition.config_for(spec).vrrp_instances
                       for v in inst.virtual_ipaddress})
        # simulated clients of every VIP (0: none), answered by the lab's own state
        self.clients = SimulatedClients(lambda: self.hosts, vips, self._publish_client,
                                        self.now, rate=client_rate) if client_rate else None

    def now(self) -> float:
        return time.time()

    def publish(self, event: ev.Event) -> None:
        if self.clients is not None:
            self.clients.observe(event)
        self._publish(event)

    def _publish_client(self, event: ev.Event) -> None:
        self._publish(event)

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        for host in self.hosts.values():
            await host.start()
        if self.clients is not None:
            self.clients.start()

    async def stop(self) -> None:
        if self.clients is not None:
            await self.clients.stop()
        for host in self.hosts.values():
            if host.node is not None:
                await host.node.stop()

    def supports(self, command: type[cmd.Command]) -> bool:
        return commands.supports(command)

    # ----------------------------------------------------------------- commands
    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        """Run a command; returns (ok, detail) and publishes a CommandResult event."""
        ok, detail = await commands.execute(self, command)
        self.publish(ev.CommandResult(self.now(), command.node, command=command.describe(),
                                      ok=ok, detail=detail))
        return ok, detail

    # What the commands do (haconsole.lab.commands.LabControl).
    def has_node(self, node: str) -> bool:
        return node in self.hosts

    def is_running(self, node: str) -> bool:
        return self.hosts[node].running

    def services(self, node: str) -> Collection[str]:
        return self.hosts[node].services

    def instance_names(self, node: str) -> list[str]:
        engine = self.hosts[node].node
        return list(engine.instances) if engine is not None else []

    def set_service(self, node: str, service: str, up: bool) -> None:
        self.hosts[node].set_service(service, up)

    async def restart(self, node: str) -> None:
        host = self.hosts[node]
        if host.node is not None:
            await host.node.stop()
        await host.start()

    async def halt(self, node: str) -> list[str]:
        engine = self.hosts[node].node
        if engine is None:
            return []
        masters = [n for n, i in engine.instances.items() if i.state == State.MASTER]
        await engine.stop()
        return masters

    async def kill(self, node: str) -> None:
        engine = self.hosts[node].node
        if engine is not None:
            await engine.crash()

    async def boot(self, node: str) -> None:
        await self.hosts[node].start()

    def partition(self, node: str, cut: bool) -> None:
        self.segment.partition(node, cut)

    def release(self, node: str, instance: str) -> bool:
        engine = self.hosts[node].node
        return engine is not None and engine.release(instance)

    def cancel_hold(self, node: str, instance: str) -> list[str]:
        engine = self.hosts[node].node
        return engine.cancel_hold(instance or None) if engine is not None else []

    # ----------------------------------------------------------------- helpers for tests
    def state(self, node: str, instance: str) -> State:
        host = self.hosts[node]
        if host.node is None or not host.running:
            return State.STOP
        return host.node.instances[instance].state

    def masters(self, instance: str) -> list[str]:
        return [n for n in self.hosts if self.state(n, instance) == State.MASTER]

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
