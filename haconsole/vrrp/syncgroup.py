"""vrrp_sync_group: instances that must change state together (sans-IO, like instance.py).

Why: an operator groups the outside VIP and the inside gateway VIP of a router pair so
that they never end up on different nodes. keepalived's rules (vrrp/vrrp_sync.c), which
we follow:

- A member that becomes MASTER pulls every other member to MASTER ("VRRP_Group(G)
  Syncing instances to MASTER state") — but only once every other member wants MASTER
  too (its own down timer has expired); until then the first one stays BACKUP and
  re-arms its timer, so a partial failure does not make the group thrash.
- A member that goes BACKUP (a higher priority master appeared) pushes every other member
  to BACKUP; one that goes FAULT pushes them all to FAULT, and the group leaves FAULT when
  a member recovers to BACKUP.
- Each member still runs its own election; the group only adds these couplings.

The runtime calls `follow(member, actions, now)` after feeding any member, and runs the
returned actions for the other members (their own transitions are then no-ops here,
because the group is already in that state).
"""

from __future__ import annotations

from collections.abc import Iterable

from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.state import State

_FOLLOWED = (State.MASTER, State.BACKUP, State.FAULT)


class SyncGroup:
    """One vrrp_sync_group over its member instances (see the module docstring)."""

    def __init__(self, name: str, members: Iterable[Instance]) -> None:
        self.name = name
        self.members = list(members)
        states = {m.state for m in self.members}
        self.state: State = (State.FAULT if State.FAULT in states
                             else State.MASTER if State.MASTER in states else State.BACKUP)
        for member in self.members:
            member.sync = self

    def may_become_master(self, inst: Instance) -> bool:
        """keepalived's vrrp_sync_can_goto_master: yes if the group is MASTER already or
        every other member is MASTER or waiting to become it."""
        if self.state == State.MASTER:
            return True
        return all(m is inst or m.state == State.MASTER or m.wants_master for m in self.members)

    def follow(self, inst: Instance, actions: list[act.Action],
               now: float) -> list[tuple[Instance, list[act.Action]]]:
        """`inst` produced `actions`; returns what the other members must do now."""
        new = next((a.new for a in reversed(actions) if isinstance(a, act.StateChanged)), None)
        if new is None or new not in _FOLLOWED or new == self.state or inst not in self.members:
            return []
        self.state = new
        why = f"sync group {self.name}: {inst.name} went {new}"
        moves: list[tuple[Instance, list[act.Action]]] = [
            (inst, [act.Log(f"VRRP_Group({self.name}) Syncing instances to {new} state")])
        ]
        for member in self.members:
            if member is not inst:
                moves.append((member, member.follow_group(new, now, why)))
        return moves


def build_groups(groups: Iterable[tuple[str, Iterable[str]]],
                 instances: dict[str, Instance]) -> list[SyncGroup]:
    """SyncGroups for (name, member names) pairs; unknown names and instances already in
    a group are skipped (the config checker reports them, as keepalived does)."""
    out: list[SyncGroup] = []
    taken: set[str] = set()
    for name, member_names in groups:
        members = [instances[n] for n in member_names if n in instances and n not in taken]
        taken.update(m.name for m in members)
        if members:
            out.append(SyncGroup(name, members))
    return out
