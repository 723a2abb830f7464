"""Network namespaces joined by veth pairs on a bridge: real hosts for labs and tests.

Why namespaces: they give each node its own interfaces, addresses, routes and raw
sockets on one machine, so the real kernel carries VRRP multicast, ARP and HTTP between
real processes (nginx, keepalived, haconsole agents), without touching the host.

Safety rules this module enforces:
- every namespace is named `hac-<pid>-<tag>-<role>`; `<pid>` is the creating process, so
  a lab left by a crash is recognised (its pid is gone) and removed by `cleanup_stale`;
- addresses only from 192.0.2.0/24 (TEST-NET-1) and 2001:db8::/32 (documentation);
- nothing is done outside the namespaces we created: no host interface, address or route;
- `destroy` kills every process in our namespaces before deleting them, and is safe to
  call twice or after a partial build.

Layout: `<prefix>br` holds `br0` and one `p-<node>` veth end per host; each node (and the
optional client) namespace holds the other end as `eth0`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NS_PREFIX = "hac-"
NET4 = ipaddress.IPv4Network("192.0.2.0/24")
NET6 = ipaddress.IPv6Network("2001:db8::/64")
CLIENT_HOST = 200


class NetnsError(Exception):
    """A namespace operation failed; the message carries the command and its stderr."""


def run(argv: Sequence[str], *, ns: str | None = None, check: bool = True,
        timeout: float = 20.0, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (inside `ns` when given) and capture its output."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    try:
        result = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                                input=input, check=False)
    except subprocess.TimeoutExpired as err:
        raise NetnsError(f"{' '.join(full)}: timed out after {timeout:g} s") from err
    if check and result.returncode != 0:
        raise NetnsError(f"{' '.join(full)}: {result.stderr.strip() or result.returncode}")
    return result


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def ns_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def process_name(pid: int) -> str:
    """The process's name (/proc/PID/comm), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def ns_processes(ns: str, name: str) -> list[int]:
    """Pids of the processes called `name` in `ns` (all namespaces share one pid space
    here, so `pidof` would find every node's)."""
    return [pid for pid in ns_pids(ns) if process_name(pid) == name]


