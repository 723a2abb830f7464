"""`haconsole watch`: decode every VRRP advert seen on a segment, from a capture file.

Reading uses scapy only to get past the link layer (Ethernet, Linux cooked capture,
VLAN, raw IP, pcap or pcapng); the VRRP payload itself is decoded by
`haconsole.vrrp.packet`, the same codec the engine uses, so what `watch` calls valid is
what an haconsole node would accept structurally. Passwords are never printed unless
asked for with --show-secrets.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import json
import logging
import os
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from haconsole.vrrp.packet import (
    AUTH_NAMES,
    AUTH_PASS,
    CHK_ERR,
    VRRP_PROTO,
    Advert,
    IPAddress,
    PacketError,
    RawHeader,
    check_ttl,
    decode,
    format_interval,
    peek_header,
)

IPPROTO_AH = 51
_IPV6_EXT_HEADERS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options


class CaptureError(Exception):
    """A capture file that cannot be read: a message for the user, no traceback."""


@dataclass(frozen=True)
class WatchRecord:
    """One IP protocol-112 packet from a capture, decoded or with the reason it is not."""

    time: float  # seconds since the epoch, as captured
    src: IPAddress
    dst: IPAddress
    ttl: int  # IPv4 TTL or IPv6 hop limit
    payload: bytes = field(repr=False)  # the VRRP bytes: may hold a password
    advert: Advert | None = None
    error: PacketError | None = None
    via_ah: bool = False  # IPv4 with an IPsec AH header before VRRP (auth type 2)

    @property
    def valid(self) -> bool:
        return self.advert is not None

    @property
    def header(self) -> RawHeader | None:
        """The fixed header as received, also for packets that failed to decode."""
        return peek_header(self.payload)

    @property
    def warnings(self) -> tuple[PacketError, ...]:
        """What any receiver would reject whatever its configuration: a multicast advert
        whose TTL/hop limit is not 255 (it was routed, or forged)."""
        try:
            check_ttl(self.ttl, unicast=not self.dst.is_multicast)
        except PacketError as err:
            return (err,)
        return ()


def _record(
    time: float, src: IPAddress, dst: IPAddress, ttl: int, payload: bytes, via_ah: bool
) -> WatchRecord:
    try:
        advert = decode(payload, src, dst)
    except PacketError as err:
        return WatchRecord(time, src, dst, ttl, payload, None, err, via_ah)
    return WatchRecord(time, src, dst, ttl, payload, advert, None, via_ah)


def _from_ipv4(time: float, raw: bytes) -> WatchRecord | None:
    """The VRRP payload of an IPv4 packet (directly or behind AH), else None."""
    if len(raw) < 20:
        return None
    ihl = (raw[0] & 0x0F) * 4
    total = int.from_bytes(raw[2:4], "big")
    proto = raw[9]
    body = raw[ihl:total]
    via_ah = False
    if proto == IPPROTO_AH:
        # RFC 4302 2.2: payload length is in 32-bit words, minus 2.
        if len(body) < 2 or body[0] != VRRP_PROTO:
            return None
        body = body[(body[1] + 2) * 4 :]
        via_ah = True
    elif proto != VRRP_PROTO:
        return None
    src = ipaddress.IPv4Address(raw[12:16])
    dst = ipaddress.IPv4Address(raw[16:20])
    return _record(time, src, dst, raw[8], body, via_ah)


def _from_ipv6(time: float, raw: bytes) -> WatchRecord | None:
    """The VRRP payload of an IPv6 packet, past any hop-by-hop/routing/dest options."""
    if len(raw) < 40:
        return None
    end = 40 + int.from_bytes(raw[4:6], "big")
    next_header, offset = raw[6], 40
    while next_header in _IPV6_EXT_HEADERS and offset + 2 <= len(raw):
        next_header, offset = raw[offset], offset + (raw[offset + 1] + 1) * 8
    if next_header != VRRP_PROTO:
        return None
    src = ipaddress.IPv6Address(raw[8:24])
    dst = ipaddress.IPv6Address(raw[24:40])
    return _record(time, src, dst, raw[7], raw[offset:end], False)


def _quiet_scapy() -> None:
    # scapy logs routing/interface warnings on import; they mean nothing for a file.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy.loading").setLevel(logging.ERROR)


# Link types (https://www.tcpdump.org/linktypes.html) whose IP packet we find ourselves:
# scapy's full dissection costs ~0.4 ms a frame, this ~1 µs, on segments full of traffic.
DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP, DLT_LINUX_SLL = 0, 1, 101, 108, 113
DLT_RAW_ALT = (12, 14)  # DLT_RAW's value on some BSDs
DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2 = 228, 229, 276
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})


def _ip_of_frame(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside a captured frame; None if not IP or an unknown link type."""
    if linktype == DLT_EN10MB:
        offset, ethertype = 14, int.from_bytes(frame[12:14], "big")
        while ethertype in _VLAN_TAGS:  # 802.1Q / 802.1ad tags
            ethertype, offset = int.from_bytes(frame[offset + 2 : offset + 4], "big"), offset + 4
        return frame[offset:] if ethertype in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype == DLT_LINUX_SLL:
        proto = int.from_bytes(frame[14:16], "big")
        return frame[16:] if proto in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype == DLT_LINUX_SLL2:
        proto = int.from_bytes(frame[0:2], "big")
        return frame[20:] if proto in (ETH_P_IP, ETH_P_IPV6) else None
    if linktype in (DLT_RAW, *DLT_RAW_ALT, DLT_IPV4, DLT_IPV6):
        return frame
    if linktype in (DLT_NULL, DLT_LOOP):
        return frame[4:]  # a 4-byte address family, then the packet
    return None


