"""Every node of an inventory, live, over SSH: the source behind `haconsole connect`.

`FleetSource` is one `Source` for the whole inventory (keepalived nodes and haconsole agents
side by side); the command line that hands it to the console is `console.cli`. The fleet routes each
command to the node it names and shares one fold of what its nodes publish (a
`ClusterView`, `FleetSource.view`), so a keepalived failover on one node can wait for
another node to become MASTER. With `--since` (default 1h) each keepalived node's log of
that long ago is read at attach, and the fleet publishes the nodes' pasts merged in time
order (`HistoryMerge`) before going live: an incident that happened before the console
started shows in its Failovers panel and alarms. With `probe = [...]` in the inventory the
console's host is also a client of each VIP (`sources.probe.ClientProbeSource`): the
Clients panel and the stopwatch say what clients saw.
"""

from __future__ import annotations

import asyncio
import re

from haconsole.cluster import commands as cmd
from haconsole.probe.runner import ProbeTarget
from haconsole.sources.agent_ssh import AgentSshSource
from haconsole.sources.base import Publish
from haconsole.sources.inventory import Inventory
from haconsole.sources.keepalived_ssh import KeepalivedSource
from haconsole.sources.probe import ClientProbeSource
from haconsole.sources.ssh import HistoryMerge, SharedView, SshOptions

__all__ = ["DEFAULT_SINCE", "FleetSource", "build_fleet", "parse_since"]

RemoteNode = KeepalivedSource | AgentSshSource

DEFAULT_SINCE = "1h"
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_since(text: str) -> float:
    """`--since`: `0` (live only), `90s`, `30m`, `2h`, `1d` (a bare number is seconds) ->
    seconds. ValueError with the words to show when it is none of those."""
    m = _DURATION.match(text.strip().lower())
    seconds = float(m.group(1)) * _UNITS[m.group(2)] if m else -1.0
    if not 0 <= seconds <= 366 * 86400:
        raise ValueError(f"--since: expected a duration like 30m, 2h or 1d (0: live only, "
                         f"at most 366d), got {text!r}")
    return seconds


class FleetSource:
    """All nodes of an inventory as one `Source`; each node connects on its own.

    `since`: seconds of each keepalived node's log read at attach (0: live only), said as
    `since_label`; their pasts are published merged in time order, waiting at most
    `history_wait` s after the first node's for the others'.
    """

    def __init__(self, inventory: Inventory, options: SshOptions | None = None, *,
                 readonly: bool = False, failover_timeout: float = 15.0,
                 since: float = 3600.0, since_label: str = DEFAULT_SINCE,
                 history_wait: float = 3.0) -> None:
        self.inventory = inventory
        self.name = inventory.name or "ssh"
        self.readonly = readonly
        self.options = options or SshOptions(known_hosts=inventory.known_hosts,
                                             ssh_config=inventory.ssh_config)
        self.view = SharedView()
        keepalived = [s.name for s in inventory.nodes if s.kind != "haconsole"]
        self.merge = HistoryMerge(keepalived, wait=history_wait) if since > 0 else None
        self.nodes: dict[str, RemoteNode] = {}
        for spec in inventory.nodes:
            if spec.kind == "haconsole":
                self.nodes[spec.name] = AgentSshSource(spec, self.options, view=self.view)
            else:
                self.nodes[spec.name] = KeepalivedSource(
                    spec, self.options, view=self.view, merge=self.merge, since=since,
                    since_label=since_label, failover_timeout=failover_timeout)
        self.probe = ClientProbeSource(
            [ProbeTarget.parse(*p.split("=", 1)) for p in inventory.probes],
            client="console") if inventory.probes else None

    async def start(self, publish: Publish) -> None:
        """Start every node's connection task; returns at once (nodes connect in parallel)."""
        for node in self.nodes.values():
            await node.start(publish)
        if self.probe is not None:
            await self.probe.start(publish)

    async def stop(self) -> None:
        if self.probe is not None:
            await self.probe.stop()
        await asyncio.gather(*(node.stop() for node in self.nodes.values()))

    def supports(self, command: type[cmd.Command]) -> bool:
        if self.readonly and command.destructive:
            return False
        return any(node.supports(command) for node in self.nodes.values())

    def warning(self, command: cmd.Command) -> str:
        """What to tell the operator before confirming `command` ("" if nothing)."""
        node = self.nodes.get(command.node)
        return node.warning(command) if node is not None else ""

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        if self.readonly and command.destructive:
            return False, f"read-only: {command.describe()} is not allowed (--readonly)"
        node = self.nodes.get(command.node)
        if node is None:
            return False, f"no node named {command.node!r} in {self.inventory.path}"
        if not node.supports(type(command)):
            return False, f"{command.node} cannot run {command.name}"
        return await node.execute(command)

    def connected(self) -> list[str]:
        return [name for name, node in self.nodes.items()
                if node.link is not None and node.link.connected.is_set()]


def build_fleet(inventory: Inventory, *, readonly: bool = False,
                accept_new_host_keys: bool = False,
                options: SshOptions | None = None, since: str = DEFAULT_SINCE) -> FleetSource:
    """The fleet `haconsole connect` runs, with the command line's choices applied
    (`since` as typed: ValueError if it is not a duration)."""
    opts = options or SshOptions(known_hosts=inventory.known_hosts,
                                 ssh_config=inventory.ssh_config)
    opts.accept_new_host_keys = opts.accept_new_host_keys or accept_new_host_keys
    return FleetSource(inventory, opts, readonly=readonly, since=parse_since(since),
                    since_label=since.strip())
