"""keepalived's notify FIFO: one line per state change, as it happens, read as events.

Why: keepalived's maintainers point at the FIFO (`notify_fifo` / `vrrp_notify_fifo` in
global_defs) rather than notify scripts or dumps for following a node: its lines come in
order, at the moment of the change, from the VRRP process itself. The format, from
vrrp_notify.c (the same in 2.2.7 and 2.4.3):

    INSTANCE "VI_1" MASTER 100        TYPE "NAME" STATE PRIORITY
    GROUP "G1" BACKUP 0               a vrrp_sync_group (priority 0)

STATE is MASTER, BACKUP, FAULT, STOP or DELETED; with `vrrp_notify_priority_changes`
(global, or `notify_priority_changes` per instance or group; since 2.0.16), also
MASTER_PRIORITY / BACKUP_PRIORITY with the new effective priority, and a master that
hears a lower priority advert writes MASTER_RX_LOWER_PRI. Names are written as they are,
between double quotes (keepalived forbids none inside, so the last quote ends the name).

Who reads it matters: a FIFO hands each line to one reader only. See the SSH collector
(`fifo_choice` in haconsole/sources/keepalived_facts.py) for which FIFO it reads, and
docs/keepalived-versions.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from haconsole.cluster import events as ev

__all__ = ["REASON", "FifoLine", "fifo_events", "parse_fifo_line"]

_LINE = re.compile(r'(?P<type>INSTANCE|GROUP) "(?P<name>.*)" (?P<state>[A-Z_]+) '
                   r"(?P<priority>\d{1,3})")
_STATES = {"MASTER": ev.State.MASTER, "BACKUP": ev.State.BACKUP, "FAULT": ev.State.FAULT,
           "STOP": ev.State.STOP, "DELETED": ev.State.STOP}


@dataclass(frozen=True)
class FifoLine:
    """One line of the FIFO."""

    type: Literal["INSTANCE", "GROUP"]
    name: str
    state: str  # keepalived's word: MASTER... or MASTER_PRIORITY, MASTER_RX_LOWER_PRI
    priority: int

    @property
    def new_state(self) -> ev.State | None:
        """The state it enters, for a state line; None for the other events."""
        return _STATES.get(self.state)

    @property
    def priority_change(self) -> bool:
        return self.state in ("MASTER_PRIORITY", "BACKUP_PRIORITY")


def parse_fifo_line(line: str) -> FifoLine | None:
    """A FIFO line's fields; None for anything else (a line keepalived did not write)."""
    m = _LINE.fullmatch(line.strip())
    if m is None:
        return None
    kind: Literal["INSTANCE", "GROUP"] = "GROUP" if m["type"] == "GROUP" else "INSTANCE"
    return FifoLine(kind, m["name"], m["state"], int(m["priority"]))


#: A FIFO line says what changed, not why: the log says why, a moment later.
REASON = "notify FIFO"


def fifo_events(line: FifoLine, *, node: str, t: float, state: ev.State | None,
                priority: int | None, base: int) -> list[ev.Event]:
    """What one instance line says, given what is known of the instance (its `state` and
    effective `priority`, None when unknown; `base`, its configured priority): a
    Transition when its state changes, a PriorityChange (no cause: the FIFO has none)
    when its priority does. A line that repeats what is known says nothing; group lines
    and MASTER_RX_LOWER_PRI neither (the instances' own lines and the log say those)."""
    if line.type != "INSTANCE":
        return []
    new = line.new_state
    if new is not None:
        if new == state:
            return []
        return [ev.Transition(t, node, line.name, state or ev.State.INIT, new, REASON)]
    if line.priority_change and priority is not None and line.priority != priority:
        return [ev.PriorityChange(t, node, line.name, priority, line.priority, base)]
    return []
