"""Gratuitous ARP (IPv4 VIPs) and unsolicited Neighbour Advertisements (IPv6 VIPs).

Why: when a VIP moves, switches and neighbours still map it to the old master's MAC;
an announcement re-points them at once instead of after their cache times out.

The frames are byte-for-byte what keepalived 2.2.7 sends (checked against the reference
capture): an ARP *request* broadcast whose sender and target are both the VIP, and an
ICMPv6 NA from the VIP to ff02::1 with hop limit 255, Override set, Solicited and Router
clear, and the target link-layer address option. scapy builds them once per VIP and
interface; an AF_PACKET socket bound to the interface sends them without blocking.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any

from haconsole.config import VirtualAddress
from haconsole.net import netlink

log = logging.getLogger("haconsole.net.announce")

ETH_P_ALL = 0x0003


def garp_frame(mac: str, address: ipaddress.IPv4Address) -> bytes:
    """keepalived's gratuitous ARP: who-has VIP tell VIP, from `mac`, broadcast."""
    from scapy.layers.l2 import ARP, Ether

    frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(
        op=1, hwsrc=mac, psrc=str(address), hwdst="ff:ff:ff:ff:ff:ff", pdst=str(address)
    )
    return bytes(frame)


def na_frame(mac: str, address: ipaddress.IPv6Address) -> bytes:
    """keepalived's unsolicited NA for `address` (RFC 4861 7.2.6), to all nodes."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    frame = (
        Ether(dst="33:33:00:00:00:01", src=mac)
        / IPv6(src=str(address), dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=str(address), R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=mac)
    )
    return bytes(frame)


def interface_mac(interface: str) -> str:
    """The interface's MAC address via netlink (sysfs may belong to another namespace)."""

    def lookup(ipr: Any) -> str:
        links = ipr.link_lookup(ifname=interface)
        if not links:
            raise OSError(f"interface {interface!r} does not exist")
        return str(ipr.get_links(links[0])[0].get_attr("IFLA_ADDRESS"))

    return netlink.call(lookup)


class Announcer:
    """Sends GARP / NA frames on AF_PACKET sockets, one per interface, frames cached."""

    def __init__(self) -> None:
        self._socks: dict[str, socket.socket] = {}
        self._macs: dict[str, str] = {}
        self._frames: dict[tuple[str, object], bytes] = {}
        self.sent = 0
        self.errors = 0

    def _socket(self, interface: str) -> socket.socket:
        sock = self._socks.get(interface)
        if sock is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            sock.setblocking(False)
            sock.bind((interface, 0))
            self._socks[interface] = sock
        return sock

    def frame(self, vip: VirtualAddress, interface: str) -> bytes:
        key = (interface, vip.ip)
        frame = self._frames.get(key)
        if frame is None:
            mac = self._macs.get(interface)
            if mac is None:
                mac = self._macs[interface] = interface_mac(interface)
            ip = vip.ip
            frame = garp_frame(mac, ip) if isinstance(ip, ipaddress.IPv4Address) \
                else na_frame(mac, ip)
            self._frames[key] = frame
        return frame

    def prepare(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        """Build the frames and open the sockets now, so the first announcement after a
        takeover costs a send, not a scapy import and a netlink round trip."""
        for vip in vips:
            dev = vip.dev or interface
            try:
                self._socket(dev)
                self.frame(vip, dev)
            except OSError as err:
                log.warning("cannot prepare announcements for %s on %s: %s", vip, dev, err)

    def announce(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        """One GARP / NA per VIP, on the VIP's `dev` or else `interface`."""
        for vip in vips:
            dev = vip.dev or interface
            try:
                self._socket(dev).send(self.frame(vip, dev))
                self.sent += 1
            except OSError as err:
                self.errors += 1
                if self.errors <= 3:
                    log.warning("cannot announce %s on %s: %s", vip, dev, err)

    def close(self) -> None:
        for sock in self._socks.values():
            with contextlib.suppress(OSError):
                sock.close()
        self._socks.clear()
