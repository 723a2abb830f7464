"""A namespace lab for `haconsole connect`: real sshd, keepalived and nginx per node.

Why its own fixture (on top of `haconsole.netns`: its topology, and nginx and the agent
set up and launched as the netns lab does): each node needs a private
`/tmp` shared by its keepalived (which writes its dumps to the fixed /tmp/keepalived.json)
and its sshd (whose sessions read them). So each node namespace gets a holder process
in a new mount namespace with a tmpfs on /tmp; sshd and keepalived (or the agent) are
started inside it with `nsenter -t HOLDER -m -n` (nginx, which writes nothing to /tmp,
starts as in the netns lab). Files live under /var/tmp (not /tmp, which is overmounted
inside the nodes).

The console runs in the test process, in the host network namespace, which has no route
to the lab (nothing is added outside our namespaces). SSH reaches the nodes the way a
jump host does: the generated ssh_config gives each node a ProxyCommand that relays
stdin/stdout to port 22 from inside the client namespace.

A node runs keepalived, or (`SshTestbed(agents=...)`) the haconsole agent on the same
keepalived.conf, launched as `haconsole.netns.lab` launches it; its inventory entry is
`kind = "haconsole"` and its `agent_stream` runs `agent ctl --stream` on a control socket
whose path has a space and a quote.

`SshTestbed(keepalived_binary=...)` runs another keepalived (2.4.3 from `make
keepalived-upstream`: without LVS, so without `-P`); `notify_fifo=True` gives each
keepalived a `vrrp_notify_fifo` of its own (with priority changes) and the inventory
`notify_fifo = true`; `interval` and `log_file` override the inventory's.

Addresses: 192.0.2.0/24 only. Keys: generated at setup, removed at teardown. Paths with
spaces and quotes (pidfile, log file) exercise the quoting of every remote command.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from haconsole.netns.lab import (
    REPO,
    agent_argv,
    agent_ctl_argv,
    agent_env,
    agent_status,
    keepalived_has_lvs,
    nginx_argv,
    start_nginx,
    wait_for,
    write_nginx_conf,
)
from haconsole.netns.topology import (
    Topology,
    kill_namespace_processes,
    ns_processes,
    run,
    signal_processes,
    spawn,
    start_process,
)

VIP = "192.0.2.100"
PASSWORD = "Sh0uldN0"  # 8 characters: keepalived truncates auth_pass to 8
PRIORITIES = {"n1": 150, "n2": 100}

RELAY = """\
import os, select, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(None)
fds = [0, s.fileno()]
while True:
    ready = select.select(fds, [], [])[0]
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            s.sendall(data)
        else:
            s.shutdown(socket.SHUT_WR)
            fds.remove(0)
    if s.fileno() in ready:
        data = s.recv(65536)
        if not data:
            break
        os.write(1, data)
"""

SSHD_CONF = """\
ListenAddress {address}
Port 22
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel ERROR
"""

KEEPALIVED_CONF = """\
global_defs {{
    router_id {node}
    script_user root
{fifo}}}
vrrp_script chk_nginx {{
    script "{check}"
    interval 1
    fall 1
    rise 1
    weight -60
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass {password}
    }}
    virtual_ipaddress {{
        {vip}/24 dev eth0
    }}
    track_script {{
        chk_nginx
    }}
}}
"""

@dataclass
class SshNode:
    name: str
    address: str
    ns: str
    dir: Path  # plain path: nginx, sshd, keepalived.conf
    odd: Path  # a directory with a space and a quote: pidfile, log file, control socket
    engine: str = "keepalived"  # or "haconsole" (the agent)
    holder: subprocess.Popen[bytes] | None = None

    @property
    def pidfile(self) -> Path:
        return self.odd / "keepalived.pid"

    @property
    def control(self) -> Path:
        """The agent's control socket (haconsole nodes)."""
        return self.odd / "agent.sock"

    @property
    def log_file(self) -> Path:
        return self.odd / "keepalived's log.txt"

    @property
    def fifo(self) -> Path:
        """keepalived's vrrp_notify_fifo (`SshTestbed(notify_fifo=True)`)."""
        return self.dir / "haconsole.fifo"

    def enter(self) -> list[str]:
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--"]

    def nginx_command(self, action: Literal["start", "stop"]) -> str:
        """The nginx command line, for the inventory and the agent's --service."""
        return shlex.join(nginx_argv(self.dir, action))


