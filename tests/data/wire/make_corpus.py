"""Regenerate the wire corpus: small captures, each showing one thing the wire source must
say (see README.md). Deterministic: fixed times, addresses, MACs and passwords, so the
files only change when this script does.

    .venv/bin/python tests/data/wire/make_corpus.py

Built with scapy's own VRRP, ARP and ICMPv6 layers (not haconsole's encoder), so the
corpus checks the decoder against an independent implementation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from scapy.layers.inet import IP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

HERE = Path(__file__).resolve().parent
T0 = 1795400000.0  # 2026-11-23 02:13:20 UTC
VRID = 51
VIP = "192.0.2.100"
VIP6 = "2001:db8::100"
PASS_A = b"secreta1"  # the pair's password (8 bytes: keepalived's maximum)
PASS_B = b"secretb2"  # the third box's
BROADCAST = "ff:ff:ff:ff:ff:ff"
MCAST_MAC = "01:00:5e:00:00:12"
MCAST6_MAC = "33:33:00:00:00:12"

HOSTS = {  # name: (IPv4, MAC, IPv6 link-local)
    "nginx1": ("192.0.2.11", "02:00:00:00:00:11", "fe80::11"),
    "nginx2": ("192.0.2.12", "02:00:00:00:00:12", "fe80::12"),
    "third": ("192.0.2.200", "02:00:00:00:00:c8", "fe80::c8"),
    "client": ("192.0.2.201", "02:00:00:00:00:c9", "fe80::c9"),
}


def _auth(password: bytes) -> dict[str, int]:
    raw = password.ljust(8, b"\0")
    return {"auth1": int.from_bytes(raw[:4], "big"), "auth2": int.from_bytes(raw[4:], "big")}


def advert(t: float, host: str, *, priority: int, vips: tuple[str, ...] = (VIP,),
           password: bytes | None = PASS_A, interval: int = 1, ttl: int = 255,
           vrid: int = VRID, version: int = 2) -> Packet:
    ip, mac, _ = HOSTS[host]
    frame = Ether(src=mac, dst=MCAST_MAC) / IP(src=ip, dst="224.0.0.18", ttl=ttl, proto=112)
    if version == 2:
        frame /= VRRP(vrid=vrid, priority=priority, adv=interval, addrlist=list(vips),
                      authtype=1 if password else 0, **_auth(password or b""))
    else:
        frame /= VRRPv3(vrid=vrid, priority=priority, adv=interval * 100, addrlist=list(vips))
    frame.time = t
    return frame


def advert6(t: float, host: str, *, priority: int) -> Packet:
    _, mac, link_local = HOSTS[host]
    frame = Ether(src=mac, dst=MCAST6_MAC) / IPv6(src=link_local, dst="ff02::12", hlim=255,
                                                  nh=112) / VRRPv3(
        vrid=VRID, priority=priority, adv=100, addrlist=[VIP6])
    frame.time = t
    return frame


def garp(t: float, host: str, address: str = VIP) -> Packet:
    """A gratuitous ARP (request form, as keepalived sends)."""
    _, mac, _ = HOSTS[host]
    frame = Ether(src=mac, dst=BROADCAST) / ARP(op=1, hwsrc=mac, psrc=address,
                                                hwdst=BROADCAST, pdst=address)
    frame.time = t
    return frame


def who_has(t: float, address: str = VIP) -> Packet:
    ip, mac, _ = HOSTS["client"]
    frame = Ether(src=mac, dst=BROADCAST) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=address)
    frame.time = t
    return frame


def is_at(t: float, host: str, address: str = VIP) -> Packet:
    ip, mac, _ = HOSTS["client"]
    _, host_mac, _ = HOSTS[host]
    frame = Ether(src=host_mac, dst=mac) / ARP(op=2, hwsrc=host_mac, psrc=address,
                                               hwdst=mac, pdst=ip)
    frame.time = t
    return frame


def na(t: float, host: str, *, solicited: bool) -> Packet:
    _, mac, link_local = HOSTS[host]
    frame = Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(
        src=link_local, dst="ff02::1", hlim=255) / ICMPv6ND_NA(
        tgt=VIP6, R=0, S=int(solicited), O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac)
    frame.time = t
    return frame


def ns(t: float) -> Packet:
    _, mac, link_local = HOSTS["client"]
    frame = Ether(src=mac, dst="33:33:ff:00:01:00") / IPv6(
        src=link_local, dst="ff02::1:ff00:100", hlim=255) / ICMPv6ND_NS(tgt=VIP6)
    frame.time = t
    return frame


def master(host: str, start: float, end: float, **kwargs: object) -> list[Packet]:
    """A master's adverts every second from `start` until before `end`."""
    out = []
    t = start
    while t < end:
        out.append(advert(t, host, **kwargs))  # type: ignore[arg-type]
        t += float(kwargs.get("interval", 1))  # type: ignore[arg-type]
    return out


def takeover(host: str, t: float) -> list[Packet]:
    """keepalived's five gratuitous ARPs at once on becoming master."""
    return [garp(t + i * 0.001, host) for i in range(5)]


def asks(start: float, end: float, answer: Callable[[float], list[Packet]]) -> list[Packet]:
    """A client asking for the VIP every 2 s, and whoever answers."""
    out = []
    t = start
    while t < end:
        out += [who_has(t), *answer(t + 0.0005)]
        t += 2.0
    return out


# ------------------------------------------------------------------------------ scenes


