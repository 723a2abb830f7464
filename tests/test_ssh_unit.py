"""SSH sources against in-process asyncssh servers on 127.0.0.1 (no sshd, no root).

Each `FakeNode` is an SSH server with a generated host key that answers the commands the
sources send: the poll loop (keepalived JSON dump, `ip -j addr`, service check, the data
dump's script results), the agent stream, and action templates (recorded, with scripted
effects). The clock and log scripts run for real in a local `sh` (real `tail`, `wc`,
`sed` on real files), with two stand-ins first on PATH: `journalctl` (a small journal
kept in a JSON-lines file, with cursors, `--since`, `--after-cursor` and `-f`) and `date`
(the local clock shifted by CLOCK_SHIFT, in zone CLOCK_ZONE): the node's clock.
Everything waits on conditions with timeouts; nothing sleeps blindly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.cli import main_connect
from haconsole.sources.agent_ssh import AgentSshSource
from haconsole.sources.connect import FleetSource, parse_since
from haconsole.sources.inventory import NodeSpec, parse_inventory
from haconsole.sources.keepalived_remote import (
    LogPlan,
    log_script,
    parse_poll_block,
    parse_script_status,
    poll_script,
)
from haconsole.sources.keepalived_ssh import KeepalivedSource
from haconsole.sources.ssh import (
    CLOCK_SCRIPT,
    Backoff,
    HistoryMerge,
    SshOptions,
    TemplateError,
    best_offset,
    parse_clock,
    parse_zone,
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


FAKE_JOURNALCTL = f"""#!{sys.executable}
# journalctl as the sources call it, over a JSON-lines journal: {{"cursor", "t", "line"}}.
import json, os, sys, time
path = os.environ["FAKE_JOURNAL"]
args = sys.argv[1:]
with open(path + ".argv", "a") as f:
    f.write(json.dumps(args) + "\\n")
def opt(name):
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
def read():  # whole lines only: a writer may be half-way through one
    with open(path) as f:
        return [json.loads(x) for x in f.read().split("\\n")[:-1] if x.strip()]
entries = read()
since, after, lines = opt("--since"), opt("--after-cursor"), opt("--lines")
until = opt("--until")
if until is not None:
    picked = [e for e in entries if e["t"] <= float(until.lstrip("@"))]
elif after is not None:
    cursors = [e["cursor"] for e in entries]
    picked = entries[cursors.index(after) + 1:]
elif since is not None:
    picked = [e for e in entries if e["t"] >= float(since.lstrip("@"))]
else:
    picked = entries
if lines not in (None, "all"):
    picked = picked[len(picked) - int(lines):] if int(lines) else []
for e in picked:
    print(e["line"])
if "--show-cursor" in args and picked:
    print("-- cursor: " + picked[-1]["cursor"])
sys.stdout.flush()
if "-f" in args:
    seen = len(entries)
    while True:
        time.sleep(0.005)
        entries = read()
        for e in entries[seen:]:
            print(e["line"], flush=True)
        seen = len(entries)
"""

FAKE_DATE = """#!/bin/sh
case "$1" in
  +%z) printf '%s\\n' "${{CLOCK_ZONE:-+0000}}" ;;
  +%s.%N) awk -v s="$({date} +%s.%N)" -v d="${{CLOCK_SHIFT:-0}}" \\
          'BEGIN {{ printf "%.6f\\n", s + d }}' ;;
  *) exec {date} "$@" ;;
esac
"""

SCRIPTS_SECTION = """------< VRRP Scripts >------
 VRRP Script = chk_nginx
   Command = '/etc/keepalived/chk nginx.sh'
   Rise = 1
   Fall = 1
   Result = 0
   Init state = unknown
   Status = {status}
 VRRP Script = chk_new
   Init state = INIT
   Status = BAD
