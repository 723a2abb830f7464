"""Interfaces between the engine and the network: how adverts travel, how VIPs are held.

Two families of implementations: in-memory (haconsole.net.memory, for labs and tests) and
real Linux (raw IP protocol 112 sockets, pyroute2 netlink, AF_PACKET GARP/NA). The engine
only sees these protocols.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from haconsole.config import VirtualAddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Received:
    """One VRRP packet as it came off the wire (IP header already stripped)."""

    payload: bytes
    src: IPAddress
    dst: IPAddress
    ttl: int
    interface: str
    # When the kernel queued it, on the event loop's clock (raw sockets stamp packets),
    # or None: the engine's timers then run from the time it handles the packet.
    at: float | None = None


Receiver = Callable[[Received], None]


class Transport(Protocol):
    """Sends and receives VRRP payloads on one interface and address family.

    One transport is shared by every instance on that interface/family (keepalived's
    "sockpool"); the engine demultiplexes received packets by VRID.
    """

    interface: str
    family: int  # 4 or 6

    def primary_address(self) -> IPAddress:
        """The address adverts are sent from unless an instance configures one."""

    def send(self, payload: bytes, src: IPAddress, dst: IPAddress) -> None:
        """Send one VRRP payload with TTL/hop limit 255. Never blocks."""

    def set_receiver(self, receiver: Receiver) -> None:
        """Register the callback for every packet received."""

    def close(self) -> None: ...


class VipManager(Protocol):
    """Adds, removes and announces virtual addresses on a node."""

    def add(self, vips: Sequence[VirtualAddress], interface: str) -> None: ...

    def remove(self, vips: Sequence[VirtualAddress], interface: str) -> None: ...

    def announce(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        """Send one gratuitous ARP (IPv4) / unsolicited NA (IPv6) per VIP."""

    def held(self) -> set[str]:
        """The VIPs (as address strings) currently present on the node."""
