"""Listen-only packet sockets (AF_PACKET), on this host or inside a network namespace.

Why these choices:
- listen only: nothing is sent, no multicast group is joined (a packet socket sees what
  the interface sees, like tcpdump);
- a kernel filter (classic BPF: ARP, IPv4 protocol 112 or AH, IPv6 next header 112,
  ICMPv6 or hop-by-hop) so a busy segment's other traffic never reaches Python;
- a big receive buffer, drained in bounded batches by the caller: under a flood the
  kernel drops what does not fit and counts it (`stats`), Python never queues without
  bound and the console never stalls;
- a bridge is watched on its ports, each frame as it enters the bridge: that is every
  frame crossing the segment once, unicast ARP replies and a partitioned port's frames
  included, which the bridge device itself never shows;
- a namespace is entered by a short-lived thread (`setns` changes only the calling
  thread's namespace); the socket it opens stays in that namespace for its whole life.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from haconsole.capture.frames import DLT_EN10MB
from haconsole.capture.pcap import CaptureError, Frame

__all__ = ["PacketSocket", "bridge_ports", "open_packet_socket"]

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")  # where `ip netns add` names namespaces

# (code, jt, jf, k): ARP; IPv4 proto 112 or 51 (AH); IPv6 next header 112, 58 or 0.
_FILTER = (
    (0x28, 0, 0, 12),        # 0: ldh [12] (ethertype)
    (0x15, 12, 0, 0x0806),   # 1: ARP -> accept
    (0x15, 2, 0, 0x0800),    # 2: IPv4 -> 5
    (0x15, 5, 0, 0x86DD),    # 3: IPv6 -> 9
    (0x06, 0, 0, 0),         # 4: drop
    (0x30, 0, 0, 23),        # 5: ldb [23] (IPv4 protocol)
    (0x15, 7, 0, 112),       # 6: VRRP -> accept
    (0x15, 6, 0, 51),        # 7: AH -> accept
    (0x06, 0, 0, 0),         # 8: drop
    (0x30, 0, 0, 20),        # 9: ldb [20] (IPv6 next header)
    (0x15, 3, 0, 112),       # 10: VRRP -> accept
    (0x15, 2, 0, 58),        # 11: ICMPv6 -> accept
    (0x15, 1, 0, 0),         # 12: hop-by-hop -> accept
    (0x06, 0, 0, 0),         # 13: drop
    (0x06, 0, 0, 0x40000),   # 14: accept (the whole frame)
)


class PacketSocket:
    """An open capture point. `read(budget)` drains at most `budget` frames without
    blocking; `stats()` says how many frames the kernel delivered and dropped."""

    def __init__(self, sock: socket.socket, name: str, ports: frozenset[str] | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sock = sock
        self.name = name
        self.ports = ports  # a bridge's ports (ingress only), or None: one interface
        self.clock = clock
        self.packets = 0
        self.dropped = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, budget: int) -> list[Frame]:
        out: list[Frame] = []
        recv, ports, clock = self.sock.recvfrom, self.ports, self.clock
        for _ in range(budget):
            try:
                frame, address = recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            if ports is not None and (address[0] not in ports or address[2] == PACKET_OUTGOING):
                continue
            out.append((DLT_EN10MB, clock(), frame))
        return out

    def wait(self, timeout: float) -> bool:
        """Block until a frame is ready or `timeout` passes (for line-printing use)."""
        import select

        return bool(select.select([self.sock], [], [], timeout)[0])

    def stats(self) -> tuple[int, int]:
        """(delivered, dropped) since the socket opened (the kernel resets its own
        counters at each read, so they are summed here)."""
        with contextlib.suppress(OSError):
            raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            packets, drops = struct.unpack("II", raw)
            self.packets += packets
            self.dropped += drops
        return self.packets, self.dropped

    def close(self) -> None:
        self.sock.close()


def open_packet_socket(interface: str, *, netns: str | None = None,
                       rcvbuf: int = 8 << 20) -> PacketSocket:
    """A listen-only capture of `interface` (a bridge: of its ports), in `netns` (a name
    under /run/netns) or here. CaptureError with one readable line when it cannot be."""
    ports = bridge_ports(interface, netns)
    name = f"{netns}:{interface}" if netns else interface
    if netns is None:
        return PacketSocket(_open(interface, ports, rcvbuf), name, ports)
    result: list[socket.socket | BaseException] = []

    def enter() -> None:
        try:
            _enter_netns(netns)
            result.append(_open(interface, ports, rcvbuf))
        except BaseException as err:  # handed to the caller's thread
            result.append(err)

    thread = threading.Thread(target=enter, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return PacketSocket(outcome, name, ports)


def _enter_netns(netns: str) -> None:
    path = NETNS_DIR / netns
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise CaptureError(f"no network namespace named {netns!r}") from None
    except PermissionError:
        raise CaptureError("entering a network namespace needs root") from None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise CaptureError(f"cannot enter network namespace {netns!r}: "
                               f"{os.strerror(err)}")
    finally:
        os.close(fd)


def _open(interface: str, ports: frozenset[str] | None, rcvbuf: int) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise CaptureError("live capture needs root or CAP_NET_RAW") from None
    except OSError as err:
        raise CaptureError(f"cannot open a packet socket: {err.strerror}") from None
    try:
        _attach_filter(sock)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if ports is None:
            try:
                sock.bind((interface, 0))
            except OSError as err:
                raise CaptureError(f"no interface named {interface!r} "
                                   f"({err.strerror})") from None
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _attach_filter(sock: socket.socket) -> None:
    """SO_ATTACH_FILTER takes a `struct sock_fprog` holding a pointer to the program."""
    program = b"".join(struct.pack("HBBI", *ins) for ins in _FILTER)
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(_FILTER), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def bridge_ports(interface: str, netns: str | None = None) -> frozenset[str] | None:
    """The ports of `interface` if it is a bridge (in `netns`), else None."""
    if netns is None:
        brif = Path("/sys/class/net") / interface / "brif"
        return frozenset(os.listdir(brif)) if brif.is_dir() else None
    try:
        shown = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "type", "bridge"],
                               capture_output=True, text=True, timeout=10, check=False)
        if not any(_link_name(line) == interface for line in shown.stdout.splitlines()):
            return None
        ports = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "master", interface],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return frozenset(_link_name(line) for line in ports.stdout.splitlines() if line.strip())


def _link_name(line: str) -> str:
    """`7: p0-n1@if2: <BROADCAST,...` -> `p0-n1`."""
    parts = line.split(":", 2)
    return parts[1].strip().split("@", 1)[0] if len(parts) > 1 else ""
