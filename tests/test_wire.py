"""The wire: decoding (capture/), aggregation (sources/wire.py), the fold and its joins
(cluster/wire.py), the wire alarms, the cross-check, `watch --summary` and the Wire screen.

Fast and root-free: captures come from tests/data/wire (see its README) or are built here
with the same scapy helpers (make_corpus.py), and are replayed on their own clock.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scapy.layers.l2 import CookedLinux, CookedLinuxV2
from scapy.packet import Packet
from scapy.utils import wrpcap

from haconsole.capture.frames import (
    DLT_EN10MB,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    ArpRecord,
    NeighborAdvert,
    VrrpRecord,
    decode_frame,
)
from haconsole.capture.pcap import CaptureError, PcapStream, read_frames
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.sources.wire import PcapWireSource, WireAggregator, auth_id

DATA = Path(__file__).parent / "data" / "wire"
SECRETS = ("secreta1", "secretb2")


def _corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wire_corpus", DATA / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wire_corpus"] = module
    spec.loader.exec_module(module)
    return module


C = _corpus()
T0: float = C.T0


def published(packets: Iterable[Packet], *, until: float | None = None) -> list[ev.Event]:
    """What a wire source publishes for `packets` (scapy frames with times)."""
    agg = WireAggregator("wire:test", "eth0")
    out: list[ev.Event] = []
    last = None
    for p in sorted(packets, key=lambda p: float(p.time)):
        t = float(p.time)
        if until is not None and t > until:
            break
        agg.frame(DLT_EN10MB, t, bytes(p))
        out += agg.take()
        last = t
    if last is not None:
        agg.tick(last + agg.period)
    return out + agg.take()


def fold(events: Iterable[ev.Event], view: ClusterView | None = None) -> ClusterView:
    view = view or ClusterView()
    view.apply_all(events)
    return view


def replay(name: str, view: ClusterView | None = None) -> ClusterView:
    view = view or ClusterView()
    PcapWireSource(str(DATA / f"{name}.pcap")).replay(view.apply)
    return view


def wire_kinds(view: ClusterView, now: float) -> set[str]:
    return {a.kind for a in view.alarms(now) if a.kind.startswith("wire-")}


def nodes(*, master: str = "nginx1", vips: tuple[str, ...] = ("192.0.2.100/24",),
          advert_int: float = 1.0, t: float = T0) -> list[ev.Event]:
    """What the nodes' own sources would say: the pair, `master` MASTER holding the VIP."""
    out: list[ev.Event] = []
    for name, address in (("nginx1", "192.0.2.11"), ("nginx2", "192.0.2.12")):
        state = "MASTER" if name == master else "BACKUP"
        out += [ev.NodeSeen(t, name, address=address, agent="keepalived"),
                ev.InstanceState(t, name, instance="VI_1", vrid=51, state=state,
                                 base_priority=150 if name == "nginx1" else 100,
                                 effective_priority=150 if name == "nginx1" else 100,
                                 interface="eth0", advert_int=advert_int, vips=vips,
                                 address=address)]
        if name == master:
            out += [ev.VipAdded(t, name, instance="VI_1", vip=v) for v in vips]
    return out


# ------------------------------------------------------------------------------ decoding


def test_arp_requests_replies_and_announcements() -> None:
    request = decode_frame(DLT_EN10MB, 1.0, bytes(C.who_has(1.0)))
    reply = decode_frame(DLT_EN10MB, 1.0, bytes(C.is_at(1.0, "nginx1")))
    garp = decode_frame(DLT_EN10MB, 1.0, bytes(C.garp(1.0, "nginx2")))
    assert isinstance(request, ArpRecord) and isinstance(reply, ArpRecord)
    assert isinstance(garp, ArpRecord)
    assert not request.claims and request.broadcast
    assert reply.claims and not reply.announcement
    assert (str(reply.sender_ip), reply.sender_mac) == ("192.0.2.100", "02:00:00:00:00:11")
    assert garp.claims and garp.announcement and garp.mac == "02:00:00:00:00:12"