def signal_processes(ns: str, name: str, sig: int = signal.SIGKILL) -> list[int]:
    """Send `sig` to every process called `name` in `ns` at once; returns their pids."""
    pids = ns_processes(ns, name)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def kill_namespace_processes(ns: str, *, grace: float = 2.0) -> None:
    """SIGTERM every process in `ns`, then SIGKILL what is left after `grace` seconds."""
    pids = ns_pids(ns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while pids and time.monotonic() < end:
        time.sleep(0.02)
        pids = ns_pids(ns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def delete_namespace(ns: str) -> None:
    kill_namespace_processes(ns)
    run(["ip", "netns", "delete", ns], check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = NS_PREFIX) -> list[str]:
    """Delete namespaces `hac-<pid>-...` whose creator is gone (a crashed lab or test),
    then the work directories named like them (`cleanup_stale_dirs`)."""
    removed = []
    for ns in list_namespaces():
        if not ns.startswith(prefix):
            continue
        owner = ns[len(prefix):].split("-", 1)[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            delete_namespace(ns)
            removed.append(ns)
    cleanup_stale_dirs(prefix=prefix)
    return removed


def cleanup_stale_dirs(directory: str | None = None, prefix: str = NS_PREFIX) -> list[Path]:
    """Remove work directories `hac-<pid>-<tag>-*` (a lab's default, in the temp
    directory) whose creator is gone: what a killed lab left besides its namespaces."""
    removed = []
    base = Path(directory or tempfile.gettempdir())
    for path in base.glob(f"{prefix}*-*-*"):
        owner = path.name[len(prefix):].split("-", 1)[0]
        if path.is_dir() and not path.is_symlink() and owner.isdigit() and \
                not _pid_alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@dataclass
class Host:
    """One namespace on the bridge: a node or the client."""

    name: str
    ns: str
    index: int
    port: str  # the veth end in the bridge namespace
    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address
    interface: str = "eth0"


@dataclass
class Topology:
    """A bridge namespace, node namespaces and an optional client namespace."""

    nodes: list[str]
    client: bool = True
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    first_host: int = 11
    hosts: dict[str, Host] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"{NS_PREFIX}{os.getpid()}-{self.tag}-"
        self.bridge_ns = f"{self.prefix}br"
        names = [*self.nodes, *(["client"] if self.client else [])]
        for i, name in enumerate(names):
            host = CLIENT_HOST if name == "client" and self.client else self.first_host + i
            self.hosts[name] = Host(
                name=name,
                ns=f"{self.prefix}{name}",
                index=i,
                port=f"p{i}-{name}"[:15],
                ipv4=NET4.network_address + host,
                ipv6=ipaddress.IPv6Address(f"2001:db8::{host}"),
            )

    # ----------------------------------------------------------------- build / destroy
    def _add_ns(self, ns: str) -> None:
        run(["ip", "netns", "add", ns])
        self.created.append(ns)
        run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def build(self) -> Topology:
        """Create everything; on failure, remove what was created and re-raise."""
        try:
            self._add_ns(self.bridge_ns)
            run(["ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge",
                 "mcast_snooping", "0", "forward_delay", "0", "stp_state", "0"])
            run(["ip", "-n", self.bridge_ns, "link", "set", "br0", "up"])
            for host in self.hosts.values():
                self._add_host(host)
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_host(self, host: Host) -> None:
        self._add_ns(host.ns)
        # No duplicate address detection: IPv6 link-local and VIPs usable at once.
        sysctl = ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                  "net.ipv4.conf.all.arp_announce=2")
        run(["sysctl", "-q", "-w", *sysctl], ns=host.ns)
        run(["ip", "-n", self.bridge_ns, "link", "add", host.port, "type", "veth",
             "peer", "name", host.interface, "netns", host.ns])
        run(["ip", "-n", self.bridge_ns, "link", "set", host.port, "master", "br0", "up"])
        run(["ip", "-n", host.ns, "addr", "add", f"{host.ipv4}/24", "dev", host.interface])
        run(["ip", "-n", host.ns, "addr", "add", f"{host.ipv6}/64", "dev", host.interface,
             "nodad"])
        run(["ip", "-n", host.ns, "link", "set", host.interface, "up"])

    def destroy(self) -> None:
        """Kill every process in our namespaces and delete them (idempotent)."""
        for ns in reversed(self.created):
            kill_namespace_processes(ns)
        for ns in reversed(self.created):
            run(["ip", "netns", "delete", ns], check=False)
        self.created.clear()

    def __enter__(self) -> Topology:
        return self.build()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ----------------------------------------------------------------- faults
    def ns(self, host: str) -> str:
        return self.hosts[host].ns

    def set_link(self, host: str, up: bool) -> None:
        """Carrier on/off for `host` (its bridge port goes down: eth0 loses carrier)."""
        h = self.hosts[host]
        run(["ip", "-n", self.bridge_ns, "link", "set", h.port, "up" if up else "down"])

    def partition(self, host: str, cut: bool = True) -> None:
        """Drop every frame to and from `host` while keeping its carrier up: the bridge
        port goes to the `disabled` state (forwards nothing; no netem needed)."""
        h = self.hosts[host]
        run(["bridge", "-n", self.bridge_ns, "link", "set", "dev", h.port, "state",
             "0" if cut else "3"])

    def drop_adverts(self, every: int | None) -> None:
        """Drop every `every`-th VRRP packet crossing the bridge (5: 20 % loss, never two
        in a row); None stops. nftables in the bridge namespace: this kernel may lack
        sch_netem, and a counter, unlike random loss, makes "no transition" certain
        (random 20 % loses 3 adverts in a row, a takeover, in ~40 % of 60 s runs)."""
        run(["nft", "delete", "table", "bridge", "hacloss"], ns=self.bridge_ns, check=False)
        if every:
            rules = ("table bridge hacloss {\n chain forward {\n"
                     "  type filter hook forward priority 0; policy accept;\n"
                     f"  ether type ip ip protocol 112 numgen inc mod {every} 0 drop\n"
                     f"  ether type ip6 ip6 nexthdr 112 numgen inc mod {every} 0 drop\n"
                     " }\n}\n")
            run(["nft", "-f", "-"], ns=self.bridge_ns, input=rules)

    def lose_adverts(self, percent: int | None) -> None:
        """Drop `percent` % of the VRRP packets crossing the bridge at random, each
        receiver's copy on its own (3 in a row happen: a backup may take over, as on a
        lossy segment); None or 0 stops. Same nftables table as `drop_adverts`."""
        run(["nft", "delete", "table", "bridge", "hacloss"], ns=self.bridge_ns, check=False)
        if percent:
            match = f"numgen random mod 100 < {int(percent)} drop"
            rules = ("table bridge hacloss {\n chain forward {\n"
                     "  type filter hook forward priority 0; policy accept;\n"
                     f"  ether type ip ip protocol 112 {match}\n"
                     f"  ether type ip6 ip6 nexthdr 112 {match}\n"
                     " }\n}\n")
            run(["nft", "-f", "-"], ns=self.bridge_ns, input=rules)

    def netem(self, spec: Sequence[str] | None) -> None:
        """Apply a netem spec (e.g. ["loss", "20%"]) on every bridge port; None clears."""
        for h in self.hosts.values():
            if spec:
                run(["tc", "-n", self.bridge_ns, "qdisc", "replace", "dev", h.port, "root",
                     "netem", *spec])
            else:
                run(["tc", "-n", self.bridge_ns, "qdisc", "del", "dev", h.port, "root"],
                    check=False)

    # ----------------------------------------------------------------- queries
    def addresses(self, host: str) -> set[str]:
        """Every address on the host's eth0 (as strings, no prefix)."""
        h = self.hosts[host]
        out = run(["ip", "-n", h.ns, "-o", "addr", "show", "dev", h.interface],
                  check=False).stdout
        found = set()
        for line in out.splitlines():
            words = line.split()
            for key in ("inet", "inet6"):
                if key in words:
                    found.add(words[words.index(key) + 1].split("/")[0])
        return found

    def holders(self, address: str) -> list[str]:
        """The hosts on which `address` is configured now."""
        return [name for name in self.hosts if address in self.addresses(name)]


def spawn(ns: str, argv: Sequence[str], *, log: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running process inside `ns` (its own session, output to `log`)."""
    return start_process(["ip", "netns", "exec", ns, *argv], log=log, env=env)


def start_process(argv: Sequence[str], *, log: Path | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own session (a Ctrl-C for the test or lab is
    not its), stdin closed, stdout and stderr appended to `log`. `argv` enters the
    namespaces itself: `spawn` for `ip netns exec`, or e.g. `nsenter` for a namespace
    that also needs a private mount."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    finally:
        if log is not None and not isinstance(out, int):
            out.close()


def stop_process(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM,
                 timeout: float = 5.0) -> int | None:
    """Signal a spawned process and wait for it (SIGKILL after `timeout`)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout)
    return proc.returncode