------< Interfaces >------
"""


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
    agent_events: list[dict[str, Any]] = field(default_factory=list)
    agent_requests: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    requests: list[str] = field(default_factory=list)  # what the poll loop read
    script_status: str = ""  # "GOOD"/"BAD": the data dump's chk_nginx (on `scripts`)
    home: Path = Path("/nonexistent")  # the node's files: fake bin, journal
    clock_shift: float = 0.0  # the node's clock - ours
    zone: str = "+0000"
    shells: list[asyncio.subprocess.Process] = field(default_factory=list)
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

    @property
    def journal(self) -> Path:
        return self.home / "journal.jsonl"

    def journal_calls(self) -> list[list[str]]:
        path = self.home / "journal.jsonl.argv"
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    def add_journal(self, line: str, t: float | None = None) -> str:
        """Append an entry (`line` printed as is); its cursor has characters a shell
        would act on, so using it anywhere but as data would show."""
        count = len(self.journal.read_text().splitlines()) if self.journal.exists() else 0
        cursor = f"s=ab'$(touch {self.home}/pwned);i={count:x};b=\"x y\""
        with self.journal.open("a") as f:
            f.write(json.dumps({"cursor": cursor, "t": time.time() if t is None else t,
                                "line": line}) + "\n")
        return cursor

    def prepare(self, home: Path) -> None:
        self.home = home
        (home / "bin").mkdir(parents=True)
        self.journal.write_text("")
        for name, text in (("journalctl", FAKE_JOURNALCTL),
                           ("date", FAKE_DATE.format(date=shutil.which("date")))):
            (home / "bin" / name).write_text(text)
            (home / "bin" / name).chmod(0o755)

    def poll_block(self, boundary: str, request: str = "") -> str:
        self.polls += 1
        self.requests.append(request)
        out = [f"{boundary} pid {self.pid}"]
        if self.pid:
            for inst in self.instances:
                inst["stats"]["advert_sent"] += 1 if inst["data"]["state"] == 2 else 0
                inst["stats"]["advert_rcvd"] += 0 if inst["data"]["state"] == 2 else 1
            if self.json_supported:
                out += [f"{boundary} json", json.dumps(self.instances)]
                if request == "scripts" and self.script_status:
                    out += [f"{boundary} scripts",
                            SCRIPTS_SECTION.format(status=self.script_status)]
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
        for proc in self.shells:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.shells:
            await proc.wait()
        self.shells.clear()

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
            elif script == CLOCK_SCRIPT or '"$B live"' in script:
                await self._shell(process, script)
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
        async for line in process.stdin:
            process.stdout.write(self.poll_block(boundary, line.strip()))

    async def _shell(self, process: asyncssh.SSHServerProcess[str], script: str) -> None:
        """Run the script in a local sh with the node's stand-ins first on PATH."""
        env = {**os.environ, "PATH": f"{self.home / 'bin'}:{os.environ.get('PATH', '')}",
               "FAKE_JOURNAL": str(self.journal), "CLOCK_SHIFT": repr(self.clock_shift),
               "CLOCK_ZONE": self.zone}
        proc = await asyncio.create_subprocess_exec(
            "sh", "-c", script, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            start_new_session=True)
        self.shells.append(proc)
        assert proc.stdin is not None and proc.stdout is not None

        async def feed() -> None:
            assert proc.stdin is not None
            async for line in process.stdin:
                proc.stdin.write(line.encode())
                await proc.stdin.drain()

        feeder = asyncio.get_running_loop().create_task(feed())
        try:
            while chunk := await proc.stdout.read(65536):
                process.stdout.write(chunk.decode(errors="replace"))
        finally:
            feeder.cancel()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

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
async def fake(tmp_path: Path) -> Any:
    nodes: list[FakeNode] = []

    async def make(name: str, **kw: Any) -> FakeNode:
        node = FakeNode(name, **kw)
        node.prepare(tmp_path / f"node-{len(nodes)}")
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
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)))
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
        states = len(rec.of(ev.InstanceState))
        await rec.wait(lambda: source.polls >= polls + 3)
        assert len(rec.of(ev.VipRemoved)) == 1
        assert len(rec.of(ev.InstanceState)) == states  # unchanged snapshots are not resent
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
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)))
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
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)))
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


