"""What a failover will do, said before the operator confirms it.

Why: the failover key is pressed at the worst moment. VRRP elects the live backup with the
highest priority whether or not its service works, so the dialog names that node, its
effective priority and its health, shows any operator hold already running, and warns when
the VIP would land on a dead service or when no backup can take it at all. A pure function
of the view and `now`, tested without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from haconsole.cluster import commands as cmd
from haconsole.cluster.view import ClusterView
from haconsole.console.format import age


@dataclass(frozen=True)
class Preview:
    lines: tuple[str, ...]  # facts, one per line
    warning: str = ""  # non-empty: the operator should think twice (always confirmed)


def failover_preview(view: ClusterView, command: cmd.Failover, now: float) -> Preview:
    """Who takes over `command.instance` from `command.node`, and whether that is safe."""
    inst = view.instances.get((command.node, command.instance))
    if inst is None:
        return Preview(())
    lines: list[str] = []
    warning = ""
    taker = view.takeover_candidate(inst.group, command.node)
    if taker is None:
        others = [m for m in view.group_members(inst.group) if m.node != command.node]
        why = "; ".join(f"{m.node}: {view.unfit_reason(m, now) or m.state}" for m in others)
        warning = (f"no backup can take over {command.instance}"
                   + (f" ({why})" if why else " (no other node runs it)")
                   + f": {command.node} will take it back after Master_Down_Interval.")
    else:
        health = view.unfit_reason(taker, now)
        node = view.nodes.get(taker.node)
        facts = []
        if node is not None:
            facts += [f"{'✔' if up else '✖'} {name}" for name, up in sorted(node.services.items())]
            facts += [f"{'✔' if ok else '✖'} {name}" for name, ok in sorted(node.tracks.items())]
        lines.append(f"{taker.node} takes over: priority {taker.effective_priority}"
                     + (f", {' '.join(facts)}" if facts else ""))
        if health:
            warning = (f"{taker.node} is not healthy ({health}): the VIP would move onto it "
                       "and clients would fail.")
    old = view.nodes.get(command.node)
    if old is not None and old.agent == "keepalived":  # no hold: stopped, then started
        lines.append(f"keepalived on {command.node} stops (priority 0) and starts again "
                     "once another node is MASTER.")
    else:
        lines.append(f"{command.node} then holds back from preempting (its failover hold); "
                     "h on its row cancels the hold.")
    for member in view.group_members(inst.group):
        left = member.hold_left(now)
        if left is not None:
            lines.append(f"{member.node} is in a failover hold: {age(left)} left.")
    return Preview(tuple(lines), warning)
