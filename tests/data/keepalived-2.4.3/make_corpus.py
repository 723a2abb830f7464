"""Regenerate the keepalived 2.4.3 log corpus in this folder (run as root).

    sudo .venv/bin/python tests/data/keepalived-2.4.3/make_corpus.py \
        --keepalived .build/keepalived-2.4.3/sbin/keepalived

Each scenario runs a pair of real keepalived 2.4.3 nodes (nginx1 priority 100, nginx2
priority 90, haconsole's netns lab: namespaces on a bridge, 192.0.2.0/24 and
2001:db8::/32, real nginx) and keeps each node's console log (`-l`, with `-D` detail; the
incident is also run without `-D`) as `SCENARIO-NODE.log`. Wall-clock stamps and the lab's
temporary paths are left as keepalived printed them, except the work directory, which is
rewritten to /run/keepalived/NODE, and the binary's path (/usr/local/sbin/keepalived).
The incident also keeps the three dumps of the master
(SIGUSR1 data, SIGUSR2 stats, the JSON signal with `json_version 2`).

Scenarios: the interop shapes (v2+PASS, VRRPv3 IPv4 at 50 cs with a crash, VRRPv3 IPv6,
unicast, nopreempt, wrong password); an incident (check failure on the master, SIGKILL of
the VRRP process and keepalived's respawn, a partition of the backup, the heal); and
crafted adverts (scapy-free, from the client namespace on a raw socket): TTL 64 instead of
255, and a 3 s advert interval against the configured 1 s.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from haconsole.netns.lab import VIP4, VIP6, NetnsLab, NetnsNode, pair_configs, wait_for  # noqa: E402
from haconsole.netns.topology import ns_processes, run  # noqa: E402
from haconsole.vrrp.packet import AUTH_PASS, Advert, encode  # noqa: E402


class CorpusLab(NetnsLab):
    """The netns lab with keepalived on both nodes, optionally without -D, and a
    global_defs that sends the dumps to the node's own directory (JSON version 2)."""

    def __init__(self, *args: Any, detail: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detail = detail

    def engine_argv(self, node: NetnsNode) -> list[str]:
        argv = super().engine_argv(node)
        return argv if self.detail else [a for a in argv if a != "-D"]

    def config_text(self, node: NetnsNode) -> str:
        dumps = (f"global_defs {{\n    json_version 2\n"
                 f"    state_dump_file {node.dir}/keepalived.data\n"
                 f"    stats_dump_file {node.dir}/keepalived.stats\n"
                 f"    json_dump_file {node.dir}/keepalived.json\n}}\n")
        return dumps + super().config_text(node)


BOTH = {"nginx1": "keepalived", "nginx2": "keepalived"}


def master_state(lab: NetnsLab, node: str) -> bool:
    return lab.states(node).get("VI_1") == "MASTER"


def elect(lab: NetnsLab, vip: str = VIP4) -> None:
    lab.wait_single_holder(vip, 20, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 10, what="nginx2 BACKUP")
    time.sleep(2)  # a few adverts in the log


def hand_over(lab: NetnsLab, vip: str = VIP4, sig: int = signal.SIGTERM) -> None:
    lab.signal_engine("nginx1", sig)
    wait_for(lambda: "nginx2" in lab.holders(vip), 10, what="takeover")
    lab.wait_engine_exit("nginx1")
    time.sleep(1)
    lab.start_engine("nginx1")
    lab.wait_single_holder(vip, 20, expect="nginx1")
    time.sleep(2)


def scenario_v2_pass(lab: NetnsLab) -> None:
    elect(lab)
    hand_over(lab)


def scenario_v3_fast_crash(lab: NetnsLab) -> None:
    elect(lab)
    hand_over(lab, sig=signal.SIGKILL)


def scenario_v3_ipv6(lab: NetnsLab) -> None:
    elect(lab, VIP6)
    hand_over(lab, VIP6)


def scenario_nopreempt(lab: NetnsLab) -> None:
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    lab.start_engine("nginx2")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 10, what="nginx2 BACKUP")
    lab.signal_engine("nginx1", signal.SIGTERM)
    lab.wait_single_holder(VIP4, 10, expect="nginx2")
    lab.wait_engine_exit("nginx1")
    lab.start_engine("nginx1")
    wait_for(lambda: lab.states("nginx1").get("VI_1") == "BACKUP", 10, what="nginx1 BACKUP")
    time.sleep(5)


