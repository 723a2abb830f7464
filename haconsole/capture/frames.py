"""Captured frames -> VRRP adverts, ARP and IPv6 neighbour advertisements. No I/O.

Why our own link-layer and IP parsing rather than scapy's dissection: a segment under a
flood carries tens of thousands of frames a second, and dissecting each costs ~0.4 ms in
scapy against ~1-2 µs here. The VRRP payload itself is decoded by `haconsole.vrrp.packet`,
the codec the engine uses, so what an observer calls valid is what a node would accept
structurally. ARP and neighbour advertisements matter because they say which MAC answers
for a VIP: the thing clients actually follow, whatever the nodes claim.

Every record keeps the frame's source MAC (`mac`, "" when the link layer has none): it is
how a speaker or an ARP answer is tied to a box.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

from haconsole.vrrp.packet import (
    VRRP_PROTO,
    Advert,
    IPAddress,
    PacketError,
    RawHeader,
    check_ttl,
    decode,
    peek_header,
)

__all__ = [
    "DLT_EN10MB",
    "DLT_LINUX_SLL",
    "DLT_LINUX_SLL2",
    "DLT_RAW",
    "KNOWN_LINKTYPES",
    "ArpRecord",
    "NeighborAdvert",
    "Record",
    "VrrpRecord",
    "decode_frame",
    "decode_ip",
    "ip_of_frame",
]

IPPROTO_AH = 51
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_ADVERT = 136
_IPV6_EXT_HEADERS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options

# Link types (https://www.tcpdump.org/linktypes.html) whose payload we find ourselves.
DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP, DLT_LINUX_SLL = 0, 1, 101, 108, 113
DLT_RAW_ALT = (12, 14)  # DLT_RAW's value on some BSDs
DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2 = 228, 229, 276
KNOWN_LINKTYPES = frozenset({DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP, DLT_LINUX_SLL,
                             DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2, *DLT_RAW_ALT})
ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})
_BROADCAST = b"\xff" * 6


@lru_cache(maxsize=4096)
def mac_text(raw: bytes) -> str:
    """`02:00:5e:00:01:33`; the same few MACs repeat on a segment, so cached."""
    return raw.hex(":")


@lru_cache(maxsize=4096)
def _ip4(raw: bytes) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(raw)


@lru_cache(maxsize=4096)
def _ip6(raw: bytes) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(raw)


@dataclass(frozen=True, slots=True)
class VrrpRecord:
    """One IP protocol-112 packet, decoded or with the reason it is not."""

    time: float  # seconds since the epoch, as captured
    src: IPAddress
    dst: IPAddress
    ttl: int  # IPv4 TTL or IPv6 hop limit
    payload: bytes = field(repr=False)  # the VRRP bytes: may hold a password
    advert: Advert | None = None
    error: PacketError | None = None
    via_ah: bool = False  # IPv4 with an IPsec AH header before VRRP (auth type 2)
    mac: str = ""  # the frame's source MAC ("" when the link layer has none)

    @property
    def valid(self) -> bool:
        return self.advert is not None

    @property
    def header(self) -> RawHeader | None:
        """The fixed header as received, also for packets that failed to decode."""
        return peek_header(self.payload)

    @property
    def warnings(self) -> tuple[PacketError, ...]:
        """What any receiver would reject whatever its configuration: a multicast advert
        whose TTL/hop limit is not 255 (it was routed, or forged)."""
        try:
            check_ttl(self.ttl, unicast=not self.dst.is_multicast)
        except PacketError as err:
            return (err,)
        return ()


@dataclass(frozen=True, slots=True)
class ArpRecord:
    """One ARP packet (Ethernet/IPv4 only)."""

    time: float
    op: int  # 1 request, 2 reply
    sender_mac: str
    sender_ip: ipaddress.IPv4Address
    target_mac: str
    target_ip: ipaddress.IPv4Address
    mac: str = ""  # the frame's source MAC
    broadcast: bool = False  # sent to ff:ff:ff:ff:ff:ff

    @property
    def announcement(self) -> bool:
        """A gratuitous ARP (RFC 5227 announcement, request or reply form): the sender
        tells everyone it holds `sender_ip`, as a new VRRP master does for its VIPs."""
        return self.sender_ip == self.target_ip and int(self.sender_ip) != 0

    @property
    def claims(self) -> bool:
        """The packet says `sender_mac` answers for `sender_ip`: a reply or an
        announcement (requests only ask, and probes come from 0.0.0.0)."""
        return (self.op == 2 and int(self.sender_ip) != 0) or self.announcement


@dataclass(frozen=True, slots=True)
class NeighborAdvert:
    """One ICMPv6 neighbour advertisement: IPv6's ARP reply and gratuitous ARP."""

    time: float
    src: ipaddress.IPv6Address
    dst: ipaddress.IPv6Address
    hop_limit: int
    target: ipaddress.IPv6Address
    target_mac: str  # the target link-layer address option, else the frame's source
    solicited: bool
    override: bool
    router: bool = False
    mac: str = ""  # the frame's source MAC

    @property
    def announcement(self) -> bool:
        """Unsolicited: the IPv6 gratuitous ARP a new master sends for its VIPs."""
        return not self.solicited


