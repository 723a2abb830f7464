"""SSH sources against in-process asyncssh servers on 127.0.0.1 (no sshd, no root).

Each `FakeNode` is an SSH server with a generated host key that answers the commands the
sources send: the poll loop (keepalived JSON dump, `ip -j addr`, service check), the log
follower, the agent stream, and action templates (recorded, with scripted effects).
Everything waits on conditions with timeouts; nothing sleeps blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.sources.agent_ssh import AgentSshNode
from haconsole.sources.connect import SshFleet
from haconsole.sources.inventory import NodeSpec, parse_inventory
from haconsole.sources.keepalived_ssh import KeepalivedSshNode, parse_poll_block, poll_script
from haconsole.sources.ssh import (
    Backoff,
    SshOptions,
    TemplateError,
    remote_command,
    render_template,
)

PASSWORD = "s3cr3tpw"
DATA = Path(__file__).parent / "data"
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
OTHER_KEY = asyncssh.generate_private_key("ssh-ed25519")


def ka_instance(name: str = "VI_1", *, vrid: int = 51, state: int = 1, priority: int = 100,
                sent: int = 0, rcvd: int = 0, vips: tuple[str, ...] = ("192.0.2.100",),
                nopreempt: bool = False) -> dict[str, Any]:
    return {
        "data": {"iname": name, "ifp_ifname": "eth0", "vrid": vrid,
                 "base_priority": priority, "effective_priority": priority,
                 "last_transition": 1.0, "adver_int": 1, "state": state, "wantstate": state,
                 "version": 2, "nopreempt": nopreempt, "preempt_delay": 0,
                 "vips": [f"{v} dev eth0 scope global set" for v in vips],
                 "auth_type": 1, "auth_data": PASSWORD},
        "stats": {"advert_rcvd": rcvd, "advert_sent": sent, "become_master": 0,
                  "release_master": 0, "packet_len_err": 0, "advert_interval_err": 0,
                  "ip_ttl_err": 0, "invalid_type_rcvd": 0, "addr_list_err": 0,
                  "invalid_authtype": 0, "authtype_mismatch": 0, "auth_failure": 0,
                  "pri_zero_rcvd": 0, "pri_zero_sent": 0},
    }


def ip_addr_json(addresses: list[str]) -> str:
    infos = [{"family": "inet6" if ":" in a else "inet", "local": a, "prefixlen": 24}
             for a in addresses]
    return json.dumps([{"ifindex": 2, "ifname": "eth0", "addr_info": infos}])


@dataclass
class FakeNode:
    """What one fake node serves; tests change these fields while sources poll."""

    name: str
    instances: list[dict[str, Any]] = field(default_factory=lambda: [ka_instance()])
    addresses: list[str] = field(default_factory=lambda: ["192.0.2.11"])
    pid: str = "4242"
    service_up: bool = True
    json_supported: bool = True
    commands: list[str] = field(default_factory=list)  # the sh -c scripts received
    exec_strings: list[str] = field(default_factory=list)  # raw exec requests
    responders: list[tuple[str, Callable[[str], tuple[int, str, str]]]] = field(
        default_factory=list)
    log_lines: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    history: list[str] = field(default_factory=list)
    agent_events: list[dict[str, Any]] = field(default_factory=list)
    agent_requests: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    host_key: asyncssh.SSHKey = HOST_KEY
    server: asyncssh.SSHAcceptor | None = None
    port: int = 0
    conns: list[asyncssh.SSHServerConnection] = field(default_factory=list)

    def respond(self, pattern: str, fn: Callable[[str], tuple[int, str, str]]) -> None:
        self.responders.append((pattern, fn))

    def set_state(self, state: int, **kw: Any) -> None:
        inst = self.instances[0]
        inst["data"]["state"] = state
        inst["data"].update(kw)

    def poll_block(self, boundary: str) -> str:
        self.polls += 1
        out = [f"{boundary} pid {self.pid}"]
        if self.pid:
            for inst in self.instances:
                inst["stats"]["advert_sent"] += 1 if inst["data"]["state"] == 2 else 0
                inst["stats"]["advert_rcvd"] += 0 if inst["data"]["state"] == 2 else 1
            if self.json_supported:
                out += [f"{boundary} json", json.dumps(self.instances)]
            else:  # keepalived without JSON: the SIGUSR1 data and SIGUSR2 stats dumps
                out += [f"{boundary} data", (DATA / "keepalived.data").read_text(),
                        f"{boundary} stats", (DATA / "keepalived.stats").read_text()]
        out += [f"{boundary} addr", ip_addr_json(self.addresses)]
        out += [f"{boundary} service {'up' if self.service_up else 'down'}",
                f"{boundary} end"]
        return "\n".join(out) + "\n"

    # -- server ------------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        node = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                node.conns.append(conn)

            def begin_auth(self, username: str) -> bool:
                return False  # no authentication: the tests are about everything else

        self.server = await asyncssh.create_server(
            Server, "127.0.0.1", port, server_host_keys=[self.host_key],
            process_factory=self.handle, encoding="utf-8")
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for conn in self.conns:
            conn.abort()
        self.conns.clear()

    async def handle(self, process: asyncssh.SSHServerProcess[str]) -> None:
        raw = process.command or ""
        self.exec_strings.append(raw)
        argv = shlex.split(raw)
        if argv[:2] == ["sudo", "-n"]:
            argv = argv[2:]
        assert argv[:2] == ["sh", "-c"] and len(argv) == 3, raw
        script = argv[2]
        self.commands.append(script)
        try:
            if "keepalived --signum=JSON" in script:
                await self._poll(process, script)
            elif script.startswith(("journalctl", "tail -n")):
                await self._logs(process)
            elif "agent ctl --stream" in script:
                await self._agent(process)
            else:
                status, out, err = 0, "", ""
                for pattern, fn in self.responders:
                    if re.search(pattern, script):
                        status, out, err = fn(script)
                        break
                process.stdout.write(out)
                process.stderr.write(err)
                process.exit(status)
                return
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, BrokenPipeError,
                ConnectionError, asyncssh.Error):
            pass
        with contextlib.suppress(OSError, asyncssh.Error):
            process.exit(0)

    async def _poll(self, process: asyncssh.SSHServerProcess[str], script: str) -> None:
        match = re.search(r"^B=([0-9a-f]+)$", script, re.M)
        assert match, script
        boundary = match.group(1)
        async for _ in process.stdin:
            process.stdout.write(self.poll_block(boundary))

    async def _logs(self, process: asyncssh.SSHServerProcess[str]) -> None:
        for line in self.history:
            process.stdout.write(line + "\n")
        while True:
            line = await self.log_lines.get()
            process.stdout.write(line + "\n")

    async def _agent(self, process: asyncssh.SSHServerProcess[str]) -> None:
        async for line in process.stdin:
            req = json.loads(line)
            self.agent_requests.append(req)
            if req["cmd"] == "subscribe":
                process.stdout.write(json.dumps({"id": req["id"], "ok": True,
                                                 "node": "agent-host"}) + "\n")
                for event in self.agent_events:
                    process.stdout.write(json.dumps({"event": event}) + "\n")
                process.stdout.write("not json\n")
            else:
                process.stdout.write(json.dumps(
                    {"id": req["id"], "ok": True, "detail": f"did {req['cmd']}"}) + "\n")


def known_hosts_for(tmp: Path, *nodes: FakeNode, key: asyncssh.SSHKey | None = None) -> Path:
    path = tmp / "known_hosts"
    lines = []
    for node in nodes:
        pub = (key or node.host_key).export_public_key().decode().strip()
        lines.append(f"[127.0.0.1]:{node.port} {pub}\n")
    path.write_text("".join(lines))
    return path


def options(known_hosts: Path, **kw: Any) -> SshOptions:
    opts = SshOptions(known_hosts=str(known_hosts), connect_timeout=2.0,
                      backoff_initial=0.05, backoff_max=0.3, stable_after=0.5,
                      extra={"config": [], "agent_path": None, "client_keys": []})
    for key, value in kw.items():
        setattr(opts, key, value)
    return opts


def spec(node: FakeNode, **kw: Any) -> NodeSpec:
    values: dict[str, Any] = {"name": node.name, "host": "127.0.0.1", "port": node.port,
                              "interval": 0.1}
    values.update(kw)
    return NodeSpec(**values)


class Recorder:
    """Collects published events; `wait` for a condition on them."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.view = ClusterView()
        self._changed = asyncio.Event()

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)
        self.view.apply(event)
        self._changed.set()

    def of(self, kind: type[ev.Event], node: str | None = None) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and node in (None, e.node)]

    async def wait(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(f"condition not met within {timeout} s; last events: "
                                     f"{self.events[-5:]}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@pytest.fixture
async def fake() -> Any:
    nodes: list[FakeNode] = []

    async def make(name: str, **kw: Any) -> FakeNode:
        node = FakeNode(name, **kw)
        await node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.stop()


# ------------------------------------------------------------------ quoting


NASTY = ["edge 1", "it's", 'say "hi"', "$(touch /nonexistent)", "a;b|c&d", "`x`", "tab\there",
         "back\\slash", "new\nline", "*", "-n"]


@pytest.mark.parametrize("value", NASTY)
def test_render_template_quotes_values_for_sh(value: str) -> None:
    script = render_template("printf '%s|' {node} {log_file}",
                             {"node": value, "log_file": f"/var/log/{value}.log"})
    # remote_command wraps in one more quoting level: undo it exactly as a shell would.
    inner = shlex.split(remote_command(script))
    assert inner[:2] == ["sh", "-c"] and inner[2] == script
    out = subprocess.run(inner, capture_output=True, text=True, check=True)
    assert out.stdout == f"{value}|/var/log/{value}.log|"


def test_remote_command_with_sudo_keeps_one_argument() -> None:
    script = render_template("systemctl stop {service}", {"service": "ngi nx'"})
    argv = shlex.split(remote_command(script, sudo=True))
    assert argv[:4] == ["sudo", "-n", "sh", "-c"]
    assert shlex.split(argv[4]) == ["systemctl", "stop", "ngi nx'"]


@pytest.mark.parametrize("template", ["echo {nope}", "echo {node!r}", "echo {node:>10}",
                                      "echo {node.__class__}", "echo {0}", "echo {"])
def test_render_template_rejects_unknown_or_fancy_fields(template: str) -> None:
    with pytest.raises(TemplateError):
        render_template(template, {"node": "n", "service": "s", "pidfile": "", "log_file": ""})


def test_render_template_literal_braces() -> None:
    assert render_template("awk '{{print $1}}' {pidfile}", {"pidfile": "/run/k a.pid"}) == \
        "awk '{print $1}' '/run/k a.pid'"


def test_poll_script_quotes_pidfile_and_service_and_is_valid_sh(tmp_path: Path) -> None:
    s = NodeSpec(name="edge 1's", host="h", pidfile="/run/my keepalived's.pid",
                 service='ng"inx')
    script = poll_script(s, "abcdef0123456789")
    assert "'/run/my keepalived'\"'\"'s.pid'" in script
    subprocess.run(["sh", "-n", "-c", script], check=True)  # syntax check only


def test_parse_poll_block_never_keeps_the_password() -> None:
    b = "0123abcd"
    block = (f"{b} pid 12\n{b} json\n{json.dumps([ka_instance(state=2)])}\n"
             f"{b} addr\n{ip_addr_json(['192.0.2.11', '192.0.2.100'])}\n"
             f"{b} service down\n{b} end\n")
    result = parse_poll_block(block, b)
    assert result.pid == "12" and result.service_up is False
    assert result.snapshots is not None and result.snapshots[0].state == "MASTER"
    assert "192.0.2.100" in result.all_addresses()
    assert PASSWORD not in repr(result)


def test_backoff_is_exponential_and_capped() -> None:
    b = Backoff(initial=0.5, maximum=8.0, jitter=0.0)
    assert [b.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    b.reset()
    assert b.next() == 0.5
    j = Backoff(initial=1.0, maximum=4.0, jitter=0.2)
    delays = [j.next() for _ in range(20)]
    assert all(0.8 <= d <= 4.0 for d in delays)


# ------------------------------------------------------------------ keepalived collector


async def test_keepalived_node_collects_state_counters_vips_service(fake: Any,
                                                                    tmp_path: Path) -> None:
    n = await fake("edge1", addresses=["192.0.2.11", "192.0.2.100"])
    n.set_state(2)
    source = KeepalivedSshNode(spec(n), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        state = rec.of(ev.InstanceState)[0]
        assert (state.instance, state.vrid, state.state) == ("VI_1", 51, "MASTER")
        assert state.address == "192.0.2.11"  # filled from the interface
        await rec.wait(lambda: len(rec.of(ev.AdvertCounters)) >= 5)
        sent, _ = rec.view.advert_rates(("edge1", "VI_1"), time.time())
        assert sent > 0
        assert rec.of(ev.VipAdded)[0].vip == "192.0.2.100"
        assert rec.view.vips["192.0.2.100"].owner == "edge1"
        assert rec.of(ev.ServiceState)[0].up is True
        # The master loses the VIP and nginx stops: one event each, not one per poll.
        n.addresses = ["192.0.2.11"]
        n.service_up = False
        await rec.wait(lambda: rec.of(ev.VipRemoved) and
                       any(not e.up for e in rec.of(ev.ServiceState)))
        polls = source.polls
        await rec.wait(lambda: source.polls >= polls + 3)
        assert len(rec.of(ev.VipRemoved)) == 1
        assert len(rec.of(ev.InstanceState)) == 1  # unchanged snapshots are not resent
        # keepalived stops: the instance goes STOP
        n.pid = ""
        await rec.wait(lambda: any(t.new == "STOP" for t in rec.of(ev.Transition)))
        assert not any(PASSWORD in json.dumps(e.to_dict()) for e in rec.events)
        assert all(e.node == "edge1" for e in rec.events)
    finally:
        await source.stop()


async def test_data_and_stats_dumps_when_json_is_not_compiled_in(fake: Any,
                                                                 tmp_path: Path) -> None:
    n = await fake("old-ka", json_supported=False, addresses=["192.0.2.11", "192.0.2.170"])
    source = KeepalivedSshNode(spec(n), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.AdvertCounters) and rec.of(ev.VipAdded))
        state = rec.of(ev.InstanceState)[0]
        assert (state.instance, state.vrid, state.state) == ("VI_1", 100, "MASTER")
        assert (rec.of(ev.AdvertCounters)[0].sent, rec.of(ev.AdvertCounters)[0].received) == \
            (8, 6)
        assert rec.of(ev.VipAdded)[0].vip == "192.0.2.170"
        assert not any("mypasswo" in json.dumps(e.to_dict()) for e in rec.events)
    finally:
        await source.stop()


async def test_state_change_seen_in_dump_makes_one_transition(fake: Any,
                                                              tmp_path: Path) -> None:
    n = await fake("edge2")
    source = KeepalivedSshNode(spec(n), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        n.set_state(2)
        await rec.wait(lambda: rec.of(ev.Transition))
        t = rec.of(ev.Transition)[0]
        assert (t.old, t.new) == ("BACKUP", "MASTER")
        polls = source.polls
        await rec.wait(lambda: source.polls >= polls + 3)
        assert len(rec.of(ev.Transition)) == 1
    finally:
        await source.stop()


async def test_log_stream_history_primes_and_live_lines_make_events(fake: Any,
                                                                    tmp_path: Path) -> None:
    n = await fake("edge3", history=[
        "2020-01-01T10:00:00+0000 edge3 Keepalived_vrrp[7]: (VI_1) Entering BACKUP STATE",
        "2020-01-01T10:00:05+0000 edge3 Keepalived_vrrp[7]: (VI_1) Entering MASTER STATE",
    ])
    s = spec(n, log_file="/var/log/keep alived's.log")
    source = KeepalivedSshNode(s, options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: len(rec.of(ev.LogLine)) >= 2 and rec.of(ev.InstanceState))
        # history: shown, but no transition made from it
        assert not [t for t in rec.of(ev.Transition) if t.t < 1.7e9]
        log_cmd = next(c for c in n.commands if c.startswith("tail"))
        assert shlex.split(log_cmd) == ["tail", "-n", "50", "-F", "/var/log/keep alived's.log"]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
        await n.log_lines.put(f"{stamp} edge3 Keepalived_vrrp[7]: "
                              "(VI_1) Receive advertisement timeout")
        await n.log_lines.put(f"{stamp} edge3 Keepalived_vrrp[7]: (VI_1) Entering MASTER STATE")
        before = time.time()
        await rec.wait(lambda: rec.of(ev.Transition))
        t = rec.of(ev.Transition)[0]
        assert (t.old, t.new, t.reason) == ("BACKUP", "MASTER", "advert timeout")
        assert t.t >= before  # stamped on arrival, not with the remote clock
        n.set_state(2)  # the dump now agrees: no second transition
        polls = source.polls
        await rec.wait(lambda: source.polls >= polls + 3)
        assert len(rec.of(ev.Transition)) == 1
    finally:
        await source.stop()


async def test_journalctl_is_the_default_log_follower(fake: Any, tmp_path: Path) -> None:
    n = await fake("edge4")
    source = KeepalivedSshNode(spec(n, sudo=True), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: any(c.startswith("journalctl") for c in n.commands))
        assert "journalctl -u keepalived -f -o short-iso -n 50" in n.commands
        assert all(s.startswith("sudo -n sh -c ") for s in n.exec_strings)
    finally:
        await source.stop()


# ------------------------------------------------------------------ connections


async def test_unknown_host_key_is_refused_with_a_clear_message(fake: Any,
                                                                tmp_path: Path) -> None:
    n = await fake("edge-unknown")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    source = KeepalivedSshNode(spec(n), options(empty))
    rec = Recorder()
    await source.start(rec)
    try:
        health = await rec.wait(lambda: [h for h in rec.of(ev.SourceHealth) if not h.ok])
        msg = health[0].detail
        assert "edge-unknown" in msg and "unknown host key" in msg
        assert f"[127.0.0.1]:{n.port}" in msg and "--accept-new-host-keys" in msg
        assert "SHA256:" in msg
        assert not n.commands and not rec.of(ev.NodeSeen)
    finally:
        await source.stop()


async def test_changed_host_key_is_refused_even_with_accept_new(fake: Any,
                                                                tmp_path: Path) -> None:
    n = await fake("edge-changed")
    kh = known_hosts_for(tmp_path, n, key=OTHER_KEY)
    source = KeepalivedSshNode(spec(n), options(kh, accept_new_host_keys=True))
    rec = Recorder()
    await source.start(rec)
    try:
        health = await rec.wait(lambda: [h for h in rec.of(ev.SourceHealth) if not h.ok])
        msg = health[0].detail
        assert "edge-changed" in msg and "HOST KEY CHANGED" in msg
        assert f"ssh-keygen -R '[127.0.0.1]:{n.port}'" in msg
        assert not n.commands
    finally:
        await source.stop()


async def test_accept_new_host_keys_records_the_key(fake: Any, tmp_path: Path) -> None:
    n = await fake("edge-new")
    kh = tmp_path / "sub" / "known_hosts"
    source = KeepalivedSshNode(spec(n), options(kh, accept_new_host_keys=True))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        line = kh.read_text().split()
        assert line[0] == f"[127.0.0.1]:{n.port}"
        assert asyncssh.import_public_key(f"{line[1]} {line[2]}") == \
            n.host_key.convert_to_public()
    finally:
        await source.stop()


async def test_lost_connection_goes_stale_and_reconnects_with_backoff(fake: Any,
                                                                      tmp_path: Path) -> None:
    n = await fake("edge-flaky")
    kh = known_hosts_for(tmp_path, n)
    source = KeepalivedSshNode(spec(n), options(kh))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        port = n.port
        await n.stop()  # server gone and connections cut
        stale = await rec.wait(lambda: [h for h in rec.of(ev.SourceHealth)
                                        if not h.ok and "stale" in h.detail])
        assert "reconnecting in" in stale[0].detail
        assert not rec.view.nodes["edge-flaky"].health_ok
        await rec.wait(lambda: len([h for h in rec.of(ev.SourceHealth) if not h.ok]) >= 3)
        assert source.link is not None and source.link.backoff.attempt >= 2
        await n.start(port)
        seen = len(rec.of(ev.NodeSeen))
        await rec.wait(lambda: len(rec.of(ev.NodeSeen)) > seen, timeout=5)
        await rec.wait(lambda: rec.view.nodes["edge-flaky"].health_ok)
        polls = source.polls
        await rec.wait(lambda: source.polls > polls)
    finally:
        await source.stop()


async def test_one_hanging_node_does_not_block_the_others(fake: Any, tmp_path: Path) -> None:
    good = await fake("good")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept the TCP connection, never speak SSH

    tarpit = await asyncio.start_server(silent, "127.0.0.1", 0)
    tar_port = tarpit.sockets[0].getsockname()[1]
    inv = parse_inventory(
        f'[[node]]\nname = "tarpit"\nhost = "127.0.0.1"\nport = {tar_port}\ninterval = 0.1\n'
        f'[[node]]\nname = "good"\nhost = "127.0.0.1"\nport = {good.port}\ninterval = 0.1\n')
    fleet = SshFleet(inv, options(known_hosts_for(tmp_path, good), connect_timeout=30.0))
    rec = Recorder()
    began = time.monotonic()
    await fleet.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState, "good"), timeout=3)
        assert time.monotonic() - began < 3
        ok, detail = await asyncio.wait_for(fleet.execute(cmd.StopService("tarpit")), 2)
        assert not ok and "not connected" in detail
    finally:
        await asyncio.wait_for(fleet.stop(), 5)
        tarpit.close()


# ------------------------------------------------------------------ actions


async def test_service_actions_run_the_quoted_templates(fake: Any, tmp_path: Path) -> None:
    n = await fake("edge 5")
    n.respond(r"^printf", lambda script: (0, subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True).stdout, ""))
    n.respond(r"^false", lambda script: (3, "", "nginx: [emerg] bind() failed\n"))
    s = spec(n, service="ng'inx", pidfile="/run/a b.pid",
             commands={"stop_service": "printf '%s|' {node} {service} {pidfile}",
                       "start_service": "false {service}"})
    source = KeepalivedSshNode(s, options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: source.link is not None and source.link.conn is not None)
        ok, detail = await source.execute(cmd.StopService("edge 5", service="ng'inx"))
        assert ok, detail
        ran = next(c for c in n.commands if c.startswith("printf"))
        assert shlex.split(ran) == ["printf", "%s|", "edge 5", "ng'inx", "/run/a b.pid"]
        ok, detail = await source.execute(cmd.StartService("edge 5", service="ng'inx"))
        assert not ok and "exit status 3" in detail and "bind() failed" in detail
        results = rec.of(ev.CommandResult)
        assert [r.ok for r in results] == [True, False]
    finally:
        await source.stop()


async def test_failover_stops_waits_for_new_master_and_starts_again(fake: Any,
                                                                    tmp_path: Path) -> None:
    a = await fake("a", addresses=["192.0.2.11", "192.0.2.100"])
    b = await fake("b", addresses=["192.0.2.12"])
    a.set_state(2, base_priority=150, effective_priority=150)
    order: list[str] = []

    def stop_a(script: str) -> tuple[int, str, str]:
        order.append("stop")
        a.pid, a.addresses = "", ["192.0.2.11"]
        b.set_state(2)
        b.addresses = ["192.0.2.12", "192.0.2.100"]
        return 0, "", ""

    def start_a(script: str) -> tuple[int, str, str]:
        order.append("start")
        a.pid = "5151"
        a.set_state(1)
        return 0, "", ""

    a.respond(r"stop keepalived", stop_a)
    a.respond(r"start keepalived", start_a)
    kh = known_hosts_for(tmp_path, a, b)
    inv = parse_inventory(
        f'[[node]]\nname = "a"\nhost = "127.0.0.1"\nport = {a.port}\ninterval = 0.1\n'
        f'[[node]]\nname = "b"\nhost = "127.0.0.1"\nport = {b.port}\ninterval = 0.1\n')
    fleet = SshFleet(inv, options(kh))
    rec = Recorder()
    await fleet.start(rec)
    try:
        await rec.wait(lambda: rec.view.master_of("VI_1") == "a" and
                       rec.of(ev.InstanceState, "b"))
        warning = fleet.warning(cmd.Failover("a", "VI_1"))
        assert "preemption is on" in warning and "150" in warning
        ok, detail = await fleet.execute(cmd.Failover("a", "VI_1"))
        assert ok, detail
        assert order == ["stop", "start"]
        assert "b is MASTER of VRID 51" in detail and "started again on a" in detail
        assert "preemption will pull the VIP back" in detail
        await rec.wait(lambda: rec.view.vips["192.0.2.100"].owner == "b")
        ok, detail = await fleet.execute(cmd.Failover("b", "VI_2"))
        assert not ok and "not MASTER" in detail
    finally:
        await fleet.stop()


async def test_console_confirmation_shows_the_preemption_warning_without_asking_the_node(
        fake: Any, tmp_path: Path) -> None:
    """`f` on a keepalived master: the dialog carries the fleet's preemption warning,
    computed from the dumps already read; opening it sends nothing to the node."""
    from haconsole.console.app import HAConsoleApp
    from haconsole.console.screens import ConfirmScreen

    a = await fake("a", addresses=["192.0.2.11", "192.0.2.100"])
    b = await fake("b", addresses=["192.0.2.12"])
    a.set_state(2, base_priority=150, effective_priority=150)
    inv = parse_inventory(
        f'[[node]]\nname = "a"\nhost = "127.0.0.1"\nport = {a.port}\ninterval = 0.1\n'
        f'[[node]]\nname = "b"\nhost = "127.0.0.1"\nport = {b.port}\ninterval = 0.1\n')
    fleet = SshFleet(inv, options(known_hosts_for(tmp_path, a, b)))
    app = HAConsoleApp([fleet], cluster="unit", kind="ssh", confirm=True)

    def warning_shown() -> str:
        found = app.screen.query("#confirm-warning")
        return str(found.first().render()) if found else ""

    async with app.run_test(size=(120, 36)) as pilot:
        end = time.monotonic() + 10
        while not (app.view.master_of("VI_1") == "a" and ("b", "VI_1") in app.view.instances):
            assert time.monotonic() < end, "a MASTER and b seen, within 10 s"
            await pilot.pause(0.05)
        sent = (list(a.exec_strings), list(a.commands))
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        text = warning_shown()
        assert text.startswith("\u26a0 VI_1: preemption is on and a has the highest priority "
                               "(150)") and "takes the VIP straight back" in text
        assert (a.exec_strings, a.commands) == sent  # no remote call for the dialog
        assert PASSWORD not in app.export_screenshot()
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert not any("stop keepalived" in c for c in a.commands)
    await asyncio.wait_for(fleet.stop(), 5)


async def test_no_preemption_warning_with_nopreempt(fake: Any, tmp_path: Path) -> None:
    a = await fake("np", instances=[ka_instance(state=2, nopreempt=True)])
    source = KeepalivedSshNode(spec(a), options(known_hosts_for(tmp_path, a)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        assert source.warning(cmd.Failover("np", "VI_1")) == ""
    finally:
        await source.stop()


async def test_readonly_fleet_refuses_destructive_commands(tmp_path: Path) -> None:
    inv = parse_inventory('[[node]]\nname = "x"\nhost = "127.0.0.1"\nport = 9\n')
    fleet = SshFleet(inv, options(tmp_path / "kh"), readonly=True)
    ok, detail = await fleet.execute(cmd.StopService("x"))
    assert not ok and "read-only" in detail
    assert not fleet.supports(cmd.Failover)
    assert fleet.supports(cmd.StartService)


# ------------------------------------------------------------------ agent nodes


async def test_agent_node_relays_events_and_commands(fake: Any, tmp_path: Path) -> None:
    n = await fake("agent1")
    n.agent_events = [
        ev.InstanceState(1.0, "agent-host", instance="VI_1", vrid=51, state="MASTER",
                         base_priority=150, effective_priority=150,
                         vips=("192.0.2.100",)).to_dict(),
        ev.Transition(2.0, "agent-host", instance="VI_1", old="BACKUP", new="MASTER",
                      reason="advert timeout").to_dict(),
    ]
    source = AgentSshNode(spec(n, kind="haconsole"), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.Transition))
        assert all(e.node == "agent1" for e in rec.events)
        assert source.agent_name == "agent-host"
        assert rec.view.master_of("VI_1") == "agent1"
        await rec.wait(lambda: any("not JSON" in e.text for e in rec.of(ev.LogLine)))
        ok, detail = await source.execute(cmd.Failover("agent1", "VI_1"))
        assert ok and detail == "did failover"
        ok, _ = await source.execute(cmd.StopService("agent1", service="nginx"))
        assert ok
        reqs = [r for r in n.agent_requests if r["cmd"] != "subscribe"]
        assert reqs[0] == {"id": 1, "cmd": "failover", "instance": "VI_1"}
        assert reqs[1] == {"id": 2, "cmd": "stop-service", "service": "nginx"}
        assert "haconsole agent ctl --stream" in n.commands
    finally:
        await source.stop()
