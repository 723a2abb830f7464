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

Engines (`--engines`, comma-separated): `keepalived` and `haconsole` pairs, and with the
agent's opt-in fast preemption `haconsole-fast` (both agents `--fast-preempt`) and
`keepalived+fast` (a keepalived master, an agent backup with `--fast-preempt`): there
`nginx: lowered-priority advert -> new master advert` is what fast preemption removes.

`--cpu` also measures the CPU of an engine running 1 000 instances at advert_int 1
(VRRPv3 IPv6, 4 interfaces x 250 VRIDs, alone so it is master of all): haconsole's
agent and keepalived's VRRP process on the same config, both at once (each in its own
namespace) and measured in turns, each while the other is stopped, so the two neither
slow each other down nor see a different machine; with their RSS, the time to start and
to stop (SIGTERM: 1 000 priority-0 adverts, 1 000 VIPs).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def trial(lab: NetnsLab, capture: Capture, kind: str, results: Results,
          clients: ClientLog | None = None) -> None:
    restore(lab)
    if clients is not None:  # the clients reach nginx1 before the fault, and then...
        t = time.time()
        wait_for(lambda: clients.healthy(t, "nginx1", 1.0), 20, what="clients on nginx1")
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
        if low is not None and new is not None:
            results.add("nginx: lowered-priority advert -> new master advert", new.t - low.t)
    if clients is not None:  # ... what they saw of it, once nginx2 serves them all
        wait_for(lambda: clients.healthy(t0, "nginx2", 1.5), 20, what="clients on nginx2")
        outage, failed, _ = client_outage(clients.since(t0))
        results.add(f"{kind}: client outage", outage)
        results.add(f"{kind}: failed requests", float(failed))
    if kind in ("sigterm", "sigkill"):
        with contextlib.suppress(TimeoutError):
            lab.wait_engine_exit("nginx1")


ENGINES = {  # --engines: what runs on (nginx1, nginx2), and which agents --fast-preempt
    "keepalived": (("keepalived", "keepalived"), ()),
    "haconsole": (("haconsole", "haconsole"), ()),
    "haconsole-fast": (("haconsole", "haconsole"), ("nginx1", "nginx2")),
    "keepalived+fast": (("keepalived", "haconsole"), ("nginx2",)),
}


def pair_lab(engine: str, configs: dict[str, Any], workdir: Path) -> NetnsLab:
    """The pair lab of one `--engines` name (see ENGINES)."""
    if engine not in ENGINES:
        raise SystemExit(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    kinds, fast = ENGINES[engine]
    return NetnsLab(configs, engines=dict(zip(configs, kinds, strict=True)),  # type: ignore[arg-type]
                    workdir=workdir, fast_preempt=fast)


def run_engine(engine: str, kinds: list[str], trials: int, workdir: Path,
               clients: bool = False) -> Results:
    """Every fault `kind`, `trials` times, on a pair lab of `engine` (ENGINES); with
    `clients`, the probe (`--with-clients`) also gives each fault's client outage."""
    results = Results()
    lab = pair_lab(engine, pair_configs(), workdir / engine)
    with lab:
        capture = Capture(lab, workdir / f"{engine}.pcap")
        probe = ClientLog(lab) if clients else None
        try:
            for kind in kinds:
                for i in range(trials):
                    trial(lab, capture, kind, results, probe)
                    print(f"  {engine} {kind} {i + 1}/{trials}", file=sys.stderr, flush=True)
        finally:
            if probe is not None:
                probe.stop()
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
    "nginx: lowered-priority advert -> new master advert": MDI,
    "nginx: client outage": 1.0 + MDI,
    "nginx: failed requests": 0.0,
}


def report(all_results: dict[str, Results]) -> None:
    names = sorted({n for r in all_results.values() for n in r.samples},
                   key=lambda n: list(BOUNDS).index(n) if n in BOUNDS else 99)
    widths = {engine: max(19, len(engine) + 9) for engine in all_results}
    print(f"\n{'measure (seconds)':<52}{'RFC bound':>10}", end="")
    for engine in all_results:
        print(f"{engine + ' median':>{widths[engine]}}{'p95':>9}{'n':>4}", end="")
    print()
    for name in names:
        bound = BOUNDS.get(name)
        print(f"{name:<52}{(f'{bound:.4f}' if bound else '-'):>10}", end="")
        for engine, results in all_results.items():
            values = results.samples.get(name, [])
            w = widths[engine]
            if values:  # 0.1 ms: engines differ by less than a millisecond
                print(f"{statistics.median(values):>{w}.4f}{p95(values):>9.4f}{len(values):>4}",
                      end="")
            else:
                print(f"{'-':>{w}}{'-':>9}{0:>4}", end="")
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


