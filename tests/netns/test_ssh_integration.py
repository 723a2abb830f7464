"""`haconsole connect` on real nodes: OpenSSH sshd + keepalived + nginx in namespaces.

Through the console (Textual Pilot) on the inventory `haconsole connect` reads: the pair
shows MASTER/BACKUP and the VIP owner; `s` (stop nginx, confirmed) on the master makes
keepalived move the VIP and the stopwatch time it; killing sshd on a node marks it stale
and it recovers when sshd is back; a wrong host key is refused with a clear message; the
VRRP password never reaches an event. A mixed pair (n1 the haconsole agent, n2 keepalived)
does the same for an agent node through `agent ctl --stream` over the real sshd: state and
VIP, a failover the agent confirms, stale when its sshd dies. The past (`connect --since`):
an incident that happened before the console started (nginx stopped and started on the
master, twice) is in the Failovers panel and trips the flapping alarm after attach, and
lines logged all through the attach appear once each; with `--since 0` nothing of the
past is read, yet a check failing before we came and the VIP's takeover time show. Once
with each keepalived release (2.2.7, 2.4.3 when built), with its notify FIFO read: the
release shown, state, VIP owner, a failover and the log tail agree with the node, the
transition reaching the console faster than the next dump could say it. Root and
namespaces only (see ssh_testbed.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import KEEPALIVED_VERSIONS, need_keepalived
from ssh_testbed import PASSWORD, VIP, SshTestbed  # tests/netns is on sys.path

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.cli import make_console
from haconsole.console.widgets.instances import InstancesTable
from haconsole.netns.lab import wait_for
from haconsole.netns.topology import list_namespaces, ns_processes
from haconsole.sources.agent_ssh import AgentSshSource
from haconsole.sources.connect import FleetSource, build_fleet
from haconsole.sources.inventory import load_inventory
from haconsole.sources.keepalived_ssh import KeepalivedSource
from haconsole.sources.ssh import SshOptions

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(150)]
SIZE = (160, 48)


def _lab(need_program: Callable[[str], None], **kwargs: Any) -> Iterator[SshTestbed]:
    for program in ("sshd", "keepalived", "nginx", "nsenter", "unshare", "ssh-keygen", "ss"):
        need_program(program)
    lab = SshTestbed(**kwargs)
    try:
        lab.start()
        yield lab
    except BaseException:
        print(lab.logs())
        raise
    finally:
        lab.stop()
        left = [ns for ns in list_namespaces() if ns.startswith(lab.topology.prefix)]
        assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def ssh_testbed(root: Callable[[str], None]) -> Iterator[SshTestbed]:
    """The lab, torn down whatever happens; `root` skips (or fails under
    HACONSOLE_REQUIRE_NETNS=1) without root and namespaces."""
    yield from _lab(root)


@pytest.fixture
def agent_lab(root: Callable[[str], None]) -> Iterator[SshTestbed]:
    """n1 runs the haconsole agent (priority 150), n2 keepalived (100)."""
    yield from _lab(root, agents=("n1",))


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll a condition on what the sources published (they run on this loop), letting
    the console (`pilot`, or None without one) repaint between polls."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await (pilot.pause(0.1) if pilot is not None else asyncio.sleep(0.05))


async def test_connect_console_on_real_sshd_keepalived_nginx(ssh_testbed: SshTestbed) -> None:
    lab = ssh_testbed
    wait_for(lambda: lab.holders() == ["n1"], 15, what="n1 to hold the VIP")
    fleet = build_fleet(load_inventory(lab.inventory))
    app = make_console(fleet)
    assert app is not None, "the console (haconsole.console.app) is not importable"
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        # 1. the pair as it is: n1 MASTER (priority 150), n2 BACKUP, n1 owns the VIP.
        await until(pilot, lambda: view.master_of("VI_1") == "n1" and
                    ("n2", "VI_1") in view.instances and
                    view.instances[("n2", "VI_1")].state == "BACKUP", 15, "MASTER/BACKUP")
        await until(pilot, lambda: view.vips.get(VIP) and view.vips[VIP].owner == "n1", 10,
                    "the VIP on n1")
        assert view.instances[("n1", "VI_1")].effective_priority == 150
        await until(pilot, lambda: view.nodes["n1"].services.get("nginx") is True, 5, "nginx up")

        # 2. stop nginx on the master from the console (confirmed): the VIP moves to n2.
        table = app.screen_stack[0].query_one(InstancesTable)
        assert table.select(("n1", "VI_1"))
        await pilot.press("s")
        await until(pilot, lambda: len(app.screen_stack) > 1, 5, "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: view.vips[VIP].owner == "n2" and
                    view.master_of("VI_1") == "n2", 20, "the VIP to move to n2")
        assert lab.holders() == ["n2"]
        record = await until(pilot, lambda: next(
            (f for f in view.failovers if f.new_master == "n2" and f.vip_ms is not None),
            None), 10, "the stopwatch")
        assert record.old_master == "n1" and record.cause_t is not None
        assert 0 < record.vip_ms < 15000
        assert view.nodes["n1"].services.get("nginx") is False

        # 3. sshd killed on n2: n2 goes stale, then recovers when sshd is back.
        lab.kill_sshd("n2")
        await until(pilot, lambda: not view.nodes["n2"].health_ok, 20, "n2 to go stale")
        assert "stale" in view.nodes["n2"].health_detail
        assert view.nodes["n1"].health_ok
        lab.start_sshd("n2")
        await until(pilot, lambda: view.nodes["n2"].health_ok, 30, "n2 to reconnect")
        polls = fleet.nodes["n2"].polls
        await until(pilot, lambda: fleet.nodes["n2"].polls > polls + 1, 10, "n2 polling again")

        # 4. the VRRP password never reached the console.
        texts = [entry.text for entry in view.log]
        assert texts and not any(PASSWORD[:8] in text for text in texts)
    await asyncio.wait_for(fleet.stop(), 5)


async def test_wrong_host_key_is_refused_with_a_clear_message(ssh_testbed: SshTestbed) -> None:
    lab = ssh_testbed
    wrong = lab.work / "wrong_known_hosts"
    other = (lab.nodes["n2"].dir / "host_key.pub").read_text().split()
    wrong.write_text(f"n1,{lab.nodes['n1'].address} {other[0]} {other[1]}\n")
    inventory = load_inventory(lab.inventory)
    source = KeepalivedSource(inventory.node("n1"), SshOptions(
        known_hosts=str(wrong), ssh_config=str(lab.ssh_config), accept_new_host_keys=True,
        backoff_initial=0.2, backoff_max=1.0))
    seen: list[ev.Event] = []
    await source.start(seen.append)
    try:
        end = time.monotonic() + 20
        while not any(isinstance(e, ev.SourceHealth) and not e.ok for e in seen):
            assert time.monotonic() < end, "no refusal reported"
            await asyncio.sleep(0.05)
        detail = next(e.detail for e in seen if isinstance(e, ev.SourceHealth) and not e.ok)
        assert detail.startswith("n1: HOST KEY CHANGED")
        assert "ssh-keygen -R" in detail and str(wrong) in detail
        assert not any(isinstance(e, ev.NodeSeen) for e in seen)
    finally:
        await source.stop()



async def test_agent_node_over_real_sshd(agent_lab: SshTestbed) -> None:
    lab = agent_lab
    wait_for(lambda: lab.holders() == ["n1"], 15, what="the agent on n1 to hold the VIP")
    fleet = build_fleet(load_inventory(lab.inventory))
    agent = fleet.nodes["n1"]
    assert isinstance(agent, AgentSshSource) and isinstance(fleet.nodes["n2"], KeepalivedSource)
    view = ClusterView()
    events: list[ev.Event] = []

    def publish(event: ev.Event) -> None:
        events.append(event)
        view.apply(event)

    await fleet.start(publish)
    try:
        # 1. the agent's state and VIP, through `agent ctl --stream` on the real sshd,
        #    beside the keepalived node's dump: one VRRP group, n1 MASTER, VIP on n1.
        await until(None, lambda: view.master_of("VI_1") == "n1" and
                    ("n2", "VI_1") in view.instances and
                    view.instances[("n2", "VI_1")].state == "BACKUP", 15,
                    "n1 MASTER (agent) and n2 BACKUP (keepalived)")
        master = view.instances[("n1", "VI_1")]
        assert master.effective_priority == 150 and VIP in master.vips
        assert view.nodes["n1"].agent == "haconsole" and agent.agent_name == "n1"
        assert view.nodes["n1"].health_ok
        offset = view.nodes["n1"].clock_offset  # measured over SSH for agents too
        assert offset is not None and abs(offset) < 0.1
        # The agent's snapshot names the VIP it already held before we attached.
        await until(None, lambda: view.vips.get(VIP) is not None and
                    view.vips[VIP].owner == "n1", 5, "the VIP owned by n1 from the snapshot")

        # 2. a failover sent through the source: the agent confirms it (priority 0 sent)
        #    and keepalived on n2 takes the VIP; the kernel agrees.
        ok, detail = await asyncio.wait_for(fleet.execute(cmd.Failover("n1", "VI_1")), 20)
        assert ok, detail
        assert "priority 0 sent" in detail
        result = next(e for e in events if isinstance(e, ev.CommandResult))
        assert (result.node, result.ok, result.detail) == ("n1", True, detail)
        await until(None, lambda: view.master_of("VI_1") == "n2" and view.vips.get(VIP) and
                    view.vips[VIP].owner == "n2", 15, "the VIP to move to n2")
        await until(None, lambda: any(isinstance(e, ev.VipRemoved) and e.node == "n1" and
                                      e.vip.split("/")[0] == VIP for e in events), 5,
                    "the agent's VipRemoved, live through the stream")
        wait_for(lambda: lab.holders() == ["n2"], 5, what="the VIP on n2 only (ip addr)")
        assert view.instances[("n1", "VI_1")].state == "BACKUP"  # held back, no preempt

        # 3. sshd killed on the agent's node: n1 goes stale, n2 stays healthy.
        lab.kill_sshd("n1")
        await until(None, lambda: not view.nodes["n1"].health_ok, 15, "n1 to go stale")
        assert "stale" in view.nodes["n1"].health_detail
        assert view.nodes["n2"].health_ok
        ok, detail = await fleet.execute(cmd.Failover("n1", "VI_1"))
        assert not ok and "not connected" in detail
        # ... and when sshd is back, it reconnects and the agent replays its state.
        replays = sum(isinstance(e, ev.InstanceState) and e.node == "n1" for e in events)
        lab.start_sshd("n1")
        await until(None, lambda: view.nodes["n1"].health_ok, 20, "n1 to reconnect")
        await until(None, lambda: sum(isinstance(e, ev.InstanceState) and e.node == "n1"
                                      for e in events) > replays, 10, "the agent's snapshot")
        assert view.instances[("n1", "VI_1")].state == "BACKUP"

        # 4. the VRRP password never reached an event.
        assert events and not any(PASSWORD in str(e.to_dict()) for e in events)
    finally:
        await asyncio.wait_for(fleet.stop(), 5)


async def attach(lab: SshTestbed, since: str) -> tuple[FleetSource, ClusterView, list[ev.Event]]:
    """`haconsole connect --since SINCE` on the lab's inventory, folded into a view."""
    fleet = build_fleet(load_inventory(lab.inventory), since=since)
    view = ClusterView()
    events: list[ev.Event] = []

    def publish(event: ev.Event) -> None:
        events.append(event)
        view.apply(event)

    await fleet.start(publish)
    return fleet, view, events


