"""The incident report as plain values: what build.py finds, what render.py prints.

Times are epoch seconds (floats), durations seconds; renderers format them. Everything is
frozen or only built once, so a report can be compared in tests and rendered many times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CAUSE_KINDS", "CauseKind", "CheckFailures", "Failover", "InstanceReport",
           "NoMaster", "PriorityStep", "Report", "SplitBrain"]

CauseKind = Literal["check", "priority-0", "crash", "link", "preempt", "operator", "unknown"]
CAUSE_KINDS: tuple[CauseKind, ...] = ("check", "priority-0", "crash", "link", "preempt",
                                      "operator", "unknown")


@dataclass(frozen=True)
class Failover:
    """The master moved from `old` (None: a master no log shows) to `new` at `at` (when
    `new` entered MASTER). `no_master_s`: how long the router had no master before `new`
    took over; None when it always had one (a preemption) or when that is not known."""

    at: float
    old: str | None
    new: str
    kind: CauseKind
    cause: str
    cause_node: str | None
    no_master_s: float | None


@dataclass(frozen=True)
class SplitBrain:
    start: float
    end: float
    masters: tuple[str, ...]

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class NoMaster:
    start: float
    end: float | None  # None: still without a master at the end of the window

    def duration(self, window_end: float) -> float:
        return (self.end if self.end is not None else window_end) - self.start


@dataclass(frozen=True)
class CheckFailures:
    """A tracked check (script, process, interface, file) that went from OK to failing
    `failures` times in the window, on `node`."""

    node: str
    check: str
    failures: int
    first: float
    last: float


@dataclass(frozen=True)
class PriorityStep:
    at: float
    node: str
    old: int
    new: int
    cause: str


@dataclass
class InstanceReport:
    """One virtual router (its instances on every node, grouped by VRID and address
    family, or by name when the source does not say the VRID)."""

    instance: str
    vrid: int | None
    family: int | None
    vips: tuple[str, ...]
    nodes: tuple[str, ...]
    transitions: int = 0
    masters: list[str] = field(default_factory=list)  # each sole master in turn
    failovers: list[Failover] = field(default_factory=list)
    split_brain: list[SplitBrain] = field(default_factory=list)
    no_master: list[NoMaster] = field(default_factory=list)
    flapping: bool = False
    flaps: list[tuple[str, float]] = field(default_factory=list)  # (node, first of the run)
    checks: list[CheckFailures] = field(default_factory=list)
    priorities: list[PriorityStep] = field(default_factory=list)


@dataclass
class Report:
    start: float
    end: float
    nodes: list[str]
    instances: list[InstanceReport]
    #: What ran VRRP on each node, as its last start said ("keepalived 2.4.3"); nodes
    #: whose events never said are left out.
    software: dict[str, str] = field(default_factory=dict)