def _cpu_time(pids: list[int]) -> float:
    """CPU seconds of `pids` and all their threads, from the scheduler's own account
    (schedstat, nanoseconds); /proc/PID/stat's clock ticks where it is missing."""
    total = 0.0
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text()
                             .split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _rss_mib(pids: list[int]) -> float:
    kib = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    kib += int(line.split()[1])
    return kib / 1024


@dataclass
class CpuRun:
    """One engine of the CPU test: its namespace, process and figures."""

    engine: str
    ns: str
    dir: Path
    total: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready: float | None = None  # spawn -> control socket answers (the agent)
    masters: float | None = None  # spawn -> every VIP on the interfaces
    stop: float | None = None  # SIGTERM -> exit
    cpu: list[float] = field(default_factory=list)  # % of one core, per window
    sent: list[float] = field(default_factory=list)  # packets/s out of its veths, per window
    rss: float = 0.0

    def tx_packets(self) -> int:
        """Packets sent on the namespace's veths so far: the adverts (the CPU figure is
        only a comparison if both engines send every one of them)."""
        links = json.loads(run(["ip", "-n", self.ns, "-j", "-s", "link", "show"]).stdout)
        return sum(link["stats64"]["tx"]["packets"] for link in links
                   if link["ifname"].startswith("d") and not link["ifname"].endswith("p"))

    def pids(self) -> list[int]:
        return [int(p) for p in run(["ip", "netns", "pids", self.ns], check=False).stdout.split()]

    def vips(self) -> int:
        out = run(["ip", "-n", self.ns, "-6", "-o", "addr", "show", "scope", "global"],
                  check=False).stdout
        return out.count("2001:db8:")


def _cpu_start(engine: str, workdir: Path, interfaces: int, per_interface: int) -> CpuRun:
    """The engine alone in a namespace with `interfaces` veths (peers silent), started."""
    tag = "ka" if engine == "keepalived" else "ha"
    job = CpuRun(engine, f"hac-{os.getpid()}-cpu{tag}", workdir / f"cpu-{engine}",
                 interfaces * per_interface)
    job.dir.mkdir(parents=True, exist_ok=True)
    conf = job.dir / "keepalived.conf"
    conf.write_text(cpu_config(interfaces, per_interface))
    run(["ip", "netns", "add", job.ns])
    run(["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
         "net.ipv6.conf.default.accept_dad=0"], ns=job.ns)
    run(["ip", "-n", job.ns, "link", "set", "lo", "up"])
    for i in range(interfaces):
        # veth pairs (this kernel may have no dummy driver); the peer stays silent.
        run(["ip", "-n", job.ns, "link", "add", f"d{i}", "type", "veth", "peer", "name",
             f"d{i}p"])
        run(["ip", "-n", job.ns, "link", "set", f"d{i}p", "up"])
        run(["ip", "-n", job.ns, "addr", "add", f"192.0.2.{1 + 64 * i}/26", "dev", f"d{i}"])
        run(["ip", "-n", job.ns, "link", "set", f"d{i}", "up"])
    if engine == "keepalived":
        argv = ["keepalived", "-n", "-G", "-P", "-f", str(conf), "-p", str(job.dir / "k.pid"),
                "-r", str(job.dir / "v.pid"), "-c", str(job.dir / "c.pid")]
    else:
        argv = [sys.executable, "-m", "haconsole.agent", "-f", str(conf), "-n", "-G",
                "--control", str(job.dir / "agent.sock")]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    job.started = time.monotonic()
    job.proc = spawn(job.ns, argv, log=job.dir / "engine.log", env=env)
    return job


def _cpu_cleanup(job: CpuRun) -> None:
    if job.proc is not None and job.proc.poll() is None:
        stop_process(job.proc, timeout=30)
    for pid in job.pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run(["ip", "netns", "delete", job.ns], check=False)


