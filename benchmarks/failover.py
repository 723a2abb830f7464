"""Failover latency on the wire: a keepalived pair and a haconsole pair, same config.

Run as root: `.venv/bin/python benchmarks/failover.py [--trials 10] [--cpu]`.

For each engine, a two-node nginx lab in namespaces (haconsole/netns) runs the classic
config (VRRPv2, PASS, advert_int 1, priorities 100/90, nginx check weight -20), and
tcpdump on the bridge records every VRRP advert and ARP. Each trial injects one fault on
the master and reads the capture:

- sigterm: SIGTERM -> first advert of the new master (RFC bound: Skew_Time, 0.648 s)
- sigkill: SIGKILL -> first advert of the new master; and last advert of the dead master
           -> first advert of the new one (RFC bound: Master_Down_Interval, 3.648 s)
- nginx:   all nginx processes killed -> first advert with the lowered priority, and
           -> first advert of the new master (bound: detection + Master_Down_Interval)
and fault -> first gratuitous ARP of the new master for the VIP.

`--cpu` also measures the CPU of one engine running 1 000 instances at advert_int 1
(VRRPv3 IPv6, 4 interfaces x 250 VRIDs, alone so it is master of all): haconsole's
agent and keepalived's VRRP process on the same config.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haconsole.netns.lab import VIP4, NetnsLab, pair_configs, wait_for
from haconsole.netns.topology import run, spawn, stop_process

SKEW = (256 - 90) / 256
MDI = 3 + SKEW
NODE1, NODE2 = "192.0.2.11", "192.0.2.12"


# ----------------------------------------------------------------------------- pcap
@dataclass
class Frame:
    t: float
    kind: str  # "vrrp" | "arp"
    src: str
    priority: int = -1
    target: str = ""


def read_pcap(path: Path) -> list[Frame]:
    """VRRP adverts and ARP frames from an Ethernet pcap (µs timestamps)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    frames: list[Frame] = []
    offset = 24
    while offset + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        pkt = data[offset:offset + incl]
        offset += incl
        t = sec + usec / 1e6
        if len(pkt) < 14:
            continue
        ethertype = struct.unpack_from("!H", pkt, 12)[0]
        if ethertype == 0x0806 and len(pkt) >= 42:
            src = ".".join(str(b) for b in pkt[28:32])
            target = ".".join(str(b) for b in pkt[38:42])
            frames.append(Frame(t, "arp", src, target=target))
        elif ethertype == 0x0800 and len(pkt) >= 34 and pkt[23] == 112:
            ihl = (pkt[14] & 0x0F) * 4
            src = ".".join(str(b) for b in pkt[26:30])
            vrrp = pkt[14 + ihl:]
            if len(vrrp) >= 4:  # version/type, VRID, priority, count
                frames.append(Frame(t, "vrrp", src, priority=vrrp[2]))
    return frames


class Capture:
    """tcpdump on the lab's bridge, VRRP and ARP only, packet-buffered."""

    def __init__(self, lab: NetnsLab, path: Path) -> None:
        self.path = path
        self.proc = spawn(lab.topology.bridge_ns,
                          ["tcpdump", "-i", "br0", "-w", str(path), "-U", "--immediate-mode",
                           "-n", "-s", "128",
                           "vrrp or arp"], log=path.with_suffix(".log"))
        wait_for(lambda: path.exists() and path.stat().st_size >= 24, 5, what="tcpdump")

    def frames(self) -> list[Frame]:
        return read_pcap(self.path)

    def stop(self) -> None:
        stop_process(self.proc, sig=signal.SIGINT)


# ----------------------------------------------------------------------------- trials
@dataclass
class Results:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float | None) -> None:
        if value is not None:
            self.samples.setdefault(name, []).append(value)


def first(frames: list[Frame], after: float, **match: object) -> Frame | None:
    for f in frames:
        if f.t >= after and all(getattr(f, k) == v for k, v in match.items()):
            return f
    return None


def first_new_master_advert(frames: list[Frame], after: float) -> Frame | None:
    for f in frames:
        if f.t >= after and f.kind == "vrrp" and f.src == NODE2 and f.priority > 0:
            return f
    return None


def restore(lab: NetnsLab) -> None:
    """nginx everywhere, both engines running, node 1 master and sole VIP holder."""
    for name in ("nginx1", "nginx2"):
        if not lab.nginx_pids(name):
            lab.start_nginx(name)
        node = lab.nodes[name]
        if node.proc is None or node.proc.poll() is not None:
            lab.start_engine(name)
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    time.sleep(1.2)  # let one more advert pass so the next fault is mid-interval


