"""The namespace lab as one console source: real nodes read as in production, real keys.

What the console sees of `lab --netns` is read the way `connect` reads production:

- a haconsole agent through its control socket (`sources.agent.AgentSocketSource`);
- a stock keepalived through the very collector `connect` uses over SSH
  (`sources.keepalived_ssh.KeepalivedSource`), on a local transport: its poll loop and
  log follower run in the node's namespaces (`sources.local`), reading its JSON dump in
  its private /tmp and its log file;
- the clients through `python -m haconsole.probe` in the client namespace, a real
  client on the LAN (`sources.probe.ProbeProcessSource`).

Commands act on the real thing. What only a lab can do, or what the lab owns (the
processes it started: nginx, the engines), runs through `NetnsLab.execute` in a thread:
stop/start nginx, halt, kill and boot an engine, partition a node, its link down. The rest
goes to the node's own source as `connect` would send it: a failover (an agent's
priority 0 and hold; on keepalived, stop it, wait for another MASTER, start it again), an
agent's restart or hold. A keepalived node's actions still end in the lab (`run_action`).

`lab_sources` is where the console's sources of the lab are assembled: the place to add
another view of it (a capture on the bridge: `NetnsLab.topology.bridge_ns`, `br0`).
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.netns.lab import HTTP_CHECK, NetnsLab, agent_env
from haconsole.sources.agent import AgentSocketSource
from haconsole.sources.base import Publish, Source, WarnsBeforeCommands
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.keepalived_ssh import KeepalivedSource
from haconsole.sources.local import LocalLink, LocalTransport, netns_enter
from haconsole.sources.probe import ProbeProcessSource, probe_argv
from haconsole.sources.ssh import SharedView
from haconsole.sources.transport import Collect, Link

__all__ = ["LAB_COMMANDS", "LabKeepalivedNode", "LabRunner", "NetnsConsoleSource",
           "client_probe", "lab_sources", "lab_vips"]

#: What the lab runs itself (it owns these processes and the topology).
LAB_COMMANDS: tuple[type[cmd.Command], ...] = (
    cmd.StopService, cmd.StartService, cmd.StopAgent, cmd.KillNode, cmd.StartNode,
    cmd.PartitionNode, cmd.LinkDown)

#: A keepalived node's action keys, as lab commands (see `LabKeepalivedNode.run_action`).
_ACTIONS: dict[str, Callable[[str], cmd.Command]] = {
    "stop_service": cmd.StopService,
    "start_service": cmd.StartService,
    "restart_agent": cmd.RestartAgent,
    "stop_keepalived": cmd.StopAgent,
    "start_keepalived": cmd.StartNode,
}


class LabRunner:
    """Runs `NetnsLab.execute` off the event loop, one command at a time (the lab's
    bookkeeping of its processes is not made for two at once)."""

    def __init__(self, lab: NetnsLab) -> None:
        self.lab = lab
        self._lock = threading.Lock()
        self._closed = False

    def _execute(self, command: cmd.Command) -> tuple[bool, str]:
        with self._lock:
            if self._closed:
                return False, "the lab is being torn down"
            try:
                return self.lab.execute(command)
            except Exception as err:  # a failed step is reported, the console goes on
                return False, f"{type(err).__name__}: {err}"

    def close(self, timeout: float = 30.0) -> None:
        """No command after this one; returns once a running one has ended (or after
        `timeout`): the lab is torn down next, not under a command's feet."""
        got = self._lock.acquire(timeout=timeout)
        self._closed = True
        if got:
            self._lock.release()

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return await asyncio.to_thread(self._execute, command)


class LabKeepalivedNode(KeepalivedSource):
    """A keepalived node of the lab: `connect`'s collector on a local transport (its
    namespaces, its private /tmp), its actions done by the lab that started it."""

    def __init__(self, lab: NetnsLab, name: str, runner: LabRunner, *,
                 view: SharedView | None = None, failover_timeout: float = 15.0) -> None:
        node = lab.nodes[name]
        spec = NodeSpec(name=name, host=lab.ipv4(name), kind="keepalived",
                        pidfile=str(node.dir / "keepalived.pid"), log_file=str(node.log),
                        commands={"service_status": HTTP_CHECK})
        self.lab = lab
        self.runner = runner
        # since: the log of this lab run (the first election came before the console)
        super().__init__(spec, view=view, since=3600.0, since_label="the lab's start",
                         failover_timeout=failover_timeout, link=self._local_link)

    def _local_link(self, publish: Publish, collect: Collect) -> Link:
        transport = LocalTransport(self.lab.enter(self.name))
        return LocalLink(self.name, transport, publish, collect, agent="keepalived",
                         address=self.lab.ipv4(self.name),
                         where=f"keepalived in {self.lab.ns(self.name)}")

    async def run_action(self, key: str, **values: str) -> tuple[bool, str]:
        """The lab does it: it started keepalived and nginx, it stops and starts them."""
        make = _ACTIONS.get(key)
        if make is None:
            return False, f"the lab has no {key} action"
        return await self.runner.execute(make(self.name))


