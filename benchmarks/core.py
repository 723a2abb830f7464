"""Core figures: codec throughput, state-machine steps/s, real-time lab takeover vs RFC.

Run: .venv/bin/python benchmarks/core.py [--trials N] [--skip-lab]

Takeover times are measured on the in-process lab (memory segment, real asyncio time),
from the fault to the new master's first advert, and compared with the RFC bound:
- check failure: from the last advert the backup accepted (the master's last one at full
  priority); bound = Master_Down_Interval. (The lowered priority itself is advertised at
  once, but a preempting backup discards it without restarting its timer.)
- priority 0 (clean stop): bound = Skew_Time;
- crash (silent): bound = Master_Down_Interval.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import Secret, VirtualAddress, VrrpInstance
from haconsole.lab.definition import load_lab
from haconsole.lab.lab import InProcessLab
from haconsole.vrrp.packet import MCAST_V4, MCAST_V6, Advert, decode, encode
from haconsole.vrrp.sim import Simulation
from haconsole.vrrp.timing import master_down_us, skew_time_us


def rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def bench_codec() -> None:
    src4 = ipaddress.IPv4Address("192.0.2.11")
    src6 = ipaddress.IPv6Address("fe80::1")
    v2 = Advert(2, 51, 100, 100, tuple(ipaddress.IPv4Address(f"192.0.2.{i}") for i in (16, 17, 18)),
                1, b"1111\0\0\0\0")
    v3 = Advert(3, 53, 120, 100, (ipaddress.IPv6Address("2001:db8::100"),))
    p2, p3 = encode(v2, src4, MCAST_V4), encode(v3, src6, MCAST_V6)
    n = 100_000
    print(f"codec: v2 encode {rate(lambda: encode(v2, src4, MCAST_V4), n):>10,.0f}/s   "
          f"decode {rate(lambda: decode(p2, src4, MCAST_V4), n):>10,.0f}/s")
    print(f"codec: v3 encode {rate(lambda: encode(v3, src6, MCAST_V6), n):>10,.0f}/s   "
          f"decode {rate(lambda: decode(p3, src6, MCAST_V6), n):>10,.0f}/s  (IPv6)")


def bench_steps() -> None:
    """Instance inputs per second: 2 nodes x 200 instances for 60 virtual seconds."""
    sim = Simulation(wire=True)
    for node, (addr, prio) in {"a": ("192.0.2.11", 100), "b": ("192.0.2.12", 90)}.items():
        cfgs = [VrrpInstance(name=f"VI_{i}", interface="eth0", virtual_router_id=i,
                             priority=prio, auth_type="PASS", auth_pass=Secret("x"),
                             virtual_ipaddress=[VirtualAddress(
                                 ipaddress.ip_interface(f"192.0.2.{i % 200 + 20}/24"))])
                for i in range(1, 201)]
        sim.add_node(node, addr, cfgs)
    sim.start_all()
    start = time.perf_counter()
    sim.run_until(60)
    wall = time.perf_counter() - start
    steps = sum(1 for r in sim.records if r.what in ("send", "recv"))
    print(f"core: {steps:,} instance steps (timer + packet, real codec) in {wall:.2f} s = "
          f"{steps / wall:,.0f} steps/s; {60 / wall:,.0f}x real time for 400 instances")


async def one_takeover(kind: str) -> tuple[float, float]:
    """(measured, bound) seconds for one failure of `kind` on a fresh 2-node lab."""
    marks: dict[str, float] = {}
    lab = InProcessLab(load_lab())

    def publish(e: ev.Event) -> None:
        if isinstance(e, ev.AdvertSent):
            if e.node == "nginx1" and e.priority == 100 and "lowered" not in marks:
                marks["last_accepted"] = e.t
            if e.node == "nginx1" and e.priority == 80 and "lowered" not in marks:
                marks["lowered"] = e.t
                marks["fault"] = marks["last_accepted"]
            if e.node == "nginx2" and "new" not in marks and "fault" in marks \
                    and lab.state("nginx2", "VI_1") == "MASTER":
                marks["new"] = e.t

    await lab.start(publish)
    await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], 10)
    await asyncio.sleep(0.3)
    mdi = master_down_us(2, 1_000_000, 90) / 1e6
    if kind == "check failure":
        await lab.execute(cmd.StopService("nginx1"))
        bound = mdi
    else:
        marks["fault"] = time.time()
        if kind == "priority 0":
            assert lab.hosts["nginx1"].node is not None
            await lab.hosts["nginx1"].node.stop()
            bound = skew_time_us(2, 1_000_000, 90) / 1e6
        else:
            await lab.execute(cmd.KillNode("nginx1"))
            bound = mdi
    await lab.wait_for(lambda: "new" in marks, 10)
    await lab.stop()
    return marks["new"] - marks["fault"], bound


async def bench_lab(trials: int) -> None:
    for kind in ("check failure", "priority 0", "crash"):
        results = [await one_takeover(kind) for _ in range(trials)]
        measured = [m for m, _ in results]
        bound = results[0][1]
        print(f"lab takeover, {kind:<13}: median {statistics.median(measured) * 1000:8.1f} ms"
              f"  max {max(measured) * 1000:8.1f} ms   RFC bound {bound * 1000:8.1f} ms"
              f"  ({trials} trials)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--skip-lab", action="store_true")
    args = parser.parse_args()
    bench_codec()
    bench_steps()
    if not args.skip_lab:
        asyncio.run(bench_lab(args.trials))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
