"""What the wire shows, folded: speakers per VRID, ARP/ND owners per address, and the
joins with what the nodes say (the four-way cross-check, the wire alarms).

Why a part of its own: when a VIP flaps or two boxes fight over it, the question is not
what each node says but what is on the segment: who sends adverts for the VRID (only a
master does), with which priority and password, and which MAC answers ARP for the VIP
(whom the clients follow). `ClusterView` holds one `WireView` and hands it the wire
events; everything here is a function of those facts, the view's own, and `now`.

Timing rules (why a fact counts as current):
- a speaker *sends* while its last advert is at most 3 intervals (plus the sources'
  summary lag) old: a master that stops is noticed when a backup would notice it;
- two speakers are *together* when their runs of adverts overlap by 2 intervals or
  more: a preemption or a takeover overlaps by at most one, a real conflict keeps going;
- a MAC *answers* for an address unless it stopped: its claims ended when another MAC
  took over (a run of claims that began with a gratuitous ARP), or another MAC has kept
  claiming for `OWNER_SILENCE` s since its last claim, or it has not claimed for
  `OWNER_WINDOW` s. Two MACs replying to the same request both answer: that is the
  conflict clients suffer from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from haconsole.cluster import events as ev

if TYPE_CHECKING:
    from haconsole.cluster.view import ClusterView, InstanceView

__all__ = ["WIRE_EVENTS", "CrossCheck", "Owner", "OwnerRow", "Point", "Problem", "RouterRow",
           "Speaker", "SpeakerRow", "WireView", "bare"]

WIRE_EVENTS = (ev.WireCapture, ev.WireSpeaker, ev.WireOwner, ev.WireAnomaly)
SpeakerKey = tuple[int, int, str]  # (vrid, family, source address)
GroupKey = tuple[int, int, str]  # as the view's: the wire sees this console's segment ("")

LAG = 2.0  # seconds: a source's summary period plus its capture's delivery delay
OWNER_WINDOW = 300.0  # a claim older than this says nothing about now
OWNER_SILENCE = 10.0  # silent this long while another MAC claims: no longer answering
HANDOVER_SLACK = 1.0  # a claim this close after another MAC's first one is a handover race
MAX_SPEAKERS = 4096
MAX_ADDRESSES = 4096
MAX_ANOMALIES = 200


def bare(address: str) -> str:
    """`192.0.2.170/24` -> `192.0.2.170` (VIPs come with and without a prefix)."""
    return address.split("/", 1)[0]


@dataclass
class Point:
    """A capture point: where the wire facts are seen from."""

    name: str
    interface: str
    first_seen: float
    last_seen: float
    ok: bool = True
    detail: str = ""
    packets: int = 0
    dropped: int = 0
    rate: float = 0.0  # frames/s over the last two reports


@dataclass
class Speaker:
    """One VRRP sender, as all capture points saw it."""

    vrid: int
    family: int
    address: str
    first_seen: float
    mac: str = ""
    priority: int = 0
    interval: float = 1.0
    version: int = 2
    auth: str = "none"
    auth_id: str = ""
    ttl: int = 255
    unicast: bool = False
    vips: tuple[str, ...] = ()
    rate: float = 0.0
    adverts: int = 0
    since: float = 0.0
    last: float = 0.0
    points: set[str] = field(default_factory=set)

    @property
    def key(self) -> SpeakerKey:
        return (self.vrid, self.family, self.address)

    @property
    def group(self) -> GroupKey:
        return (self.vrid, self.family, "")

    def sending(self, now: float) -> bool:
        return self.last <= now + LAG and now - self.last <= 3 * self.interval + LAG

    def overlap(self, other: Speaker) -> float:
        """Seconds both have been sending together (negative: never)."""
        return min(self.last, other.last) - max(self.since, other.since)


@dataclass
class Owner:
    """A MAC's claims for one address: its current run (`since`..`last`)."""

    address: str
    mac: str
    since: float
    last: float
    announced: bool = False  # the run began with an announcement (a takeover)
    announcements: int = 0
    replies: int = 0
    last_announcement: float | None = None


@dataclass
class Anomaly:
    reason: str
    source: str
    vrid: int
    detail: str
    first: float
    last: float
    count: int = 0