Record = VrrpRecord | ArpRecord | NeighborAdvert


def decode_frame(linktype: int, time: float, frame: bytes) -> Record | None:
    """The record in one captured frame; None when it is none of ours or an unknown
    link type (see `capture.pcap` for the scapy fallback on files)."""
    if linktype == DLT_EN10MB:
        if len(frame) < 14:
            return None
        ethertype, offset = (frame[12] << 8) | frame[13], 14
        while ethertype in _VLAN_TAGS:  # 802.1Q / 802.1ad tags
            if len(frame) < offset + 4:
                return None
            ethertype, offset = (frame[offset + 2] << 8) | frame[offset + 3], offset + 4
        mac = mac_text(frame[6:12])
        if ethertype in (ETH_P_IP, ETH_P_IPV6):
            return decode_ip(time, frame[offset:], mac)
        if ethertype == ETH_P_ARP:
            return _arp(time, frame[offset:], mac, frame[0:6] == _BROADCAST)
        return None
    if linktype == DLT_LINUX_SLL:
        if len(frame) < 16:
            return None
        proto, halen = (frame[14] << 8) | frame[15], (frame[4] << 8) | frame[5]
        mac = mac_text(frame[6:6 + halen]) if halen == 6 else ""
        return _by_ethertype(time, proto, frame[16:], mac, frame[0:2] == b"\x00\x01")
    if linktype == DLT_LINUX_SLL2:
        if len(frame) < 20:
            return None
        proto, halen = (frame[0] << 8) | frame[1], frame[11]
        mac = mac_text(frame[12:18]) if halen == 6 else ""
        return _by_ethertype(time, proto, frame[20:], mac, frame[10] == 1)
    packet = ip_of_frame(linktype, frame)
    return decode_ip(time, packet) if packet else None


def _by_ethertype(time: float, proto: int, body: bytes, mac: str,
                  broadcast: bool) -> Record | None:
    if proto in (ETH_P_IP, ETH_P_IPV6):
        return decode_ip(time, body, mac)
    if proto == ETH_P_ARP:
        return _arp(time, body, mac, broadcast)
    return None


