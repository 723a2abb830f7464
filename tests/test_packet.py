"""VRRP codec and per-instance checks against keepalived 2.2.7's wire traffic and scapy."""

from __future__ import annotations

import ast
import dataclasses
import ipaddress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap

import haconsole.vrrp.packet as packet_module
from haconsole.vrrp.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    UNCOUNTED_REASONS,
    Advert,
    Expectation,
    IPAddress,
    PacketError,
    check,
    decode,
    describe,
    encode,
    internet_checksum,
    peek_header,
    peek_vrid,
)

DATA = Path(__file__).parent / "data"
VECTORS = DATA / "keepalived-2.2.7-vectors.pcap"

ip = ipaddress.ip_address
NODE = ip("192.0.2.11")
PEER = ip("192.0.2.12")
NODE_LL = ip("fe80::ac30:1cff:fe40:6de6")


@dataclass(frozen=True)
class Wire:
    """One VRRP packet as captured: addresses, TTL/hop limit, and the VRRP bytes."""

    src: IPAddress
    dst: IPAddress
    ttl: int
    payload: bytes


@cache
def vectors() -> tuple[Wire, ...]:
    """VRRP payloads cut out of the capture with scapy, independently of haconsole.watch."""
    out = []
    for frame in rdpcap(str(VECTORS)):
        if IP in frame and frame[IP].proto == 112:
            hdr = frame[IP]
            raw = bytes(hdr)
            out.append(Wire(ip(hdr.src), ip(hdr.dst), hdr.ttl, raw[hdr.ihl * 4 : hdr.len]))
        elif IPv6 in frame and frame[IPv6].nh == 112:
            hdr6 = frame[IPv6]
            raw = bytes(hdr6)
            out.append(Wire(ip(hdr6.src), ip(hdr6.dst), hdr6.hlim, raw[40 : 40 + hdr6.plen]))
    return tuple(out)


def by_vrid(vrid: int) -> list[Wire]:
    return [w for w in vectors() if w.payload[1] == vrid]


V2_VIPS = (ip("192.0.2.16"), ip("192.0.2.17"), ip("192.0.2.18"))


@dataclass(frozen=True)
class Instance:
    """What VECTORS.md says of one instance (VIPs of VI_V3, VI_V3FAST, VI_UNI as captured)."""

    vrid: int
    version: int
    priority: int
    advert_int_cs: int
    addresses: tuple[IPAddress, ...]
    src: IPAddress
    dst: IPAddress
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""

    def advert(self) -> Advert:
        return Advert(
            self.version, self.vrid, self.priority, self.advert_int_cs, self.addresses,
            self.auth_type, self.auth_data,
        )  # fmt: skip

    def expectation(self, **changes: object) -> Expectation:
        exp = Expectation(
            version=self.version, vrid=self.vrid, advert_int_cs=self.advert_int_cs,
            family=self.src.version, auth_type=self.auth_type, auth_pass=self.auth_data,
            addresses=frozenset(self.addresses), unicast=not self.dst.is_multicast,
        )  # fmt: skip
        return dataclasses.replace(exp, **changes)  # type: ignore[arg-type]


DOCUMENTED = {
    "VI_V2": Instance(51, 2, 100, 100, V2_VIPS, NODE, MCAST_V4, AUTH_PASS, b"1111"),
    "VI_V3": Instance(52, 3, 150, 100, (ip("192.0.2.50"),), NODE, MCAST_V4),
    "VI_V6": Instance(53, 3, 120, 100, (ip("2001:db8::100"),), NODE_LL, MCAST_V6),
    "VI_UNI": Instance(54, 2, 110, 100, (ip("192.0.2.54"),), NODE, PEER),
    "VI_V3FAST": Instance(55, 3, 200, 5, (ip("192.0.2.55"),), NODE, MCAST_V4),
}


def expectation_for(name: str, **changes: object) -> Expectation:
    return DOCUMENTED[name].expectation(**changes)


def first(name: str) -> tuple[Wire, Advert]:
    wire = by_vrid(DOCUMENTED[name].vrid)[0]
    return wire, decode(wire.payload, wire.src, wire.dst)


# ---------------------------------------------------------------- keepalived vectors