def test_neighbour_advertisements_name_the_target_mac() -> None:
    na = decode_frame(DLT_EN10MB, 1.0, bytes(C.na(1.0, "nginx2", solicited=True)))
    unsolicited = decode_frame(DLT_EN10MB, 1.0, bytes(C.na(1.0, "nginx1", solicited=False)))
    assert isinstance(na, NeighborAdvert) and isinstance(unsolicited, NeighborAdvert)
    assert (str(na.target), na.target_mac, na.solicited, na.announcement) == (
        "2001:db8::100", "02:00:00:00:00:12", True, False)
    assert unsolicited.announcement and unsolicited.override and unsolicited.hop_limit == 255
    assert decode_frame(DLT_EN10MB, 1.0, bytes(C.ns(1.0))) is None  # a question, no claim


@pytest.mark.parametrize("linktype,frame", [
    (DLT_LINUX_SLL, lambda p: CookedLinux(pkttype=2, lladdrtype=1, lladdrlen=6,
                                          src=bytes.fromhex("020000000011") + b"\0\0",
                                          proto=0x0800) / p.payload),
    (DLT_LINUX_SLL2, lambda p: CookedLinuxV2(pkttype=2, lladdrtype=1, lladdrlen=6,
                                             src=bytes.fromhex("020000000011") + b"\0\0",
                                             proto=0x0800) / p.payload),
    (DLT_EN10MB, lambda p: p),
])
def test_adverts_keep_their_source_mac_on_every_link_type(linktype: int, frame: Any) -> None:
    record = decode_frame(linktype, 5.0, bytes(frame(C.advert(5.0, "nginx1", priority=150))))
    assert isinstance(record, VrrpRecord) and record.valid and record.advert is not None
    assert record.mac == "02:00:00:00:00:11" and record.advert.priority == 150


def test_junk_of_every_shape_is_ignored_never_raised() -> None:
    rng = random.Random(15)
    good = bytes(C.advert(1.0, "nginx1", priority=150))
    for _ in range(3000):
        size = rng.randrange(0, 90)
        junk = bytearray(rng.getrandbits(8) for _ in range(size))
        if rng.random() < 0.5 and size > 14:  # keep a plausible header, break the rest
            junk[:min(size, 30)] = good[:min(size, 30)]
        for linktype in (0, 1, 101, 113, 276, 228, 229, 999):
            record = decode_frame(linktype, 0.0, bytes(junk))
            assert record is None or isinstance(record, VrrpRecord | ArpRecord |
                                                NeighborAdvert)


# ------------------------------------------------------------------------------ streams


def test_a_pcap_stream_in_any_chunking_gives_the_file_frames(tmp_path: Path) -> None:
    path = tmp_path / "two-masters.pcap"
    path.write_bytes((DATA / "two-masters.pcap").read_bytes())
    expected = list(read_frames(str(path)))
    data = path.read_bytes()
    for sizes in ([1], [7, 13], [65536]):
        stream, got, pos, i = PcapStream(), [], 0, 0
        while pos < len(data):
            step = sizes[i % len(sizes)]
            got += stream.feed(data[pos:pos + step])
            pos, i = pos + step, i + 1
        assert [(lt, round(t, 6), f) for lt, t, f in got] == \
            [(lt, round(t, 6), f) for lt, t, f in expected]
    shifted = PcapStream(offset=2.5).feed(data)
    assert shifted[0][1] == pytest.approx(expected[0][1] - 2.5)


def test_a_stream_that_is_not_pcap_or_is_corrupt_says_so() -> None:
    with pytest.raises(CaptureError, match="not pcap"):
        PcapStream().feed(b"tcpdump: eth9: No such device exists\n" * 2)
    header = (DATA / "ttl.pcap").read_bytes()[:24]
    with pytest.raises(CaptureError, match="corrupt"):
        PcapStream().feed(header + b"\0" * 8 + (10**7).to_bytes(4, "little") + b"\0" * 4)


