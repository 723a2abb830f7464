"""Chaos soak: haconsole agents and nginx in namespaces, random faults, invariants.

Run as root: `.venv/bin/python benchmarks/soak.py [--duration 1800] [--seed N] [--nodes 3]
[--json]`. Exit status 0 when nothing was violated, 1 otherwise, 130 when interrupted.

Why: unit and pair tests inject one fault into a clean cluster; operators get faults in
every order, on every role, mid-hold. The soak runs N agents (2 VRRP instances whose
masters sit at opposite ends, weight -20 nginx tracking, a failover hold) and runs
episodes, each one fault and its repair, from a nominal cluster back to it:

  kill       SIGKILL an agent, restart it      stop     SIGSTOP, later SIGCONT
  pause      SIGSTOP for 0.3-1.5 s (shorter than any Master_Down_Interval: no takeover)
  halt       SIGTERM (priority 0), restart     nginx    stop/kill nginx, start it
  link       carrier down, up                  partition  bridge port cut, healed
  loss       30 % random VRRP loss for a while (nftables on the bridge)
  failover   the operator's `failover`; the released node holds back, then preempts
  failover+X failover, then fault X on the *new* master while the hold runs: the held
             node must take over at the RFC time (the "hold blocks takeover" bug class)

Kinds come in shuffled rounds (every kind once a round), victims at random; a seed makes
the schedule reproducible. Nothing waits blindly: every wait is a condition polled with
a timeout derived from the RFC bound (Master_Down_Interval + check interval + margin).

What is checked (a failed check is a violation, listed with its time):
- a takeover: an observer thread dumps every node's addresses over netlink every 10 ms;
  fault -> a new node holds the VIP is the no-master time, against its RFC bound
  (Master_Down_Interval for kill/stop/partition/link, Skew_Time for halt/failover, MDI +
  check interval for nginx), plus a tolerance; the node that took over must be the
  highest-priority eligible one, MASTER per its agent and per the console's view;
- a gap: no live MASTER (a holder that is not killed, stopped, cut off) outside the
  takeover window of a fault is an outage;
- settled: exactly one holder per VIP, the top-priority node, MASTER per its agent, every
  other agent BACKUP, no VIP on a non-MASTER (orphan), effective == base priority, the
  console's ClusterView (fed by AgentSocketSource over the control sockets) names the same
  MASTER and VIP owner, and curl from the client through each VIP reaches that node;
- at the end: no namespace of the lab, no process of the lab, no work directory left.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import ipaddress
import json
import os
import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import traceback
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haconsole.cluster.view import ClusterView
from haconsole.config import Config, VirtualAddress
from haconsole.netns.lab import NetnsLab, pair_configs, wait_for
from haconsole.netns.topology import list_namespaces, run

T = TypeVar("T")

ADVERT_INT = 1.0
CHECK_INTERVAL = 1.0  # chk_nginx's interval (the agent tracks nginx by pidfd: ms, in fact)
WEIGHT = -20
LOSS_PERCENT = 30
MAX_VIEW_ERRORS = 10  # console fold exceptions listed one by one (then counted)
RESUME_WINDOW = 1.5  # after SIGCONT, how long a resumed backup's claim is looked for
RECONNECT = 0.25  # AgentSocketSource retry period: how late the view can learn of a restart
NEIGH_REPROBE = 15.0  # a stale client ARP entry: 5 s delay + 3 unicast probes + resolution
MARGIN = 3.0  # settle margin on top of the RFC bound (agent start-up, a loaded machine)

FAULTS = ("kill", "stop", "halt", "nginx", "link", "partition")
SEQUENCED = ("kill", "stop", "halt", "partition", "link")  # after a failover
KINDS = (*FAULTS, "pause", "loss", "failover", *(f"failover+{f}" for f in SEQUENCED))


def skew_time(priority: int, adv: float = ADVERT_INT) -> float:
    """RFC 3768/5798 Skew_Time."""
    return (256 - priority) / 256 * adv


def master_down(priority: int, adv: float = ADVERT_INT) -> float:
    """RFC Master_Down_Interval."""
    return 3 * adv + skew_time(priority, adv)


# ----------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class Plan:
    """One VRRP instance of the soak: its VIP and each node's base priority."""

    name: str
    vrid: int
    vip: str
    priorities: dict[str, int]

    @property
    def top(self) -> str:
        return max(self.priorities, key=lambda n: self.priorities[n])


def soak_configs(names: list[str], instances: int) -> tuple[dict[str, Config], list[Plan]]:
    """The classic nginx config, N nodes, 1 or 2 instances: VI_1 master on the first node,
    VI_2 on the last (priorities 100, 90, 80 ... in opposite orders), weight -20 check."""
    plans = []
    for k in range(instances):
        order = names if k % 2 == 0 else names[::-1]
        prios = {n: 100 - 10 * order.index(n) for n in names}
        plans.append(Plan(f"VI_{k + 1}", 100 + k, f"192.0.2.{170 + k}", prios))
    configs: dict[str, Config] = {}
    for plan in plans:
        per_node = pair_configs(names=tuple(names), vrid=plan.vrid,
                                priorities=tuple(plan.priorities[n] for n in names))
        for name, config in per_node.items():
            inst = dataclasses.replace(
                config.vrrp_instances[0], name=plan.name,
                state="MASTER" if name == plan.top else "BACKUP",
                virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface(f"{plan.vip}/24"))])
            if name in configs:
                configs[name].vrrp_instances.append(inst)
            else:
                configs[name] = dataclasses.replace(config, vrrp_instances=[inst])
    return configs, plans