def test_capture_holds_every_instance() -> None:
    counts = {name: len(by_vrid(doc.vrid)) for name, doc in DOCUMENTED.items()}
    assert all(n >= 4 for n in counts.values()), counts
    assert sum(counts.values()) == len(vectors()) == 144


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_vectors_decode_to_documented_values(name: str) -> None:
    doc = DOCUMENTED[name]
    wires = by_vrid(doc.vrid)
    for wire in wires:
        advert = decode(wire.payload, wire.src, wire.dst)
        assert (wire.src, wire.dst, wire.ttl) == (doc.src, doc.dst, 255)
        # Everything but the priority, which the final advert sets to 0.
        assert dataclasses.replace(advert, priority=doc.priority, checksum=None) == doc.advert()
    priorities = [decode(w.payload, w.src, w.dst).priority for w in wires]
    # keepalived's SIGTERM: one final priority-0 advert per instance, nothing after it.
    assert priorities[-1] == 0
    assert set(priorities[:-1]) == {doc.priority}


def test_v6_vector_comes_from_link_local_to_ff02_12() -> None:
    wire, advert = first("VI_V6")
    assert wire.src.is_link_local and wire.dst == MCAST_V6
    assert advert.addresses == (ip("2001:db8::100"),)


@pytest.mark.parametrize("wire", vectors()[::7] + vectors()[-5:], ids=repr)
def test_vector_checksums_verify(wire: Wire) -> None:
    advert = decode(wire.payload, wire.src, wire.dst)
    assert advert.checksum == int.from_bytes(wire.payload[6:8], "big")
    zeroed = wire.payload[:6] + b"\0\0" + wire.payload[8:]
    if advert.version == 2:
        assert internet_checksum(zeroed) == advert.checksum
    else:
        assert internet_checksum(zeroed, _pseudo(wire)) == advert.checksum


def _pseudo(wire: Wire) -> bytes:
    n = len(wire.payload)
    if wire.src.version == 4:
        return wire.src.packed + wire.dst.packed + bytes([0, 112]) + n.to_bytes(2, "big")
    return wire.src.packed + wire.dst.packed + n.to_bytes(4, "big") + bytes([0, 0, 0, 112])


def test_every_vector_round_trips_byte_identically() -> None:
    for wire in vectors():
        advert = decode(wire.payload, wire.src, wire.dst)
        assert encode(advert, wire.src, wire.dst) == wire.payload


def test_locally_built_adverts_equal_keepalived_bytes() -> None:
    for name, doc in DOCUMENTED.items():
        wire = by_vrid(doc.vrid)[0]
        assert encode(doc.advert(), wire.src, wire.dst) == wire.payload, name


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_vector_passes_its_instance_check(name: str) -> None:
    expect = expectation_for(name)
    for wire in by_vrid(expect.vrid):
        advert = decode(wire.payload, wire.src, wire.dst)
        check(advert, expect, ttl=wire.ttl, src=wire.src, dst=wire.dst)


# ---------------------------------------------------------------- scapy cross-check

SCAPY_CASES = [
    ("v2-pass", NODE, MCAST_V4,
     Advert(2, 51, 100, 100, V2_VIPS, AUTH_PASS, b"1111")),
    ("v2-none-unicast", NODE, PEER, Advert(2, 54, 110, 300, (ip("192.0.2.54"),))),
    ("v2-eight-char-pass", NODE, MCAST_V4,
     Advert(2, 9, 254, 25500, (ip("10.0.0.1"),), AUTH_PASS, b"abcdefgh")),
    ("v3-v4", NODE, MCAST_V4, Advert(3, 52, 150, 100, (ip("192.0.2.50"),))),
    ("v3-v4-fast", NODE, MCAST_V4, Advert(3, 55, 255, 5, (ip("192.0.2.55"),))),
    ("v3-v4-unicast", NODE, PEER, Advert(3, 60, 1, 4095, V2_VIPS)),
    # No 0-address case: scapy only dissects VRRP of 9 bytes or more (the fuzz tests
    # cover count 0 against our own decoder).
    ("v3-v4-20-vips", NODE, MCAST_V4,
     Advert(3, 62, 100, 100, tuple(ip(f"198.51.100.{i}") for i in range(1, 21)))),
    ("v3-v6", NODE_LL, MCAST_V6, Advert(3, 53, 120, 100, (ip("2001:db8::100"),))),
    ("v3-v6-many", NODE_LL, ip("fe80::2"),
     Advert(3, 63, 0, 1, tuple(ip(f"2001:db8::{i:x}") for i in range(1, 9)))),
]  # fmt: skip