def iso(t: float) -> str:
    """A `journalctl -o short-iso-precise` stamp (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}+0000"


def ka(t: float, message: str, host: str = "edge") -> str:
    return f"{iso(t)} {host} Keepalived_vrrp[7]: {message}"


async def test_history_from_journald_then_live_without_gap_or_duplicate(
        fake: Any, tmp_path: Path) -> None:
    """The past with its own times (a failover 20 min ago), a line older than the window
    only teaching the parser, HistoryEnd, the held dump; then live lines from the cursor
    on, stamped at arrival. Lines written all through the attach appear exactly once."""
    n = await fake("edge3")
    n.set_state(2, last_transition=time.time() - 600.0)
    now = time.time()
    n.add_journal(ka(now - 7200, "(VI_1) Entering BACKUP STATE"), now - 7200)
    n.add_journal(ka(now - 1200, "(VI_1) Receive advertisement timeout"), now - 1200)
    n.add_journal(ka(now - 1200, "(VI_1) Entering MASTER STATE"), now - 1200)
    n.add_journal(ka(now - 1200, "(VI_1) setting VIPs."), now - 1200)
    stop = asyncio.Event()

    async def markers() -> int:  # the node keeps logging while we attach
        i = 0
        while not stop.is_set():
            n.add_journal(ka(time.time(), f"marker {i}"))
            i += 1
            await asyncio.sleep(0.002)
        return i

    writer = asyncio.get_running_loop().create_task(markers())
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)),
                               since=3600, since_label="1h")
    rec = Recorder()
    await source.start(rec)
    try:
        end = await rec.wait(lambda: rec.of(ev.HistoryEnd))
        await rec.wait(lambda: any(e.t > end[0].t and e.text.startswith("marker")
                                   for e in rec.of(ev.LogLine)))
        stop.set()
        written = await writer
        await rec.wait(lambda: f"marker {written - 1}" in [e.text for e in rec.of(ev.LogLine)])
        texts = [e.text for e in rec.of(ev.LogLine) if e.text.startswith("marker")]
        assert texts == [f"marker {i}" for i in range(written)]  # no gap, no repeat
        at = rec.events.index(end[0])
        history, live = rec.events[:at], rec.events[at + 1:]
        assert end[0].source == "journalctl --since 1h" and end[0].node == "edge3"
        # the past: a transition 20 min ago with its own time, old state from the line
        # before the window; the 2 h old line is not published
        (past,) = [e for e in history if isinstance(e, ev.Transition)]
        assert (past.old, past.new, past.reason) == ("BACKUP", "MASTER", "advert timeout")
        assert abs(past.t - (now - 1200)) < 0.5
        assert not any(e.t < now - 3601 for e in history if isinstance(e, ev.LogLine))
        assert next(e for e in history if isinstance(e, ev.VipAdded)).t == past.t
        # the window opened with VI_1 in its router (VRID 51), BACKUP then
        opened = next(e for e in history if isinstance(e, ev.InstanceState))
        assert (opened.vrid, opened.state, opened.since) == (51, "BACKUP", None)
        assert history.index(opened) < history.index(past)
        assert end[0].events == sum(not isinstance(e, ev.NodeSeen | ev.SourceHealth |
                                                   ev.ClockOffset) for e in history)
        # then the dump held back at attach, stamped when it was read (before the past
        # was), its `since` the node's last transition
        state = next(e for e in live if isinstance(e, ev.InstanceState))
        assert state.t < end[0].t and abs(state.since - (now - 600)) < 0.5
        # live lines: stamped on arrival, not with the node's clock
        first_live = next(e for e in live if isinstance(e, ev.LogLine))
        assert first_live.t >= end[0].t
        # the cursor went from journalctl's output to its next run inside the node's
        # shell, as data: nothing was run from it, and it came back intact
        primer, window, follow = n.journal_calls()
        assert "--until" in primer and "--show-cursor" in window
        assert follow[follow.index("--after-cursor") + 1].startswith("s=ab'$(touch")
        assert not (n.home / "pwned").exists()
        assert rec.view.transitions[0].t == past.t
    finally:
        stop.set()
        await source.stop()


@pytest.mark.parametrize("restarted", [False, True])
async def test_the_window_opens_with_each_instance_as_it_was(fake: Any, tmp_path: Path,
                                                             restarted: bool) -> None:
    """MASTER for 2 h, nothing logged in the last hour: the window opens with VI_1 MASTER
    since the takeover, and the VIP held since then. keepalived started 10 min ago
    instead: it was not running when the window opened (INIT), and its start-up "removing
    VIPs." does not make a VIP it never had."""
    n = await fake("w", addresses=["192.0.2.11", "192.0.2.100"])
    now = time.time()
    took_over = now - (600 if restarted else 7200)
    n.set_state(2, last_transition=took_over)
    if restarted:
        for message in ("(VI_1) removing VIPs.", "(VI_1) Entering BACKUP STATE (init)",
                        "(VI_1) Receive advertisement timeout", "(VI_1) Entering MASTER STATE",
                        "(VI_1) setting VIPs."):
            n.add_journal(ka(took_over, message), took_over)
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)), since=3600)
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.HistoryEnd) and rec.view.vips.get("192.0.2.100"))
        opened = rec.of(ev.InstanceState)[0]
        vip = rec.view.vips["192.0.2.100"]
        assert (vip.owner, abs(vip.since - took_over) < 0.5) == ("w", True)
        assert len(rec.of(ev.VipAdded)) == 1
        if restarted:
            assert (opened.state, opened.since) == ("INIT", None)
            assert opened.t == pytest.approx(now - 3600, abs=2)
            assert [(t.old, t.new) for t in rec.of(ev.Transition)] == [
                ("INIT", "BACKUP"), ("BACKUP", "MASTER")]
        else:
            assert (opened.state, opened.t) == ("MASTER", pytest.approx(took_over, abs=0.5))
            assert not rec.of(ev.Transition)
        assert rec.view.instances[("w", "VI_1")].state == "MASTER"
    finally:
        await source.stop()


