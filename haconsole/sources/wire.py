"""The wire as a source: what a passive capture sees, as `cluster.events`.

Why a source like the others: the view, the alarms, recording and replay then work on
wire facts unchanged. Three capture points, one aggregation:
- a live interface here (`LiveWireSource`: an AF_PACKET socket, listen only), also
  inside a network namespace (`netns_wire_source`, for the namespace lab's bridge);
- a node's interface over SSH (`SshWireSource`: `tcpdump -w -` streamed and decoded
  here; inventory key `capture = "eth0"`, `ssh_wire_sources`);
- a pcap/pcapng file (`PcapWireSource`: replay and tests).

Why aggregate (`WireAggregator`): a segment can carry 20 000 frames a second, and an
event per frame would drown the console and its recordings. A speaker or an ARP owner
is published at once when it appears or changes, anomalies at once the first time, and
everything else as one summary per speaker / owner / anomaly about once a second.
Identical adverts (a master repeats the same bytes every interval) are counted without
being decoded again.

Passwords never leave this module: a v2 password becomes `auth_id`, an HMAC keyed with a
random key of this process, so equal passwords can be told apart from different ones in
one console run, and a recording of the ids cannot be brute-forced offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from haconsole.capture.frames import (
    KNOWN_LINKTYPES,
    ArpRecord,
    NeighborAdvert,
    VrrpRecord,
    decode_frame,
    mac_text,
)
from haconsole.capture.pcap import CaptureError, Frame, PcapStream, read_frames
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.sources.base import Publish, end_task
from haconsole.vrrp.packet import AUTH_NAMES, AUTH_PASS

if TYPE_CHECKING:  # SSH pulls in asyncssh: only the SSH capture needs it
    import asyncssh

    from haconsole.capture.live import PacketSocket
    from haconsole.sources.inventory import Inventory, NodeSpec
    from haconsole.sources.ssh import NodeLink, SshOptions

__all__ = ["CAPTURE_FILTER", "LiveWireSource", "PcapWireSource", "SshWireSource",
           "WireAggregator", "WireSource", "netns_wire_source", "ssh_wire_sources",
           "tcpdump_script"]

#: What a capture needs to see (tcpdump syntax); the live socket's BPF says the same.
CAPTURE_FILTER = "ip proto 112 or ip6 proto 112 or arp or icmp6"
PERIOD = 1.0  # seconds between summaries
CHANGE_GAP = 0.1  # a speaker changing faster than this is summed, not published each time
BUDGET = 256  # frames handled per loop callback: the console's loop keeps breathing
FORGET = 600.0  # seconds of silence after which a speaker or owner leaves the tables
_KEY = os.urandom(16)  # this process's key for password fingerprints (never stored)


@lru_cache(maxsize=64)
def auth_id(auth_type: int, data: bytes) -> str:
    """A keyed fingerprint of a v2 password ("" when there is none)."""
    if auth_type != AUTH_PASS:
        return ""
    return hmac.new(_KEY, data, hashlib.sha256).hexdigest()[:12]


@dataclass(slots=True)
class _Speaker:
    """One sender's state in the aggregator (`payload` is the last advert's bytes)."""

    event: ev.WireSpeaker  # its latest snapshot (published, or due at the next tick)
    payload: bytes
    ttl: int
    mac: str
    interval: float
    since: float
    last: float
    total: int = 0
    count: int = 0  # adverts in this period
    immediate: float = float("-inf")  # when a change was last published at once
    changed: bool = False  # a change not published yet


@dataclass(slots=True)
class _Owner:
    first: float
    last: float
    announcements: int = 0
    replies: int = 0
    last_announcement: float | None = None
    immediate: float = float("-inf")  # when it was last published at once
    pending: bool = False  # counted since its last event


@dataclass(slots=True)
class _Anomaly:
    detail: str
    count: int = 0


@dataclass
class WireAggregator:
    """Frames in (`frame`, `frames`), events out (`take`); `tick(t)` publishes the
    summaries when a period has passed (in capture time, so files replay the same)."""

    point: str
    interface: str = ""
    period: float = PERIOD
    max_speakers: int = 1024
    max_addresses: int = 4096
    max_anomalies: int = 256
    out: list[ev.Event] = field(default_factory=list)
    packets: int = 0  # frames of ours decoded
    dropped: int = 0  # frames lost before us (set by the capture)
    ok: bool = True
    detail: str = ""

    def __post_init__(self) -> None:
        self._speakers: dict[tuple[bytes, int, int], _Speaker] = {}
        self._owners: dict[tuple[str, str], _Owner] = {}
        self._macs: dict[str, set[str]] = {}  # address -> MACs that claimed it
        self._vips: set[str] = set()  # every VIP some speaker advertises
        self._anomalies: dict[tuple[str, str, int], _Anomaly] = {}
        self._next: float | None = None  # when the next summaries are due
        self._last_tick: float | None = None
        self._next_forget = 0.0

    # ------------------------------------------------------------------ input
    def frames(self, frames: Iterable[Frame]) -> None:
        for linktype, t, data in frames:
            self.frame(linktype, t, data)

    def frame(self, linktype: int, t: float, data: bytes) -> None:
        """Handle one captured frame (the hot path)."""
        if linktype == 1 and len(data) > 34 and data[12:14] == b"\x08\x00" and \
                data[23] == 112 and self._repeat(t, data):
            return
        record = decode_frame(linktype, t, data) if linktype in KNOWN_LINKTYPES else None
        if record is None:
            return
        self.packets += 1
        if type(record) is VrrpRecord:
            self._vrrp(record)
        elif type(record) is ArpRecord:
            if record.claims:
                self._claim(t, str(record.sender_ip), record.sender_mac, record.announcement)
        elif type(record) is NeighborAdvert:
            self._claim(t, str(record.target), record.target_mac, record.announcement)
        if self._next is None or t >= self._next:
            self.tick(t)

    def _repeat(self, t: float, data: bytes) -> bool:
        """An untagged IPv4 advert identical to its sender's previous one is counted
        without decoding it again (same bytes, source, TTL and MAC: the same advert)."""
        start = 14 + (data[14] & 0x0F) * 4
        end = 14 + ((data[16] << 8) | data[17])
        if end > len(data) or end < start + 8:
            return False
        spk = self._speakers.get((data[26:30], data[start + 1], 4))
        if spk is None or data[22] != spk.ttl or data[start:end] != spk.payload or \
                t - spk.last > 3 * spk.interval + PERIOD or mac_text(data[6:12]) != spk.mac:
            return False  # new, changed, back after a gap, or another box: decode it
        self.packets += 1
        spk.last, spk.total, spk.count = t, spk.total + 1, spk.count + 1
        if self._next is None or t >= self._next:
            self.tick(t)
        return True

    def _vrrp(self, rec: VrrpRecord) -> None:
        advert = rec.advert
        if advert is None:
            header = rec.header
            assert rec.error is not None
            self._anomaly(rec.time, rec.error.reason, str(rec.src),
                          header.vrid if header else -1, rec.error.detail)
            return
        key = (rec.src.packed, advert.vrid, rec.src.version)
        spk = self._speakers.get(key)
        t = rec.time
        if spk is not None and rec.payload == spk.payload and rec.ttl == spk.ttl and \
                rec.mac == spk.mac and t - spk.last <= 3 * spk.interval + PERIOD:
            spk.last, spk.total, spk.count = t, spk.total + 1, spk.count + 1
            return
        if spk is None and len(self._speakers) >= self.max_speakers:
            self._forget(t)
            if len(self._speakers) >= self.max_speakers:
                self._anomaly(t, "speaker_table_full", str(rec.src), advert.vrid,
                              f"more than {self.max_speakers} speakers: this one is not "
                              "followed")
                return
        interval = advert.advert_int_cs / 100
        since = t if spk is None or t - spk.last > 3 * spk.interval + PERIOD else spk.since
        vips = tuple(str(a) for a in advert.addresses)
        self._vips.update(vips)  # (a VIP no longer advertised goes at the next _forget)
        for vip in vips:  # owners seen before the VIP was known: now worth publishing
            for mac in self._macs.get(vip, ()):
                owner = self._owners.get((vip, mac))
                if owner is not None and owner.immediate == float("-inf"):
                    owner.pending = True
        event = ev.WireSpeaker(
            t, self.point, vrid=advert.vrid, family=rec.src.version, address=str(rec.src),
            mac=rec.mac, priority=advert.priority, interval=interval,
            version=advert.version,
            auth=AUTH_NAMES.get(advert.auth_type, f"type-{advert.auth_type}")
            if advert.version == 2 else "none",
            auth_id=auth_id(advert.auth_type, advert.auth_data) if advert.version == 2
            else "",
            ttl=rec.ttl, unicast=not rec.dst.is_multicast, vips=vips,
            rate=spk.event.rate if spk else 0.0, adverts=(spk.total if spk else 0) + 1,
            since=since, last=t)
        if spk is None:
            spk = self._speakers[key] = _Speaker(event, rec.payload, rec.ttl, rec.mac,
                                                 interval, since, t)
        else:
            spk.event, spk.payload, spk.ttl, spk.mac = event, rec.payload, rec.ttl, rec.mac
            spk.interval, spk.since, spk.last = interval, since, t
        spk.total += 1
        spk.count += 1
        if t - spk.immediate >= CHANGE_GAP or since == t:
            spk.immediate, spk.changed = t, False
            self.out.append(event)
        else:  # a speaker changing on every advert (a flood, a forger): once a tick
            spk.changed = True

    def _claim(self, t: float, address: str, mac: str, announcement: bool) -> None:
        key = (address, mac)
        owner = self._owners.get(key)
        if owner is None:
            if len(self._owners) >= self.max_addresses:
                self._forget(t)
                if len(self._owners) >= self.max_addresses:
                    self._anomaly(t, "owner_table_full", address, -1,
                                  f"more than {self.max_addresses} ARP/ND owners")
                    return
            owner = self._owners[key] = _Owner(t, t)
            macs = self._macs.setdefault(address, set())
            macs.add(mac)
            if len(macs) > 1:  # a second MAC: every claimant is worth publishing now
                for other in macs:
                    found = self._owners.get((address, other))
                    if found is not None:
                        found.pending = True
        if not owner.pending:
            owner.first = t
        owner.last = t
        owner.pending = True
        if announcement:
            owner.announcements += 1
            owner.last_announcement = t
        else:
            owner.replies += 1
        fresh = owner.immediate == float("-inf")
        worth = announcement or address in self._vips or len(self._macs[address]) > 1
        if worth and (fresh or announcement) and t - owner.immediate >= self.period:
            self._publish_owner(t, address, mac, owner)

    def _publish_owner(self, t: float, address: str, mac: str, owner: _Owner) -> None:
        self.out.append(ev.WireOwner(t, self.point, address=address, mac=mac,
                                     first=owner.first, last=owner.last,
                                     announcements=owner.announcements,
                                     replies=owner.replies,
                                     last_announcement=owner.last_announcement))
        owner.immediate = t
        owner.announcements = owner.replies = 0
        owner.pending = False

    def _anomaly(self, t: float, reason: str, source: str, vrid: int, detail: str) -> None:
        key = (reason, source, vrid)
        found = self._anomalies.get(key)
        if found is None:
            if len(self._anomalies) >= self.max_anomalies:
                key = ("anomaly_table_full", "", -1)
                found = self._anomalies.setdefault(key, _Anomaly(
                    f"more than {self.max_anomalies} kinds of anomaly"))
            else:
                self._anomalies[key] = _Anomaly(detail)
                self.out.append(ev.WireAnomaly(t, self.point, reason=reason, source=source,
                                               vrid=vrid, detail=detail, count=1))
                return
        found.count += 1

    # ------------------------------------------------------------------ output
    def tick(self, t: float) -> None:
        """Publish the summaries if a period has passed at `t` (capture time)."""
        if self._next is not None and t < self._next:
            return
        span = self.period if self._last_tick is None else max(t - self._last_tick, 1e-3)
        self._next, self._last_tick = t + self.period, t
        for spk in self._speakers.values():
            if spk.count or spk.changed:
                rate = spk.count / span
                spk.event = ev.WireSpeaker(**{**spk.event.__dict__, "t": t, "rate": rate,
                                              "adverts": spk.total, "since": spk.since,
                                              "last": spk.last})
                spk.count, spk.changed = 0, False
                self.out.append(spk.event)
        for (address, mac), owner in self._owners.items():
            if owner.pending and (address in self._vips or len(self._macs[address]) > 1
                                  or owner.immediate > float("-inf")
                                  or owner.last_announcement is not None):
                self._publish_owner(t, address, mac, owner)
        for (reason, source, vrid), found in self._anomalies.items():
            if found.count:
                self.out.append(ev.WireAnomaly(t, self.point, reason=reason, source=source,
                                               vrid=vrid, detail=found.detail,
                                               count=found.count))
                found.count = 0
        self.out.append(self.capture_event(t))
        if t >= self._next_forget:
            self._next_forget = t + 60.0
            self._forget(t)

    def capture_event(self, t: float) -> ev.WireCapture:
        return ev.WireCapture(t, self.point, interface=self.interface, ok=self.ok,
                              detail=self.detail, packets=self.packets, dropped=self.dropped)

    def take(self) -> list[ev.Event]:
        """The events ready to publish, in order (and forget them)."""
        out, self.out = self.out, []
        return out

    def _forget(self, t: float) -> None:
        """Drop what has been silent for FORGET seconds (tables stay bounded)."""
        gone = [k for k, s in self._speakers.items() if t - s.last > FORGET]
        for key in gone:
            del self._speakers[key]
        if gone:
            self._vips = {v for s in self._speakers.values() for v in s.event.vips}
        for address, mac in [k for k, o in self._owners.items() if t - o.last > FORGET]:
            del self._owners[(address, mac)]
            macs = self._macs.get(address)
            if macs is not None:
                macs.discard(mac)
                if not macs:
                    del self._macs[address]


# ----------------------------------------------------------------------------- sources


class WireSource:
    """A `sources.base.Source` for one capture point: publishes, runs no command.
    Subclasses say where frames come from (`_run`); a capture that fails is reported as
    an unhealthy `WireCapture`, never raised into the console."""

    def __init__(self, point: str, interface: str, *, period: float = PERIOD,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = point
        self.point = point
        self.clock = clock
        self.aggregator = WireAggregator(point, interface, period=period)
        self._publish: Publish = lambda e: None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self._task = asyncio.get_running_loop().create_task(self._guarded(),
                                                            name=f"wire-{self.point}")

    async def stop(self) -> None:
        self._stopped = True
        await end_task(self._task)
        self._task = None
        self._close()

    def supports(self, command: type[cmd.Command]) -> bool:
        return False

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return False, f"{self.name} only watches the wire: it runs no command"

    # ------------------------------------------------------------------ internals
    async def _guarded(self) -> None:
        try:
            await self._run()
        except CaptureError as err:
            self.health(False, str(err))
        finally:
            self.flush()

    async def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Release what the capture holds (sockets, processes)."""

    def feed(self, frames: Iterable[Frame]) -> None:
        self.aggregator.frames(frames)
        self.flush()

    def flush(self) -> None:
        for event in self.aggregator.take():
            self._publish(event)

    def health(self, ok: bool, detail: str) -> None:
        """Say at once when the capture fails or recovers."""
        agg = self.aggregator
        if (agg.ok, agg.detail) != (ok, detail):
            agg.ok, agg.detail = ok, detail
            self._publish(agg.capture_event(self.clock()))

    async def _tick_forever(self, before: Callable[[], None] = lambda: None) -> None:
        """Summaries and the heartbeat also while the wire is quiet."""
        while not self._stopped:
            await asyncio.sleep(self.aggregator.period / 2)
            before()
            self.aggregator.tick(self.clock())
            self.flush()