def trial(lab: NetnsLab, capture: Capture, kind: str, results: Results) -> None:
    restore(lab)
    if kind == "nginx":
        t0 = lab.kill_nginx("nginx1")
    else:
        sig = signal.SIGTERM if kind == "sigterm" else signal.SIGKILL
        t0 = lab.signal_engine("nginx1", sig)
    wait_for(lambda: "nginx2" in lab.holders(VIP4), 10, what="takeover")
    frames: list[Frame] = []

    def captured() -> bool:  # the capture trails the kernel by a little: wait for it
        nonlocal frames
        frames = capture.frames()
        new = first_new_master_advert(frames, t0)
        return new is not None and first(frames, new.t, kind="arp", src=VIP4) is not None

    with contextlib.suppress(TimeoutError):
        wait_for(captured, 3, what="the takeover in the capture")
    new = first_new_master_advert(frames, t0)
    garp = first(frames, t0, kind="arp", src=VIP4, target=VIP4)
    # The GARP must come from the new master: the first one after its first advert.
    if new is not None:
        garp = first(frames, new.t, kind="arp", src=VIP4, target=VIP4)
    if new is None or garp is None:
        print(f"  no {'new master advert' if new is None else 'GARP'} after the fault "
              f"({len(frames)} frames captured)", file=sys.stderr)
    results.add(f"{kind}: fault -> new master advert", new.t - t0 if new else None)
    results.add(f"{kind}: fault -> GARP", garp.t - t0 if garp else None)
    if new is not None and garp is not None:
        results.add(f"{kind}: new master advert -> GARP", garp.t - new.t)
    if kind == "sigterm" and new is not None:
        zero = first(frames, t0, kind="vrrp", src=NODE1, priority=0)
        if zero is not None:
            results.add("sigterm: fault -> priority-0 advert", zero.t - t0)
            results.add("sigterm: priority-0 advert -> new master advert", new.t - zero.t)
    if kind == "sigkill" and new is not None:
        last = [f for f in frames if f.kind == "vrrp" and f.src == NODE1 and f.t < new.t]
        if last:
            results.add("sigkill: last advert -> new master advert", new.t - last[-1].t)
    if kind == "nginx":
        low = first(frames, t0, kind="vrrp", src=NODE1, priority=80)
        results.add("nginx: death -> lowered-priority advert", low.t - t0 if low else None)
    if kind in ("sigterm", "sigkill"):
        with contextlib.suppress(TimeoutError):
            lab.wait_engine_exit("nginx1")


def run_engine(engine: str, kinds: list[str], trials: int, workdir: Path) -> Results:
    results = Results()
    configs = pair_configs()
    lab = NetnsLab(configs, engines=dict.fromkeys(configs, engine),  # type: ignore[arg-type]
                   workdir=workdir / engine)
    with lab:
        capture = Capture(lab, workdir / f"{engine}.pcap")
        try:
            for kind in kinds:
                for i in range(trials):
                    trial(lab, capture, kind, results)
                    print(f"  {engine} {kind} {i + 1}/{trials}", file=sys.stderr, flush=True)
        finally:
            capture.stop()
    return results


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


BOUNDS = {
    "sigterm: fault -> priority-0 advert": 0.0,
    "sigterm: priority-0 advert -> new master advert": SKEW,
    "sigterm: fault -> new master advert": SKEW,
    "sigterm: fault -> GARP": SKEW,
    "sigterm: new master advert -> GARP": 0.0,
    "sigkill: fault -> new master advert": MDI,
    "sigkill: fault -> GARP": MDI,
    "sigkill: new master advert -> GARP": 0.0,
    "sigkill: last advert -> new master advert": MDI,
    "nginx: fault -> new master advert": 1.0 + MDI,
    "nginx: fault -> GARP": 1.0 + MDI,
    "nginx: new master advert -> GARP": 0.0,
    "nginx: death -> lowered-priority advert": 1.0,
}