async def test_history_from_a_log_file_follows_from_its_byte_offset(fake: Any,
                                                                   tmp_path: Path) -> None:
    """The inventory's log file (a path with a space and a quote): its last lines, then
    `tail -F` from the byte where they ended. A writer appends all along: every line once."""
    n = await fake("edge4")
    log = tmp_path / "keep alived's.log"
    began = time.time()
    with log.open("w") as f:
        f.write("Thu Jan  1 00:00:01 1970: (VI_1) Entering MASTER STATE\n")  # too old
        f.write(time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(began - 30))
                + ": (VI_1) Entering BACKUP STATE\n")
    stop = False

    def append() -> int:
        i = 0
        with log.open("a") as f:
            while not stop:
                stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime())
                f.write(f"{stamp}: line {i}\n")
                f.flush()
                i += 1
                time.sleep(0.001)
        return i

    writer = asyncio.get_running_loop().run_in_executor(None, append)
    source = KeepalivedSource(spec(n, log_file=str(log)),
                               options(known_hosts_for(tmp_path, n)), since=120,
                               since_label="2m")
    rec = Recorder()
    await source.start(rec)
    try:
        end = await rec.wait(lambda: rec.of(ev.HistoryEnd))
        assert end[0].source == f"{log} --since 2m"
        await rec.wait(lambda: any(e.t > end[0].t and e.text.startswith("line")
                                   for e in rec.of(ev.LogLine)))
        stop = True
        written = await writer
        await rec.wait(lambda: f"line {written - 1}" in [e.text for e in rec.of(ev.LogLine)])
        lines = [e.text for e in rec.of(ev.LogLine) if e.text.startswith("line")]
        assert lines == [f"line {i}" for i in range(written)]
        (past,) = [e for e in rec.of(ev.Transition) if e.t < began]
        assert past.new == "BACKUP" and abs(past.t - (began - 30)) < 1.5
        assert not [e for e in rec.of(ev.LogLine) if e.t < began - 3600]
        script = next(c for c in n.commands if '"$B live"' in c)
        assert render_template("F={log_file}", {"log_file": str(log)}) in script
    finally:
        stop = True
        await source.stop()


