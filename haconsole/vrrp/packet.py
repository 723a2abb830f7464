"""VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) advertisement codec and validation. Sans-IO.

INTERFACE CONTRACT (the instance state machine depends on it; do not rename):
- `Advert`: a decoded advertisement; `advert_int_cs` is always centiseconds
  (v2 carries whole seconds on the wire: 1 s -> 100).
- `encode(advert, src, dst) -> bytes`: the VRRP payload (no IP header), checksum computed
  (v2: over the VRRP packet; v3: with the IPv4/IPv6 pseudo-header).
- `decode(payload, src, dst) -> Advert`: structural decoding; raises `PacketError`.
- `check(advert, expect, *, ttl) -> None`: keepalived's per-instance checks
  (vrrp_check_packet); raises `PacketError`.
- `PacketError.reason` is keepalived's stats counter name.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

VRRP_PROTO = 112
MCAST_V4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_V6 = ipaddress.IPv6Address("ff02::12")

AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2


class PacketError(Exception):
    """A packet that is counted and dropped. `reason` names keepalived's counter."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Advert:
    version: int
    vrid: int
    priority: int
    advert_int_cs: int
    addresses: tuple[IPAddress, ...] = ()
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""
    checksum: int | None = None  # as decoded; None when built locally


@dataclass(frozen=True)
class Expectation:
    """What an instance expects of adverts for its VRID (keepalived's vrrp_check_packet)."""

    version: int
    vrid: int
    advert_int_cs: int
    family: int  # 4 or 6
    auth_type: int = AUTH_NONE
    auth_pass: bytes = b""  # the configured password, already truncated to 8 bytes
    addresses: frozenset[IPAddress] = frozenset()
    unicast: bool = False


def encode(advert: Advert, src: IPAddress, dst: IPAddress) -> bytes:
    raise NotImplementedError


def decode(payload: bytes, src: IPAddress, dst: IPAddress) -> Advert:
    raise NotImplementedError


def check(advert: Advert, expect: Expectation, *, ttl: int) -> None:
    raise NotImplementedError
