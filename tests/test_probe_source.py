"""The client probe as a console source, and the local transport it runs on.

Without root: probe lines read as events (anything else skipped), a probe that exits
started again, the local transport's scripts (output, status, input, timeouts, a process
group ended by close). With root, against the real namespace lab: the probe in the
client namespace classifies what a real client meets — `refused` while the VIP's holder
has no nginx, `timeout` while no node holds the VIP — and `ok` from the node serving it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import need_program, need_root_netns

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.sources.local import LocalTransport
from haconsole.sources.probe import ProbeProcessSource, parse_probe_line, probe_argv

BOUND = 20.0


def _line(**kw: Any) -> str:
    event = ev.ClientRequest(kw.pop("t", 1.5), "client", target="http://192.0.2.170/",
                             vip="192.0.2.170", **kw)
    return json.dumps(event.to_dict())


async def _until(predicate: Callable[[], Any], what: str, timeout: float = BOUND) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


# ----------------------------------------------------------------------------- lines


def test_a_probe_line_is_its_client_request_and_nothing_else_is() -> None:
    event = parse_probe_line(_line(ok=False, error="refused", latency=0.001) + "\n")
    assert event == ev.ClientRequest(1.5, "client", target="http://192.0.2.170/",
                                     vip="192.0.2.170", ok=False, error="refused",
                                     latency=0.001)
    other = json.dumps(ev.LogLine(1.0, "client", "hello").to_dict())
    for line in ("", "haconsole probe: warming up", "{not json", '{"kind": "nope"}',
                 "[1, 2]", other, _line()[:-3]):
        assert parse_probe_line(line) is None, line


async def test_the_source_publishes_requests_skips_noise_and_restarts_a_probe_that_exits(
        ) -> None:
    script = "; ".join([f"echo {shlex.quote(_line(ok=True, served_by='n1'))}",
                        "echo 'a warning on stdout'",
                        f"echo {shlex.quote(_line(ok=False, error='timeout'))}",
                        "echo 'it broke' >&2", "exit 3"])
    transport = LocalTransport([])  # no namespace: this machine's sh
    source = ProbeProcessSource("client", lambda: transport.create_process(script),
                                retry=0.05)
    got: list[ev.Event] = []
    await source.start(got.append)
    try:
        await _until(lambda: source.starts >= 2 and len(got) >= 4, "a second run")
    finally:
        await source.stop()
    assert all(isinstance(e, ev.ClientRequest) for e in got)  # never a node event
    assert [e.ok for e in got[:2]] == [True, False]
    assert source.skipped >= 2 and source.last_error == "the probe exited: it broke"
    assert not source.supports(cmd.StopService)
    assert await source.execute(cmd.StopService("client")) == (
        False, "client is a client probe: it runs no command")


async def test_a_probe_that_cannot_start_is_retried_and_said() -> None:
    transport = LocalTransport(["/nonexistent/enter"])
    source = ProbeProcessSource("client", lambda: transport.create_process("true"),
                                retry=0.05)
    await source.start(lambda e: None)
    try:
        await _until(lambda: source.last_error, "the failure")
    finally:
        await source.stop()
    assert "the probe failed" in source.last_error


def test_probe_argv_is_the_probe_module_on_each_target() -> None:
    argv = probe_argv("/py", ["http://192.0.2.170/=192.0.2.170"], rate=10, timeout=0.3)
    assert argv == ["/py", "-m", "haconsole.probe", "--rate", "10", "--timeout", "0.3",
                    "--client", "client", "http://192.0.2.170/=192.0.2.170"]


# ----------------------------------------------------------------------------- transport


async def test_local_transport_runs_scripts_with_status_input_and_timeout() -> None:
    transport = LocalTransport([])
    out = await transport.run("read x; echo \"got $x\"; echo oops >&2; exit 4", input="it\n")
    assert (out.ok, out.exit_status, out.stdout, out.stderr) == (False, 4, "got it\n",
                                                                 "oops\n")
    assert out.summary() == "exit status 4: oops"
    assert (await transport.run("true")).ok
    began = time.monotonic()
    slow = await transport.run("sleep 30", timeout=0.3)
    assert not slow.ok and slow.stderr == "timed out" and time.monotonic() - began < 5
    clock = await transport.clock()
    assert (clock.offset, clock.error) == (0.0, 0.0)


async def test_closing_a_local_process_ends_its_whole_group(tmp_path: Path) -> None:
    """The collector's log follower is `tail -F` under sh: closing it must end both."""
    transport = LocalTransport([])
    proc = await transport.create_process(f"sleep 300 & echo $! > {tmp_path}/child; "
                                          "echo ready; wait")
    assert (await proc.stdout.readline()) == "ready\n"
    child = int((tmp_path / "child").read_text())
    await transport.aclose()
    await _until(lambda: not Path(f"/proc/{child}").exists() or
                 Path(f"/proc/{child}/stat").read_text().split()[2] == "Z", "the child gone")