# ------------------------------------------------------------------------------ the corpus

EXPECTED = {
    "clean": set(),
    "auth-mismatch": {"wire-two-masters", "wire-auth-mismatch"},
    "vrid-collision": {"wire-two-masters", "wire-vrid-collision"},
    "two-masters": {"wire-two-masters", "wire-vip-two-macs"},
    "vip-two-macs": {"wire-vip-two-macs"},
    "arp-owner": {"wire-arp-owner"},
    "ttl": {"wire-ttl"},
    "interval-mismatch": {"wire-two-masters", "wire-interval-mismatch"},
    "ipv6-two-macs": {"wire-vip-two-macs"},
    "garbage": set(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_capture_raises_exactly_its_wire_alarms(name: str) -> None:
    view = replay(name)
    last = max(s.last for s in view.wire.speakers.values())
    assert wire_kinds(view, last) == EXPECTED[name]


def test_a_clean_failover_raises_nothing_at_any_moment() -> None:
    """Priority 0, Skew_Time, takeover, gratuitous ARPs: at every event, no wire alarm."""
    view = fold(nodes())
    for event in published(C.clean()):
        view.apply(event)
        assert wire_kinds(view, event.t) == set(), event
    owners = view.wire.answering("192.0.2.100", view.last_t)
    assert [o.mac for o in owners] == ["02:00:00:00:00:12"]  # nginx2 took the VIP over


def test_the_alarms_name_nodes_and_strangers() -> None:
    view = replay("auth-mismatch", fold(nodes()))
    alarms = {a.kind: a for a in view.alarms(T0 + 29)}
    assert alarms["wire-unknown-speaker"].message.startswith("192.0.2.200 (02:00:00:00:00:c8)")
    assert "VI_1" in alarms["wire-unknown-speaker"].message
    assert alarms["wire-two-masters"].message == (
        "VRID 51 (VI_1): 192.0.2.11 (nginx1) and 192.0.2.200 both send adverts")
    assert alarms["wire-two-masters"].severity == "critical"
    assert "PASS·a" in alarms["wire-auth-mismatch"].message
    assert alarms["wire-auth-mismatch"].instance == "VI_1"


def test_an_interval_other_than_the_configured_one() -> None:
    view = fold(published(C.master("nginx1", T0, T0 + 10, priority=150)),
                fold(nodes(advert_int=2.0)))
    alarm = next(a for a in view.alarms(T0 + 9) if a.kind == "wire-interval-mismatch")
    assert "advertises every 1 s; nginx1, nginx2 configured for 2 s" in alarm.message


def test_an_alarm_clears_when_its_cause_stops() -> None:
    """The third box stops at +20 s; the master goes on; its alarms end by themselves."""
    packets = [*C.takeover("nginx1", T0), *C.master("nginx1", T0, T0 + 40, priority=150),
               *C.master("third", T0 + 5.3, T0 + 20, priority=50, password=C.PASS_B),
               *C.asks(T0 + 1, T0 + 40, lambda t: [C.is_at(t, "nginx1")] + (
                   [C.is_at(t + 0.0003, "third")] if t < T0 + 20 else []))]
    view = fold(published(packets))
    assert {"wire-auth-mismatch", "wire-two-masters", "wire-vip-two-macs"} <= \
        wire_kinds(fold(published(packets, until=T0 + 19)), T0 + 19)
    assert wire_kinds(view, T0 + 39) == set()


def test_the_arp_owner_alarm_waits_for_a_takeovers_gratuitous_arp() -> None:
    """A new master announces its VIPs moments after its first advert: not an alarm."""
    packets = [*C.master("nginx1", T0, T0 + 10, priority=150),
               *C.asks(T0 + 1, T0 + 10, lambda t: [C.is_at(t, "nginx1")]),
               *C.master("nginx2", T0 + 13.6, T0 + 30, priority=100),
               *C.takeover("nginx2", T0 + 13.7)]
    view = fold(published(packets, until=T0 + 13.65))
    assert wire_kinds(view, T0 + 13.65) == set()
    assert wire_kinds(fold(published(packets)), T0 + 29) == set()


def test_garbage_is_counted_never_raised() -> None:
    view = replay("garbage")
    reasons = {a.reason: a.count for a in view.wire.anomalies.values()}
    assert reasons == {"chk_err": 1, "packet_len_err": 1}
    spk = view.wire.speakers[(51, 4, "192.0.2.11")]  # the advert on VLAN 7 is decoded
    assert spk.mac == "02:00:00:00:00:11" and spk.priority == 150


def test_who_answers_for_a_vip() -> None:
    """The timing rules of `cluster.wire`: a takeover's gratuitous ARP ends the old
    owner's claims, two MACs answering the same question both answer, a MAC silent for
    10 s while another keeps answering no longer does."""
    def owner(t: float, mac: str, *, announce: bool = False) -> ev.WireOwner:
        return ev.WireOwner(t, "wire:test", address="192.0.2.100", mac=mac, first=t, last=t,
                            announcements=int(announce), replies=int(not announce),
                            last_announcement=t if announce else None)

    def answering(events: list[ev.WireOwner], now: float) -> list[str]:
        view = fold(sorted((e for e in events if e.t <= now), key=lambda e: e.t))
        return sorted(o.mac for o in view.wire.answering("192.0.2.100", now))

    a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
    takeover = [owner(t, a) for t in range(0, 11)] + [owner(11.0, b, announce=True)]
    assert answering(takeover, 12) == [b]
    race = [*takeover, owner(11.4, a)]  # a reply in flight as the takeover happened
    assert answering(race, 12) == [b]
    sparse = [owner(0.0, a), owner(11.0, b, announce=True), owner(35.001, b),
              owner(35.002, a)]  # both answer the same request, 24 s later
    assert answering(sparse, 36) == [a, b]
    failback = [*takeover, *(owner(t, b) for t in range(12, 100)),
                owner(100.0, a, announce=True)]
    assert answering(failback, 101) == [a]
    silent = [*(owner(t, a) for t in range(0, 21)), *(owner(t + 0.5, b) for t in range(0, 36))]
    assert answering(silent, 25) == [a, b] and answering(silent, 36) == [b]
    assert answering(silent, 36 + 301) == []  # nothing said for 5 minutes: nothing known


# ------------------------------------------------------------------------------ aggregation


def test_one_summary_a_second_not_an_event_per_advert() -> None:
    agg = WireAggregator("wire:test", "eth0")
    frame = bytes(C.advert(T0, "nginx1", priority=150))
    for n in range(20000):  # 10 000 adverts/s for 2 s
        agg.frame(DLT_EN10MB, T0 + n / 10000, frame)
    agg.tick(T0 + 2.5)
    speakers = [e for e in agg.take() if isinstance(e, ev.WireSpeaker)]
    assert 2 <= len(speakers) <= 4
    assert speakers[-1].adverts == 20000 and speakers[-1].rate > 5000
    assert agg.packets == 20000


def test_a_change_goes_out_at_once_and_a_forger_is_summed() -> None:
    agg = WireAggregator("wire:test", "eth0")
    agg.frame(DLT_EN10MB, T0, bytes(C.advert(T0, "nginx1", priority=150)))
    agg.take()
    agg.frame(DLT_EN10MB, T0 + 0.3, bytes(C.advert(T0 + 0.3, "nginx1", priority=130)))
    now = agg.take()
    assert [e.priority for e in now if isinstance(e, ev.WireSpeaker)] == [130]
    for n in range(1000):  # a priority per advert, 1 000 a second
        t = T0 + 0.4 + n / 1000
        agg.frame(DLT_EN10MB, t, bytes(C.advert(t, "nginx1", priority=1 + n % 250)))
    agg.tick(T0 + 1.5)
    speakers = [e for e in agg.take() if isinstance(e, ev.WireSpeaker)]
    assert len(speakers) <= 15  # ~10 a second at most, plus the summaries


def test_anomalies_go_out_once_then_as_counts() -> None:
    agg = WireAggregator("wire:test", "eth0")
    bad = C.advert(T0, "nginx1", priority=150)
    bad["VRRP"].chksum = 0x1234
    for n in range(500):
        agg.frame(DLT_EN10MB, T0 + n / 1000, bytes(bad))
    first = [e for e in agg.take() if isinstance(e, ev.WireAnomaly)]
    assert [(e.reason, e.count) for e in first] == [("chk_err", 1)]
    agg.tick(T0 + 1)
    later = [e for e in agg.take() if isinstance(e, ev.WireAnomaly)]
    assert [(e.reason, e.count) for e in later] == [("chk_err", 499)]


def test_tables_stay_bounded_under_a_flood_of_speakers() -> None:
    agg = WireAggregator("wire:test", "eth0", max_speakers=10)
    for n in range(50):
        p = C.advert(T0 + n / 100, "nginx1", priority=150, vrid=1 + n)
        agg.frame(DLT_EN10MB, T0 + n / 100, bytes(p))
    events = agg.take()
    assert len({e.vrid for e in events if isinstance(e, ev.WireSpeaker)}) == 10
    full = [e for e in events if isinstance(e, ev.WireAnomaly)]
    assert full and full[0].reason == "speaker_table_full"


def test_arp_for_other_addresses_is_kept_quiet() -> None:
    """Only VIPs, announcements and addresses two MACs claim are published."""
    packets = [C.advert(T0, "nginx1", priority=150), C.is_at(T0 + 0.1, "nginx1"),
               C.is_at(T0 + 0.2, "nginx2", address="192.0.2.50"),
               C.garp(T0 + 0.3, "third", address="192.0.2.60")]
    owners = {(e.address, e.mac) for e in published(packets) if isinstance(e, ev.WireOwner)}
    assert owners == {("192.0.2.100", "02:00:00:00:00:11"), ("192.0.2.60", "02:00:00:00:00:c8")}


# ------------------------------------------------------------------------------ secrets


def test_passwords_never_leave_the_wire_source(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    events = published(C.auth_mismatch())
    text = "\n".join(json.dumps(e.to_dict()) for e in events)
    assert not any(s in text for s in SECRETS)
    ids = {e.auth_id for e in events if isinstance(e, ev.WireSpeaker)}
    assert len(ids) == 2 and "" not in ids
    assert auth_id(1, b"secreta1") == auth_id(1, b"secreta1") != auth_id(1, b"secretb2")
    from haconsole.watch import add_arguments, main_watch

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main_watch(parser.parse_args(["-r", str(DATA / "auth-mismatch.pcap"),
                                         "--summary", "--show-secrets"])) == 0
    out = capsys.readouterr().out
    assert "AUTH MISMATCH" in out and "PASS·b" in out
    assert not any(s in out for s in SECRETS)


def test_wire_events_round_trip_through_json() -> None:
    events = published(C.two_masters())
    for event in events:
        again = ev.event_from_dict(json.loads(json.dumps(event.to_dict())))
        assert again == event


# ------------------------------------------------------------------------------ cross-check


def _check(view: ClusterView, node: str, now: float) -> Any:
    return view.wire.cross_check(view, view.instances[(node, "VI_1")], now)


def test_the_cross_check_agrees_on_a_healthy_pair() -> None:
    view = fold(published(C.clean(), until=T0 + 19), fold(nodes()))
    master, backup = _check(view, "nginx1", T0 + 19), _check(view, "nginx2", T0 + 19)
    assert master.agree and (master.says_master, master.sends_adverts, master.holds_vip,
                             master.answers_arp) == (True, True, True, True)
    assert backup.agree and (backup.sends_adverts, backup.holds_vip,
                             backup.answers_arp) == (False, False, False)


def test_the_cross_check_names_the_silent_master() -> None:
    """nginx1 says MASTER, holds the VIP and answers ARP, but its adverts stopped."""
    packets = [*C.takeover("nginx1", T0), *C.master("nginx1", T0, T0 + 10, priority=150),
               *C.asks(T0 + 1, T0 + 30, lambda t: [C.is_at(t, "nginx1")])]
    view = fold(published(packets), fold(nodes()))
    assert _check(view, "nginx1", T0 + 20).odd == ("sends adverts",)
    assert _check(view, "nginx2", T0 + 20).agree


def test_the_cross_check_names_a_backup_holding_the_vip() -> None:
    view = fold(published(C.clean(), until=T0 + 19), fold(nodes()))
    view.apply(ev.VipAdded(T0 + 19, "nginx2", instance="VI_1", vip="192.0.2.100/24"))
    assert _check(view, "nginx2", T0 + 19).odd == ("holds the VIP",)


def test_without_wire_facts_for_the_router_nothing_is_claimed() -> None:
    view = fold(published([C.advert(T0, "nginx1", priority=150, vrid=99)]), fold(nodes()))
    check = _check(view, "nginx1", T0 + 1)
    assert check.sends_adverts is None and check.answers_arp is None and check.agree


def test_a_master_whose_adverts_never_arrived_at_all() -> None:
    """The VIP answered on the segment, not one advert for the VRID: 'sends adverts'."""
    packets = [*C.takeover("nginx1", T0), *C.asks(T0 + 1, T0 + 10, lambda t: [
        C.is_at(t, "nginx1")])]
    view = fold(published(packets), fold(nodes()))
    assert _check(view, "nginx1", T0 + 10).odd == ("sends adverts",)


# ------------------------------------------------------------------------------ watch


def test_watch_summary_of_a_capture(capsys: pytest.CaptureFixture[str]) -> None:
    from haconsole.watch import add_arguments, main_watch

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main_watch(parser.parse_args(["-r", str(DATA / "two-masters.pcap"),
                                         "--summary"])) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("== wire summary at 2026-11-23 02:13:50")
    assert "VRID 51 IPv4" in out
    assert any("192.0.2.12" in line and "02:00:00:00:00:12" in line and " 100 " in line
               for line in out)
    vip = next(line for line in out if line.startswith("  VIP 192.0.2.100 answered by"))
    assert "02:00:00:00:00:11" in vip and "02:00:00:00:00:12" in vip and "(stopped)" not in vip
    assert vip.endswith("gratuitous 25.0s ago by 02:00:00:00:00:12")
    assert "  ✖ TWO MASTERS ON THE WIRE: VRID 51: 192.0.2.11 and 192.0.2.12 both send " \
        "adverts" in out


def test_watch_summary_of_a_file_that_is_not_a_capture(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from haconsole.watch import add_arguments, main_watch

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    bad = tmp_path / "notes.pcap"
    bad.write_text("not a capture")
    assert main_watch(parser.parse_args(["-r", str(bad), "--summary"])) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "not a pcap or pcapng capture file" in err[0]


def test_a_written_capture_replays_the_same(tmp_path: Path) -> None:
    """pcap written by scapy from the builders = the corpus file: the corpus is current."""
    path = tmp_path / "ttl.pcap"
    wrpcap(str(path), sorted(C.ttl(), key=lambda p: float(p.time)))
    assert path.read_bytes() == (DATA / "ttl.pcap").read_bytes()


# ------------------------------------------------------------------------------ console


async def test_w_opens_the_wire_screen_and_the_table_shows_the_cross_check() -> None:
    from haconsole.console.app import HAConsoleApp
    from haconsole.console.widgets.instances import InstancesTable
    from haconsole.console.wire_screen import WireScreen

    packets = [*C.takeover("nginx1", T0), *C.master("nginx1", T0, T0 + 10, priority=150),
               *C.asks(T0 + 1, T0 + 30, lambda t: [C.is_at(t, "nginx1")]),
               *C.master("third", T0 + 5.3, T0 + 30, priority=50, password=C.PASS_B)]
    view = fold(published(packets, until=T0 + 20), fold(nodes()))
    app = HAConsoleApp([], view=view, clock=lambda: T0 + 20)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        table = app.query_one(InstancesTable)
        assert table.get_cell("nginx1/VI_1", "wire").plain == "✗ sends adverts"
        assert table.get_cell("nginx2/VI_1", "wire").plain == "✓"
        assert any(h.key == "w" for h in app.key_hints())
        await pilot.press("w")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, WireScreen)
        text = screen.text
        assert "UNKNOWN SPEAKER" in text and "192.0.2.200" in text
        assert "VIP 192.0.2.100 → 02:00:00:00:00:11 (nginx1)" in text
        assert "✗ adverts" in text and "nginx1 · VI_1" in text
        assert not any(s in text for s in SECRETS)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WireScreen)


async def test_no_wire_column_without_a_wire_source() -> None:
    from haconsole.console.app import HAConsoleApp
    from haconsole.console.widgets.instances import InstancesTable

    app = HAConsoleApp([], view=fold(nodes()), clock=lambda: T0 + 1)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        table = app.query_one(InstancesTable)
        assert "wire" not in {str(c.value) for c in table.columns}
        assert not any(h.key == "w" for h in app.key_hints())


# ------------------------------------------------------------------------------ inventory


def test_the_inventory_names_the_interfaces_to_capture() -> None:
    from haconsole.config import ConfigError
    from haconsole.sources.inventory import parse_inventory
    from haconsole.sources.wire import ssh_wire_sources, tcpdump_script

    inventory = parse_inventory('[[node]]\nname = "n1"\ncapture = "eth0"\n'
                                '[[node]]\nname = "n2"\n', "inv.toml")
    assert [s.capture for s in inventory.nodes] == ["eth0", ""]
    assert [w.name for w in ssh_wire_sources(inventory)] == ["n1:eth0"]
    with pytest.raises(ConfigError) as err:
        parse_inventory('[[node]]\nname = "n1"\ncapture = 1\n', "inv.toml")
    assert str(err.value).startswith("inv.toml:3:") and "capture" in str(err.value)
    # the interface is the operator's text: quoted for the remote shell
    assert tcpdump_script("eth0; rm -rf /") == (
        "exec tcpdump -U --immediate-mode -w - -i 'eth0; rm -rf /' "
        "'ip proto 112 or ip6 proto 112 or arp or icmp6'")


async def test_the_wire_console_opens_on_the_wire_screen() -> None:
    """`watch -i IFACE` on a terminal: the console on wire sources alone, Wire first."""
    from haconsole.console.wire_screen import WireScreen, wire_console

    source = PcapWireSource(str(DATA / "vip-two-macs.pcap"))
    app = wire_console([source], cluster="wire test")
    async with app.run_test(size=(160, 40)) as pilot:
        await source.done.wait()
        for _ in range(100):  # a capture's past may be held back a few seconds (history)
            await pilot.pause(0.1)
            screen = app.screen
            if isinstance(screen, WireScreen) and "02:00:00:00:00:c8" in screen.text:
                break
        assert isinstance(screen, WireScreen) and app.readonly
        assert "VRID 51 · IPv4" in screen.text and "02:00:00:00:00:c8" in screen.text
        assert not app.check_action("failover", ())
