"""VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) advertisement codec and validation. Sans-IO.

What the state machine (instance.py) relies on:
- `Advert`: a decoded advertisement; `advert_int_cs` is always centiseconds
  (v2 carries whole seconds on the wire: 1 s -> 100).
- `encode(advert, src, dst) -> bytes`: the VRRP payload (no IP header), checksum computed
  (v2: over the VRRP packet; v3: with the IPv4/IPv6 pseudo-header).
- `decode(payload, src, dst) -> Advert`: structural decoding; raises `PacketError`.
- `check(advert, expect, *, ttl) -> None`: keepalived's per-instance checks
  (vrrp_check_packet); raises `PacketError`.
- `PacketError.reason` is keepalived's stats counter name.

Wire layout (both versions share the first 8 bytes)::

     0                   1                   2                   3
    |Version| Type  |    VRID       |   Priority    | Count IPvX    |
    v2: | Auth Type |  Adver Int (s) |        Checksum               |
    v3: |Rsvd | Max Adver Int (cs)  |        Checksum               |
    IPvX address(es) ... then, v2 only, 8 bytes of authentication data.

Split of the work: `decode` rejects what is wrong with the packet whatever instance
receives it (length, version, type, checksum); `check` rejects what is wrong for one
instance (TTL, version, VRID, authentication, interval, address list), in keepalived's
order, so the counter that a keepalived would bump is the one named by the error.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

VRRP_PROTO = 112
MCAST_V4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_V6 = ipaddress.IPv6Address("ff02::12")

AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2

VRRP_TTL = 255  # RFC 3768 5.2.3 / RFC 5798 5.1.1.3: sent with TTL/hop limit 255
ADVERT_TYPE = 1  # RFC 3768 5.3.2 / RFC 5798 5.2.2: the only defined type
HEADER_LEN = 8
AUTH_LEN = 8  # v2 only: the authentication data trailer
MAX_ADVERT_INT_CS_V3 = 0x0FFF  # 12 bits of centiseconds (40.95 s)
MAX_ADVERT_INT_S_V2 = 0xFF

AUTH_NAMES = {AUTH_NONE: "none", AUTH_PASS: "PASS", AUTH_AH: "AH"}

# Reasons (PacketError.reason). Most are keepalived's vrrp_stats counters; see the notes.
PACKET_LEN_ERR = "packet_len_err"
VERS_ERR = "vers_err"  # keepalived's SNMP-only counter (vrrp_stats.vers_err)
INVALID_TYPE_RCVD = "invalid_type_rcvd"
CHK_ERR = "chk_err"  # keepalived's SNMP-only counter (vrrp_stats.chk_err)
IP_TTL_ERR = "ip_ttl_err"
VRID_ERR = "vrid_err"  # keepalived demultiplexes by VRID: never counted, just ignored
INVALID_AUTHTYPE = "invalid_authtype"
AUTHTYPE_MISMATCH = "authtype_mismatch"
AUTH_FAILURE = "auth_failure"
ADVERT_INTERVAL_ERR = "advert_interval_err"
ADDR_LIST_ERR = "addr_list_err"
UNICAST_SRC_ERR = "unicast_src_err"  # keepalived logs "not a unicast peer", no counter

# Reasons for which keepalived 2.2.7 drops the packet without bumping any counter shown in
# its JSON/stats dumps (vers_err/chk_err/vrid_err only reach SNMP; advert_interval_err
# exists in the dumps but 2.2.7 never increments it).
UNCOUNTED_REASONS = frozenset({VERS_ERR, CHK_ERR, VRID_ERR, ADVERT_INTERVAL_ERR, UNICAST_SRC_ERR})


class PacketError(Exception):
    """A packet that is counted and dropped. `reason` names keepalived's counter."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Advert:
    """One advertisement. v3 adverts have no authentication (auth_type 0, auth_data b"").

    `auth_data` holds the v2 authentication bytes without their NUL padding (so a decoded
    AUTH_PASS "1111" advert has auth_data b"1111"); `encode` pads back to 8 bytes.
    `legacy_checksum` marks a VRRPv3 IPv4 unicast advert whose checksum was computed with
    224.0.0.18 as pseudo-header destination (keepalived <= 1.3.6; 2.2.7 still accepts it).
    """

    version: int
    vrid: int
    priority: int
    advert_int_cs: int
    addresses: tuple[IPAddress, ...] = ()
    auth_type: int = AUTH_NONE
    auth_data: bytes = field(default=b"", repr=False)  # a password: keep out of logs
    checksum: int | None = None  # as decoded; None when built locally
    legacy_checksum: bool = False