@dataclass(frozen=True)
class Problem:
    """A wire alarm before it is one (`cluster.alarms` gives it its severity)."""

    kind: str
    message: str
    since: float
    instance: str = ""
    node: str = ""


@dataclass(frozen=True)
class CrossCheck:
    """The four facts about an instance and what they add up to. Each fact is True,
    False or None (not known). `odd` names the facts that disagree with the others."""

    says_master: bool
    sends_adverts: bool | None
    holds_vip: bool | None
    answers_arp: bool | None
    odd: tuple[str, ...] = ()
    settling: bool = False  # it changed state moments ago: facts may lag

    @property
    def agree(self) -> bool:
        return not self.odd


FACTS = ("says MASTER", "sends adverts", "holds the VIP", "answers ARP")


@dataclass(frozen=True)
class SpeakerRow:
    """One speaker as the Wire screen and `watch --summary` show it."""

    address: str
    node: str  # "" when no node of the view has this address
    mac: str
    priority: int
    interval: float
    version: int
    auth: str  # `PASS·a`: a letter per distinct password, never the password
    rate: float
    ttl: int
    unicast: bool
    vips: tuple[str, ...]
    last: float
    sending: bool


@dataclass(frozen=True)
class OwnerRow:
    """One VIP and the MACs that answer for it (mac, node or "", answering now)."""

    vip: str
    macs: tuple[tuple[str, str, bool], ...]
    announced: float | None  # the latest gratuitous ARP / unsolicited NA
    announced_by: str


@dataclass(frozen=True)
class RouterRow:
    """One virtual router on the wire: its speakers, then its VIPs' owners."""

    vrid: int
    family: int
    instance: str
    speakers: tuple[SpeakerRow, ...]
    owners: tuple[OwnerRow, ...]


