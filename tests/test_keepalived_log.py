"""keepalived log formats: reading the reference captures, writing them byte for byte.

The captures in tests/data come from a real keepalived 2.2.7 (see VECTORS.md); the
capture host ran in UTC, so every test pins tz=UTC (and the year for syslog stamps).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import logging
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from haconsole.agent.cli import add_log_arguments, log_options_from_args, parse_facility
from haconsole.cluster.events import (
    AdvertReceived,
    AdvertSent,
    Event,
    LogLine,
    PacketDropped,
    PriorityChange,
    TrackResult,
    Transition,
    VipAdded,
    VipRemoved,
)
from haconsole.config import VirtualAddress, VrrpInstance
from haconsole.keepalived.log import (
    DETAIL,
    LOG_DAEMON,
    LOG_LOCAL0,
    KeepalivedFormatter,
    KeepalivedLogParser,
    KeepalivedSyslogHandler,
    LogOptions,
    build_log_handlers,
    classify,
    format_console_time,
    parse_line,
    time_extra,
)

DATA = Path(__file__).parent / "data"
UTC = timezone.utc
CONSOLE_LOGS = sorted(DATA.glob("*.log"))
SYSLOG = DATA / "keepalived-syslog.txt"

# keepalived-syslog.txt interleaves two nodes; their processes (starter, parent, VRRP
# child) by pid. 4235/4236 run with keepalived1/2.pid, 4238 forks VRRP child 4240 whose
# address is 192.0.2.11 (node1), 4239 forks 4241 (192.0.2.12, node2).
SYSLOG_NODE = {4235: "node1", 4238: "node1", 4240: "node1",
               4236: "node2", 4239: "node2", 4241: "node2"}


def at(text: str) -> float:
    """A UTC wall time of the capture day ("15:20:07") as epoch seconds."""
    return datetime.strptime(f"2026-11-22 {text}", "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=UTC
    ).timestamp()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def meaning(events: list[Event]) -> list[Event]:
    """Events other than the LogLine every line yields."""
    return [e for e in events if not isinstance(e, LogLine)]


def transitions(events: list[Event]) -> list[tuple[str, str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str, str]] = []
    for e in events:
        if isinstance(e, Transition):
            stamp = datetime.fromtimestamp(e.t, UTC).strftime("%H:%M:%S")
            out.append((stamp, e.node, e.instance, e.old, e.new, e.reason))
    return out


# ---------------------------------------------------------------------------------------
# Every line of every capture parses
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONSOLE_LOGS, ids=lambda p: p.name)
def test_every_console_line_parses(path: Path) -> None:
    parser = KeepalivedLogParser("n", tz=UTC)
    assert lines(path), "vector missing"
    for line in lines(path):
        parsed = parse_line(line, tz=UTC)
        assert parsed.form == "console", line
        assert parsed.t is not None and parsed.pid is None
        events = parser.feed(line)
        assert isinstance(events[-1], LogLine)
        assert events[-1].text == parsed.message
        assert events[-1].t == parsed.t
        assert all(e.node == "n" for e in events)


def test_every_syslog_line_parses() -> None:
    parsers = {n: KeepalivedLogParser(n, year=2026, tz=UTC) for n in ("node1", "node2")}
    for line in lines(SYSLOG):
        parsed = parse_line(line, year=2026, tz=UTC)
        assert parsed.form == "syslog", line
        assert parsed.severity == 6  # LOG_INFO, facility daemon: <30>
        assert parsed.process in ("Keepalived", "Keepalived_vrrp")
        assert parsed.pid in SYSLOG_NODE
        events = parsers[SYSLOG_NODE[parsed.pid]].feed(line)
        assert isinstance(events[-1], LogLine) and events[-1].text == parsed.message


def test_console_prefix_fields() -> None:
    p = parse_line("Sun Nov 22 15:20:25 2026: (VI_1) Entering BACKUP STATE", tz=UTC)
    assert (p.t, p.pid, p.process, p.message) == (
        at("15:20:25"), None, "", "(VI_1) Entering BACKUP STATE"
    )


def test_syslog_prefix_fields() -> None:
    p = parse_line(
        "<30>Nov 22 15:23:01 Keepalived_vrrp[4240]: (VI_1) removing VIPs.", year=2026, tz=UTC
    )
    assert (p.t, p.pid, p.process, p.message, p.host) == (
        at("15:23:01"), 4240, "Keepalived_vrrp", "(VI_1) removing VIPs.", ""
    )


def test_var_log_messages_form_with_host() -> None:
    p = parse_line(
        "Nov 22 15:23:01 lb1 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE",
        year=2026,
        tz=UTC,
    )
    assert (p.form, p.t, p.host, p.process, p.pid, p.severity) == (
        "syslog", at("15:23:01"), "lb1", "Keepalived_vrrp", 4240, None
    )
    assert p.message == "(VI_1) Entering MASTER STATE"


def test_space_padded_syslog_day() -> None:
    p = parse_line("<30>Nov  2 15:23:01 Keepalived_vrrp[1]: Stopping", year=2026, tz=UTC)
    assert p.t == datetime(2026, 11, 2, 15, 23, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "line",
    [
        "2026-11-22T15:20:10+0000 lb1 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE",
        "2026-11-22T16:20:10+01:00 lb1 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE",
        "2026-11-22T15:20:10.000000+0000 lb1 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE",
        "2026-11-22T15:20:10Z lb1 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE",
    ],
)
def test_journalctl_short_iso(line: str) -> None:
    p = parse_line(line)  # the offset is in the line: no tz needed
    assert (p.form, p.t, p.host, p.process, p.pid) == (
        "iso", at("15:20:10"), "lb1", "Keepalived_vrrp", 4240
    )
    assert p.message == "(VI_1) Entering MASTER STATE"


def test_file_form_has_nanoseconds() -> None:
    p = parse_line("Sun Nov 22 15:20:10.250000000 2026: Stopping", tz=UTC)
    assert (p.form, p.t, p.message) == ("file", at("15:20:10") + 0.25, "Stopping")


@pytest.mark.parametrize(
    "line",
    ["", "garbage", "Feb 30 12:00:00 x[1]: impossible date", "\x00\xff binary",
     "-- Boot 0123456789abcdef --", "Sun Nov 22 99:99:99 2026: bad time",
     "<999>Nov 22 15:23:01 Keepalived_vrrp[1]: odd pri", "(VI_1) Entering MASTER STATE"],
)
def test_odd_lines_never_raise(line: str) -> None:
    parser = KeepalivedLogParser("n", tz=UTC)
    events = parser.feed(line)
    if line.strip():
        assert isinstance(events[-1], LogLine)
    else:
        assert events == []


def test_bare_message_is_still_understood() -> None:
    """A message without any prefix (e.g. piped from elsewhere) still means something."""
    parser = KeepalivedLogParser("n")
    parser.feed("(VI_1) Entering BACKUP STATE (init)")
    events = parser.feed("(VI_1) Receive advertisement timeout") + parser.feed(
        "(VI_1) Entering MASTER STATE"
    )
    assert [(e.old, e.new, e.reason) for e in events if isinstance(e, Transition)] == [
        ("BACKUP", "MASTER", "advert timeout")
    ]


def test_other_programs_lines_are_only_log_lines() -> None:
    parser = KeepalivedLogParser("n", year=2026, tz=UTC)
    events = parser.feed("Nov 22 15:23:01 lb1 nginx[77]: (VI_1) Entering MASTER STATE")
    assert events == [
        LogLine(t=at("15:23:01"), node="n", text="nginx[77]: (VI_1) Entering MASTER STATE")
    ]


def test_syslog_year_rolls_over_new_year() -> None:
    parser = KeepalivedLogParser("n", year=2026, tz=UTC)
    first = parser.feed("Dec 31 23:59:59 Keepalived_vrrp[1]: Stopping")[-1]
    second = parser.feed("Jan  1 00:00:01 Keepalived_vrrp[1]: Stopping")[-1]
    assert second.t - first.t == 2


# ---------------------------------------------------------------------------------------
# Known lines -> events
# ---------------------------------------------------------------------------------------

T = at("15:20:10")
PREFIX = "Sun Nov 22 15:20:10 2026: "


def feed_after(setup: list[str], line: str, **kwargs: object) -> list[Event]:
    parser = KeepalivedLogParser("n", tz=UTC, **kwargs)  # type: ignore[arg-type]
    for s in setup:
        parser.feed(PREFIX + s)
    return meaning(parser.feed(PREFIX + line))


@pytest.mark.parametrize(
    ("setup", "line", "expected"),
    [
        ([], "(VI_1) Entering BACKUP STATE (init)",
         [Transition(T, "n", "VI_1", "INIT", "BACKUP", "init")]),
        ([], "(VI_1) Entering FAULT STATE (init)",
         [Transition(T, "n", "VI_1", "INIT", "FAULT", "init")]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Receive advertisement timeout"],
         "(VI_1) Entering MASTER STATE",
         [Transition(T, "n", "VI_1", "BACKUP", "MASTER", "advert timeout")]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Receive advertisement timeout",
          "(VI_1) Entering MASTER STATE",
          "(VI_1) Master received advert from 192.0.2.12 with higher priority 90, ours 80"],
         "(VI_1) Entering BACKUP STATE",
         [Transition(T, "n", "VI_1", "MASTER", "BACKUP",
                     "higher priority 90 advert from 192.0.2.12 (ours 80)")]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Receive advertisement timeout",
          "(VI_1) Entering MASTER STATE",
          "(VI_1) Master received advert from 192.0.2.12 with same priority 100 but higher"
          " IP address than ours"],
         "(VI_1) Entering BACKUP STATE",
         [Transition(T, "n", "VI_1", "MASTER", "BACKUP",
                     "same priority 100 advert from 192.0.2.12 with higher IP address")]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Backup received priority 0 advertisement",
          "(VI_1) Receive advertisement timeout"],
         "(VI_1) Entering MASTER STATE",
         [Transition(T, "n", "VI_1", "BACKUP", "MASTER",
                     "advert timeout after priority 0 advert (master left)")]),
        (["(VI_1) Entering BACKUP STATE (init)",
          "(VI_1) received lower priority (90) advert from 192.0.2.12 - discarding",
          "(VI_1) Receive advertisement timeout"],
         "(VI_1) Entering MASTER STATE",
         [Transition(T, "n", "VI_1", "BACKUP", "MASTER",
                     "advert timeout, preempting lower priority 90 master 192.0.2.12")]),
        (["(VI_1) Entering BACKUP STATE (init)", "Netlink reports eth0 down"],
         "(VI_1) Entering FAULT STATE",
         [Transition(T, "n", "VI_1", "BACKUP", "FAULT", "eth0 down")]),
        (["(VI_1) Entering BACKUP STATE (init)"],
         "(VI_1): entering FAULT state (interface eth0 down)",
         [Transition(T, "n", "VI_1", "BACKUP", "FAULT", "interface eth0 down")]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Entering FAULT STATE",
          "Netlink reports eth0 up"],
         "(VI_1) Entering BACKUP STATE",
         [Transition(T, "n", "VI_1", "FAULT", "BACKUP", "fault cleared (eth0 up)")]),
        (["(VI_1) Entering BACKUP STATE (init)",
          "VRRP_Group(G1) Syncing instances to MASTER state"],
         "(VI_1) Entering MASTER STATE",
         [Transition(T, "n", "VI_1", "BACKUP", "MASTER", "sync group G1")]),
        # keepalived 1.x wording, still common on older distributions.
        (["VRRP_Instance(VI_1) Entering BACKUP STATE"],
         "VRRP_Instance(VI_1) Received advert with higher priority 100, ours 90",
         [AdvertReceived(T, "n", "VI_1", "", 100)]),
        (["(VI_1) Entering BACKUP STATE (init)", "(VI_1) Receive advertisement timeout",
          "(VI_1) Entering MASTER STATE"],
         "Stopping",
         [Transition(T, "n", "VI_1", "MASTER", "STOP", "keepalived stopping")]),
        ([], "(VI_1) Changing effective priority from 100 to 80",
         [PriorityChange(T, "n", "VI_1", 100, 80, 100, "")]),
        (["VRRP_Script(chk_nginx) failed (exited with status 1)"],
         "(VI_1) Changing effective priority from 100 to 80",
         [PriorityChange(T, "n", "VI_1", 100, 80, 100, "chk_nginx failed (weight -20)")]),
        (["VRRP_Script(chk_nginx) succeeded"],
         "(VI_1) Changing effective priority from 80 to 100",
         [PriorityChange(T, "n", "VI_1", 80, 100, 80, "chk_nginx succeeded (priority +20)")]),
        ([], "VRRP_Script(chk_nginx) succeeded",
         [TrackResult(T, "n", "chk_nginx", True, "succeeded")]),
        ([], "VRRP_Script(chk_nginx) failed (exited with status 1)",
         [TrackResult(T, "n", "chk_nginx", False, "failed (exited with status 1)")]),
        ([], "VRRP_Script(chk_nginx) timed_out",
         [TrackResult(T, "n", "chk_nginx", False, "timed_out")]),
        ([], "VRRP_Script(chk_nginx) failed (due to signal 9)",
         [TrackResult(T, "n", "chk_nginx", False, "failed (due to signal 9)")]),
        ([], "Script `chk_nginx` now returning 1",
         [TrackResult(T, "n", "chk_nginx", False, "now returning 1")]),
        ([], "Script `chk_nginx` now returning 0",
         [TrackResult(T, "n", "chk_nginx", True, "now returning 0")]),
        ([], "Netlink reports eth1 down",
         [TrackResult(T, "n", "eth1", False, "Netlink reports eth1 down")]),
        ([], "Quorum lost for tracked process nginx",
         [TrackResult(T, "n", "nginx", False, "quorum lost")]),
        ([], "(VI_1) setting VIPs.", [VipAdded(T, "n", "VI_1", "")]),
        ([], "(VI_1) removing VIPs.", [VipRemoved(T, "n", "VI_1", "")]),
        ([], "(VI_1) sent 0 priority", [AdvertSent(T, "n", "VI_1", 0)]),
        ([], "(VI_1) Backup received priority 0 advertisement",
         [AdvertReceived(T, "n", "VI_1", "", 0)]),
        ([], "(VI_1) Master received priority 0 message",
         [AdvertReceived(T, "n", "VI_1", "", 0)]),
        ([], "(VI_1) received lower priority (90) advert from 192.0.2.12 - discarding",
         [AdvertReceived(T, "n", "VI_1", "192.0.2.12", 90)]),
        ([], "(VI_1) Received advert from 192.0.2.12 with lower priority 90, ours 100, "
             "forcing new election",
         [AdvertReceived(T, "n", "VI_1", "192.0.2.12", 90)]),
        # Packet checks: keepalived's exact wording (vrrp.c), reason = its counter name.
        ([], "(VI_1) received an invalid passwd!",
         [PacketDropped(T, "n", "VI_1", "", "auth_failure", "received an invalid passwd!")]),
        ([], "(VI_1) received a 0 auth, expecting 1!",
         [PacketDropped(T, "n", "VI_1", "", "authtype_mismatch",
                        "received a 0 auth, expecting 1!")]),
        ([], "(VI_1) Invalid auth type: 7",
         [PacketDropped(T, "n", "VI_1", "", "invalid_authtype", "Invalid auth type: 7")]),
        ([], "(VI_1) invalid TTL/HL. Received 64 and expect 255",
         [PacketDropped(T, "n", "VI_1", "", "ip_ttl_err",
                        "invalid TTL/HL. Received 64 and expect 255")]),
        ([], "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec",
         [PacketDropped(T, "n", "VI_1", "", "advert_interval_err",
                        "advertisement interval mismatch mine=1 sec rcv'd=2 sec")]),
        ([], "(VI_1) received an unexpected ip number count 2, expected 1!",
         [PacketDropped(T, "n", "VI_1", "", "addr_list_err",
                        "received an unexpected ip number count 2, expected 1!")]),
        ([], "(VI_1) vrrp packet too short, length 20 and expect 24",
         [PacketDropped(T, "n", "VI_1", "", "packet_len_err",
                        "vrrp packet too short, length 20 and expect 24")]),
        ([], "(VI_1) wrong version. Received 3 and expect 2",
         [PacketDropped(T, "n", "VI_1", "", "vers_err",
                        "wrong version. Received 3 and expect 2")]),
        ([], "(VI_1) Invalid packet type. 2 and expect 1",
         [PacketDropped(T, "n", "VI_1", "", "invalid_type_rcvd",
                        "Invalid packet type. 2 and expect 1")]),
        ([], "(VI_1) Invalid VRRPv3 checksum",
         [PacketDropped(T, "n", "VI_1", "", "chk_err", "Invalid VRRPv3 checksum")]),
        # Recognised, but no event type fits: the LogLine is all (see classify below).
        ([], "Sending gratuitous ARP on eth0 for 192.0.2.170", []),
        ([], "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.170", []),
        ([], "Registering Kernel netlink reflector", []),
    ],
)
def test_known_lines(setup: list[str], line: str, expected: list[Event]) -> None:
    assert feed_after(setup, line) == expected


def test_vips_from_config_or_set_vips() -> None:
    vips = [VirtualAddress(ipaddress.ip_interface("192.0.2.170/24")),
            VirtualAddress(ipaddress.ip_interface("192.0.2.171"))]
    inst = VrrpInstance(name="VI_1", priority=100, virtual_ipaddress=vips)
    parser = KeepalivedLogParser("n", instances=[inst], tz=UTC)
    assert meaning(parser.feed(PREFIX + "(VI_1) setting VIPs.")) == [
        VipAdded(T, "n", "VI_1", "192.0.2.170"),
        VipAdded(T, "n", "VI_1", "192.0.2.171"),
    ]
    parser.set_vips("VI_2", ["2001:db8::100"])
    assert meaning(parser.feed(PREFIX + "(VI_2) removing VIPs.")) == [
        VipRemoved(T, "n", "VI_2", "2001:db8::100")
    ]
    # The configured priority is PriorityChange.base even when the first change is later.
    parser.feed(PREFIX + "(VI_1) Changing effective priority from 100 to 80")
    change = meaning(parser.feed(PREFIX + "(VI_1) Changing effective priority from 80 to 60"))
    assert change == [PriorityChange(T, "n", "VI_1", 80, 60, 100, "")]


def test_classify_garp_and_na_lines() -> None:
    garp = classify("Sending gratuitous ARP on eth0 for 192.0.2.170")
    assert garp is not None and (garp.kind, garp.interface, garp.address) == (
        "garp_sent", "eth0", "192.0.2.170"
    )
    na = classify("Sending unsolicited Neighbour Advert on eth0 for 2001:db8::100")
    assert na is not None and (na.kind, na.address) == ("na_sent", "2001:db8::100")
    queued = classify(
        "(VI_V6) Sending/queueing Unsolicited Neighbour Adverts on eth0 for 2001:db8::100"
    )
    assert queued is not None and (queued.kind, queued.instance, queued.address) == (
        "garp_queued", "VI_V6", "2001:db8::100"
    )
    assert classify("(/etc/keepalived/keepalived.conf: Line 20) Truncating auth_pass") is None
    assert classify("VRRP sockpool: [ifindex(  2), family(IPv4)]") is None


# keepalived 2.4.3's wording for dropped packets (vrrp.c, log_rate_limited_error): the
# 2.2.7 stems, now naming the sender; and what 2.3/2.4 added.
@pytest.mark.parametrize(
    ("message", "reason", "source", "address"),
    [
        ("received an invalid passwd from 192.0.2.12!", "auth_failure", "192.0.2.12", ""),
        ("received a 0 auth from 192.0.2.12, expecting 1!", "authtype_mismatch",
         "192.0.2.12", ""),
        ("Received AH header but auth type not AH from 192.0.2.12", "authtype_mismatch",
         "192.0.2.12", ""),
        ("Invalid auth type from 192.0.2.12: 7", "invalid_authtype", "192.0.2.12", ""),
        ("invalid TTL/HL from 192.0.2.12. Received 64 and expect 255", "ip_ttl_err",
         "192.0.2.12", ""),
        ("TTL/HL 64 from 192.0.2.12 not in range [250, 255]", "ip_ttl_err", "192.0.2.12", ""),
        ("vrrp packet from 192.0.2.12 too short, length 20 and expect 24", "packet_len_err",
         "192.0.2.12", ""),
        ("ip_tot_len mismatch against received length from 192.0.2.12. 40 and received 44",
         "packet_len_err", "192.0.2.12", ""),
        ("wrong VRRP version from 2001:db8::12. Received 2 and expect 3", "vers_err",
         "2001:db8::12", ""),
        ("advertisement interval mismatch with 192.0.2.12 mine=1 sec rcv'd=3 sec",
         "advert_interval_err", "192.0.2.12", ""),
        ("Invalid packet type from 192.0.2.12. 2 and expect 1", "invalid_type_rcvd",
         "192.0.2.12", ""),
        ("Invalid VRRPv3 checksum from fe80::12", "chk_err", "fe80::12", ""),
        ("Expected multicast packet but received unicast packet from 192.0.2.12", "addr_list_err",
         "192.0.2.12", ""),
        ("ip address associated with VRID 51 not present in advert from 192.0.2.12: "
         "192.0.2.170", "addr_list_err", "192.0.2.12", "192.0.2.170"),
        # 2.2.7 (and 1.x) name the missing VIP, with a space before the colon.
        ("ip address associated with VRID 51 not present in MASTER advert : 192.0.2.170",
         "addr_list_err", "", "192.0.2.170"),
        ("missing authentication trailer from 192.0.2.12", "auth_ext_missing",
         "192.0.2.12", ""),
        ("malformed authentication trailer from 192.0.2.12", "auth_ext_malformed",
         "192.0.2.12", ""),
        ("unknown authentication key id 3 from 192.0.2.12", "auth_ext_unknown_key",
         "192.0.2.12", ""),
        ("invalid authentication HMAC from 192.0.2.12", "auth_ext_invalid_hmac",
         "192.0.2.12", ""),
        ("stale authentication trailer from 192.0.2.12, clock skew -40 sec exceeds window "
         "30 sec", "auth_ext_stale", "192.0.2.12", ""),
        ("replayed authentication trailer from 192.0.2.12", "auth_ext_replay",
         "192.0.2.12", ""),
        ("Dropping packet(s) from 192.0.2.12 since we are address owner", "owner_ignore",
         "192.0.2.12", ""),
    ],
)
def test_keepalived_2_4_packet_errors(message: str, reason: str, source: str,
                                      address: str) -> None:
    msg = classify(f"(VI_1) {message}")
    assert msg is not None
    assert (msg.kind, msg.instance, msg.reason, msg.source, msg.address, msg.detail) == (
        "packet_error", "VI_1", reason, source, address, message
    )
    parsed = KeepalivedLogParser("n", tz=UTC).feed(PREFIX + f"(VI_1) {message}")
    assert parsed[0] == PacketDropped(T, "n", "VI_1", source, reason, message)
    assert isinstance(parsed[-1], LogLine) and parsed[-1].level == "warning"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        # Kept packets that still say something is wrong: the log tail flags them.
        ("(VI_1) advertisement interval mismatch ours = 100 centi-sec rcv'd=300 centi-sec",
         "error"),
        ("(VI_1) authentication clock skew 20 sec from 192.0.2.12 approaching window 30 sec",
         "error"),
        ("(VI_1) 192.0.2.12 is still advertising as address owner, please resolve - reducing "
         "our priority", "error"),
        ("(VI_1) CONFIGURATION ERROR: local instance and 192.0.2.12 are both configured as "
         "address owner, please resolve", "error"),
        # Informational: nothing to show but the line.
        ("(VI_1) master set to 192.0.2.12", None),
        ("(VI_1) master changed from 192.0.2.11 to 192.0.2.12", None),
        ("(VI_1) Restoring our priority to 255 since other address owner has disappeared", None),
        ("Delayed start completed", None),
    ],
)
def test_keepalived_2_4_other_lines(message: str, kind: str | None) -> None:
    msg = classify(message)
    assert (msg.kind if msg is not None else None) == kind


def test_packet_errors_are_flagged_in_the_log_tail() -> None:
    parser = KeepalivedLogParser("n", tz=UTC)
    line = parser.feed(PREFIX + "(VI_1) received an invalid passwd!")[-1]
    assert isinstance(line, LogLine) and line.level == "warning"
    plain = parser.feed(PREFIX + "Startup complete")[-1]
    assert isinstance(plain, LogLine) and plain.level == "info"


def test_vectors_console_log_five_instances() -> None:
    """The five-instance capture: each instance INIT->BACKUP->MASTER->STOP."""
    parser = KeepalivedLogParser("n", tz=UTC)
    events = parser.feed_lines(lines(DATA / "keepalived-vectors-console.log"))
    assert transitions(events) == [
        ("15:22:01", "n", "VI_V2", "INIT", "BACKUP", "init"),
        ("15:22:01", "n", "VI_V3", "INIT", "BACKUP", "init"),
        ("15:22:01", "n", "VI_V3FAST", "INIT", "BACKUP", "init"),
        ("15:22:01", "n", "VI_V6", "INIT", "BACKUP", "init"),
        ("15:22:01", "n", "VI_UNI", "INIT", "BACKUP", "init"),
        ("15:22:02", "n", "VI_V3FAST", "BACKUP", "MASTER", "advert timeout"),
        ("15:22:05", "n", "VI_V3", "BACKUP", "MASTER", "advert timeout"),
        ("15:22:05", "n", "VI_V6", "BACKUP", "MASTER", "advert timeout"),
        ("15:22:05", "n", "VI_UNI", "BACKUP", "MASTER", "advert timeout"),
        ("15:22:05", "n", "VI_V2", "BACKUP", "MASTER", "advert timeout"),
        ("15:22:08", "n", "VI_V2", "MASTER", "STOP", "keepalived stopping"),
        ("15:22:08", "n", "VI_V3", "MASTER", "STOP", "keepalived stopping"),
        ("15:22:08", "n", "VI_V3FAST", "MASTER", "STOP", "keepalived stopping"),
        ("15:22:08", "n", "VI_V6", "MASTER", "STOP", "keepalived stopping"),
        ("15:22:08", "n", "VI_UNI", "MASTER", "STOP", "keepalived stopping"),
    ]
    sent0 = [e.instance for e in events if isinstance(e, AdvertSent) and e.priority == 0]
    assert sent0 == ["VI_V2", "VI_V3", "VI_V3FAST", "VI_V6", "VI_UNI"]
    assert parser.states == {name: "STOP" for name in
                             ("VI_V2", "VI_V3", "VI_V3FAST", "VI_V6", "VI_UNI")}


# ---------------------------------------------------------------------------------------
# Replaying a two-node run rebuilds its transitions
# ---------------------------------------------------------------------------------------

# The nginx pair (VECTORS.md): node1 prio 100, node2 prio 90, chk_nginx weight -20.
# Timestamps have one-second resolution; within a second, events are ordered by node.
NGINX_PAIR_CONSOLE = [
    ("15:20:07", "node1", "VI_1", "INIT", "BACKUP", "init"),
    ("15:20:07", "node2", "VI_1", "INIT", "BACKUP", "init"),
    ("15:20:10", "node1", "VI_1", "BACKUP", "MASTER", "advert timeout"),
    # chk_nginx fails on node1 at 15:20:22: 100 -> 80; node2 (90) takes over.
    ("15:20:25", "node1", "VI_1", "MASTER", "BACKUP",
     "higher priority 90 advert from 192.0.2.12 (ours 80)"),
    ("15:20:25", "node2", "VI_1", "BACKUP", "MASTER",
     "advert timeout, preempting lower priority 80 master 192.0.2.11"),
    # chk_nginx recovers at 15:20:30: node1 back to 100 and preempts.
    ("15:20:32", "node1", "VI_1", "BACKUP", "MASTER",
     "advert timeout, preempting lower priority 90 master 192.0.2.12"),
    ("15:20:32", "node2", "VI_1", "MASTER", "BACKUP",
     "higher priority 100 advert from 192.0.2.11 (ours 90)"),
    # SIGTERM on node1: priority 0, node2 takes over after Skew_Time.
    ("15:20:35", "node1", "VI_1", "MASTER", "STOP", "keepalived stopping"),
    ("15:20:36", "node2", "VI_1", "BACKUP", "MASTER",
     "advert timeout after priority 0 advert (master left)"),
    ("15:21:47", "node2", "VI_1", "MASTER", "STOP", "keepalived stopping"),
]


def replay(per_node: dict[str, list[str]], **kwargs: object) -> list[Event]:
    events: list[Event] = []
    for node, node_lines in per_node.items():
        parser = KeepalivedLogParser(node, tz=UTC, **kwargs)  # type: ignore[arg-type]
        parser.set_vips("VI_1", ["192.0.2.170"])
        events.extend(parser.feed_lines(node_lines))
    return sorted(events, key=lambda e: (e.t, e.node))  # stable: keeps each node's order


def test_replay_nginx_pair_console_logs() -> None:
    events = replay({
        "node1": lines(DATA / "keepalived-node1-console.log"),
        "node2": lines(DATA / "keepalived-node2-console.log"),
    })
    assert transitions(events) == NGINX_PAIR_CONSOLE
    changes = [(e.node, e.old, e.new, e.base, e.cause) for e in events
               if isinstance(e, PriorityChange)]
    assert changes == [
        ("node1", 100, 80, 100, "chk_nginx failed (weight -20)"),
        ("node1", 80, 100, 100, "chk_nginx succeeded (priority +20)"),
    ]
    vip_moves = [(type(e).__name__, e.node) for e in events
                 if isinstance(e, (VipAdded, VipRemoved)) and e.t > at("15:20:07")]
    assert vip_moves == [
        ("VipAdded", "node1"),
        ("VipRemoved", "node1"), ("VipAdded", "node2"),
        ("VipAdded", "node1"), ("VipRemoved", "node2"),
        ("VipRemoved", "node1"), ("VipAdded", "node2"),
        ("VipRemoved", "node2"),
    ]


def test_replay_nginx_pair_syslog() -> None:
    """The same kind of run, from syslog with both nodes interleaved (split by pid)."""
    per_node: dict[str, list[str]] = {"node1": [], "node2": []}
    for line in lines(SYSLOG):
        pid = parse_line(line, year=2026, tz=UTC).pid
        assert pid is not None
        per_node[SYSLOG_NODE[pid]].append(line)
    events = replay(per_node, year=2026)
    assert transitions(events) == [
        ("15:23:01", "node1", "VI_1", "INIT", "BACKUP", "init"),
        ("15:23:01", "node2", "VI_1", "INIT", "BACKUP", "init"),
        ("15:23:05", "node1", "VI_1", "BACKUP", "MASTER", "advert timeout"),
        ("15:23:09", "node1", "VI_1", "MASTER", "BACKUP",
         "higher priority 90 advert from 192.0.2.12 (ours 80)"),
        ("15:23:09", "node2", "VI_1", "BACKUP", "MASTER",
         "advert timeout, preempting lower priority 80 master 192.0.2.11"),
        ("15:23:15", "node1", "VI_1", "BACKUP", "MASTER",
         "advert timeout, preempting lower priority 90 master 192.0.2.12"),
        ("15:23:15", "node2", "VI_1", "MASTER", "BACKUP",
         "higher priority 100 advert from 192.0.2.11 (ours 90)"),
        ("15:23:18", "node1", "VI_1", "MASTER", "STOP", "keepalived stopping"),
        ("15:23:19", "node2", "VI_1", "BACKUP", "MASTER",
         "advert timeout after priority 0 advert (master left)"),
        ("15:23:20", "node2", "VI_1", "MASTER", "STOP", "keepalived stopping"),
    ]


# ---------------------------------------------------------------------------------------
# Writing: byte for byte
# ---------------------------------------------------------------------------------------


def record(message: str, t: float, level: int = logging.INFO) -> logging.LogRecord:
    rec = logging.LogRecord("haconsole.engine", level, __file__, 0, message, None, None)
    rec.__dict__.update(time_extra(t))
    return rec


@pytest.mark.parametrize("path", CONSOLE_LOGS, ids=lambda p: p.name)
def test_console_formatter_reproduces_vectors(path: Path) -> None:
    formatter = KeepalivedFormatter("console", tz=UTC)
    for line in lines(path):
        parsed = parse_line(line, tz=UTC)
        assert parsed.t is not None
        assert formatter.format(record(parsed.message, parsed.t)) == line


def test_syslog_formatter_reproduces_vectors() -> None:
    for line in lines(SYSLOG):
        parsed = parse_line(line, year=2026, tz=UTC)
        assert parsed.t is not None
        formatter = KeepalivedFormatter("syslog", tz=UTC, ident=parsed.process, pid=parsed.pid)
        assert formatter.format(record(parsed.message, parsed.t)) == line


def test_day_of_month_is_space_padded_like_strftime_c() -> None:
    t = datetime(2026, 11, 2, 15, 20, 10, tzinfo=UTC).timestamp()
    assert format_console_time(t, UTC) == "Mon Nov  2 15:20:10 2026"
    rec = record("Stopping", t + 0.5)
    assert KeepalivedFormatter("console", tz=UTC).format(rec) == (
        "Mon Nov  2 15:20:10 2026: Stopping"
    )
    assert KeepalivedFormatter("file", tz=UTC).format(rec) == (
        "Mon Nov 02 15:20:10.500000000 2026: Stopping"
    )
    assert KeepalivedFormatter("syslog", tz=UTC, pid=7).format(rec) == (
        "<30>Nov  2 15:20:10 Keepalived_vrrp[7]: Stopping"
    )


@pytest.mark.parametrize("form", ["console", "file", "syslog"])
def test_written_lines_read_back(form: str) -> None:
    t = at("15:20:10") + 0.25
    formatter = KeepalivedFormatter(form, tz=UTC, pid=4240)  # type: ignore[arg-type]
    line = formatter.format(record("(VI_1) Entering MASTER STATE", t))
    parsed = parse_line(line, year=2026, tz=UTC)
    assert parsed.message == "(VI_1) Entering MASTER STATE"
    assert parsed.t == (t if form == "file" else at("15:20:10"))


def test_syslog_severity_and_facility() -> None:
    t = at("15:20:10")
    local3 = KeepalivedFormatter("syslog", tz=UTC, pid=1, facility=parse_facility("3"))
    assert local3.format(record("x", t)).startswith("<158>")  # local3 | info
    assert local3.format(record("x", t, logging.ERROR)).startswith("<155>")
    daemon = KeepalivedFormatter("syslog", tz=UTC, pid=1)
    assert daemon.format(record("x", t, DETAIL)).startswith("<30>")  # -D lines are info
    assert daemon.format(record("x", t, logging.WARNING)).startswith("<28>")


def test_console_truncates_like_keepalived() -> None:
    line = KeepalivedFormatter("console", tz=UTC).format(record("x" * 600, at("15:20:10")))
    assert line == "Sun Nov 22 15:20:10 2026: " + "x" * 510


@pytest.mark.parametrize(
    ("value", "facility"),
    [("0", LOG_LOCAL0), ("7", LOG_LOCAL0 + (7 << 3)), ("local5", LOG_LOCAL0 + (5 << 3)),
     ("daemon", LOG_DAEMON), ("user", 8)],
)
def test_parse_facility(value: str, facility: int) -> None:
    assert parse_facility(value) == facility


@pytest.mark.parametrize("value", ["8", "local8", "kern", "", "-1"])
def test_parse_facility_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="Invalid log facility"):
        parse_facility(value)


# ---------------------------------------------------------------------------------------
# Handlers from keepalived's flags (the agent's command line)
# ---------------------------------------------------------------------------------------


def handlers_from_argv(argv: list[str], **kwargs: object) -> list[logging.Handler]:
    """What `haconsole agent` does with its logging flags (agent/cli.py)."""
    parser = argparse.ArgumentParser(prog="keepalived", add_help=False)
    add_log_arguments(parser)
    options = log_options_from_args(parser.parse_args(argv))
    return build_log_handlers(options, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def syslog_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "log")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_flags_to_handlers(tmp_path: Path, syslog_socket: tuple[str, socket.socket]) -> None:
    address, sock = syslog_socket
    stream = io.StringIO()
    log_file = tmp_path / "keepalived.log"
    handlers = handlers_from_argv(
        ["-l", "-D", "-S", "local3", "--log-file", str(log_file)],
        stream=stream, syslog_address=address, pid=4240, tz=UTC,
    )
    assert [type(h).__name__ for h in handlers] == [
        "StreamHandler", "FileHandler", "KeepalivedSyslogHandler"
    ]
    assert all(h.level == DETAIL for h in handlers)
    logger = logging.getLogger("test_keepalived_log.flags")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    for h in handlers:
        logger.addHandler(h)
    try:
        t = at("15:20:10")
        logger.info("(VI_1) Entering MASTER STATE", extra=time_extra(t))
        logger.log(DETAIL, "(VI_1) sent 0 priority", extra=time_extra(t + 1))
        logger.debug("not shown without -DD", extra=time_extra(t + 2))
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
    assert stream.getvalue() == (
        "Sun Nov 22 15:20:10 2026: (VI_1) Entering MASTER STATE\n"
        "Sun Nov 22 15:20:11 2026: (VI_1) sent 0 priority\n"
    )
    assert log_file.read_text() == (
        "Sun Nov 22 15:20:10.000000000 2026: (VI_1) Entering MASTER STATE\n"
        "Sun Nov 22 15:20:11.000000000 2026: (VI_1) sent 0 priority\n"
    )
    assert sock.recv(1024) == (
        b"<158>Nov 22 15:20:10 Keepalived_vrrp[4240]: (VI_1) Entering MASTER STATE"
    )
    assert sock.recv(1024) == b"<158>Nov 22 15:20:11 Keepalived_vrrp[4240]: (VI_1) sent 0 priority"


def test_defaults_without_syslog_socket(tmp_path: Path) -> None:
    assert build_log_handlers(LogOptions(), syslog_address=str(tmp_path / "none")) == []
    handlers = build_log_handlers(LogOptions(console=True), syslog_address=str(tmp_path / "x"))
    assert len(handlers) == 1 and handlers[0].level == logging.INFO
    assert build_log_handlers(LogOptions(syslog=False), syslog_address=str(tmp_path)) == []


def test_argparse_flags() -> None:
    parser = argparse.ArgumentParser()
    add_log_arguments(parser)
    opts = log_options_from_args(parser.parse_args(["-DD", "-g", "-G"]))
    assert opts == LogOptions(detail=2, log_file="/tmp/keepalived.log", syslog=False)
    assert opts.level == logging.DEBUG
    assert log_options_from_args(parser.parse_args([])) == LogOptions()
    with pytest.raises(SystemExit):
        parser.parse_args(["-S", "kern"])


def test_syslog_handler_drops_when_socket_goes_away(tmp_path: Path) -> None:
    handler = KeepalivedSyslogHandler(str(tmp_path / "missing"))
    handler.emit(record("x", at("15:20:10")))
    assert handler.dropped == 1
    handler.close()
