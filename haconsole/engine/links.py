"""track_interface from netlink link events: a cable pulled puts instances in FAULT at once.

keepalived listens to RTMGRP_LINK on a netlink socket and logs "Netlink reports eth0
down"; we do the same with a plain non-blocking NETLINK_ROUTE socket on the asyncio loop
(no polling). An interface counts as up while it is IFF_UP and IFF_RUNNING (carrier), as
in keepalived's IF_ISUP. One `LinkTracker` per tracked interface name; the agent also
tracks each instance's own interface (keepalived does so unless `dont_track_primary`;
see `engine.build.with_primary_tracking`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable

from haconsole.net import netlink

Report = Callable[[str, bool, str], None]
LogFn = Callable[[str], None]

RTMGRP_LINK = 1
RTM_NEWLINK = 16
RTM_DELLINK = 17
IFF_UP = 0x1
IFF_RUNNING = 0x40
_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")


def _link_state(name: str) -> tuple[int | None, bool]:
    """(ifindex, up) of `name` now; (None, False) when it does not exist."""

    def lookup(ipr: object) -> tuple[int | None, bool]:
        found = ipr.link_lookup(ifname=name)  # type: ignore[attr-defined]
        if not found:
            return None, False
        link = ipr.get_links(found[0])[0]  # type: ignore[attr-defined]
        flags = link["flags"]
        return found[0], bool(flags & IFF_UP and flags & IFF_RUNNING)

    return netlink.call(lookup)


def parse_link_messages(data: bytes) -> list[tuple[int, int, bool]]:
    """(message type, ifindex, up) for every RTM_NEWLINK / RTM_DELLINK in a datagram."""
    out = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        if kind in (RTM_NEWLINK, RTM_DELLINK) and length >= _NLMSGHDR.size + _IFINFOMSG.size:
            _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(
                data, offset + _NLMSGHDR.size)
            up = kind == RTM_NEWLINK and bool(flags & IFF_UP and flags & IFF_RUNNING)
            out.append((kind, index, up))
        offset += (length + 3) & ~3
    return out


class LinkTracker:
    """Reports `ok` while the interface is up and has carrier."""

    def __init__(self, name: str, interface: str | None = None) -> None:
        self.name = name
        self.interface = interface or name
        self.index: int | None = None
        self.ok: bool | None = None
        self._sock: socket.socket | None = None
        self._report: Report | None = None
        self._log: LogFn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, report: Report, log: LogFn) -> None:
        self._report, self._log = report, log
        self._loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sock.setblocking(False)
        sock.bind((0, RTMGRP_LINK))
        self._sock = sock
        self._loop.add_reader(sock.fileno(), self._readable)
        self.index, up = _link_state(self.interface)
        self._set(up)

    async def stop(self) -> None:
        if self._sock is not None and self._loop is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ENOBUFS: events lost; read the truth again
                self.index, up = _link_state(self.interface)
                self._set(up)
                return
            for _kind, index, up in parse_link_messages(data):
                if self.index is None:
                    self.index, _ = _link_state(self.interface)
                if index == self.index:
                    self._set(up)

    def _set(self, up: bool) -> None:
        if up == self.ok:
            return
        first = self.ok is None
        self.ok = up
        line = f"Netlink reports {self.interface} {'up' if up else 'down'}"
        if self._log is not None and not (first and up):
            self._log(line)
        if self._report is not None:
            self._report(self.name, up, line)
