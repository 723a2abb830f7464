"""The agent's control socket, ctl client and AgentSocketSource, without root.

The agent runs in-process on the in-memory segment (no raw sockets, no netlink), so
these tests check the protocol and the commands everywhere; tests/netns runs the same
agent on real interfaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import subprocess
import sys

import pytest
from conftest import need

from haconsole.agent.daemon import Agent, AgentError, AgentOptions, load_config
from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.net.memory import MemorySegment, MemoryVips
from haconsole.sources.agent import AgentSocketSource

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


async def _start_agent(tmp_path, conf: str = CONF,
                       vips: MemoryVips | None = None) -> tuple[Agent, asyncio.Task[int]]:
    path = tmp_path / "keepalived.conf"
    path.write_text(conf)
    segment = MemorySegment()
    options = AgentOptions(config_file=str(path), control=str(tmp_path / "agent.sock"),
                           check_permissions=False, track_primary=False,
                           services={"svc": ("true", "true")})
    agent = Agent(options, vips=vips or MemoryVips(),
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
    source = AgentSocketSource("a", str(tmp_path / "agent.sock"))
    await source.start(events.append)
    assert source.connected.is_set() and source.node == "node-a"
    assert agent.node is not None and agent.node.advert_events  # a subscriber wants them
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
    _, errors, _ = load_config(str(path))
    assert errors and all(": error: " in line for line in errors)
    agent = Agent(AgentOptions(config_file=str(path), control=str(tmp_path / "s")))
    with pytest.raises(AgentError) as err:
        agent.load()
    assert err.value.code == 4


def test_auth_hmac_is_refused_with_its_line(tmp_path):
    """keepalived 2.4's signed adverts: the agent cannot sign them, so it does not start
    (its peers would drop its adverts and both would be master)."""
    path = tmp_path / "hmac.conf"
    signed = CONF.replace("""    authentication {
        auth_type PASS
        auth_pass "s3cret"
    }
""", """    auth_hmac {
        key 1 s3cret
        active_key 1
    }
""")
    path.write_text(signed)
    _, errors, _ = load_config(str(path), None)
    line = 1 + signed.splitlines().index("vrrp_instance VI_1 {")
    assert any(e.startswith(f"{path}:{line}: error: (VI_1) auth_hmac") for e in errors), errors
    assert not any("s3cret" in e for e in errors)
    agent = Agent(AgentOptions(config_file=str(path), control=str(tmp_path / "s")))
    with pytest.raises(AgentError) as err:
        agent.load()
    assert err.value.code == 4
    path.write_text(CONF)
    assert not load_config(str(path))[1]


def test_cli_exit_codes(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "haconsole.agent", "-f",
                              str(tmp_path / "nope.conf"), "-n"], capture_output=True,
                             text=True, timeout=30)
    assert missing.returncode == 4 and "haconsole agent:" in missing.stderr
    ctl = subprocess.run([sys.executable, "-m", "haconsole.agent", "ctl", "--control",
                          str(tmp_path / "none.sock"), "status"], capture_output=True,
                         text=True, timeout=30)
    assert ctl.returncode == 2 and "is `haconsole agent` running?" in ctl.stderr


async def until(cond, timeout: float = 10.0) -> None:
    """Wait for `cond()` to hold (checked every 10 ms), failing after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _state(agent: Agent, instance: str) -> str:
    assert agent.node is not None
    inst = agent.node.instances.get(instance)
    return inst.state if inst is not None else "absent"


