"""The agent's control socket, ctl client and AgentSource, without root.

The agent runs in-process on the in-memory segment (no raw sockets, no netlink), so
these tests check the protocol and the commands everywhere; tests/netns runs the same
agent on real interfaces.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys

import pytest

from haconsole.agent.daemon import Agent, AgentError, AgentOptions, load_config
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.net.memory import MemorySegment, MemoryVips
from haconsole.sources.agent import AgentSource

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


async def _start_agent(tmp_path, conf: str = CONF) -> tuple[Agent, asyncio.Task[int]]:
    path = tmp_path / "keepalived.conf"
    path.write_text(conf)
    segment = MemorySegment()
    options = AgentOptions(config_file=str(path), control=str(tmp_path / "agent.sock"),
                           check_permissions=False, track_primary=False,
                           services={"svc": ("true", "true")})
    agent = Agent(options, vips=MemoryVips(),
                  transport_for=lambda iface, fam: segment.attach("a", iface, "192.0.2.11"))
    ready = asyncio.Event()
    task = asyncio.get_running_loop().create_task(agent.run(on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 10)
    return agent, task


async def test_control_socket_source_and_commands(tmp_path):
    agent, task = await _start_agent(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "agent.sock").st_mode)
    assert mode == 0o600
    events: list[ev.Event] = []
    source = AgentSource("a", str(tmp_path / "agent.sock"))
    await source.start(events.append)
    assert source.connected.is_set() and source.node == "node-a"
    assert any(isinstance(e, ev.InstanceState) and e.instance == "VI_1" for e in events)

    # Alone on the segment, the MASTER-configured instance takes over after ~1 s, and
    # the transition reaches the source through the socket.
    def became_master() -> bool:
        return any(isinstance(e, ev.Transition) and e.new == "MASTER" for e in events)

    for _ in range(500):
        if became_master():
            break
        await asyncio.sleep(0.01)
    assert became_master()
    assert agent.node is not None and agent.node.instances["VI_1"].state == "MASTER"

    ok, detail = await source.execute(cmd.Failover("node-a", instance="VI_1"))
    assert ok, detail
    assert agent.node.instances["VI_1"].state == "BACKUP"
    ok, detail = await source.execute(cmd.Failover("node-a", instance="VI_9"))
    assert not ok and "no instance" in detail
    ok, detail = await source.execute(cmd.StopService("node-a", service="svc"))
    assert ok, detail
    ok, detail = await source.execute(cmd.StopService("node-a", service="nope"))
    assert not ok and "unknown service" in detail
    assert any(isinstance(e, ev.CommandResult) for e in events)

    # The ctl client in another process, JSON and --stream.
    def ctl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "haconsole.agent", "ctl", "--control",
                               str(tmp_path / "agent.sock"), *args], input=stdin,
                              capture_output=True, text=True, timeout=30)

    status = await asyncio.to_thread(ctl, "--json", "status")
    assert json.loads(status.stdout)["node"] == "node-a"
    table = await asyncio.to_thread(ctl, "status")
    assert "VI_1" in table.stdout and "BACKUP" in table.stdout
    streamed = await asyncio.to_thread(ctl, "--stream", stdin='{"id": 5, "cmd": "status"}\n')
    assert json.loads(streamed.stdout.splitlines()[0])["id"] == 5

    ok, _ = await source.execute(cmd.RestartAgent("node-a"))
    assert ok
    reply = await source.request({"cmd": "shutdown"})
    assert reply["ok"]
    assert await asyncio.wait_for(task, 10) == 0
    await source.stop()
    assert not (tmp_path / "agent.sock").exists()


async def test_reload_with_errors_keeps_running(tmp_path):
    agent, task = await _start_agent(tmp_path)
    (tmp_path / "keepalived.conf").write_text(CONF.replace("virtual_router_id 51",
                                                           "virtual_router_id 256"))
    ok, detail = await agent.reload()
    assert not ok and "kept" in detail
    assert agent.node is not None and agent.node.running
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


def test_config_errors_are_reported(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("vrrp_instance VI_1 {\n  virtual_router_id 999\n}\n")
    _, lines = load_config(str(path))
    assert lines and any(not line.startswith("warning: ") for line in lines)
    agent = Agent(AgentOptions(config_file=str(path), control=str(tmp_path / "s")))
    with pytest.raises(AgentError) as err:
        agent.load()
    assert err.value.code == 4


def test_cli_exit_codes(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "haconsole.agent", "-f",
                              str(tmp_path / "nope.conf"), "-n"], capture_output=True,
                             text=True, timeout=30)
    assert missing.returncode == 4 and "haconsole agent:" in missing.stderr
    ctl = subprocess.run([sys.executable, "-m", "haconsole.agent", "ctl", "--control",
                          str(tmp_path / "none.sock"), "status"], capture_output=True,
                         text=True, timeout=30)
    assert ctl.returncode == 2 and "is `haconsole agent` running?" in ctl.stderr
