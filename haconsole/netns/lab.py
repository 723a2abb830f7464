"""A real lab in network namespaces: nginx, VRRP engines and a client, on one machine.

Why: the in-process lab proves the logic; this one proves the packets. Each node is a
namespace with its own eth0 on a shared bridge, a real nginx serving a page that names
the node, and either a haconsole agent or the Debian keepalived, both given the same
generated keepalived.conf (except the nginx check: the agent tracks the process with
pidfds, keepalived polls `pidof nginx` as the classic config does). A client namespace
curls the VIP. Everything lives under one `hac-<pid>-<tag>-` prefix and one work
directory, and `stop()` removes both, also after a failure half-way through `start()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from haconsole.config import Config, TrackProcess, TrackRef, VrrpInstance
from haconsole.netns.confgen import render
from haconsole.netns.topology import (
    Topology,
    cleanup_stale,
    ns_processes,
    process_name,
    run,
    signal_processes,
    spawn,
    start_process,
    stop_process,
)

Engine = Literal["haconsole", "keepalived"]
REPO = Path(__file__).resolve().parent.parent.parent

NGINX_CONF = """\
daemon on;
master_process on;
worker_processes 1;
user root;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 80 default_server;
        listen [::]:80 default_server;
        root {dir}/www;
        location / {{ add_header X-Node {node}; }}
    }}
}}
"""


def write_nginx_conf(directory: Path, node: str) -> Path:
    """nginx.conf for one node in `directory`, where nginx keeps everything it writes
    (pid, logs, temp files) and serves a page naming the node; returns the conf's path."""
    (directory / "www").mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    (directory / "www" / "index.html").write_text(f"{node}\n")
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, node=node))
    return conf


def nginx_argv(directory: Path, action: Literal["start", "stop"]) -> list[str]:
    """Start nginx on `write_nginx_conf(directory, ...)`, or stop it (`-s stop`)."""
    base = ["nginx", "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e",
            str(directory / "nginx-error.log")]
    return base if action == "start" else [*base, "-s", "stop"]


def start_nginx(ns: str, directory: Path, timeout: float = 5.0) -> int:
    """Start the nginx of `directory` inside `ns`; returns its master's pid once the
    pidfile names a live nginx of that namespace (what checks and status commands read)."""
    run(nginx_argv(directory, "start"), ns=ns)
    pidfile = directory / "nginx.pid"

    def master() -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
            if pid in ns_processes(ns, "nginx"):
                return pid
        return None

    return int(wait_for(master, timeout, what=f"nginx in {ns}"))


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; TimeoutError names `what`."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def process_tracked(config: Config, service: str = "nginx") -> Config:
    """The agent's variant: `pidof SERVICE` scripts become event-driven track_process."""
    procs = dict(config.track_processes)
    renamed: dict[str, str] = {}
    scripts = dict(config.vrrp_scripts)
    for name, script in config.vrrp_scripts.items():
        words = script.script.split()
        if len(words) == 2 and words[0] in ("pidof", "/bin/pidof", "/usr/bin/pidof"):
            procs[name] = TrackProcess(name=name, process=words[1], weight=script.weight)
            renamed[name] = name
            del scripts[name]
    instances = []
    for inst in config.vrrp_instances:
        moved = [ref for ref in inst.track_script if ref.name in renamed]
        kept = [ref for ref in inst.track_script if ref.name not in renamed]
        instances.append(dataclasses.replace(
            inst, track_script=kept,
            track_process=[*inst.track_process, *(TrackRef(r.name, r.weight) for r in moved)]))
    return dataclasses.replace(config, vrrp_scripts=scripts, track_processes=procs,
                               vrrp_instances=instances)


HTTP_CHECK = "/usr/bin/curl -s -o /dev/null -m 1 http://127.0.0.1/"


def http_checked(config: Config) -> Config:
    """keepalived's variant: `pidof nginx` sees every namespace's nginx (one pid
    namespace), so keepalived nodes check their own nginx over HTTP instead."""
    scripts = {}
    for name, script in config.vrrp_scripts.items():
        words = script.script.split()
        if len(words) == 2 and words[0] in ("pidof", "/bin/pidof", "/usr/bin/pidof") \
                and words[1] == "nginx":
            script = dataclasses.replace(script, script=HTTP_CHECK)
        scripts[name] = script
    return dataclasses.replace(config, vrrp_scripts=scripts)


