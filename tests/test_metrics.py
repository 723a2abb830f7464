"""Prometheus metrics (haconsole.export.metrics): keepalived-exporter's names on the view.

What an operator relies on: the families, types, help texts and labels of the
keepalived-exporter (so dashboards and alert rules carry over), MASTER for exactly one
node, the 14 keepalived counters as the engine counts them, a lost node exporting
`keepalived_up 0` and no stale MASTER, alarms as series, no secret anywhere, and an
exposition that prometheus_client's parser and `promtool check metrics` accept. The
agent's `--metrics` listener is exercised over real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest
from conftest import need_program
from prometheus_client.parser import text_string_to_metric_families

from haconsole.agent.daemon import Agent, AgentOptions
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.export.metrics import (
    COUNTERS,
    exposition,
    parse_listen,
    serve,
)
from haconsole.lab.definition import load_lab
from haconsole.lab.lab import InProcessLab
from haconsole.net.memory import MemorySegment, MemoryVips
from haconsole.vrrp.instance import STAT_NAMES

# The keepalived-exporter's families: name -> (type, help, labels) (its collector.go).
EXPORTER = {
    "keepalived_up": ("gauge", "Status", ()),
    "keepalived_vrrp_state": ("gauge", "State of vrrp", ("iname", "intf", "vrid",
                                                         "ip_address")),
    "keepalived_vrrp_excluded_state": ("gauge", "State of vrrp with excluded VIP",
                                       ("iname", "intf", "vrid", "ip_address")),
    "keepalived_script_status": ("gauge", "Tracker Script Status", ("name",)),
    "keepalived_script_state": ("gauge", "Tracker Script State", ("name",)),
    **{metric: ("counter", text, ("iname", "intf", "vrid"))
       for metric, text in COUNTERS.values()},
}


def families(body: bytes | str) -> dict[str, Any]:
    text = body.decode() if isinstance(body, bytes) else body
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(fams: dict[str, Any], name: str) -> list[Any]:
    family = fams.get(name.removesuffix("_total"), fams.get(name))
    return [] if family is None else list(family.samples)


async def lab_view(**wait: Any) -> tuple[ClusterView, InProcessLab]:
    """The in-process nginx pair, running, folded into a view until VI_1 has a master."""
    view = ClusterView()
    lab = InProcessLab(load_lab(), client_rate=0)
    await lab.start(view.apply)
    assert await lab.wait_for(lambda: view.master_of("VI_1") is not None, 10)
    return view, lab


async def test_exporter_families_names_types_help_and_labels():
    view, lab = await lab_view()
    try:
        # counters arrive once a second when they moved
        assert await lab.wait_for(lambda: all(i.stats.get("advert_sent", 0) + i.stats.get(
            "advert_rcvd", 0) > 0 for i in view.instances.values()), 5)
        body, content_type = exposition(lambda: view)
        master = view.master_of("VI_1")
    finally:
        await lab.stop()
    assert content_type.startswith("text/plain")
    fams = families(body)
    text = body.decode()
    for name, (kind, help_text, labels) in EXPORTER.items():
        family_name = name.removesuffix("_total") if kind == "counter" else name
        assert family_name in fams, f"{name} missing"
        family = fams[family_name]
        assert (family.type, family.documentation) == (kind, help_text), name
        assert f"# TYPE {name} {kind}" in text  # the exporter's TYPE line, _total and all
        for sample in family.samples:
            assert set(sample.labels) == {"node", *labels}, (name, sample.labels)
    states = {(s.labels["node"], s.labels["ip_address"]): s.value
              for s in samples(fams, "keepalived_vrrp_state")}
    assert sorted(states.values()) == [1.0, 2.0]  # one MASTER, one BACKUP
    assert states[(master, "192.0.2.170")] == 2.0
    sent = {s.labels["node"]: s.value
            for s in samples(fams, "keepalived_advertisements_sent_total")}
    assert sent[master] > 0
    assert {s.labels["name"] for s in samples(fams, "keepalived_script_status")} == \
        {"chk_nginx"}
    up = {s.labels["node"]: s.value for s in samples(fams, "keepalived_up")}
    assert up == {"nginx1": 1.0, "nginx2": 1.0}
    assert all(s.value == 1.0 for s in samples(fams, "haconsole_source_up"))
    assert samples(fams, "haconsole_alarm") == []


async def test_counters_are_the_engines_own():
    view, lab = await lab_view()
    try:
        node = lab.hosts["nginx1"].node
        assert node is not None
        node.publish_counters(force=True)
        view.apply_all([])
        inst = view.instances[("nginx1", "VI_1")]
        assert set(inst.stats) == set(STAT_NAMES) and len(STAT_NAMES) == 14
        assert inst.stats == node.instances["VI_1"].stats
        fams = families(exposition(lambda: view)[0])
    finally:
        await lab.stop()
    for name, (metric, _help) in COUNTERS.items():
        value = {s.labels["node"]: s.value for s in samples(fams, metric)}["nginx1"]
        assert value == inst.stats[name], metric


async def test_extras_priorities_transitions_master_address_and_checks():
    view, lab = await lab_view()
    try:
        master = view.master_of("VI_1")
        assert master is not None
        backup = "nginx2" if master == "nginx1" else "nginx1"
        assert await lab.wait_for(
            lambda: view.instances[(backup, "VI_1")].master_address != "", 5)
        fams = families(exposition(lambda: view)[0])
        became = view.instances[(master, "VI_1")].last_transition
        assert became is not None
    finally:
        await lab.stop()

    def by_node(metric: str, **labels: str) -> dict[str, float]:
        return {s.labels["node"]: s.value for s in samples(fams, metric)
                if all(s.labels.get(k) == v for k, v in labels.items())}

    assert by_node("haconsole_vrrp_base_priority") == {"nginx1": 100.0, "nginx2": 90.0}
    assert by_node("haconsole_vrrp_effective_priority") == {"nginx1": 100.0, "nginx2": 90.0}
    assert by_node("haconsole_vrrp_transitions_total", state="MASTER")[master] >= 1
    assert set(s.labels["state"] for s in samples(fams, "haconsole_vrrp_transitions_total")) \
        == {"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}
    last = by_node("haconsole_vrrp_last_transition_timestamp_seconds")
    assert last[master] == became.t
    info = {s.labels["node"]: s.labels["master_address"]
            for s in samples(fams, "haconsole_vrrp_master_info")}
    assert info[backup] == ("192.0.2.11" if master == "nginx1" else "192.0.2.12")
    assert by_node("haconsole_track_up", name="chk_nginx") == {"nginx1": 1.0, "nginx2": 1.0}
    assert by_node("haconsole_service_up", name="nginx") == {"nginx1": 1.0, "nginx2": 1.0}


def test_lost_node_exports_up_0_and_no_stale_master():
    view = ClusterView()
    view.apply_all([
        ev.NodeSeen(1.0, "a"),
        ev.InstanceState(1.0, "a", instance="VI_1", vrid=51, state="MASTER",
                         base_priority=100, effective_priority=100, interface="eth0",
                         vips=("192.0.2.170",), address="192.0.2.11"),
        ev.NodeLost(2.0, "a", reason="crashed"),
    ])
    fams = families(exposition(lambda: view, clock=lambda: 3.0)[0])
    assert [(s.labels, s.value) for s in samples(fams, "keepalived_up")] == \
        [({"node": "a"}, 0.0)]
    assert samples(fams, "keepalived_vrrp_state") == []
    kinds = {s.labels["kind"] for s in samples(fams, "haconsole_alarm")}
    assert {"node-lost", "no-master"} <= kinds


def test_split_brain_is_an_alarm_series_and_labels_do_not_carry_state():
    view = ClusterView()
    for node, address in (("a", "192.0.2.11"), ("b", "192.0.2.12")):
        view.apply(ev.InstanceState(1.0, node, instance="VI_1", vrid=51, state="MASTER",
                                    base_priority=100, effective_priority=100,
                                    interface="eth0", vips=("192.0.2.170",),
                                    address=address))
        view.apply(ev.VipAdded(1.0, node, instance="VI_1", vip="192.0.2.170"))
    body = exposition(lambda: view, clock=lambda: 2.0)[0]
    fams = families(body)
    alarms = {(s.labels["kind"], s.labels["instance"], s.labels["node"])
              for s in samples(fams, "haconsole_alarm")}
    assert ("split-brain", "VI_1", "") in alarms
    for family in fams.values():
        for sample in family.samples:
            values = {v for k, v in sample.labels.items() if k != "state"}
            assert not values & {"MASTER", "BACKUP", "FAULT", "INIT"}, sample


def test_single_node_labels_are_the_exporters_exactly():
    view = ClusterView()
    view.apply(ev.InstanceState(1.0, "a", instance="VI_1", vrid=51, state="BACKUP",
                                interface="eth0", vips=("192.0.2.170", "192.0.2.171")))
    fams = families(exposition(lambda: view, one_node=True, clock=lambda: 2.0)[0])
    assert [s.labels for s in samples(fams, "keepalived_vrrp_state")] == [
        {"iname": "VI_1", "intf": "eth0", "vrid": "51", "ip_address": "192.0.2.170"},
        {"iname": "VI_1", "intf": "eth0", "vrid": "51", "ip_address": "192.0.2.171"},
    ]
    assert [s.labels for s in samples(fams, "keepalived_up")] == [{}]


async def test_promtool_check_metrics_finds_no_problem():
    need_program("promtool")
    view, lab = await lab_view()
    try:
        body = exposition(lambda: view)[0]
    finally:
        await lab.stop()
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    ran = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                         timeout=30)
    assert ran.returncode == 0 and not ran.stdout.strip() and not ran.stderr.strip(), \
        ran.stdout + ran.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("9165", ("", 9165)), (":9165", ("", 9165)), ("127.0.0.1:9100", ("127.0.0.1", 9100)),
    ("[::1]:9165", ("::1", 9165)), ("localhost:80", ("localhost", 80)),
])
def test_parse_listen(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", "x", "0", "70000", "1.2.3.4:", "::1:9165", "a:b"])
def test_parse_listen_refuses_with_one_line(text):
    with pytest.raises(ValueError) as info:
        parse_listen(text)
    assert "\n" not in str(info.value)


def test_agent_metrics_flag_error_is_one_line():
    ran = subprocess.run([sys.executable, "-m", "haconsole", "agent", "--metrics", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2
    assert "--metrics: expected [ADDR:]PORT" in ran.stderr
    assert "Traceback" not in ran.stderr


# ----------------------------------------------------------------------------- over HTTP
def get(url: str, accept: str = "") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


CONF = """
global_defs {
    router_id node-a
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass "s3cret"
    }
    virtual_ipaddress {
        192.0.2.170/24
    }
}
"""


async def test_agent_serves_its_node_with_the_exporters_labels(tmp_path):
    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    segment = MemorySegment()
    options = AgentOptions(config_file=str(path), control=str(tmp_path / "agent.sock"),
                           check_permissions=False, track_primary=False,
                           metrics=("127.0.0.1", 0))
    servers: list[Any] = []

    async def serve_metrics(provider: Any, addr: str, port: int) -> Any:
        server = await serve(provider, addr, port, one_node=True)
        servers.append(server)
        return server

    agent = Agent(options, vips=MemoryVips(), serve_metrics=serve_metrics,
                  transport_for=lambda iface, fam: segment.attach("a", iface, "192.0.2.11"))
    ready = asyncio.Event()
    task = asyncio.get_running_loop().create_task(agent.run(on_ready=ready.set))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        url = f"http://127.0.0.1:{servers[0].port}"
        assert agent.node is not None and not agent.node.counter_events  # nobody subscribed

        def master() -> bool:
            assert agent.node is not None
            return agent.node.instances["VI_1"].state == "MASTER"

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not master():
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)  # at least one advert sent as MASTER
        status, content_type, body = await asyncio.to_thread(get, url + "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        assert b"s3cret" not in body
        fams = families(body)
        assert [(s.labels, s.value) for s in samples(fams, "keepalived_vrrp_state")] == [
            ({"iname": "VI_1", "intf": "eth0", "vrid": "51", "ip_address": "192.0.2.170"},
             2.0)]
        assert [(s.labels, s.value) for s in samples(fams, "keepalived_up")] == [({}, 1.0)]
        sent = samples(fams, "keepalived_advertisements_sent_total")
        assert sent[0].value == agent.node.instances["VI_1"].stats["advert_sent"] >= 1
        become = samples(fams, "keepalived_become_master_total")
        assert [s.value for s in become] == [1.0]
        assert samples(fams, "haconsole_alarm") == []  # its own facts are never stale

        status, content_type, body = await asyncio.to_thread(
            get, url + "/metrics", "application/openmetrics-text;version=1.0.0")
        assert content_type.startswith("application/openmetrics-text")
        assert body.rstrip().endswith(b"# EOF")
        assert (await asyncio.to_thread(get, url + "/nope"))[0] == 404
    finally:
        agent.request_stop()
        assert await asyncio.wait_for(task, 10) == 0
    with pytest.raises(OSError):  # the listener is closed with the agent
        await asyncio.to_thread(get, url + "/metrics")


# ----------------------------------------------------------------- reading Prometheus back
def test_prometheus_source_selectors_node_names_and_read_only():
    from haconsole.cluster import commands as cmd
    from haconsole.sources.prometheus import PrometheusSource, node_name, selector

    assert selector('{job="keepalived"}') == selector('job="keepalived"') == 'job="keepalived"'
    assert node_name({"node": "edge1", "instance": "10.9.9.9:9165"}) == "edge1"
    assert node_name({"instance": "192.0.2.11:9165"}) == "192.0.2.11"
    assert node_name({"instance": "[2001:db8::1]:9165"}) == "2001:db8::1"
    source = PrometheusSource("http://127.0.0.1:1", 'job="k"')
    assert source._queries()["state"] == 'keepalived_vrrp_state{job="k"}'
    assert not any(source.supports(kind) for kind in (cmd.Failover, cmd.StopService,
                                                      cmd.RestartAgent))


async def test_prometheus_source_folds_a_fleet_and_says_when_prometheus_is_gone():
    """Two polls of canned answers: state, VIP owner, priorities, a transition; then an
    unreachable server is a SourceHealth, not a traceback."""
    from haconsole.sources.prometheus import PrometheusSource

    def answer(states: dict[str, int]) -> dict[str, list[Any]]:
        base = {"iname": "VI_1", "intf": "eth0", "vrid": "51", "job": "k"}
        r: dict[str, list[Any]] = {k: [] for k in PrometheusSource("x")._queries()}
        for node, code in states.items():
            r["state"].append(({**base, "node": node, "ip_address": "192.0.2.170"}, code))
            r["up"].append(({"node": node, "job": "k"}, 1.0))
            r["base"].append(({**base, "node": node}, 100.0 if node == "a" else 90.0))
            r["sent"].append(({**base, "node": node}, 1.0 if code == 2 else 0.0))
        return r

    view = ClusterView()
    source = PrometheusSource("http://127.0.0.1:1", timeout=1)
    source._publish = view.apply
    source._apply(answer({"a": 2, "b": 1}), 100.0)
    source._apply(answer({"a": 2, "b": 1}), 101.0)
    assert view.master_of("VI_1") == "a" and view.vips["192.0.2.170"].owner == "a"
    assert view.instances[("b", "VI_1")].base_priority == 90
    source._apply(answer({"a": 1, "b": 2}), 102.0)
    assert view.master_of("VI_1") == "b" and view.vips["192.0.2.170"].owner == "b"
    assert [(r.node, r.old, r.new) for r in view.transitions] == [
        ("a", "MASTER", "BACKUP"), ("b", "BACKUP", "MASTER")]
    assert view.alarms(102.5) == []
    gone = answer({"b": 2})
    source._apply(gone, 103.0)
    assert not view.nodes["a"].up and view.nodes["a"].lost_reason == "no longer in Prometheus"
    await source.poll()  # nothing listens on port 1
    assert not view.nodes["b"].health_ok
    assert "cannot reach http://127.0.0.1:1" in view.nodes["b"].health_detail


async def test_agent_refuses_a_busy_metrics_port_in_one_line(tmp_path):
    import socket

    from haconsole.agent.daemon import AgentError

    path = tmp_path / "keepalived.conf"
    path.write_text(CONF)
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    segment = MemorySegment()
    agent = Agent(AgentOptions(config_file=str(path), control=str(tmp_path / "agent.sock"),
                               check_permissions=False, track_primary=False,
                               metrics=("127.0.0.1", port)),
                  vips=MemoryVips(), serve_metrics=lambda v, a, p: serve(v, a, p, one_node=True),
                  transport_for=lambda iface, fam: segment.attach("a", iface, "192.0.2.11"))
    try:
        with pytest.raises(AgentError) as info:
            await asyncio.wait_for(agent.run(), 10)
    finally:
        busy.close()
    assert str(info.value).startswith(f"cannot serve metrics on 127.0.0.1:{port}: ")
    assert "\n" not in str(info.value) and info.value.code == 3
    assert agent.node is None  # the node it had started was stopped again
