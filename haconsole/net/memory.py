"""An in-process L2 segment for labs and tests, with injectable loss, delay and partitions.

Transports attached to a segment deliver each VRRP payload to every other attached
transport of the same family (multicast) or to the one owning the destination address
(unicast), through the asyncio loop so that delivery is asynchronous like a real wire.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Sequence

from haconsole.config import VirtualAddress
from haconsole.net.base import IPAddress, Received, Receiver


class MemorySegment:
    """A broadcast domain shared by several nodes' transports."""

    def __init__(self, *, delay: float = 0.0, loss: float = 0.0, seed: int | None = None) -> None:
        self.delay = delay
        self.loss = loss
        self.rng = random.Random(seed)
        self.transports: list[MemoryTransport] = []
        self.partitioned: set[str] = set()
        self.sent = 0
        self.delivered = 0

    def attach(self, node: str, interface: str, address: str | IPAddress) -> MemoryTransport:
        transport = MemoryTransport(self, node, interface, ipaddress.ip_address(address))
        self.transports.append(transport)
        return transport

    def partition(self, node: str, cut: bool = True) -> None:
        """Cut a node off (it neither sends nor receives) or heal it."""
        if cut:
            self.partitioned.add(node)
        else:
            self.partitioned.discard(node)

    def _carry(self, sender: MemoryTransport, payload: bytes, src: IPAddress,
               dst: IPAddress) -> None:
        self.sent += 1
        if sender.node in self.partitioned:
            return
        loop = asyncio.get_running_loop()
        for peer in self.transports:
            if peer is sender or peer.node in self.partitioned or peer.receiver is None:
                continue
            if peer.family != sender.family:
                continue
            if not dst.is_multicast and dst != peer.address:
                continue
            if self.loss and self.rng.random() < self.loss:
                continue
            packet = Received(payload, src, dst, 255, peer.interface)
            if self.delay > 0:
                loop.call_later(self.delay, peer.deliver, packet)
            else:
                loop.call_soon(peer.deliver, packet)


class MemoryTransport:
    """One node's attachment to a MemorySegment (implements net.base.Transport)."""

    def __init__(self, segment: MemorySegment, node: str, interface: str,
                 address: IPAddress) -> None:
        self.segment = segment
        self.node = node
        self.interface = interface
        self.address = address
        self.family: int = address.version
        self.receiver: Receiver | None = None

    def primary_address(self) -> IPAddress:
        return self.address

    def send(self, payload: bytes, src: IPAddress, dst: IPAddress) -> None:
        self.segment._carry(self, payload, src, dst)

    def set_receiver(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def deliver(self, packet: Received) -> None:
        if self.receiver is not None and self.node not in self.segment.partitioned:
            self.segment.delivered += 1
            self.receiver(packet)

    def close(self) -> None:
        self.receiver = None
        if self in self.segment.transports:
            self.segment.transports.remove(self)


class MemoryVips:
    """VIPs held in memory (implements net.base.VipManager); counts announcements."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self.announced = 0

    def add(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        self._held.update(str(v) for v in vips)

    def remove(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        self._held.difference_update(str(v) for v in vips)

    def announce(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        self.announced += len(vips)

    def held(self) -> set[str]:
        return set(self._held)