async def test_reload_keeps_the_master_and_applies_the_changes(tmp_path):
    """keepalived's reload: a retained master stays master (no failover), new VIPs are
    added, a new instance starts, a removed one stops; a reload is not a restart."""
    vips = MemoryVips()
    agent, task = await _start_agent(tmp_path, vips=vips)
    await until(lambda: _state(agent, "VI_1") == "MASTER")
    assert agent.node is not None
    # A console attaching now learns the VIP's owner from the snapshot alone.
    snapshot = agent.snapshot()
    end = next(i for i, e in enumerate(snapshot) if isinstance(e, ev.HistoryEnd))
    now = snapshot[end + 1:]  # after the node's past: how it is now
    assert [e.vip for e in now if isinstance(e, ev.VipAdded)] == ["192.0.2.170"]
    # ... and the past holds the takeover, with its own time
    past = [e for e in snapshot[:end] if isinstance(e, ev.Transition)]
    assert any(e.new == "MASTER" for e in past) and snapshot[end].events == end
    node_before = agent.node
    events: list[ev.Event] = []
    assert not node_before.advert_events  # nobody subscribed: no per-advert events built
    node_before.advert_events = True  # this test watches them directly
    publish = node_before.publish
    node_before.publish = lambda e: (events.append(e), publish(e))[1]  # type: ignore[method-assign]
    changed = CONF.replace("priority 100", "priority 110").replace(
        "192.0.2.170/24", "192.0.2.170/24\n        192.0.2.171/24") + CONF.replace(
        "VI_1", "VI_2").replace("virtual_router_id 51", "virtual_router_id 52").replace(
        "global_defs {\n    router_id node-a\n}", "").replace("192.0.2.170", "192.0.2.180")
    (tmp_path / "keepalived.conf").write_text(changed)
    ok, detail = await agent.reload()
    assert ok and detail == "configuration reloaded"
    assert agent.node is node_before  # the engine kept running
    assert _state(agent, "VI_1") == "MASTER"
    assert agent.node.instances["VI_1"].effective_priority == 110
    assert {"192.0.2.170", "192.0.2.171"} <= vips.held()
    assert not any(isinstance(e, ev.Transition) and e.instance == "VI_1" for e in events)
    assert any(isinstance(e, ev.AdvertSent) and e.instance == "VI_1" and e.priority == 110
               for e in events)  # the new priority is advertised at once
    await until(lambda: _state(agent, "VI_2") == "MASTER")

    (tmp_path / "keepalived.conf").write_text(CONF)
    ok, _ = await agent.reload()
    assert ok and _state(agent, "VI_2") == "absent" and _state(agent, "VI_1") == "MASTER"
    assert any(isinstance(e, ev.Transition) and e.instance == "VI_2" and e.new == "STOP"
               for e in events)
    assert any(isinstance(e, ev.AdvertSent) and e.instance == "VI_2" and e.priority == 0
               for e in events)  # the removed master handed over with priority 0
    assert vips.held() == {"192.0.2.170"}
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


TRACK_FILE_CONF = """
track_file drain {
    file "%s"
    weight -1
}
track_file maint {
    file "%s"
    weight 0
}
""" + CONF.replace("    advert_int 1\n", "    advert_int 1\n    track_file {\n        drain\n"
                   "        maint\n    }\n")


async def test_track_file_moves_priority_and_faults_and_survives_a_reload(tmp_path):
    drain, maint = tmp_path / "drain", tmp_path / "maint"
    conf = TRACK_FILE_CONF % (drain, maint)
    agent, task = await _start_agent(tmp_path, conf)
    await until(lambda: _state(agent, "VI_1") == "MASTER")
    assert agent.node is not None
    drain.write_text("30\n")  # weight -1: priority 100 - 30
    await until(lambda: agent.node.instances["VI_1"].effective_priority == 70)
    # A reload that changes the instance keeps the file's current value applied.
    (tmp_path / "keepalived.conf").write_text(conf.replace("priority 100", "priority 120"))
    ok, _ = await agent.reload()
    assert ok and agent.node.instances["VI_1"].effective_priority == 90
    assert _state(agent, "VI_1") == "MASTER"
    maint.write_text("1")  # weight 0 and non-zero: FAULT
    await until(lambda: _state(agent, "VI_1") == "FAULT")
    maint.unlink()  # a removed file reads 0
    await until(lambda: _state(agent, "VI_1") in ("BACKUP", "MASTER"))
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


# ----------------------------------------------------------------------------- bad input
async def _exchange(path: str, lines: list[bytes]) -> list[dict]:
    """Send each line on one connection and read one reply per line (or until EOF)."""
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
    replies = []
    try:
        for line in lines:
            writer.write(line)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readline(), 10)
            if not reply:
                break
            replies.append(json.loads(reply))
    finally:
        writer.close()
    return replies