def clean() -> list[Packet]:
    """A healthy pair with a clean failover: nginx1 (150) masters, sends priority 0 at
    +20 s, nginx2 (100) takes over 0.61 s later (Skew_Time) and announces the VIP."""
    out = [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 20, priority=150),
           advert(T0 + 20, "nginx1", priority=0)]
    out += [*takeover("nginx2", T0 + 20.61), *master("nginx2", T0 + 20.61, T0 + 40,
                                                      priority=100)]
    out += asks(T0 + 1, T0 + 20, lambda t: [is_at(t, "nginx1")])
    out += asks(T0 + 21, T0 + 40, lambda t: [is_at(t, "nginx2")])
    return out


def auth_mismatch() -> list[Packet]:
    """A third box on the pair's VRID with another password: each side drops the other's
    adverts, so both send (and the third box is nobody the console knows)."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 30, priority=150),
            *master("third", T0 + 5.3, T0 + 30, priority=50, password=PASS_B),
            *asks(T0 + 1, T0 + 30, lambda t: [is_at(t, "nginx1")])]


def vrid_collision() -> list[Packet]:
    """Another team's router reusing VRID 51 for its own VIP (same password, by bad
    luck): two VIP sets on one VRID."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 30, priority=150),
            *master("third", T0 + 5.3, T0 + 30, priority=100, vips=("192.0.2.99",))]


def two_masters() -> list[Packet]:
    """A partition healed at the segment but not in the nodes' heads: nginx1 and nginx2
    both advertise and both answer ARP for the VIP."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 30, priority=150),
            *takeover("nginx2", T0 + 5.2), *master("nginx2", T0 + 5.2, T0 + 30, priority=100),
            *asks(T0 + 6, T0 + 30, lambda t: [is_at(t, "nginx1"), is_at(t + 0.0002, "nginx2")])]


def vip_two_macs() -> list[Packet]:
    """A third host configured with the VIP: it answers ARP for it with its own MAC,
    alongside the master."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 30, priority=150),
            *asks(T0 + 1, T0 + 30, lambda t: [is_at(t, "nginx1")] + (
                [is_at(t + 0.0003, "third")] if t > T0 + 8 else []))]


def arp_owner() -> list[Packet]:
    """nginx1 stops advertising at +10 s but keeps the VIP and answers ARP for it; nginx2
    takes over the adverts 3.6 s later without announcing (its gratuitous ARPs lost):
    clients still go to nginx1."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 10, priority=150),
            *master("nginx2", T0 + 13.6, T0 + 40, priority=100),
            *asks(T0 + 1, T0 + 40, lambda t: [is_at(t, "nginx1")])]


def ttl() -> list[Packet]:
    """Adverts that crossed a router (TTL 64): every receiver must drop them."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 20, priority=150, ttl=64)]


def interval_mismatch() -> list[Packet]:
    """nginx1 advertises every 1 s, nginx2 every 2 s (v2: each drops the other's)."""
    return [*takeover("nginx1", T0), *master("nginx1", T0, T0 + 30, priority=150),
            *master("nginx2", T0 + 4.2, T0 + 30, priority=100, interval=2)]


def ipv6_two_macs() -> list[Packet]:
    """VRRPv3 over IPv6: nginx1 masters 2001:db8::100 (unsolicited NA); nginx2, a backup,
    still answers neighbour solicitations for it."""
    out = [na(T0, "nginx1", solicited=False)]
    out += [advert6(T0 + i, "nginx1", priority=150) for i in range(30)]
    t = T0 + 1
    while t < T0 + 30:
        out += [ns(t), na(t + 0.0005, "nginx1", solicited=True)]
        if t > T0 + 8:
            out.append(na(t + 0.0007, "nginx2", solicited=True))
        t += 2
    return out


def garbage() -> list[Packet]:
    """What a flood or a broken box puts on the wire, around one good advert on a VLAN:
    random frames, truncated and corrupted adverts, a bogus ARP."""
    rng = random.Random(15)
    out: list[Packet] = []
    good = advert(T0, "nginx1", priority=150)
    tagged = Ether(src=HOSTS["nginx1"][1], dst=MCAST_MAC) / Dot1Q(vlan=7) / good[IP]
    tagged.time = T0
    out.append(tagged)
    for i in range(40):
        junk = Raw(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 120))))
        frame = Ether(src="02:00:00:00:00:66", dst=BROADCAST, type=rng.choice(
            [0x0800, 0x86DD, 0x0806, 0x1234])) / junk
        frame.time = T0 + 0.01 * i
        out.append(frame)
    bad_sum = advert(T0 + 1, "nginx1", priority=150)
    bad_sum[VRRP].chksum = 0x1234
    short = advert(T0 + 2, "nginx1", priority=150)
    raw = bytes(short)
    cut = Ether(raw[:14 + 20 + 6])  # IP says more than the frame holds
    cut.time = T0 + 2
    out += [bad_sum, cut]
    bogus = Ether(src="02:00:00:00:00:66", dst=BROADCAST) / ARP(op=7, psrc="0.0.0.0")
    bogus.time = T0 + 3
    out.append(bogus)
    return sorted(out, key=lambda p: float(p.time))


SCENES: dict[str, Callable[[], list[Packet]]] = {
    "clean": clean,
    "auth-mismatch": auth_mismatch,
    "vrid-collision": vrid_collision,
    "two-masters": two_masters,
    "vip-two-macs": vip_two_macs,
    "arp-owner": arp_owner,
    "ttl": ttl,
    "interval-mismatch": interval_mismatch,
    "ipv6-two-macs": ipv6_two_macs,
    "garbage": garbage,
}


def main() -> None:
    for name, scene in SCENES.items():
        packets = sorted(scene(), key=lambda p: float(p.time))
        wrpcap(str(HERE / f"{name}.pcap"), packets)
        print(f"{name}.pcap: {len(packets)} frames")


if __name__ == "__main__":
    main()
