"""Replay screen figures: seek latency and playing at x600 through a busy hour.

Run: .venv/bin/python benchmarks/replay_screen.py [--hours 1] [--nodes 100] [--instances 4]
     [--file FILE] [--default-gc]

The recording is benchmarks/record.py's load (`build_day`: what the recorder keeps of
100 nodes x 4 instances, 400 log lines and 400 advert counters a second), written once
(`--file` keeps it for the next run). The real replay app runs headless at 120x36 on a
`Timeline` over the file, with its real-time clock injected and the collector tuned as
`run_replay` tunes it (`--default-gc`: CPython's defaults, to compare):
- Seek: `seek(t)` to random instants (the fold from the nearest keyframe, then the whole
  screen painted), and to the next frame on screen. Target: within a frame or two
  (< 100 ms) once the keyframes are warm; the first seek into a stretch folds up to a
  keyframe interval.
- Play at x600: ticks as the app's timer runs them (0.1 s of real time each), timed one by
  one through the whole window. Printed: tick time (median, p95, max; a tick over 100 ms
  is a frame the console lags) and the replay speed achieved.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from haconsole.console.replay import SPEEDS, TICK_SECONDS, ReplayApp, tune_gc
from haconsole.record import Recording, Timeline


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ms(seconds: float) -> str:
    return f"{1000 * seconds:,.1f} ms"


async def measure(path: Path, tune: bool) -> None:
    rec = Recording.open(path)
    timeline = Timeline(rec)
    span = timeline.end - timeline.start
    print(f"recording: {span / 3600:.2f} h, {rec.count():,} events, "
          f"{len(rec.checkpoints())} keyframes, {path.stat().st_size / 1e6:,.0f} MB")
    clock = Clock()
    if tune:
        tune_gc()  # as run_replay does
    t0 = time.perf_counter()
    app = ReplayApp(timeline, title=path.name, monotonic=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        print(f"  open the replay (view at the start, first frame) {ms(time.perf_counter() - t0)}")

        folds: list[float] = []
        view_at = timeline.view_at

        def timed_view_at(t: float) -> object:
            s = time.perf_counter()
            view = view_at(t)
            folds.append(time.perf_counter() - s)
            return view

        timeline.view_at = timed_view_at  # type: ignore[method-assign,assignment]
        rng = random.Random(7)
        cold: list[float] = []
        warm: list[float] = []
        frames: list[float] = []
        instants = [rng.uniform(timeline.start, timeline.end) for _ in range(15)]
        for group, store in ((instants, cold), (instants, warm)):
            for t in group:
                s = time.perf_counter()
                app.seek(t)
                store.append(time.perf_counter() - s)
                await pilot.pause()
                frames.append(time.perf_counter() - s)
        print(f"  seek, first visit   median {ms(statistics.median(cold))}, max {ms(max(cold))}")
        print(f"  seek, again         median {ms(statistics.median(warm))}, max {ms(max(warm))}")
        print(f"  seek to next frame  median {ms(statistics.median(frames))}, "
              f"max {ms(max(frames))}")
        print(f"    of which Timeline.view_at: median {ms(statistics.median(folds))}, "
              f"max {ms(max(folds))}; the paint: median "
              f"{ms(statistics.median(f - v for f, v in zip(frames, folds, strict=True)))}")

        app.seek(timeline.start)
        await pilot.pause()
        while app.speed < SPEEDS[-1]:
            app.action_faster()
        app.play()
        ticks: list[float] = []
        wall0 = time.perf_counter()
        while app.playing:
            clock.now += 0.1  # the timer's period
            s = time.perf_counter()
            app.tick()
            ticks.append(time.perf_counter() - s)
            await pilot.pause(0)  # the frame
        wall = time.perf_counter() - wall0
        ticks.sort()
        print(f"  play x{SPEEDS[-1]} (a tick's goal {ms(TICK_SECONDS)}, ending at "
              f"{app.tick_events:,} events a tick): "
              f"{len(ticks)} ticks, tick median {ms(ticks[len(ticks) // 2])}"
              f", p95 {ms(ticks[int(len(ticks) * 0.95)])}, max {ms(ticks[-1])}")
        print(f"    {sum(t > 0.1 for t in ticks)} ticks over 100 ms; the window played in "
              f"{wall:.1f} s of real time = x{span / wall:,.0f} with the frames "
              f"(x{span / (len(ticks) * 0.1):,.0f} on the replay's clock)")
    rec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--file", type=Path, help="keep the recording here and reuse it")
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's default collection thresholds (no tune_gc)")
    args = parser.parse_args()
    from record import build_day  # benchmarks/record.py: the same load

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / "hour.hcr"
        if not path.exists():
            print(f"writing {args.hours:g} h of {args.nodes} x {args.instances} to {path} ...",
                  flush=True)
            print(f"  written in {build_day(path, args.hours, args.nodes, args.instances):.0f} s")
        asyncio.run(measure(path, tune=not args.default_gc))


if __name__ == "__main__":
    main()
