"""The client probe against real servers on loopback: each outcome classified right.

A real nginx answers (X-Node, 200) and fails (503); a closed port refuses; a listener that
never answers times out; one that accepts and aborts resets. The view turns the stream of
requests into what the Clients panel and the stopwatch show.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need_program

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.probe.http import Target, TargetError, request
from haconsole.probe.runner import ClientProbe, ProbeTarget

NGINX_CONF = """
daemon on;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp; uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location / {{ add_header X-Node web1; return 200 "web1\\n"; }}
        location /fail {{ return 503; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[int]:
    need_program("nginx")
    port = free_port()
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=port))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run([nginx_bin, "-c", str(conf), "-p", str(tmp_path)], check=True, timeout=10)
    try:
        deadline = time.monotonic() + 5
        while True:  # wait for the listener, not a fixed time
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline, "nginx did not listen"
            time.sleep(0.02)
        yield port
    finally:
        subprocess.run([nginx_bin, "-c", str(conf), "-p", str(tmp_path), "-s", "stop"],
                       check=False, timeout=10)


async def test_a_real_nginx_answers_and_names_the_node(nginx: int) -> None:
    out = await request(Target.parse(f"http://127.0.0.1:{nginx}/"), timeout=2)
    assert (out.ok, out.status, out.served_by, out.error) == (True, 200, "web1", "")


async def test_http_5xx_is_a_failure_with_its_status(nginx: int) -> None:
    out = await request(Target.parse(f"http://127.0.0.1:{nginx}/fail"), timeout=2)
    assert (out.ok, out.status, out.error) == (False, 503, "http 503")


async def test_a_closed_port_is_refused() -> None:
    out = await request(Target.parse(f"http://127.0.0.1:{free_port()}/"), timeout=2)
    assert (out.ok, out.error) == (False, "refused")


async def test_a_listener_that_never_answers_times_out() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)  # the kernel completes handshakes; nobody ever answers
        port = s.getsockname()[1]
        out = await request(Target.parse(f"http://127.0.0.1:{port}/"), timeout=0.2)
    assert (out.ok, out.error) == (False, "timeout")
    assert 0.15 < out.latency < 2.0