@dataclass(frozen=True)
class Expectation:
    """What an instance expects of adverts for its VRID (keepalived's vrrp_check_packet)."""

    version: int
    vrid: int
    advert_int_cs: int
    family: int  # 4 or 6
    auth_type: int = AUTH_NONE
    auth_pass: bytes = field(default=b"", repr=False)  # configured password, <= 8 bytes
    addresses: frozenset[IPAddress] = frozenset()
    unicast: bool = False
    # keepalived's check_unicast_src: the source must be a unicast peer, and its TTL in
    # the peer's [min_ttl, max_ttl] range (one range for all peers here).
    check_unicast_src: bool = False
    unicast_peers: frozenset[IPAddress] = frozenset()
    unicast_ttl: tuple[int, int] = (0, 255)


class RawHeader(NamedTuple):
    """The fixed 8 bytes read without any validation (for demultiplexing and display)."""

    version: int
    type: int
    vrid: int
    priority: int
    naddr: int  # the Count IPvX Addr field
    word: int  # bytes 4-5: v2 auth type << 8 | adver int; v3 reserved << 12 | max adver int
    checksum: int


_HEADER = struct.Struct("!BBBBHH")
_PSEUDO4 = struct.Struct("!4s4sBBH")
_PSEUDO6 = struct.Struct("!16s16sI3xB")


@lru_cache(maxsize=256)
def _addr_struct(count: int) -> struct.Struct:
    return struct.Struct(f"!{count}I")


@lru_cache(maxsize=4096)
def _v4(value: int) -> ipaddress.IPv4Address:
    # VIP lists repeat every advert interval: caching the objects halves decode time.
    return ipaddress.IPv4Address(value)


@lru_cache(maxsize=4096)
def _v6(packed: bytes) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(packed)


def _sum16(data: bytes) -> int:
    """Sum of 16-bit big-endian words modulo 0xFFFF: the ones'-complement sum, unfolded.

    65536 = 1 (mod 65535), so the integer value of the buffer is congruent to the sum of
    its words; one big-int modulo replaces a Python loop (RFC 1071 arithmetic).
    """
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def _fold(total: int, nonzero: bool) -> int:
    """Ones'-complement sum in 0..0xFFFF from a mod-0xFFFF residue (0 is 0xFFFF unless
    every word was zero)."""
    total %= 0xFFFF
    return 0xFFFF if total == 0 and nonzero else total


def internet_checksum(data: bytes, initial: bytes = b"") -> int:
    """RFC 1071 checksum of `initial` (a pseudo-header, even length) followed by `data`."""
    total = _sum16(initial) + _sum16(data)
    return 0xFFFF - _fold(total, any(initial) or any(data))


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    """RFC 5798 5.2.8: v3 checksums cover the IPv4 (RFC 791) / IPv6 (RFC 8200 8.1)
    pseudo-header."""
    if src.version == 4:
        return _PSEUDO4.pack(src.packed, dst.packed, 0, VRRP_PROTO, length)
    return _PSEUDO6.pack(src.packed, dst.packed, length, VRRP_PROTO)


@lru_cache(maxsize=1024)
def _pseudo_sum(src: IPAddress, dst: IPAddress, length: int) -> int:
    """The pseudo-header's share of a v3 checksum: the same for every advert an instance
    sends or receives, so computed once per (src, dst, length)."""
    return _sum16(_pseudo_header(src, dst, length))


def _checksum_of(payload: bytes, version: int, src: IPAddress, dst: IPAddress) -> int:
    if version == 2:
        return internet_checksum(payload)
    return internet_checksum(payload, _pseudo_header(src, dst, len(payload)))


def _family_pair(src: IPAddress, dst: IPAddress) -> int:
    if src.version != dst.version:
        raise ValueError(f"source {src} and destination {dst} are of different families")
    return src.version


def peek_header(payload: bytes) -> RawHeader | None:
    """The fixed header fields, unvalidated; None when fewer than 8 bytes arrived."""
    if len(payload) < HEADER_LEN:
        return None
    vt, vrid, prio, count, word, cksum = _HEADER.unpack_from(payload)
    return RawHeader(vt >> 4, vt & 0x0F, vrid, prio, count, word, cksum)


def peek_vrid(payload: bytes) -> int | None:
    """The VRID, to pick the instance before decoding (as keepalived does): None when the
    fixed header is incomplete."""
    if len(payload) < HEADER_LEN:
        return None
    return payload[1]


def expected_length(version: int, family: int, count: int) -> int:
    """Length of a VRRP packet with `count` addresses (v2 over IPv4 adds 8 auth bytes)."""
    size = HEADER_LEN + count * (4 if family == 4 else 16)
    if version == 2 and family == 4:
        size += AUTH_LEN
    return size