def _gone(job: CpuRun) -> bool:
    return not job.pids()


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def measure_cpu(engines: list[str], workdir: Path, interfaces: int = 4,
                per_interface: int = 250, windows: int = 5, window: float = 10.0,
                settle: float = 2.0) -> list[CpuRun]:
    """Every engine started at once, each master of all its instances; then, in turns,
    each engine's CPU over a window while the others are stopped (SIGSTOP): on a
    machine of two CPUs two engines running together slow each other down, and taking
    turns spreads whatever else the machine does over all of them alike. After each
    turn the stopped engines resume and `settle` seconds pass (their late adverts)."""
    from haconsole.netns.lab import agent_status

    jobs: list[CpuRun] = []
    try:
        for engine in engines:
            jobs.append(_cpu_start(engine, workdir, interfaces, per_interface))

        def settled() -> bool:
            now = time.monotonic()
            for job in jobs:
                if job.proc is not None and job.proc.poll() is not None:
                    raise RuntimeError(f"{job.engine} exited: see {job.dir / 'engine.log'}")
                if job.ready is None and job.engine != "keepalived" \
                        and agent_status(job.dir / "agent.sock") is not None:
                    job.ready = now - job.started
                if job.masters is None and job.vips() >= job.total:
                    job.masters = now - job.started
            return all(job.masters is not None for job in jobs)

        wait_for(settled, 90, interval=0.1, what="every VIP on every engine")
        time.sleep(6)  # past garp_master_delay (5 s): the steady state, adverts only
        pids = {job.engine: job.pids() for job in jobs}
        for _ in range(windows):
            for job in jobs:
                others = [p for j in jobs if j is not job for p in pids[j.engine]]
                _signal_all(others, signal.SIGSTOP)
                try:
                    time.sleep(settle)
                    n0 = job.tx_packets()
                    c0, t0 = _cpu_time(pids[job.engine]), time.monotonic()
                    time.sleep(window)
                    c1, t1 = _cpu_time(pids[job.engine]), time.monotonic()
                    n1 = job.tx_packets()
                finally:
                    _signal_all(others, signal.SIGCONT)
                job.cpu.append(100 * (c1 - c0) / (t1 - t0))
                job.sent.append((n1 - n0) / (t1 - t0))
        for job in jobs:
            job.rss = _rss_mib(pids[job.engine])
        for job in jobs:  # one at a time: the stop is measured alone
            assert job.proc is not None
            t0 = time.monotonic()
            stop_process(job.proc, timeout=60)
            wait_for(functools.partial(_gone, job), 30, what=f"{job.engine} gone")
            job.stop = time.monotonic() - t0
    finally:
        for job in jobs:
            _cpu_cleanup(job)
    return jobs


def cpu_report(jobs: list[CpuRun], window: float) -> None:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    n = jobs[0].total if jobs else 0
    print(f"\n{n} instances, advert_int 1, one node master of all; the engines started "
          f"together, CPU in turns ({len(jobs[0].cpu) if jobs else 0} windows of {window:g} s "
          "each, the other engine stopped meanwhile):")
    print(f"  {'engine':<11}{'CPU % of one core (per window)':<40}{'median':>7}"
          f"{'pkt/s':>7}{'RSS MiB':>9}{'ready s':>9}{'masters s':>11}{'stop s':>8}")
    for job in jobs:
        per = " ".join(f"{c:.2f}" for c in job.cpu)
        print(f"  {job.engine:<11}{per:<40}{statistics.median(job.cpu):>7.2f}"
              f"{statistics.median(job.sent):>7.0f}"
              f"{job.rss:>9.1f}{seconds(job.ready):>9}{seconds(job.masters):>11}"
              f"{seconds(job.stop):>8}")
    print("  (pkt/s: packets sent on its interfaces per second, median window: the adverts;\n"
          "   ready: the agent answers on its control socket; masters: every VIP is on "
          "its interface,\n   garp_master_delay and Master_Down_Interval included; stop: "
          "SIGTERM to exit)")


# ----------------------------------------------------------------------------- clients
# What the clients saw (`--clients`): the probe (`python -m haconsole.probe`) in the client
# namespace requests the VIP 50 times a second through the whole run, and each fault on
# the master is read back as the client-visible outage: the first request that failed
# after the fault to the first that succeeded after the last failure (the view's
# definition, `cluster.view.ClientOutage`). "-back" kinds undo the fault (the master
# returns and preempts); the nopreempt pair shows a return that moves nothing.