async def test_an_incident_before_the_console_started_shows_after_attach(
        ssh_testbed: SshTestbed) -> None:
    lab = ssh_testbed
    wait_for(lambda: lab.holders() == ["n1"], 15, what="n1 to hold the VIP")
    for _ in range(2):  # nginx dies on the master and comes back: failover, failback
        lab.stop_nginx("n1")
        wait_for(lambda: lab.holders() == ["n2"], 15, what="the failover to n2")
        lab.start_nginx("n1")
        wait_for(lambda: lab.holders() == ["n1"], 15, what="the failback to n1")
    stop = threading.Event()
    written: list[int] = []

    def markers() -> None:  # n1 keeps logging all through the attach
        i = 0
        while not stop.is_set():
            lab.log("n1", f"seam marker {i}")
            i += 1
            time.sleep(0.002)
        written.append(i)

    writer = threading.Thread(target=markers)
    writer.start()
    attached = time.time()
    fleet, view, events = await attach(lab, "10m")
    try:
        ends = await until(None, lambda: len([e for e in events if isinstance(e, ev.HistoryEnd)])
                           == 2 and [e for e in events if isinstance(e, ev.HistoryEnd)], 20,
                           "both nodes' pasts")
        n1_end = next(e for e in ends if e.node == "n1")
        assert n1_end.source == f"{lab.nodes['n1'].log_file} --since 10m"
        await until(None, lambda: any(isinstance(e, ev.LogLine) and e.node == "n1" and
                                      e.t > n1_end.t and e.text.startswith("seam marker")
                                      for e in events), 10, "live marker lines")
        stop.set()
        writer.join()
        last = f"seam marker {written[0] - 1}"
        await until(None, lambda: any(isinstance(e, ev.LogLine) and e.text == last
                                      for e in events), 10, "the last marker")
        seen = [e.text for e in events if isinstance(e, ev.LogLine) and
                e.text.startswith("seam marker")]
        assert seen == [f"seam marker {i}" for i in range(written[0])]  # once each, no gap

        # the incident, from before we came: two failovers and two failbacks, timed
        moves = [(f.old_master, f.new_master) for f in view.failovers
                 if f.elected_t is not None and f.elected_t < attached]
        assert moves == [("n1", "n2"), ("n2", "n1")] * 2, view.failovers
        first = next(f for f in view.failovers if f.new_master == "n2")
        assert first.cause_t is not None and "chk_nginx" in first.cause
        assert first.elected_ms is not None and 0 < first.elected_ms < 10000
        kinds = {a.kind: a for a in view.alarms(time.time())}
        assert "flapping" in kinds and kinds["flapping"].since < attached
        # ... and the present: n1 MASTER and holding the VIP, clocks in step
        assert view.master_of("VI_1") == "n1" and view.vips[VIP].owner == "n1"
        for name in ("n1", "n2"):
            assert view.nodes[name].clock_offset is not None
            assert abs(view.nodes[name].clock_offset) < 0.1
        assert fleet.view.view.failovers == view.failovers  # the fleet's one fold
    finally:
        stop.set()
        writer.join()
        await asyncio.wait_for(fleet.stop(), 5)


