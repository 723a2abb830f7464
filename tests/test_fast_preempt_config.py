"""Where fast preemption is set and how it is explained: `haconsole check` (the what-if
assumes it on the nodes named, a keepalived.conf keyword is explained away, what it cannot
change is said) and the lab's `fast_preempt` key (per node or lab-wide, down to the engine
Node and the scripted Simulation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haconsole.cli import main
from haconsole.cluster import events as ev
from haconsole.config import ConfigError
from haconsole.keepalived.check import check_files, what_if_table
from haconsole.keepalived.conf import parse_file
from haconsole.lab.definition import load_lab, parse_lab_text, resize
from haconsole.lab.lab import InProcessLab
from haconsole.lab.scenario import parse_scenario
from haconsole.lab.scripted import ScriptedRun

MDI_90 = 3 + (256 - 90) / 256

NODE = """global_defs {{
    router_id {name}
}}
vrrp_script chk_nginx {{
    script "/usr/bin/true"
    interval 1
    weight -20
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
{extra}    virtual_ipaddress {{
        192.0.2.170/24
    }}
    track_script {{
        chk_nginx
    }}
}}
"""


def pair(tmp_path: Path, extra: str = "") -> list[str]:
    paths = []
    for name, state, priority in (("node1", "MASTER", 100), ("node2", "BACKUP", 90)):
        path = tmp_path / f"{name}.conf"
        path.write_text(NODE.format(name=name, state=state, priority=priority,
                                    extra=extra if name == "node2" else ""))
        paths.append(str(path))
    return paths


def moves(paths: list[str], fast: list[str]) -> dict[tuple[str, str], tuple[str, float | None]]:
    configs = [(Path(p).name, parse_file(p).config) for p in paths]
    return {(r.node, r.event): (r.master_after, r.vip_moves_after)
            for r in what_if_table(configs, fast_preempt=fast)}


# ---------------------------------------------------------------------------- check
def test_what_if_with_a_fast_backup_moves_the_vip_on_the_lower_advert(tmp_path: Path) -> None:
    paths = pair(tmp_path)
    rfc = moves(paths, [])[("node1.conf", "check chk_nginx fails")]
    fast = moves(paths, ["node2.conf"])[("node1.conf", "check chk_nginx fails")]
    assert rfc == ("node2.conf", pytest.approx(MDI_90, abs=1e-3))
    assert fast[0] == "node2.conf" and fast[1] is not None and fast[1] < 0.01
    # Fast preemption changes nothing when the master dies or stops: no lower advert.
    for event, seconds in (("node dies", MDI_90), ("node stops cleanly", MDI_90 - 3)):
        assert moves(paths, ["node2.conf"])[("node1.conf", event)] == \
            ("node2.conf", pytest.approx(seconds, abs=1e-3))
    # Only a backup's flag matters: the master's own changes nothing.
    assert moves(paths, ["node1.conf"])[("node1.conf", "check chk_nginx fails")] == rfc


def test_what_if_with_preempt_delay_still_waits_for_it(tmp_path: Path) -> None:
    paths = pair(tmp_path, extra="    preempt_delay 2\n")
    after, moved = moves(paths, ["node2.conf"])[("node1.conf", "check chk_nginx fails")]
    assert after == "node2.conf" and moved is not None and 2.0 <= moved < MDI_90


def test_check_names_the_fast_nodes_and_explains(tmp_path: Path, capsys) -> None:
    paths = pair(tmp_path)
    assert main(["check", "--fast-preempt-on", "node2.conf", *paths]) == 0  # implies what-if
    out = capsys.readouterr().out
    assert "fast preemption (haconsole agent --fast-preempt) on node2.conf)" in out
    row = next(line for line in out.splitlines() if "check chk_nginx fails" in line
               and line.split()[1] == "node1.conf")
    assert "0.000 s" in row and "if this master is keepalived" in row

    assert main(["check", "--json", "--fast-preempt", *paths]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fast_preempt"] == ["node1.conf", "node2.conf"] and doc["what_if"]

    assert main(["check", "--fast-preempt-on", "node3.conf", *paths]) == 2
    assert "node3.conf: not one of the files checked" in capsys.readouterr().err


def test_check_says_what_fast_preemption_cannot_change(tmp_path: Path) -> None:
    nopreempt = pair(tmp_path, extra="    nopreempt\n")
    notes = [f.message for f in check_files(nopreempt, fast_preempt=nopreempt[1:]).findings
             if f.severity == "info"]
    assert any("nopreempt: fast preemption (--fast-preempt) never applies" in m for m in notes)
    delayed = pair(tmp_path, extra="    preempt_delay 5\n")
    notes = [f.message for f in check_files(delayed, fast_preempt=delayed[1:]).findings
             if f.severity == "info"]
    assert any("preempt_delay 5 s: with --fast-preempt the takeover still waits" in m
               for m in notes)
    assert not [f for f in check_files(delayed).findings if "fast-preempt" in f.message]


@pytest.mark.parametrize("word", ["fast_preempt", "fast-preempt", "fast_preemption"])
def test_a_keyword_in_keepalived_conf_is_explained(tmp_path: Path, word: str) -> None:
    path = pair(tmp_path, extra=f"    {word}\n")[1]
    (finding,) = [f for f in check_files([path]).findings if word in f.message]
    assert finding.message == f"Unknown keyword '{word}'"  # keepalived's own verdict
    assert "haconsole agent --fast-preempt" in finding.note
    assert "keepalived refuses unknown keywords" in finding.note


# ---------------------------------------------------------------------------- lab
LAB = """
{top}
[[node]]
name = "nginx1"
address = "192.0.2.11"
priority = 100
[[node]]
name = "nginx2"
address = "192.0.2.12"
priority = 90
{node2}
[[instance]]
name = "VI_1"
virtual_router_id = 100
virtual_ipaddress = ["192.0.2.170/24"]
track_script = ["chk_nginx"]
[vrrp_script.chk_nginx]
weight = -20
"""


def test_lab_key_per_node_and_lab_wide() -> None:
    assert [n.fast_preempt for n in load_lab().nodes] == [False, False]
    lab = parse_lab_text(LAB.format(top="fast_preempt = true", node2=""))
    assert lab.fast_preempt and [n.fast_preempt for n in lab.nodes] == [True, True]
    assert resize(lab, 3).nodes[2].fast_preempt  # new nodes take the lab-wide value
    lab = parse_lab_text(LAB.format(top="fast_preempt = true", node2="fast_preempt = false"))
    assert [n.fast_preempt for n in lab.nodes] == [True, False]
    lab = parse_lab_text(LAB.format(top="", node2="fast_preempt = true"))
    assert [n.fast_preempt for n in lab.nodes] == [False, True]
    with pytest.raises(ConfigError, match=r"node\[1\]\.fast_preempt: must be true or false, "
                                          r"got \"yes\""):
        parse_lab_text(LAB.format(top="", node2='fast_preempt = "yes"'))


def takeover(fast: bool) -> tuple[float, float, str]:
    """A scripted run: nginx stops on nginx1 at 10 s; (when nginx1 advertised 80, when
    nginx2 became master, the transition's reason)."""
    lab = parse_lab_text(LAB.format(top="", node2=f"fast_preempt = {str(fast).lower()}"))
    run = ScriptedRun(lab, client_rate=0)
    events = run.run(parse_scenario("10:stop nginx1", lab), 20.0)
    lowered = next(e.t for e in events if isinstance(e, ev.PriorityChange)
                   and e.node == "nginx1" and e.new == 80)
    master = next(e for e in events if isinstance(e, ev.Transition) and e.node == "nginx2"
                  and e.new == "MASTER")
    return lowered, master.t, master.reason


def test_scripted_run_passes_it_to_the_simulation() -> None:
    lowered, took_over, reason = takeover(fast=True)
    assert took_over - lowered < 0.001 and reason.startswith("fast preemption: master")
    lowered, took_over, reason = takeover(fast=False)
    assert took_over - lowered > 2.0 and reason == "advert timeout"


async def test_in_process_lab_passes_it_to_the_engine_node() -> None:
    lab = InProcessLab(parse_lab_text(LAB.format(top="", node2="fast_preempt = true")))
    await lab.start(lambda e: None)
    try:
        assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)
        nodes = {name: host.node for name, host in lab.hosts.items()}
        assert nodes["nginx2"] is not None and nodes["nginx2"].fast_preempt
        assert nodes["nginx1"] is not None and not nodes["nginx1"].fast_preempt
        assert all(i.fast_preempt for i in nodes["nginx2"].instances.values())
    finally:
        await lab.stop()
