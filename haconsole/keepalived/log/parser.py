"""Turn one node's keepalived log lines into cluster events (`KeepalivedLogParser`).

Each line is split by shapes.parse_line (prefix: time, process) and its message given a
meaning by messages.classify; this module adds what one line cannot say alone: the
instance's previous state, and why it changed (the lines that came before).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache

from haconsole.cluster.events import (
    AdvertReceived,
    AdvertSent,
    Event,
    LogLine,
    PacketDropped,
    PriorityChange,
    State,
    TrackResult,
    Transition,
    VipAdded,
    VipRemoved,
)
from haconsole.config import VrrpInstance
from haconsole.keepalived.log.messages import KeepalivedMessage, classify
from haconsole.keepalived.log.shapes import ParsedLine, parse_line, syslog_month

#: `classify` is pure and a log repeats the same few messages: each is classified once
#: (a million-line history reads in seconds; benchmarks/logs.py).
_classify = lru_cache(maxsize=8192)(classify)

__all__ = ["KeepalivedLogParser"]

#: How long a track result may explain a following priority change or FAULT (seconds):
#: keepalived logs both in the same event-loop pass, so at most one second tick apart.
_CAUSE_WINDOW = 1.5


@dataclass
class _Pending:
    """What an instance heard since its last transition: the reason for the next one."""

    timeout: bool = False
    fast: str = ""  # haconsole's fast preemption: the reason, as the core words it
    priority_zero: bool = False
    lower: tuple[str, int] | None = None
    higher: str = ""
    fault: str = ""


@dataclass
class _Cause:
    text: str
    ok: bool
    t: float


@dataclass
class _InstanceInfo:
    state: State | None = None
    base: int | None = None
    effective: int | None = None
    pending: _Pending = field(default_factory=_Pending)


class KeepalivedLogParser:
    """Turn one node's keepalived log lines into `cluster.events`, line by line.

    Stateful because keepalived states causes and effects on separate lines: "Receive
    advertisement timeout" then "Entering MASTER STATE"; "VRRP_Script(chk) failed" then
    "Changing effective priority"; "setting VIPs." without the VIPs. The parser remembers
    each instance's state (for `Transition.old`) and what it heard since its last
    transition (for `Transition.reason`).

    Every non-blank line yields a `LogLine` (last in the returned list) whatever it says;
    unknown lines yield only that. Nothing here raises on input.

    Feed one node's lines only (one parser per node): instance names are per node.
    VIPs: "setting VIPs." names none, so tell the parser with `set_vips` or `instances`
    (config or dump); otherwise VipAdded/VipRemoved carry `vip=""`.
    """

    def __init__(
        self,
        node: str,
        *,
        instances: Iterable[VrrpInstance] = (),
        year: int | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.node = node
        self.year = year
        self.tz = tz
        self._info: dict[str, _InstanceInfo] = {}
        self._vips: dict[str, tuple[str, ...]] = {}
        self._evips: dict[str, tuple[str, ...]] = {}
        self._cause: _Cause | None = None
        self._sync: tuple[str, str, float] | None = None
        self._last_t = 0.0
        self._last_month: int | None = None
        for inst in instances:
            self.set_vips(inst.name, [str(v) for v in inst.virtual_ipaddress])
            self._evips[inst.name] = tuple(str(v) for v in inst.virtual_ipaddress_excluded)
            self._instance(inst.name).base = inst.priority

    # -- configuration ---------------------------------------------------------------

    def set_vips(
        self, instance: str, vips: Iterable[str], excluded: Iterable[str] | None = None
    ) -> None:
        """Tell the parser an instance's VIPs (address strings), for VipAdded/VipRemoved."""
        self._vips[instance] = tuple(vips)
        if excluded is not None:
            self._evips[instance] = tuple(excluded)

    def set_base_priority(self, instance: str, priority: int) -> None:
        """Tell the parser an instance's configured priority, for `PriorityChange.base`."""
        self._instance(instance).base = priority

    @property
    def states(self) -> Mapping[str, State]:
        """Each instance's state as the log has shown it so far."""
        return {name: info.state for name, info in self._info.items() if info.state}

    # -- feeding ---------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[str]) -> list[Event]:
        """`feed` every line; the events in order."""
        events: list[Event] = []
        for line in lines:
            events.extend(self.feed(line))
        return events

    def feed(self, line: str) -> list[Event]:
        """Events for one line: what it means (maybe nothing), then its LogLine."""
        if not line.strip():
            return []
        return self.feed_parsed(parse_line(line, year=self._year_for(line), tz=self.tz))

    def feed_parsed(self, parsed: ParsedLine) -> list[Event]:
        """`feed` for a line whose prefix a reader split itself (history.py: journal JSON,
        RFC 5424, stamps cached across a million lines)."""
        t = parsed.t if parsed.t is not None else self._last_t
        self._last_t = t
        keepalived = parsed.process == "" or parsed.process.lower().startswith("keepalived")
        msg = _classify(parsed.message) if keepalived else None
        events: list[Event] = []
        if msg is not None:
            try:
                events = self._events(msg, t)
            except (ValueError, KeyError, TypeError):  # pragma: no cover - defensive
                events = []
        text = parsed.message if keepalived else _with_process(parsed)
        events.append(LogLine(t=t, node=self.node, text=text, level=_level(parsed, msg)))
        return events

    def _year_for(self, line: str) -> int | None:
        """Year for syslog stamps: the given one, advanced when the log crosses New Year."""
        if self.year is None:
            return None
        month = syslog_month(line)
        if month is not None:
            if self._last_month == 12 and month == 1:
                self.year += 1
            self._last_month = month
        return self.year

    # -- meaning ---------------------------------------------------------------------

    def _instance(self, name: str) -> _InstanceInfo:
        info = self._info.get(name)
        if info is None:
            info = self._info[name] = _InstanceInfo()
        return info

    def _events(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        node = self.node
        kind = msg.kind
        if kind == "enter_state":
            return self._enter(msg, t)
        if kind == "advert_timeout":
            self._instance(msg.instance).pending.timeout = True
            return []
        if kind == "fast_preemption":
            self._instance(msg.instance).pending.fast = (
                f"fast preemption: master {msg.source} advertised priority {msg.priority} "
                f"< ours {msg.ours}")
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "higher_priority_advert":
            info = self._instance(msg.instance)
            src = f" from {msg.source}" if msg.source else ""
            info.pending.higher = f"higher priority {msg.priority} advert{src} (ours {msg.ours})"
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "same_priority_higher_ip":
            info = self._instance(msg.instance)
            info.pending.higher = (
                f"same priority {msg.priority} advert from {msg.source} with higher IP address"
            )
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "lower_priority_discarded":
            self._instance(msg.instance).pending.lower = (msg.source, msg.priority or 0)
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "lower_priority_advert":
            return [AdvertReceived(t, node, msg.instance, msg.source, msg.priority or 0)]
        if kind == "priority_zero_received":
            self._instance(msg.instance).pending.priority_zero = True
            return [AdvertReceived(t, node, msg.instance, "", 0)]
        if kind == "master_priority_zero_received":
            return [AdvertReceived(t, node, msg.instance, "", 0)]
        if kind == "priority_zero_sent":
            return [AdvertSent(t, node, msg.instance, 0)]
        if kind == "priority_change":
            return [self._priority_change(msg, t)]
        if kind in ("script_result", "script_status", "interface_state", "process_quorum"):
            ok = bool(msg.ok)
            if kind != "script_status":
                self._cause = _Cause(_cause_text(msg), ok, t)
            return [TrackResult(t, node, track=msg.track, ok=ok, detail=msg.detail)]
        if kind == "vips":
            return self._vip_events(msg, t)
        if kind == "packet_error":
            return [
                PacketDropped(t, node, msg.instance, msg.source, msg.reason, msg.detail)
            ]
        if kind == "sync_group":
            self._sync = (msg.group, msg.state, t)
            return []
        if kind == "stopping":
            return self._stop_all(t, "keepalived stopping")
        if kind == "stopped":
            return self._stop_all(t, "keepalived stopped")
        return []

    def _enter(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        info = self._instance(msg.instance)
        new = State(msg.state)
        old = info.state or State.INIT
        if info.state == new:
            # "(X): entering FAULT state (...)" then "Entering FAULT STATE (init)": one change.
            return []
        reason = self._reason(info, old, new, msg, t)
        info.state = new
        info.pending = _Pending()
        return [Transition(t, self.node, msg.instance, old, new, reason)]

    def _recent_cause(self, t: float, ok: bool) -> str:
        cause = self._cause
        if cause is not None and cause.ok == ok and t - cause.t <= _CAUSE_WINDOW:
            return cause.text
        return ""

    def _reason(
        self, info: _InstanceInfo, old: State, new: State, msg: KeepalivedMessage, t: float
    ) -> str:
        """Words for why: what the instance heard since its last transition."""
        pending = info.pending
        if msg.detail == "init":
            return "init"
        if new == State.FAULT:
            return msg.reason or pending.fault or self._recent_cause(t, ok=False) or "fault"
        if self._sync is not None and t - self._sync[2] <= _CAUSE_WINDOW and (
            self._sync[1] == new
        ):
            return f"sync group {self._sync[0]}"
        if new == State.MASTER:
            if pending.fast:
                return pending.fast
            if pending.timeout:
                if pending.priority_zero:
                    return "advert timeout after priority 0 advert (master left)"
                if pending.lower is not None:
                    src, prio = pending.lower
                    return f"advert timeout, preempting lower priority {prio} master {src}"
                return "advert timeout"
            if old == State.FAULT:
                return "fault cleared" + _suffix(self._recent_cause(t, ok=True))
            return "became master"
        if new == State.BACKUP:
            if pending.higher:
                return pending.higher
            if old == State.FAULT:
                return "fault cleared" + _suffix(self._recent_cause(t, ok=True))
            return "became backup"
        return ""

    def _priority_change(self, msg: KeepalivedMessage, t: float) -> PriorityChange:
        info = self._instance(msg.instance)
        old = msg.old or 0
        new = msg.new or 0
        if info.base is None:
            # Not told: the first effective priority the log shows is the configured one.
            info.base = old
        info.effective = new
        cause = ""
        if self._cause is not None and t - self._cause.t <= _CAUSE_WINDOW:
            delta = new - old
            if not self._cause.ok and delta < 0:
                cause = f"{self._cause.text} (weight {delta:+d})"
            else:
                cause = f"{self._cause.text} (priority {delta:+d})"
        return PriorityChange(t, self.node, msg.instance, old, new, info.base, cause)

    def _vip_events(self, msg: KeepalivedMessage, t: float) -> list[Event]:
        table = self._evips if msg.detail == "E-VIPs" else self._vips
        vips = table.get(msg.instance) or ("",)
        if msg.ok:
            return [VipAdded(t, self.node, msg.instance, vip) for vip in vips]
        return [VipRemoved(t, self.node, msg.instance, vip) for vip in vips]

    def _stop_all(self, t: float, reason: str) -> list[Event]:
        events: list[Event] = []
        for name, info in self._info.items():
            if info.state is not None and info.state != State.STOP:
                events.append(Transition(t, self.node, name, info.state, State.STOP, reason))
                info.state = State.STOP
                info.pending = _Pending()
        return events


def _cause_text(msg: KeepalivedMessage) -> str:
    """Short words for a track result, as a priority change's or a fault's cause."""
    if msg.kind == "script_result":
        return f"{msg.track} {msg.detail.split(' ', 1)[0]}"
    if msg.kind == "interface_state":
        return f"{msg.interface} {'up' if msg.ok else 'down'}"
    return f"process {msg.track} {msg.detail}"


def _suffix(cause: str) -> str:
    return f" ({cause})" if cause else ""


def _with_process(parsed: ParsedLine) -> str:
    pid = f"[{parsed.pid}]" if parsed.pid is not None else ""
    return f"{parsed.process}{pid}: {parsed.message}"


_SEVERITY_LEVEL = {0: "error", 1: "error", 2: "error", 3: "error", 4: "warning",
                   5: "info", 6: "info", 7: "debug"}
_RANK = {"debug": 0, "info": 1, "warning": 2, "error": 3}


def _level(parsed: ParsedLine, msg: KeepalivedMessage | None) -> str:
    """The louder of the syslog severity and what the message says (keepalived logs
    invalid passwords at LOG_INFO; the console should still flag them)."""
    level = _SEVERITY_LEVEL.get(parsed.severity, "info") if parsed.severity is not None else "info"
    said = "info"
    if msg is not None:
        if msg.kind == "packet_error":
            said = "warning"
        elif msg.kind == "error":
            said = "error"
        elif msg.kind == "enter_state" and msg.state == "FAULT":
            said = "warning"
    return said if _RANK[said] > _RANK[level] else level