async def test_since_zero_reads_no_past_but_shows_facts_as_they_are(
        ssh_testbed: SshTestbed) -> None:
    """`--since 0`: no history at all; still, n2's check failing before we came shows (the
    data dump), and the VIP's "Since" is n1's takeover, not our attach."""
    lab = ssh_testbed
    wait_for(lambda: lab.holders() == ["n1"], 15, what="n1 to hold the VIP")
    took_over = time.time()
    lab.stop_nginx("n2")  # the backup's check fails: priority 100 - 60, no failover
    log = lab.nodes["n2"].log_file
    wait_for(lambda: "(VI_1) Changing effective priority from 100 to 40" in log.read_text(), 5,
             what="n2's check to fail")
    lab.log("n2", "before we came")
    attached = time.time()
    fleet, view, events = await attach(lab, "0")
    try:
        await until(None, lambda: view.nodes.get("n2") and view.nodes.get("n1") and
                    view.nodes["n2"].tracks.get("chk_nginx") is False and
                    view.nodes["n1"].tracks.get("chk_nginx") is True, 15,
                    "n2's failing chk_nginx (and n1's passing one)")
        assert view.nodes["n2"].failing() == ["nginx down", "chk_nginx failing"]
        await until(None, lambda: view.vips.get(VIP) and view.vips[VIP].owner == "n1", 10,
                    "the VIP on n1")
        assert view.vips[VIP].since is not None and view.vips[VIP].since < took_over
        inst = view.instances[("n1", "VI_1")]
        assert inst.since is not None and abs(inst.since - view.vips[VIP].since) < 0.01
        assert view.instances[("n2", "VI_1")].effective_priority == 40
        assert not [e for e in events if isinstance(e, ev.HistoryEnd)]
        assert not [e for e in events if isinstance(e, ev.LogLine) and e.t < attached]
        assert not [e for e in events if isinstance(e, ev.Transition)]
    finally:
        await asyncio.wait_for(fleet.stop(), 5)