def scenario_wrong_password(lab: NetnsLab) -> None:
    wait_for(lambda: sorted(lab.holders(VIP4)) == ["nginx1", "nginx2"], 15,
             what="both masters")
    wait_for(lambda: all("invalid passwd" in lab.log_text(n) for n in lab.nodes), 10,
             what="invalid passwd logged")
    time.sleep(3)


def scenario_incident(lab: NetnsLab) -> None:
    elect(lab)
    # 1. nginx dies on the master: the HTTP check fails, 100 - 20 = 80 < 90, takeover.
    run(lab.nginx_command("nginx1", "stop"), ns=lab.ns("nginx1"), check=False)
    lab.wait_single_holder(VIP4, 20, expect="nginx2")
    time.sleep(2)
    lab.start_nginx("nginx1")  # back to 100: preemption
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    time.sleep(2)
    # 2. SIGKILL of the VRRP child on the master: the parent respawns it.
    vrrp_pid = int((lab.nodes["nginx1"].dir / "vrrp.pid").read_text())
    os.kill(vrrp_pid, signal.SIGKILL)
    wait_for(lambda: _respawned(lab, vrrp_pid), 15, what="VRRP child respawned")
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    time.sleep(2)
    # 3. the backup is cut off: it becomes master too (split brain), then the heal.
    lab.topology.partition("nginx2", True)
    wait_for(lambda: master_state(lab, "nginx2"), 10, what="partitioned nginx2 MASTER")
    time.sleep(2)
    lab.topology.partition("nginx2", False)
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    time.sleep(2)
    dump(lab, "nginx1")


def _respawned(lab: NetnsLab, old: int) -> bool:
    try:
        new = int((lab.nodes["nginx1"].dir / "vrrp.pid").read_text())
    except (OSError, ValueError):
        return False
    return new != old and new in ns_processes(lab.ns("nginx1"), "keepalived")


def dump(lab: NetnsLab, node: str) -> None:
    """SIGUSR1 (data, to state_dump_file), SIGUSR2 (stats) and the JSON signal (2.4.3
    writes these two to its tmp directory whatever stats_dump_file/json_dump_file say):
    all three end up in the node's directory."""
    binary = lab.keepalived_binary
    json_sig = int(subprocess.run([binary, "--signum=JSON"], capture_output=True,
                                  text=True).stdout.strip())
    parent = int((lab.nodes[node].dir / "keepalived.pid").read_text())
    tmp = Path(tempfile.gettempdir())
    for name in ("keepalived.stats", "keepalived.json"):
        (tmp / name).unlink(missing_ok=True)
    for sig, name, where in ((signal.SIGUSR1, "keepalived.data", lab.nodes[node].dir),
                             (signal.SIGUSR2, "keepalived.stats", tmp),
                             (json_sig, "keepalived.json", tmp)):
        os.kill(parent, sig)
        wait_for(lambda name=name, where=where: (where / name).exists(), 10, what=name)
        time.sleep(0.5)
        if where != lab.nodes[node].dir:
            shutil.move(str(where / name), str(lab.nodes[node].dir / name))


