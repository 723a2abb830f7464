"""One event model for every source.

The console never knows where facts come from: the in-process lab, a haconsole agent
(local or over SSH), a stock keepalived node read over SSH, or a passive capture all
publish these events. `ClusterView` folds them into a snapshot.

Every event carries `t` (wall-clock seconds since the epoch, as the source saw it) and
`node` (the node's display name). Events are frozen values and serialise to JSON lines
(`to_dict` / `from_dict`) so an agent can stream them over a socket or SSH.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from haconsole.vrrp.state import State as State  # the events' vocabulary too (re-exported)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    states: ClassVar[tuple[str, ...]] = ()  # the fields holding a State
    t: float
    node: str

    def _hold_states(self) -> None:
        """A State field given as a string ("MASTER", from JSON or a keepalived log) holds
        the enum member; an unknown state raises ValueError."""
        for name in self.states:
            value = getattr(self, name)
            if type(value) is not State:
                object.__setattr__(self, name, State(value))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.kind
        for name in self.states:
            d[name] = d[name].value  # the plain string, whatever the JSON encoder
        return d


@dataclass(frozen=True)
class NodeSeen(Event):
    """A source now has fresh facts about this node (connected, started)."""

    kind: ClassVar[str] = "node_seen"
    address: str = ""
    agent: str = ""  # "haconsole" | "keepalived" | "lab"
    version: str = ""  # the agent's release ("2.4.3" for keepalived), "" when unknown


@dataclass(frozen=True)
class NodeLost(Event):
    """The source lost the node (crash, connection lost, process gone)."""

    kind: ClassVar[str] = "node_lost"
    reason: str = ""


@dataclass(frozen=True)
class InstanceState(Event):
    """A full snapshot of one instance: sent at start and whenever a source re-reads it."""

    kind: ClassVar[str] = "instance_state"
    states: ClassVar[tuple[str, ...]] = ("state",)
    instance: str = ""
    vrid: int = 0
    state: State = State.INIT
    base_priority: int = 0
    effective_priority: int = 0
    interface: str = ""
    version: int = 2
    advert_int: float = 1.0
    vips: tuple[str, ...] = ()
    address: str = ""  # the instance's own source address
    master_address: str = ""  # who the instance believes is master ("" = unknown)
    hold_until: float | None = None  # an operator's failover hold ends then (no preemption)
    since: float | None = None  # when it entered `state`, as the node reports it (a dump's
    #                             last_transition, an agent's clock), if it does
    segment: str = ""  # the L2 segment, when a source sees several that may reuse a VRID
    #                    (a fleet read from Prometheus); "" = the one segment of this console

    def __post_init__(self) -> None:
        self._hold_states()


@dataclass(frozen=True)
class Transition(Event):
    """The instance changed state; `reason` says why in words an operator reads."""

    kind: ClassVar[str] = "transition"
    states: ClassVar[tuple[str, ...]] = ("old", "new")
    instance: str = ""
    old: State = State.INIT
    new: State = State.INIT
    reason: str = ""

    def __post_init__(self) -> None:
        self._hold_states()


@dataclass(frozen=True)
class AdvertSent(Event):
    kind: ClassVar[str] = "advert_sent"
    instance: str = ""
    priority: int = 0


@dataclass(frozen=True)
class AdvertReceived(Event):
    kind: ClassVar[str] = "advert_received"
    instance: str = ""
    source: str = ""
    priority: int = 0


@dataclass(frozen=True)
class AdvertCounters(Event):
    """Cumulative counters, for sources that only see totals (keepalived's JSON dump)."""

    kind: ClassVar[str] = "advert_counters"
    instance: str = ""
    sent: int = 0
    received: int = 0


@dataclass(frozen=True)
class InstanceCounters(Event):
    """keepalived's 14 per-instance counters (`vrrp.instance.STAT_NAMES`: advert_rcvd,
    become_master, auth_failure, ...), cumulative since the engine started: what the
    Prometheus export serves. Rates still come from adverts or `AdvertCounters`; a
    source sends these at most about once a second, and only when they moved."""

    kind: ClassVar[str] = "instance_counters"
    instance: str = ""
    counters: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class PacketDropped(Event):
    """A packet was counted and dropped; reason is keepalived's counter name."""

    kind: ClassVar[str] = "packet_dropped"
    instance: str = ""
    source: str = ""
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class PriorityChange(Event):
    kind: ClassVar[str] = "priority_change"
    instance: str = ""
    old: int = 0
    new: int = 0
    base: int = 0
    cause: str = ""  # e.g. "chk_nginx failed (weight -20)"


@dataclass(frozen=True)
class TrackResult(Event):
    """A tracked object (vrrp_script, process, interface, file) changed result."""

    kind: ClassVar[str] = "track_result"
    track: str = ""
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True)
class VipAdded(Event):
    kind: ClassVar[str] = "vip_added"
    instance: str = ""
    vip: str = ""


@dataclass(frozen=True)
class VipRemoved(Event):
    kind: ClassVar[str] = "vip_removed"
    instance: str = ""
    vip: str = ""


@dataclass(frozen=True)
class ServiceState(Event):
    """The guarded service (nginx) is up or down on the node."""

    kind: ClassVar[str] = "service_state"
    service: str = "nginx"
    up: bool = True