def agent_argv(config: Path, control: str | Path, *, name: str,
               pidfile: Path | None = None, services: Iterable[Sequence[str]] = (),
               extra: Iterable[str] = (), fast_preempt: bool = False) -> list[str]:
    """`python -m haconsole.agent` in the foreground, logging keepalived-style to stdout,
    with its control socket at `control`; `services` are (NAME, START, STOP) triples;
    `fast_preempt`: the agent's opt-in fast preemption (`--fast-preempt`)."""
    argv = [sys.executable, "-m", "haconsole.agent", "-f", str(config), "-n", "-l", "-D",
            "-G", "--control", str(control)]
    if pidfile is not None:
        argv += ["-p", str(pidfile)]
    argv += ["--name", name]
    if fast_preempt:
        argv.append("--fast-preempt")
    for service in services:
        argv += ["--service", *service]
    return [*argv, *extra]


def agent_ctl_argv(control: str | Path, *args: str) -> list[str]:
    """`haconsole agent ctl ARGS` on the socket at `control` (`--stream` for SSH)."""
    return [sys.executable, "-m", "haconsole.agent", "--control", str(control), "ctl", *args]


def agent_env() -> dict[str, str]:
    """This environment, with the repository first on PYTHONPATH: the agent must import
    the haconsole under test even where it is not installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def agent_status(control: str | Path) -> dict[str, Any] | None:
    """The agent's `status` reply, or None while it cannot be reached."""
    from haconsole.agent.ctl import CtlError, request

    try:
        return request(str(control), {"cmd": "status"}, timeout=2)
    except (CtlError, OSError, ValueError):
        return None


@functools.cache
def keepalived_has_lvs(binary: str) -> bool:
    """Whether this keepalived has the LVS checker process (and so `-P` and `-c`)."""
    try:
        ran = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return "--checkers_pid" in ran.stdout + ran.stderr


#: A keepalived node's private /tmp (`NetnsLab(private_tmp=True)`): keepalived writes its
#: dumps to the fixed /tmp/keepalived.json, so two nodes on one machine must not share
#: /tmp. A holder process keeps a mount namespace with a tmpfs there ($1: the lab's work
#: directory, bound back in when it lives under /tmp); keepalived and whatever reads
#: its dumps enter it with the node's network namespace (`NetnsLab.enter`).
PRIVATE_TMP = """exec 3<"$1"
mount -t tmpfs -o mode=1777 haconsole-tmp /tmp || exit 1
case "$1" in /tmp/*) mkdir -p "$1" && mount --no-canonicalize --bind /proc/self/fd/3 "$1" \
  || exit 1 ;; esac
exec 3<&-
exec sleep infinity
"""


@dataclass
class NetnsNode:
    name: str
    config: Config
    engine: Engine
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    holder: subprocess.Popen[bytes] | None = None  # its private /tmp (keepalived nodes)

    @property
    def control(self) -> str:
        return str(self.dir / "agent.sock")

    @property
    def log(self) -> Path:
        return self.dir / f"{self.engine}.log"