#: The dumps are read this rarely in the release test: what reaches the console sooner
#: came from the notify FIFO (or the log).
SLOW_DUMPS = 10.0


@pytest.fixture(params=KEEPALIVED_VERSIONS, ids=lambda v: f"ka{v}")
def release_lab(request: pytest.FixtureRequest, root: Callable[[str], None]
                ) -> Iterator[tuple[str, SshTestbed]]:
    """The pair on keepalived `version`, each with a notify FIFO the inventory reads."""
    binary = need_keepalived(request.param)
    for lab in _lab(root, keepalived_binary=binary, notify_fifo=True, interval=SLOW_DUMPS):
        yield request.param, lab


async def test_each_keepalived_release_over_ssh(release_lab: tuple[str, SshTestbed]) -> None:
    version, lab = release_lab
    wait_for(lambda: lab.holders() == ["n1"], 15, what="n1 to hold the VIP")
    fleet, view, events = await attach(lab, "0")
    try:
        # 1. the release each node runs, as keepalived --version of the running binary
        await until(None, lambda: all(view.nodes.get(n) and view.nodes[n].version
                                      for n in ("n1", "n2")), 15, "both releases")
        assert {view.nodes[n].software for n in ("n1", "n2")} == {f"keepalived {version}"}
        for name in ("n1", "n2"):  # its notify FIFO, named in the keepalived.conf it runs
            node = fleet.nodes[name]
            assert isinstance(node, KeepalivedSource)
            await until(None, lambda node=node: node.polls, 15, f"{name}'s first dump")
            notes = [e.text for e in events if isinstance(e, ev.LogLine) and
                     e.text.startswith("[haconsole]")]
            assert node.fifo == str(lab.nodes[name].fifo), notes
        # 2. state and VIP owner agree with the nodes (their logs, the kernel)
        await until(None, lambda: view.master_of("VI_1") == "n1" and
                    ("n2", "VI_1") in view.instances and
                    view.instances[("n2", "VI_1")].state == "BACKUP", 15, "n1 MASTER")
        await until(None, lambda: view.vips.get(VIP) and view.vips[VIP].owner == "n1", 15,
                    "the VIP on n1")
        for name, state in (("n1", "MASTER"), ("n2", "BACKUP")):
            said = [line for line in lab.nodes[name].log_file.read_text().splitlines()
                    if "(VI_1) Entering" in line]
            assert said and f"Entering {state} STATE" in said[-1]

        # 3. a failover: keepalived stopped on n1 (priority 0): n2 takes over one
        #    Skew_Time later; its FIFO line reaches the console at once, the dumps only
        #    every SLOW_DUMPS seconds.
        arrived: dict[str, float] = {}
        before = len(events)

        def taken_over() -> ev.Transition | None:
            return next((e for e in events[before:] if isinstance(e, ev.Transition) and
                         e.node == "n2" and e.new == "MASTER"), None)

        t0 = time.time()
        os.kill(lab.keepalived_pid("n1"), signal.SIGTERM)
        first = await until(None, taken_over, SLOW_DUMPS, "n2 MASTER on the console")
        arrived["n2 MASTER"] = first.t - t0
        await until(None, lambda: view.vips.get(VIP) and view.vips[VIP].owner == "n2",
                    SLOW_DUMPS, "the VIP on n2")
        arrived["VIP on n2"] = time.time() - t0
        wait_for(lambda: lab.holders() == ["n2"], 5, what="the VIP on n2 (ip addr)")
        n2 = fleet.nodes["n2"]
        assert isinstance(n2, KeepalivedSource)
        line = 'INSTANCE "VI_1" MASTER 100'
        fifo_t = await until(None, lambda: next((t for t, text in n2.fifo_read
                                                 if text == line and t > t0), None), 5,
                             "n2's FIFO line")
        arrived["FIFO line"] = fifo_t - t0
        print(f"\nkeepalived {version}: SIGTERM on n1, then on the console: n2 MASTER "
              f"after {arrived['n2 MASTER']:.3f} s (first said by: {first.reason}), n2's "
              f"FIFO line after {arrived['FIFO line']:.3f} s, the VIP on n2 after "
              f"{arrived['VIP on n2']:.3f} s (Skew_Time 0.609 s; dumps every "
              f"{SLOW_DUMPS:g} s)")
        # sooner than the next dump could say it, whichever of the FIFO or the log won
        assert max(arrived.values()) < SLOW_DUMPS / 2, arrived
        # ... and the log tail says it too, as keepalived wrote it
        await until(None, lambda: any(entry.node == "n2" and
                                      entry.text == "(VI_1) Entering MASTER STATE"
                                      for entry in view.log), 10, "n2's log line")

        # 4. keepalived starts again on n1 (a new FIFO, a new PID): it preempts back,
        #    and the console follows through the new FIFO
        n1 = fleet.nodes["n1"]
        assert isinstance(n1, KeepalivedSource)
        wait_for(lambda: not ns_processes(lab.nodes["n1"].ns, "keepalived"), 10,
                 what="n1's keepalived to exit")
        t1 = time.time()
        lab.start_keepalived("n1")
        await until(None, lambda: view.master_of("VI_1") == "n1" and
                    view.vips[VIP].owner == "n1", 20, "n1 MASTER again")
        wait_for(lambda: lab.holders() == ["n1"], 5, what="the VIP back on n1")
        await until(None, lambda: any(t > t1 and text == 'INSTANCE "VI_1" MASTER 150'
                                      for t, text in n1.fifo_read), 5,
                    "n1's MASTER line from its new FIFO")
        assert view.nodes["n1"].software == f"keepalived {version}"
        assert events and not any(PASSWORD in str(e.to_dict()) for e in events)
    finally:
        await asyncio.wait_for(fleet.stop(), 5)
