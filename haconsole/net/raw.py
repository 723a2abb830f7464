"""Raw VRRP sockets (IP protocol 112) on real Linux interfaces: IPv4 and IPv6.

Why raw sockets and not scapy: the engine needs a non-blocking file descriptor it can hand
to asyncio (`add_reader`), the kernel's multicast membership, and the received TTL/hop
limit, all of which a plain `socket.socket(AF_INET, SOCK_RAW, 112)` gives directly.

What keepalived does and we copy (vrrp.c / vrrp_scheduler.c):
- one socket per interface and family shared by every instance there ("sockpool"),
  demultiplexed by VRID above us (`Node._on_packet`);
- bound to the interface (SO_BINDTODEVICE), member of 224.0.0.18 / ff02::12 on that
  interface only, multicast loopback off;
- TTL / hop limit 255 on send (RFC 3768 5.2.3, RFC 5798 5.1.1.3), TOS / traffic class
  0xc0 (internetwork control), as on keepalived's wire;
- the source address chosen per packet with IP_PKTINFO / IPV6_PKTINFO, so instances with
  different `mcast_src_ip` / `unicast_src_ip` share the socket;
- the received TTL / hop limit from IP_RECVTTL / IPV6_RECVHOPLIMIT (the engine rejects
  multicast adverts whose TTL is not 255: they were routed).

Beyond keepalived: each packet carries the kernel's receive time (SO_TIMESTAMPNS),
converted to the event loop's clock (`Received.at`), so the engine starts its timers
from the advert's arrival rather than from whenever the process got the CPU back (on a
busy host that wake-up alone was 2 to 5 ms of a takeover). And a packet the engine sends
again and again (a master's advert) is built once (`prepare` -> `Packet`); the periodic
adverts of one timer wake-up are queued and leave in one sendmmsg(2) (`flush`), one
system call instead of one per advert at 1 000 instances.

`open_transport` raises `RawSocketError` with a one-line, actionable message (missing
CAP_NET_RAW, unknown interface, no address) instead of a bare OSError.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import ipaddress
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haconsole.net import netlink
from haconsole.net.base import IPAddress, Received, Receiver
from haconsole.vrrp.packet import MCAST_V4, MCAST_V6, VRRP_PROTO, VRRP_TTL

log = logging.getLogger("haconsole.net.raw")

# Linux socket option numbers the stdlib does not always export.
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = getattr(socket, "IP_TTL", 2)
IP_MULTICAST_ALL = 49
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_TCLASS = getattr(socket, "IPV6_TCLASS", 67)
IPTOS_PREC_INTERNETCONTROL = 0xC0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # its cmsg: SCM_TIMESTAMPNS, same

_RECV_SIZE = 65535
_CMSG_SIZE = socket.CMSG_SPACE(64) * 4
# A receive time older than this (or in the future) is a wall-clock step, not a late
# wake-up: the packet then counts as received now, as it would without a timestamp.
_MAX_AGE = 0.1
_TIMESPEC = struct.Struct("=qq")
_INT = struct.Struct("=i")


class RawSocketError(Exception):
    """A raw VRRP socket could not be set up; the message says what to do."""


@dataclass
class InterfaceInfo:
    """What the transport needs to know about its interface."""

    name: str
    index: int
    addresses4: list[ipaddress.IPv4Address] = field(default_factory=list)
    link_local6: list[ipaddress.IPv6Address] = field(default_factory=list)
    global6: list[ipaddress.IPv6Address] = field(default_factory=list)


def interface_info(name: str) -> InterfaceInfo:
    """Index and addresses of `name`, read via netlink (primary IPv4 address first)."""
    return netlink.call(lambda ipr: _interface_info(ipr, name))


def _interface_info(ipr: Any, name: str) -> InterfaceInfo:
    links = ipr.link_lookup(ifname=name)
    if not links:
        raise RawSocketError(f"interface {name!r} does not exist")
    info = InterfaceInfo(name, links[0])
    secondaries: list[ipaddress.IPv4Address] = []
    for msg in ipr.get_addr(index=info.index):
        addr = ipaddress.ip_address(msg.get_attr("IFA_ADDRESS") or "0.0.0.0")
        if isinstance(addr, ipaddress.IPv4Address):
            # IFA_F_SECONDARY: VIPs in the primary's subnet; never the source address.
            (secondaries if msg["flags"] & 0x01 else info.addresses4).append(addr)
        elif addr.is_link_local:
            info.link_local6.append(addr)
        else:
            info.global6.append(addr)
    info.addresses4.extend(secondaries)
    return info


def _open_socket(family: int, info: InterfaceInfo) -> socket.socket:
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        sock = socket.socket(af, socket.SOCK_RAW, VRRP_PROTO)
    except PermissionError:
        raise RawSocketError(
            "cannot open a raw VRRP socket: missing CAP_NET_RAW "
            "(run as root or grant cap_net_raw,cap_net_admin)"
        ) from None
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, info.name.encode())
        with contextlib.suppress(OSError):  # receive times; without them, wake-up times
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if family == 4:
            _setup_v4(sock, info)
        else:
            _setup_v6(sock, info)
    except OSError as err:
        sock.close()
        if err.errno == errno.EPERM:
            raise RawSocketError(
                f"cannot bind the VRRP socket to {info.name}: missing CAP_NET_RAW"
            ) from None
        raise RawSocketError(
            f"cannot set up the IPv{family} VRRP socket on {info.name}: {err.strerror}"
        ) from None
    return sock


def _setup_v4(sock: socket.socket, info: InterfaceInfo) -> None:
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
    sock.setsockopt(socket.IPPROTO_IP, IP_TTL, VRRP_TTL)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_PREC_INTERNETCONTROL)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    with contextlib.suppress(OSError):  # only packets of groups joined on this socket
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    # struct ip_mreqn {imr_multiaddr, imr_address, imr_ifindex}: join on this link only.
    mreqn = struct.pack("=4s4si", MCAST_V4.packed, bytes(4), info.index)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)


def _setup_v6(sock: socket.socket, info: InterfaceInfo) -> None:
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, IPTOS_PREC_INTERNETCONTROL)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, info.index)
    mreq = struct.pack("=16sI", MCAST_V6.packed, info.index)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)


class RawTransport:
    """One raw socket on one interface and family (implements net.base.Transport).

    Shared by all instances there; `SocketPool` hands out one per (interface, family) and
    closes it when the last user closes. Never blocks: a full send buffer drops the
    packet (counted in `send_errors`) as a lost advert would be on the wire.
    """

    def __init__(self, interface: str, family: int, *,
                 loop: asyncio.AbstractEventLoop | None = None,
                 on_close: Callable[[RawTransport], None] | None = None) -> None:
        self.interface = interface
        self.family = family
        self.info = interface_info(interface)
        self._primary = self._pick_primary()
        self.sock = _open_socket(family, self.info)
        self.receiver: Receiver | None = None
        self.sent = 0
        self.received = 0
        self.send_errors = 0
        self.users = 0
        self._on_close = on_close
        self._own = {self._primary}
        # (id(src), id(dst)) -> (src, dst, ancillary, sockaddr); see send()
        self._routes: dict[tuple[int, int], tuple[Any, Any, list[Any], tuple[Any, ...]]] = {}
        self._queued: list[Packet] = []  # Packet.queue() -> flush()
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def _pick_primary(self) -> IPAddress:
        info = self.info
        if self.family == 4:
            if not info.addresses4:
                raise RawSocketError(f"interface {info.name} has no IPv4 address")
            return info.addresses4[0]
        # RFC 5798 5.1.2.2: IPv6 adverts come from the interface's link-local address.
        if not info.link_local6:
            raise RawSocketError(
                f"interface {info.name} has no IPv6 link-local address (yet: DAD?)"
            )
        return info.link_local6[0]

    # ------------------------------------------------------------------ Transport
    def primary_address(self) -> IPAddress:
        return self._primary

    def set_receiver(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def send(self, payload: bytes, src: IPAddress, dst: IPAddress) -> None:
        """Send one VRRP payload from `src` (via PKTINFO) to `dst`; never blocks.

        The ancillary data and the destination tuple are cached per address pair: with a
        thousand instances this is the engine's hottest path. The cache is keyed by the
        address objects' identities (an instance passes the same objects every time, and
        ipaddress hashes in Python); each entry keeps its objects, so an id is never
        reused while its entry lives, and the identity is checked anyway."""
        route = self._routes.get((id(src), id(dst)))
        if route is None or route[0] is not src or route[1] is not dst:
            route = self._route(src, dst)
        ancillary, address = route[2], route[3]
        try:
            self.sock.sendmsg([payload], ancillary, 0, address)
            self.sent += 1
        except (BlockingIOError, InterruptedError):
            self.send_errors += 1
        except OSError as err:
            self.send_errors += 1
            if self.send_errors <= 3 or self.send_errors % 100 == 0:
                log.warning("VRRP send on %s to %s failed: %s", self.interface, dst,
                            err.strerror)

    def prepare(self, payload: bytes, src: IPAddress, dst: IPAddress) -> Packet:
        """`send(payload, src, dst)` built once, to be sent many times: the engine
        repeats a master's advert every interval. See `Packet`."""
        return Packet(self, payload, src, dst, self._route(src, dst))

    def flush(self) -> None:
        """Send every queued packet (`Packet.queue`), in order, in one sendmmsg(2) call
        (a few when the send buffer is full: each packet refused is dropped and counted,
        as `send` does). Without sendmmsg in libc, one sendmsg each."""
        queued = self._queued
        if not queued:
            return
        packets = queued[:]  # they own the buffers the headers point to: keep them alive
        queued.clear()
        fd = self.sock.fileno()
        if fd < 0:
            return
        if _sendmmsg is None:
            for packet in packets:
                packet()
            return
        headers = b"".join([packet.header for packet in packets])
        vector = ctypes.create_string_buffer(headers, len(headers))  # the kernel writes msg_len
        total, done = len(packets), 0
        while done < total:
            count = _sendmmsg(fd, ctypes.byref(vector, done * _MMSGHDR_SIZE), total - done, 0)
            if count > 0:
                done += count
                self.sent += count
            else:
                code = ctypes.get_errno()
                self._send_failed(OSError(code, os.strerror(code)), packets[done].dst)
                done += 1  # that one is lost; the rest still go

    def _send_failed(self, err: OSError, dst: IPAddress) -> None:
        self.send_errors += 1
        if isinstance(err, BlockingIOError | InterruptedError) \
                or err.errno in (errno.EAGAIN, errno.EINTR):
            return  # a full send buffer: the advert is lost, as on a congested link
        if self.send_errors <= 3 or self.send_errors % 100 == 0:
            log.warning("VRRP send on %s to %s failed: %s", self.interface, dst, err.strerror)

    def _route(self, src: IPAddress, dst: IPAddress) -> tuple[Any, Any, list[Any], tuple[Any, ...]]:
        self._own.add(src)
        if self.family == 4:
            # struct in_pktinfo {ipi_ifindex, ipi_spec_dst, ipi_addr}
            pktinfo = struct.pack("=i4s4s", 0, src.packed, bytes(4))
            ancillary = [(socket.IPPROTO_IP, IP_PKTINFO, pktinfo)]
            address: tuple[Any, ...] = (str(dst), 0)
        else:
            # struct in6_pktinfo {ipi6_addr, ipi6_ifindex}
            pktinfo = struct.pack("=16sI", src.packed, self.info.index)
            ancillary = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, pktinfo)]
            address = (str(dst), 0, 0, self.info.index)
        if len(self._routes) >= 4096:  # addresses built per call by some caller: bound it
            self._routes.clear()
        route = (src, dst, ancillary, address)
        self._routes[(id(src), id(dst))] = route
        return route

    def close(self) -> None:
        """Release one user; the socket closes with the last one."""
        self.users -= 1
        if self.users > 0:
            return
        self._queued.clear()
        if self.sock.fileno() >= 0:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.receiver = None
        if self._on_close is not None:
            self._on_close(self)

    # ------------------------------------------------------------------ receive
    def _readable(self) -> None:
        recvmsg, interface, v4 = self.sock.recvmsg, self.interface, self.family == 4
        loop_now = self._loop.time()
        clock = (loop_now, time.time() - loop_now)  # to turn wall-clock stamps into loop time
        for _ in range(64):  # drain what is there, then let the loop breathe
            try:
                data, ancdata, _flags, addr = recvmsg(_RECV_SIZE, _CMSG_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.warning("VRRP receive on %s failed: %s", self.interface, err.strerror)
                return
            packet = parse_v4(data, ancdata, interface, clock) if v4 \
                else parse_v6(data, ancdata, addr, interface, clock)
            if packet is None or packet.src in self._own:
                continue
            self.received += 1
            if self.receiver is not None:
                self.receiver(packet)


# ----------------------------------------------------------------------------- sendmmsg
# struct iovec, struct msghdr and struct mmsghdr (<sys/socket.h>), to hand the kernel a
# vector of ready packets in one call.
class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


_MMSGHDR_SIZE = ctypes.sizeof(_Mmsghdr)
_IOVEC_SIZE = ctypes.sizeof(_Iovec)


def _align(offset: int) -> int:
    return (offset + 7) & ~7
_CMSGHDR = struct.Struct("@Nii")  # struct cmsghdr {size_t len; int level; int type;}


def _libc_sendmmsg() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no dynamic libc
        return None
    func = getattr(libc, "sendmmsg", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
        func.restype = ctypes.c_int
    return func


_sendmmsg = _libc_sendmmsg()


class Packet:
    """One VRRP packet on one transport, built once and sent many times.

    Calling it sends it now (sendmsg, the socket's arguments prepared); `queue()` puts it
    in the transport's queue instead, for the next `RawTransport.flush()`: the adverts of
    one timer wake-up leave in one sendmmsg call. For that it carries its struct
    mmsghdr (`header`) and owns the buffers the header points to.
    """

    __slots__ = ("_buffers", "_send", "dst", "header", "queue")

    def __init__(self, transport: RawTransport, payload: bytes, src: IPAddress,
                 dst: IPAddress, route: tuple[Any, Any, list[Any], tuple[Any, ...]]) -> None:
        self.dst = dst
        ancillary, address = route[2], route[3]
        sendmsg, buffers = transport.sock.sendmsg, [payload]

        def send() -> None:
            try:
                sendmsg(buffers, ancillary, 0, address)
            except OSError as err:
                transport._send_failed(err, dst)
            else:
                transport.sent += 1

        self._send = send
        self.queue: Callable[[], None] = functools.partial(transport._queued.append, self)
        level, kind, data = ancillary[0]
        control = (_CMSGHDR.pack(socket.CMSG_LEN(len(data)), level, kind) + data).ljust(
            socket.CMSG_SPACE(len(data)), b"\0")
        if transport.family == 4:  # struct sockaddr_in
            name = struct.pack("=HH4s8x", socket.AF_INET, 0, dst.packed)
        else:  # struct sockaddr_in6, scope: the interface
            name = struct.pack("=HHI16sI", socket.AF_INET6, 0, 0, dst.packed, address[3])
        # One buffer for all the kernel reads (a few adjacent cache lines, not four
        # allocations): iovec, control, address, payload, each 8-byte aligned.
        iov_at = 0
        control_at = _align(iov_at + _IOVEC_SIZE)
        name_at = _align(control_at + len(control))
        data_at = _align(name_at + len(name))
        buffer = ctypes.create_string_buffer(data_at + len(payload))
        base = ctypes.addressof(buffer)
        ctypes.memmove(base + control_at, control, len(control))
        ctypes.memmove(base + name_at, name, len(name))
        ctypes.memmove(base + data_at, payload, len(payload))
        ctypes.memmove(base + iov_at, bytes(_Iovec(base + data_at, len(payload))), _IOVEC_SIZE)
        self.header = bytes(_Mmsghdr(_Msghdr(
            base + name_at, len(name), base + iov_at, 1, base + control_at, len(control),
            0), 0))
        self._buffers = buffer

    def __call__(self) -> None:
        self._send()


Clock = tuple[float, float]  # (loop.time() now, time.time() - loop.time())


def _stamp(value: bytes, clock: Clock | None) -> float | None:
    """SCM_TIMESTAMPNS (struct timespec, wall clock) on the loop clock; None when there
    is no clock or the stamp is implausible (a wall-clock step)."""
    if clock is None or len(value) < _TIMESPEC.size:
        return None
    seconds, nanos = _TIMESPEC.unpack_from(value)
    loop_now, offset = clock
    at = seconds + nanos * 1e-9 - offset
    return at if loop_now - _MAX_AGE <= at <= loop_now else None


def parse_v4(data: bytes, ancdata: list[tuple[int, int, bytes]],
             interface: str, clock: Clock | None = None) -> Received | None:
    """An IPv4 raw socket delivers the IP header: strip it, read src/dst (and TTL), and
    with a `clock` the kernel's receive time (`at`)."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    ttl = data[8]
    at = None
    for level, kind, value in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_TTL and len(value) >= 4:
            ttl = _INT.unpack_from(value)[0]
        elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            at = _stamp(value, clock)
    src = _v4(data[12:16])
    dst = _v4(data[16:20])
    return Received(data[ihl:], src, dst, ttl, interface, at)


def parse_v6(data: bytes, ancdata: list[tuple[int, int, bytes]], addr: tuple[object, ...],
             interface: str, clock: Clock | None = None) -> Received | None:
    """An IPv6 raw socket delivers the payload only: src from the peer address, dst and
    hop limit from ancillary data, `at` as in parse_v4."""
    hoplimit: int | None = None
    dst: ipaddress.IPv6Address | None = None
    at = None
    for level, kind, value in ancdata:
        if level == socket.IPPROTO_IPV6:
            if kind == IPV6_HOPLIMIT and len(value) >= 4:
                hoplimit = _INT.unpack_from(value)[0]
            elif kind == IPV6_PKTINFO and len(value) >= 16:
                dst = _v6(value[:16])
        elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            at = _stamp(value, clock)
    if dst is None:
        dst = MCAST_V6
    host = str(addr[0]).split("%", 1)[0]
    src = _v6_text(host)
    return Received(data, src, dst, hoplimit if hoplimit is not None else -1, interface, at)


@functools.lru_cache(maxsize=4096)
def _v4(packed: bytes) -> ipaddress.IPv4Address:
    # The same few peers send every second: reuse their address objects.
    return ipaddress.IPv4Address(packed)


@functools.lru_cache(maxsize=4096)
def _v6(packed: bytes) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(packed)


@functools.lru_cache(maxsize=4096)
def _v6_text(text: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(text)


class SocketPool:
    """keepalived's sockpool: one RawTransport per (interface, family), reference counted.

    Pass `pool.transport_for` to `Node(transport_for=...)`.
    """

    def __init__(self) -> None:
        self._transports: dict[tuple[str, int], RawTransport] = {}

    def transport_for(self, interface: str, family: int) -> RawTransport:
        key = (interface, family)
        transport = self._transports.get(key)
        if transport is None:
            transport = RawTransport(interface, family, on_close=self._closed)
            self._transports[key] = transport
        transport.users += 1
        return transport

    def _closed(self, transport: RawTransport) -> None:
        key = (transport.interface, transport.family)
        if self._transports.get(key) is transport:
            del self._transports[key]

    def transports(self) -> list[RawTransport]:
        return list(self._transports.values())

    def close_all(self) -> None:
        for transport in list(self._transports.values()):
            transport.users = 1
            transport.close()


def check_raw_capability() -> str | None:
    """None when this process may open raw VRRP sockets; else a one-line explanation."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTO)
    except PermissionError:
        return ("cannot open a raw VRRP socket: missing CAP_NET_RAW "
                "(run as root or grant cap_net_raw,cap_net_admin)")
    except OSError as err:
        return f"cannot open a raw VRRP socket: {err.strerror}"
    sock.close()
    return None