class NetnsLab:
    """Build with node configs (in node order: addresses .11, .12, ...), then `start()`.
    keepalived nodes run `keepalived_binary` (default: the one on PATH), each with a
    /tmp of its own if `private_tmp` (so its dumps can be read: `PRIVATE_TMP`). The
    haconsole nodes named in `fast_preempt` run the agent with `--fast-preempt`."""

    def __init__(self, configs: dict[str, Config], *,
                 engines: dict[str, Engine] | None = None, nginx: bool = True,
                 client: bool = True, workdir: Path | None = None,
                 agent_args: Iterable[str] = (), keepalived_binary: str = "keepalived",
                 private_tmp: bool = False, fast_preempt: Iterable[str] = ()) -> None:
        self.topology = Topology(list(configs), client=client)
        self.fast_preempt = set(fast_preempt)  # haconsole nodes run with --fast-preempt
        self.keepalived_binary = keepalived_binary
        self.private_tmp = private_tmp
        self.nginx = nginx
        self.agent_args = list(agent_args)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=self.topology.prefix))
        self.nodes: dict[str, NetnsNode] = {}
        for name, config in configs.items():
            engine: Engine = (engines or {}).get(name, "haconsole")
            self.nodes[name] = NetnsNode(name, config, engine, self.workdir / name)
        self.started = False

    # ----------------------------------------------------------------- addresses
    def ipv4(self, node: str) -> str:
        return str(self.topology.hosts[node].ipv4)

    def ns(self, node: str) -> str:
        return self.topology.ns(node)

    # ----------------------------------------------------------------- lifecycle
    def start(self, engines: Iterable[str] | None = None) -> NetnsLab:
        """Build namespaces, start nginx and the engines (all, or those named, in that
        order); everything is removed again on failure."""
        cleanup_stale()
        try:
            self.topology.build()
            for node in self.nodes.values():
                node.dir.mkdir(parents=True, exist_ok=True)
                if self.private_tmp and node.engine == "keepalived":
                    self._start_holder(node)
                if self.nginx:
                    write_nginx_conf(node.dir, node.name)
                    self.start_nginx(node.name)
            for name in (self.nodes if engines is None else engines):
                self.start_engine(name)
            self.started = True
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop engines (SIGTERM), then remove every namespace and the work directory."""
        for node in self.nodes.values():
            if node.proc is not None:
                stop_process(node.proc, timeout=5)
                node.proc = None
        for node in self.nodes.values():
            if node.holder is not None:  # after its keepalived: the private /tmp goes
                stop_process(node.holder, timeout=2)
                node.holder = None
        self.topology.destroy()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _start_holder(self, node: NetnsNode) -> None:
        """The process whose mount namespace holds the node's private /tmp."""
        node.holder = spawn(self.ns(node.name), [
            "unshare", "--mount", "--propagation", "private", "sh", "-c", PRIVATE_TMP,
            "holder", str(self.workdir.resolve())])
        holder = node.holder

        def ready() -> bool:
            if holder.poll() is not None:
                raise RuntimeError(f"the private /tmp of {node.name} could not be made "
                                   f"(exit status {holder.returncode})")
            return process_name(holder.pid) == "sleep"

        wait_for(ready, 5, what=f"the private /tmp of {node.name}")

    def enter(self, node: str) -> list[str]:
        """The argv prefix that runs a command in the node's namespaces: its network
        namespace, and its private /tmp when it has one."""
        holder = self.nodes[node].holder if node in self.nodes else None
        if holder is not None and holder.poll() is None:
            return ["nsenter", "-t", str(holder.pid), "-m", "-n", "--"]
        return ["ip", "netns", "exec", self.ns(node)]

    def __enter__(self) -> NetnsLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- nginx
    def nginx_command(self, node: str, action: Literal["start", "stop"]) -> list[str]:
        return nginx_argv(self.nodes[node].dir, action)

    def start_nginx(self, node: str) -> None:
        start_nginx(self.ns(node), self.nodes[node].dir)

    def nginx_pids(self, node: str) -> list[int]:
        return ns_processes(self.ns(node), "nginx")

    def kill_nginx(self, node: str, sig: int = signal.SIGKILL) -> float:
        """Kill every nginx process of the node at once; returns the time (time.time())."""
        t = time.time()
        signal_processes(self.ns(node), "nginx", sig)
        return t

    # ----------------------------------------------------------------- engines
    def engine_argv(self, node: NetnsNode) -> list[str]:
        conf = node.dir / "keepalived.conf"
        if node.engine == "keepalived":
            # A keepalived built without LVS has neither the checker process nor its flags.
            lvs = keepalived_has_lvs(self.keepalived_binary)
            return [self.keepalived_binary, "-n", "-l", "-D", "-G", *(["-P"] if lvs else []),
                    "-f", str(conf), "-p", str(node.dir / "keepalived.pid"),
                    "-r", str(node.dir / "vrrp.pid"),
                    *(["-c", str(node.dir / "checkers.pid")] if lvs else [])]
        services = [("nginx", " ".join(self.nginx_command(node.name, "start")),
                     " ".join(self.nginx_command(node.name, "stop")))] if self.nginx else []
        return agent_argv(conf, node.control, name=node.name, pidfile=node.dir / "agent.pid",
                          services=services, extra=self.agent_args,
                          fast_preempt=node.name in self.fast_preempt)

    def config_text(self, node: NetnsNode) -> str:
        config = node.config
        config = process_tracked(config) if node.engine == "haconsole" \
            else http_checked(config)
        return render(config)

    def start_engine(self, node_name: str, *, wait: bool = True) -> None:
        node = self.nodes[node_name]
        if node.proc is not None and node.proc.poll() is None:
            return
        (node.dir / "keepalived.conf").write_text(self.config_text(node))
        # After a SIGKILL the old pids may live on as zombies (nobody reaps orphans in
        # some sandboxes), and keepalived would refuse: "daemon is already running".
        for pidfile in ("keepalived.pid", "vrrp.pid", "checkers.pid", "agent.pid"):
            with contextlib.suppress(OSError):
                (node.dir / pidfile).unlink()
        with node.log.open("a") as f:
            f.write(f"--- start {node.engine} {time.strftime('%H:%M:%S')}\n")
        node.proc = start_process([*self.enter(node_name), *self.engine_argv(node)],
                                  log=node.log, env=agent_env())
        if wait:
            self.wait_engine_ready(node_name)

    def wait_engine_ready(self, node_name: str, timeout: float = 15.0) -> None:
        node = self.nodes[node_name]

        def ready() -> bool:
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"{node.engine} on {node_name} exited with "
                                   f"{node.proc.returncode}:\n{self.log_text(node_name)[-2000:]}")
            if node.engine == "haconsole":
                return self.agent_status(node_name) is not None
            return "Entering" in self.log_text(node_name).rsplit("--- start", 1)[-1]

        wait_for(ready, timeout, what=f"{node.engine} on {node_name} to start")

    def signal_engine(self, node_name: str, sig: int) -> float:
        """Send `sig` to the engine (all keepalived processes for SIGKILL); returns when."""
        node = self.nodes[node_name]
        assert node.proc is not None
        t = time.time()
        if node.engine == "keepalived" and sig == signal.SIGKILL:
            signal_processes(self.ns(node_name), "keepalived", sig)
        else:
            node.proc.send_signal(sig)
        return t

    def wait_engine_exit(self, node_name: str, timeout: float = 10.0) -> int | None:
        node = self.nodes[node_name]
        if node.proc is None:
            return None
        try:
            code = node.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{node.engine} on {node_name} did not exit") from None
        node.proc = None
        if node.engine == "keepalived":  # its VRRP child may outlive the parent briefly
            wait_for(lambda: not ns_processes(self.ns(node_name), "keepalived"), timeout,
                     what=f"keepalived children on {node_name}")
        return code

    # ----------------------------------------------------------------- commands
    def execute(self, command: Any) -> tuple[bool, str]:
        """Run a console/scenario `cluster.commands` command on the real lab."""
        from haconsole.cluster import commands as cmd

        name = command.node
        if name not in self.nodes:
            return False, f"no node named {name!r} in this lab"
        proc = self.nodes[name].proc
        running = proc is not None and proc.poll() is None
        if isinstance(command, cmd.StopService):
            run(self.nginx_command(name, "stop"), ns=self.ns(name), check=False)
            return True, f"nginx stopped on {name}"
        if isinstance(command, cmd.StartService):
            self.start_nginx(name)
            return True, f"nginx started on {name}"
        if isinstance(command, cmd.StopAgent | cmd.KillNode | cmd.RestartAgent):
            if not running:
                return False, f"the engine on {name} is not running"
            sig = signal.SIGKILL if isinstance(command, cmd.KillNode) else signal.SIGTERM
            self.signal_engine(name, sig)
            self.wait_engine_exit(name)
            if isinstance(command, cmd.RestartAgent):
                self.start_engine(name)
                return True, f"{self.nodes[name].engine} restarted on {name}"
            return True, f"{self.nodes[name].engine} on {name} " + (
                "killed (no priority 0)" if sig == signal.SIGKILL else "stopped")
        if isinstance(command, cmd.StartNode):
            self.start_engine(name)
            return True, f"{self.nodes[name].engine} started on {name}"
        if isinstance(command, cmd.PartitionNode):
            self.topology.partition(name, command.partitioned)
            return True, f"{name} {'partitioned' if command.partitioned else 'healed'}"
        if isinstance(command, cmd.LinkDown):
            self.topology.set_link(name, not command.down)
            return True, f"{name}'s link {'down (no carrier)' if command.down else 'up'}"
        if isinstance(command, cmd.Failover | cmd.CancelHold):
            from haconsole.agent.protocol import control_request

            if self.nodes[name].engine != "haconsole":
                return False, f"{name} runs keepalived: no {command.name} command"
            reply = self.agent_request(name, control_request(command))
            return bool(reply.get("ok")), str(reply.get("detail", ""))
        return False, f"the netns lab cannot run {command.name}"

    def sources(self) -> list[Any]:
        """Console sources for the haconsole nodes (their control sockets)."""
        from haconsole.sources.agent import AgentSocketSource

        return [AgentSocketSource(n.name, n.control) for n in self.nodes.values()
                if n.engine == "haconsole"]

    # ----------------------------------------------------------------- observation
    def log_text(self, node: str) -> str:
        try:
            return self.nodes[node].log.read_text(errors="replace")
        except OSError:
            return ""

    def agent_status(self, node: str) -> dict[str, Any] | None:
        return agent_status(self.nodes[node].control)

    def agent_request(self, node: str, obj: dict[str, Any]) -> dict[str, Any]:
        from haconsole.agent.ctl import request

        return request(self.nodes[node].control, obj)

    def states(self, node: str) -> dict[str, str]:
        """Instance -> state: from the agent's status, or keepalived's last log lines."""
        lab_node = self.nodes[node]
        if lab_node.engine == "haconsole":
            status = self.agent_status(node) or {}
            return {e["instance"]: e["state"] for e in status.get("events", [])
                    if e.get("kind") == "instance_state"}
        from haconsole.keepalived.log import KeepalivedLogParser

        parser = KeepalivedLogParser(node)
        text = self.log_text(node).rsplit("--- start", 1)[-1]
        parser.feed_lines(text.splitlines())
        return {k: str(v) for k, v in parser.states.items()}

    def holders(self, address: str) -> list[str]:
        return [n for n in self.topology.holders(address) if n in self.nodes]

    def curl(self, url: str, timeout: float = 2.0) -> str | None:
        """GET `url` from the client namespace: the body, or None on failure."""
        result = run(["curl", "-s", "-g", "-m", f"{timeout:g}", url],
                     ns=self.topology.ns("client"), check=False, timeout=timeout + 5)
        return result.stdout.strip() if result.returncode == 0 else None

    def wait_single_holder(self, address: str, timeout: float = 15.0,
                           expect: str | None = None) -> str:
        """Wait until exactly one node holds `address` (and it is `expect` if given)."""

        def one() -> str | None:
            holders = self.holders(address)
            if len(holders) == 1 and (expect is None or holders[0] == expect):
                return holders[0]
            return None

        return str(wait_for(one, timeout, what=f"{address} on exactly "
                                               f"{expect or 'one node'}"))


