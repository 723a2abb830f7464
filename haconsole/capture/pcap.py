"""Capture files (pcap, pcapng) and the pcap stream `tcpdump -w -` writes.

Files are read with scapy's raw readers (both formats, every timestamp resolution), each
frame then decoded by `capture.frames`; link types it does not know fall back to scapy's
dissection. The stream parser is our own: it is fed whatever bytes arrived over SSH or a
pipe, in any chunking, and never buffers more than one frame.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

from haconsole.capture.frames import (
    KNOWN_LINKTYPES,
    Record,
    VrrpRecord,
    decode_frame,
    decode_ip,
)

__all__ = ["CaptureError", "Frame", "PcapStream", "read_frames", "read_pcap", "read_records"]

Frame = tuple[int, float, bytes]  # (link type, seconds since the epoch, the frame)


class CaptureError(Exception):
    """A capture that cannot be read: a message for the user, no traceback."""


def _quiet_scapy() -> None:
    # scapy logs routing/interface warnings on import; they mean nothing for a file.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy.loading").setLevel(logging.ERROR)


def read_frames(path: str) -> Iterator[Frame]:
    """Every frame of a pcap/pcapng file, in order, with its link type and time.

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
                stamp = (meta.tshigh << 32) + meta.tslow if meta.tshigh is not None else 0
                yield meta.linktype, stamp / meta.tsresol, frame
            else:
                yield reader.linktype, meta.sec + meta.usec * tick, frame


def read_records(path: str) -> Iterator[Record]:
    """Every VRRP, ARP and neighbour-advertisement record of a capture file, in order."""
    for linktype, time, frame in read_frames(path):
        if linktype in KNOWN_LINKTYPES:
            record = decode_frame(linktype, time, frame)
        else:
            packet = _ip_via_scapy(linktype, frame)
            record = decode_ip(time, packet) if packet else None
        if record is not None:
            yield record


def read_pcap(path: str) -> Iterator[VrrpRecord]:
    """Every IP protocol-112 packet (IPv4 and IPv6) of a pcap/pcapng file, in order."""
    for record in read_records(path):
        if type(record) is VrrpRecord:
            yield record


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


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# ----------------------------------------------------------------------------- streams

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
MAX_FRAME = 262144  # tcpdump's largest snapshot length: anything longer is corruption


class PcapStream:
    """An incremental reader of a classic pcap stream (`tcpdump -U -w -`).

    `feed(data)` returns the frames completed by `data`; CaptureError when the stream is
    not pcap or is corrupt (a record longer than any snapshot length). `offset` is added
    to every timestamp: the capturing node's clock error, measured by the caller.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self.linktype: int | None = None
        self._buffer = bytearray()
        self._record: struct.Struct | None = None
        self._tick = 1e-6
        self.frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buffer
        buf += data
        out: list[Frame] = []
        pos = 0
        if self._record is None:
            if len(buf) < 24:
                return out
            magic = bytes(buf[:4])
            if magic not in _MAGICS:
                raise CaptureError("the capture stream is not pcap (did tcpdump fail?)")
            order, self._tick = _MAGICS[magic]
            self._record = struct.Struct(order + "IIII")
            self.linktype = struct.unpack_from(order + "I", buf, 20)[0] & 0x0FFFFFFF
            pos = 24
        record, tick, linktype = self._record, self._tick, self.linktype
        assert linktype is not None
        size = len(buf)
        while pos + 16 <= size:
            sec, frac, length, _orig = record.unpack_from(buf, pos)
            if length > MAX_FRAME:
                raise CaptureError(f"the capture stream is corrupt (a {length}-byte frame)")
            end = pos + 16 + length
            if end > size:
                break
            out.append((linktype, sec + frac * tick - self.offset, bytes(buf[pos + 16:end])))
            pos = end
        del buf[:pos]
        self.frames += len(out)
        return out