def encode(advert: Advert, src: IPAddress, dst: IPAddress) -> bytes:
    """The VRRP payload for `advert` sent from `src` to `dst`, checksum computed.

    Raises ValueError for an advert that cannot be put on the wire (a caller's bug, not a
    received packet): fields out of range, mixed address families, v2 over IPv6.
    """
    family = _family_pair(src, dst)
    version = advert.version
    addresses = advert.addresses
    count = len(addresses)
    if not 0 <= advert.vrid <= 255 or not 0 <= advert.priority <= 255:
        raise ValueError("vrid and priority must fit in one byte")
    if count > 255:
        raise ValueError(f"{count} addresses: the count field holds at most 255")
    for addr in addresses:
        if addr.version != family:
            raise ValueError(f"address {addr} is not IPv{family} like the source {src}")
    if version == 2:
        if family != 4:
            raise ValueError("VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6")
        seconds, rest = divmod(advert.advert_int_cs, 100)
        if rest or not 0 <= seconds <= MAX_ADVERT_INT_S_V2:
            raise ValueError(
                f"VRRPv2 advert interval {advert.advert_int_cs} cs is not 0..255 whole seconds"
            )
        if not 0 <= advert.auth_type <= 255 or len(advert.auth_data) > AUTH_LEN:
            raise ValueError("auth type must fit one byte and auth data at most 8 bytes")
        word = advert.auth_type << 8 | seconds
        trailer = advert.auth_data.ljust(AUTH_LEN, b"\0")
    elif version == 3:
        if not 0 <= advert.advert_int_cs <= MAX_ADVERT_INT_CS_V3:
            raise ValueError(f"VRRPv3 advert interval {advert.advert_int_cs} cs exceeds 4095")
        if advert.auth_type != AUTH_NONE or advert.auth_data:
            raise ValueError("VRRPv3 has no authentication (RFC 5798 9.2)")
        word = advert.advert_int_cs
        trailer = b""
    else:
        raise ValueError(f"unknown VRRP version {version}")

    if family == 4:
        body = _addr_struct(count).pack(*(int(a) for a in addresses))
    else:
        body = b"".join(a.packed for a in addresses)
    head = _HEADER.pack(version << 4 | ADVERT_TYPE, advert.vrid, advert.priority, count, word, 0)
    packet = head + body + trailer
    if version == 2:
        cksum = 0xFFFF - _fold(_sum16(packet), True)
    else:
        pseudo_dst: IPAddress = MCAST_V4 if advert.legacy_checksum and family == 4 else dst
        cksum = 0xFFFF - _fold(_pseudo_sum(src, pseudo_dst, len(packet)) + _sum16(packet), True)
    return packet[:6] + cksum.to_bytes(2, "big") + packet[8:]