class SshTestbed:
    """Two nodes (n1 priority 150, n2 priority 100) and a client namespace; the nodes
    named in `agents` run the haconsole agent instead of keepalived."""

    def __init__(self, nodes: tuple[str, ...] = ("n1", "n2"),
                 agents: tuple[str, ...] = (), *, keepalived_binary: str = "keepalived",
                 notify_fifo: bool = False, interval: float = 0.5,
                 log_file: str | None = None) -> None:
        unknown = set(agents) - set(nodes)
        if unknown:
            raise ValueError(f"agents {sorted(unknown)} are not nodes of the lab")
        self.agents = agents
        self.keepalived_binary = keepalived_binary
        self.notify_fifo = notify_fifo
        self.interval = interval
        self.log_override = log_file
        base = Path("/var/tmp")
        self.work = Path(tempfile.mkdtemp(prefix="haconsole-ssh-", dir=base))
        self.topology = Topology(list(nodes), client=True)
        self.nodes: dict[str, SshNode] = {}
        self.client_key = self.work / "client_key"
        self.known_hosts = self.work / "known_hosts"
        self.ssh_config = self.work / "ssh_config"
        self.inventory = self.work / "inventory.toml"
        self._made_run_sshd = False

    # ------------------------------------------------------------------ build
    def start(self) -> SshTestbed:
        try:
            self._start()
        except BaseException:
            print(self.logs())  # before stop() removes them
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.topology.build()
        if not Path("/run/sshd").is_dir():  # sshd's privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755)
            self._made_run_sshd = True
        _keygen(self.client_key)
        (self.work / "authorized_keys").write_text(
            (self.work / "client_key.pub").read_text())
        (self.work / "relay.py").write_text(RELAY)
        client_ns = self.topology.ns("client")
        config, known = [], []
        for name in self.topology.nodes:
            host = self.topology.hosts[name]
            node = SshNode(name, str(host.ipv4), host.ns, self.work / name,
                           self.work / f"{name} node's files",
                           engine="haconsole" if name in self.agents else "keepalived")
            node.dir.mkdir()
            node.odd.mkdir()
            self.nodes[name] = node
            _keygen(node.dir / "host_key")
            pub = (node.dir / "host_key.pub").read_text().split()
            known.append(f"{name},{node.address} {pub[0]} {pub[1]}\n")
            config.append(
                f"Host {name}\n  HostName {node.address}\n  User root\n"
                f"  IdentityFile {self.client_key}\n"
                f"  ProxyCommand ip netns exec {client_ns} {sys.executable} "
                f"{self.work / 'relay.py'} %h %p\n")
            self._write_node_files(node)
            self._start_holder(node)
            self.start_nginx(name)
            self.start_sshd(name)
            if node.engine == "haconsole":
                self.start_agent(name)
            else:
                self.start_keepalived(name)
        self.known_hosts.write_text("".join(known))
        self.ssh_config.write_text("".join(config))
        self.inventory.write_text(self.inventory_text())

    def _write_node_files(self, node: SshNode) -> None:
        (node.dir / "sshd_config").write_text(SSHD_CONF.format(
            address=node.address, host_key=node.dir / "host_key",
            authorized=self.work / "authorized_keys"))
        check = node.dir / "chk_nginx.sh"
        pid = shlex.quote(str(node.dir / "nginx.pid"))
        check.write_text(f"#!/bin/sh\n[ -s {pid} ] && kill -0 \"$(cat {pid})\"\n")
        check.chmod(0o755)
        fifo = (f"    vrrp_notify_fifo {node.fifo}\n    vrrp_notify_priority_changes\n"
                if self.notify_fifo else "")
        (node.dir / "keepalived.conf").write_text(KEEPALIVED_CONF.format(
            node=node.name, check=check, priority=PRIORITIES.get(node.name, 100),
            password=PASSWORD, vip=VIP, fifo=fifo))
        write_nginx_conf(node.dir, node.name)

    def _start_holder(self, node: SshNode) -> None:
        """The node's private /tmp. The code the node runs (this checkout and its venv)
        may itself live under /tmp (a CI clone): such directories are bind-mounted aside
        first and back in place on top of the tmpfs, so the agent still finds them."""
        keep = _under_tmp([REPO, Path(sys.prefix), Path(sys.executable).parent])
        steps = []
        for i, path in enumerate(keep):
            stash = shlex.quote(str(node.dir / f".keep{i}"))
            steps += [f"mkdir -p {stash}", f"mount --bind {shlex.quote(str(path))} {stash}"]
        steps.append("mount -t tmpfs -o mode=1777 tmpfs /tmp")
        for i, path in enumerate(keep):
            stash = shlex.quote(str(node.dir / f".keep{i}"))
            quoted = shlex.quote(str(path))
            steps += [f"mkdir -p {quoted}", f"mount --bind {stash} {quoted}"]
        node.holder = spawn(node.ns, ["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      " && ".join([*steps, "exec sleep 100000"])])
        pid = node.holder.pid
        wait_for(lambda: " /tmp tmpfs " in Path(f"/proc/{pid}/mounts").read_text(), 5,
                 what=f"the private /tmp of {node.name}")

    def inventory_text(self, **overrides: str) -> str:
        lines = ['name = "ssh-lab"', f"interval = {self.interval:g}",
                 f"known_hosts = {_toml(str(overrides.get('known_hosts', self.known_hosts)))}",
                 f"ssh_config = {_toml(str(self.ssh_config))}"]
        for node in self.nodes.values():
            if node.engine == "haconsole":
                stream = agent_ctl_argv(node.control, "--stream")
                command = shlex.join(["env", f"PYTHONPATH={agent_env()['PYTHONPATH']}",
                                      *stream])
                lines += ["", "[[node]]", f'name = "{node.name}"', 'kind = "haconsole"',
                          "[node.commands]",
                          f"agent_stream = {_toml(_literal_template(command))}"]
                continue
            stop = node.nginx_command("stop")
            start = node.nginx_command("start")
            status = f"[ -s {shlex.quote(str(node.dir / 'nginx.pid'))} ]"
            log_file = self.log_override if self.log_override is not None else \
                str(node.log_file)
            lines += ["", "[[node]]", f'name = "{node.name}"',
                      f"pidfile = {_toml(str(node.pidfile))}",
                      f"log_file = {_toml(log_file)}",
                      *(["notify_fifo = true"] if self.notify_fifo else []),
                      "[node.commands]",
                      f"stop_service = {_toml(stop)}",
                      f"start_service = {_toml(start)}",
                      f"service_status = {_toml(status)}"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ processes
    def _popen(self, node: SshNode, argv: list[str], log: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `argv` in the node's namespace and private mount (its /tmp)."""
        return start_process([*node.enter(), *argv], log=log, env=env)

    def start_sshd(self, name: str) -> None:
        node = self.nodes[name]
        self._popen(node, ["/usr/sbin/sshd", "-D", "-e", "-f", str(node.dir / "sshd_config")],
                    node.dir / "sshd.log")
        wait_for(lambda: self.sshd_pids(name), 5, what=f"sshd on {name}")
        wait_for(lambda: self._listening(node), 5, what=f"sshd listening on {name}")

    def _listening(self, node: SshNode) -> bool:
        return bool(run(["ss", "-Htln", "sport = :22"], ns=node.ns, check=False).stdout.strip())

    def sshd_pids(self, name: str) -> list[int]:
        return ns_processes(self.nodes[name].ns, "sshd")

    def kill_sshd(self, name: str) -> None:
        """Kill every sshd of the node (the listener and the sessions' processes)."""
        signal_processes(self.nodes[name].ns, "sshd", signal.SIGKILL)
        wait_for(lambda: not self.sshd_pids(name), 5, what=f"sshd gone on {name}")

    def start_nginx(self, name: str) -> None:
        node = self.nodes[name]
        start_nginx(node.ns, node.dir)

    def stop_nginx(self, name: str) -> None:
        """`nginx -s stop` on the node; returns once its pidfile is gone (what the node's
        chk_nginx reads)."""
        node = self.nodes[name]
        run(nginx_argv(node.dir, "stop"), ns=node.ns)
        wait_for(lambda: not (node.dir / "nginx.pid").exists(), 5, what=f"nginx stopped on {name}")

    def log(self, name: str, message: str) -> None:
        """Append a line to the node's keepalived log in keepalived's own console form
        (keepalived's stdout is opened for appending, so whole lines never interleave)."""
        stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime())
        with self.nodes[name].log_file.open("a") as f:
            f.write(f"{stamp}: {message}\n")

    def start_keepalived(self, name: str) -> None:
        node = self.nodes[name]
        lvs = keepalived_has_lvs(self.keepalived_binary)  # a build without LVS has no -P
        self._popen(node, [self.keepalived_binary, "-n", "-l", "-D", "-G",
                           *(["-P"] if lvs else []),
                           "-f", str(node.dir / "keepalived.conf"), "-p", str(node.pidfile),
                           "-r", str(node.dir / "vrrp.pid")], node.log_file)
        wait_for(lambda: node.pidfile.exists(), 5, what=f"keepalived on {name}")

    def keepalived_pid(self, name: str) -> int:
        """The node's keepalived (parent) process."""
        return int(self.nodes[name].pidfile.read_text())

    def start_agent(self, name: str) -> None:
        """The haconsole agent on the node's keepalived.conf, with nginx as its service;
        ready when its control socket answers `status`."""
        node = self.nodes[name]
        services = [("nginx", node.nginx_command("start"), node.nginx_command("stop"))]
        argv = agent_argv(node.dir / "keepalived.conf", node.control, name=name,
                          pidfile=node.dir / "agent.pid", services=services)
        proc = self._popen(node, argv, node.log_file, env=agent_env())

        def answers() -> dict[str, Any] | None:
            if proc.poll() is not None:
                raise RuntimeError(f"the agent on {name} exited with {proc.returncode}")
            return agent_status(node.control)

        wait_for(answers, 20, what=f"the agent on {name}")

    def holders(self) -> list[str]:
        return self.topology.holders(VIP)

    def logs(self) -> str:
        out = []
        for node in self.nodes.values():
            for path in (node.log_file, node.dir / "sshd.log", node.dir / "nginx-error.log"):
                if path.exists():
                    text = path.read_text(errors="replace")[-3000:]
                    out.append(f"===== {node.name}: {path.name}\n{text}")
        return "\n".join(out).replace(PASSWORD, "***")

    # ------------------------------------------------------------------ teardown
    def stop(self) -> None:
        """Everything goes, whatever state the build reached."""
        for node in self.nodes.values():
            kill_namespace_processes(node.ns, grace=1.0)
        self.topology.destroy()
        for node in self.nodes.values():
            if node.holder is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.holder.wait(2)
        if self._made_run_sshd:
            with contextlib.suppress(OSError):
                Path("/run/sshd").rmdir()
        shutil.rmtree(self.work, ignore_errors=True)


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "haconsole-test",
                    "-f", str(path)], check=True, capture_output=True, timeout=20)


def _literal_template(command: str) -> str:
    """A command as an inventory template that renders to itself (braces doubled)."""
    return command.replace("{", "{{").replace("}", "}}")


def _toml(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _under_tmp(paths: list[Path]) -> list[Path]:
    """The outermost of `paths` (resolved) that lie under /tmp, without nested ones."""
    tmp = Path("/tmp")
    found = sorted({p.resolve() for p in paths if p.resolve().is_relative_to(tmp)})
    return [p for p in found if not any(p != q and p.is_relative_to(q) for q in found)]
