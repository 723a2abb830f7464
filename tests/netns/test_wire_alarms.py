"""The wire on real namespaces: a keepalived pair, a capture on the lab's bridge, and the
trouble only the wire shows.

The capture is `sources.wire.netns_wire_source` on the bridge namespace's `br0` (every
port's ingress: unicast ARP replies and a partitioned port's frames included), as the
namespace lab's console uses it; at the same time `haconsole watch -i br0 --summary
--every 1` runs in that namespace as an operator would. Each fault raises its alarm on
the Wire screen (the console, driven by Pilot) and in the summary, and clearing the
cause clears it:
(a) a third speaker on the pair's VRID with another password (scapy, in the client
    namespace): auth mismatch;
(b) a third host answering ARP for the VIP with its own MAC: VIP answered by two MACs;
(c) a partition of the backup, which then masters too: two masters on the wire.
Then the cross-check on a haconsole agent pair (whose sources say what each node claims):
a master whose adverts are dropped by nftables keeps the VIP and says MASTER, and the
console names "sends adverts" as the odd one out.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import need_lab, need_program

from haconsole.cluster import commands as cmd
from haconsole.cluster.view import ClusterView
from haconsole.console.app import HAConsoleApp
from haconsole.console.widgets.instances import InstancesTable
from haconsole.console.wire_screen import WireScreen
from haconsole.netns.lab import VIP4, NetnsLab, agent_env, pair_configs, wait_for
from haconsole.netns.topology import run, spawn, stop_process
from haconsole.sources.wire import netns_wire_source

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(240)]
SIZE = (180, 50)
THIRD = "192.0.2.200"  # the client namespace's address: our third box

SCAPY = """
import sys, time
from scapy.arch import get_if_hwaddr
from scapy.config import conf
from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vrrp import VRRP
from scapy.sendrecv import sendp
conf.verb = 0
mac = get_if_hwaddr("eth0")
what, vip = sys.argv[1], sys.argv[2]
if what == "speaker":  # VRRPv2 on the pair's VRID, another password, a lower priority
    pw = b"wrong!!!"
    frame = Ether(src=mac, dst="01:00:5e:00:00:12") / IP(
        src=sys.argv[3], dst="224.0.0.18", ttl=255) / VRRP(
        vrid=int(sys.argv[4]), priority=50, adv=1, addrlist=[vip], authtype=1,
        auth1=int.from_bytes(pw[:4], "big"), auth2=int.from_bytes(pw[4:], "big"))
    pause = 1.0
elif what == "ask":  # who has the VIP? (broadcast: every holder answers)
    frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac, psrc="192.0.2.201", pdst=vip)
    pause = 0.5
else:  # answer for the VIP with our own MAC, as a host configured with it would
    frame = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=2, hwsrc=mac, psrc=vip, hwdst="ff:ff:ff:ff:ff:ff", pdst="192.0.2.201")
    pause = 0.5
print("ready", flush=True)
while True:
    sendp(frame, iface="eth0")
    time.sleep(pause)
