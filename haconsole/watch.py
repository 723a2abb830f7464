"""`haconsole watch`: the wire of a segment, from a capture file or a live interface.

Three ways to look at it:
- the console on the wire alone (`-i IFACE` on a terminal): the Wire screen, every
  speaker per VRID, each VIP's ARP/ND owner, and the wire alarms;
- `--summary`: the same per-VRID table and alarms as text, at the end or `--every N`
  seconds (`--read FILE --summary`: as of the capture's last packet);
- `--text` / `--json`: one line per VRRP packet (the default for `--read` and when the
  output is not a terminal).

Decoding is `haconsole.capture` (link layers, IP, VRRP via `haconsole.vrrp.packet`, the
codec the engine uses, so what `watch` calls valid is what a node would accept
structurally); the summary and the console fold the wire source's events into the same
`ClusterView` every source feeds. Passwords are never printed unless asked for with
--show-secrets (lines only: the summary and the console tell passwords apart by a
letter, never by their value).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import signal
import sys
import time as _time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from haconsole.capture.frames import VrrpRecord, decode_frame
from haconsole.capture.pcap import CaptureError, read_pcap
from haconsole.cluster.events import Event
from haconsole.cluster.view import ClusterView
from haconsole.pipes import silence_stdout
from haconsole.vrrp.packet import AUTH_NAMES, AUTH_PASS, CHK_ERR, Advert, format_interval

__all__ = ["BAD_TIME", "CaptureError", "WatchRecord", "add_arguments", "capture_live",
           "format_json", "format_summary", "format_text", "main_watch", "read_pcap",
           "to_json"]

if TYPE_CHECKING:
    from haconsole.sources.wire import LiveWireSource

#: One VRRP packet as `watch` prints it (the shared decoder's record).
WatchRecord = VrrpRecord


def capture_live(interface: str, *, count: int | None = None,
                 timeout: float | None = None) -> Iterator[WatchRecord]:
    """Every VRRP packet seen on `interface` (AF_PACKET: like tcpdump, no group join).

    Listens only. Stops after `count` VRRP packets or `timeout` seconds, or never.
    Raises CaptureError with one readable line (no permission, no such interface).
    """
    from haconsole.capture.live import open_packet_socket

    sock = open_packet_socket(interface)
    try:
        end = None if timeout is None else _time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            left = None if end is None else end - _time.monotonic()
            if left is not None and left <= 0:
                return
            if not sock.wait(0.25 if left is None else min(0.25, left)):
                continue  # wake up to honour the timeout and Ctrl-C
            for linktype, t, frame in sock.read(256):
                record = decode_frame(linktype, t, frame)
                if type(record) is VrrpRecord:
                    seen += 1
                    yield record
                    if count is not None and seen >= count:
                        return
    finally:
        sock.close()


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
        help="capture live on IFACE: the console on the wire when the output is a "
             "terminal (root or CAP_NET_RAW; listens only, sends nothing; a bridge is "
             "watched on its ports)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--text", action="store_true",
                      help="one line per VRRP packet (the default for --read, and when "
                           "the output is not a terminal)")
    mode.add_argument("--json", action="store_true", help="one JSON object per VRRP packet")
    mode.add_argument("--summary", action="store_true",
                      help="a per-VRID table of speakers and ARP owners, with the wire "
                           "alarms: at the end, or every --every seconds")
    parser.add_argument("--every", type=_positive, default=None, metavar="SECONDS",
                        help="--summary: print one every SECONDS (live)")
    parser.add_argument("-c", "--count", type=int, default=None,
                        help="live: stop after this many VRRP packets (--summary: frames)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="live: stop after this many seconds")
    parser.add_argument(
        "--show-secrets", action="store_true",
        help="show VRRPv2 simple passwords in clear (--text / --json lines only)")
    parser.add_argument("--theme", default=None, help="colour theme (console)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.1 <= value <= 86400:
        raise argparse.ArgumentTypeError("a number of seconds, 0.1 to 86400")
    return value


def main_watch(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `haconsole watch`; 0 on success, 2 with one line on stderr otherwise."""
    stdout = out if out is not None else sys.stdout
    path = getattr(args, "read", None)
    interface = getattr(args, "interface", None)
    if not path and not interface:
        print("haconsole watch: give a capture with --read FILE or an interface with -i",
              file=sys.stderr)
        return 2
    try:
        if getattr(args, "summary", False):
            return _summary(args, stdout)
        lines = bool(getattr(args, "text", False) or getattr(args, "json", False))
        if interface and not lines and out is None and _console_possible():
            return _console(str(interface), getattr(args, "theme", None))
        return _lines(args, stdout)
    except CaptureError as err:
        print(f"haconsole watch: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `haconsole watch -r x.pcap | head`: the reader left, which is not an error.
        silence_stdout()
    return 0


def _lines(args: argparse.Namespace, stdout: TextIO) -> int:
    path = getattr(args, "read", None)
    fmt = format_json if getattr(args, "json", False) else format_text
    show_secrets = bool(getattr(args, "show_secrets", False))
    records = (read_pcap(path) if path else
               capture_live(str(args.interface), count=getattr(args, "count", None),
                            timeout=getattr(args, "timeout", None)))
    for record in records:
        print(fmt(record, show_secrets=show_secrets), file=stdout, flush=not path)
    stdout.flush()
    return 0


def _console_possible() -> bool:
    if not sys.stdout.isatty():
        return False
    try:
        import textual  # noqa: F401
    except ImportError:
        return False
    return True


def _console(interface: str, theme: str | None) -> int:
    """The console on the wire alone (the Wire screen first)."""
    from haconsole.console.app import console_themes
    from haconsole.console.wire_screen import run_wire_console
    from haconsole.sources.wire import LiveWireSource

    try:
        themes, theme = console_themes(theme)
    except ValueError as err:
        print(f"haconsole watch: {err}", file=sys.stderr)
        return 2
    source = LiveWireSource(interface)
    source.open()  # a missing interface or no permission: one line, before the screen
    return run_wire_console([source], cluster=f"wire {interface}", theme=theme,
                            themes=themes)


# ----------------------------------------------------------------------------- summary


def _summary(args: argparse.Namespace, stdout: TextIO) -> int:
    from haconsole.sources.wire import LiveWireSource, PcapWireSource

    view = ClusterView()

    def fold(event: Event) -> None:
        view.apply(event)

    path = getattr(args, "read", None)
    if path:
        PcapWireSource(path).replay(fold)
        print(format_summary(view, view.last_t), file=stdout, flush=True)
        return 0
    source = LiveWireSource(str(args.interface))
    source.open()
    asyncio.run(_live_summary(source, view, fold, stdout, every=getattr(args, "every", None),
                              count=getattr(args, "count", None),
                              timeout=getattr(args, "timeout", None)))
    return 0


async def _live_summary(source: LiveWireSource, view: ClusterView,
                        fold: Callable[[Event], None], stdout: TextIO, *,
                        every: float | None, count: int | None,
                        timeout: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await source.start(fold)
    end = None if timeout is None else loop.time() + timeout
    next_print = None if every is None else loop.time() + every
    try:
        while not stop.is_set():
            now = loop.time()
            if end is not None and now >= end:
                break
            if count is not None and source.aggregator.packets >= count:
                break
            if next_print is not None and now >= next_print:
                print(format_summary(view, _time.time()), file=stdout, flush=True)
                next_print = now + (every or 1.0)
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    finally:
        await source.stop()
    print(format_summary(view, _time.time()), file=stdout, flush=True)


def format_summary(view: ClusterView, now: float) -> str:
    """The per-VRID table (speakers, VIP owners) and the wire alarms, as of `now`."""
    from haconsole.cluster.wire import RouterRow

    stamp = _timestamp(now) or f"{now:.3f}"
    points = "; ".join(f"{p.name}: {p.packets} decoded, {p.dropped} dropped"
                       + ("" if p.ok else f", {p.detail}")
                       for p in view.wire.points.values()) or "no capture"
    lines = [f"== wire summary at {stamp} UTC ({points})"]
    rows: list[RouterRow] = view.wire.report(view, now)
    if not rows:
        lines.append("no VRRP speaker seen")
    for row in rows:
        title = f"VRID {row.vrid}" + (f" ({row.instance})" if row.instance else "") + \
            (" IPv6" if row.family == 6 else " IPv4")
        lines.append(title)
        table = [("", "speaker", "node", "MAC", "prio", "int", "ver", "auth", "adv/s",
                  "TTL", "last")]
        for spk in row.speakers:
            table.append(("*" if spk.sending else " ", spk.address, spk.node or "-",
                          spk.mac or "-", str(spk.priority), f"{spk.interval:g}s",
                          f"v{spk.version}", spk.auth, f"{spk.rate:.1f}",
                          str(spk.ttl) + (" unicast" if spk.unicast else ""),
                          f"{max(0.0, now - spk.last):.1f}s ago"))
        if len(table) > 1:
            lines.extend("  " + line for line in _columns(table))
        for spk in row.speakers:
            lines.append(f"  {spk.address} advertises "
                         f"{', '.join(spk.vips) or 'no VIP'}")
        for owner in row.owners:
            macs = ", ".join(f"{mac}" + (f" ({node})" if node else "")
                             + ("" if answering else " (stopped)")
                             for mac, node, answering in owner.macs)
            garp = (f"; gratuitous {max(0.0, now - owner.announced):.1f}s ago by "
                    f"{owner.announced_by}") if owner.announced is not None else ""
            lines.append(f"  VIP {owner.vip} answered by {macs}{garp}" if macs else
                         f"  VIP {owner.vip}: no ARP/ND answer seen")
    alarms = [a for a in view.alarms(now) if a.kind.startswith("wire-")]
    lines.append("alarms:" + ("" if alarms else " none"))
    for alarm in alarms:
        glyph = "✖" if alarm.severity == "critical" else "▲"
        lines.append(f"  {glyph} {alarm.title}: {alarm.message}")
    anomalies = sorted(view.wire.anomalies.values(), key=lambda a: -a.count)
    if anomalies:
        lines.append("anomalies: " + "; ".join(
            f"{a.reason} x{a.count}" + (f" from {a.source}" if a.source else "")
            for a in anomalies[:5]))
    return "\n".join(lines)


def _columns(table: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in table]