async def test_clock_offset_corrects_the_past_and_syslog_stamps_use_the_node_zone(
        fake: Any, tmp_path: Path) -> None:
    """The node's clock is 1 h 0.5 s ahead and it lives in +05:30: the offset is measured
    (midpoint of the round trip), syslog stamps (no year, no zone) are read in the node's
    zone and year, and the past lands on our clock."""
    n = await fake("skewed", clock_shift=3600.5, zone="+0530")
    log = tmp_path / "messages"
    when = time.time() - 300  # our clock
    node_local = time.gmtime(when + 3600.5 + 5.5 * 3600)
    log.write_text(time.strftime("%b %e %H:%M:%S", node_local)
                   + " skewed Keepalived_vrrp[7]: (VI_1) Entering MASTER STATE\n")
    source = KeepalivedSource(spec(n, log_file=str(log)),
                               options(known_hosts_for(tmp_path, n)), since=3600)
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.HistoryEnd))
        (offset,) = rec.of(ev.ClockOffset)
        assert abs(offset.offset - 3600.5) <= offset.error + 0.05
        assert 0 < offset.error < 0.5
        assert rec.view.nodes["skewed"].clock_offset == offset.offset
        (past,) = [e for e in rec.of(ev.Transition) if e.t < time.time() - 100]
        assert abs(past.t - (int(when + 0.5) - 0.5)) < 1.0 + offset.error  # whole seconds
        assert "clock-skew" in [a.kind for a in rec.view.alarms(time.time())]
    finally:
        await source.stop()


async def test_since_zero_reads_no_history_and_the_vip_since_is_the_takeover(
        fake: Any, tmp_path: Path) -> None:
    n = await fake("live", addresses=["192.0.2.11", "192.0.2.100"])
    took_over = time.time() - 100
    n.set_state(2, last_transition=took_over)
    n.add_journal(ka(time.time() - 10, "(VI_1) Entering MASTER STATE"))
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)), since=0)
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.VipAdded) and n.journal_calls())
        n.add_journal(ka(time.time(), "(VI_1) Entering BACKUP STATE"))
        await rec.wait(lambda: rec.of(ev.Transition))
        assert not rec.of(ev.HistoryEnd)
        assert [e.text for e in rec.of(ev.LogLine)] == ["(VI_1) Entering BACKUP STATE"]
        assert n.journal_calls()[0][-2:] == ["-f", "--lines=0"]
        # facts as they are: the VIP and the state since the takeover the node reports
        assert abs(rec.view.vips["192.0.2.100"].since - took_over) < 0.5
        assert abs(rec.of(ev.InstanceState)[0].since - took_over) < 0.5
    finally:
        await source.stop()


async def test_a_failing_check_shows_from_the_data_dump(fake: Any, tmp_path: Path) -> None:
    """The JSON dump has no script results: at attach (and when a priority moves) the poll
    asks for the data dump's `VRRP Scripts`, so a check failing before we came shows."""
    n = await fake("checks", script_status="BAD")
    n.instances[0]["data"]["effective_priority"] = 40
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)), since=0)
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.TrackResult))
        assert rec.view.nodes["checks"].tracks == {"chk_nginx": False}  # not chk_new
        assert rec.view.nodes["checks"].failing() == ["chk_nginx failing"]
        assert n.requests[0] == "scripts" and set(n.requests[1:]) <= {""}
        n.script_status = "GOOD"
        n.instances[0]["data"]["effective_priority"] = 100
        await rec.wait(lambda: rec.view.nodes["checks"].tracks == {"chk_nginx": True})
        assert n.requests.count("scripts") == 2
        polls = source.polls
        await rec.wait(lambda: source.polls >= polls + 3)
        assert n.requests.count("scripts") == 2 and len(rec.of(ev.TrackResult)) == 2
    finally:
        await source.stop()