def lab_vips(lab: NetnsLab) -> list[str]:
    """Every VIP of the lab's instances (addresses, no prefix), sorted."""
    return sorted({str(v.ip) for node in lab.nodes.values()
                   for inst in node.config.vrrp_instances for v in inst.virtual_ipaddress})


def _url(vip: str) -> str:
    return f"http://[{vip}]/" if ":" in vip else f"http://{vip}/"


def client_probe(lab: NetnsLab, *, rate: float | None = None) -> ProbeProcessSource:
    """The probe in the client namespace, on every VIP of the lab."""
    targets = [f"{_url(vip)}={vip}" for vip in lab_vips(lab)]
    kwargs: dict[str, Any] = {"rate": rate} if rate else {}
    argv = probe_argv(sys.executable, targets, client="client", **kwargs)
    transport = LocalTransport(netns_enter(lab.topology.ns("client")), env=agent_env())
    return ProbeProcessSource("client", lambda: transport.create_process(
        "exec " + shlex.join(argv)))


def lab_sources(lab: NetnsLab, runner: LabRunner, view: SharedView, *,
                probe: bool = True) -> dict[str, Source]:
    """The console's sources of the lab, by the node (or client) each one reports.
    Another view of the lab (a capture on its bridge) is added here."""
    sources: dict[str, Source] = {}
    for name, node in lab.nodes.items():
        if node.engine == "haconsole":
            sources[name] = AgentSocketSource(name, node.control)
        else:
            sources[name] = LabKeepalivedNode(lab, name, runner, view=view)
    if probe and lab.topology.client and lab_vips(lab):
        sources["client"] = client_probe(lab)
    return sources


class NetnsConsoleSource:
    """The lab as one `Source`: its nodes' sources inside, commands routed (module
    docstring). `extra`: more sources of the same lab, started and stopped with it."""

    name = "netns lab"

    def __init__(self, lab: NetnsLab, *, probe: bool = True,
                 extra: Sequence[Source] = ()) -> None:
        self.lab = lab
        self.view = SharedView()  # the keepalived failover waits for a MASTER in it
        self.runner = LabRunner(lab)
        self.children = lab_sources(lab, self.runner, self.view, probe=probe)
        self.extra = list(extra)
        self._publish: Publish = lambda e: None

    def _publisher(self, child: Source) -> Publish:
        if isinstance(child, KeepalivedSource):
            return self._publish  # it folds its own events into the shared view

        def publish(event: ev.Event) -> None:
            self.view.apply(event)
            self._publish(event)

        return publish

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        for child in [*self.children.values(), *self.extra]:
            await child.start(self._publisher(child))

    async def stop(self) -> None:
        await asyncio.gather(*(child.stop() for child in
                               [*self.children.values(), *self.extra]),
                             return_exceptions=True)

    def supports(self, command: type[cmd.Command]) -> bool:
        return command in LAB_COMMANDS or any(
            child.supports(command) for child in self.children.values())

    def warning(self, command: cmd.Command) -> str:
        child = self.children.get(command.node)
        if isinstance(child, WarnsBeforeCommands):
            return child.warning(command)
        return ""

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        if command.node not in self.lab.nodes:
            ok, detail = False, f"no node named {command.node!r} in this lab"
        elif isinstance(command, LAB_COMMANDS):
            ok, detail = await self.runner.execute(command)
        else:
            child = self.children.get(command.node)
            if child is not None and child.supports(type(command)):
                return await child.execute(command)  # it reports the result itself
            ok, detail = await self.runner.execute(command)
        result = ev.CommandResult(time.time(), command.node, command=command.describe(),
                                  ok=ok, detail=detail)
        self.view.apply(result)
        self._publish(result)
        return ok, detail