@dataclass(frozen=True)
class LogLine(Event):
    """One keepalived-format log line (without the timestamp prefix)."""

    kind: ClassVar[str] = "log"
    text: str = ""
    level: str = "info"


@dataclass(frozen=True)
class SourceHealth(Event):
    """How the source that reports on `node` is doing (connected, stale, error)."""

    kind: ClassVar[str] = "source_health"
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True)
class CommandResult(Event):
    """The outcome of a Command a source executed."""

    kind: ClassVar[str] = "command_result"
    command: str = ""
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True)
class HistoryEnd(Event):
    """The node's past ends here: the events before it (read at attach from a log, an
    agent's ring, a recording) are history, the ones after it are live."""

    kind: ClassVar[str] = "history_end"
    source: str = ""  # where the past came from, e.g. "journalctl --since 1h"
    events: int = 0  # how many history events came before this marker


@dataclass(frozen=True)
class ClockOffset(Event):
    """The node's clock minus the console's, measured at attach. The source has already
    corrected the node's timestamps by it; it is shown because skewed clocks make
    timelines lie."""

    kind: ClassVar[str] = "clock_offset"
    offset: float = 0.0  # seconds: node clock - console clock
    error: float = 0.0  # seconds: half the round trip of the measurement


@dataclass(frozen=True)
class ClientRequest(Event):
    """One request a client probe sent through a VIP at `t`, and what came back. `node`
    names the client (the probe), not a VRRP node."""

    kind: ClassVar[str] = "client_request"
    target: str = ""  # the URL
    vip: str = ""
    ok: bool = True
    status: int = 0  # HTTP status, 0 when none came back
    served_by: str = ""  # the node that answered, when it said
    error: str = ""  # "" | refused | timeout | reset | unreachable | http 503 | ...
    latency: float = 0.0  # seconds


@dataclass(frozen=True)
class WireCapture(Event):
    """A passive capture point (`node` names it: "wire:eth0", "n1:eth0"), about once a
    second and at once when it fails or recovers: what the wire facts rest on."""

    kind: ClassVar[str] = "wire_capture"
    interface: str = ""
    ok: bool = True
    detail: str = ""
    packets: int = 0  # frames decoded since the capture started
    dropped: int = 0  # frames lost (kernel buffer or queue full) since it started


@dataclass(frozen=True)
class WireSpeaker(Event):
    """One VRRP sender as the wire shows it (only a master sends). Published at once when
    it appears or changes, and about once a second while it sends. `auth_id` is a keyed
    fingerprint of a v2 password: equal passwords, equal ids, in one console run only;
    the password itself never leaves the capture."""

    kind: ClassVar[str] = "wire_speaker"
    vrid: int = 0
    family: int = 4
    address: str = ""  # the advert's source address
    mac: str = ""  # the frame's source MAC
    priority: int = 0
    interval: float = 1.0  # seconds, as advertised
    version: int = 2
    auth: str = "none"  # none | PASS | AH | type-N
    auth_id: str = ""
    ttl: int = 255
    unicast: bool = False  # sent to a unicast peer
    vips: tuple[str, ...] = ()
    rate: float = 0.0  # adverts/s over the last summary period
    adverts: int = 0  # adverts seen since the capture started
    since: float = 0.0  # the first advert of its current run (no gap > 3 intervals)
    last: float = 0.0  # its latest advert


@dataclass(frozen=True)
class WireOwner(Event):
    """`mac` claimed `address` on the wire (gratuitous ARP / unsolicited NA, or ARP reply /
    solicited NA) between `first` and `last`: who clients will send the VIP's traffic to.
    At once for a new pair or an announcement, else summed about once a second."""

    kind: ClassVar[str] = "wire_owner"
    address: str = ""
    mac: str = ""
    first: float = 0.0
    last: float = 0.0
    announcements: int = 0  # in this summary
    replies: int = 0  # in this summary
    last_announcement: float | None = None


@dataclass(frozen=True)
class WireAnomaly(Event):
    """What no healthy segment shows: an advert that fails to decode (`reason`: the
    counter keepalived would bump), a table full under a flood... At once the first time,
    then summed about once a second (`count` in this summary)."""

    kind: ClassVar[str] = "wire_anomaly"
    reason: str = ""
    source: str = ""  # the sender's address, when known
    vrid: int = -1
    detail: str = ""
    count: int = 1


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        NodeSeen,
        NodeLost,
        InstanceState,
        Transition,
        AdvertSent,
        AdvertReceived,
        AdvertCounters,
        InstanceCounters,
        PacketDropped,
        PriorityChange,
        TrackResult,
        VipAdded,
        VipRemoved,
        ServiceState,
        LogLine,
        SourceHealth,
        CommandResult,
        HistoryEnd,
        ClockOffset,
        ClientRequest,
        WireCapture,
        WireSpeaker,
        WireOwner,
        WireAnomaly,
    )
}


def event_from_dict(d: dict[str, Any]) -> Event:
    """Rebuild an event from `to_dict` output (states as `State`); unknown kinds, fields
    or states raise ValueError."""
    data = dict(d)
    kind = data.pop("kind", None)
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{kind}: unknown fields {sorted(unknown)}")
    if "vips" in data and isinstance(data["vips"], list):
        data["vips"] = tuple(data["vips"])
    return cls(**data)