def decode(
    payload: bytes, src: IPAddress, dst: IPAddress, *, legacy_unicast_checksum: bool = True
) -> Advert:
    """Decode a received VRRP payload (IP header already removed), checking structure.

    Rules, in order (each raises PacketError):
    - packet_len_err: fewer than 8 bytes, or a length other than the one the count field
      implies (RFC 3768 7.1 / RFC 5798 7.1 "MUST verify that the received packet contains
      the complete VRRP packet"). Like keepalived, the layout follows the packet's own
      version, and longer packets are rejected too.
    - vers_err: version neither 2 nor 3, or version 2 over IPv6 (RFC 3768 is IPv4 only).
    - invalid_type_rcvd: type other than 1, ADVERTISEMENT (RFC 3768 5.3.2).
    - chk_err: bad checksum (RFC 3768 5.3.8: over the VRRP packet; RFC 5798 5.2.8: with
      the pseudo-header). keepalived lets the kernel drop bad IPv6 checksums; we check
      both families. With `legacy_unicast_checksum`, a v3 IPv4 advert to a unicast
      address whose checksum only matches with 224.0.0.18 as pseudo-destination is
      accepted and marked `legacy_checksum` (keepalived 2.2.7's default compatibility).
    There is no structural addr_list_err: a count of 0 is legal on the wire (keepalived
    sends it for an instance without VIPs), and the address list is judged per instance.
    """
    family = _family_pair(src, dst)
    size = len(payload)
    if size < HEADER_LEN:
        raise PacketError(PACKET_LEN_ERR, f"{size} bytes, shorter than the 8-byte header")
    vt, vrid, priority, count, word, cksum = _HEADER.unpack_from(payload)
    version = vt >> 4
    expected = expected_length(version, family, count)
    if size != expected:
        raise PacketError(
            PACKET_LEN_ERR,
            f"too {'long' if size > expected else 'short'}: {size} bytes, "
            f"expected {expected} for {count} address(es)",
        )
    if version not in (2, 3):
        raise PacketError(VERS_ERR, f"version {version}, expected 2 or 3")
    if version == 2 and family == 6:
        raise PacketError(VERS_ERR, "VRRPv2 over IPv6 (RFC 3768 is IPv4 only)")
    if vt & 0x0F != ADVERT_TYPE:
        raise PacketError(INVALID_TYPE_RCVD, f"type {vt & 0x0F}, expected {ADVERT_TYPE}")

    # A packet including its checksum sums to 0xFFFF (ones' complement), i.e. to 0
    # modulo 0xFFFF: it cannot be all zeros, its version nibble is not.
    legacy = False
    body_sum = _sum16(payload)
    if version == 2:
        ok = body_sum == 0
    else:
        ok = (_pseudo_sum(src, dst, size) + body_sum) % 0xFFFF == 0
        if (
            not ok
            and legacy_unicast_checksum
            and family == 4
            and not dst.is_multicast
            and (_pseudo_sum(src, MCAST_V4, size) + body_sum) % 0xFFFF == 0
        ):
            ok = legacy = True
    if not ok:
        calc = _checksum_of(payload[:6] + b"\0\0" + payload[8:], version, src, dst)
        raise PacketError(CHK_ERR, f"checksum {cksum:#06x}, expected {calc:#06x}")

    if family == 4:
        addresses: tuple[IPAddress, ...] = tuple(
            _v4(v) for v in _addr_struct(count).unpack_from(payload, HEADER_LEN)
        )
    else:
        addresses = tuple(
            _v6(payload[off : off + 16]) for off in range(HEADER_LEN, HEADER_LEN + 16 * count, 16)
        )
    if version == 2:
        auth_type = word >> 8
        return Advert(
            version=2,
            vrid=vrid,
            priority=priority,
            advert_int_cs=(word & 0xFF) * 100,
            addresses=addresses,
            auth_type=auth_type,
            auth_data=payload[-AUTH_LEN:].rstrip(b"\0"),
            checksum=cksum,
        )
    # RFC 5798 5.2.5: the 4 reserved bits are ignored on receipt.
    return Advert(
        version=3,
        vrid=vrid,
        priority=priority,
        advert_int_cs=word & MAX_ADVERT_INT_CS_V3,
        addresses=addresses,
        checksum=cksum,
        legacy_checksum=legacy,
    )


def check_ttl(ttl: int | None, *, unicast: bool) -> None:
    """ip_ttl_err: multicast adverts MUST arrive with TTL/hop limit 255 (RFC 3768 7.1,
    RFC 5798 7.1), proving they were not routed. keepalived skips the rule for unicast
    instances (see `check` for the unicast peer range) and when the TTL is unknown."""
    if ttl is not None and not unicast and ttl != VRRP_TTL:
        raise PacketError(IP_TTL_ERR, f"TTL {ttl}, expected {VRRP_TTL}")


