"""Virtual addresses on real interfaces through netlink (pyroute2).

Why netlink and not `ip addr`: no fork per VIP (a failover moves VIPs in microseconds),
and errors come back as errno values we can tell apart (already there, already gone).

Rules (keepalived's): a VIP is added with its prefix, on its `dev` (default: the
instance's interface), with its `label` (IPv4 only) and scope; IPv6 VIPs get IFA_F_NODAD
so they answer at once rather than after duplicate address detection. Only addresses
that are configured VIPs are ever removed: `remove` deletes exactly (address, prefix,
device) and nothing else, so the node's own addresses are never touched. The stale
cleanup at startup ("removing VIPs.") is the core's `RemoveVips` on every instance start.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any

from haconsole.config import VirtualAddress
from haconsole.net import netlink
from haconsole.net.announce import Announcer

log = logging.getLogger("haconsole.net.vips")

IFA_F_NODAD = 0x02
_SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


def _addr(command: str, args: dict[str, Any]) -> None:
    netlink.call(lambda ipr: ipr.addr(command, **args))


class VipError(Exception):
    """A VIP could not be added or removed; the message names the address and reason."""


class NetlinkVips:
    """Implements net.base.VipManager on the current network namespace."""

    def __init__(self, announcer: Announcer | None = None) -> None:
        self.announcer = announcer if announcer is not None else Announcer()
        self._known: set[str] = set()
        self._index: dict[str, int] = {}
        self.errors: list[str] = []

    def _ifindex(self, dev: str) -> int:
        index = self._index.get(dev)
        if index is None:
            found = netlink.call(lambda ipr: ipr.link_lookup(ifname=dev))
            if not found:
                raise VipError(f"interface {dev!r} does not exist")
            index = self._index[dev] = found[0]
        return index

    def _args(self, vip: VirtualAddress, interface: str) -> dict[str, Any]:
        dev = vip.dev or interface
        args: dict[str, Any] = {
            "index": self._ifindex(dev),
            "address": str(vip.ip),
            "prefixlen": vip.address.network.prefixlen,
        }
        if vip.ip.version == 4:
            args["family"] = socket.AF_INET
            if vip.label:
                args["label"] = vip.label
            if vip.brd is not None:
                args["broadcast"] = str(vip.brd)
        else:
            args["family"] = socket.AF_INET6
        if vip.scope is not None:
            args["scope"] = _SCOPES.get(vip.scope, 0)
        return args

    def add(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        for vip in vips:
            self._known.add(str(vip.ip))
            try:
                args = self._args(vip, interface)
                if vip.ip.version == 6:
                    args["flags"] = IFA_F_NODAD
                _addr("add", args)
            except VipError as err:
                self._fail(f"cannot add VIP {vip}: {err}")
            except Exception as err:  # NetlinkError or OSError
                if netlink.error_code(err) != errno.EEXIST:
                    self._fail(f"cannot add VIP {vip} on {vip.dev or interface}: {err}")

    def remove(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        for vip in vips:
            self._known.add(str(vip.ip))
            try:
                args = self._args(vip, interface)
                _addr("del", args)
            except VipError as err:
                self._fail(f"cannot remove VIP {vip}: {err}")
            except Exception as err:  # NetlinkError or OSError
                if netlink.error_code(err) not in (errno.EADDRNOTAVAIL, errno.ENOENT,
                                                   errno.ESRCH):
                    self._fail(f"cannot remove VIP {vip} from {vip.dev or interface}: {err}")

    def announce(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        self.announcer.announce(vips, interface)

    def present(self) -> set[str]:
        """Every address on the node (VIP or not), as strings."""
        return {
            str(ipaddress.ip_address(msg.get_attr("IFA_ADDRESS")))
            for msg in netlink.call(lambda ipr: list(ipr.get_addr()))
            if msg.get_attr("IFA_ADDRESS")
        }

    def held(self) -> set[str]:
        """The configured VIPs present on the node now (never other addresses)."""
        return self.present() & self._known

    def _fail(self, message: str) -> None:
        self.errors.append(message)
        del self.errors[:-20]
        log.error("%s", message)

    def close(self) -> None:
        self.announcer.close()