# ----------------------------------------------------------------------------- netns


async def test_the_probe_in_the_client_namespace_sees_refused_and_timeout(
        tmp_path: Path) -> None:
    """A pair whose check does not track nginx: stopping nginx on the master leaves it
    the VIP, so clients are refused; stopping both engines leaves no holder: timeouts."""
    need_root_netns()
    for program in ("nginx", "curl"):
        need_program(program)
    from haconsole.netns.lab import VIP4, NetnsLab, pair_configs
    from haconsole.netns.source import client_probe

    lab = NetnsLab(pair_configs(check_nginx=False), workdir=tmp_path / "lab")
    got: list[ev.ClientRequest] = []
    source = None
    try:
        await asyncio.to_thread(lab.start)
        await asyncio.to_thread(lab.wait_single_holder, VIP4, BOUND, "nginx1")
        source = client_probe(lab, rate=20)
        await source.start(lambda e: got.append(e))  # type: ignore[arg-type]

        def since(t: float) -> list[ev.ClientRequest]:
            return [e for e in got if e.t >= t]

        await _until(lambda: any(e.ok for e in got), "an answer")
        assert {e.served_by for e in got if e.ok} == {"nginx1"}
        assert all(e.vip == VIP4 and e.node == "client" for e in got)

        t = time.time()
        ok, _ = await asyncio.to_thread(lab.execute, cmd.StopService("nginx1"))
        assert ok
        await _until(lambda: sum(e.error == "refused" for e in since(t)) >= 5, "refused")
        assert lab.holders(VIP4) == ["nginx1"]  # nothing tracks nginx: the VIP stays

        t = time.time()
        for node in ("nginx1", "nginx2"):
            ok, _ = await asyncio.to_thread(lab.execute, cmd.StopAgent(node))
            assert ok
        assert lab.holders(VIP4) == []
        t = time.time()
        await _until(lambda: sum(e.error == "timeout" for e in since(t)) >= 5, "timeouts")
        assert not any(e.ok for e in since(t))
        assert all(0.15 < e.latency < 1.0 for e in since(t) if e.error == "timeout")
    finally:
        if source is not None:
            await source.stop()
        await asyncio.to_thread(lab.stop)


# ----------------------------------------------------------------------------- connect

INVENTORY = """\
name = "edge"
probe = {probe}
[[node]]
name = "n1"
"""


def test_the_inventory_names_the_vips_to_probe_and_refuses_a_bad_one() -> None:
    import pytest

    from haconsole.config import ConfigError
    from haconsole.sources.inventory import parse_inventory

    one = parse_inventory(INVENTORY.format(probe='"http://192.0.2.170/"'))
    assert one.probes == ("http://192.0.2.170/",)
    two = parse_inventory(INVENTORY.format(
        probe='["http://192.0.2.170:8080/health=192.0.2.170", "http://[2001:db8::170]/"]'))
    assert len(two.probes) == 2
    assert parse_inventory(INVENTORY.format(probe="[]")).probes == ()
    for bad, words in (('"ftp://192.0.2.170/"', "expected http://HOST"),
                       ("3", "expected a URL or a list of URLs"),
                       ('["http://192.0.2.170:99999/"]', "bad port")):
        with pytest.raises(ConfigError) as err:
            parse_inventory(INVENTORY.format(probe=bad), "edge.toml")
        assert str(err.value).startswith("edge.toml:2: probe: ") and words in str(err.value)


async def test_connect_probes_from_the_console_host() -> None:
    """`connect` with `probe = [...]`: the fleet publishes the console's own requests
    (here to a local HTTP server) next to its nodes', as client `console`."""
    from haconsole.sources.connect import FleetSource
    from haconsole.sources.inventory import parse_inventory

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Node: n1\r\nContent-Length: 3\r\n\r\nn1\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    inventory = parse_inventory(INVENTORY.format(
        probe=f'"http://127.0.0.1:{port}/=192.0.2.170"').replace(
        'name = "n1"', 'name = "n1"\nhost = "192.0.2.1"'))
    fleet = FleetSource(inventory)
    fleet.nodes.clear()  # no SSH here: the probe alone
    got: list[ev.Event] = []
    await fleet.start(got.append)
    try:
        await _until(lambda: any(isinstance(e, ev.ClientRequest) and e.ok for e in got),
                     "an answered request")
    finally:
        await fleet.stop()
        server.close()
        await server.wait_closed()
    request = next(e for e in got if isinstance(e, ev.ClientRequest) and e.ok)
    assert (request.node, request.vip, request.served_by) == ("console", "192.0.2.170", "n1")
