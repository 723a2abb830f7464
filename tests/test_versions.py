"""Which keepalived (or haconsole agent) release runs on each node, everywhere it is shown.

Sources say it in `NodeSeen.version` (the SSH collector from `keepalived --version`, the
agent its own, the log history from "Starting Keepalived v2.4.3" lines); the view keeps
it per node; the nodes panel, `status` and the incident report show it.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from haconsole.agent.daemon import Agent, AgentOptions, version
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.themes import load_themes
from haconsole.console.widgets.panels import render_nodes
from haconsole.export.status import evaluate
from haconsole.keepalived.log.history import read_history
from haconsole.report import build_report, to_markdown, to_text

DATA = Path(__file__).parent / "data"
T0 = 1_800_000_000.0


def test_node_seen_carries_the_release_over_the_wire() -> None:
    seen = ev.NodeSeen(T0, "n1", address="192.0.2.11", agent="keepalived", version="2.4.3")
    assert ev.event_from_dict(json.loads(json.dumps(seen.to_dict()))) == seen
    assert ev.event_from_dict({"kind": "node_seen", "t": T0, "node": "n1"}).version == ""


def test_the_view_keeps_each_nodes_release() -> None:
    view = ClusterView()
    view.apply(ev.NodeSeen(T0, "n1", agent="keepalived", version="2.4.3"))
    view.apply(ev.NodeSeen(T0, "n2", agent="haconsole"))
    assert view.nodes["n1"].software == "keepalived 2.4.3"
    assert view.nodes["n2"].software == "haconsole"
    # a reconnect that does not say the release keeps it; another daemon forgets it
    view.apply(ev.NodeLost(T0 + 1, "n1", reason="connection lost"))
    view.apply(ev.NodeSeen(T0 + 2, "n1", agent="keepalived"))
    assert view.nodes["n1"].version == "2.4.3"
    view.apply(ev.NodeSeen(T0 + 3, "n1", agent="haconsole"))
    assert view.nodes["n1"].software == "haconsole"
    view.apply(ev.NodeSeen(T0 + 4, "n1", agent="keepalived", version="2.2.7"))
    assert view.nodes["n1"].software == "keepalived 2.2.7"


def nodes_panel(view: ClusterView, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_nodes(view, T0 + 1, load_themes()["dark"].palette, lambda _n: "white"))
    return console.export_text()


def test_the_nodes_panel_shows_the_release_once_a_source_said_one() -> None:
    view = ClusterView()
    view.apply_all([ev.NodeSeen(T0, "nginx1", agent="keepalived"),
                    ev.NodeSeen(T0, "nginx2", agent="haconsole")])
    assert "Version" not in nodes_panel(view)  # the lab and old sources: no column
    view.apply_all([ev.NodeSeen(T0, "nginx1", agent="keepalived", version="2.4.3"),
                    ev.NodeSeen(T0, "nginx2", agent="haconsole", version="0.1.0")])
    text = nodes_panel(view)
    assert "Version" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("nginx")}
    assert "keepalived 2.4.3" in lines["nginx1"] and "haconsole 0.1.0" in lines["nginx2"]
    assert "keepalived" in nodes_panel(view, width=60)  # still there on a narrow screen


def test_status_names_what_runs_on_each_node() -> None:
    view = ClusterView()
    view.apply_all([ev.NodeSeen(T0, "a", agent="keepalived", version="2.4.3"),
                    ev.NodeSeen(T0, "b", agent="keepalived", version="2.2.7"),
                    ev.InstanceState(T0, "a", instance="VI_1", vrid=51, state="MASTER",
                                     base_priority=100, effective_priority=100,
                                     address="192.0.2.11"),
                    ev.InstanceState(T0, "b", instance="VI_1", vrid=51, state="BACKUP",
                                     base_priority=90, effective_priority=90,
                                     address="192.0.2.12")])
    report = evaluate(view, T0 + 1)
    assert "nodes: a keepalived 2.4.3, b keepalived 2.2.7" in report.text().splitlines()
    assert json.loads(report.json())["nodes"] == {"a": "keepalived 2.4.3",
                                                  "b": "keepalived 2.2.7"}


def test_the_incident_report_names_each_nodes_release() -> None:
    history = read_history([DATA / "keepalived-2.4.3" / "incident-nginx1.log",
                            DATA / "keepalived-2.4.3" / "incident-nginx2.log"])
    report = build_report(history.events)
    assert report.software == {"incident-nginx1": "keepalived 2.4.3",
                               "incident-nginx2": "keepalived 2.4.3"}
    assert "incident-nginx1 (keepalived 2.4.3)" in to_text(report).splitlines()[1]
    assert "`incident-nginx2` (keepalived 2.4.3)" in to_markdown(report)


def test_the_log_history_takes_the_release_from_the_start_lines() -> None:
    old = read_history([DATA / "incident" / "keepalived-nginx1.log"]).events
    assert {e.version for e in old if isinstance(e, ev.NodeSeen)} == {"2.2.7"}
    new = read_history([DATA / "keepalived-2.4.3" / "incident-nginx1.log"]).events
    seen = [e for e in new if isinstance(e, ev.NodeSeen)]
    assert len(seen) == 2  # the start, and the VRRP child the parent respawned
    assert all((e.agent, e.version) == ("keepalived", "2.4.3") for e in seen)
    # a window that opens after the start still says who runs there
    since = seen[0].t + 5
    windowed = read_history([DATA / "keepalived-2.4.3" / "incident-nginx2.log"],
                            since=since).events
    first = windowed[0]
    assert isinstance(first, ev.NodeSeen) and first.version == "2.4.3" and first.t == since


def test_the_agent_says_its_own_release(tmp_path: Path) -> None:
    agent = Agent(AgentOptions(config_file=str(tmp_path / "keepalived.conf"),
                               control=str(tmp_path / "agent.sock")))
    seen = [e for e in agent.snapshot() if isinstance(e, ev.NodeSeen)]
    assert [(e.agent, e.version) for e in seen] == [("haconsole", version())]
    assert version() not in ("", "?")