def _over_long_line(path: str, size: int) -> tuple[dict, bytes]:
    """Send a `size`-byte request line: (the reply, what follows it on the connection)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        with contextlib.suppress(ConnectionError):  # the agent stops reading at its limit
            sock.sendall(b'{"cmd": "' + b"x" * size + b'"}\n')
        stream = sock.makefile("rb")
        return json.loads(stream.readline()), stream.read()


async def test_control_socket_answers_bad_requests_with_one_line(tmp_path, caplog):
    from haconsole.agent.control import MAX_DEPTH, MAX_LINE

    agent, task = await _start_agent(tmp_path)
    sock = str(tmp_path / "agent.sock")
    caplog.set_level(logging.WARNING, logger="haconsole.agent")
    bad = [
        (b'{"id": 1, "cmd": "failover", "instance": ["VI_1"]}\n', "'instance' must be a string"),
        (b'{"id": 2, "cmd": "stop-service", "service": {"a": 1}}\n', "'service' must be"),
        (b'{"id": 3, "cmd": ["status"]}\n', "'cmd' must be a string, not a list"),
        (b'{"id": [1], "cmd": "status"}\n', "'id' must be a string, an integer or null"),
        (b'{"id": 4}\n', "'cmd' missing"),
        (b'[1, 2]\n', "expected a JSON object, got a list"),
        (b'{"cmd": "status", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",
         f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"cmd": "status", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
         f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"id": 5, "cmd": "status", "n": ' + b"9" * 5000 + b"}\n", "number too long"),
        (b'{"cmd": "\xff\xfe"}\n', "not UTF-8"),
        (b'\xff\xfe{"cmd"\n', "bad request: "),
        (b'{"id": 6, "cmd": "' + b"x" * 1000 + b'"}\n', "unknown command 'xxx"),
    ]
    replies = await _exchange(sock, [line for line, _ in bad] + [b'{"id": 9, "cmd": "status"}\n'])
    assert len(replies) == len(bad) + 1  # one connection survived all of them
    for (line, words), reply in zip(bad, replies, strict=False):
        assert reply["ok"] is False and words in reply["detail"], (line[:60], reply)
        assert len(reply["detail"]) < 200
    assert replies[0]["id"] == 1 and replies[-1]["id"] == 9 and replies[-1]["ok"]
    # A line over MAX_LINE: an error reply, then the connection is closed.
    reply, after = await asyncio.to_thread(_over_long_line, sock, MAX_LINE + 10)
    assert reply["ok"] is False and f"longer than {MAX_LINE} bytes" in reply["detail"]
    assert after == b""
    assert (await _exchange(sock, [b'{"cmd": "status"}\n']))[0]["ok"]
    warnings = [r for r in caplog.records if r.name == "haconsole.agent"]
    # One line per refusal: every bad request but the unknown command (a valid request
    # the agent answers), plus the over-long line.
    assert len(warnings) == len(bad)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in warnings)
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


async def test_ctl_events_into_a_closed_pipe_exits_quietly(tmp_path):
    agent, task = await _start_agent(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "haconsole.agent", "ctl", "--control",
        str(tmp_path / "agent.sock"), "events",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 10)  # like `| head -1`
    proc.stdout.feed_eof()
    transport = proc._transport  # type: ignore[attr-defined]
    transport.get_pipe_transport(1).close()  # the reader goes away
    err = await asyncio.wait_for(proc.stderr.read(), 20)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    assert err == b""
    agent.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


def _agent_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haconsole.agent", *args],
                          capture_output=True, text=True, timeout=60)


def test_keepalived_flags_version_config_test_vrrp_and_config_id(tmp_path):
    version = _agent_cli("-v")
    assert version.returncode == 0 and version.stderr.startswith("haconsole agent v")
    nics = sorted(set(os.listdir("/sys/class/net")) - {"lo"})
    need(bool(nics), "needs a network interface other than lo (-t checks it exists)")
    conf = CONF.replace("interface eth0", f"interface {nics[0]}")
    good = tmp_path / "good.conf"
    good.write_text(conf)
    assert _agent_cli("-t", "-f", str(good)).returncode == 0
    typo = tmp_path / "typo.conf"
    typo.write_text(conf.replace("priority 100", "priorty 100"))
    test = _agent_cli("-t", "-f", str(typo), "-P")
    assert test.returncode != 0
    lines = test.stderr.strip().splitlines()
    assert any(f"{typo}:" in line and "priorty" in line for line in lines), lines
    assert not any(line.count("error:") > 1 or line.count("warning:") > 1 for line in lines)
    missing = _agent_cli("--config-test", "-f", str(tmp_path / "nope.conf"))
    assert missing.returncode == 4 and "nope.conf" in missing.stderr
    log = tmp_path / "test.log"
    assert _agent_cli(f"--config-test={log}", "-f", str(typo)).returncode == test.returncode
    assert "priorty" in log.read_text()
    # `@ID` lines: only the node whose config id matches keeps them.
    ided = tmp_path / "ided.conf"
    ided.write_text(conf.replace("    priority 100\n", "    @node-b priorty 100\n"))
    assert _agent_cli("-t", "-f", str(ided), "-i", "node-a").returncode == 0
    assert _agent_cli("-t", "-f", str(ided), "--config-id", "node-b").returncode != 0


def test_config_messages_carry_one_severity(tmp_path):
    path = tmp_path / "warn.conf"
    path.write_text(CONF.replace("    advert_int 1\n", "    advert_int 1.5\n"))
    _, errors, warnings = load_config(str(path))
    assert not errors and warnings
    assert all(line.count("warning") == 1 for line in warnings), warnings