def test_parse_script_status_reads_the_data_dump() -> None:
    assert parse_script_status((DATA / "keepalived.data").read_text()) == {"chk_nginx": True}
    assert parse_script_status(SCRIPTS_SECTION.format(status="BAD")) == {"chk_nginx": False}


@pytest.mark.parametrize("journal", [True, False])
@pytest.mark.parametrize("plan", [LogPlan(), LogPlan(1.7e9, 50), LogPlan(1.7e9, 0, after=True)])
def test_log_scripts_are_valid_sh(journal: bool, plan: LogPlan) -> None:
    s = NodeSpec(name="n", host="h", log_file="" if journal else "/var/log/a b'c.log")
    script = log_script(s, "0123abcd", plan)
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert 'echo "$B live"' in script


async def test_journalctl_is_the_default_log_follower(fake: Any, tmp_path: Path) -> None:
    n = await fake("edge4")
    source = KeepalivedSource(spec(n, sudo=True), options(known_hosts_for(tmp_path, n)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: len(n.journal_calls()) >= 3)
        calls = n.journal_calls()
        assert all(c[:6] == ["-u", "keepalived", "-o", "short-iso-precise", "--no-pager",
                             "-q"] for c in calls)
        assert "--since" in calls[1] and "--show-cursor" in calls[1]
        assert all(s.startswith("sudo -n sh -c ") for s in n.exec_strings
                   if CLOCK_SCRIPT not in s)
    finally:
        await source.stop()


async def test_history_resumes_after_the_last_line_seen_when_the_connection_comes_back(
        fake: Any, tmp_path: Path) -> None:
    """Lines logged while the connection was down are read on reconnect, as history after
    the last line seen; nothing seen before is published twice."""
    n = await fake("flaky")
    n.set_state(2)
    n.add_journal(ka(time.time() - 60, "before we came"), time.time() - 60)
    source = KeepalivedSource(spec(n), options(known_hosts_for(tmp_path, n)), since=3600)
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.HistoryEnd))
        n.add_journal(ka(time.time(), "live one"))
        await rec.wait(lambda: "live one" in [e.text for e in rec.of(ev.LogLine)])
        port = n.port
        await n.stop()
        await rec.wait(lambda: not rec.view.nodes["flaky"].health_ok)
        n.set_state(1)
        n.add_journal(ka(time.time(), "(VI_1) Entering BACKUP STATE"))
        n.add_journal(ka(time.time(), "while we were away"))
        await n.start(port)
        ends = await rec.wait(lambda: len(rec.of(ev.HistoryEnd)) == 2 and rec.of(ev.HistoryEnd))
        assert ends[1].source == "journalctl after the last line seen" and ends[1].events > 0
        texts = [e.text for e in rec.of(ev.LogLine) if not e.text.startswith("[haconsole]")]
        assert texts == ["before we came", "live one", "(VI_1) Entering BACKUP STATE",
                         "while we were away"]
        away = next(e for e in rec.events if isinstance(e, ev.Transition))
        assert (away.old, away.new) == ("MASTER", "BACKUP")  # old: what we knew, not INIT
    finally:
        await source.stop()


