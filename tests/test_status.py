"""`haconsole status`: monitoring-plugin output and exit codes from the view's alarms.

The judgement is tested on folded views (each alarm kind -> its status), then end to
end: the in-process lab healthy (0), partitioned (2, split brain) and flapping (1), an
unreachable inventory (3), an agent over its control socket, and stock keepalived over
SSH in namespaces (root only).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
from conftest import need, need_program, need_root_netns

from haconsole.agent.daemon import Agent, AgentOptions
from haconsole.cli import main
from haconsole.cluster import events as ev
from haconsole.cluster.alarms import KINDS, Alarm
from haconsole.cluster.view import ClusterView
from haconsole.export.cli import check
from haconsole.export.status import (
    ALARM_STATUS,
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    alarm_status,
    evaluate,
    settled,
)
from haconsole.net.memory import MemorySegment, MemoryVips
from haconsole.sources.agent import AgentSocketSource

FIRST_LINE = re.compile(r"^VRRP (OK|WARNING|CRITICAL|UNKNOWN) - .+ \| "
                        r"(?:[a-z_]+=\d+ ?)+$")

# A VRRPv3 pair at advert_int 0.2 s: an election takes under a second.
FAST_LAB = """
name = "fast pair"
[[node]]
name = "nginx1"
address = "192.0.2.11"
priority = 100
[[node]]
name = "nginx2"
address = "192.0.2.12"
priority = 90
[[instance]]
name = "VI_1"
virtual_router_id = 100
version = 3
advert_int = 0.2
virtual_ipaddress = ["192.0.2.170/24"]
track_script = ["chk_nginx"]
[vrrp_script.chk_nginx]
interval = 0.1
weight = -20
"""


def state(t: float, node: str, st: str, prio: int, address: str,
          vips: tuple[str, ...] = ("192.0.2.170",)) -> ev.InstanceState:
    return ev.InstanceState(t, node, instance="VI_1", vrid=51, state=st, base_priority=prio,
                            effective_priority=prio, interface="eth0", vips=vips,
                            address=address)


def pair(master: str = "a") -> ClusterView:
    view = ClusterView()
    view.apply_all([
        ev.NodeSeen(0.0, "a"), ev.NodeSeen(0.0, "b"),
        state(0.0, "a", "MASTER" if master == "a" else "BACKUP", 100, "192.0.2.11"),
        state(0.0, "b", "MASTER" if master == "b" else "BACKUP", 90, "192.0.2.12"),
        ev.VipAdded(0.0, master, instance="VI_1", vip="192.0.2.170"),
    ])
    return view


# ------------------------------------------------------------------------- the judgement
def test_healthy_pair_is_ok_with_perfdata_and_a_table():
    report = evaluate(pair(), 1.0)
    assert report.code == OK
    assert FIRST_LINE.match(report.summary), report.summary
    assert "masters=1 backups=1" in report.summary
    lines = report.text().splitlines()
    assert lines[2].split()[:3] == ["INSTANCE", "NODE", "STATE"]
    assert "192.0.2.170 on a" in lines[3]
    data = json.loads(report.json())
    assert data["status"] == "OK" and data["code"] == 0
    assert [(r["node"], r["state"]) for r in data["instances"]] == \
        [("a", "MASTER"), ("b", "BACKUP")]


def test_split_brain_is_critical():
    view = pair()
    view.apply_all([state(1.0, "b", "MASTER", 90, "192.0.2.12"),
                    ev.VipAdded(1.0, "b", instance="VI_1", vip="192.0.2.170")])
    report = evaluate(view, 2.0)
    assert report.code == CRITICAL
    assert report.summary.startswith("VRRP CRITICAL - SPLIT BRAIN: ")
    assert "split-brain" in report.rows[0].alarms


def test_no_master_is_critical_only_after_the_master_down_interval():
    view = pair()
    view.apply(state(1.0, "a", "BACKUP", 100, "192.0.2.11"))
    assert evaluate(view, 1.5).code == OK  # an election in progress
    assert not settled(view, 1.5, ["a", "b"])  # ... which a snapshot waits for
    report = evaluate(view, 8.0)
    assert report.code == CRITICAL and "NO MASTER" in report.summary
    assert settled(view, 8.0, ["a", "b"])


def test_flapping_is_a_warning():
    view = pair()
    for i, (old, new) in enumerate([("BACKUP", "MASTER"), ("MASTER", "BACKUP"),
                                    ("BACKUP", "MASTER")]):
        view.apply(ev.Transition(1.0 + i, "a", instance="VI_1", old=old, new=new))
    report = evaluate(view, 5.0)
    assert report.code == WARNING and "FLAPPING" in report.summary


def test_source_down_is_a_warning_and_nothing_read_is_unknown():
    view = pair()
    view.apply(ev.SourceHealth(1.0, "b", ok=False, detail="cannot connect"))
    report = evaluate(view, 2.0)
    assert report.code == WARNING and "STALE SOURCE" in report.summary
    empty = ClusterView()
    empty.apply(ev.SourceHealth(1.0, "a", ok=False, detail="cannot connect"))
    report = evaluate(empty, 2.0)
    assert report.code == UNKNOWN
    assert report.summary.startswith("VRRP UNKNOWN - no VRRP instance could be read (a: ")
    assert FIRST_LINE.match(report.summary)
    assert evaluate(ClusterView(), 0.0).code == UNKNOWN


def test_every_alarm_kind_has_a_status_that_agrees_with_its_severity():
    for kind, (_title, severity) in KINDS.items():
        code = alarm_status(Alarm(kind, severity, "", 0.0))
        assert code == (CRITICAL if severity == "critical" else WARNING), kind
    assert set(ALARM_STATUS) <= set(KINDS)
    assert {k for k, v in ALARM_STATUS.items() if v == CRITICAL} == \
        {"split-brain", "no-master", "service-down"}


def test_one_node_leaves_router_alarms_out():
    view = ClusterView()
    view.apply_all([ev.NodeSeen(0.0, "a"), state(0.0, "a", "BACKUP", 90, "192.0.2.12")])
    assert evaluate(view, 8.0).code == CRITICAL  # "no master" from the fleet's side
    alone = evaluate(view, 8.0, one_node=True)
    assert alone.code == OK and "one node" in alone.summary
    assert settled(view, 0.1, ["a"], one_node=True)


# ------------------------------------------------------------------------- end to end
def run_status(capsys, *args: str) -> tuple[int, str]:
    code = main(["status", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def fast_lab(tmp_path: Path) -> str:
    path = tmp_path / "fast.toml"
    path.write_text(FAST_LAB)
    return str(path)


def test_lab_healthy_pair_exits_0(capsys, fast_lab):
    code, out = run_status(capsys, "--lab", "--config", fast_lab)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("VRRP OK - 1 virtual router on 2 nodes") and FIRST_LINE.match(first)
    assert re.search(r"VI_1 \(100\)\s+nginx1\s+MASTER\s+100\s+192.0.2.170 on nginx1", out)


def test_lab_partitioned_pair_exits_2_split_brain(capsys, fast_lab):
    code, out = run_status(capsys, "--lab", "--config", fast_lab,
                           "--scenario", "1.5:partition nginx2")
    assert code == 2, out
    assert out.startswith("VRRP CRITICAL - SPLIT BRAIN: ")
    assert "masters=2" in out.splitlines()[0]


def test_lab_flapping_pair_exits_1(capsys, fast_lab):
    code, out = run_status(capsys, "--lab", "--config", fast_lab, "--json",
                           "--scenario", "1.5:stop nginx1; 3:start nginx1")
    data = json.loads(out)
    assert (code, data["status"]) == (1, "WARNING"), out
    assert [a["kind"] for a in data["alarms"]] == ["flapping"]
    assert data["summary"].startswith("VRRP WARNING - FLAPPING: VI_1 on nginx1")


def test_unreachable_inventory_exits_3(capsys, tmp_path):
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('name = "gone"\n[[node]]\nname = "n1"\nhost = "127.0.0.1"\nport = 1\n'
                         '[[node]]\nname = "n2"\nhost = "127.0.0.1"\nport = 1\n'
                         'kind = "haconsole"\n')
    code, out = run_status(capsys, str(inventory), "--wait", "20")
    assert code == 3, out
    assert out.startswith("VRRP UNKNOWN - no VRRP instance could be read (n1: ")


def test_usage_errors_exit_3_in_one_line(capsys, tmp_path):
    code, out = run_status(capsys)
    assert (code, out) == (3, "VRRP UNKNOWN - give exactly one of INVENTORY, --lab or "
                              "--agent SOCKET\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[node]]\nname = \n")
    code, out = run_status(capsys, str(bad))
    assert code == 3 and out.count("\n") == 1 and str(bad) in out
    code, out = run_status(capsys, "--agent", str(tmp_path / "none.sock"), "--wait", "5")
    assert code == 3 and out.startswith("VRRP UNKNOWN - no VRRP instance could be read "
                                        "(agent: cannot reach agent")


AGENT_CONF = """
global_defs {
    router_id node-a
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.170/24
    }
}
"""


async def test_agent_over_its_control_socket(tmp_path):
    path = tmp_path / "keepalived.conf"
    path.write_text(AGENT_CONF)
    segment = MemorySegment()
    control = str(tmp_path / "agent.sock")
    agent = Agent(AgentOptions(config_file=str(path), control=control,
                               check_permissions=False, track_primary=False),
                  vips=MemoryVips(),
                  transport_for=lambda iface, fam: segment.attach("a", iface, "192.0.2.11"))
    ready = asyncio.Event()
    task = asyncio.get_running_loop().create_task(agent.run(on_ready=ready.set))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while agent.node is None or agent.node.instances["VI_1"].state != "MASTER":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        source = AgentSocketSource("agent", control)
        report = await check([source], lambda: [source.node], 10, one_node=True)
    finally:
        agent.request_stop()
        await asyncio.wait_for(task, 10)
    assert report.code == OK, report.text()
    assert report.summary.startswith("VRRP OK - VI_1 MASTER on node-a (one node")
    assert [(r.node, r.state) for r in report.rows] == [("node-a", "MASTER")]


# ------------------------------------------------------------------------- SSH, for real
def test_ssh_lab_keepalived_pair(capsys):
    need_root_netns()
    for program in ("sshd", "keepalived", "nginx", "nsenter", "unshare", "ssh-keygen", "ss"):
        need_program(program)
    sys.path.insert(0, str(Path(__file__).parent / "netns"))
    from ssh_testbed import PASSWORD, SshTestbed

    lab = SshTestbed()
    try:
        lab.start()
        need(lab.inventory.exists(), "the SSH lab wrote no inventory")
        code, out = run_status(capsys, str(lab.inventory), "--since", "0", "--wait", "30")
        assert code == 0, out + lab.logs()
        assert re.search(r"VI_1 \(\d+\)\s+n1\s+MASTER\s+150", out), out
        assert re.search(r"VI_1 \(\d+\)\s+n2\s+BACKUP\s+100", out), out
        lab.stop_nginx("n1")
        code, out = run_status(capsys, str(lab.inventory), "--since", "0", "--wait", "30",
                               "--json")
        data = json.loads(out)
        # stock keepalived moves the VIP to n2; n1's check fails: n2 has no healthy
        # backup left (degraded) - a warning, never "all clear"
        assert data["status"] in ("WARNING", "CRITICAL") and code in (1, 2), out
        assert PASSWORD not in out
    finally:
        lab.stop()
