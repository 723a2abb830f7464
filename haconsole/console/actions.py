"""What each key does, as data: the key, its label, and the Command it builds.

Why separate from the App: the same table drives the bindings, the footer, the help
screen and the command palette, and `build()` is tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from haconsole.cluster import commands as cmd
from haconsole.cluster.events import State
from haconsole.cluster.view import ClusterView


class NotPossible(Exception):
    """The action cannot be built now; the message tells the operator why."""


@dataclass(frozen=True)
class Target:
    """What the operator points at: the selected row of the instances table."""

    node: str
    instance: str


Builder = Callable[[ClusterView, Target, set[str]], cmd.Command]


def _failover(view: ClusterView, target: Target, partitioned: set[str]) -> cmd.Command:
    master = view.master_of(target.instance)
    if master is None:
        raise NotPossible(f"{target.instance} has no MASTER to fail over")
    return cmd.Failover(master, target.instance)


def _cancel_hold(view: ClusterView, target: Target, partitioned: set[str]) -> cmd.Command:
    """The hold of the selected row, else of the router's member that is in one."""
    inst = view.instances.get((target.node, target.instance))
    if inst is None:
        raise NotPossible(f"{target.instance} on {target.node} is not known yet")
    members = [inst, *(m for m in view.group_members(inst.group) if m is not inst)]
    for member in members:
        if member.hold_until is not None and not member.lost:
            return cmd.CancelHold(member.node, member.name)
    raise NotPossible(f"no failover hold is running for {target.instance}")


def _kill_or_boot(view: ClusterView, target: Target, partitioned: set[str]) -> cmd.Command:
    """Boot a node that is down: lost, or every instance of it stopped (a keepalived
    node's collector still answers when keepalived is gone); else kill it."""
    node = view.nodes.get(target.node)
    if node is not None and not node.up:
        return cmd.StartNode(target.node)
    mine = [i for i in view.instances.values() if i.node == target.node]
    if mine and all(i.state == State.STOP for i in mine):
        return cmd.StartNode(target.node)
    return cmd.KillNode(target.node)


def _link(view: ClusterView, target: Target, partitioned: set[str]) -> cmd.Command:
    """Down, or up again when every instance of the node is in FAULT (its link down)."""
    mine = [i for i in view.instances.values() if i.node == target.node]
    down = not (mine and all(i.state == State.FAULT for i in mine))
    return cmd.LinkDown(target.node, down)


def _partition(view: ClusterView, target: Target, partitioned: set[str]) -> cmd.Command:
    return cmd.PartitionNode(target.node, target.node not in partitioned)


@dataclass(frozen=True)
class NodeAction:
    key: str
    action: str  # the App's action name (without `action_`)
    label: str  # short, for the footer
    help: str  # one line, for the help screen and the palette
    build: Builder
    kinds: tuple[type[cmd.Command], ...]  # the command types it may build
    rank: int = 50  # the key bar keeps lower ranks first when the terminal is narrow
    needs: str = ""  # where it works, said in the help of a console that cannot do it

    @property
    def destructive(self) -> bool:
        return any(k.destructive for k in self.kinds)

    @property
    def lab_only(self) -> bool:
        return all(k.lab_only for k in self.kinds)


ACTIONS: tuple[NodeAction, ...] = (
    NodeAction("s", "stop_service", "stop nginx", "stop nginx on the selected node",
               lambda v, t, p: cmd.StopService(t.node), (cmd.StopService,), rank=2),
    NodeAction("S", "start_service", "start nginx", "start nginx on the selected node",
               lambda v, t, p: cmd.StartService(t.node), (cmd.StartService,), rank=3),
    NodeAction("r", "restart_agent", "restart", "restart the VRRP agent on the selected node",
               lambda v, t, p: cmd.RestartAgent(t.node), (cmd.RestartAgent,), rank=7),
    NodeAction("f", "failover", "failover",
               "fail over the selected instance: its MASTER releases (priority 0)",
               _failover, (cmd.Failover,), rank=1),
    NodeAction("h", "cancel_hold", "cancel hold",
               "end the failover hold of the selected instance: it may preempt again",
               _cancel_hold, (cmd.CancelHold,), rank=8,
               needs="a haconsole agent (keepalived has no failover hold)"),
    NodeAction("k", "kill", "kill", "kill the selected node hard, or boot it (lab)",
               _kill_or_boot, (cmd.KillNode, cmd.StartNode), rank=4,
               needs="a lab: `haconsole lab`, or real namespaces with `lab --netns`"),
    NodeAction("p", "partition", "partition",
               "partition the selected node from the segment, or heal it (lab)",
               _partition, (cmd.PartitionNode,), rank=5,
               needs="a lab: `haconsole lab`, or real namespaces with `lab --netns`"),
    NodeAction("l", "link", "link",
               "take the selected node's link down (FAULT), or up again (real lab)",
               _link, (cmd.LinkDown,), rank=10,
               needs="a real NIC: the namespace lab, `haconsole lab --netns`"),
)
BY_ACTION = {a.action: a for a in ACTIONS}


def allowed(command: cmd.Command, *, readonly: bool) -> bool:
    """`--readonly` is watch-only: no command that changes a node, however harmless."""
    return not readonly


def needs_confirmation(command: cmd.Command, *, confirm: bool) -> bool:
    """Destructive commands are confirmed, except on a lab (confirm=False)."""
    return confirm and command.destructive