def report(all_results: dict[str, Results]) -> None:
    names = sorted({n for r in all_results.values() for n in r.samples},
                   key=lambda n: list(BOUNDS).index(n) if n in BOUNDS else 99)
    print(f"\n{'measure (seconds)':<48}{'RFC bound':>10}", end="")
    for engine in all_results:
        print(f"{engine + ' median':>19}{'p95':>9}{'n':>4}", end="")
    print()
    for name in names:
        bound = BOUNDS.get(name)
        print(f"{name:<48}{(f'{bound:.4f}' if bound else '-'):>10}", end="")
        for results in all_results.values():
            values = results.samples.get(name, [])
            if values:  # 0.1 ms: engines differ by less than a millisecond
                print(f"{statistics.median(values):>19.4f}{p95(values):>9.4f}{len(values):>4}",
                      end="")
            else:
                print(f"{'-':>19}{'-':>9}{0:>4}", end="")
        print()


# ----------------------------------------------------------------------------- CPU
def cpu_config(interfaces: int, per_interface: int) -> str:
    lines = ["global_defs {", "    router_id cpu", "}"]
    n = 0
    for i in range(interfaces):
        for vrid in range(1, per_interface + 1):
            n += 1
            lines += [f"vrrp_instance VI_{n} {{", "    state BACKUP", f"    interface d{i}",
                      f"    virtual_router_id {vrid}", "    priority 100", "    advert_int 1",
                      "    version 3", "    virtual_ipaddress {",
                      f"        2001:db8:{i + 1}::{vrid:x}/64", "    }", "}"]
    return "\n".join(lines) + "\n"


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def measure_cpu(engine: str, workdir: Path, interfaces: int = 4, per_interface: int = 250,
                window: float = 20.0) -> tuple[float, int]:
    """(CPU % of one core over `window`, adverts/s seen) once all instances are master."""
    ns = f"hac-{os.getpid()}-cpu{engine[:2]}"
    d = workdir / f"cpu-{engine}"
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "keepalived.conf"
    conf.write_text(cpu_config(interfaces, per_interface))
    run(["ip", "netns", "add", ns])
    proc = None
    try:
        run(["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
             "net.ipv6.conf.default.accept_dad=0"], ns=ns)
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        for i in range(interfaces):
            # veth pairs (this kernel may have no dummy driver); the peer stays silent.
            run(["ip", "-n", ns, "link", "add", f"d{i}", "type", "veth", "peer", "name",
                 f"d{i}p"])
            run(["ip", "-n", ns, "link", "set", f"d{i}p", "up"])
            run(["ip", "-n", ns, "addr", "add", f"192.0.2.{1 + 64 * i}/26", "dev", f"d{i}"])
            run(["ip", "-n", ns, "link", "set", f"d{i}", "up"])
        if engine == "keepalived":
            argv = ["keepalived", "-n", "-G", "-P", "-f", str(conf), "-p", str(d / "k.pid"),
                    "-r", str(d / "v.pid"), "-c", str(d / "c.pid")]
        else:
            argv = [sys.executable, "-m", "haconsole.agent", "-f", str(conf), "-n", "-G",
                    "--control", str(d / "agent.sock")]
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        proc = spawn(ns, argv, log=d / "engine.log", env=env)
        total = interfaces * per_interface

        def masters() -> bool:
            out = run(["ip", "-n", ns, "-6", "-o", "addr", "show", "scope", "global"],
                      check=False).stdout
            return out.count("2001:db8:") >= total

        wait_for(masters, 60, interval=0.5, what=f"{total} VIPs on the {engine} node")
        time.sleep(6)  # past garp_master_delay (5 s): the steady state, adverts only
        pids = [int(p) for p in run(["ip", "netns", "pids", ns]).stdout.split()]
        c0, t0 = _cpu_seconds(pids), time.monotonic()
        time.sleep(window)
        c1, t1 = _cpu_seconds(pids), time.monotonic()
        return 100 * (c1 - c0) / (t1 - t0), total
    finally:
        if proc is not None:
            stop_process(proc, timeout=20)
        for pid in run(["ip", "netns", "pids", ns], check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        run(["ip", "netns", "delete", ns], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--kinds", default="sigterm,sigkill,nginx")
    parser.add_argument("--engines", default="keepalived,haconsole")
    parser.add_argument("--cpu", action="store_true", help="also the 1 000-instance CPU test")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/failover.py needs root (network namespaces)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="hac-bench-"))
    engines = args.engines.split(",")
    if not args.cpu_only:
        results = {e: run_engine(e, args.kinds.split(","), args.trials, workdir)
                   for e in engines}
        report(results)
    if args.cpu or args.cpu_only:
        print("\n1 000 instances, advert_int 1, one node master of all:")
        for engine in engines:
            cpu, n = measure_cpu(engine, workdir)
            print(f"  {engine:<11} {cpu:6.1f} % of one core ({n} instances)")
    subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