CLIENT_KINDS = {
    "nginx": "nginx stopped on the master (check weight -20)",
    "nginx-back": "nginx started again: the master preempts back",
    "sigterm": "engine stopped cleanly on the master (priority 0)",
    "sigterm-back": "engine started again: the master preempts back",
    "sigkill": "engine killed on the master (SIGKILL, VIP left on it)",
    "sigkill-back": "engine started again after the kill",
    "nopreempt-sigterm": "nopreempt pair: engine stopped cleanly on the master",
    "nopreempt-back": "nopreempt pair: the old master back (no preemption)",
}
CLIENT_RATE = 50.0  # requests/s: a 20 ms resolution
PHASE = random.Random(14)  # where in the advert interval each fault lands (reproducible)


class ClientLog:
    """The probe in the client namespace; its requests collected by a reader thread."""

    def __init__(self, lab: NetnsLab, rate: float = CLIENT_RATE) -> None:
        from haconsole.netns.lab import agent_env
        from haconsole.sources.probe import probe_argv

        argv = probe_argv(sys.executable, [f"http://{VIP4}/={VIP4}"], rate=rate)
        self.proc = subprocess.Popen(["ip", "netns", "exec", lab.topology.ns("client"), *argv],
                                     stdout=subprocess.PIPE, text=True, env=agent_env(),
                                     start_new_session=True)
        self.events: list[Any] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from haconsole.sources.probe import parse_probe_line

        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = parse_probe_line(line)
            if event is not None:
                self.events.append(event)

    def since(self, t: float) -> list[Any]:
        return sorted((e for e in list(self.events) if e.t >= t), key=lambda e: e.t)

    def healthy(self, t: float, node: str, span: float = 1.0) -> bool:
        """Every request sent in the last `span` s (after `t`) answered by `node`."""
        now = time.time()
        recent = [e for e in self.since(max(t, now - span - 0.3)) if e.t <= now - 0.25]
        return bool(recent) and recent[0].t <= now - span and \
            all(e.ok and e.served_by == node for e in recent)

    def stop(self) -> None:
        stop_process(self.proc)  # type: ignore[arg-type]


def client_outage(events: list[Any]) -> tuple[float, int, set[str]]:
    """(seconds, failed requests, their errors) from the first failure to the first
    success after the last one; (0, 0, {}) when nothing failed."""
    failed = [e for e in events if not e.ok]
    if not failed:
        return 0.0, 0, set()
    last = failed[-1].t
    recovered = next((e.t for e in events if e.ok and e.t > last), last)
    return recovered - failed[0].t, len(failed), {e.error for e in failed}


def client_trial(lab: NetnsLab, log: ClientLog, kind: str, results: Results,
                 errors: dict[str, set[str]]) -> None:
    """One fault (or its undoing) on a lab restored beforehand when needed."""
    from haconsole.cluster import commands as cmd

    # after a fault nginx2 holds the VIP; a returning master preempts it back, except
    # with nopreempt
    expect = "nginx1" if kind.endswith("-back") and kind != "nopreempt-back" else "nginx2"
    time.sleep(PHASE.uniform(0.0, 1.0))  # any moment of the advert interval, not the same
    t0 = time.time()
    if kind == "nginx":
        lab.execute(cmd.StopService("nginx1"))
    elif kind == "nginx-back":
        lab.start_nginx("nginx1")
    elif kind in ("sigterm", "nopreempt-sigterm", "sigkill"):
        lab.signal_engine("nginx1", signal.SIGKILL if kind == "sigkill" else signal.SIGTERM)
        lab.wait_engine_exit("nginx1")
    else:  # an engine back
        lab.start_engine("nginx1")
    wait_for(lambda: lab.holders(VIP4) == [expect] or (kind == "sigkill" and expect in
                                                         lab.holders(VIP4)),
             20, what=f"{VIP4} on {expect} after {kind}")
    wait_for(lambda: log.healthy(t0, expect, 1.5), 20, what=f"clients served by {expect}")
    seconds, failed, errs = client_outage(log.since(t0))
    results.add(f"{kind}: client outage", seconds)
    results.add(f"{kind}: failed requests", float(failed))
    errors.setdefault(kind, set()).update(errs)