def _scapy_ip(src: IPAddress, dst: IPAddress, payload: Packet) -> Packet:
    if src.version == 4:
        return IP(src=str(src), dst=str(dst), ttl=255, proto=112) / payload
    return IPv6(src=str(src), dst=str(dst), hlim=255, nh=112) / payload


@pytest.mark.parametrize(("src", "dst", "advert"), [c[1:] for c in SCAPY_CASES],
                         ids=[c[0] for c in SCAPY_CASES])  # fmt: skip
def test_scapy_decodes_our_bytes_to_the_same_fields(
    src: IPAddress, dst: IPAddress, advert: Advert
) -> None:
    ours = encode(advert, src, dst)
    frame = _scapy_ip(src, dst, Raw(ours))
    dissected = (IP if src.version == 4 else IPv6)(bytes(frame))
    layer = dissected.getlayer(VRRP if advert.version == 2 else VRRPv3)
    assert layer is not None
    assert (layer.version, layer.type, layer.vrid) == (advert.version, 1, advert.vrid)
    assert layer.priority == advert.priority
    assert layer.ipcount == len(advert.addresses)
    assert [ip(a) for a in layer.addrlist] == list(advert.addresses)
    if advert.version == 2:
        assert layer.adv * 100 == advert.advert_int_cs
        assert layer.authtype == advert.auth_type
        auth = layer.auth1.to_bytes(4, "big") + layer.auth2.to_bytes(4, "big")
        assert auth == advert.auth_data.ljust(8, b"\0")
    else:
        assert layer.adv == advert.advert_int_cs and layer.res == 0
    # scapy's own checksum over the same fields (and pseudo-header) equals ours.
    layer.chksum = None
    assert bytes(layer) == ours


@pytest.mark.parametrize(("src", "dst", "advert"), [c[1:] for c in SCAPY_CASES],
                         ids=[c[0] for c in SCAPY_CASES])  # fmt: skip
def test_we_decode_scapy_built_packets(src: IPAddress, dst: IPAddress, advert: Advert) -> None:
    layer: Packet
    if advert.version == 2:
        auth = advert.auth_data.ljust(8, b"\0")
        layer = VRRP(
            vrid=advert.vrid, priority=advert.priority, adv=advert.advert_int_cs // 100,
            authtype=advert.auth_type, addrlist=[str(a) for a in advert.addresses],
            auth1=int.from_bytes(auth[:4], "big"), auth2=int.from_bytes(auth[4:], "big"),
        )  # fmt: skip
    else:
        layer = VRRPv3(
            vrid=advert.vrid, priority=advert.priority, adv=advert.advert_int_cs,
            addrlist=[str(a) for a in advert.addresses],
        )  # fmt: skip
    frame = _scapy_ip(src, dst, layer)
    raw = bytes(frame)
    payload = raw[20:] if src.version == 4 else raw[40:]
    decoded = decode(payload, src, dst)
    assert dataclasses.replace(decoded, checksum=None) == advert
    assert decoded.checksum == int.from_bytes(payload[6:8], "big")


# ---------------------------------------------------------------- decode: structure


def _v2_wire() -> Wire:
    return by_vrid(51)[0]


def _reject(payload: bytes, src: IPAddress, dst: IPAddress, reason: str) -> PacketError:
    with pytest.raises(PacketError) as info:
        decode(payload, src, dst)
    assert info.value.reason == reason, info.value
    return info.value


def _fix_v2_checksum(payload: bytes) -> bytes:
    zeroed = payload[:6] + b"\0\0" + payload[8:]
    return zeroed[:6] + internet_checksum(zeroed).to_bytes(2, "big") + zeroed[8:]


@pytest.mark.parametrize("size", [0, 1, 7])
def test_shorter_than_header_is_packet_len_err(size: int) -> None:
    w = _v2_wire()
    err = _reject(w.payload[:size], w.src, w.dst, "packet_len_err")
    assert "8-byte header" in err.detail


def test_count_not_matching_length_is_packet_len_err() -> None:
    w = _v2_wire()
    err = _reject(w.payload[:-4], w.src, w.dst, "packet_len_err")
    assert err.detail.startswith("too short: 24 bytes, expected 28")
    err = _reject(w.payload + b"\0\0\0\0", w.src, w.dst, "packet_len_err")
    assert err.detail.startswith("too long")
    more = w.payload[:3] + b"\x04" + w.payload[4:]
    _reject(more, w.src, w.dst, "packet_len_err")


