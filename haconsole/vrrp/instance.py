"""One VRRP instance as a sans-IO state machine (RFC 5798 §6.4, RFC 3768 §6.4).

Theory of operation
-------------------
Inputs are method calls that carry the current time `now` (float seconds, any epoch);
outputs are lists of action values (haconsole.vrrp.actions) and `next_deadline()`. The
runtime calls `on_timer(now)` at or after the deadline. Nothing here reads a clock, opens
a socket or awaits: the same object runs in the lab, the agent and the simulator.

States: INIT -> BACKUP | FAULT; BACKUP <-> MASTER; any -> FAULT -> BACKUP; any -> STOP.

Timers, in integer microseconds as keepalived computes them (haconsole.vrrp.timing):
Skew_Time and Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, where in v3
a backup learns Master_Adver_Interval from the master's adverts (§6.4.2 "set
Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT") and v2 uses its
own Advertisement_Interval. Priority is the *effective* priority (base + applied track
weights), as in keepalived.

Backup (§6.4.2): a priority-0 advert sets the down timer to Skew_Time; an advert with
priority >= ours, or any advert when preemption is off (nopreempt, a running
preempt_delay, an operator's failover hold), restarts Master_Down_Interval; a lower
priority advert is discarded *without* restarting the timer, so a preempting backup takes
over one Master_Down_Interval after the last advert it accepted. Timer expiry ->
"Receive advertisement timeout" -> MASTER. With haconsole's opt-in fast preemption, a
preempting backup (no nopreempt, no running preempt_delay, no hold, its sync group ready)
takes over at once when the master whose adverts it accepted advertises a priority below
its own: the old master said it is worse; only the waiting is skipped. Nothing defers the
expiry: an operator's hold (like nopreempt) only decides which adverts restart the timer,
so a backup in a hold still takes over at the RFC time when the master dies or sends
priority 0.

Master (§6.4.3): send an advert every Advertisement_Interval, and at once when the
effective priority changes (a haconsole extension; keepalived waits for the interval).
A priority-0 advert makes us send one at once. A lower priority advert (or equal
priority from a lower address) is answered at once with our own advert and gratuitous
ARPs ("forcing new election", keepalived's behaviour). A higher priority advert (or
equal priority from a higher primary address) makes us BACKUP, down timer restarted.
Gratuitous ARPs / NAs: garp_master_repeat of them at the takeover, as many again
garp_master_delay later, and with garp_master_refresh set, garp_master_refresh_repeat with
the first periodic advert past each refresh period (keepalived's checks it there too).

Advert trains (`advert_trains` = N > 0, set by a runtime with many instances): periodic
adverts fall on the ticks k * Advertisement_Interval / N of the runtime's clock, so the
masters of one node that share an interval send together, in N trains per interval,
instead of each on its own wake-up. Only the first periodic advert after an out-of-turn
one (a takeover, a priority change, an answer to a lower priority) moves, and only
earlier, by less than one tick: the gap between two adverts never exceeds the interval,
and backups' timers are not touched.

Priority 255 (address owner) goes MASTER immediately at start and is never changed by
tracking. An instance configured `state MASTER` waits one advert interval (plus the
minimum skew) instead of Master_Down_Interval before claiming mastership.

Tracking (haconsole.vrrp.tracking, keepalived's weight rules): each track adds its
applied weight; the effective priority is clamped to 1..254; a faulted track puts the
instance in FAULT; a weight-0 track that has not reported yet holds it in INIT.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Protocol

from haconsole.config import VirtualAddress, VrrpInstance
from haconsole.vrrp import actions as act
from haconsole.vrrp.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    UNCOUNTED_REASONS,
    Advert,
    Expectation,
    PacketError,
    check,
    decode,
)
from haconsole.vrrp.state import State
from haconsole.vrrp.timing import US, advert_interval_us, master_down_us, skew_time_us
from haconsole.vrrp.tracking import Track, TrackSpec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The states the per-advert paths test, as plain names: an Enum class attribute is looked
# up through the enum's metaclass (~60 ns), several times per advert at 1 000 instances.
_MASTER, _BACKUP = State.MASTER, State.BACKUP

PRIO_OWNER = 255
PRIO_STOP = 0

STAT_NAMES = (
    "advert_rcvd",
    "advert_sent",
    "become_master",
    "release_master",
    "packet_len_err",
    "advert_interval_err",
    "ip_ttl_err",
    "invalid_type_rcvd",
    "addr_list_err",
    "invalid_authtype",
    "authtype_mismatch",
    "auth_failure",
    "pri_zero_rcvd",
    "pri_zero_sent",
)

# keepalived's log wording for a dropped packet, by counter; {d} is PacketError.detail.
DROP_MESSAGES = {
    "auth_failure": "received an invalid passwd!",
    "ip_ttl_err": "{d}",
    "advert_interval_err": "{d}",
    "invalid_type_rcvd": "{d}",
    "addr_list_err": "{d}",
    "packet_len_err": "{d}",
}


class SyncGate(Protocol):
    """An instance's vrrp_sync_group (haconsole.vrrp.syncgroup.SyncGroup), as the
    instance and its runtime see it."""

    def may_become_master(self, inst: Instance) -> bool: ...

    def follow(self, inst: Instance, actions: list[act.Action],
               now: float) -> list[tuple[Instance, list[act.Action]]]: ...


class Instance:
    """One VRRP instance (a virtual router on one node). See the module docstring."""

    def __init__(
        self,
        config: VrrpInstance,
        address: IPAddress,
        *,
        tracks: Iterable[TrackSpec] = (),
        log_detail: bool = True,
        fast_preempt: bool = False,
    ) -> None:
        self.config = config
        self.fast_preempt = fast_preempt
        self.name = config.name
        self.vrid = config.virtual_router_id
        self.version = config.version
        self.interface = config.interface
        self.base_priority = config.priority
        self.log_detail = log_detail
        self.address: IPAddress = config.unicast_src_ip or config.mcast_src_ip or address
        self.adver_int_us = advert_interval_us(self.version, config.advert_int)
        self.master_adver_int_us = self.adver_int_us
        self.vips: tuple[VirtualAddress, ...] = tuple(config.virtual_ipaddress)
        self.all_vips: tuple[VirtualAddress, ...] = tuple(config.all_vips)
        family = self.address.version
        self._advert_addresses = tuple(
            v.ip for v in config.virtual_ipaddress if v.ip.version == family
        )
        self.destinations: tuple[IPAddress, ...] = tuple(config.unicast_peer) or (
            (MCAST_V4,) if family == 4 else (MCAST_V6,)
        )
        auth_type = {None: AUTH_NONE, "PASS": AUTH_PASS, "AH": AUTH_AH}[config.auth_type]
        self._auth_data = b""
        if self.version == 2 and auth_type == AUTH_PASS and config.auth_pass is not None:
            self._auth_data = config.auth_pass.reveal().encode()[:8].ljust(8, b"\0")
        elif self.version == 2 and auth_type == AUTH_NONE:
            self._auth_data = bytes(8)
        self._auth_type = auth_type if self.version == 2 else AUTH_NONE
        self.expectation = Expectation(
            version=self.version,
            vrid=self.vrid,
            advert_int_cs=self.adver_int_us // 10_000,
            family=family,
            auth_type=self._auth_type,
            auth_pass=self._auth_data.rstrip(b"\0") if self._auth_type == AUTH_PASS else b"",
            addresses=frozenset(self._advert_addresses),
            unicast=bool(config.unicast_peer),
        )
        self.tracks: dict[str, Track] = {
            t.name: Track(t, False if t.initially_failed else None) for t in tracks
        }
        self.state: State = State.INIT
        self.effective_priority = self._compute_priority()
        self.master_address: IPAddress | None = None
        self.master_priority = 0
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self.uncounted: dict[str, int] = {}
        self.last_transition: float | None = None
        self._down_at: float | None = None
        self._advert_at: float | None = None
        self._garp_at: float | None = None
        self._refresh_at: float | None = None  # garp_master_refresh: next re-announce
        self._preempt_at: float | None = None
        self._hold_until: float | None = None
        self._followed: IPAddress | None = None  # the master whose adverts we accepted
        # The advert of each priority sent so far, as one action value: a master repeats
        # the same advert every interval, and a runtime that sees the same object again
        # can reuse its encoding (frozen values, so sharing them changes nothing).
        self._sends: dict[int, act.SendAdvert] = {}
        self._trains = 0  # advert trains (a runtime's choice, see the module docstring)
        self._tick = 0.0  # their tick in seconds (0: off)
        self._started = False
        # vrrp_sync_group (haconsole.vrrp.syncgroup): the group may hold back a takeover
        # until every member is ready; `wants_master` says this one is.
        self.sync: SyncGate | None = None
        self.wants_master = False

    # ----------------------------------------------------------------- derived values
    @property
    def skew_time(self) -> float:
        return skew_time_us(self.version, self.master_adver_int_us, self.effective_priority) / US

    @property
    def master_down_interval(self) -> float:
        return self._mdi_us() / US

    def _mdi_us(self) -> int:
        return master_down_us(self.version, self.master_adver_int_us, self.effective_priority)

    def _compute_priority(self) -> int:
        if self.base_priority == PRIO_OWNER:
            return PRIO_OWNER
        total = self.base_priority + sum(t.applied for t in self.tracks.values())
        return min(max(total, 1), PRIO_OWNER - 1)

    def _faults(self) -> list[str]:
        return [name for name, t in self.tracks.items() if t.faulted]

    def _pending(self) -> bool:
        return any(t.pending for t in self.tracks.values())

    def next_deadline(self) -> float | None:
        """The earliest time at which on_timer has something to do, or None."""
        state = self.state
        if state == _MASTER:
            advert, garp = self._advert_at, self._garp_at
            if garp is None or (advert is not None and advert <= garp):
                return advert
            return garp
        if state == _BACKUP:
            return self._down_at
        return None

    def make_advert(self, priority: int) -> Advert:
        return Advert(
            version=self.version,
            vrid=self.vrid,
            priority=priority,
            advert_int_cs=self.adver_int_us // 10_000,
            addresses=self._advert_addresses,
            auth_type=self._auth_type,
            auth_data=self._auth_data if self.version == 2 else b"",
        )

    # ----------------------------------------------------------------- small helpers
    def _log(self, out: list[act.Action], message: str, *, detail: bool = False) -> None:
        if detail and not self.log_detail:
            return
        out.append(act.Log(f"({self.name}) {message}"))

    def _send(self, out: list[act.Action], priority: int) -> None:
        stats = self.stats
        stats["advert_sent"] += 1
        if priority == PRIO_STOP:
            stats["pri_zero_sent"] += 1
        send = self._sends.get(priority)
        if send is None:
            send = self._sends[priority] = act.SendAdvert(
                self.make_advert(priority), self.address, self.destinations)
        out.append(send)

    def _transition(self, out: list[act.Action], new: State, reason: str, now: float) -> None:
        self.wants_master = False
        old, self.state = self.state, new
        self.last_transition = now
        out.append(act.StateChanged(old, new, reason))

    def _announce(self, out: list[act.Action], repeat: int) -> None:
        if not self.all_vips or repeat <= 0:
            return
        for vip in self.all_vips:
            kind = "gratuitous ARPs" if vip.ip.version == 4 else "Unsolicited Neighbour Adverts"
            self._log(out, f"Sending/queueing {kind} on {vip.dev or self.interface} for {vip}",
                      detail=True)
        out.append(act.Announce(self.all_vips, self.interface, repeat))

    def _remove_vips(self, out: list[act.Action]) -> None:
        self._log(out, "removing VIPs.", detail=True)
        out.append(act.RemoveVips(self.all_vips, self.interface))

    @property
    def advert_trains(self) -> int:
        """Periodic adverts in N trains per interval (0: off); see the module docstring."""
        return self._trains

    @advert_trains.setter
    def advert_trains(self, trains: int) -> None:
        self._trains = max(trains, 0)
        self._tick = self.adver_int_us / US / trains if trains > 0 else 0.0

    def _next_advert(self, now: float) -> float:
        """When the periodic advert after one sent at `now` is due: one interval later;
        with advert trains, the last train tick at or before that (see the module
        docstring). A tick boundary within float noise of `due` counts as reached."""
        due = now + self.adver_int_us / US
        tick = self._tick
        if tick:
            aligned = (due / tick + 1e-6) // 1.0 * tick  # floor, without a call
            if now < aligned <= due + tick * 1e-6:
                return aligned
        return due

    def _start_down_timer(self, now: float, us: int) -> None:
        self._down_at = now + us / US

    # ----------------------------------------------------------------- inputs
    def start(self, now: float) -> list[act.Action]:
        """Initialize: clean stale VIPs, then BACKUP (or FAULT / held in INIT by checks)."""
        out: list[act.Action] = []
        self._started = True
        self._remove_vips(out)
        self._leave_init(out, now)
        return out

    def preset_tracks(self, checks: dict[str, bool], values: dict[str, int]) -> None:
        """Known tracker results, before start() or resume(): a reload hands the running
        trackers' last results to the new instances instead of waiting for a change."""
        for name, track in self.tracks.items():
            if track.spec.kind == "value" and name in values:
                track.value = values[name]
            elif track.spec.kind == "check" and name in checks:
                track.ok = checks[name]
        self.effective_priority = self._compute_priority()

    def resume(self, old: Instance, now: float) -> list[act.Action]:
        """Carry on `old`'s role under a reloaded configuration (same VRID, interface and
        family): keepalived's reload keeps each retained instance's state and counters,
        removes VIPs no longer configured, adds new ones with gratuitous ARPs, and moves no
        mastership. A master advertises its (possibly new) priority at once; a backup keeps
        its down timer, so a master that died during the reload is still noticed in time."""
        out: list[act.Action] = []
        self._started = True
        self.stats, self.uncounted = old.stats, old.uncounted
        self.last_transition = old.last_transition
        self.master_address, self.master_priority = old.master_address, old.master_priority
        self._hold_until = old._hold_until
        self.state = old.state
        if old.state == State.MASTER:
            gone = tuple(v for v in old.all_vips if v not in self.all_vips)
            if gone:
                out.append(act.RemoveVips(gone, old.interface))
            self.master_address, self.master_priority = self.address, self.effective_priority
            if self._faults():
                self._enter_fault(out, now, f"{self._faults()[0]} failed")
                return out
            self._send(out, self.effective_priority)
            self._advert_at = self._next_advert(now)
            self._garp_at = old._garp_at
            self._refresh_at = self._next_refresh(now)
            added = tuple(v for v in self.all_vips if v not in old.all_vips)
            out.append(act.AddVips(self.all_vips, self.interface))
            if added:
                self._announce(out, self.config.garp_master_repeat)
        elif old.state == State.BACKUP:
            if self._faults():
                self._enter_fault(out, now, f"{self._faults()[0]} failed")
                return out
            if self.version == old.version:
                self.master_adver_int_us = old.master_adver_int_us
            self._down_at = old._down_at if old._down_at is not None else now + self._mdi_us() / US
            self._preempt_at = old._preempt_at
        elif old.state == State.FAULT and not self._faults() and not self._pending():
            self._log(out, "Entering BACKUP STATE")
            self._transition(out, State.BACKUP, "reload cleared the fault", now)
            self._arm_backup_from_start(now)
        elif old.state not in (State.FAULT, State.INIT) or (
                old.state == State.INIT and not self._pending()):
            self.state = State.INIT
            return self.start(now)
        return out

    def _leave_init(self, out: list[act.Action], now: float) -> None:
        faults = self._faults()
        if faults:
            self._log(out, "Entering FAULT STATE (init)")
            self._transition(out, State.FAULT, f"{faults[0]} failed at startup", now)
            return
        if self._pending():
            return
        self._log(out, "Entering BACKUP STATE (init)")
        self._transition(out, State.BACKUP, "init", now)
        self._arm_backup_from_start(now)

    def _arm_backup_from_start(self, now: float) -> None:
        self.master_adver_int_us = self.adver_int_us
        if self.base_priority == PRIO_OWNER:
            self._start_down_timer(now, 1)
        elif self.config.state == "MASTER":
            skew_min = skew_time_us(self.version, self.master_adver_int_us, 255)
            self._start_down_timer(now, self.master_adver_int_us + skew_min)
        else:
            self._start_down_timer(now, self._mdi_us())

    def on_timer(self, now: float) -> list[act.Action]:
        """Run every timer that is due at `now`."""
        out: list[act.Action] = []
        if self.state == _MASTER:  # first: a master's periodic advert is the hot path
            advert_at = self._advert_at
            if advert_at is not None and now >= advert_at:
                self._send(out, self.effective_priority)
                self._advert_at = self._next_advert(now)
                refresh_at = self._refresh_at
                if refresh_at is not None and now > refresh_at:
                    self._refresh_at = self._next_refresh(now)
                    self._announce(out, self.config.garp_master_refresh_repeat)
            if self._garp_at is not None and now >= self._garp_at:
                self._garp_at = None
                self._announce(out, self.config.garp_master_repeat)
            return out
        if self.state == _BACKUP and self._down_at is not None and now >= self._down_at:
            # An operator's hold never delays this: it only makes the backup accept a
            # lower-priority master's adverts (no preemption, see _backup_rx). When the
            # master is gone or sends priority 0, the RFC takeover happens on time.
            if self.sync is not None and not self.sync.may_become_master(self):
                # keepalived's vrrp_sync_can_goto_master: prefer BACKUP until every member
                # of the group wants MASTER too (no thrashing on a partial failure).
                self.wants_master = True
                self._start_down_timer(now, self._mdi_us())
            else:
                self._log(out, "Receive advertisement timeout")
                reason = "advert timeout"
                if self.master_priority == PRIO_STOP and self.master_address is not None:
                    reason = f"priority 0 from {self.master_address}"
                self._become_master(out, now, reason)
        return out

    def _become_master(self, out: list[act.Action], now: float, reason: str) -> None:
        self._send(out, self.effective_priority)  # advert first: the old master drops VIPs
        self._log(out, "Entering MASTER STATE")
        self.stats["become_master"] += 1
        self._transition(out, State.MASTER, reason, now)
        self.master_address = self.address
        self.master_priority = self.effective_priority
        self._down_at = None
        self._preempt_at = None
        self._hold_until = None  # master again: the operator's hold has no more meaning
        self._advert_at = self._next_advert(now)
        self._log(out, "setting VIPs.", detail=True)
        out.append(act.AddVips(self.all_vips, self.interface))
        self._announce(out, self.config.garp_master_repeat)
        delay = self.config.garp_master_delay
        self._garp_at = now + delay if delay > 0 and self.all_vips else None
        self._refresh_at = self._next_refresh(now)

    def _next_refresh(self, now: float) -> float | None:
        """garp_master_refresh (keepalived's): a master re-announces its VIPs with the first
        periodic advert after this time, so switches and neighbours that forgot or
        were told otherwise learn the owner again; None when it is not set."""
        refresh = self.config.garp_master_refresh
        return now + refresh if refresh > 0 and self.all_vips else None

    def _leave_master(self, out: list[act.Action], now: float, new: State, reason: str) -> None:
        self._log(out, f"Entering {new} STATE")
        self.stats["release_master"] += 1
        self._advert_at = None
        self._garp_at = None
        self._refresh_at = None
        if new == State.FAULT:
            self._send(out, PRIO_STOP)
            self._log(out, "sent 0 priority", detail=True)
        self._remove_vips(out)
        self._transition(out, new, reason, now)

    def on_packet(
        self, payload: bytes, src: IPAddress, dst: IPAddress, ttl: int, now: float
    ) -> list[act.Action]:
        """A raw VRRP payload for this instance's VRID arrived."""
        try:
            advert = decode(payload, src, dst)
        except PacketError as err:
            return self._dropped(src, err)
        return self.on_advert(advert, src, now, ttl=ttl, dst=dst)

    def _dropped(self, src: IPAddress, err: PacketError) -> list[act.Action]:
        # keepalived's own stats skip a few reasons (UNCOUNTED_REASONS); we keep them apart
        # so that a comparison with its JSON dump stays exact, yet nothing goes uncounted.
        counters = self.uncounted if err.reason in UNCOUNTED_REASONS else self.stats
        counters[err.reason] = counters.get(err.reason, 0) + 1
        out: list[act.Action] = [act.PacketRejected(src, err.reason, err.detail)]
        template = DROP_MESSAGES.get(err.reason, "{d}")
        self._log(out, template.format(d=err.detail or err.reason))
        return out

    def on_advert(
        self, advert: Advert, src: IPAddress, now: float, *, ttl: int = 255,
        dst: IPAddress | None = None,
    ) -> list[act.Action]:
        """A decoded advert for this instance's VRID arrived from `src` (to `dst`)."""
        try:
            check(advert, self.expectation, ttl=ttl, src=src, dst=dst)
        except PacketError as err:
            return self._dropped(src, err)
        self.stats["advert_rcvd"] += 1
        if advert.priority == PRIO_STOP:
            self.stats["pri_zero_rcvd"] += 1
        out: list[act.Action] = [act.AdvertAccepted(src, advert.priority)]
        if self.state == _BACKUP:
            self._backup_rx(out, advert, src, now)
        elif self.state == _MASTER:
            self._master_rx(out, advert, src, now)
        return out

    def _learn_master_interval(self, advert: Advert) -> None:
        if self.version == 3 and advert.advert_int_cs > 0:
            self.master_adver_int_us = advert.advert_int_cs * 10_000

    def _backup_rx(self, out: list[act.Action], advert: Advert, src: IPAddress, now: float) -> None:
        prio = advert.priority
        held = self._hold_until is not None and now < self._hold_until
        preempt_waiting = self.config.preempt_delay > 0 and (
            self._preempt_at is None or self._preempt_at > now
        )
        if prio == PRIO_STOP:
            self._log(out, "Backup received priority 0 advertisement", detail=True)
            self.master_priority = PRIO_STOP
            self._start_down_timer(now, skew_time_us(
                self.version, self.master_adver_int_us, self.effective_priority))
        elif self.config.nopreempt or held or prio >= self.effective_priority or preempt_waiting:
            self._learn_master_interval(advert)
            self._start_down_timer(now, self._mdi_us())
            self.wants_master = False
            self.master_address, self.master_priority = src, prio
            self._followed = src
            if self.config.preempt_delay > 0 and not held and not self.config.nopreempt:
                self._track_preempt_delay(out, prio, now)
        elif self.fast_preempt and src == self._followed and (
                self.sync is None or self.sync.may_become_master(self)):
            # haconsole's fast preemption (opt-in): the master we followed says itself that
            # it is now worse than us; waiting out Master_Down_Interval only prolongs the
            # outage. Our advert makes it (any RFC master) step down at once.
            ours = self.effective_priority
            self._log(out, f"fast preemption: master {src} advertised priority {prio}, "
                           f"below ours {ours}")
            self.master_address, self.master_priority = src, prio
            self._become_master(out, now, f"fast preemption: master {src} advertised "
                                          f"priority {prio} < ours {ours}")
        else:
            self._log(out, f"received lower priority ({prio}) advert from {src} - discarding")
            self.master_address, self.master_priority = src, prio

    def _track_preempt_delay(self, out: list[act.Action], prio: int, now: float) -> None:
        if prio >= self.effective_priority:
            if self._preempt_at is not None:
                self._log(out, "stop preempt delay", detail=True)
                self._preempt_at = None
        elif self._preempt_at is None:
            delay_us = round(self.config.preempt_delay * US)
            self._log(out, f"start preempt delay ({delay_us // US}.{delay_us % US:06d})",
                      detail=True)
            self._preempt_at = now + delay_us / US

    def _master_rx(self, out: list[act.Action], advert: Advert, src: IPAddress, now: float) -> None:
        prio, ours = advert.priority, self.effective_priority
        cmp = _compare(src, self.address)
        if prio == PRIO_STOP:
            self._send(out, ours)
            self._advert_at = self._next_advert(now)
            self._log(out, "Master received priority 0 message", detail=True)
            return
        if prio == ours and cmp == 0:
            self._log(out, "WARNING - equal priority advert received from remote host "
                           "with our IP address.")
        if prio < ours or (prio == ours and cmp < 0):
            forcing = "" if self.config.lower_prio_no_advert else ", forcing new election"
            self._log(out, f"Received advert from {src} with lower priority {prio}, "
                           f"ours {ours}{forcing}")
            if not self.config.lower_prio_no_advert:
                self._send(out, ours)
                self._advert_at = self._next_advert(now)
            self._announce(out, self.config.garp_lower_prio_repeat)
            return
        if prio > ours:
            self._log(out, f"Master received advert from {src} with higher priority {prio}, "
                           f"ours {ours}")
            reason = f"higher priority {prio} from {src} (ours {ours})"
        else:
            self._log(out, f"Master received advert from {src} with same priority {prio} "
                           "but higher IP address than ours")
            reason = f"same priority {prio} from higher address {src}"
        self._learn_master_interval(advert)
        self.master_address, self.master_priority = src, prio
        self._leave_master(out, now, State.BACKUP, reason)
        self._start_down_timer(now, self._mdi_us())

    def set_track(self, name: str, ok: bool, now: float, cause: str = "") -> list[act.Action]:
        """A tracked check reported a result; re-derive priority, FAULT and INIT holds."""
        track = self.tracks.get(name)
        if track is None or track.spec.kind != "check" or track.ok == ok:
            return []
        was_fault = bool(self._faults())
        track.ok = ok
        cause = cause or f"{name} {'succeeded' if ok else 'failed'}"
        return self._track_changed(name, was_fault, now,
                                   f"{cause} (weight {track.spec.weight:+d})")

    def set_track_value(self, name: str, value: int, now: float,
                        cause: str = "") -> list[act.Action]:
        """A tracked file holds a new integer: priority += value * weight (keepalived)."""
        track = self.tracks.get(name)
        if track is None or track.spec.kind != "value" or track.value == value:
            return []
        was_fault = bool(self._faults())
        track.value = value
        cause = cause or f"{name} now {value}"
        return self._track_changed(name, was_fault, now,
                                   f"{cause} (weight {track.spec.weight:+d})")

    def _track_changed(self, name: str, was_fault: bool, now: float,
                       cause: str) -> list[act.Action]:
        out: list[act.Action] = []
        self._update_priority(out, now, cause)
        faults = self._faults()
        if faults and self.state != State.FAULT and self.state != State.STOP:
            self._enter_fault(out, now, f"{faults[0]} failed")
        elif not faults and self.state == State.FAULT and was_fault and not self._pending():
            self._log(out, "Entering BACKUP STATE")
            self._transition(out, State.BACKUP, f"{name} recovered", now)
            self._arm_backup_from_start(now)
        elif self.state == State.INIT and not self._pending() and not faults and self._started:
            self._leave_init(out, now)
        return out

    def _enter_fault(self, out: list[act.Action], now: float, reason: str) -> None:
        if self.state == State.MASTER:
            self._leave_master(out, now, State.FAULT, reason)
        else:
            self._log(out, "Entering FAULT STATE")
            self._transition(out, State.FAULT, reason, now)
        self._down_at = None

    def _update_priority(self, out: list[act.Action], now: float, cause: str) -> None:
        old = self.effective_priority
        old_mdi = self._mdi_us()
        new = self._compute_priority()
        if new == old:
            return
        self.effective_priority = new
        self._log(out, f"Changing effective priority from {old} to {new}")
        out.append(act.EffectivePriorityChanged(old, new, cause))
        if self.state == State.BACKUP and self._down_at is not None:
            self._down_at += (self._mdi_us() - old_mdi) / US
        elif self.state == State.MASTER:
            # haconsole extension: advertise the new priority at once rather than at the
            # next interval (keepalived waits), so a dead service is visible on the wire
            # within milliseconds. Backups' timers still run from their last accepted
            # advert, so takeover timing is unchanged.
            self._send(out, new)
            self._advert_at = self._next_advert(now)

    def follow_group(self, state: State, now: float, reason: str) -> list[act.Action]:
        """A sync group moves this member to `state` (MASTER, BACKUP or FAULT) because
        another member went there (keepalived's vrrp_sync_master/backup/fault)."""
        out: list[act.Action] = []
        if state == self.state or self.state == State.STOP or not self._started:
            return out
        if state == State.MASTER:
            if self.state == State.BACKUP and not self._faults():
                self._become_master(out, now, reason)
        elif state == State.BACKUP:
            if self.state == State.MASTER:
                self._leave_master(out, now, State.BACKUP, reason)
                self._start_down_timer(now, self._mdi_us())
            elif not self._faults() and not self._pending():
                self._log(out, "Entering BACKUP STATE")
                self._transition(out, State.BACKUP, reason, now)
                self._arm_backup_from_start(now)
        elif state == State.FAULT:
            self._enter_fault(out, now, reason)
        return out

    def shutdown(self, now: float) -> list[act.Action]:
        """Stop: a master sends priority 0 so backups take over after Skew_Time."""
        out: list[act.Action] = []
        if self.state == State.MASTER:
            self._send(out, PRIO_STOP)
            self._log(out, "sent 0 priority", detail=True)
            self.stats["release_master"] += 1
        self._remove_vips(out)
        if self.state != State.STOP:
            self._transition(out, State.STOP, "shutdown", now)
        self._down_at = self._advert_at = self._garp_at = None
        return out

    def release(self, now: float, hold: float) -> list[act.Action]:
        """Operator failover: a master sends priority 0 and holds back for `hold` seconds.

        The hold suppresses preemption only: the instance accepts a lower-priority
        master's adverts, as if nopreempt, so the best backup takes over after its
        Skew_Time and keeps the VIP. It never delays a takeover: if the new master dies
        or sends priority 0 during the hold, this instance takes over at the RFC time.
        After the hold (or `cancel_hold`), normal preemption applies again.
        """
        out: list[act.Action] = []
        self._hold_until = now + hold
        if self.state != State.MASTER:
            return out
        self._send(out, PRIO_STOP)
        self._log(out, "sent 0 priority", detail=True)
        self._leave_master(out, now, State.BACKUP, "released by operator (failover)")
        self._start_down_timer(now, self._mdi_us())
        return out


    def hold_until(self, now: float) -> float | None:
        """When the operator's hold ends (on this instance's clock), or None if none runs."""
        if self._hold_until is None or now >= self._hold_until:
            return None
        return self._hold_until

    def cancel_hold(self, now: float) -> bool:
        """End an operator's hold now; False when none was running. A preempting backup
        with a higher priority than the master then takes over one Master_Down_Interval
        after the last advert it accepted (the next lower-priority advert is discarded)."""
        running = self.hold_until(now) is not None
        self._hold_until = None
        return running


def _compare(a: IPAddress, b: IPAddress) -> int:
    """-1, 0, 1 comparing two addresses of the same family (0 across families)."""
    if a.version != b.version:
        return 0
    return (int(a) > int(b)) - (int(a) < int(b))