# ----------------------------------------------------------------------------- netlink
_CLONE_NEWNET = 0x40000000
_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_RTM_NEWADDR, _RTM_GETADDR, _NLMSG_DONE, _NLMSG_ERROR = 20, 22, 3, 2
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_IFA_ADDRESS, _IFA_LOCAL = 1, 2


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a short-lived thread that entered `ns` (setns only moves the calling
    thread; a socket stays in the namespace it was created in)."""
    box: dict[str, Any] = {}

    def enter() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as err:  # handed to the caller's thread
            box["error"] = err

    thread = threading.Thread(target=enter, name=f"setns-{ns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class NsAddresses:
    """Every address configured in one namespace, by an RTM_GETADDR dump on an rtnetlink
    socket living there: ~50 µs a dump, where `ip addr` forks (too slow for 10 ms polls)."""

    def __init__(self, ns: str) -> None:
        def make() -> socket.socket:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            sock.settimeout(2.0)
            sock.bind((0, 0))
            return sock

        self.sock = in_netns(ns, make)
        self.seq = 0

    def dump(self) -> set[str]:
        self.seq += 1
        seq = self.seq
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + _IFADDRMSG.size, _RTM_GETADDR,
                                      _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0)
                       + _IFADDRMSG.pack(0, 0, 0, 0, 0))
        found: set[str] = set()
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _NLMSGHDR.size <= len(data):
                length, kind, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, off)
                if length < _NLMSGHDR.size:
                    return found
                if mseq == seq:
                    if kind == _NLMSG_DONE:
                        return found
                    if kind == _NLMSG_ERROR:
                        raise OSError("RTM_GETADDR dump failed")
                    if kind == _RTM_NEWADDR:
                        self._parse(data, off, length, found)
                off += (length + 3) & ~3

    @staticmethod
    def _parse(data: bytes, off: int, length: int, found: set[str]) -> None:
        family = data[off + _NLMSGHDR.size]
        af = socket.AF_INET if family == socket.AF_INET else socket.AF_INET6
        pos = off + _NLMSGHDR.size + _IFADDRMSG.size
        end = off + length
        while pos + _RTATTR.size <= end:
            rta_len, rta_type = _RTATTR.unpack_from(data, pos)
            if rta_len < _RTATTR.size:
                return
            if rta_type in (_IFA_ADDRESS, _IFA_LOCAL):
                found.add(socket.inet_ntop(af, data[pos + 4:pos + rta_len]))
            pos += (rta_len + 3) & ~3

    def close(self) -> None:
        self.sock.close()


# ----------------------------------------------------------------------------- observer
Holders = frozenset[str]


class Observer(threading.Thread):
    """Polls every node's addresses every `interval` s and keeps, per VIP, a log of its
    holder set (appended on change), and the set of disabled nodes the soak declares:
    no-master times and gaps are computed from these logs afterwards."""

    def __init__(self, namespaces: dict[str, str], vips: Iterable[str],
                 interval: float = 0.01) -> None:
        super().__init__(name="observer", daemon=True)
        self.interval = interval
        self.vips = list(vips)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.addrs = {node: NsAddresses(ns) for node, ns in namespaces.items()}
        self.changes: dict[str, list[tuple[float, Holders]]] = {v: [] for v in self.vips}
        self.disabled: list[tuple[float, Holders]] = [(0.0, frozenset())]
        self.periods: list[float] = []
        self.error: BaseException | None = None
        self.sample()

    def sample(self) -> None:
        held = {node: a.dump() for node, a in self.addrs.items()}
        t = time.monotonic()
        with self.lock:
            for vip in self.vips:
                holders = frozenset(n for n, addrs in held.items() if vip in addrs)
                log = self.changes[vip]
                if not log or log[-1][1] != holders:
                    log.append((t, holders))

    def run(self) -> None:
        last = time.monotonic()
        try:
            while not self.stopping.wait(max(0.0, self.interval - (time.monotonic() - last))):
                now = time.monotonic()
                self.periods.append(now - last)
                last = now
                self.sample()
        except BaseException as err:  # reported by the soak, which then aborts
            self.error = err

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(5)
        for a in self.addrs.values():
            a.close()

    # ---- queries (main thread)
    def holders(self, vip: str) -> Holders:
        with self.lock:
            log = self.changes[vip]
            return log[-1][1] if log else frozenset()

    def set_disabled(self, nodes: Iterable[str]) -> None:
        with self.lock:
            self.disabled.append((time.monotonic(), frozenset(nodes)))

    def first_holder(self, vip: str, since: float, exclude: Iterable[str],
                     until: float | None = None) -> tuple[float, str] | None:
        """When (and who) first held `vip` at or after `since`, ignoring `exclude`."""
        skip = set(exclude)
        with self.lock:
            log = list(self.changes[vip])
        i = max(0, bisect_right(log, since, key=lambda c: c[0]) - 1)
        for t, holders in log[i:]:
            if until is not None and t > until:
                return None
            others = sorted(holders - skip)
            if others:
                return max(t, since), others[0]
        return None

    def changes_between(self, vip: str, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for t, _ in self.changes[vip] if start < t <= end)

    def gaps(self, vip: str, start: float, end: float) -> list[tuple[float, float]]:
        """Intervals within [start, end] where no enabled node held `vip`."""
        with self.lock:
            points = sorted([(t, False, h) for t, h in self.changes[vip]]
                            + [(t, True, d) for t, d in self.disabled], key=lambda p: p[0])
        holders: Holders = frozenset()
        disabled: Holders = frozenset()
        i = 0
        while i < len(points) and points[i][0] <= start:  # the state at `start`
            if points[i][1]:
                disabled = points[i][2]
            else:
                holders = points[i][2]
            i += 1
        out: list[tuple[float, float]] = []
        gap_start = None if holders - disabled else start
        for t, is_disabled, value in points[i:]:
            if t >= end:
                break
            if is_disabled:
                disabled = value
            else:
                holders = value
            served = bool(holders - disabled)
            if served and gap_start is not None:
                out.append((gap_start, t))
                gap_start = None
            elif not served and gap_start is None:
                gap_start = t
        if gap_start is not None:
            out.append((gap_start, end))
        return [(a, b) for a, b in out if b > a]


# ----------------------------------------------------------------------------- the view
@dataclass
class ViewSnapshot:
    dead: list[str]  # sources whose task ended: the console no longer hears them
    masters: dict[str, list[str]]  # instance -> live MASTER nodes, per the console
    owners: dict[str, str]  # vip -> owner
    holders: dict[str, list[str]]  # vip -> holders
    unhealthy: list[str]  # nodes the console sees lost or unhealthy


class ViewFeed:
    """The console's fold, fed as the console feeds it: one AgentSocketSource per agent over its
    control socket, on an asyncio loop in a thread; `snapshot` reads it on that loop."""

    def __init__(self, sources: list[Any]) -> None:
        self.view = ClusterView()
        self.sources = sources
        self.errors: list[str] = []  # the fold raised: a console bug (read by the soak)
        self.error_count = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="view", daemon=True)

    def _apply(self, event: Any) -> None:
        """The console's publish: an exception here would end that source's task for
        good (the view would freeze on that node), so it is caught and reported."""
        try:
            self.view.apply(event)
        except Exception as err:
            self.error_count += 1
            if self.error_count > MAX_VIEW_ERRORS:  # the first ones say it all
                return
            where = traceback.extract_tb(err.__traceback__)[-1]
            self.errors.append(f"ClusterView.apply raised {type(err).__name__}: {err} "
                               f"({Path(where.filename).name}:{where.lineno}) on {event!r}")

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self._call(self._start(), 15)

    async def _start(self) -> None:
        for source in self.sources:
            source.retry = RECONNECT
            await source.start(self._apply)

    def snapshot(self) -> ViewSnapshot:
        return self._call(self._snapshot(), 5)

    async def _snapshot(self) -> ViewSnapshot:
        masters: dict[str, list[str]] = {}
        for (node, name), inst in self.view.instances.items():
            masters.setdefault(name, [])
            if inst.live_master:
                masters[name].append(node)
        dead = [s.name for s in self.sources if s._task is not None and s._task.done()]
        return ViewSnapshot(
            dead=dead,
            masters={k: sorted(v) for k, v in masters.items()},
            owners={v.vip.split("/")[0]: v.owner for v in self.view.vips.values()},
            holders={v.vip.split("/")[0]: sorted(v.holders) for v in self.view.vips.values()},
            unhealthy=sorted(n.name for n in self.view.nodes.values()
                             if not n.up or not n.health_ok))

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._stop(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _stop(self) -> None:
        for source in self.sources:
            await source.stop()


# ----------------------------------------------------------------------------- report
@dataclass
class Violation:
    t: float  # seconds since the soak started
    wall: str
    kind: str
    what: str


@dataclass
class Takeover:
    kind: str
    instance: str
    victim: str
    new_master: str
    seconds: float
    bound: float
    bound_name: str


@dataclass
class Options:
    duration: float = 1800.0
    seed: int = 1
    nodes: int = 3
    instances: int = 2
    hold: float = 10.0  # the agents' --failover-hold
    tolerance: float = 0.25  # a takeover may exceed its RFC bound by this (polling, load)
    outage_tolerance: float = 0.25  # the longest gap with no live MASTER outside takeovers
    loss_span: tuple[float, float] = (8.0, 20.0)
    interval: float = 0.01  # observer polling period (≤ 20 ms asked)
    min_rounds: int = 0  # keep going until every kind ran this many times
    kinds: tuple[str, ...] = KINDS
    quiet: bool = False


@dataclass
class Report:
    options: Options
    started: float = 0.0
    duration: float = 0.0
    faults: Counter[str] = field(default_factory=Counter)
    on_master: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    takeovers: list[Takeover] = field(default_factory=list)
    outage: float = 0.0  # longest gap with no live MASTER outside a takeover window
    outage_at: str = ""
    notes: Counter[str] = field(default_factory=Counter)
    samples: int = 0
    period_median_ms: float = 0.0
    period_max_ms: float = 0.0
    leaks: list[str] = field(default_factory=list)
    interrupted: bool = False
    aborted: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations and not self.interrupted and not self.aborted

    def no_master(self) -> dict[str, dict[str, Any]]:
        """Per fault kind: count, longest no-master time, its bound, worst excess."""
        rows: dict[str, dict[str, Any]] = {}
        for tk in self.takeovers:
            row = rows.setdefault(tk.kind, {"n": 0, "longest_s": 0.0, "bound_s": 0.0,
                                             "bound": tk.bound_name, "worst_over_s": None,
                                             "mean_s": 0.0})
            row["n"] += 1
            row["mean_s"] += tk.seconds
            if tk.seconds >= row["longest_s"]:
                row["longest_s"], row["bound_s"] = tk.seconds, tk.bound
            over = tk.seconds - tk.bound
            if row["worst_over_s"] is None or over > row["worst_over_s"]:
                row["worst_over_s"] = over
        for row in rows.values():
            row["mean_s"] /= row["n"]
        return {k: rows[k] for k in sorted(rows, key=_kind_order)}

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "ok": self.ok, "duration_s": round(self.duration, 1), "seed": o.seed,
            "nodes": o.nodes, "instances": o.instances, "failover_hold_s": o.hold,
            "tolerance_s": o.tolerance, "interrupted": self.interrupted,
            "aborted": self.aborted or None,
            "faults": dict(sorted(self.faults.items(), key=lambda kv: _kind_order(kv[0]))),
            "faults_on_a_master": dict(self.on_master),
            "violations": [dataclasses.asdict(v) for v in self.violations],
            "no_master": {k: {kk: (round(vv, 4) if isinstance(vv, float) else vv)
                              for kk, vv in row.items()} for k, row in self.no_master().items()},
            "takeovers": [dataclasses.asdict(t) for t in self.takeovers],
            "outage_outside_takeovers_s": round(self.outage, 4),
            "notes": dict(self.notes),
            "observer": {"samples": self.samples, "period_median_ms": self.period_median_ms,
                         "period_max_ms": self.period_max_ms},
            "leaks": self.leaks,
        }

    def format(self) -> str:
        o = self.options
        lines = [f"haconsole chaos soak: {self.duration:.1f} s (asked {o.duration:g} s), seed "
                 f"{o.seed}, {o.nodes} nodes, {o.instances} instance(s), failover hold "
                 f"{o.hold:g} s" + (" - INTERRUPTED" if self.interrupted else "")
                 + (f" - ABORTED: {self.aborted}" if self.aborted else "")]
        lines.append(f"faults survived: {sum(self.faults.values())}")
        for kind in sorted(self.faults, key=_kind_order):
            lines.append(f"  {kind:<20} {self.faults[kind]:>4}"
                         + (f"   (on a master: {self.on_master[kind]})"
                            if kind in self.on_master else ""))
        lines.append(f"invariant violations: {len(self.violations)}")
        for v in self.violations:
            lines.append(f"  [+{v.t:8.1f} s {v.wall}] {v.kind}: {v.what}")
        lines.append("longest no-master time per fault kind (fault -> a new MASTER holds the "
                     f"VIP; interfaces polled every {o.interval * 1000:g} ms):")
        lines.append(f"  {'kind':<20} {'n':>4} {'longest':>9} {'bound':>9} {'worst vs bound':>15}"
                     f" {'mean':>8}  bound")
        for kind, row in self.no_master().items():
            lines.append(f"  {kind:<20} {row['n']:>4} {row['longest_s']:>8.3f}s "
                         f"{row['bound_s']:>8.3f}s {row['worst_over_s']:>+14.3f}s "
                         f"{row['mean_s']:>7.3f}s  {row['bound']}")
        lines.append(f"longest gap with no live MASTER outside a takeover: {self.outage:.3f} s"
                     + (f" ({self.outage_at})" if self.outage_at else "")
                     + f" (tolerance {o.outage_tolerance:g} s)")
        for note, n in sorted(self.notes.items()):
            lines.append(f"note: {note}: {n}")
        lines.append(f"observer: {self.samples} samples, period median "
                     f"{self.period_median_ms:.1f} ms, max {self.period_max_ms:.1f} ms")
        lines.append("leaks: " + ("; ".join(self.leaks) if self.leaks else
                                  "none (namespaces, processes, work directory)"))
        lines.append("result: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


# ----------------------------------------------------------------------------- the soak
class Aborted(Exception):
    """The cluster cannot be brought back to its nominal state: stop the soak."""


class Soak:
    def __init__(self, options: Options, workdir: Path | None = None) -> None:
        self.o = options
        self.rng = random.Random(options.seed)
        self.names = [f"nginx{i + 1}" for i in range(options.nodes)]
        configs, self.plans = soak_configs(self.names, options.instances)
        self.plan = {p.name: p for p in self.plans}
        self.own_workdir = workdir is None
        self.lab = NetnsLab(configs, workdir=workdir,
                            agent_args=["--failover-hold", f"{options.hold:g}"])
        self.report = Report(options)
        self.observer: Observer | None = None
        self.feed: ViewFeed | None = None
        self.masters = {p.name: p.top for p in self.plans}
        self.frozen: set[str] = set()  # killed, halted or stopped: no control socket
        self.cut: set[str] = set()  # partitioned or link down
        self.nginx_down: set[str] = set()
        self.t0 = time.monotonic()
        self.windows: dict[str, list[tuple[float, float]]] = {}  # expected no-master spans
        self.after: list[Callable[[], None]] = []  # checks once the episode settled
        self.rounds = 0
        self.macs: dict[str, str] = {}
        self.last_takeover = 0.0

    # ---------------------------------------------------------------- bookkeeping
    def log(self, text: str) -> None:
        if not self.o.quiet:
            print(f"[+{time.monotonic() - self.t0:7.1f} s] {text}", file=sys.stderr, flush=True)

    def violation(self, kind: str, what: str) -> None:
        self.report.violations.append(Violation(round(time.monotonic() - self.t0, 1),
                                                time.strftime("%H:%M:%S"), kind, what))
        self.log(f"VIOLATION {kind}: {what}")

    def obs(self) -> Observer:
        assert self.observer is not None
        if self.observer.error is not None:
            raise Aborted(f"observer failed: {self.observer.error!r}")
        return self.observer

    def mark(self) -> None:
        self.obs().set_disabled(self.frozen | self.cut)

    def prio(self, node: str, inst: str) -> int:
        return self.plan[inst].priorities[node] + (WEIGHT if node in self.nginx_down else 0)

    def expected_master(self, inst: str, exclude: Iterable[str]) -> str | None:
        """Who takes over when the master is gone: the highest effective priority among
        the nodes that can (ties: the higher address). A held node is eligible: its hold
        only suppresses preemption."""
        skip = set(exclude) | self.frozen | self.cut
        eligible = [n for n in self.names if n not in skip]
        if not eligible:
            return None
        return max(eligible, key=lambda n: (self.prio(n, inst),
                                            ipaddress.ip_address(self.lab.ipv4(n))))

    def mac(self, node: str) -> str:
        out = run(["ip", "-n", self.lab.ns(node), "-o", "link", "show", "eth0"]).stdout.split()
        return out[out.index("link/ether") + 1]

    def states(self, node: str) -> dict[str, tuple[str, int, int]] | None:
        """instance -> (state, effective priority, base priority), from the agent."""
        status = self.lab.agent_status(node)
        if status is None:
            return None
        return {e["instance"]: (e["state"], int(e["effective_priority"]),
                                int(e["base_priority"]))
                for e in status.get("events", []) if e.get("kind") == "instance_state"}

    # ---------------------------------------------------------------- checks
    def nominal_problems(self) -> list[tuple[str, str]]:
        """Every invariant of the settled cluster; [] when all hold."""
        out: list[tuple[str, str]] = []
        for name, node in self.lab.nodes.items():
            if node.proc is None or node.proc.poll() is not None:
                out.append(("agent", f"the agent on {name} is not running"))
        states = {n: self.states(n) for n in self.names}
        for n, st in states.items():
            if st is None:
                out.append(("agent", f"{n}: no status over the control socket"))
        assert self.feed is not None
        view = self.feed.snapshot()
        for n in view.unhealthy:
            out.append(("view", f"console view: {n} lost or unhealthy"))
        for n in view.dead:
            out.append(("view", f"console source for {n} stopped (its task ended)"))
        for plan in self.plans:
            inst, vip, top = plan.name, plan.vip, plan.top
            holders = sorted(self.obs().holders(vip))
            if len(holders) != 1:
                out.append(("holders", f"{inst}: {vip} on {_names(holders)} "
                                       "(exactly one holder expected)"))
            elif holders != [top]:
                out.append(("master", f"{inst}: {vip} on {holders[0]}, not on {top} "
                                      f"(priority {plan.priorities[top]}, the highest)"))
            masters = []
            for n, st in states.items():
                if st is None or inst not in st:
                    continue
                state, eff, base = st[inst]
                if state == "MASTER":
                    masters.append(n)
                elif state != "BACKUP":
                    out.append(("state", f"{inst}: {n} is {state}"))
                if n in holders and state != "MASTER":
                    out.append(("orphan", f"{inst}: {vip} on {n}, which is {state}"))
                if eff != base:
                    out.append(("priority", f"{inst}: {n} effective priority {eff} != "
                                            f"base {base}"))
            if masters != holders:
                out.append(("master", f"{inst}: agents say MASTER {_names(masters)}, "
                                      f"interfaces say {vip} on {_names(holders)}"))
            if view.masters.get(inst, []) != holders:
                out.append(("view", f"{inst}: console view says MASTER "
                                    f"{_names(view.masters.get(inst, []))}, interfaces say "
                                    f"{_names(holders)}"))
            if view.holders.get(vip, []) != holders or \
                    view.owners.get(vip, "") != (holders[0] if len(holders) == 1 else ""):
                out.append(("view", f"{vip}: console view says owner "
                                    f"{view.owners.get(vip) or 'none'} (holders "
                                    f"{_names(view.holders.get(vip, []))}), interfaces say "
                                    f"{_names(holders)}"))
        return out

    def curl_problems(self) -> list[tuple[str, str]]:
        """The client reaches each VIP's master's nginx (what the VIP is for)."""
        out = []
        for plan in self.plans:
            body = self.lab.curl(f"http://{plan.vip}/", timeout=1.0)
            if body != plan.top:
                out.append(("curl", f"curl http://{plan.vip}/ from the client: {body!r}, "
                                    f"expected {plan.top!r}; {self.client_arp(plan.vip)}"))
        return out

    def client_arp(self, vip: str) -> str:
        words = run(["ip", "-n", self.lab.topology.ns("client"), "neigh", "show", vip],
                    check=False).stdout.split()
        if "lladdr" not in words:
            return "the client has no ARP entry for it"
        mac = words[words.index("lladdr") + 1]
        return f"the client's ARP entry points to {self.macs.get(mac, mac)} ({words[-1]})"

    def fault_problems(self, expect: dict[str, str]) -> list[tuple[str, str]]:
        """During a fault: each expected new MASTER holds its VIP and is MASTER per its
        agent and per the console; no live node holds a VIP unless it is MASTER."""
        out: list[tuple[str, str]] = []
        assert self.feed is not None
        view = self.feed.snapshot()
        states = {n: self.states(n) for n in self.names if n not in self.frozen}
        for inst, node in expect.items():
            vip = self.plan[inst].vip
            holders = self.obs().holders(vip)
            if node not in holders:
                out.append(("takeover", f"{inst}: {node}, the expected new MASTER, does not "
                                        f"hold {vip} (on {_names(sorted(holders))})"))
            others = holders - {node} - self.frozen - self.cut
            if others:
                out.append(("holders", f"{inst}: {vip} also on {_names(sorted(others))}"))
            for n in holders - self.frozen:
                st = states.get(n)
                state = st[inst][0] if st and inst in st else "unreachable"
                if state != "MASTER":
                    out.append(("orphan", f"{inst}: {vip} on {n}, which is {state}"))
            st = states.get(node)
            if not st or inst not in st or st[inst][0] != "MASTER":
                out.append(("takeover", f"{inst}: {node}'s agent does not say MASTER"))
            if node not in view.masters.get(inst, []):
                out.append(("view", f"{inst}: console view says MASTER "
                                    f"{_names(view.masters.get(inst, []))}, expected {node}"))
            if view.owners.get(vip) != node:
                out.append(("view", f"{vip}: console view says owner "
                                    f"{view.owners.get(vip) or 'none'}, expected {node}"))
        return out

    def settle(self, what: str, problems: Callable[[], list[tuple[str, str]]],
               timeout: float) -> bool:
        """Wait until `problems()` is empty; on timeout each remaining one is a violation."""
        self.view_errors()
        last: list[tuple[str, str]] = []

        def settled() -> bool:
            nonlocal last
            last = problems()
            return not last

        try:
            wait_for(settled, timeout, interval=0.1, what=what)
            return True
        except TimeoutError:
            for kind, text in last:
                self.violation(kind, f"{what}: not settled after {timeout:.1f} s: {text}")
            return False

    def view_errors(self, final: bool = False) -> None:
        if self.feed is None:
            return
        while self.feed.errors:
            self.violation("view-error", self.feed.errors.pop(0))
        more = self.feed.error_count - MAX_VIEW_ERRORS
        if final and more > 0:
            self.violation("view-error", f"ClusterView.apply raised {more} more times")

    def settle_nominal(self, label: str, extra: float = 0.0) -> float:
        """Back to nominal (every invariant); the timeout is the RFC bound of the slowest
        preemption (Master_Down_Interval of the lowest priority) + check interval +
        reconnect + margin, + `extra` (a hold still running). Returns how long it took."""
        lowest = min(min(p.priorities.values()) for p in self.plans)
        timeout = extra + master_down(lowest) + CHECK_INTERVAL + RECONNECT + MARGIN
        start = time.monotonic()
        if not self.settle(f"after {label}", self.nominal_problems, timeout):
            # a second, silent chance: the violation is recorded; can the soak go on?
            try:
                wait_for(lambda: not self.nominal_problems(), 60, interval=0.5)
            except TimeoutError:
                raise Aborted(f"the cluster did not return to nominal after {label}") from None
        self.masters = {p.name: p.top for p in self.plans}
        took = time.monotonic() - start
        for plan in self.plans:  # the netlink observer and `ip addr` must agree
            shown = self.lab.holders(plan.vip)
            if shown != [plan.top]:
                self.violation("holders", f"after {label}: `ip addr` shows {plan.vip} on "
                                          f"{_names(shown)}, netlink on {plan.top}")
        first = self.curl_problems()
        if first:
            # VRRP moves the VIP, ARP moves the clients: a master that never saw the
            # interim master (a healed partition) sends no gratuitous ARP, and a client
            # that learned the interim master's MAC re-resolves only when that entry fails
            # its unicast probes (delay_first_probe_time + ucast_probes * retrans_time).
            t = time.monotonic()
            if self.settle(f"client after {label}", self.curl_problems, NEIGH_REPROBE):
                self.report.notes["the client reached a VIP only after ARP re-resolution"] += 1
                self.log(f"  client: {first[0][1]}; reached after {time.monotonic() - t:.1f} s")
        return took

    # ---------------------------------------------------------------- takeovers
    def bound(self, kind: str, priority: int) -> tuple[float, str]:
        fault = kind.split("+")[-1]
        if fault in ("halt", "failover"):
            return skew_time(priority), "Skew_Time"
        if fault == "nginx":
            return master_down(priority) + CHECK_INTERVAL, "Master_Down_Interval + check"
        return master_down(priority), "Master_Down_Interval"

    def takeovers(self, kind: str, victim: str, t_fault: float,
                  expect: dict[str, str]) -> dict[str, str]:
        """Wait for a new holder of each affected VIP, measure fault -> new holder against
        the RFC bound, then check the new master is the expected one, everywhere."""
        bounds = {inst: self.bound(kind, self.prio(node, inst)) for inst, node in expect.items()}
        deadline = t_fault + max(b for b, _ in bounds.values()) + self.o.tolerance + MARGIN
        obs = self.obs()

        def all_moved() -> bool:
            return all(obs.first_holder(self.plan[i].vip, t_fault, {victim}) for i in expect)

        with contextlib.suppress(TimeoutError):
            wait_for(all_moved, max(0.0, deadline - time.monotonic()), interval=0.01)
        new: dict[str, str] = {}
        for inst, node in expect.items():
            vip = self.plan[inst].vip
            first = obs.first_holder(vip, t_fault, {victim})
            bound, bound_name = bounds[inst]
            if first is None:
                self.windows.setdefault(inst, []).append((t_fault, time.monotonic()))
                self.violation("no-master", f"{kind} on {victim}: no node took {inst} over "
                                            f"within {deadline - t_fault:.1f} s (RFC bound "
                                            f"{bound_name} {bound:.3f} s)")
                continue
            t_new, who = first
            self.last_takeover = max(self.last_takeover, t_new)
            self.windows.setdefault(inst, []).append((t_fault, t_new))
            took = t_new - t_fault
            self.report.takeovers.append(Takeover(kind, inst, victim, who, round(took, 4),
                                                  round(bound, 4), bound_name))
            self.log(f"  {inst}: {victim} -> {who} in {took:.3f} s "
                     f"({bound_name} {bound:.3f} s)")
            if took > bound + self.o.tolerance:
                self.violation("late-takeover", f"{kind} on {victim}: {inst} taken over by "
                                                f"{who} after {took:.3f} s, RFC bound "
                                                f"{bound_name} {bound:.3f} s")
            new[inst] = node
        # the node that took over first may lose a near-tie race (78 ms apart per 10
        # priority points): what must hold within a second or two is the expected one
        if new:
            self.settle(f"{kind} on {victim}", lambda: self.fault_problems(new),
                        2.0 + self.o.tolerance)
            self.masters.update(new)
        return new

    # ---------------------------------------------------------------- faults
    def inject(self, fault: str, victim: str) -> Callable[[], None]:
        """Apply `fault` to `victim`; returns the repair."""
        lab = self.lab
        if fault in ("kill", "halt"):
            self.frozen.add(victim)
            self.mark()
            lab.signal_engine(victim, signal.SIGKILL if fault == "kill" else signal.SIGTERM)
            code = lab.wait_engine_exit(victim)
            if fault == "halt" and code != 0:
                self.violation("agent", f"the agent on {victim} exited with {code} on SIGTERM")

            def restart() -> None:
                lab.start_engine(victim)
                self.frozen.discard(victim)
                self.mark()
            return restart
        if fault == "stop":
            self.frozen.add(victim)
            self.mark()
            lab.signal_engine(victim, signal.SIGSTOP)

            def cont() -> None:
                lab.signal_engine(victim, signal.SIGCONT)
                self.frozen.discard(victim)
                self.mark()
            return cont
        if fault == "nginx":
            self.nginx_down.add(victim)
            if self.rng.random() < 0.5:
                lab.kill_nginx(victim)
            else:
                run(lab.nginx_command(victim, "stop"), ns=lab.ns(victim), check=False)

            def start() -> None:
                lab.start_nginx(victim)
                self.nginx_down.discard(victim)
            return start
        if fault in ("link", "partition"):
            self.cut.add(victim)
            self.mark()
            if fault == "link":
                lab.topology.set_link(victim, False)
            else:
                lab.topology.partition(victim)

            def heal() -> None:
                if fault == "link":
                    lab.topology.set_link(victim, True)
                else:
                    lab.topology.partition(victim, cut=False)
                self.cut.discard(victim)
                self.mark()
            return heal
        raise ValueError(f"unknown fault {fault!r}")

    def node_fault(self, kind: str, fault: str, victim: str) -> None:
        affected = [inst for inst, m in self.masters.items() if m == victim]
        if affected:
            self.report.on_master[kind] += 1
        role = f"master of {', '.join(affected)}" if affected else "backup"
        self.log(f"{kind}: {fault} {victim} ({role})")
        t_fault = time.monotonic()
        repair = self.inject(fault, victim)
        expect: dict[str, str] = {}
        for inst in affected:
            node = self.expected_master(inst, {victim})
            if node is not None and (fault != "nginx"
                                     or self.prio(node, inst) > self.prio(victim, inst)):
                expect[inst] = node
        if expect:
            self.takeovers(kind, victim, t_fault, expect)
            time.sleep(self.rng.uniform(0.0, 2.0))  # the fault lasts a while longer
        else:
            time.sleep(self.rng.uniform(1.0, 6.0))  # long enough for a cut backup to claim
        t_repair = time.monotonic()
        repair()
        if fault == "stop":
            unaffected = [p.name for p in self.plans if p.name not in affected]
            self.after.append(lambda: self.resumed_backup(victim, t_repair, unaffected))

    def resumed_backup(self, victim: str, t_cont: float, instances: list[str]) -> None:
        """A backup resumed after SIGSTOP has overdue timers and queued adverts: note it
        when it claims a VIP anyway (a short dual-master, not a lasting invariant)."""
        time.sleep(max(0.0, t_cont + RESUME_WINDOW - time.monotonic()))  # observed span
        for inst in instances:
            if self.obs().first_holder(self.plan[inst].vip, t_cont, set(self.names) - {victim},
                                       until=t_cont + RESUME_WINDOW):
                self.report.notes["a backup resumed after SIGSTOP claimed MASTER"] += 1
                self.log(f"  {victim} claimed {inst} when resumed")

    def episode(self, kind: str) -> None:
        start = time.monotonic()
        self.windows = {}
        self.after = []
        extra = 0.0
        if kind == "pause":
            self.pause()
        elif kind == "loss":
            self.loss()
        elif kind.startswith("failover"):
            extra = self.failover(kind)
        else:
            self.node_fault(kind, kind, self.rng.choice(self.names))
        took = self.settle_nominal(kind, extra)
        for check in self.after:
            check()
        self.report.faults[kind] += 1
        self.check_gaps(kind, start, time.monotonic())
        self.log(f"  settled in {took:.1f} s")

    def pause(self) -> None:
        victim = self.rng.choice(self.names)
        affected = [inst for inst, m in self.masters.items() if m == victim]
        if affected:
            self.report.on_master["pause"] += 1
        dwell = self.rng.uniform(0.3, 1.5)
        self.log(f"pause: SIGSTOP {victim} for {dwell:.2f} s "
                 f"({'master of ' + ', '.join(affected) if affected else 'backup'})")
        t_stop = time.monotonic()
        self.frozen.add(victim)
        self.mark()
        self.lab.signal_engine(victim, signal.SIGSTOP)
        time.sleep(dwell)  # the fault itself: shorter than Master_Down_Interval - advert_int
        self.lab.signal_engine(victim, signal.SIGCONT)
        self.frozen.discard(victim)
        self.mark()
        t_cont = time.monotonic()
        for plan in self.plans:  # the paused master is no live MASTER while it sleeps
            self.windows.setdefault(plan.name, []).append((t_stop, t_cont))
        unaffected = [p.name for p in self.plans if p.name not in affected]
        self.after.append(lambda: self.resumed_backup(victim, t_cont, unaffected))
        self.after.append(lambda: self.no_premature(victim, affected, t_stop, dwell))

    def no_premature(self, victim: str, instances: list[str], t_stop: float,
                     dwell: float) -> None:
        """Nobody may take over from a master paused for less than Master_Down_Interval
        minus Advertisement_Interval: its adverts resume before any backup's timer ends."""
        for inst in instances:
            moved = self.obs().first_holder(self.plan[inst].vip, t_stop, {victim},
                                            until=time.monotonic())
            if moved is not None:
                self.violation("premature-takeover",
                               f"{inst}: {moved[1]} took over {moved[0] - t_stop:.3f} s after "
                               f"the master {victim} was paused for {dwell:.2f} s (below "
                               f"Master_Down_Interval - Advertisement_Interval)")

    def loss(self) -> None:
        span = self.rng.uniform(*self.o.loss_span)
        self.log(f"loss: {LOSS_PERCENT} % of VRRP packets dropped for {span:.1f} s")
        start = time.monotonic()
        self.lab.topology.lose_adverts(LOSS_PERCENT)
        try:
            time.sleep(span)  # the fault itself
        finally:
            self.lab.topology.lose_adverts(None)
        for plan in self.plans:
            flaps = self.obs().changes_between(plan.vip, start, time.monotonic())
            if flaps:
                self.report.notes[f"holder changes of a VIP during {LOSS_PERCENT} % loss"] \
                    += flaps
            # a takeover by a backup that lost 3 adverts in a row, then preemption back:
            # the VIP is on two nodes for a moment, never on none (checked as gaps)

    def failover(self, kind: str) -> float:
        """The operator's failover, then (failover+X) fault X on the new master during
        the hold; returns how long the hold still runs."""
        inst = self.rng.choice(self.plans).name
        released = self.masters[inst]
        self.log(f"{kind}: failover {inst} on {released}")
        t_fault = time.monotonic()
        reply = self.lab.agent_request(released, {"cmd": "failover", "instance": inst})
        hold_end = t_fault + self.o.hold
        if not reply.get("ok"):
            self.violation("failover", f"failover {inst} on {released} refused: "
                                       f"{reply.get('detail')}")
            return 0.0
        expect = self.expected_master(inst, {released})
        new = self.takeovers("failover", released, t_fault, {inst: expect} if expect else {})
        if kind == "failover" or inst not in new:
            return max(0.0, hold_end - time.monotonic())
        fault = kind.split("+", 1)[1]
        self.last_takeover = 0.0
        self.node_fault(kind, fault, new[inst])
        if self.last_takeover > hold_end - 0.5:  # then it proved nothing about holds
            self.report.notes[f"{kind}: the hold ended before the takeover was seen"] += 1
        return max(0.0, hold_end - time.monotonic())

    def check_gaps(self, kind: str, start: float, end: float) -> None:
        for plan in self.plans:
            windows = self.windows.get(plan.name, [])
            for a, b in self.obs().gaps(plan.vip, start, end):
                outside = _outside(a, b, windows)
                for ga, gb in outside:
                    length = gb - ga
                    if length > self.report.outage:
                        self.report.outage = length
                        self.report.outage_at = f"{kind}, {plan.name}"
                    if length > self.o.outage_tolerance:
                        self.violation("outage", f"{kind}: {plan.name} had no live MASTER "
                                                 f"for {length:.3f} s outside a takeover "
                                                 f"(+{ga - self.t0:.1f} s)")

    # ---------------------------------------------------------------- run
    def schedule(self) -> Iterable[str]:
        """Shuffled rounds: every kind once per round, in a seeded order."""
        rounds = 0
        while True:
            kinds = list(self.o.kinds)
            self.rng.shuffle(kinds)
            yield from kinds
            rounds += 1
            self.rounds = rounds

    def run(self) -> Report:
        report = self.report
        report.started = time.time()
        try:
            self.log(f"starting {self.o.nodes} agents + nginx in {self.lab.topology.prefix}*")
            self.lab.start()
            self.t0 = time.monotonic()
            self.observer = Observer({n: self.lab.ns(n) for n in self.names},
                                     [p.vip for p in self.plans], self.o.interval)
            self.observer.start()
            self.feed = ViewFeed(self.lab.sources())
            self.feed.start()
            self.mark()
            self.macs = {self.mac(n): n for n in self.names}
            self.settle_nominal("start")
            for kind in self.schedule():
                if time.monotonic() - self.t0 >= self.o.duration and \
                        self.rounds >= self.o.min_rounds:
                    break
                time.sleep(self.rng.uniform(0.0, ADVERT_INT))  # a random advert phase
                self.episode(kind)
        except KeyboardInterrupt:
            report.interrupted = True
            self.log("interrupted: cleaning up")
        except Aborted as err:
            report.aborted = str(err)
            self.violation("aborted", str(err))
        except Exception as err:  # a lab command failed: record it, clean up
            report.aborted = f"{type(err).__name__}: {err}"
            self.violation("error", report.aborted)
        finally:
            report.duration = time.monotonic() - self.t0
            with signals_ignored():
                self.view_errors(final=True)
                self.cleanup()
        return report

    def cleanup(self) -> None:
        for node in self.lab.nodes.values():  # a stopped agent cannot act on SIGTERM
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.proc.send_signal(signal.SIGCONT)
        if self.feed is not None:
            self.feed.stop()
        if self.observer is not None:
            self.observer.stop()  # its sockets would keep the namespaces alive
            periods = self.observer.periods
            self.report.samples = len(periods) + 1
            if periods:
                self.report.period_median_ms = round(statistics.median(periods) * 1000, 1)
                self.report.period_max_ms = round(max(periods) * 1000, 1)
        self.lab.stop()
        self.report.leaks = leftovers(self.lab.topology.prefix, self.lab.workdir,
                                      owned=self.own_workdir)
        for leak in self.report.leaks:
            self.violation("leak", leak)