def test_v3_with_a_v2_auth_trailer_is_packet_len_err() -> None:
    w = by_vrid(52)[0]
    _reject(w.payload + b"\0" * 8, w.src, w.dst, "packet_len_err")


@pytest.mark.parametrize("version", [0, 1, 4, 15])
def test_unknown_version_is_vers_err(version: int) -> None:
    w = by_vrid(52)[0]  # v3 layout: same length rule as keepalived for non-v2 versions
    bad = bytes([version << 4 | 1]) + w.payload[1:]
    err = _reject(bad, w.src, w.dst, "vers_err")
    assert f"version {version}" in err.detail


def test_v2_over_ipv6_is_vers_err() -> None:
    w = by_vrid(53)[0]
    bad = bytes([0x21]) + w.payload[1:]
    _reject(bad, w.src, w.dst, "vers_err")


def test_non_advertisement_type_is_invalid_type_rcvd() -> None:
    w = _v2_wire()
    bad = _fix_v2_checksum(bytes([0x22]) + w.payload[1:])
    err = _reject(bad, w.src, w.dst, "invalid_type_rcvd")
    assert err.detail == "type 2, expected 1"


@pytest.mark.parametrize("vrid", [51, 52, 53, 54, 55])
def test_corrupted_byte_is_chk_err(vrid: int) -> None:
    w = by_vrid(vrid)[0]
    bad = w.payload[:2] + bytes([w.payload[2] ^ 0x01]) + w.payload[3:]
    err = _reject(bad, w.src, w.dst, "chk_err")
    assert err.detail.startswith("checksum 0x")


def test_v3_checksum_covers_the_pseudo_header() -> None:
    w = by_vrid(52)[0]
    _reject(w.payload, ip("192.0.2.99"), w.dst, "chk_err")
    w6 = by_vrid(53)[0]
    _reject(w6.payload, w6.src, ip("ff02::1"), "chk_err")
    # v2's checksum has no pseudo-header: the same bytes verify from anywhere.
    v2 = _v2_wire()
    decode(v2.payload, ip("198.51.100.1"), ip("198.51.100.2"))


def test_legacy_v3_unicast_checksum_is_accepted_and_kept() -> None:
    """keepalived <= 1.3.6 summed v3 unicast adverts as if sent to 224.0.0.18; 2.2.7
    still accepts them (and then sends that way itself)."""
    advert = Advert(3, 54, 110, 100, (ip("192.0.2.54"),), legacy_checksum=True)
    old_style = encode(advert, NODE, PEER)
    assert old_style == encode(dataclasses.replace(advert, legacy_checksum=False), NODE, MCAST_V4)
    decoded = decode(old_style, NODE, PEER)
    assert decoded.legacy_checksum
    assert encode(decoded, NODE, PEER) == old_style
    with pytest.raises(PacketError) as info:
        decode(old_style, NODE, PEER, legacy_unicast_checksum=False)
    assert info.value.reason == "chk_err"
    # Never for multicast destinations, where there is no ambiguity.
    _reject(encode(advert, NODE, PEER), NODE, ip("224.0.0.19"), "chk_err")


def test_decode_rejects_mixed_families() -> None:
    with pytest.raises(ValueError):
        decode(_v2_wire().payload, NODE, MCAST_V6)


def test_peek_header_and_vrid() -> None:
    w = _v2_wire()
    assert peek_vrid(w.payload) == 51
    assert peek_vrid(w.payload[:7]) is None
    header = peek_header(w.payload)
    assert header is not None
    assert (header.version, header.type, header.vrid, header.priority, header.naddr) == (
        2, 1, 51, 100, 3,
    )  # fmt: skip
    assert header.word == AUTH_PASS << 8 | 1
    assert peek_header(b"\x21") is None


# ---------------------------------------------------------------- encode: caller errors