def lab_configs(definition: Any) -> dict[str, Config]:
    """Configs per node from a `lab.definition.LabDefinition` (real `pidof` checks)."""
    configs = {}
    for node in definition.nodes:
        config = definition.config_for(node)
        config.global_defs.script_user = "root"
        configs[node.name] = config
    return configs


def instance_names(config: Config) -> list[str]:
    return [i.name for i in config.vrrp_instances]


VIP4 = "192.0.2.170"
VIP6 = "2001:db8::170"


def pair_configs(*, version: int = 2, family: int = 4, auth_pass: str | None = "lab-pass",
                 passwords: tuple[str, ...] | None = None, unicast: bool = False,
                 nopreempt: bool = False, advert_int: float = 1.0, check_nginx: bool = True,
                 priorities: tuple[int, ...] = (100, 90), vrid: int = 100,
                 names: tuple[str, ...] = ("nginx1", "nginx2"),
                 first_host: int = 11) -> dict[str, Config]:
    """The classic nginx pair (or N nodes) in one of the shapes operators use:
    VRRPv2 + PASS, VRRPv3 IPv4 or IPv6, unicast, nopreempt (both BACKUP). The first node
    is `state MASTER` (unless nopreempt) so elections take one advert interval."""
    from haconsole.config import GlobalDefs, Secret, VirtualAddress, VrrpScript

    addresses = [ipaddress.IPv4Address(f"192.0.2.{first_host + i}") for i in range(len(names))]
    configs: dict[str, Config] = {}
    for i, name in enumerate(names):
        password = (passwords[i] if passwords else auth_pass) if version == 2 else None
        vip = f"{VIP4}/24" if family == 4 else f"{VIP6}/64"
        inst = VrrpInstance(
            name="VI_1", interface="eth0", virtual_router_id=vrid,
            state="MASTER" if i == 0 and not nopreempt else "BACKUP",
            priority=priorities[i], advert_int=advert_int, version=version,
            nopreempt=nopreempt,
            auth_type="PASS" if password else None,
            auth_pass=Secret(password) if password else None,
            virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface(vip))],
            track_script=[TrackRef("chk_nginx")] if check_nginx else [],
        )
        if unicast:
            inst.unicast_src_ip = addresses[i]
            inst.unicast_peer = [a for j, a in enumerate(addresses) if j != i]
        config = Config(source=f"<pair {name}>",
                        global_defs=GlobalDefs(router_id=name, script_user="root"),
                        vrrp_instances=[inst])
        if check_nginx:
            config.vrrp_scripts["chk_nginx"] = VrrpScript(
                name="chk_nginx", script="pidof nginx", interval=1, weight=-20)
        configs[name] = config
    return configs


__all__ = [
    "VIP4",
    "VIP6",
    "NetnsLab",
    "NetnsNode",
    "agent_argv",
    "agent_ctl_argv",
    "agent_env",
    "agent_status",
    "lab_configs",
    "nginx_argv",
    "pair_configs",
    "process_tracked",
    "start_nginx",
    "wait_for",
    "write_nginx_conf",
]