def _ip_via_scapy(linktype: int, frame: bytes) -> bytes | None:
    """Other link types: let scapy dissect the frame and hand back its IP layer."""
    from scapy.config import conf
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    layer_class = conf.l2types.num2layer.get(linktype)
    if layer_class is None:
        return None
    try:
        packet = layer_class(frame)
    except Exception:  # scapy dissectors raise anything on junk: then it is not VRRP
        return None
    for ip_class in (IP, IPv6):
        if ip_class in packet:
            return bytes(packet[ip_class])
    return None


def _record_of_ip(time: float, packet: bytes) -> WatchRecord | None:
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _from_ipv4(time, packet)
    if version == 6:
        return _from_ipv6(time, packet)
    return None


def read_pcap(path: str) -> Iterator[WatchRecord]:
    """Every IP protocol-112 packet (IPv4 and IPv6) of a pcap/pcapng file, in order.

    Raises CaptureError (with a one-line message) for a file that is missing, unreadable
    or not a capture, including when that shows only part way through.
    """
    _quiet_scapy()
    from scapy.error import Scapy_Exception
    from scapy.utils import RawPcapNgReader, RawPcapReader

    try:
        reader = RawPcapReader(path)  # becomes a RawPcapNgReader for pcapng files
    except FileNotFoundError as err:
        raise CaptureError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise CaptureError(f"{path}: is a directory") from err
    except PermissionError as err:
        raise CaptureError(f"{path}: permission denied") from err
    except OSError as err:
        raise CaptureError(f"{path}: {err.strerror or err}") from err
    except (Scapy_Exception, EOFError, ValueError) as err:
        raise CaptureError(f"{path}: not a pcap or pcapng capture file") from err

    pcapng = isinstance(reader, RawPcapNgReader)
    tick = 1e-9 if getattr(reader, "nano", False) else 1e-6
    with reader:
        while True:
            try:
                item: Any = next(reader)  # (bytes, pcap or pcapng metadata)
            except StopIteration:
                return
            except (Scapy_Exception, OSError, EOFError, ValueError, struct.error) as err:
                raise CaptureError(f"{path}: damaged capture ({_first_line(err)})") from err
            frame, meta = item
            if pcapng:
                linktype = meta.linktype
                stamp = (meta.tshigh << 32) + meta.tslow if meta.tshigh is not None else 0
                time = stamp / meta.tsresol
            else:
                linktype = reader.linktype
                time = meta.sec + meta.usec * tick
            packet = _ip_of_frame(linktype, frame)
            if packet is None and linktype not in _KNOWN_LINKTYPES:
                packet = _ip_via_scapy(linktype, frame)
            if packet is not None:
                record = _record_of_ip(time, packet)
                if record is not None:
                    yield record


