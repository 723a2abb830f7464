"""The in-process lab in real time: election, failover on nginx death, commands."""

from __future__ import annotations

import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import ConfigError
from haconsole.lab.definition import load_lab, parse_lab
from haconsole.lab.lab import Lab
from haconsole.lab.scenario import ScenarioError, parse_scenario

MDI_90 = 3.648437
CHECK_INTERVAL = 1.0


@pytest.fixture
async def lab():
    events: list[ev.Event] = []
    lab = Lab(load_lab())
    await lab.start(events.append)
    lab.events = events  # type: ignore[attr-defined]
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)
    yield lab
    await lab.stop()


async def test_lab_elects_nginx1_and_fails_over_when_nginx_stops(lab: Lab) -> None:
    loop = __import__("asyncio").get_running_loop()
    t0 = loop.time()
    ok, detail = await lab.execute(cmd.StopService("nginx1"))
    assert ok, detail
    # generous bound: check interval + Master_Down_Interval + margin (figure: benchmarks)
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"],
                              timeout=CHECK_INTERVAL + MDI_90 + 3)
    assert loop.time() - t0 >= MDI_90 - 1.0  # cannot beat the RFC timer
    assert lab.hosts["nginx2"].vips.held() == {"192.0.2.170"}
    assert lab.hosts["nginx1"].vips.held() == set()
    texts = [e.text for e in lab.events if isinstance(e, ev.LogLine)]  # type: ignore[attr-defined]
    assert "VRRP_Script(chk_nginx) failed (exited with status 1)" in texts
    assert "(VI_1) Changing effective priority from 100 to 80" in texts
    transitions = [(e.node, e.old, e.new) for e in lab.events  # type: ignore[attr-defined]
                   if isinstance(e, ev.Transition)]
    assert ("nginx2", "BACKUP", "MASTER") in transitions
    assert ("nginx1", "MASTER", "BACKUP") in transitions


async def test_lab_failover_command_moves_vip_within_skew_time(lab: Lab) -> None:
    ok, detail = await lab.execute(cmd.Failover("nginx1", "VI_1"))
    assert ok, detail
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=3)
    ok, detail = await lab.execute(cmd.Failover("nginx1", "VI_1"))
    assert not ok and "not MASTER" in detail


async def test_lab_halt_sends_priority_zero_and_boot_restarts(lab: Lab) -> None:
    ok, detail = await lab.execute(cmd.StopAgent("nginx1"))
    assert ok and "priority 0" in detail
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=3)
    texts = [e.text for e in lab.events if isinstance(e, ev.LogLine)]  # type: ignore[attr-defined]
    assert "(VI_1) sent 0 priority" in texts
    assert "(VI_1) Backup received priority 0 advertisement" in texts
    ok, _ = await lab.execute(cmd.StartNode("nginx1"))
    assert ok
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)


async def test_lab_kill_partition_and_errors(lab: Lab) -> None:
    ok, _ = await lab.execute(cmd.PartitionNode("nginx2", True))
    assert ok
    ok, _ = await lab.execute(cmd.KillNode("nginx1"))
    assert ok
    assert await lab.wait_for(lambda: lab.state("nginx1", "VI_1") == "STOP", timeout=1)
    ok, detail = await lab.execute(cmd.StopService("nope"))
    assert not ok and "no node named 'nope'" in detail
    results = [e for e in lab.events if isinstance(e, ev.CommandResult)]  # type: ignore[attr-defined]
    assert results[-1].ok is False


def test_scenario_parsing_and_errors() -> None:
    steps = parse_scenario("15:start nginx1; 5:stop nginx1\n20:failover nginx2 VI_1")
    assert [(s.at, type(s.command).__name__) for s in steps] == [
        (5.0, "StopService"), (15.0, "StartService"), (20.0, "Failover")]
    with pytest.raises(ScenarioError, match="unknown verb 'explode'"):
        parse_scenario("5:explode nginx1")
    with pytest.raises(ScenarioError, match="is not a time"):
        parse_scenario("soon:stop nginx1")


def test_lab_definition_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"node\[0\]\.priority: must be 1..255"):
        parse_lab({"node": [{"name": "a", "address": "192.0.2.1", "priority": 300}],
                   "instance": [{"name": "VI_1", "virtual_router_id": 1,
                                 "virtual_ipaddress": ["192.0.2.9/24"]}]}, "x.toml")
    lab = load_lab(nodes=3)
    assert [n.priority for n in lab.nodes] == [100, 90, 80]
    config = lab.config_for(lab.nodes[0])
    assert "lab-pass" not in repr(config)


@pytest.mark.parametrize("fault", [cmd.KillNode, cmd.StopAgent, cmd.PartitionNode])
async def test_failover_hold_never_blocks_a_takeover(lab: Lab, fault: type[cmd.Command]) -> None:
    """`5:failover nginx1 VI_1; 8:kill|halt|partition nginx2`: nginx1 holds back for 60 s,
    but when nginx2 dies, stops or is cut off during the hold, nginx1 takes over."""
    ok, detail = await lab.execute(cmd.Failover("nginx1", "VI_1"))
    assert ok, detail
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=3)
    ok, detail = await lab.execute(fault("nginx2"))
    assert ok, detail
    # generous bound: Master_Down_Interval of nginx1 (3.61 s) plus a margin
    assert await lab.wait_for(lambda: "nginx1" in lab.masters("VI_1"), timeout=3.61 + 3)
    texts = [e.text for e in lab.events  # type: ignore[attr-defined]
             if isinstance(e, ev.LogLine) and e.node == "nginx1"]
    assert "(VI_1) Receive advertisement timeout" in texts
    assert lab.hosts["nginx1"].vips.held() == {"192.0.2.170"}