async def test_a_fleet_attaching_after_an_incident_shows_its_failovers_and_flapping(
        fake: Any, tmp_path: Path) -> None:
    """Two nodes' journals of a failover and a failback (twice) that happened before the
    console started: the fleet publishes both pasts merged in time order, so the view
    folds them as one story: Failovers panel and the flapping alarm."""
    now = time.time()
    a = await fake("a", addresses=["192.0.2.11", "192.0.2.100"])
    b = await fake("b", addresses=["192.0.2.12"])
    a.set_state(2, base_priority=150, effective_priority=150, last_transition=now - 5)
    b.set_state(1, last_transition=now - 5)
    script = [(0, a, "(VI_1) Entering MASTER STATE"), (0, a, "(VI_1) setting VIPs."),
              (0, b, "(VI_1) Entering BACKUP STATE")]
    for k in (0, 30):
        script += [
            (k + 1, a, "VRRP_Script(chk_nginx) failed (exited with status 1)"),
            (k + 1, a, "(VI_1) Changing effective priority from 150 to 90"),
            (k + 4, b, "(VI_1) Receive advertisement timeout"),
            (k + 4, b, "(VI_1) Entering MASTER STATE"),
            (k + 4, b, "(VI_1) setting VIPs."),
            (k + 4.1, a, "(VI_1) Master received advert from 192.0.2.12 with higher "
                         "priority 100, ours 90"),
            (k + 4.1, a, "(VI_1) Entering BACKUP STATE"),
            (k + 4.1, a, "(VI_1) removing VIPs."),
            (k + 15, a, "VRRP_Script(chk_nginx) succeeded"),
            (k + 15, a, "(VI_1) Changing effective priority from 90 to 150"),
            (k + 18, a, "(VI_1) Entering MASTER STATE"),
            (k + 18, a, "(VI_1) setting VIPs."),
            (k + 18.1, b, "(VI_1) Master received advert from 192.0.2.11 with higher "
                          "priority 150, ours 100"),
            (k + 18.1, b, "(VI_1) Entering BACKUP STATE"),
            (k + 18.1, b, "(VI_1) removing VIPs.")]
    start = now - 52
    for dt, node, message in script:
        node.add_journal(ka(start + dt, message, node.name), start + dt)
    inv = parse_inventory(
        f'[[node]]\nname = "a"\nhost = "127.0.0.1"\nport = {a.port}\ninterval = 0.1\n'
        f'[[node]]\nname = "b"\nhost = "127.0.0.1"\nport = {b.port}\ninterval = 0.1\n')
    fleet = FleetSource(inv, options(known_hosts_for(tmp_path, a, b)), since=600,
                     since_label="10m")
    rec = Recorder()
    await fleet.start(rec)
    try:
        await rec.wait(lambda: len(rec.of(ev.HistoryEnd)) == 2 and
                       rec.view.master_of("VI_1") == "a")
        moves = [(f.old_master, f.new_master, f.cause) for f in rec.view.failovers]
        assert moves == [("a", "b", "priority 150→90 on a (chk_nginx failed (weight -60))"),
                         ("b", "a", "priority 90→150 on a")] * 2
        first = rec.view.failovers[0]
        # cause on a, election on b: each node's clock offset is measured on its own
        # (±their errors), so the interval carries both
        errors = sum(e.error for e in rec.of(ev.ClockOffset))
        assert first.group == (51, 4, "")
        assert first.cause_t == pytest.approx(start + 1, abs=errors + 1e-3)
        assert first.elected_ms == pytest.approx(3000, abs=1000 * errors + 1)
        assert first.vip_t is not None
        assert not rec.view.pending
        alarm = next(x for x in rec.view.alarms(time.time()) if x.kind == "flapping")
        assert alarm.node in ("a", "b") and alarm.since < now - 40
        # both pasts went out before either HistoryEnd, in one time order
        at = min(rec.events.index(e) for e in rec.of(ev.HistoryEnd))
        times = [e.t for e in rec.events[:at] if e.node in ("a", "b") and
                 not isinstance(e, ev.NodeSeen | ev.SourceHealth | ev.ClockOffset)]
        assert times == sorted(times)
        assert fleet.view.view.failovers == rec.view.failovers  # the fleet's own fold
    finally:
        await fleet.stop()


