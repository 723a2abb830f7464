"""Property tests: the decoder only ever fails with PacketError, and the codec round-trips.

A receiver parses whatever arrives on proto 112; any other exception would be a crash
reachable from the wire.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap

from haconsole.vrrp.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    Advert,
    Expectation,
    IPAddress,
    PacketError,
    check,
    decode,
    encode,
)

VECTORS = Path(__file__).parent / "data" / "keepalived-2.2.7-vectors.pcap"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def vector_payloads() -> tuple[tuple[IPAddress, IPAddress, bytes], ...]:
    """The distinct VRRP payloads of the keepalived capture, with their addresses."""
    seen: dict[bytes, tuple[IPAddress, IPAddress, bytes]] = {}
    for frame in rdpcap(str(VECTORS)):
        if IP in frame and frame[IP].proto == 112:
            hdr = frame[IP]
            body = bytes(hdr)[hdr.ihl * 4 : hdr.len]
        elif IPv6 in frame and frame[IPv6].nh == 112:
            hdr = frame[IPv6]
            body = bytes(hdr)[40 : 40 + hdr.plen]
        else:
            continue
        src, dst = ipaddress.ip_address(hdr.src), ipaddress.ip_address(hdr.dst)
        seen.setdefault(body, (src, dst, body))
    return tuple(seen.values())


def decodes_or_packet_error(payload: bytes, src: IPAddress, dst: IPAddress) -> Advert | None:
    """Decode; PacketError is the only acceptable failure (pytest reports any other)."""
    try:
        advert = decode(payload, src, dst)
    except PacketError as err:
        assert err.reason and isinstance(err.detail, str)
        return None
    # Whatever decodes re-encodes to something that decodes to the same advert.
    again = decode(encode(advert, src, dst), src, dst)
    assert dataclasses.replace(again, checksum=None) == dataclasses.replace(advert, checksum=None)
    return advert


@st.composite
def mutated_vectors(draw: st.DrawFn) -> tuple[IPAddress, IPAddress, bytes]:
    src, dst, payload = draw(st.sampled_from(vector_payloads()))
    data = bytearray(payload)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "extend", "count"]))
        if kind == "flip" and data:
            bit = draw(st.integers(0, len(data) * 8 - 1))
            data[bit // 8] ^= 1 << (bit % 8)
        elif kind == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        elif kind == "extend":
            data += draw(st.binary(min_size=1, max_size=40))
        elif kind == "count" and len(data) > 3:
            data[3] = draw(st.integers(0, 255))  # the field the length rule depends on
    return src, dst, bytes(data)


@FUZZ
@given(mutated_vectors())
def test_mutated_vectors_only_raise_packet_error(case: tuple[IPAddress, IPAddress, bytes]) -> None:
    decodes_or_packet_error(case[2], case[0], case[1])


ADDR_PAIRS = st.sampled_from(
    [
        (ipaddress.ip_address("192.0.2.11"), MCAST_V4),
        (ipaddress.ip_address("192.0.2.11"), ipaddress.ip_address("192.0.2.12")),
        (ipaddress.ip_address("fe80::1"), MCAST_V6),
        (ipaddress.ip_address("fe80::1"), ipaddress.ip_address("fe80::2")),
    ]
)


@FUZZ
@given(ADDR_PAIRS, st.binary(max_size=120))
def test_random_bytes_only_raise_packet_error(
    pair: tuple[IPAddress, IPAddress], payload: bytes
) -> None:
    decodes_or_packet_error(payload, *pair)


@FUZZ
@given(ADDR_PAIRS, st.integers(0, 255), st.integers(0, 8), st.binary(min_size=7, max_size=7))
def test_plausible_headers_only_raise_packet_error(
    pair: tuple[IPAddress, IPAddress], first_byte: int, count: int, rest: bytes
) -> None:
    """Random bytes rarely get past the length rule; these do, to reach the later rules."""
    size = 8 + count * (4 if pair[0].version == 4 else 16) + (8 if first_byte >> 4 == 2 else 0)
    body = bytes([first_byte]) + rest[:2] + bytes([count]) + rest[3:]
    decodes_or_packet_error(body.ljust(size, b"\x5a"), *pair)


def _v4() -> st.SearchStrategy[IPAddress]:
    return st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))


def _v6() -> st.SearchStrategy[IPAddress]:
    return st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))


@st.composite
def valid_adverts(draw: st.DrawFn) -> tuple[Advert, IPAddress, IPAddress]:
    """Any advert keepalived could send: v2 (IPv4 only) or v3, IPv4 or IPv6, 0..20 VIPs."""
    version = draw(st.sampled_from([2, 3]))
    family = 4 if version == 2 else draw(st.sampled_from([4, 6]))
    addr = _v4() if family == 4 else _v6()
    src = draw(addr)
    dst = draw(st.one_of(st.just(MCAST_V4 if family == 4 else MCAST_V6), addr))
    addresses = tuple(draw(st.lists(addr, max_size=20)))
    vrid, priority = draw(st.integers(0, 255)), draw(st.integers(0, 255))
    if version == 2:
        auth_type = draw(st.sampled_from([AUTH_NONE, AUTH_PASS, AUTH_AH, 7]))
        secret = draw(st.binary(max_size=8)).rstrip(b"\0")
        advert = Advert(
            2, vrid, priority, draw(st.integers(0, 255)) * 100, addresses, auth_type, secret
        )
    else:
        legacy = family == 4 and not dst.is_multicast and draw(st.booleans())
        advert = Advert(
            3, vrid, priority, draw(st.integers(0, 4095)), addresses, legacy_checksum=legacy
        )
    return advert, src, dst


@FUZZ
@example((Advert(3, 0, 0, 0, (), legacy_checksum=True), ipaddress.IPv4Address("0.0.0.0"),
          ipaddress.IPv4Address("3.34.220.240")))  # both checksums equal (found by CI)
@given(valid_adverts())
def test_encode_decode_round_trip(case: tuple[Advert, IPAddress, IPAddress]) -> None:
    advert, src, dst = case
    wire = encode(advert, src, dst)
    decoded = decode(wire, src, dst)
    # A unicast dst whose 16-bit words sum like 224.0.0.18's (3.34.220.240 does) gives the
    # legacy and the RFC checksum the same value: the bytes cannot say which was meant,
    # and the decoder reads them as RFC.
    legacy = advert.legacy_checksum and encode(
        dataclasses.replace(advert, legacy_checksum=False), src, dst) != wire
    assert decoded == dataclasses.replace(advert, checksum=decoded.checksum,
                                          legacy_checksum=legacy)
    assert encode(decoded, src, dst) == wire


@settings(max_examples=60, deadline=None)
@given(valid_adverts())
def test_scapy_agrees_on_generated_adverts(case: tuple[Advert, IPAddress, IPAddress]) -> None:
    """scapy recomputes the same checksum over our fields (and pseudo-header)."""
    advert, src, dst = case
    if advert.legacy_checksum or not advert.addresses:
        return  # scapy knows neither the legacy sum nor VRRP packets under 9 bytes
    wire = encode(advert, src, dst)
    ip: Packet
    if src.version == 4:
        ip = IP(bytes(IP(src=str(src), dst=str(dst), proto=112) / Raw(wire)))
    else:
        ip = IPv6(bytes(IPv6(src=str(src), dst=str(dst), nh=112) / Raw(wire)))
    layer = ip.getlayer(VRRP if advert.version == 2 else VRRPv3)
    assert layer is not None
    assert [ipaddress.ip_address(a) for a in layer.addrlist] == list(advert.addresses)
    layer.chksum = None
    assert bytes(layer) == wire


@st.composite
def expectations(draw: st.DrawFn) -> Expectation:
    return Expectation(
        version=draw(st.sampled_from([2, 3])),
        vrid=draw(st.integers(0, 255)),
        advert_int_cs=draw(st.integers(0, 4095)),
        family=draw(st.sampled_from([4, 6])),
        auth_type=draw(st.sampled_from([AUTH_NONE, AUTH_PASS, AUTH_AH])),
        auth_pass=draw(st.binary(max_size=8)),
        addresses=frozenset(draw(st.lists(_v4(), max_size=3))),
        unicast=draw(st.booleans()),
        check_unicast_src=draw(st.booleans()),
    )


@FUZZ
@given(valid_adverts(), expectations(), st.one_of(st.none(), st.integers(0, 255)), st.booleans())
def test_check_only_raises_packet_error(
    case: tuple[Advert, IPAddress, IPAddress], expect: Expectation, ttl: int | None, full: bool
) -> None:
    advert, src, dst = case
    try:
        check(advert, expect, ttl=ttl, src=src, dst=dst, check_addresses=full)
    except PacketError as err:
        assert err.reason
