"""A real Prometheus scrapes haconsole agents in namespaces; the console reads it back.

Where Prometheus runs: in the lab's client namespace, the lab's monitoring host. From
there it reaches every agent's `--metrics 9165` on the bridge (192.0.2.11:9165, ...) as
a real Prometheus reaches a fleet, and nothing is added outside our namespaces. Its API
listens on the client namespace's loopback; the test (in the host namespace, with no
route to the lab) reaches it through a loopback relay whose upstream sockets are opened
inside that namespace (`setns` in a short-lived thread). The same relay fetches an
agent's /metrics for `promtool check metrics`.

Checks: `keepalived_vrrp_state` says MASTER (2) for exactly one node and, after nginx
dies on the master, for the other one; `haconsole connect --prometheus` (the
PrometheusSource in the console, Textual Pilot) shows the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import need_program

from haconsole.cluster import commands as cmd
from haconsole.console.app import HAConsoleApp
from haconsole.netns.lab import pair_configs, wait_for
from haconsole.netns.topology import spawn, stop_process
from haconsole.sources.prometheus import PrometheusSource

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(180)]

METRICS_PORT = 9165
PROM_PORT = 9090
CLONE_NEWNET = 0x40000000


def socket_in_netns(ns: str, address: tuple[str, int]) -> socket.socket:
    """A TCP connection to `address` made from inside namespace `ns`: setns changes the
    calling thread only, so a throwaway thread enters `ns` and connects; the socket keeps
    its namespace wherever it is used afterwards."""
    out: list[Any] = []

    def enter_and_connect() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            finally:
                os.close(fd)
            out.append(socket.create_connection(address, timeout=10))
        except OSError as err:
            out.append(err)

    thread = threading.Thread(target=enter_and_connect)
    thread.start()
    thread.join()
    if isinstance(out[0], OSError):
        raise out[0]
    return out[0]  # type: ignore[no-any-return]


class Relay:
    """127.0.0.1:<port> in the host namespace -> `address` inside namespace `ns`."""

    def __init__(self, ns: str, address: tuple[str, int]) -> None:
        self.ns, self.address = ns, address
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe_pair, args=(client,), daemon=True).start()

    def _pipe_pair(self, client: socket.socket) -> None:
        try:
            upstream = socket_in_netns(self.ns, self.address)
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.closed = True
        self.server.close()


PROMETHEUS_YML = """\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: haconsole
    static_configs:
{targets}
"""


@pytest.fixture
def prometheus_lab(make_lab: Any, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The agent pair with --metrics, Prometheus in the client namespace scraping them,
    and the URL of its API as seen from here."""
    need_program("prometheus")
    lab = make_lab(pair_configs(), agent_args=["--metrics", str(METRICS_PORT)])
    targets = "\n".join(
        f"      - targets: ['{lab.ipv4(name)}:{METRICS_PORT}']\n"
        f"        labels: {{node: {name}}}" for name in lab.nodes)
    config = tmp_path / "prometheus.yml"
    config.write_text(PROMETHEUS_YML.format(targets=targets))
    checked = subprocess.run([shutil.which("promtool") or "promtool", "check", "config",
                              str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    client = lab.topology.ns("client")
    proc = spawn(client, [shutil.which("prometheus") or "prometheus",
                          f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{PROM_PORT}", "--log.level=warn"],
                 log=tmp_path / "prometheus.log")
    relay = Relay(client, ("127.0.0.1", PROM_PORT))
    url = f"http://127.0.0.1:{relay.port}"
    try:
        wait_for(lambda: _ready(url), 30, what="prometheus ready")
        yield lab, url
    finally:
        relay.close()
        stop_process(proc)
        print((tmp_path / "prometheus.log").read_text(errors="replace")[-3000:])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def query(url: str, promql: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}), timeout=5) as reply:
        doc = json.loads(reply.read())
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def masters(url: str) -> dict[str, float]:
    """node -> keepalived_vrrp_state of VI_1, as Prometheus has it now."""
    return {r["metric"]["node"]: float(r["value"][1])
            for r in query(url, 'keepalived_vrrp_state{iname="VI_1"}')}


async def test_prometheus_sees_one_master_then_the_failover(prometheus_lab):
    lab, url = prometheus_lab
    wait_for(lambda: masters(url) == {"nginx1": 2.0, "nginx2": 1.0}, 30,
             what="Prometheus: nginx1 MASTER, nginx2 BACKUP")
    series = query(url, "keepalived_vrrp_state")
    assert len(series) == 2 and sum(float(s["value"][1]) == 2 for s in series) == 1
    assert {k for k in series[0]["metric"]} >= {"iname", "intf", "vrid", "ip_address",
                                                 "node", "instance", "job"}
    assert query(url, 'keepalived_advertisements_sent_total{node="nginx1"} > 0')

    source = PrometheusSource(url, 'job="haconsole"', interval=1.0)
    app = HAConsoleApp([source], cluster="prometheus", readonly=True)
    async with app.run_test(size=(160, 48)) as pilot:
        async def console_master(node: str, timeout: float) -> None:
            end = time.monotonic() + timeout
            while app.view.master_of("VI_1") != node or len(app.view.masters(
                    app.view.instances[(node, "VI_1")].group)) != 1:
                assert time.monotonic() < end, f"console: {node} not the one MASTER"
                await pilot.pause(0.2)

        await console_master("nginx1", 20)
        assert app.view.vips["192.0.2.170"].owner == "nginx1"
        assert not source.supports(cmd.Failover) and app.hidden_actions()  # read-only

        lab.kill_nginx("nginx1")  # the agent's priority drops; nginx2 takes over
        wait_for(lambda: masters(url) == {"nginx1": 1.0, "nginx2": 2.0}, 30,
                 what="Prometheus: nginx2 MASTER after the failover")
        await console_master("nginx2", 20)
        assert app.view.vips["192.0.2.170"].owner == "nginx2"
        backup = app.view.instances[("nginx1", "VI_1")]
        assert backup.effective_priority == 80 and backup.base_priority == 100
        assert any(r.node == "nginx2" and r.new == "MASTER" for r in app.view.transitions)
        end = time.monotonic() + 20  # adverts/s from the counters' rate (rate()[1m])
        while app.view.advert_rates(("nginx2", "VI_1"), time.time())[0] <= 0:
            assert time.monotonic() < end, "no adverts/s for the new master"
            await pilot.pause(0.5)
        assert not [a for a in app.view.alarms(time.time()) if a.kind == "split-brain"]
        await pilot.pause(0.3)
        table = app.table
        assert table.row_count == 2


def test_agent_exposition_passes_promtool(prometheus_lab):
    lab, _url = prometheus_lab
    relay = Relay(lab.ns("nginx1"), ("127.0.0.1", METRICS_PORT))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{relay.port}/metrics",
                                    timeout=10) as reply:
            body = reply.read()
    finally:
        relay.close()
    assert b"keepalived_vrrp_state{" in body and b"lab-pass" not in body
    ran = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                         input=body, capture_output=True, timeout=30)
    assert ran.returncode == 0 and not (ran.stdout + ran.stderr).strip(), ran.stdout + ran.stderr
