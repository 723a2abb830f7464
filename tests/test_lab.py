"""The in-process lab in real time: election, failover on nginx death, commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import ConfigError
from haconsole.lab.definition import DEFAULT_LAB, load_lab, parse_lab, parse_lab_text, resize
from haconsole.lab.lab import InProcessLab
from haconsole.lab.scenario import ScenarioError, parse_scenario

MDI_90 = 3.648437
CHECK_INTERVAL = 1.0


@pytest.fixture
async def lab():
    events: list[ev.Event] = []
    lab = InProcessLab(load_lab())
    await lab.start(events.append)
    lab.events = events  # type: ignore[attr-defined]
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)
    yield lab
    await lab.stop()


async def test_lab_elects_nginx1_and_fails_over_when_nginx_stops(lab: InProcessLab) -> None:
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


async def test_lab_failover_command_moves_vip_within_skew_time(lab: InProcessLab) -> None:
    ok, detail = await lab.execute(cmd.Failover("nginx1", "VI_1"))
    assert ok, detail
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=3)
    ok, detail = await lab.execute(cmd.Failover("nginx1", "VI_1"))
    assert not ok and "not MASTER" in detail


async def test_lab_halt_sends_priority_zero_and_boot_restarts(lab: InProcessLab) -> None:
    ok, detail = await lab.execute(cmd.StopAgent("nginx1"))
    assert ok and "priority 0" in detail
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=3)
    texts = [e.text for e in lab.events if isinstance(e, ev.LogLine)]  # type: ignore[attr-defined]
    assert "(VI_1) sent 0 priority" in texts
    assert "(VI_1) Backup received priority 0 advertisement" in texts
    ok, _ = await lab.execute(cmd.StartNode("nginx1"))
    assert ok
    assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)


async def test_lab_kill_partition_and_errors(lab: InProcessLab) -> None:
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
async def test_failover_hold_never_blocks_a_takeover(lab: InProcessLab,
                                                    fault: type[cmd.Command]) -> None:
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


# ----------------------------------------------------------------------------- bad input
DEFAULT_TEXT = DEFAULT_LAB.read_text()


def _line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def _refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_lab_text(text, "lab.toml")
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize(("old", "new", "words"), [
    ("advert_int = 1 ", 'advert_int = "fast" ', 'advert_int: must be a number 1..255 seconds, '
                                                 'got "fast"'),
    ("weight = -20 ", 'weight = "x" ', 'weight: must be -253..253 (an integer), got "x"'),
    ("priority = 90", 'priority = 90\npriorities = { VI_1 = "high" }',
     'node[1].priorities.VI_1: must be 1..255 (an integer), got "high"'),
    ("advert_int = 1 ", "version = 7 ", "instance[0].version: must be 2..3"),
    ("priority = 90", 'state = "SLAVE"', 'node[1].state: must be one of "MASTER", "BACKUP", '
                                         'got "SLAVE"'),
    ("priority = 90", "priority = true", "node[1].priority: must be 1..255 (an integer), "
                                         "got true"),
    ('address = "192.0.2.12"', 'address = "192.0.2.11"', "192.0.2.11 is also nginx1's"),
    ("priority = 90", "priorty = 90", "node[1].priorty: unknown key (known: name, address, "
                                      "priority, priorities, state, fast_preempt)"),
    ("priority = 90", "priority = = 90", "TOML syntax error"),
    ("priority = 90", "priority = " + "9" * 5000, "an integer with more than"),
    ("interval = 1 ", "interval = " + "9" * 400 + " ", "interval: must be a number"),
    ("advert_int = 1 ", "advert_int = nan ", "advert_int: must be a number 1..255 seconds, "
                                             "got nan"),
    ("advert_int = 1 ", "preempt_delay = inf ", "preempt_delay: must be a number"),
    ("priority = 90", "priorities = 3", "node[1].priorities: must be a table"),
    ('track_script = ["chk_nginx"]', 'track_script = "chk_nginx"',
     "track_script: must be an array of strings"),
    ('track_script = ["chk_nginx"]', 'track_script = ["chk_apache"]',
     "no [vrrp_script.chk_apache] (defined: chk_nginx)"),
    ('auth_type = "PASS"', 'auth_type = "MD5"', 'auth_type: must be one of "PASS", "AH"'),
    ('service = "nginx"', 'service = ["nginx"]', "service: must be a process name"),
    ('service = "nginx"', 'service = "nginx; reboot"', "service: must be a process name"),
    ('name = "nginx2"', 'name = "nginx1"', "'nginx1' is defined twice"),
    ("priority = 90", "priorities = { VI_9 = 50 }", "node[1].priorities.VI_9: no such "
                                                    "[[instance]] (instances: VI_1)"),
    ('virtual_ipaddress = ["192.0.2.170/24"]', 'virtual_ipaddress = ["2001:db8::170/64"]',
     "IPv6 VIPs need VRRPv3"),
    ("advert_int = 1 ", "advert_int = 1.5 ", "VRRPv2 advertises whole seconds"),
])
def test_lab_file_mistakes_are_one_line_at_their_line(old: str, new: str, words: str) -> None:
    assert old in DEFAULT_TEXT, old
    text = DEFAULT_TEXT.replace(old, new, 1)
    err = _refused(text)
    assert words in err.message, err.message
    changed = next(i for i, (a, b) in enumerate(zip(DEFAULT_TEXT.splitlines(),
                                                    text.splitlines(), strict=False), 1)
                   if a != b)
    assert err.line == changed, str(err)


def test_lab_file_shapes_and_secrets() -> None:
    instance = DEFAULT_TEXT[DEFAULT_TEXT.index("\n[[instance]]\n") + 1:]
    err = _refused("node = [1]\n" + instance)
    assert err.line == 1 and "node[0]: must be a table ([[node]]), got 1" in err.message
    err = _refused(DEFAULT_TEXT + "\n[vrrp_script.c]\nweight = \"x\"\n")
    assert err.message.startswith("vrrp_script.c.weight: must be")
    assert err.line == len(DEFAULT_TEXT.splitlines()) + 3
    err = _refused(DEFAULT_TEXT.replace('"lab-pass"', '"much-too-long-pass"'))
    assert "1..8 bytes" in err.message and "much-too" not in str(err)
    err = _refused(DEFAULT_TEXT.replace('"lab-pass"', "12345678"))
    assert err.message.endswith("must be a string, got a number") and "1234" not in str(err)
    err = _refused("a = " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested too deeply" in err.message
    err = _refused(DEFAULT_TEXT.replace('name = "VI_1"', 'name = "\\n\\u2028"'))
    assert err.message.endswith('got "\\u000a\\u2028"')  # still one line
    err = _refused(DEFAULT_TEXT + '"a\\nb" = 1\n')
    assert err.message.startswith('vrrp_script.chk_nginx."a\\u000ab": unknown key')
    v6 = DEFAULT_TEXT.replace('"192.0.2.170/24"', '"2001:db8::170/64"').replace(
        "advert_int = 1 ", "version = 3 ").replace('auth_type = "PASS"', "").replace(
        'auth_pass = "lab-pass"', "")
    err = _refused(v6)
    assert "IPv6 VIPs need IPv6 node addresses (the nodes have IPv4)" in err.message
    assert err.line == _line_of(v6, "virtual_ipaddress = ")


def test_lab_file_that_is_not_text(tmp_path) -> None:
    path = tmp_path / "lab.toml"
    path.write_bytes(b'name = "x"\n\x89PNG\r\n\x1a\n\x00\xff')
    with pytest.raises(ConfigError) as info:
        load_lab(path)
    assert (info.value.line, "not a text file") == (2, info.value.message[:15])


def test_lab_keys_are_typed_and_documented() -> None:
    from haconsole.lab.definition import INSTANCE_KEYS, NODE_KEYS, SCRIPT_KEYS, TOP_KEYS

    lab = load_lab()
    inst = lab.instances[0]
    assert (inst.advert_int, inst.version, inst.auth_type) == (1.0, 2, "PASS")
    assert [str(v) for v in inst.virtual_ipaddress] == ["192.0.2.170/24"]
    assert lab.checks["chk_nginx"].weight == -20 and lab.nodes[1].state == "BACKUP"
    for key in (*TOP_KEYS, *NODE_KEYS, *INSTANCE_KEYS, *SCRIPT_KEYS):
        assert re.search(rf"^#? ?{key} = ", DEFAULT_TEXT, re.M) or key in ("node", "instance",
                                                                           "vrrp_script"), key
    top = Path(__file__).resolve().parent.parent
    assert (top / "configs" / "lab.toml").resolve() == DEFAULT_LAB.resolve()


def test_resize_never_reuses_a_name_or_address() -> None:
    text = DEFAULT_TEXT.replace('name = "nginx2"', 'name = "nginx3"').replace(
        '"192.0.2.12"', '"192.0.2.13"')
    lab = resize(parse_lab_text(text), 4)
    assert [n.name for n in lab.nodes] == ["nginx1", "nginx3", "nginx2", "nginx4"]
    assert len({n.address for n in lab.nodes}) == 4


def test_scenario_is_checked_against_the_lab() -> None:
    lab = load_lab()
    with pytest.raises(ScenarioError, match=r"no node 'nginx9' in the lab \(nodes: nginx1"):
        parse_scenario("5:stop nginx9", lab)
    with pytest.raises(ScenarioError, match=r"no instance 'VI_9' in the lab"):
        parse_scenario("5:failover nginx1 VI_9", lab)
    for when in ("nan", "inf", "-inf", "1e400", "-1"):
        with pytest.raises(ScenarioError, match="the time must be 0"):
            parse_scenario(f"{when}:stop nginx1", lab)
    with pytest.raises(ScenarioError, match="'stop' takes NODE"):
        parse_scenario("5:stop nginx1 nginx2")
    (step,) = parse_scenario("5:failover nginx2", lab)
    assert step.command == cmd.Failover("nginx2", "VI_1")
    assert step.command.describe() == "fail over VI_1 away from nginx2"


async def test_halt_says_priority_zero_only_for_a_master(lab: InProcessLab) -> None:
    ok, detail = await lab.execute(cmd.StopAgent("nginx2"))
    assert ok and "priority 0" in detail and "no priority 0 sent" in detail, detail
    ok, detail = await lab.execute(cmd.StopAgent("nginx1"))
    assert ok and detail.endswith("(priority 0 sent for VI_1)"), detail