_KNOWN_LINKTYPES = frozenset(
    {DLT_NULL, DLT_EN10MB, DLT_RAW, DLT_LOOP, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2}
    | set(DLT_RAW_ALT)
)


def capture_live(interface: str, *, count: int | None = None,
                 timeout: float | None = None) -> Iterator[WatchRecord]:
    """Every VRRP packet seen on `interface` (AF_PACKET: like tcpdump, no group join).

    Listens only. Stops after `count` VRRP packets or `timeout` seconds, or never.
    Raises CaptureError with one readable line (no permission, no such interface).
    """
    import socket
    import time as _time

    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    except PermissionError:
        raise CaptureError("live capture needs root or CAP_NET_RAW") from None
    except OSError as err:
        raise CaptureError(f"cannot open a packet socket: {err.strerror}") from None
    with sock:
        try:
            sock.bind((interface, 0))
        except OSError as err:
            raise CaptureError(f"no interface named {interface!r} ({err.strerror})") from None
        sock.settimeout(0.25)  # wake up to honour the timeout and Ctrl-C
        end = None if timeout is None else _time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            if end is not None and _time.monotonic() >= end:
                return
            try:
                frame = sock.recv(65535)
            except TimeoutError:
                continue
            ip = _ip_of_frame(DLT_EN10MB, frame)
            record = _record_of_ip(_time.time(), ip) if ip else None
            if record is not None:
                seen += 1
                yield record


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _timestamp(time: float) -> str | None:
    """UTC, to the microsecond: captures are compared across hosts and time zones.
    None for a time no calendar date can show (a damaged capture: past year 9999)."""
    try:
        moment = _dt.datetime.fromtimestamp(time, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


#: What text and JSON output say of a packet time `_timestamp` cannot show.
BAD_TIME = "timestamp_out_of_range"


def _auth_text(advert: Advert, show_secrets: bool) -> str:
    if advert.version != 2:
        return "none"  # VRRPv3 has no authentication
    name = AUTH_NAMES.get(advert.auth_type, f"type-{advert.auth_type}")
    if show_secrets and advert.auth_type == AUTH_PASS:
        return f"{name} {advert.auth_data.decode('latin-1')!r}"
    return name


def format_text(record: WatchRecord, *, show_secrets: bool = False) -> str:
    """One line: time, addresses, TTL, then the advert or why it is invalid."""
    stamp = _timestamp(record.time)
    parts = [
        stamp if stamp is not None else f"{record.time:.6f}",
        f"{record.src} > {record.dst}",
        f"ttl {record.ttl}",
    ]
    if record.via_ah:
        parts.append("AH")
    advert = record.advert
    if advert is not None:
        vips = ",".join(str(a) for a in advert.addresses) or "-"
        parts += [
            f"VRRPv{advert.version}",
            f"vrid {advert.vrid}",
            f"prio {advert.priority}",
            f"int {format_interval(advert.advert_int_cs)}",
            f"auth {_auth_text(advert, show_secrets)}",
            f"vips {vips}",
            "cksum ok (legacy unicast)" if advert.legacy_checksum else "cksum ok",
        ]
    else:
        header = record.header
        if header is not None:
            parts += [f"VRRPv{header.version}", f"vrid {header.vrid}", f"prio {header.priority}"]
        assert record.error is not None
        parts.append(f"INVALID {record.error}")
    parts += [f"[{warning}]" for warning in record.warnings]
    if stamp is None:
        parts.append(f"[{BAD_TIME}: seconds since the epoch, as captured]")
    return " ".join(parts)


def to_json(record: WatchRecord, *, show_secrets: bool = False) -> dict[str, Any]:
    """A JSON-ready object; fields of a field-by-field decode, `error` when invalid."""
    stamp = _timestamp(record.time)
    obj: dict[str, Any] = {
        "time": record.time,
        "timestamp": stamp.replace(" ", "T") + "Z" if stamp is not None else None,
        "src": str(record.src),
        "dst": str(record.dst),
        "ip_version": record.src.version,
        "ttl": record.ttl,
        "ah": record.via_ah,
        "valid": record.valid,
    }
    advert = record.advert
    if advert is not None:
        obj.update(
            version=advert.version,
            vrid=advert.vrid,
            priority=advert.priority,
            advert_int_cs=advert.advert_int_cs,
            auth=_auth_text(advert, False),
            vips=[str(a) for a in advert.addresses],
            checksum=f"{advert.checksum:#06x}" if advert.checksum is not None else None,
            checksum_ok=True,
            legacy_checksum=advert.legacy_checksum,
            error=None,
            detail=None,
        )
        if show_secrets and advert.version == 2 and advert.auth_type == AUTH_PASS:
            obj["auth_data"] = advert.auth_data.decode("latin-1")
    else:
        assert record.error is not None
        header = record.header
        if header is not None:
            obj.update(
                version=header.version,
                vrid=header.vrid,
                priority=header.priority,
                checksum=f"{header.checksum:#06x}",
            )
        # decode checks the checksum last: earlier failures leave it unknown.
        obj["checksum_ok"] = False if record.error.reason == CHK_ERR else None
        obj["error"] = record.error.reason
        obj["detail"] = record.error.detail
    obj["warnings"] = [w.reason for w in record.warnings] + ([BAD_TIME] if stamp is None
                                                              else [])
    return obj


def format_json(record: WatchRecord, *, show_secrets: bool = False) -> str:
    """One JSON object per line (JSON Lines), for jq and scripts."""
    return json.dumps(to_json(record, show_secrets=show_secrets), separators=(",", ":"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `haconsole watch` (the CLI owns the subparser)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-r", "--read", metavar="FILE", help="read a pcap/pcapng capture file")
    source.add_argument(
        "-i", "--interface", metavar="IFACE",
        help="capture live on IFACE (root or CAP_NET_RAW; listens only, sends nothing)",
    )
    parser.add_argument("-c", "--count", type=int, default=None,
                        help="live: stop after this many VRRP packets")
    parser.add_argument("--timeout", type=float, default=None,
                        help="live: stop after this many seconds")
    parser.add_argument("--json", action="store_true", help="one JSON object per packet")
    parser.add_argument(
        "--show-secrets", action="store_true", help="show VRRPv2 simple passwords in clear"
    )


def main_watch(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `haconsole watch`; 0 on success, 2 with one line on stderr otherwise."""
    stdout = out if out is not None else sys.stdout
    path = getattr(args, "read", None)
    interface = getattr(args, "interface", None)
    if not path and not interface:
        print("haconsole watch: give a capture with --read FILE or an interface with -i",
              file=sys.stderr)
        return 2
    as_json = bool(getattr(args, "json", False))
    show_secrets = bool(getattr(args, "show_secrets", False))
    fmt = format_json if as_json else format_text
    try:
        records = (read_pcap(path) if path else
                   capture_live(str(interface), count=getattr(args, "count", None),
                                timeout=getattr(args, "timeout", None)))
        for record in records:
            print(fmt(record, show_secrets=show_secrets), file=stdout, flush=not path)
        stdout.flush()
    except CaptureError as err:
        print(f"haconsole watch: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `haconsole watch -r x.pcap | head`: the reader left, which is not an error.
        _silence_stdout()
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured in tests): nothing will flush to a closed pipe
