"""What a VRRP instance asks its runtime to do. Returned by the sans-IO core, executed above it.

The core never performs I/O: each input method returns a list of these values, in the order
the runtime must carry them out (keepalived's order: advert first, then VIPs, then GARP).
Imperatives (SendAdvert, AddVips, ...) ask for an effect; past participles (StateChanged,
AdvertAccepted, ...) report what the core decided, which runtimes publish as
`cluster.events` through `haconsole.engine.publish`, the one translation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from haconsole.config import VirtualAddress
from haconsole.vrrp.packet import Advert
from haconsole.vrrp.state import State

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class SendAdvert:
    """Send `advert` from `src` to each destination (multicast group or unicast peers)."""

    advert: Advert
    src: IPAddress
    destinations: tuple[IPAddress, ...]


@dataclass(frozen=True)
class AddVips:
    vips: tuple[VirtualAddress, ...]
    interface: str


@dataclass(frozen=True)
class RemoveVips:
    vips: tuple[VirtualAddress, ...]
    interface: str


@dataclass(frozen=True)
class Announce:
    """Send `repeat` gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for each VIP."""

    vips: tuple[VirtualAddress, ...]
    interface: str
    repeat: int


@dataclass(frozen=True)
class StateChanged:
    """The instance went from `old` to `new` (published as a cluster Transition event)."""

    old: State
    new: State
    reason: str


@dataclass(frozen=True)
class EffectivePriorityChanged:
    """Tracking moved the effective priority (published as a PriorityChange event)."""

    old: int
    new: int
    cause: str


@dataclass(frozen=True)
class AdvertAccepted:
    """A valid advert for this instance arrived (whatever the state machine made of it)."""

    src: IPAddress
    priority: int


@dataclass(frozen=True)
class PacketRejected:
    """A packet for this instance failed validation: counted under `reason` (keepalived's
    counter name) and discarded (published as a PacketDropped event)."""

    src: IPAddress
    reason: str
    detail: str


@dataclass(frozen=True)
class Log:
    """A log line in keepalived's wording (no timestamp: the runtime adds it)."""

    message: str


Action = (
    SendAdvert
    | AddVips
    | RemoveVips
    | Announce
    | StateChanged
    | EffectivePriorityChanged
    | AdvertAccepted
    | PacketRejected
    | Log
)
