"""`haconsole watch --read`: one line (or JSON object) per VRRP packet of a capture."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1Q, Ether
from scapy.layers.ppp import PPP
from scapy.layers.vrrp import VRRP, VRRPv3
from scapy.packet import Packet, Raw
from scapy.utils import rdpcap, wrpcap, wrpcapng

from haconsole.watch import (
    WatchRecord,
    add_arguments,
    format_json,
    format_text,
    main_watch,
    read_pcap,
)

DATA = Path(__file__).parent / "data"
VECTORS = DATA / "keepalived-2.2.7-vectors.pcap"
PASSWORD = "1111"  # VI_V2's auth_pass in the vectors


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    parser = argparse.ArgumentParser(prog="haconsole watch")
    add_arguments(parser)
    code = main_watch(parser.parse_args(list(argv)))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def vrrp_packet_count(path: Path) -> int:
    """Counted with scapy alone, to check watch misses nothing and invents nothing."""
    return sum(
        1
        for p in rdpcap(str(path))
        if (IP in p and p[IP].proto == 112) or (IPv6 in p and p[IPv6].nh == 112)
    )


# ---------------------------------------------------------------- the keepalived capture


def test_one_text_line_per_vrrp_packet(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "--read", str(VECTORS))
    assert code == 0 and err == []
    assert len(lines) == vrrp_packet_count(VECTORS) == 144
    assert all(line.endswith("cksum ok") for line in lines)
    assert lines[0] == (
        "2026-11-22 15:22:02.118368 192.0.2.11 > 224.0.0.18 ttl 255 VRRPv3 vrid 55 prio 200 "
        "int 0.05s auth none vips 192.0.2.55 cksum ok"
    )
    v2 = [line for line in lines if " vrid 51 " in line]
    assert v2[0].endswith(
        "VRRPv2 vrid 51 prio 100 int 1s auth PASS vips 192.0.2.16,192.0.2.17,192.0.2.18 cksum ok"
    )
    assert " prio 0 " in v2[-1]
    v6 = [line for line in lines if " vrid 53 " in line]
    assert "fe80::ac30:1cff:fe40:6de6 > ff02::12 ttl 255 VRRPv3" in v6[0]
    assert "vips 2001:db8::100" in v6[0]
    uni = [line for line in lines if " vrid 54 " in line]
    assert "192.0.2.11 > 192.0.2.12" in uni[0] and "auth none" in uni[0]


def test_password_hidden_unless_show_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["-r", str(VECTORS)], ["-r", str(VECTORS), "--json"]):
        code, lines, _ = run(capsys, *argv)
        assert code == 0 and lines
        assert all(PASSWORD not in line for line in lines)
    _, lines, _ = run(capsys, "-r", str(VECTORS), "--show-secrets")
    assert sum(f"auth PASS '{PASSWORD}'" in line for line in lines) == 4
    _, lines, _ = run(capsys, "-r", str(VECTORS), "--json", "--show-secrets")
    secrets = [json.loads(line).get("auth_data") for line in lines]
    assert secrets.count(PASSWORD) == 4


def test_json_lines_parse_and_carry_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "--read", str(VECTORS), "--json")
    assert code == 0 and len(lines) == 144
    objects = [json.loads(line) for line in lines]
    assert all(o["valid"] and o["checksum_ok"] and o["error"] is None for o in objects)
    v2 = next(o for o in objects if o["vrid"] == 51)
    assert v2 == {
        "time": pytest.approx(1795360925.567442),
        "timestamp": "2026-11-22T15:22:05.567442Z",
        "src": "192.0.2.11",
        "dst": "224.0.0.18",
        "ip_version": 4,
        "ttl": 255,
        "ah": False,
        "valid": True,
        "version": 2,
        "vrid": 51,
        "priority": 100,
        "advert_int_cs": 100,
        "auth": "PASS",
        "vips": ["192.0.2.16", "192.0.2.17", "192.0.2.18"],
        "checksum": "0xd130",
        "checksum_ok": True,
        "legacy_checksum": False,
        "error": None,
        "detail": None,
        "warnings": [],
    }
    v6 = next(o for o in objects if o["vrid"] == 53)
    assert (v6["ip_version"], v6["src"], v6["vips"]) == (
        6,
        "fe80::ac30:1cff:fe40:6de6",
        ["2001:db8::100"],
    )
    fast = {o["advert_int_cs"] for o in objects if o["vrid"] == 55}
    assert fast == {5}


def test_read_pcap_yields_typed_records() -> None:
    records = list(read_pcap(str(VECTORS)))
    assert len(records) == 144
    assert all(r.valid and r.ttl == 255 and not r.warnings for r in records)
    assert records == sorted(records, key=lambda r: r.time)
    six = [r for r in records if r.src.version == 6]
    assert six and all(r.dst == ipaddress.ip_address("ff02::12") for r in six)
    assert PASSWORD not in repr(next(r for r in records if r.advert and r.advert.vrid == 51))


# ---------------------------------------------------------------- crafted captures


def _v2(**fields: Any) -> Packet:
    values: dict[str, Any] = dict(
        vrid=51, priority=100, authtype=1, auth1=0x31313131, addrlist=["192.0.2.16"]
    )
    values.update(fields)
    return VRRP(**values)


def _eth(ip_layer: Packet) -> Packet:
    return Ether(src="02:00:00:00:00:01", dst="01:00:5e:00:00:12") / ip_layer


def _frames() -> list[Packet]:
    base = IP(src="192.0.2.11", dst="224.0.0.18", ttl=255, proto=112)
    good = bytes(_v2())
    v3 = bytes(IP(src="192.0.2.11", dst="224.0.0.18") / VRRPv3(vrid=52, addrlist=["192.0.2.50"]))
    v6 = bytes(
        IPv6(src="fe80::1", dst="ff02::12")
        / VRRPv3(vrid=53, priority=120, adv=100, addrlist=["2001:db8::100"])
    )[40:]
    # RFC 4302 AH: next header 112, length (24 / 4) - 2, reserved, SPI, sequence, 96-bit ICV.
    ah = bytes([112, 4, 0, 0]) + (1).to_bytes(4, "big") + (7).to_bytes(4, "big") + bytes(12)
    return [
        Ether() / ARP(psrc="192.0.2.16", pdst="192.0.2.16"),  # not VRRP: skipped
        _eth(base / _v2()),  # valid
        _eth(IP(src="192.0.2.11", dst="224.0.0.18", ttl=64, proto=112) / _v2()),  # routed
        _eth(base / _v2(chksum=0x1234)),  # bad checksum, password inside
        _eth(base / Raw(good[:10])),  # truncated advert
        _eth(base / Raw(bytes([0x41]) + v3[21:])),  # version 4
        _eth(IP(src="192.0.2.11", dst="192.0.2.12") / UDP(dport=112) / Raw(good)),  # UDP
        _eth(IPv6(src="fe80::1", dst="ff02::12", hlim=255) / IPv6ExtHdrHopByHop(nh=112) / Raw(v6)),
        _eth(
            IP(src="192.0.2.11", dst="224.0.0.18", ttl=255, proto=51)
            / Raw(ah + bytes(_v2(authtype=2, auth1=0)))
        ),
    ]


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    path = tmp_path / "crafted.pcap"
    wrpcap(str(path), _frames())
    return path


def test_invalid_packets_get_a_reason(crafted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "-r", str(crafted))
    assert code == 0 and err == []
    assert len(lines) == 7, lines  # ARP and UDP are not VRRP
    valid, routed, bad_sum, short, v4, six, ah = lines
    assert valid.endswith("auth PASS vips 192.0.2.16 cksum ok")
    assert routed.endswith("cksum ok [ip_ttl_err: TTL 64, expected 255]")
    assert "VRRPv2 vrid 51 prio 100 INVALID chk_err: checksum 0x1234, expected 0x" in bad_sum
    assert "INVALID packet_len_err: too short: 10 bytes, expected 20" in short
    assert "VRRPv4 vrid 52 prio 100 INVALID vers_err: version 4" in v4
    assert "fe80::1 > ff02::12 ttl 255 VRRPv3 vrid 53" in six and six.endswith("cksum ok")
    assert " AH VRRPv2 vrid 51 " in ah and "auth AH" in ah and ah.endswith("cksum ok")
    assert all(PASSWORD not in line for line in lines)


def test_invalid_packets_in_json(crafted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, lines, _ = run(capsys, "-r", str(crafted), "--json", "--show-secrets")
    objects = [json.loads(line) for line in lines]
    assert [o["valid"] for o in objects] == [True, True, False, False, False, True, True]
    assert objects[1]["warnings"] == ["ip_ttl_err"]
    bad_sum = objects[2]
    assert (bad_sum["error"], bad_sum["checksum_ok"], bad_sum["checksum"]) == (
        "chk_err",
        False,
        "0x1234",
    )
    assert "auth_data" not in bad_sum  # invalid packets never expose their auth bytes
    assert (objects[3]["error"], objects[3]["checksum_ok"]) == ("packet_len_err", None)
    assert objects[6]["ah"] is True


def _advert_v4() -> Packet:
    return IP(src="192.0.2.11", dst="224.0.0.18", ttl=255) / _v2()


@pytest.mark.parametrize(
    ("name", "frame", "linktype"),
    [
        ("vlan", Ether() / Dot1Q(vlan=10) / Dot1Q(vlan=20) / _advert_v4(), None),
        ("linux-sll", CookedLinux(proto=0x0800) / _advert_v4(), None),
        ("linux-sll2", CookedLinuxV2(proto=0x0800) / _advert_v4(), None),
        ("raw-ip", _advert_v4(), 101),
        ("ppp-via-scapy", PPP(proto=0x0021) / _advert_v4(), None),
    ],
)
def test_link_layers(tmp_path: Path, name: str, frame: Packet, linktype: int | None) -> None:
    path = tmp_path / f"{name}.pcap"
    wrpcap(str(path), [frame], linktype=linktype)
    records = list(read_pcap(str(path)))
    assert len(records) == 1 and records[0].valid, name
    assert "vrid 51" in format_text(records[0])


def test_pcapng(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcapng"
    wrpcapng(str(path), [_eth(_advert_v4())])
    records: list[WatchRecord] = list(read_pcap(str(path)))
    assert len(records) == 1 and records[0].valid
    assert json.loads(format_json(records[0]))["vrid"] == 51


def test_timestamps_as_captured() -> None:
    first = next(read_pcap(str(VECTORS)))
    assert format_text(first).startswith("2026-11-22 15:22:02.118368 ")
    assert first.time == pytest.approx(float(rdpcap(str(VECTORS))[0].time))


def test_a_time_past_year_9999_is_shown_raw_and_flagged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A damaged pcapng whose packet stamp no calendar can show: the seconds as captured,
    flagged, and every other field as usual."""
    path = tmp_path / "damaged.pcapng"
    wrpcapng(str(path), [_eth(_advert_v4())])
    data = bytearray(path.read_bytes())
    epb = data.index((6).to_bytes(4, "little"), 28)  # the Enhanced Packet Block
    data[epb + 12 : epb + 16] = (0xFFFF_FFFF).to_bytes(4, "little")  # timestamp (high)
    path.write_bytes(bytes(data))
    code, lines, err = run(capsys, "--read", str(path))
    assert code == 0 and err == [] and len(lines) == 1
    seconds = float(lines[0].split()[0])
    assert seconds > 253402300800  # 10000-01-01
    assert " vrid 51 " in lines[0] and lines[0].endswith(
        "[timestamp_out_of_range: seconds since the epoch, as captured]")
    code, lines, err = run(capsys, "--read", str(path), "--json")
    obj = json.loads(lines[0])
    assert obj["timestamp"] is None and obj["time"] == seconds
    assert obj["warnings"] == ["timestamp_out_of_range"] and obj["vrid"] == 51


# ---------------------------------------------------------------- errors: exit 2, one line


def _assert_one_line_error(code: int, lines: list[str], err: list[str], text: str) -> None:
    assert code == 2
    assert lines == []
    assert len(err) == 1, err
    assert err[0].startswith("haconsole watch: ") and text in err[0]
    assert "Traceback" not in err[0]


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "-r", str(tmp_path / "nope.pcap"))
    _assert_one_line_error(code, lines, err, "no such file")


def test_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.pcap"
    text.write_text("this is not a capture\n")
    code, lines, err = run(capsys, "-r", str(text))
    _assert_one_line_error(code, lines, err, "not a pcap or pcapng capture file")
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    code, lines, err = run(capsys, "-r", str(empty))
    _assert_one_line_error(code, lines, err, "not a pcap")


def test_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "-r", str(tmp_path))
    _assert_one_line_error(code, lines, err, "is a directory")


def test_live_capture_on_a_missing_interface(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "-i", "hac-none0", "--timeout", "1")
    expected = "no interface named" if os.geteuid() == 0 else "needs root"
    _assert_one_line_error(code, lines, err, expected)


def test_no_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys)
    _assert_one_line_error(code, lines, err, "--read FILE")