def client_restore(lab: NetnsLab, log: ClientLog) -> None:
    """Both engines and nginx up, nginx1 the only holder, clients served by it."""
    for name in ("nginx1", "nginx2"):
        if not lab.nginx_pids(name):
            lab.start_nginx(name)
        node = lab.nodes[name]
        if node.proc is None or node.proc.poll() is not None:
            lab.start_engine(name)
    if lab.holders(VIP4) == ["nginx2"]:  # a nopreempt pair keeps it: hand it back
        lab.signal_engine("nginx2", signal.SIGTERM)
        lab.wait_engine_exit("nginx2")
        lab.wait_single_holder(VIP4, 20, expect="nginx1")
        lab.start_engine("nginx2")
    lab.wait_single_holder(VIP4, 20, expect="nginx1")
    t = time.time()
    wait_for(lambda: log.healthy(t, "nginx1", 1.5), 20, what="clients served by nginx1")


def run_clients(engine: str, trials: int, workdir: Path
                ) -> tuple[Results, dict[str, set[str]]]:
    """Every client kind, `trials` times, on a pair and on a nopreempt pair of `engine`."""
    results = Results()
    errors: dict[str, set[str]] = {}
    for nopreempt in (False, True):
        lab = pair_lab(engine, pair_configs(nopreempt=nopreempt),
                       workdir / f"clients-{engine}-{int(nopreempt)}")
        kinds = [k for k in CLIENT_KINDS if k.startswith("nopreempt") == nopreempt]
        with lab:
            log = ClientLog(lab)
            try:
                for i in range(trials):
                    for kind in kinds:
                        if not kind.endswith("-back"):
                            client_restore(lab, log)
                        client_trial(lab, log, kind, results, errors)
                    print(f"  {engine} clients{' nopreempt' if nopreempt else ''} "
                          f"{i + 1}/{trials}", file=sys.stderr, flush=True)
            finally:
                log.stop()
    return results, errors


def client_table(all_results: dict[str, tuple[Results, dict[str, set[str]]]]) -> str:
    """The Markdown table of docs/client-outage.md: median (min-max) per fault kind."""
    head = "| fault (on the master) |" + "".join(
        f" {e}: outage ms | failed |" for e in all_results) + " errors seen |"
    rule = "|---|" + "---:|---:|" * len(all_results) + "---|"
    rows = [head, rule]
    for kind, words in CLIENT_KINDS.items():
        cells = [f"| {words} |"]
        seen: set[str] = set()
        for results, errors in all_results.values():
            ms = [v * 1000 for v in results.samples.get(f"{kind}: client outage", [])]
            failed = results.samples.get(f"{kind}: failed requests", [])
            seen |= errors.get(kind, set())
            if ms:
                cells.append(f" {statistics.median(ms):.0f} ({min(ms):.0f}-{max(ms):.0f}, "
                             f"n={len(ms)}) | {statistics.median(failed):.0f} |")
            else:
                cells.append(" - | - |")
        cells.append(f" {', '.join(sorted(seen)) or 'none'} |")
        rows.append("".join(cells))
    return "\n".join(rows) + "\n"


CLIENT_DOC = """\
# What clients see during a failover

Measured by `sudo .venv/bin/python benchmarks/failover.py --clients` (it writes this
file), on {when} ({cpus} CPUs, Linux {kernel}): {trials} trials per fault, a keepalived
{kversion} pair and a haconsole pair on the same namespace topology and the same
keepalived.conf (VRRPv2, advert_int 1, priorities 100 / 90, the nginx check with
`weight -20`; keepalived polls it with curl every second, the agent follows the nginx
process). A real client in the client namespace (`python -m haconsole.probe`, what the
console's Clients panel reads in `lab --netns`) sends {rate:g} HTTP requests a second
through the VIP, each on a new TCP connection, 200 ms deadline.

**Outage** is what the console's stopwatch calls "clients saw N ms": from the first request
that failed after the fault to the first success after the last failure. Cells: median
(min-max, trials), and the median number of failed requests.

{table}
How to read it:

- A dead nginx under a `weight -20` check costs about Master_Down_Interval (3.65 s at
  advert_int 1): the master advertises the lower priority (the agent at once, keepalived
  at its next check), but an RFC 5798 backup does not take over on a lower-priority
  advert: it waits out Master_Down_Interval from the last advert at full priority, which
  came up to one advert interval before nginx died (plus, for keepalived, the time its
  check takes to notice). Meanwhile clients are refused. (The agent's opt-in
  `--fast-preempt` takes over on the first lower advert.)
- A clean stop sends priority 0: the backup takes over one Skew_Time later (0.65 s), and
  clients time out in between: the old master has removed the VIP, the new one has not
  announced it yet.
- A killed engine leaves the VIP and nginx on the old master: clients keep being served
  by it until the new master's gratuitous ARP, so they see little or nothing.
- A master coming back preempts within an advert or two; clients see at most the
  moment their ARP cache moves. With `nopreempt` nothing moves at all.
"""