def scenario_crafted(lab: NetnsLab) -> None:
    """Adverts keepalived must reject, sent from the client: TTL 64, interval 3 s."""
    elect(lab)
    client = lab.topology.ns("client")
    for ttl, interval in ((64, 1), (255, 3)):
        for _ in range(3):
            run([sys.executable, __file__, "--send-advert", str(ttl), str(interval)],
                ns=client)
            time.sleep(0.3)
    wait_for(lambda: "ttl" in lab.log_text("nginx2").lower(), 5, what="TTL complaint")
    time.sleep(2)


def send_advert(ttl: int, interval: int) -> None:
    """One VRRPv2 advert for VRID 100 (priority 50, the lab's VIP and password) to
    224.0.0.18 with this TTL and advert interval; run inside the client namespace."""
    advert = Advert(2, 100, 50, interval * 100, (ipaddress.IPv4Address(VIP4),), AUTH_PASS,
                    b"lab-pass")
    src = ipaddress.IPv4Address(_own_ipv4())
    dst = ipaddress.IPv4Address("224.0.0.18")
    payload = encode(advert, src, dst)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(str(src)))
    sock.sendto(payload, (str(dst), 0))
    sock.close()


def _own_ipv4() -> str:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    assert m is not None, out
    return m.group(1)


SCENARIOS: dict[str, tuple[dict[str, Any], Callable[[NetnsLab], None], dict[str, Any]]] = {
    "v2-pass": ({"version": 2}, scenario_v2_pass, {}),
    "v3-ipv4-50cs-crash": ({"version": 3, "advert_int": 0.5}, scenario_v3_fast_crash, {}),
    "v3-ipv6": ({"version": 3, "family": 6}, scenario_v3_ipv6, {}),
    "unicast": ({"version": 2, "unicast": True}, scenario_v2_pass, {}),
    "nopreempt": ({"nopreempt": True}, scenario_nopreempt, {"start": ["nginx1"]}),
    "wrong-password": ({"passwords": ("secret-A", "secret-B"), "check_nginx": False},
                       scenario_wrong_password, {}),
    "incident": ({"version": 2}, scenario_incident, {}),
    "incident-no-detail": ({"version": 2}, scenario_incident, {"detail": False}),
    "crafted-ttl-interval": ({"version": 2}, scenario_crafted, {}),
}


def run_scenario(name: str, binary: str, out: Path) -> None:
    options, play, extra = SCENARIOS[name]
    start = extra.get("start")
    workdir = Path(tempfile.mkdtemp(prefix=f"kacorpus-{name}-"))
    lab = CorpusLab(pair_configs(**options), engines=BOTH, workdir=workdir,
                    keepalived_binary=binary, detail=extra.get("detail", True))
    try:
        lab.start(start)
        play(lab)
    finally:
        lab.stop()
        for node in lab.nodes:
            _keep(workdir / node, node, out, name, binary)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{name}: done")


def _keep(directory: Path, node: str, out: Path, name: str, binary: str) -> None:
    """Copy a node's log (and dumps) with the work directory and the binary's path
    rewritten (to /run/keepalived/NODE and /usr/local/sbin/keepalived)."""
    for src, suffix in (("keepalived.log", "log"), ("keepalived.data", "data"),
                        ("keepalived.stats", "stats"), ("keepalived.json", "json")):
        path = directory / src
        if path.exists():
            text = path.read_text(errors="replace")
            text = text.replace(str(directory), f"/run/keepalived/{node}")
            text = text.replace(binary, "/usr/local/sbin/keepalived")
            (out / f"{name}-{node}.{suffix}").write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keepalived", default=".build/keepalived-2.4.3/sbin/keepalived")
    parser.add_argument("--out", default=str(HERE))
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), default=None)
    parser.add_argument("--send-advert", nargs=2, type=int, metavar=("TTL", "INTERVAL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send_advert:
        send_advert(*args.send_advert)
        return 0
    if os.geteuid() != 0:
        print("make_corpus.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    binary = os.path.abspath(args.keepalived)
    for name in args.only or SCENARIOS:
        run_scenario(name, binary, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