def _outside(a: float, b: float, windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The parts of [a, b] outside every window."""
    parts = [(a, b)]
    for wa, wb in windows:
        nxt = []
        for pa, pb in parts:
            if wb <= pa or wa >= pb:
                nxt.append((pa, pb))
                continue
            if pa < wa:
                nxt.append((pa, wa))
            if wb < pb:
                nxt.append((wb, pb))
        parts = nxt
    return [(pa, pb) for pa, pb in parts if pb > pa]


def _names(nodes: Iterable[str]) -> str:
    nodes = list(nodes)
    return ", ".join(nodes) if nodes else "no node"


def leftovers(prefix: str, workdir: Path, owned: bool = True) -> list[str]:
    """What a lab left behind: its namespaces, processes naming its prefix or work
    directory, the directory itself (when the lab made it)."""
    out = [f"namespace {ns}" for ns in list_namespaces() if ns.startswith(prefix)]
    marks = (prefix.encode(), str(workdir).encode())
    mine = _ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(m in cmdline for m in marks):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            out.append(f"process {entry.name}: {shown[:100]}")
    if owned and workdir.exists():
        out.append(f"work directory {workdir}")
    return out


def _ancestors() -> set[int]:
    """This process and its parents (whose command lines may name the work directory)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


@contextlib.contextmanager
def signals_ignored() -> Any:
    """Cleanup must finish: a second Ctrl-C or SIGTERM waits until it has."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=1800.0,
                        help="seconds of faults (the last episode completes), default 1800")
    parser.add_argument("--seed", type=int, default=None, help="reproducible schedule")
    parser.add_argument("--nodes", type=int, default=3, help="agents (2..9), default 3")
    parser.add_argument("--instances", type=int, choices=(1, 2), default=2)
    parser.add_argument("--hold", type=float, default=10.0, help="agents' --failover-hold")
    parser.add_argument("--tolerance", type=float, default=0.25,
                        help="a takeover may exceed its RFC bound by this much (s)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds")
    parser.add_argument("--logs", type=Path, default=None,
                        help="keep the lab's work directory (agent and nginx logs) here")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        parser.error(f"unknown fault kind {unknown[0] if unknown else '(none)'}; "
                     f"known: {', '.join(KINDS)}")
    if not 2 <= args.nodes <= 9:
        parser.error("--nodes must be 2..9")
    if os.geteuid() != 0:
        print("soak.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    options = Options(duration=args.duration, seed=seed, nodes=args.nodes,
                      instances=args.instances, hold=args.hold, tolerance=args.tolerance,
                      kinds=kinds, quiet=args.quiet)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    report = Soak(options, workdir=args.logs).run()
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    if report.interrupted:
        return 130
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