def profile_agent(workdir: Path, seconds: float, top: int = 18) -> None:
    """`--profile`: where the agent's time goes at 1 000 instances, sampled by py-spy
    (wall-clock samples of the running agent, idle excluded), as self and inclusive
    shares of the samples by function."""
    import shutil
    from collections import Counter

    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    job = _cpu_start("haconsole", workdir, 4, 250)
    try:
        wait_for(lambda: job.vips() >= job.total, 90, interval=0.2, what="every VIP")
        time.sleep(6)  # past garp_master_delay: adverts only
        raw = workdir / "profile.txt"
        pid = job.pids()[0]
        run([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate",
             "500", "--format", "raw", "--output", str(raw), "--nonblocking"],
            timeout=seconds + 30)
    finally:
        _cpu_cleanup(job)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"\nagent at 1 000 instances, {total} busy samples over {seconds:g} s "
          "(py-spy, 500 Hz, idle excluded):")
    print(f"  {'self %':>7}  function")
    for frame, n in own.most_common(top):
        print(f"  {100 * n / total:>7.1f}  {frame}")
    print(f"  {'incl %':>7}  function (below the event loop)")
    below = [(f, n) for f, n in inclusive.most_common() if n < total]  # not the loop's frames
    for frame, n in below[:top]:
        print(f"  {100 * n / total:>7.1f}  {frame}")


def main_clients(args: argparse.Namespace) -> int:
    """`--clients`: the client-visible outage per fault kind, written to `--clients-doc`."""
    workdir = Path(tempfile.mkdtemp(prefix="hac-bench-"))
    try:
        results = {f"{e} pair": run_clients(e, args.client_trials, workdir)
                   for e in args.engines.split(",")}
    finally:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    table = client_table(results)
    print(table)
    version = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
    kversion = (version.stderr + version.stdout).split()[1] if version.returncode == 0 \
        else "?"
    doc = CLIENT_DOC.format(when=time.strftime("%Y-%m-%d"), trials=args.client_trials,
                            kversion=kversion, rate=CLIENT_RATE, table=table,
                            cpus=os.cpu_count(), kernel=os.uname().release)
    Path(args.clients_doc).write_text(doc)
    print(f"written to {args.clients_doc}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--kinds", default="sigterm,sigkill,nginx")
    parser.add_argument("--engines", default="keepalived,haconsole")
    parser.add_argument("--cpu", action="store_true", help="also the 1 000-instance CPU test")
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--cpu-windows", type=int, default=5,
                        help="CPU measurement windows (default 5)")
    parser.add_argument("--cpu-window", type=float, default=10.0,
                        help="seconds per CPU window (default 10)")
    parser.add_argument("--profile", type=float, metavar="SECONDS",
                        help="only: where the agent's time goes at 1 000 instances (py-spy)")
    parser.add_argument("--with-clients", action="store_true",
                        help="run the client probe during the trials: each fault's client "
                             "outage (s) and failed requests join the table")
    parser.add_argument("--clients", action="store_true",
                        help="only the client-visible outage per fault (writes --clients-doc)")
    parser.add_argument("--client-trials", type=int, default=5)
    parser.add_argument("--clients-doc", default=str(Path(__file__).resolve().parent.parent
                                                     / "docs" / "client-outage.md"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/failover.py needs root (network namespaces)", file=sys.stderr)
        return 2
    if args.clients:
        return main_clients(args)
    if args.profile:
        workdir = Path(tempfile.mkdtemp(prefix="hac-bench-"))
        try:
            profile_agent(workdir, args.profile)
        finally:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="hac-bench-"))
    engines = args.engines.split(",")
    if not args.cpu_only:
        results = {e: run_engine(e, args.kinds.split(","), args.trials, workdir,
                                 clients=args.with_clients)
                   for e in engines}
        report(results)
    if args.cpu or args.cpu_only:
        cpu_engines = [e for e in ("keepalived", "haconsole") if e in engines] \
            or ["keepalived", "haconsole"]  # fast preemption changes nothing on a lone master
        cpu_report(measure_cpu(cpu_engines, workdir, windows=args.cpu_windows,
                               window=args.cpu_window), args.cpu_window)
    subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