class WireView:
    """The wire facts, folded from the wire events (`apply`)."""

    def __init__(self) -> None:
        self.points: dict[str, Point] = {}
        self.speakers: dict[SpeakerKey, Speaker] = {}
        self.owners: dict[str, dict[str, Owner]] = {}  # address -> MAC -> claims
        self.anomalies: dict[tuple[str, str, int], Anomaly] = {}
        self._macs: tuple[int, dict[str, str]] = (-1, {})  # node_macs at a view version

    @property
    def present(self) -> bool:
        """Whether any wire source reports (the cross-check is shown only then)."""
        return bool(self.points)

    # ------------------------------------------------------------------ the fold
    def apply(self, e: ev.Event) -> bool:
        """Fold one wire event; True when it changed more than rates and ages."""
        if isinstance(e, ev.WireSpeaker):
            return self._speaker(e)
        if isinstance(e, ev.WireOwner):
            return self._owner(e)
        if isinstance(e, ev.WireCapture):
            return self._point(e)
        if isinstance(e, ev.WireAnomaly):
            return self._anomaly(e)
        return False

    def _point(self, e: ev.WireCapture) -> bool:
        point = self.points.get(e.node)
        if point is None:
            point = self.points[e.node] = Point(e.node, e.interface, e.t, e.t)
            changed = True
        else:
            changed = point.ok != e.ok or point.detail != e.detail
            span = e.t - point.last_seen
            if span > 0:
                point.rate = max(0, e.packets - point.packets) / span
        point.interface = e.interface or point.interface
        point.last_seen = max(point.last_seen, e.t)
        point.ok, point.detail = e.ok, e.detail
        point.packets, point.dropped = e.packets, e.dropped
        return changed

    def _speaker(self, e: ev.WireSpeaker) -> bool:
        key = (e.vrid, e.family, e.address)
        spk = self.speakers.get(key)
        if spk is None:
            if len(self.speakers) >= MAX_SPEAKERS:
                oldest = min(self.speakers.values(), key=lambda s: s.last)
                del self.speakers[oldest.key]
            spk = self.speakers[key] = Speaker(e.vrid, e.family, e.address, e.t,
                                               since=e.since, last=e.last)
            changed = True
        else:
            changed = (spk.mac, spk.priority, spk.interval, spk.version, spk.auth,
                       spk.auth_id, spk.ttl, spk.vips, spk.unicast) != (
                e.mac, e.priority, e.interval, e.version, e.auth, e.auth_id, e.ttl,
                e.vips, e.unicast)
            gap = e.since - spk.last
            if gap > 3 * max(e.interval, spk.interval) + LAG:
                spk.since = e.since  # a new run: it had stopped
                changed = True
            else:
                spk.since = min(spk.since, e.since) if spk.since else e.since
        if e.last >= spk.last:
            spk.mac, spk.priority, spk.interval, spk.version = e.mac, e.priority, \
                e.interval, e.version
            spk.auth, spk.auth_id, spk.ttl, spk.unicast = e.auth, e.auth_id, e.ttl, \
                e.unicast
            spk.vips, spk.last = e.vips, e.last
        spk.rate = e.rate  # several points see the same adverts: the latest, not a sum
        spk.adverts = max(spk.adverts, e.adverts)
        spk.points.add(e.node)
        return changed

    def _owner(self, e: ev.WireOwner) -> bool:
        macs = self.owners.get(e.address)
        if macs is None:
            if len(self.owners) >= MAX_ADDRESSES:
                oldest = min(self.owners, key=lambda a: max(o.last for o in
                                                            self.owners[a].values()))
                del self.owners[oldest]
            macs = self.owners[e.address] = {}
        owner = macs.get(e.mac)
        changed = owner is None or e.announcements > 0
        # A new run when it had stopped, or when another MAC claimed the address since
        # its last claim: it was not the one answering all along.
        if owner is None or e.first - owner.last > OWNER_WINDOW or any(
                o.last > owner.last for o in macs.values() if o is not owner):
            before = owner
            owner = macs[e.mac] = Owner(e.address, e.mac, e.first, e.last,
                                        announced=e.announcements > 0)
            if before is not None:  # the totals and the last announcement outlive a run
                owner.announcements, owner.replies = before.announcements, before.replies
                owner.last_announcement = before.last_announcement
        owner.since = min(owner.since, e.first)
        owner.last = max(owner.last, e.last)
        owner.announcements += e.announcements
        owner.replies += e.replies
        if e.last_announcement is not None:
            owner.last_announcement = max(owner.last_announcement or 0.0,
                                          e.last_announcement)
        return changed

    def _anomaly(self, e: ev.WireAnomaly) -> bool:
        key = (e.reason, e.source, e.vrid)
        found = self.anomalies.get(key)
        if found is None:
            if len(self.anomalies) >= MAX_ANOMALIES:
                del self.anomalies[min(self.anomalies, key=lambda k: self.anomalies[k].last)]
            found = self.anomalies[key] = Anomaly(e.reason, e.source, e.vrid, e.detail,
                                                  e.t, e.t)
        found.count += e.count
        found.last = max(found.last, e.t)
        found.detail = e.detail or found.detail
        return found.count == e.count  # new: worth a repaint

    # ------------------------------------------------------------------ queries
    def groups(self) -> dict[GroupKey, list[Speaker]]:
        """Every speaker ever seen, by (VRID, family), first seen first."""
        out: dict[GroupKey, list[Speaker]] = {}
        for spk in sorted(self.speakers.values(), key=lambda s: (s.group, s.first_seen)):
            out.setdefault(spk.group, []).append(spk)
        return out

    def sending(self, group: GroupKey, now: float) -> list[Speaker]:
        """The speakers of `group` sending now, highest priority first."""
        return sorted((s for s in self.speakers.values()
                       if s.group == group and s.sending(now)),
                      key=lambda s: (-s.priority, s.address))

    def answering(self, address: str, now: float) -> list[Owner]:
        """The MACs answering for `address` now (see the module's timing rules), the
        latest claim first."""
        macs = list(self.owners.get(bare(address), {}).values())
        current = []
        for mine in macs:
            if now - mine.last > OWNER_WINDOW:
                continue
            stopped = any(o is not mine and (
                (o.announced and o.since >= mine.last - HANDOVER_SLACK)
                or o.last - mine.last > OWNER_SILENCE) for o in macs)
            if not stopped:
                current.append(mine)
        return sorted(current, key=lambda o: -o.last)

    def owner(self, address: str, now: float) -> Owner | None:
        """The MAC clients follow for `address`: the latest claim still answering."""
        current = self.answering(address, now)
        return current[0] if current else None

    def last_announcement(self, address: str) -> tuple[float, str] | None:
        """(time, MAC) of the latest gratuitous ARP / unsolicited NA for `address`."""
        found = [(o.last_announcement, o.mac) for o in self.owners.get(bare(address),
                                                                          {}).values()
                 if o.last_announcement is not None]
        return max(found) if found else None

    def vips(self, view: ClusterView | None = None) -> list[str]:
        """Every VIP worth an owner line: advertised on the wire or configured."""
        found = {bare(v) for s in self.speakers.values() for v in s.vips}
        if view is not None:
            found |= {bare(v) for inst in view.instances.values() for v in inst.vips}
        return sorted(found, key=_address_order)

    @staticmethod
    def auth_labels(speakers: Iterable[Speaker]) -> dict[SpeakerKey, str]:
        """`PASS·a`, `PASS·b`: one letter per distinct password among `speakers`, so two
        passwords can be told apart without showing either."""
        letters: dict[tuple[str, str], str] = {}
        out = {}
        for spk in sorted(speakers, key=lambda s: s.first_seen):
            if spk.version != 2 or spk.auth == "none":
                out[spk.key] = "none" if spk.version != 2 else spk.auth
                continue
            letter = letters.setdefault((spk.auth, spk.auth_id),
                                        "abcdefghijklmnopqrstuvwxyz"[len(letters) % 26])
            out[spk.key] = f"{spk.auth}·{letter}"
        return out

    def report(self, view: ClusterView, now: float) -> list[RouterRow]:
        """Per virtual router: every speaker (sending first) and each VIP's owners;
        the VIPs are those advertised on the wire or configured for that VRID."""
        macs = self.node_macs(view)
        groups = self.groups()
        for inst in view.instances.values():
            if inst.vips and inst.vrid:
                groups.setdefault(inst.group, [])
        rows = []
        for group, speakers in sorted(groups.items()):
            labels = self.auth_labels(speakers)
            spk_rows = tuple(sorted((SpeakerRow(
                s.address, self.node_of_address(view, s.address), s.mac, s.priority,
                s.interval, s.version, labels[s.key], s.rate if s.sending(now) else 0.0,
                s.ttl, s.unicast, s.vips, s.last, s.sending(now)) for s in speakers),
                key=lambda r: (not r.sending, -r.priority, r.address)))
            vips = {bare(v) for s in speakers for v in s.vips}
            vips |= {bare(v) for m in view.group_members(group) for v in m.vips}
            owners = []
            for vip in sorted(vips, key=_address_order):
                current = {o.mac for o in self.answering(vip, now)}
                known = sorted(self.owners.get(vip, {}).values(), key=lambda o: -o.last)
                announced = self.last_announcement(vip)
                owners.append(OwnerRow(vip, tuple((o.mac, macs.get(o.mac, ""),
                                                   o.mac in current) for o in known),
                                       announced[0] if announced else None,
                                       announced[1] if announced else ""))
            rows.append(RouterRow(group[0], group[1], self._instance_of_group(view, group),
                                  spk_rows, tuple(owners)))
        return rows

    # ------------------------------------------------------------------ joins
    def node_of_address(self, view: ClusterView, address: str) -> str:
        """The node an address belongs to ("" if none): an instance's own address or the
        address a source reached the node at."""
        for inst in view.instances.values():
            if inst.address and bare(inst.address) == address:
                return inst.node
        for node in view.nodes.values():
            if node.address == address:
                return node.name
        return ""

    def node_macs(self, view: ClusterView) -> dict[str, str]:
        """MAC -> node, learnt from the wire: the MAC a node's own address was seen with
        (its adverts' frames, or its ARP claims for its own address). Kept until the
        view folds something new: every row of the instances table asks."""
        if self._macs[0] == view.version:
            return self._macs[1]
        out: dict[str, str] = {}
        addresses = {bare(inst.address): inst.node for inst in view.instances.values()
                     if inst.address}
        addresses.update({n.address: n.name for n in view.nodes.values()
                          if n.address and n.address not in addresses})
        for spk in sorted(self.speakers.values(), key=lambda s: s.last):
            node = addresses.get(spk.address)
            if node and spk.mac:
                out[spk.mac] = node
        for address, node in addresses.items():
            for owner in self.owners.get(address, {}).values():
                out.setdefault(owner.mac, node)
        self._macs = (view.version, out)
        return out

    def cross_check(self, view: ClusterView, inst: InstanceView, now: float,
                    macs: dict[str, str] | None = None) -> CrossCheck:
        """Says MASTER (the node) / sends adverts (wire) / holds the VIP (the interface) /
        answers ARP (wire): agreement, or the facts that disagree with the majority (with
        the node's word breaking a tie)."""
        macs = self.node_macs(view) if macs is None else macs
        said = inst.live_master
        adverts = self._sends(inst, now, macs)
        vip = self._holds(view, inst)
        arp = self._answers(inst, now, macs)
        facts = dict(zip(FACTS, (said, adverts, vip, arp), strict=True))
        known = {k: v for k, v in facts.items() if v is not None}
        yes = sum(1 for v in known.values() if v)
        no = len(known) - yes
        reference = said if yes == no else yes > no
        odd = tuple(k for k, v in known.items() if v != reference)
        rec = inst.last_transition
        settling = rec is not None and now - rec.t < inst.master_down_interval + LAG
        return CrossCheck(said, adverts, vip, arp, odd, settling and bool(odd))

    def _sends(self, inst: InstanceView, now: float, macs: dict[str, str]) -> bool | None:
        """None when the wire shows nothing of this router, neither adverts for its VRID
        nor ARP for its VIPs (a capture on another segment); False when it shows its VIPs
        answered but never an advert from it."""
        group = inst.group
        seen = [s for s in self.speakers.values() if s.group == group]
        if not seen:
            return False if any(self.owners.get(bare(v)) for v in inst.vips) else None
        mine = [s for s in seen if (inst.address and s.address == bare(inst.address))
                or (not inst.address and macs.get(s.mac) == inst.node)]
        if not mine and not inst.address:
            return None
        return any(s.sending(now) for s in mine)

    @staticmethod
    def _holds(view: ClusterView, inst: InstanceView) -> bool | None:
        if not inst.vips:
            return None
        held = {bare(v.vip) for v in view.vips.values() if inst.node in v.holders}
        return all(bare(v) in held for v in inst.vips)

    def _answers(self, inst: InstanceView, now: float, macs: dict[str, str]) -> bool | None:
        verdicts = []
        for vip in inst.vips:
            current = self.answering(vip, now)
            if not current:
                continue
            names = {macs.get(o.mac, "") for o in current}
            if inst.node in names:
                verdicts.append(True)
            elif "" not in names:
                verdicts.append(False)  # every answering MAC is another node's
        if not verdicts:
            return None
        return all(verdicts)

    # ------------------------------------------------------------------ problems
    def problems(self, view: ClusterView, now: float) -> Iterator[Problem]:
        """Everything wrong on the wire at `now` (the rules of `cluster.alarms`' wire
        kinds), each named with the nodes the view knows."""
        if not self.speakers and not self.owners:
            return
        macs = self.node_macs(view)
        know_nodes = bool(view.instances)
        for group, speakers in self.groups().items():
            live = [s for s in speakers if s.sending(now)]
            yield from self._group_problems(view, group, live, macs, know_nodes, now)
        for vip in self.vips(view):
            current = self.answering(vip, now)
            if len(current) > 1:
                names = " and ".join(self._mac_name(o.mac, macs) for o in
                                     sorted(current, key=lambda o: o.mac))
                since = max(o.since for o in current)
                yield Problem("wire-vip-two-macs", f"VIP {vip} answered by {names}",
                              since, instance=self._instance_of_vip(view, vip))

    def _group_problems(self, view: ClusterView, group: GroupKey, live: list[Speaker],
                        macs: dict[str, str], know_nodes: bool,
                        now: float) -> Iterator[Problem]:
        vrid, family, _segment = group
        instance = self._instance_of_group(view, group)
        label = f"VRID {vrid}" + (f" ({instance})" if instance else "") + \
            (" IPv6" if family == 6 else "")
        labels = self.auth_labels(live)
        pairs = [(a, b) for i, a in enumerate(live) for b in live[i + 1:]
                 if a.overlap(b) >= 2 * max(a.interval, b.interval)]
        if pairs:
            together = sorted({s.key: s for p in pairs for s in p}.values(),
                              key=lambda s: s.address)
            since = min(max(a.since, b.since) for a, b in pairs)
            names = [self._who(view, s) for s in together]
            who = ", ".join(names[:-1]) + " and " + names[-1]
            yield Problem("wire-two-masters", f"{label}: {who} "
                          f"{'both' if len(names) == 2 else 'all'} send adverts", since,
                          instance=instance)
        for a, b in pairs:
            since = max(a.since, b.since)
            if set(map(bare, a.vips)) != set(map(bare, b.vips)) or a.version != b.version:
                yield Problem("wire-vrid-collision", f"{label}: {self._who(view, a)} "
                              f"advertises {_vip_text(a)} (v{a.version}), "
                              f"{self._who(view, b)} {_vip_text(b)} (v{b.version})",
                              since, instance=instance)
            if a.version == b.version == 2 and labels[a.key] != labels[b.key]:
                yield Problem("wire-auth-mismatch", f"{label}: {self._who(view, a)} "
                              f"authenticates with {labels[a.key]}, {self._who(view, b)} "
                              f"with {labels[b.key]}", since, instance=instance)
            if a.interval != b.interval:
                yield Problem("wire-interval-mismatch", f"{label}: {self._who(view, a)} "
                              f"advertises every {a.interval:g} s, {self._who(view, b)} "
                              f"every {b.interval:g} s", since, instance=instance)
        members = view.group_members(group)
        for spk in live:
            if not spk.unicast and spk.ttl != 255:
                yield Problem("wire-ttl", f"{self._who(view, spk)} sends {label} adverts "
                              f"with TTL {spk.ttl}: routed or forged, every receiver drops "
                              "them", spk.since, instance=instance)
            if know_nodes and not self.node_of_address(view, spk.address):
                ours = f" ({instance}'s)" if instance else ""
                yield Problem("wire-unknown-speaker", f"{spk.address} ({spk.mac or 'no MAC'}) "
                              f"sends adverts for VRID {vrid}{ours}: not a node of this "
                              "console", spk.since, instance=instance)
            odd = sorted({m.node for m in members if abs(m.advert_int - spk.interval) > 1e-6
                          and not m.lost})
            if odd:
                yield Problem("wire-interval-mismatch", f"{label}: the wire's master "
                              f"{self._who(view, spk)} advertises every {spk.interval:g} s; "
                              f"{', '.join(odd)} configured for "
                              f"{_interval_list(members, odd)}", spk.since, instance=instance)
        if len(live) == 1:
            yield from self._owner_problems(view, live[0], label, instance, macs, now)

    def _owner_problems(self, view: ClusterView, master: Speaker, label: str, instance: str,
                        macs: dict[str, str], now: float) -> Iterator[Problem]:
        for vip in sorted({bare(v) for v in master.vips}, key=_address_order):
            current = self.answering(vip, now)
            if len(current) != 1 or not master.mac or current[0].mac == master.mac:
                continue
            owner = current[0]
            since = max(master.since, owner.since)
            if now - since < 2 * master.interval + LAG:
                continue  # a takeover's gratuitous ARP may trail its first advert
            yield Problem("wire-arp-owner", f"VIP {vip} is answered by "
                          f"{self._mac_name(owner.mac, macs)}, but {label}'s master on the "
                          f"wire is {self._who(view, master)} ({master.mac})", since,
                          instance=instance, node=macs.get(owner.mac, ""))

    # ------------------------------------------------------------------ names
    def _who(self, view: ClusterView, spk: Speaker) -> str:
        node = self.node_of_address(view, spk.address)
        return f"{spk.address} ({node})" if node else spk.address

    @staticmethod
    def _mac_name(mac: str, macs: dict[str, str]) -> str:
        node = macs.get(mac)
        return f"{mac} ({node})" if node else mac

    @staticmethod
    def _instance_of_group(view: ClusterView, group: GroupKey) -> str:
        members = view.group_members(group)
        return members[0].name if members else ""

    @staticmethod
    def _instance_of_vip(view: ClusterView, vip: str) -> str:
        for inst in view.instances.values():
            if any(bare(v) == vip for v in inst.vips):
                return inst.name
        return ""


def _vip_text(spk: Speaker) -> str:
    return ", ".join(bare(v) for v in spk.vips) or "no VIP"


def _interval_list(members: list[InstanceView], nodes: list[str]) -> str:
    values = sorted({m.advert_int for m in members if m.node in nodes})
    return " / ".join(f"{v:g} s" for v in values)


def _address_order(address: str) -> tuple[int, str]:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (9, address)
    return (ip.version, f"{int(ip):040d}")