"""


class Summary:
    """`haconsole watch -i br0 --summary --every 1` in the bridge namespace."""

    def __init__(self, lab: NetnsLab, workdir: Path) -> None:
        self.path = workdir / "summary.txt"
        self.proc = spawn(lab.topology.bridge_ns,
                          [sys.executable, "-m", "haconsole", "watch", "-i", "br0",
                           "--summary", "--every", "1"], log=self.path, env=agent_env())

    def latest(self) -> str:
        text = self.path.read_text(errors="replace") if self.path.exists() else ""
        blocks = text.split("== wire summary")
        return blocks[-2] if len(blocks) > 2 else ""  # the last complete one

    def stop(self) -> str:
        stop_process(self.proc)
        return self.path.read_text(errors="replace") if self.path.exists() else ""


def scapy(lab: NetnsLab, *args: str) -> Any:
    """A scapy sender in the client namespace (our third box), running until stopped."""
    return spawn(lab.topology.ns("client"), [sys.executable, "-c", SCAPY, *args],
                 env=agent_env())


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.2)


@pytest.fixture(scope="module")
def ka_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsLab]:
    """A keepalived pair (nginx1 master, VRRPv2 + PASS, VRID 100, VIP 192.0.2.170)."""
    need_lab(keepalived=True)
    lab = NetnsLab(pair_configs(version=2), engines={"nginx1": "keepalived",
                                                     "nginx2": "keepalived"},
                   workdir=tmp_path_factory.mktemp("wire-lab"))
    try:
        lab.start()
        lab.wait_single_holder(VIP4, expect="nginx1")
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def summary(ka_lab: NetnsLab, tmp_path: Path) -> Iterator[Summary]:
    watcher = Summary(ka_lab, tmp_path)
    try:
        wait_for(lambda: "192.0.2.11" in watcher.latest(), 20, what="a first summary")
        yield watcher
    finally:
        out = watcher.stop()
        print("===== watch --summary (last)\n" + out[-3000:])
        assert "lab-pass" not in out and "wrong!!!" not in out


async def wire_console(lab: NetnsLab) -> tuple[HAConsoleApp, Any]:
    source = netns_wire_source(lab.topology.bridge_ns, "br0")
    source.open()
    return HAConsoleApp([source], cluster="wire lab", kind="wire", readonly=True), source


async def fault_raises_and_clears(lab: NetnsLab, summary: Summary, title: str,
                                  cause: Callable[[], Any], clear: Callable[[Any], None],
                                  ) -> None:
    app, _source = await wire_console(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, WireScreen) and app.screen,
                             5, "the Wire screen")
        await until(pilot, lambda: "192.0.2.11" in screen.text, 15, "nginx1 on the wire")
        assert title not in screen.text
        handle = cause()
        try:
            await until(pilot, lambda: title in screen.text, 30, f"{title} on the screen")
            await until(pilot, lambda: title in summary.latest(), 30,
                        f"{title} in watch --summary")
        finally:
            clear(handle)
        await until(pilot, lambda: title not in screen.text, 40, f"{title} to clear")
        await until(pilot, lambda: title not in summary.latest() and summary.latest(), 40,
                    f"{title} to clear in the summary")
        assert "lab-pass" not in screen.text and "wrong!!!" not in screen.text


async def test_a_third_speaker_with_another_password(ka_lab: NetnsLab,
                                                     summary: Summary) -> None:
    await fault_raises_and_clears(
        ka_lab, summary, "AUTH MISMATCH",
        lambda: scapy(ka_lab, "speaker", VIP4, THIRD, "100"), stop_process)


async def test_a_third_host_answering_arp_for_the_vip(ka_lab: NetnsLab,
                                                       summary: Summary) -> None:
    asker = scapy(ka_lab, "ask", VIP4)
    try:
        await fault_raises_and_clears(
            ka_lab, summary, "VIP ANSWERED BY TWO MACS",
            lambda: scapy(ka_lab, "answer", VIP4), stop_process)
    finally:
        stop_process(asker)


async def test_a_partition_makes_two_masters(ka_lab: NetnsLab, summary: Summary) -> None:
    def heal(_: object) -> None:
        ka_lab.topology.partition("nginx2", False)

    await fault_raises_and_clears(
        ka_lab, summary, "TWO MASTERS ON THE WIRE",
        lambda: ka_lab.topology.partition("nginx2", True), heal)
    ka_lab.wait_single_holder(VIP4, expect="nginx1")


# ------------------------------------------------------------------------------ cross-check


async def test_the_cross_check_names_a_master_whose_adverts_never_arrive(
        make_lab: Any, request: pytest.FixtureRequest) -> None:
    """nftables drops nginx1's outgoing VRRP: it still says MASTER, holds the VIP and
    answers ARP, but the wire has no adverts from it. The backup is stopped first, so
    nothing else changes (it would take over: that is the split brain (c) shows)."""
    need_program("nft")
    lab = make_lab(pair_configs(version=3, advert_int=1.0))
    lab.wait_single_holder(VIP4, expect="nginx1")
    asker = scapy(lab, "ask", VIP4)  # clients asking: the VIP's holder answers
    request.addfinalizer(lambda: stop_process(asker))
    source = netns_wire_source(lab.topology.bridge_ns, "br0")
    source.open()
    view = ClusterView()
    app = HAConsoleApp([*lab.sources(), source], cluster="wire lab", kind="netns",
                       readonly=True, view=view)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(InstancesTable)

        def mark(node: str) -> str:
            try:
                return str(table.get_cell(f"{node}/VI_1", "wire").plain)
            except Exception:  # no row or no column yet
                return ""

        await until(pilot, lambda: mark("nginx1") == "✓" and mark("nginx2") == "✓" and
                    view.wire.speakers.get((100, 4, "192.0.2.11")), 30,
                    "both instances agreeing with the wire, nginx1's adverts seen")
        ok, detail = lab.execute(cmd.StopAgent("nginx2"))
        assert ok, detail
        rules = ("table inet hacwire {\n chain out {\n"
                 "  type filter hook output priority 0; policy accept;\n"
                 "  meta l4proto 112 drop\n }\n}\n")
        run(["nft", "-f", "-"], ns=lab.ns("nginx1"), input=rules)
        try:
            await until(pilot, lambda: mark("nginx1") == "✗ sends adverts", 30,
                        "'sends adverts' named for nginx1")
            inst = view.instances[("nginx1", "VI_1")]
            check = view.wire.cross_check(view, inst, app.clock())
            assert (check.says_master, check.sends_adverts, check.holds_vip,
                    check.answers_arp) == (True, False, True, True)
            assert lab.holders(VIP4) == ["nginx1"]
        finally:
            run(["nft", "delete", "table", "inet", "hacwire"], ns=lab.ns("nginx1"),
                check=False)
        await until(pilot, lambda: mark("nginx1") == "✓", 30, "agreement again")


# ------------------------------------------------------------------------------ the socket


def test_the_packet_socket_filters_in_the_kernel_and_counts_its_drops(veth_ns: str) -> None:
    """Frames of ours pass the BPF filter, others never reach Python; a reader that falls
    behind loses frames in the kernel, counted, instead of queueing without bound."""
    from haconsole.capture.frames import VrrpRecord, decode_frame
    from haconsole.capture.live import open_packet_socket

    frames = _frames()
    sender = open_packet_socket("e0", netns=veth_ns)
    reader = open_packet_socket("e1", netns=veth_ns, rcvbuf=64 * 1024)
    try:
        sender.sock.setblocking(True)
        for frame in frames["other"] * 50 + frames["advert"] * 50:
            sender.sock.send(frame)
        got: list[bytes] = []
        wait_for(lambda: got.extend(f for _, _, f in reader.read(500)) or len(got) >= 50, 10,
                 what="the adverts")
        assert len(got) == 50
        assert all(type(decode_frame(1, 0.0, f)) is VrrpRecord for f in got)
        for _ in range(20000):  # nobody reads now: the kernel buffer fills
            sender.sock.send(frames["advert"][0])
        delivered, dropped = reader.stats()
        assert dropped > 0 and delivered + dropped >= 20000
    finally:
        sender.close()
        reader.close()


def _frames() -> dict[str, list[bytes]]:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRP

    advert = Ether(src="02:00:00:00:00:11", dst="01:00:5e:00:00:12") / IP(
        src="192.0.2.1", dst="224.0.0.18", ttl=255) / VRRP(vrid=7, priority=100,
                                                          addrlist=["192.0.2.7"])
    other = Ether(src="02:00:00:00:00:11", dst="ff:ff:ff:ff:ff:ff", type=0x1234) / (b"x" * 46)
    return {"advert": [bytes(advert)], "other": [bytes(other)]}