def check(
    advert: Advert,
    expect: Expectation,
    *,
    ttl: int | None,
    src: IPAddress | None = None,
    dst: IPAddress | None = None,
    check_addresses: bool = True,
) -> None:
    """keepalived's per-instance acceptance checks (vrrp_check_packet), in its order.

    `ttl` is the received TTL/hop limit, None if unknown (keepalived's -1). `dst`
    enables the multicast/unicast destination rule, `src` the unicast peer rule.
    `check_addresses=False` is keepalived's skip_check_adv_addr while the advert comes
    from the master already known: the VIP count and list are not compared.

    Rules (each raises PacketError; all of them make keepalived ignore the advert):
    - vrid_err: VRID other than ours. keepalived never gets this far: it demultiplexes by
      VRID and ignores unknown ones without counting (RFC 3768 7.1 "MUST verify that the
      VRID is configured").
    - ip_ttl_err: see `check_ttl` (RFC 3768 7.1 / RFC 5798 7.1).
    - vers_err: version other than the instance's (RFC 5798 7.1 "MUST verify that the
      version field is 3" / RFC 3768: 2). SNMP-only counter in keepalived.
    - v2 only (RFC 3768 5.3.6, 7.1, 10):
      invalid_authtype: auth type not 0, 1 or 2;
      authtype_mismatch: auth type other than the instance's;
      auth_failure: simple password differs (all 8 NUL-padded bytes compared);
      advert_interval_err: interval other than ours (RFC 3768 7.1 "MUST verify that the
      Adver Interval ... is the same"). keepalived 2.2.7 logs and ignores the advert but
      never increments this counter.
    - VRRPv3 adverts are not checked against our interval: RFC 5798 removed the rule and
      a backup adopts the master's interval as Master_Adver_Interval (RFC 5798 6.4.2),
      which keepalived does when it accepts the advert.
    - addr_list_err: VIP count differs from ours (checked early, RFC 3768 7.1 "MAY verify
      that the IP address(es)"); destination multicast while we are unicast or the
      reverse; one of our VIPs missing from the advert. keepalived drops in all three
      cases, it does not just log: a master whose VIP list differs is not followed.
    - unicast_src_err: with check_unicast_src, a source that is not a unicast peer (no
      counter in keepalived); ip_ttl_err: the peer's TTL outside `unicast_ttl`.
    """
    if advert.vrid != expect.vrid:
        raise PacketError(VRID_ERR, f"VRID {advert.vrid}, expected {expect.vrid}")
    check_ttl(ttl, unicast=expect.unicast)
    if advert.version != expect.version:
        raise PacketError(VERS_ERR, f"version {advert.version}, expected {expect.version}")
    if advert.version == 2:
        if advert.auth_type not in (AUTH_NONE, AUTH_PASS, AUTH_AH):
            raise PacketError(INVALID_AUTHTYPE, f"auth type {advert.auth_type}")
        if advert.auth_type != expect.auth_type:
            raise PacketError(
                AUTHTYPE_MISMATCH,
                f"auth type {_auth_name(advert.auth_type)}, "
                f"expected {_auth_name(expect.auth_type)}",
            )
        if expect.auth_type == AUTH_PASS:
            theirs = advert.auth_data[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
            ours = expect.auth_pass[:AUTH_LEN].ljust(AUTH_LEN, b"\0")
            if len(advert.auth_data) > AUTH_LEN or theirs != ours:
                raise PacketError(AUTH_FAILURE, "wrong password")  # never say which
        elif expect.auth_type == AUTH_AH:
            # The ICV covers the IP header, which the codec never sees.
            raise PacketError(AUTH_FAILURE, "IPsec AH authentication is not supported")
        if advert.advert_int_cs != expect.advert_int_cs:
            raise PacketError(
                ADVERT_INTERVAL_ERR,
                f"interval {advert.advert_int_cs / 100:g} s, "
                f"expected {expect.advert_int_cs / 100:g} s",
            )
    if check_addresses and len(advert.addresses) != len(expect.addresses):
        raise PacketError(
            ADDR_LIST_ERR,
            f"{len(advert.addresses)} address(es), expected {len(expect.addresses)}",
        )
    if dst is not None and dst.is_multicast == expect.unicast:
        raise PacketError(
            ADDR_LIST_ERR,
            f"{'multicast' if dst.is_multicast else 'unicast'} destination {dst} on a "
            f"{'unicast' if expect.unicast else 'multicast'} instance",
        )
    if check_addresses:
        present = set(advert.addresses)
        missing = sorted(str(a) for a in expect.addresses if a not in present)
        if missing:
            raise PacketError(ADDR_LIST_ERR, f"VIP {missing[0]} not in the advert")
        if expect.unicast and expect.check_unicast_src and src is not None:
            if src not in expect.unicast_peers:
                raise PacketError(UNICAST_SRC_ERR, f"source {src} is not a unicast peer")
            low, high = expect.unicast_ttl
            if ttl is not None and not low <= ttl <= high:
                raise PacketError(IP_TTL_ERR, f"TTL {ttl}, expected {low}-{high}")


def _auth_name(auth_type: int) -> str:
    return AUTH_NAMES.get(auth_type, f"type {auth_type}")


def format_interval(advert_int_cs: int) -> str:
    """Seconds, as short as exact: 100 -> "1s", 5 -> "0.05s"."""
    return f"{advert_int_cs / 100:g}s"


def describe(advert: Advert, *, show_secrets: bool = False) -> str:
    """One line for logs and the console; the password only with `show_secrets`."""
    parts = [
        f"VRRPv{advert.version}",
        f"vrid {advert.vrid}",
        f"prio {advert.priority}",
        f"int {format_interval(advert.advert_int_cs)}",
    ]
    if advert.version == 2:
        auth = _auth_name(advert.auth_type)
        if show_secrets and advert.auth_type == AUTH_PASS:
            auth += " " + repr(advert.auth_data.decode("latin-1"))
        parts.append(f"auth {auth}")
    parts.append("vips " + (",".join(str(a) for a in advert.addresses) or "-"))
    return " ".join(parts)
