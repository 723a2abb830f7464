"""The states of a VRRP instance (RFC 5798 §6.4 plus keepalived's FAULT and STOP).

One vocabulary from the core to the console: the core's instances, its actions, the
cluster events and the console all speak `State`. It is a `str` enum (Python 3.10 has no
StrEnum): a member equals, hashes and formats as its name, so "MASTER" read from JSON or a
keepalived log compares equal to `State.MASTER`, log lines read as before, and events
serialise to the plain string.
"""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"  # keepalived: a tracked object failed with weight 0 (or the link is down)
    STOP = "STOP"  # keepalived: the instance (or its daemon) stopped

    def __str__(self) -> str:
        return self.value