@pytest.mark.parametrize(
    ("advert", "src", "dst", "message"),
    [
        (Advert(2, 1, 100, 100, (ip("2001:db8::1"),)), NODE_LL, MCAST_V6, "IPv4 only"),
        (Advert(2, 1, 100, 150, ()), NODE, MCAST_V4, "whole seconds"),
        (Advert(2, 1, 100, 25600, ()), NODE, MCAST_V4, "whole seconds"),
        (Advert(3, 1, 100, 4096, ()), NODE, MCAST_V4, "exceeds 4095"),
        (Advert(3, 1, 100, 100, (), AUTH_PASS, b"x"), NODE, MCAST_V4, "no authentication"),
        (Advert(2, 1, 100, 100, (), AUTH_PASS, b"123456789"), NODE, MCAST_V4, "8 bytes"),
        (Advert(3, 256, 100, 100, ()), NODE, MCAST_V4, "one byte"),
        (Advert(3, 1, 100, 100, (ip("2001:db8::1"),)), NODE, MCAST_V4, "not IPv4"),
        (Advert(3, 1, 100, 100, ()), NODE, MCAST_V6, "different families"),
        (Advert(4, 1, 100, 100, ()), NODE, MCAST_V4, "unknown VRRP version"),
        (Advert(3, 1, 100, 100, (ip("10.0.0.1"),) * 256), NODE, MCAST_V4, "at most 255"),
    ],
)
def test_encode_refuses_what_cannot_be_sent(
    advert: Advert, src: IPAddress, dst: IPAddress, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode(advert, src, dst)


# ---------------------------------------------------------------- check: per instance


def _rejected(advert: Advert, expect: Expectation, reason: str, **kw: object) -> PacketError:
    kw.setdefault("ttl", 255)
    with pytest.raises(PacketError) as info:
        check(advert, expect, **kw)  # type: ignore[arg-type]
    assert info.value.reason == reason, info.value
    return info.value


def test_check_ttl_must_be_255_for_multicast() -> None:
    _, advert = first("VI_V2")
    err = _rejected(advert, expectation_for("VI_V2"), "ip_ttl_err", ttl=64)
    assert err.detail == "TTL 64, expected 255"
    _, advert6 = first("VI_V6")
    _rejected(advert6, expectation_for("VI_V6"), "ip_ttl_err", ttl=1)
    # An unknown TTL (keepalived's -1: no hop-limit ancillary data) is not checked.
    check(advert, expectation_for("VI_V2"), ttl=None)


def test_check_ttl_is_not_required_for_unicast_instances() -> None:
    wire, advert = first("VI_UNI")
    check(advert, expectation_for("VI_UNI"), ttl=62, src=wire.src, dst=wire.dst)


def test_check_unicast_source_and_ttl_range_when_asked() -> None:
    wire, advert = first("VI_UNI")
    expect = expectation_for(
        "VI_UNI", check_unicast_src=True, unicast_peers=frozenset({NODE}), unicast_ttl=(250, 255)
    )
    check(advert, expect, ttl=255, src=wire.src, dst=wire.dst)
    err = _rejected(advert, expect, "ip_ttl_err", ttl=64, src=wire.src, dst=wire.dst)
    assert err.detail == "TTL 64, expected 250-255"
    stranger = ip("192.0.2.66")
    _rejected(advert, expect, "unicast_src_err", src=stranger, dst=wire.dst)


def test_check_vrid_mismatch() -> None:
    _, advert = first("VI_V2")
    err = _rejected(advert, expectation_for("VI_V2", vrid=52), "vrid_err")
    assert err.detail == "VRID 51, expected 52"


def test_check_version_mismatch() -> None:
    _, advert = first("VI_V3")
    err = _rejected(advert, expectation_for("VI_V3", version=2), "vers_err")
    assert err.detail == "version 3, expected 2"


def test_check_ttl_comes_before_version_as_in_keepalived() -> None:
    _, advert = first("VI_V3")
    _rejected(advert, expectation_for("VI_V3", version=2), "ip_ttl_err", ttl=64)


def test_check_invalid_auth_type() -> None:
    _, advert = first("VI_UNI")
    weird = dataclasses.replace(advert, auth_type=3)
    _rejected(weird, expectation_for("VI_UNI"), "invalid_authtype")


def test_check_auth_type_mismatch_both_ways() -> None:
    _, pass_advert = first("VI_V2")
    err = _rejected(pass_advert, expectation_for("VI_V2", auth_type=AUTH_NONE), "authtype_mismatch")
    assert err.detail == "auth type PASS, expected none"
    wire, none_advert = first("VI_UNI")
    expect = expectation_for("VI_UNI", auth_type=AUTH_PASS, auth_pass=b"1111")
    _rejected(none_advert, expect, "authtype_mismatch", dst=wire.dst)


def test_check_wrong_password_is_auth_failure_and_never_shown() -> None:
    _, advert = first("VI_V2")
    err = _rejected(advert, expectation_for("VI_V2", auth_pass=b"2222"), "auth_failure")
    assert "1111" not in str(err) and "2222" not in str(err)
    # All 8 bytes count: a prefix of the password is not the password.
    _rejected(advert, expectation_for("VI_V2", auth_pass=b"11111"), "auth_failure")
    _rejected(advert, expectation_for("VI_V2", auth_pass=b"111"), "auth_failure")


def test_check_password_compares_the_first_eight_bytes() -> None:
    """keepalived keeps 8 bytes of a longer auth_pass; both ends truncate alike."""
    long_pass = Advert(2, 51, 100, 100, V2_VIPS, AUTH_PASS, b"secretpa")
    expect = expectation_for("VI_V2", auth_pass=b"secretpa")
    check(long_pass, expect, ttl=255)


def test_check_ah_is_not_verifiable_without_the_ip_header() -> None:
    _, advert = first("VI_V2")
    ah = dataclasses.replace(advert, auth_type=AUTH_AH, auth_data=b"")
    _rejected(ah, expectation_for("VI_V2", auth_type=AUTH_AH), "auth_failure")


def test_check_v2_interval_must_equal_ours() -> None:
    _, advert = first("VI_V2")
    err = _rejected(advert, expectation_for("VI_V2", advert_int_cs=200), "advert_interval_err")
    assert err.detail == "interval 1 s, expected 2 s"
    assert "advert_interval_err" in UNCOUNTED_REASONS  # keepalived 2.2.7 never counts it


def test_check_v3_interval_is_not_compared() -> None:
    """RFC 5798 6.4.2: a backup learns Master_Adver_Interval from the advert."""
    wire, advert = first("VI_V3FAST")
    check(advert, expectation_for("VI_V3FAST", advert_int_cs=100), ttl=255, dst=wire.dst)


def test_check_vip_count_mismatch_is_addr_list_err() -> None:
    _, advert = first("VI_V2")
    expect = expectation_for("VI_V2", addresses=frozenset(V2_VIPS[:2]))
    err = _rejected(advert, expect, "addr_list_err")
    assert err.detail == "3 address(es), expected 2"


def test_check_missing_vip_is_addr_list_err() -> None:
    _, advert = first("VI_V2")
    expect = expectation_for("VI_V2", addresses=frozenset({*V2_VIPS[:2], ip("192.0.2.19")}))
    err = _rejected(advert, expect, "addr_list_err")
    assert err.detail == "VIP 192.0.2.19 not in the advert"


def test_check_addresses_false_skips_vip_comparison() -> None:
    """keepalived's skip_check_adv_addr, for adverts from the master already known."""
    _, advert = first("VI_V2")
    expect = expectation_for("VI_V2", addresses=frozenset({ip("192.0.2.99")}))
    check(advert, expect, ttl=255, check_addresses=False)


def test_check_multicast_on_unicast_instance_is_addr_list_err() -> None:
    _, advert = first("VI_UNI")
    err = _rejected(advert, expectation_for("VI_UNI"), "addr_list_err", dst=MCAST_V4)
    assert "multicast destination" in err.detail
    _, advert2 = first("VI_V2")
    _rejected(advert2, expectation_for("VI_V2"), "addr_list_err", dst=PEER)


# ---------------------------------------------------------------- hygiene


def test_password_stays_out_of_repr_and_describe() -> None:
    _, advert = first("VI_V2")
    assert "1111" not in repr(advert)
    assert "1111" not in repr(expectation_for("VI_V2"))
    assert "1111" not in describe(advert)
    assert "auth PASS" in describe(advert)
    assert "'1111'" in describe(advert, show_secrets=True)
    assert describe(first("VI_V3FAST")[1]) == "VRRPv3 vrid 55 prio 200 int 0.05s vips 192.0.2.55"


def test_packet_module_is_sans_io() -> None:
    """No sockets, event loops or clocks in the codec (the DESIGN's vrrp/ rule)."""
    forbidden = {"socket", "asyncio", "time", "datetime", "select", "selectors", "threading"}
    tree = ast.parse(Path(packet_module.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & forbidden
