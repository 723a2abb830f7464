"""Recording figures: recorder CPU and file growth under the console's load, seeking in a
24 h recording, loading a million log lines.

Run: .venv/bin/python benchmarks/record.py [--seconds 60] [--hours 24] [--lines 1000000]
     [--day FILE] [--skip live,day,lines]

- Live: benchmarks/console.py's synthetic source (100 nodes x 4 instances x 10 events/s
  = 4 000 events/s: 8 adverts, 1 log line, 1 unchanged snapshot per instance per second)
  publishes into a Recorder for `--seconds`. Printed: the recorder thread's CPU and the
  cost of `record()` on the caller's thread (targets: < 5 % of one core together), the
  file's growth per hour (target < 50 MB/h).
- Day: a recording of `--hours` of that load (what the recorder keeps of it: 400 log
  lines and 400 advert counters a second, written through the Recorder a second at a
  time; the unchanged snapshots it drops are not generated). Building 24 h takes about
  15 min; `--day FILE` keeps the file and reuses it on the next run. Printed: the time to
  open it, and to seek (`Timeline.view_at`) to random instants (target < 1 s).
- Lines: `--lines` keepalived log lines (two nodes, `-g` file form, a check failing and
  recovering over and over) read by the log history reader into a Timeline, and the
  view at the end (target < 10 s in all).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from haconsole.cluster import events as ev
from haconsole.record import Recorder, Recording, Timeline


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds a thread has used (Linux: its own CPU clock)."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


# ---------------------------------------------------------------------- live load
def record_call_cost(n: int = 1_000_000) -> float:
    """Seconds per `Recorder.record` call (an append to its queue)."""
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(Path(tmp) / "cost.hcr", interval=3600.0)
        item = ev.LogLine(time.time(), "n1", "(VI_1) line")
        t0 = time.perf_counter()
        for _ in range(n):
            recorder.record(item)
        cost = (time.perf_counter() - t0) / n
        recorder._queue.clear()  # not the point here
        recorder.close()
    return cost


async def _live(path: Path, nodes: int, instances: int, seconds: float) -> dict[str, float]:
    from console import SyntheticSource  # benchmarks/console.py: the same load

    recorder = Recorder(path)
    source = SyntheticSource(nodes, instances)
    await source.start(recorder.record)
    await asyncio.sleep(3.0)  # warm up: every stream has its first advert kept
    wall0, cpu0, gen0 = time.perf_counter(), time.process_time(), source.cpu
    thread0, pub0 = thread_cpu(recorder._thread), source.published
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall0
    figures = {"wall": wall, "cpu": time.process_time() - cpu0, "gen": source.cpu - gen0,
               "thread": thread_cpu(recorder._thread) - thread0,
               "published": source.published - pub0}
    await source.stop()
    recorder.close()
    figures["stored"] = recorder.stored
    return figures


def live(seconds: float, nodes: int, instances: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.hcr"
        r = asyncio.run(_live(path, nodes, instances, seconds))
        size = path.stat().st_size
        with Recording.open(path) as rec:
            first, last = rec.time_range()
            count = rec.count()
    rate = r["published"] / r["wall"]
    call = record_call_cost()
    thread_pct = 100 * r["thread"] / r["wall"]
    call_pct = 100 * call * rate
    print(f"live: {nodes} nodes x {instances} instances, {rate:,.0f} events/s for "
          f"{r['wall']:.0f} s")
    print(f"  recorder thread CPU            {thread_pct:5.2f} % of one core")
    print(f"  record() on the caller's thread {call * 1e6:.2f} us/call = {call_pct:.2f} % "
          f"of one core")
    print(f"  recorder total                 {thread_pct + call_pct:5.2f} % (target < 5 %)")
    other = 100 * (r["cpu"] - r["gen"] - r["thread"]) / r["wall"]
    print(f"  (the generator's event loop, recorder aside: {other:.1f} %)")
    span = max(1.0, last - first)
    print(f"  stored {count:,} events for {count / span:,.0f}/s published "
          f"({rate:,.0f}/s): adverts as per-second counters, unchanged snapshots dropped")
    print(f"  file growth                    {size / span * 3600 / 1e6:5.1f} MB/h "
          f"(target < 50 MB/h; {size / 1e6:.1f} MB for {span:.0f} s)")


# ---------------------------------------------------------------------- a day
def build_day(path: Path, hours: float, nodes: int, instances: int) -> float:
    """Write `hours` of the stored form of the load; returns the seconds it took."""
    names = [f"node{i:03d}" for i in range(nodes)]
    slots = [(n, i, j) for i, n in enumerate(names) for j in range(instances)]
    seconds = int(hours * 3600)
    start = time.time() - seconds - 600
    recorder = Recorder(path, meta={"benchmark": {"hours": hours, "nodes": nodes,
                                                  "instances": instances}})
    counts = {(n, j): 0 for n, _, j in slots}
    first = [ev.InstanceState(start, n, instance=f"VI_{j}", vrid=j + 1,
                              state="MASTER" if i == j % nodes else "BACKUP",
                              base_priority=100 if i == j % nodes else 90 - i % 50,
                              effective_priority=100 if i == j % nodes else 90 - i % 50,
                              interface="eth0", vips=(f"198.51.100.{j + 10}",),
                              address=f"10.0.{j}.{i + 1}")
             for n, i, j in slots]
    recorder.record_many(first)
    t0 = time.perf_counter()
    step = 0.05 / len(slots)
    for s in range(seconds):
        base = start + s
        batch: list[ev.Event] = []
        for k, (n, _, j) in enumerate(slots):
            batch.append(ev.LogLine(base + k * step, n,
                                    text=f"(VI_{j}) received advert from 10.0.{j}.1"))
        for n, i, j in slots:
            counts[(n, j)] += 8
            master = i == j % nodes
            batch.append(ev.AdvertCounters(base + 0.95, n, instance=f"VI_{j}",
                                           sent=counts[(n, j)] if master else 0,
                                           received=0 if master else counts[(n, j)]))
        recorder.record_many(batch)
        recorder.flush()  # a second at a time, as the recorder's thread writes live
        if s % 3600 == 3599:
            print(f"  ... {(s + 1) / 3600:.0f} h written in {time.perf_counter() - t0:.0f} s",
                  flush=True)
    recorder.close()
    return time.perf_counter() - t0


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def day(hours: float, nodes: int, instances: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "day.hcr"
        if not path.exists():
            print(f"day: writing {hours:g} h of the load to {path} ...", flush=True)
            took = build_day(path, hours, nodes, instances)
            print(f"  written in {took:.0f} s")
        size = path.stat().st_size
        opened, rec = timed(lambda: Recording.open(path))
        assert isinstance(rec, Recording)
        made, timeline = timed(lambda: Timeline(rec))
        assert isinstance(timeline, Timeline)
        span = timeline.end - timeline.start
        print(f"day: {span / 3600:.1f} h, {size / 1e6:,.0f} MB ({size / span * 3600 / 1e6:.1f}"
              f" MB/h), {len(rec.checkpoints())} keyframes")
        print(f"  open                           {1000 * (opened + made):.0f} ms")
        rng = random.Random(7)
        seeks = []
        for t in [timeline.end, timeline.start + 1, *(rng.uniform(timeline.start, timeline.end)
                                                        for _ in range(20))]:
            took, view = timed(lambda t=t: timeline.view_at(t))
            assert isinstance(view, object)
            seeks.append(took)
        print(f"  seek (view_at) to 22 instants  median {1000 * statistics.median(seeks):.0f}"
              f" ms, max {1000 * max(seeks):.0f} ms (target < 1 000 ms)")
        rec.close()


# ---------------------------------------------------------------------- log lines
CYCLE = {
    "nginx1": ["VRRP_Script(chk_nginx) failed (exited with status 1)",
               "(VI_1) Changing effective priority from 100 to 80",
               "(VI_1) Master received advert from 192.0.2.12 with higher priority 90, ours 80",
               "(VI_1) Entering BACKUP STATE",
               "(VI_1) removing VIPs.",
               "VRRP_Script(chk_nginx) succeeded",
               "(VI_1) Changing effective priority from 80 to 100",
               *["(VI_1) received lower priority (90) advert from 192.0.2.12 - discarding"] * 3,
               "(VI_1) Receive advertisement timeout",
               "(VI_1) Entering MASTER STATE",
               "(VI_1) setting VIPs.",
               "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.170",
               *["Sending gratuitous ARP on eth0 for 192.0.2.170"] * 5],
    "nginx2": ["(VI_1) received lower priority (80) advert from 192.0.2.11 - discarding",
               "(VI_1) Receive advertisement timeout",
               "(VI_1) Entering MASTER STATE",
               "(VI_1) setting VIPs.",
               "(VI_1) Sending/queueing gratuitous ARPs on eth0 for 192.0.2.170",
               *["Sending gratuitous ARP on eth0 for 192.0.2.170"] * 5,
               "(VI_1) Master received advert from 192.0.2.11 with higher priority 100, "
               "ours 90",
               "(VI_1) Entering BACKUP STATE",
               "(VI_1) removing VIPs.",
               "(VI_1) received lower priority (90) advert from 192.0.2.11 - discarding"],
}


def write_logs(folder: Path, lines: int) -> list[tuple[str, Path]]:
    from haconsole.keepalived.log.writer import format_file_time

    start = time.time() - lines * 0.05
    files = []
    for node, cycle in CYCLE.items():
        path = folder / f"{node}.log"
        with path.open("w") as f:
            f.write(f"{format_file_time(start - 1, timezone.utc)}: Starting VRRP child process, "
                    "pid=4242\n")
            for k in range(lines // 2):
                t = start + k * 0.1
                f.write(f"{format_file_time(t, timezone.utc)}: {cycle[k % len(cycle)]}\n")
        files.append((node, path))
    return files


def log_lines(lines: int) -> None:
    try:
        from haconsole.keepalived.log.history import read_history
    except ImportError:
        read_history = None  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if read_history is not None:
            files = write_logs(folder, lines)
            read, history = timed(lambda: read_history(files, tz=timezone.utc))
            events = history.events  # type: ignore[attr-defined]
            print(f"lines: {lines:,} keepalived log lines -> {len(events):,} events")
            print(f"  log history reader             {read:5.1f} s")
        else:
            start = time.time() - lines
            events = [ev.LogLine(start + k * 0.1, f"nginx{k % 2 + 1}",
                                 text=f"(VI_1) line {k}") for k in range(lines)]
            read = 0.0
            print(f"lines: the log history reader is not there yet: {lines:,} LogLine "
                  "events, the recording part only")
        built, timeline = timed(lambda: Timeline(events))
        assert isinstance(timeline, Timeline)
        first, _ = timed(lambda: timeline.view_at(timeline.start))
        folded, _ = timed(lambda: timeline.view_at(timeline.end))
        print(f"  Timeline (sorted, indexed)     {built:5.1f} s; the view at its start "
              f"{1000 * first:.0f} ms")
        print(f"  the view at its end            {folded:5.1f} s (folds every event once)")
        print(f"  total, read to the view at the end {read + built + folded:5.1f} s "
              "(target < 10 s)")
        seeks = [timed(lambda t=t: timeline.view_at(t))[0] for t in
                 (random.Random(3).uniform(timeline.start, timeline.end) for _ in range(10))]
        print(f"  then a seek                    median {1000 * statistics.median(seeks):.0f} ms")
        path = folder / "lines.hcr"

        def write() -> None:
            recorder = Recorder(path)
            recorder.record_many(events)
            recorder.close()

        wrote, _ = timed(write)

        def reopen() -> float:
            with Recording.open(path) as rec:
                tl = Timeline(rec)
                tl.view_at(tl.end)
                return tl.end

        again, _ = timed(reopen)
        print(f"  recorded to a file in          {wrote:5.1f} s ({path.stat().st_size / 1e6:.1f} "
              f"MB); reopened + view at the end in {again:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--day", type=Path, default=None,
                        help="keep the day's recording here (and reuse it if it exists)")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip", default="", help="comma-separated: live, day, lines")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if "live" not in skip:
        live(args.seconds, args.nodes, args.instances)
    if "lines" not in skip:
        log_lines(args.lines)
    if "day" not in skip:
        day(args.hours, args.nodes, args.instances, args.day)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