async def test_history_merge_orders_waits_and_lets_latecomers_go_alone() -> None:
    out: list[tuple[str, float]] = []

    def publish(event: ev.Event) -> None:
        out.append((event.node if not isinstance(event, ev.HistoryEnd) else "end",
                    event.t))

    def past(node: str, *ts: float) -> list[ev.Event]:
        return [ev.LogLine(t, node, "x") for t in ts]

    merge = HistoryMerge(["a", "b", "c"], wait=0.2)
    merge.withdraw("c")  # cannot connect: not waited for
    first = asyncio.get_running_loop().create_task(
        merge.submit("a", past("a", 1, 3, 5), ev.HistoryEnd(9, "a"), publish))
    await asyncio.sleep(0)
    assert not out  # waiting for b
    await merge.submit("b", past("b", 2, 3, 4), ev.HistoryEnd(9, "b"), publish)
    await first
    assert out == [("a", 1), ("b", 2), ("a", 3), ("b", 3), ("b", 4), ("a", 5),
                   ("end", 9), ("end", 9)]
    out.clear()
    await merge.submit("c", past("c", 7, 6), ev.HistoryEnd(9, "c"), publish)
    assert out == [("c", 6), ("c", 7), ("end", 9)]  # late: alone, in its own order
    # nobody else comes: published after `wait`
    lone = HistoryMerge(["a", "b"], wait=0.05)
    began = time.monotonic()
    out.clear()
    await lone.submit("a", past("a", 1), ev.HistoryEnd(2, "a"), publish)
    assert out == [("a", 1), ("end", 2)] and time.monotonic() - began >= 0.04


def test_clock_readings() -> None:
    assert parse_zone("+0530") == timezone(timedelta(hours=5, minutes=30))
    assert parse_zone("-08:00") == timezone(-timedelta(hours=8))
    assert parse_zone("UTC") is None and parse_zone("+9999") is None
    assert parse_clock("1796064742.913329774\n") == (1796064742.913329774, 0.0)
    assert parse_clock("1796064742.N") == (1796064742.5, 0.5)  # busybox: no %N
    assert parse_clock("garbage") is None
    # sent, node clock, received, resolution: the tightest round trip wins
    offset, error = best_offset([(100.0, 130.0, 100.4, 0.0), (101.0, 131.06, 101.1, 0.0)])
    assert offset == pytest.approx(30.01) and error == pytest.approx(0.05)


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("1h", 3600), ("30m", 1800),
                                                ("2h", 7200), ("1d", 86400), ("90s", 90),
                                                ("45", 45), ("1.5h", 5400)])
def test_parse_since(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-1h", "h", "1 h", "400d", "nan"])
def test_a_bad_since_is_one_line(text: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="expected a duration like 30m, 2h or 1d"):
        parse_since(text)
    inventory = tmp_path / "inv.toml"
    inventory.write_text('[[node]]\nname = "x"\n')
    args = argparse.Namespace(inventory=str(inventory), since=text, readonly=False,
                              accept_new_host_keys=False)
    assert main_connect(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("haconsole: --since: ")


# ------------------------------------------------------------------ connections


async def test_unknown_host_key_is_refused_with_a_clear_message(fake: Any,
                                                                tmp_path: Path) -> None:
    n = await fake("edge-unknown")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    source = KeepalivedSource(spec(n), options(empty))
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
    source = KeepalivedSource(spec(n), options(kh, accept_new_host_keys=True))
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
    source = KeepalivedSource(spec(n), options(kh, accept_new_host_keys=True))
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
    source = KeepalivedSource(spec(n), options(kh))
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
    # The good node's past waits for the tarpit's at most history_wait s, then goes alone.
    fleet = FleetSource(inv, options(known_hosts_for(tmp_path, good), connect_timeout=30.0),
                     history_wait=0.5)
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
    source = KeepalivedSource(s, options(known_hosts_for(tmp_path, n)))
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
    fleet = FleetSource(inv, options(kh))
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
    fleet = FleetSource(inv, options(known_hosts_for(tmp_path, a, b)))
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
    source = KeepalivedSource(spec(a), options(known_hosts_for(tmp_path, a)))
    rec = Recorder()
    await source.start(rec)
    try:
        await rec.wait(lambda: rec.of(ev.InstanceState))
        assert source.warning(cmd.Failover("np", "VI_1")) == ""
    finally:
        await source.stop()


async def test_readonly_fleet_refuses_destructive_commands(tmp_path: Path) -> None:
    inv = parse_inventory('[[node]]\nname = "x"\nhost = "127.0.0.1"\nport = 9\n')
    fleet = FleetSource(inv, options(tmp_path / "kh"), readonly=True)
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
    source = AgentSshSource(spec(n, kind="haconsole"), options(known_hosts_for(tmp_path, n)))
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
