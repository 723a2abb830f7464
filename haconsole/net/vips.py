"""Virtual addresses on real interfaces through netlink (pyroute2).

Why netlink and not `ip addr`: no fork per VIP (a failover moves VIPs in microseconds),
and errors come back as errno values we can tell apart (already there, already gone).

Adding and removing go through a plain rtnetlink socket owned by the calling thread
(`RtnlAddr`), with messages built and parsed by pyroute2: the kernel handles RTM_NEWADDR
inside sendmsg and has queued its ack when the call returns, so one add costs about
0.1 ms. Through pyroute2's private thread it cost 1 to 4 ms (a thread hop, pyroute2's own
event loop, the GIL handed back and forth), and it sits between a new master's advert and
its gratuitous ARP. Lookups that are not on that path (interface index, the address dump
of `held`) still use pyroute2's IPRoute.

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
import itertools
import logging
import os
import socket
import struct
from collections.abc import Sequence
from typing import Any

from pyroute2.netlink import (  # type: ignore[attr-defined]
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    nlmsgerr,
)
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from haconsole.config import VirtualAddress
from haconsole.net import netlink
from haconsole.net.announce import Announcer

NETLINK_ROUTE = 0

log = logging.getLogger("haconsole.net.vips")

IFA_F_NODAD = 0x02
_SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid: to walk the replies
_SEQ = struct.Struct("=I")  # the header's sequence number, at offset 8


class RtnlAddr:
    """RTM_NEWADDR / RTM_DELADDR on a blocking rtnetlink socket of the calling thread.

    pyroute2 builds the request (`ifaddrmsg`) and reads the kernel's answer (`nlmsgerr`);
    only the socket is ours, so no pyroute2 thread sits on the takeover path. Errors are
    OSError with the kernel's errno (EEXIST, EADDRNOTAVAIL, ...), which
    `netlink.error_code` reads like pyroute2's NetlinkError.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)
        self._encoded: dict[tuple[str, tuple[tuple[str, Any], ...]], bytes] = {}

    def _socket(self) -> socket.socket:
        sock = self._sock
        if sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            sock.settimeout(2.0)  # the ack is queued before sendmsg returns; never hang
            sock.bind((0, 0))
            self._sock = sock
        return sock

    def request(self, command: str, args: dict[str, Any]) -> None:
        """`command` is "add" or "del"; `args` as pyroute2's `ipr.addr` takes them."""
        seq = next(self._seq)
        data = bytearray(self.encoded(command, args))
        _SEQ.pack_into(data, 8, seq)
        sock = self._socket()
        sock.send(data)
        self._ack(sock, seq)

    def encoded(self, command: str, args: dict[str, Any]) -> bytes:
        """The request's bytes (sequence number 0), built once per (command, VIP) by
        pyroute2's ifaddrmsg and cached: a takeover then sends a ready message."""
        key = (command, tuple(sorted(args.items())))
        data = self._encoded.get(key)
        if data is not None:
            return data
        msg = ifaddrmsg()
        msg["header"]["type"] = RTM_NEWADDR if command == "add" else RTM_DELADDR
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | (
            NLM_F_CREATE | NLM_F_EXCL if command == "add" else 0)
        msg["family"] = args["family"]
        msg["prefixlen"] = args["prefixlen"]
        msg["scope"] = args.get("scope", 0)
        msg["index"] = args["index"]
        attrs: list[tuple[str, Any]] = [("IFA_ADDRESS", args["address"])]
        if args["family"] == socket.AF_INET:
            attrs.append(("IFA_LOCAL", args["address"]))
            if args.get("label"):
                attrs.append(("IFA_LABEL", str(args["label"])))
            if args.get("broadcast"):
                attrs.append(("IFA_BROADCAST", str(args["broadcast"])))
        if args.get("flags"):
            attrs.append(("IFA_FLAGS", args["flags"]))
        msg["attrs"] = attrs
        msg.encode()
        data = self._encoded[key] = bytes(msg.data)
        return data

    def _ack(self, sock: socket.socket, seq: int) -> None:
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                size, kind, _flags, got, _pid = _NLMSGHDR.unpack_from(data, offset)
                if got == seq and kind == NLMSG_ERROR:
                    answer = nlmsgerr(data[offset:offset + size])
                    answer.decode()
                    code = -answer["error"]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return
                offset += max(_NLMSGHDR.size, (size + 3) & ~3)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class VipError(Exception):
    """A VIP could not be added or removed; the message names the address and reason."""


class NetlinkVips:
    """Implements net.base.VipManager on the current network namespace."""

    def __init__(self, announcer: Announcer | None = None) -> None:
        self.announcer = announcer if announcer is not None else Announcer()
        self._rtnl = RtnlAddr()
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

    def _add_args(self, vip: VirtualAddress, interface: str) -> dict[str, Any]:
        args = self._args(vip, interface)
        if vip.ip.version == 6:
            args["flags"] = IFA_F_NODAD
        return args

    def add(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        for vip in vips:
            self._known.add(str(vip.ip))
            try:
                self._rtnl.request("add", self._add_args(vip, interface))
            except VipError as err:
                self._fail(f"cannot add VIP {vip}: {err}")
            except Exception as err:  # NetlinkError or OSError
                if netlink.error_code(err) != errno.EEXIST:
                    self._fail(f"cannot add VIP {vip} on {vip.dev or interface}: {err}")

    def remove(self, vips: Sequence[VirtualAddress], interface: str) -> None:
        for vip in vips:
            self._known.add(str(vip.ip))
            try:
                # The stale-VIP cleanup at start comes here first: build the add request
                # now, so a later takeover sends a ready message.
                self._rtnl.encoded("add", self._add_args(vip, interface))
                self._rtnl.request("del", self._args(vip, interface))
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
        self._rtnl.close()
        self.announcer.close()