def ip_of_frame(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside a captured frame; None if not IP or an unknown link type."""
    if linktype == DLT_EN10MB:
        if len(frame) < 14:
            return None
        offset, ethertype = 14, (frame[12] << 8) | frame[13]
        while ethertype in _VLAN_TAGS:
            ethertype, offset = int.from_bytes(frame[offset + 2 : offset + 4], "big"), offset + 4
        return frame[offset:] if ethertype in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype == DLT_LINUX_SLL:
        proto = int.from_bytes(frame[14:16], "big")
        return frame[16:] if proto in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype == DLT_LINUX_SLL2:
        proto = int.from_bytes(frame[0:2], "big")
        return frame[20:] if proto in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype in (DLT_RAW, *DLT_RAW_ALT, DLT_IPV4, DLT_IPV6):
        return frame
    if linktype in (DLT_NULL, DLT_LOOP):
        return frame[4:]  # a 4-byte address family, then the packet
    return None


def decode_ip(time: float, packet: bytes, mac: str = "") -> VrrpRecord | NeighborAdvert | None:
    """A VRRP record (IPv4/IPv6, also behind AH) or a neighbour advertisement; else None."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _from_ipv4(time, packet, mac)
    if version == 6:
        return _from_ipv6(time, packet, mac)
    return None


def _vrrp(time: float, src: IPAddress, dst: IPAddress, ttl: int, payload: bytes,
          via_ah: bool, mac: str) -> VrrpRecord:
    try:
        advert = decode(payload, src, dst)
    except PacketError as err:
        return VrrpRecord(time, src, dst, ttl, payload, None, err, via_ah, mac)
    return VrrpRecord(time, src, dst, ttl, payload, advert, None, via_ah, mac)


def _from_ipv4(time: float, raw: bytes, mac: str) -> VrrpRecord | None:
    """The VRRP payload of an IPv4 packet (directly or behind AH), else None."""
    if len(raw) < 20:
        return None
    proto = raw[9]
    if proto != VRRP_PROTO and proto != IPPROTO_AH:
        return None
    ihl = (raw[0] & 0x0F) * 4
    total = (raw[2] << 8) | raw[3]
    body = raw[ihl:total]
    via_ah = False
    if proto == IPPROTO_AH:
        # RFC 4302 2.2: payload length is in 32-bit words, minus 2.
        if len(body) < 2 or body[0] != VRRP_PROTO:
            return None
        body = body[(body[1] + 2) * 4 :]
        via_ah = True
    return _vrrp(time, _ip4(raw[12:16]), _ip4(raw[16:20]), raw[8], body, via_ah, mac)


def _from_ipv6(time: float, raw: bytes, mac: str) -> VrrpRecord | NeighborAdvert | None:
    """The VRRP payload or the neighbour advertisement of an IPv6 packet, past any
    hop-by-hop/routing/destination options."""
    if len(raw) < 40:
        return None
    end = 40 + ((raw[4] << 8) | raw[5])
    next_header, offset = raw[6], 40
    while next_header in _IPV6_EXT_HEADERS and offset + 2 <= len(raw):
        next_header, offset = raw[offset], offset + (raw[offset + 1] + 1) * 8
    if next_header == VRRP_PROTO:
        return _vrrp(time, _ip6(raw[8:24]), _ip6(raw[24:40]), raw[7], raw[offset:end],
                     False, mac)
    if next_header == IPPROTO_ICMPV6:
        return _neighbor_advert(time, raw, raw[offset:end], mac)
    return None


def _neighbor_advert(time: float, ip: bytes, icmp: bytes, mac: str) -> NeighborAdvert | None:
    """RFC 4861 4.4: type 136, code 0, flags R S O, the target, then options; option 2
    (target link-layer address) names the MAC that answers for the target."""
    if len(icmp) < 24 or icmp[0] != ND_NEIGHBOR_ADVERT or icmp[1] != 0:
        return None
    flags = icmp[4]
    target_mac = mac
    offset = 24
    while offset + 2 <= len(icmp):
        kind, length = icmp[offset], icmp[offset + 1] * 8
        if length == 0:
            break  # malformed: a zero-length option would loop forever
        if kind == 2 and length >= 8 and offset + 8 <= len(icmp):
            target_mac = mac_text(icmp[offset + 2 : offset + 8])
        offset += length
    return NeighborAdvert(time, _ip6(ip[8:24]), _ip6(ip[24:40]), ip[7], _ip6(icmp[8:24]),
                          target_mac, bool(flags & 0x40), bool(flags & 0x20),
                          bool(flags & 0x80), mac)


def _arp(time: float, body: bytes, mac: str, broadcast: bool) -> ArpRecord | None:
    """Ethernet/IPv4 ARP (htype 1, ptype 0x0800, 6- and 4-byte addresses) only."""
    if len(body) < 28 or body[0:6] != b"\x00\x01\x08\x00\x06\x04":
        return None
    op = (body[6] << 8) | body[7]
    if op not in (1, 2):
        return None
    return ArpRecord(time, op, mac_text(body[8:14]), _ip4(body[14:18]),
                     mac_text(body[18:24]), _ip4(body[24:28]), mac, broadcast)