class LiveWireSource(WireSource):
    """A live interface, here or in a namespace (a bridge: every port's ingress)."""

    def __init__(self, interface: str, *, netns: str | None = None, point: str = "",
                 budget: int = BUDGET, period: float = PERIOD,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(point or f"wire:{interface}", interface, period=period, clock=clock)
        self.netns = netns
        self.budget = budget
        self.socket: PacketSocket | None = None

    def open(self) -> None:
        """Open the packet socket now (CaptureError with one line if it cannot be)."""
        from haconsole.capture.live import open_packet_socket

        if self.socket is None:
            self.socket = open_packet_socket(self.aggregator.interface, netns=self.netns)

    async def _run(self) -> None:
        self.open()
        sock = self.socket
        assert sock is not None
        loop = asyncio.get_running_loop()
        self.health(True, f"capturing on {sock.name}")

        def drops() -> None:
            self.aggregator.dropped = sock.stats()[1]

        loop.add_reader(sock.fileno(), lambda: self.feed(sock.read(self.budget)))
        try:
            await self._tick_forever(drops)
        finally:
            loop.remove_reader(sock.fileno())

    def _close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self.socket = None


def netns_wire_source(netns: str, interface: str, *, point: str = "") -> LiveWireSource:
    """A wire source for `interface` inside network namespace `netns` (a name under
    /run/netns): for the namespace lab, its bridge (`br0`), whose ports show every frame
    crossing the segment. The socket opens when the source starts (or at `open()`)."""
    return LiveWireSource(interface, netns=netns, point=point or f"wire:{interface}")


class PcapWireSource(WireSource):
    """A capture file, at full speed (events carry the capture's own times) or, with
    `realtime`, at the pace it was captured."""

    def __init__(self, path: str, *, realtime: bool = False, point: str = "",
                 period: float = PERIOD) -> None:
        super().__init__(point or f"file:{os.path.basename(path)}", "", period=period)
        self.path = path
        self.realtime = realtime
        self.done = asyncio.Event()

    def replay(self, publish: Publish) -> None:
        """The whole file, synchronously (`watch --summary`, tests). CaptureError for a
        file that cannot be read."""
        self._publish = publish
        agg, last = self.aggregator, None
        try:
            for linktype, t, data in read_frames(self.path):
                agg.frame(linktype, t, data)
                last = t
                if len(agg.out) >= BUDGET:
                    self.flush()
            if last is not None:
                agg.tick(last + agg.period)  # the summaries of the last period
        finally:
            self.flush()

    async def _run(self) -> None:
        agg, last = self.aggregator, None
        begun, first = time.monotonic(), None
        try:
            for n, (linktype, t, data) in enumerate(read_frames(self.path), 1):
                if self.realtime:
                    first = t if first is None else first
                    delay = (t - first) - (time.monotonic() - begun)
                    if delay > 0:
                        self.flush()
                        await asyncio.sleep(delay)
                elif n % BUDGET == 0:
                    self.flush()
                    await asyncio.sleep(0)
                agg.frame(linktype, t, data)
                last = t
            if last is not None:
                agg.tick(last + agg.period)
        finally:
            self.flush()
            self.done.set()


# ----------------------------------------------------------------------------- SSH


def tcpdump_script(interface: str) -> str:
    """The remote capture: the pcap stream on stdout, packet-buffered and delivered at
    once (`--immediate-mode`), our filter applied in the node's kernel."""
    return (f"exec tcpdump -U --immediate-mode -w - -i {shlex.quote(interface)} "
            f"{shlex.quote(CAPTURE_FILTER)}")


class SshWireSource(WireSource):
    """`tcpdump` on a node's interface over SSH, on a connection of its own kept up by
    `sources.ssh.NodeLink`; the pcap stream is decoded here, on the console's clock (the
    node's clock offset is measured at each connection and taken out)."""

    def __init__(self, spec: NodeSpec, options: SshOptions, interface: str, *,
                 period: float = PERIOD) -> None:
        super().__init__(f"{spec.name}:{interface}", interface, period=period)
        self.spec = spec
        self.options = options
        self.link: NodeLink | None = None
        self._ended = ""  # why the last capture ended, when tcpdump (not SSH) did

    async def _run(self) -> None:
        from haconsole.sources.ssh import NodeLink

        self.link = NodeLink(self.spec, self.options, self._link_event, self._session,
                             agent="wire")
        self.link.start()
        try:
            await self._tick_forever()
        finally:
            await self.link.stop()

    def _link_event(self, event: ev.Event) -> None:
        """The link speaks for the node; here its trouble is the capture point's (in
        tcpdump's words when tcpdump is what failed, not SSH)."""
        if isinstance(event, ev.SourceHealth) and not event.ok:
            retry = event.detail.rsplit(";", 1)[-1].strip() if ";" in event.detail else ""
            detail = f"{self._ended}; {retry}" if self._ended and retry else \
                self._ended or event.detail
            self._ended = ""
            self.health(False, detail)

    async def _session(self, conn: asyncssh.SSHClientConnection) -> None:
        import asyncssh

        from haconsole.sources.ssh import measure_clock, remote_command

        try:
            offset = (await measure_clock(conn)).offset
        except (ValueError, TimeoutError, asyncssh.Error):
            offset = 0.0  # the node's clock then: order and rates are still right
        proc = await conn.create_process(
            remote_command(tcpdump_script(self.aggregator.interface), sudo=self.spec.sudo),
            encoding=None)
        stream = PcapStream(offset)
        errors: list[bytes] = []

        async def read_errors() -> None:
            while chunk := await proc.stderr.read(4096):
                errors.append(chunk)
                del errors[:-4]  # the last few: what tcpdump said before it ended

        reader = asyncio.create_task(read_errors())
        self.health(True, f"tcpdump on {self.spec.name}:{self.aggregator.interface}")
        try:
            while chunk := await proc.stdout.read(65536):
                self.feed(stream.feed(chunk))
        except CaptureError as err:
            errors.append(str(err).encode())
        finally:
            proc.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        said = b"".join(errors).decode(errors="replace").strip().splitlines()
        why = next((line for line in reversed(said) if line.startswith("tcpdump:")),
                   said[-1] if said else "the capture ended")
        self._ended = f"tcpdump on {self.spec.name}:{self.aggregator.interface} ended ({why})"
        raise OSError(self._ended)


def ssh_wire_sources(inventory: Inventory,
                     options: SshOptions | None = None) -> list[SshWireSource]:
    """A wire source for every inventory node that declares `capture = "IFACE"` (give
    the fleet's `SshOptions` so host keys are handled alike)."""
    from haconsole.sources.ssh import SshOptions

    opts = options or SshOptions(known_hosts=inventory.known_hosts,
                                 ssh_config=inventory.ssh_config)
    return [SshWireSource(spec, opts, spec.capture) for spec in inventory.nodes
            if spec.capture]