async def test_a_connection_aborted_by_the_server_is_a_reset() -> None:
    async def abort(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    server = await asyncio.start_server(abort, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        out = await request(Target.parse(f"http://127.0.0.1:{port}/"), timeout=2)
    assert (out.ok, out.error) == (False, "reset")


def test_bad_targets_are_one_clear_error() -> None:
    for url in ("https://192.0.2.170/", "192.0.2.170", "http:///x", "http://h:99999/"):
        with pytest.raises(TargetError, match="probe target"):
            Target.parse(url)


async def test_the_runner_probes_at_its_rate_and_publishes_events(nginx: int) -> None:
    seen: list[ev.Event] = []
    probe = ClientProbe([ProbeTarget.parse(f"http://127.0.0.1:{nginx}/", "192.0.2.170")],
                        seen.append, rate=50, timeout=1)
    probe.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while len(seen) < 20:  # a condition, not a sleep
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
    finally:
        await probe.stop()
    first = seen[0]
    assert isinstance(first, ev.ClientRequest) and first.vip == "192.0.2.170"
    assert all(isinstance(e, ev.ClientRequest) and e.ok and e.served_by == "web1" for e in seen)
    assert ev.event_from_dict(first.to_dict()) == first


def _requests(view: ClusterView, start: float, end: float, ok: bool, by: str = "",
              error: str = "") -> None:
    t = start
    while t < end - 1e-9:
        view.apply(ev.ClientRequest(t, "client", target="http://192.0.2.170/",
                                    vip="192.0.2.170", ok=ok, served_by=by, error=error))
        t = round(t + 0.05, 6)


def _pair(t: float) -> list[ev.Event]:
    """n1 MASTER (priority 100) holding the VIP, n2 BACKUP (90)."""
    return [
        ev.InstanceState(t, "n1", instance="VI_1", vrid=1, state="MASTER", vips=("192.0.2.170",),
                         address="192.0.2.11", base_priority=100, effective_priority=100),
        ev.InstanceState(t, "n2", instance="VI_1", vrid=1, state="BACKUP", vips=("192.0.2.170",),
                         address="192.0.2.12", base_priority=90, effective_priority=90),
        ev.Transition(t, "n1", instance="VI_1", old="BACKUP", new="MASTER", reason="init"),
        ev.VipAdded(t, "n1", instance="VI_1", vip="192.0.2.170")]


def _takeover(t: float) -> list[ev.Event]:
    """n2 takes over from n1 at `t` (Master_Down_Interval ran out), the VIP with it."""
    return [
        ev.Transition(t, "n2", instance="VI_1", old="BACKUP", new="MASTER",
                      reason="advert timeout"),
        ev.VipAdded(t, "n2", instance="VI_1", vip="192.0.2.170"),
        ev.VipRemoved(t, "n1", instance="VI_1", vip="192.0.2.170"),
        ev.Transition(t, "n1", instance="VI_1", old="MASTER", new="BACKUP",
                      reason="higher priority")]


def test_the_view_measures_the_outage_the_clients_saw_and_pins_it_to_the_failover() -> None:
    view = ClusterView()
    t0 = 1_795_000_000.0
    view.apply_all(_pair(t0))
    _requests(view, t0, t0 + 5, True, "n1")
    view.apply(ev.ServiceState(t0 + 5, "n1", service="nginx", up=False))
    _requests(view, t0 + 5, t0 + 8.6, False, "n1", "refused")
    client = view.clients["http://192.0.2.170/"]
    assert client.outage_since == t0 + 5 and client.outage_failed == 72
    assert client.window(t0 + 8.6, 10) == (172, 100)
    view.apply_all(_takeover(t0 + 8.6))
    _requests(view, t0 + 8.6, t0 + 9, True, "n2")
    assert client.outage_since is None and client.last_served_by == "n2"
    outage = client.outages[-1]
    assert (outage.start, outage.failed) == (t0 + 5, 72)
    assert outage.ms == pytest.approx(3600, abs=1)
    rec = view.failovers[-1]
    assert (rec.old_master, rec.new_master) == ("n1", "n2")
    assert rec.client_outage_ms == pytest.approx(3600, abs=1)
    assert "client" not in view.nodes  # a client is not a VRRP node


def _request(view: ClusterView, t: float, ok: bool, error: str = "") -> None:
    view.apply(ev.ClientRequest(t, "client", target="http://192.0.2.170/", vip="192.0.2.170",
                                ok=ok, served_by="n1" if ok else "", error=error))


def test_a_late_timeout_inside_a_told_outage_joins_it_and_one_outside_is_its_own() -> None:
    """Timeouts are reported a timeout after they were sent, so they arrive after later
    requests' answers: one sent during the outage already told adds a failure to it (it
    used to count as a second outage overlapping the first); one sent while the service
    answered is a short outage of its own."""
    view = ClusterView()
    t0 = 1_795_000_000.0
    _request(view, t0, False, "timeout")
    _request(view, t0 + 0.05, False, "timeout")
    _request(view, t0 + 3.2, True)
    client = view.clients["http://192.0.2.170/"]
    assert [(o.start, o.end, o.failed) for o in client.outages] == [(t0, t0 + 3.2, 2)]
    _request(view, t0 + 3.1, False, "timeout")        # sent before the success, told after
    assert [(o.start, o.end, o.failed) for o in client.outages] == [(t0, t0 + 3.2, 3)]
    _request(view, t0 + 10, True)
    _request(view, t0 + 9.9, False, "timeout")        # sent while the service answered
    assert [(o.start, o.end, o.failed) for o in client.outages] == [
        (t0, t0 + 3.2, 3), (t0 + 9.9, t0 + 10, 1)]


@pytest.mark.parametrize("cause", [True, False], ids=["cause-seen", "cause-not-observed"])
def test_an_outage_told_before_the_new_masters_transition_is_still_pinned_to_it(
        cause: bool) -> None:
    """The client probe and the nodes are different sources: the first answer from the
    new master can reach the view before the new master's own transition does. The
    outage then belongs to the failover that is recorded a moment later (it used to be
    left unpinned, or pinned to an older failover)."""
    view = ClusterView()
    t0 = 1_795_000_000.0
    view.apply_all(_pair(t0))
    _requests(view, t0, t0 + 5, True, "n1")
    if cause:
        view.apply(ev.ServiceState(t0 + 5, "n1", service="nginx", up=False))
    _requests(view, t0 + 5, t0 + 8.6, False, "n1", "refused")
    _requests(view, t0 + 8.6, t0 + 9, True, "n2")        # the probe's news first ...
    assert view.clients["http://192.0.2.170/"].outages
    view.apply_all(_takeover(t0 + 8.58))                # ... then the nodes'
    rec = view.failovers[-1]
    assert (rec.old_master, rec.new_master) == ("n1", "n2")
    assert rec.client_outage_ms == pytest.approx(3600, abs=1)
    client = view.clients["http://192.0.2.170/"]
    failed = client.outages[-1].failed
    assert rec.client_outage is not None and rec.client_outage[2] == failed
    _request(view, t0 + 8.57, False, "timeout")  # sent in the outage, told a timeout later
    assert len(client.outages) == 1 and client.outages[-1].failed == failed + 1
    assert rec.client_outage[2] == failed + 1  # the stopwatch's count follows


def test_a_late_timeout_from_before_a_success_does_not_stretch_the_outage_running_now() -> None:
    """Seen in the netns lab: a request sent just before the client's first answers
    timed out and was told while the next outage (nginx stopped: refused) was running;
    it moved that outage's start back past three successful requests. It belongs to the
    outage before those successes."""
    view = ClusterView()
    t0 = 1_795_000_000.0
    _request(view, t0, False, "timeout")
    _request(view, t0 + 3.1, True)                     # the start-up outage ends
    client = view.clients["http://192.0.2.170/"]
    _request(view, t0 + 3.15, True)
    _request(view, t0 + 3.2, True)
    _request(view, t0 + 3.25, False, "refused")         # nginx stopped: a new outage ...
    _request(view, t0 + 3.05, False, "timeout")        # ... when a straggler is told
    _request(view, t0 + 3.3, False, "refused")
    _request(view, t0 + 6.9, True)
    starts = [(o.start, o.end, o.failed) for o in client.outages]
    assert starts == [(t0, t0 + 3.1, 2), (t0 + 3.25, t0 + 6.9, 2)]
