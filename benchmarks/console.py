"""Console figures: CPU and throughput under 4 000 events/s, key latency, start-up times.

Run: .venv/bin/python benchmarks/console.py [--seconds 30] [--nodes 100] [--instances 4]
     [--rate 10]
Fleet scale (2 000 instances, e.g. read from Prometheus: a snapshot per instance and
poll rather than every advert): --nodes 500 --instances 4 --rate 1.

- A synthetic source publishes N nodes x M instances x 10 events/s (100 x 4 -> 4 000/s:
  8 adverts, 1 keepalived log line and 1 full instance snapshot per instance per second)
  in 50 ms bursts into the real app, headless, for `--seconds`. Printed: CPU used (the
  whole process, and the app alone without the generator), events applied per second.
  Targets: < 30 % of one core.
- Key latency: under the same load, a key (space: pause the log) is sent as the terminal
  driver sends it, and timed until the rendered screen shows its effect. Target < 100 ms.
- `haconsole --help` wall time (target < 300 ms) and time to the first frame of the default
  console in a real terminal (tmux; target < 1.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from textual import events

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.console.app import HAConsoleApp

ROOT = Path(__file__).resolve().parent.parent
BURST = 0.05


class SyntheticSource:
    """nodes x instances, each emitting `rate` events/s in bursts; node k masters VI_(k % M)."""

    name = "synthetic"

    def __init__(self, nodes: int, instances: int, rate: float = 10.0) -> None:
        self.nodes = [f"node{i:03d}" for i in range(nodes)]
        self.instances = [f"VI_{j}" for j in range(instances)]
        self.rate = rate
        self.cpu = 0.0  # process time spent generating (subtracted from the app's figure)
        self.published = 0
        self._task: asyncio.Task[None] | None = None
        self._slots = [(n, i, j) for i, n in enumerate(self.nodes)
                       for j, _ in enumerate(self.instances)]
        self._step = 0

    def _event(self, node: str, index: int, vj: int, t: float, kind: int) -> ev.Event:
        name = self.instances[vj]
        master = index == vj % len(self.nodes)
        if kind < 8:
            if master:
                return ev.AdvertSent(t, node, instance=name, priority=100)
            return ev.AdvertReceived(t, node, instance=name,
                                     source=f"10.0.{vj}.{vj % 250 + 1}", priority=100)
        if kind == 8:
            return ev.LogLine(t, node, text=f"({name}) received advert from 10.0.{vj}.1")
        prio = 100 if master else 90 - index % 50
        return ev.InstanceState(t, node, instance=name, vrid=vj + 1,
                                state="MASTER" if master else "BACKUP",
                                base_priority=prio, effective_priority=prio, interface="eth0",
                                vips=(f"198.51.{vj}.10",), address=f"10.0.{vj}.{index + 1}")

    async def start(self, publish: Callable[[ev.Event], None]) -> None:
        self._task = asyncio.create_task(self._run(publish))

    async def _run(self, publish: Callable[[ev.Event], None]) -> None:
        per_burst = len(self._slots) * self.rate * BURST
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        owed = 0.0
        while True:
            c0 = time.process_time()
            t = time.time()
            owed += per_burst
            while owed >= 1:
                slot = self._step % len(self._slots)
                kind = (self._step // len(self._slots)) % 10
                node, index, vj = self._slots[slot]
                publish(self._event(node, index, vj, t, kind))
                self._step += 1
                self.published += 1
                owed -= 1
            self.cpu += time.process_time() - c0
            next_at += BURST
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return True, "synthetic"

    def supports(self, command: type[cmd.Command]) -> bool:
        return not command.lab_only

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def screen_text(app: HAConsoleApp) -> str:
    console = Console(width=app.size.width, file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def load_run(nodes: int, instances: int, seconds: float,
                   rate: float = 10.0) -> dict[str, float]:
    source = SyntheticSource(nodes, instances, rate)
    app = HAConsoleApp([source], cluster="synthetic", confirm=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(2.0)  # warm up: every row exists, the log is full
        applied0, wall0, cpu0, gen0 = app.applied, time.perf_counter(), time.process_time(), \
            source.cpu
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        gen = source.cpu - gen0
        applied = app.applied - applied0
        latencies = []
        assert app._driver is not None
        for i in range(10):
            want = "paused" if i % 2 == 0 else None
            t0 = time.perf_counter()
            app._driver.send_message(events.Key("space", " "))
            while True:
                shown = "‖ paused" in screen_text(app)
                if shown == (want is not None):
                    break
                await asyncio.sleep(0.002)
            latencies.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.3)
        rows = app.table.row_count
    return {"wall": wall, "cpu": cpu, "gen": gen, "applied": applied,
            "published": source.published, "rows": rows,
            "lat_median": statistics.median(latencies), "lat_max": max(latencies)}


def help_time(runs: int = 5) -> float:
    exe = Path(sys.executable).parent / "haconsole"
    cmdline = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "haconsole",
                                                         "--help"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmdline, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def first_frame_time(runs: int = 3) -> float | None:
    """From launching `haconsole` in tmux to the instances table drawn with both nodes."""
    exe = Path(sys.executable).parent / "haconsole"
    if shutil.which("tmux") is None or not exe.exists():
        return None
    sock = f"haconsole-bench-{os.getpid()}"
    times = []

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True,
                              check=True).stdout

    try:
        for run in range(runs):
            name = f"b{run}"
            tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "36",
                 "bash --norc --noprofile")
            time.sleep(0.3)
            t0 = time.perf_counter()
            tmux("send-keys", "-t", name, str(exe), "Enter")
            while time.perf_counter() - t0 < 10:
                screen = tmux("capture-pane", "-p", "-t", name)
                if "Instances" in screen and "nginx2" in screen:
                    times.append(time.perf_counter() - t0)
                    break
                time.sleep(0.01)
            tmux("send-keys", "-t", name, "q")
            time.sleep(1.0)
            tmux("kill-session", "-t", name)
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, check=False)
    return statistics.median(times) if times else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="events per instance per second (default 10)")
    args = parser.parse_args()

    target = int(args.nodes * args.instances * args.rate)
    print(f"load: {args.nodes} nodes x {args.instances} instances x {args.rate:g} events/s "
          f"= {target} events/s for {args.seconds:g} s (headless, 160x50)")
    r = asyncio.run(load_run(args.nodes, args.instances, args.seconds, args.rate))
    total = 100 * r["cpu"] / r["wall"]
    app_only = 100 * (r["cpu"] - r["gen"]) / r["wall"]
    print(f"  rows in the instances table   {r['rows']:.0f}")
    print(f"  events applied per second     {r['applied'] / r['wall']:,.0f}")
    print(f"  CPU, whole process            {total:5.1f} % of one core")
    print(f"  CPU, console without the generator {app_only:5.1f} % of one core "
          f"(target < 30 %)")
    print(f"  key -> effect on screen       median {r['lat_median']:.0f} ms, "
          f"max {r['lat_max']:.0f} ms (target < 100 ms)")
    print(f"haconsole --help                {help_time() * 1000:.0f} ms (target < 300 ms)")
    frame = first_frame_time()
    if frame is None:
        print("first frame of `haconsole`     skipped (needs tmux)")
    else:
        print(f"first frame of `haconsole`     {frame * 1000:.0f} ms in tmux "
              "(target < 1 500 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
