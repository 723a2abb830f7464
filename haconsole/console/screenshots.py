"""`python -m haconsole.console.screenshots OUTDIR`: the README's SVGs, from the real app.

Why scripted scenes: the console is driven headless on the deterministic lab
(`lab.scripted`: the real VRRP core on a virtual clock, a fixed wall clock, UTC), so the
images are regenerated identically by `make screenshots` and never drawn by hand.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from haconsole.console.app import HAConsoleApp
from haconsole.lab.scripted import SCENES, Scene

SIZE = (120, 36)


@dataclass(frozen=True)
class Shot:
    file: str
    scene: str
    title: str
    theme: str = "dark"
    keys: tuple[str, ...] = ()
    replay: bool = False  # the replay screen over the scene's events, paused at the start


# A longer incident for the replay: a failover, the way back, a split brain, the heal.
INCIDENT = Scene("incident", "20:stop nginx1; 40:start nginx1; 55:partition nginx2; "
                 "65:heal nginx2", 80.0)

SHOTS = (
    Shot("overview.svg", "overview", "haconsole — the nginx pair, steady state"),
    Shot("failover.svg", "failover", "haconsole — nginx stopped on nginx1: failover stopwatch"),
    Shot("help.svg", "overview", "haconsole — keys (?)", keys=("question_mark",)),
    Shot("log-filter.svg", "failover", "haconsole — log filtered with /",
         keys=("slash", *"instance:VI_1 master", "enter")),
    Shot("light.svg", "failover", "haconsole — light theme", theme="light"),
    Shot("high-contrast.svg", "failover", "haconsole — high-contrast theme",
         theme="high-contrast"),
    Shot("split-brain.svg", "split-brain", "haconsole — nginx2 partitioned: split brain"),
    Shot("replay.svg", "incident", "haconsole replay — at the split brain (→ to each transition)",
         keys=("right",) * 4, replay=True),
)


def fixed_timezone() -> None:
    """Render clock times in UTC so that images do not depend on where they are made."""
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()


def scene_app(scene: Scene, *, theme: str = "dark") -> HAConsoleApp:
    """The real console on a scripted scene: no sources, the view pre-folded, time fixed."""
    return HAConsoleApp([], cluster="nginx pair", kind="lab", theme=theme, confirm=False,
                        view=scene.view(), clock=lambda: scene.now)


def replay_app(scene: Scene, *, theme: str = "dark") -> HAConsoleApp:
    """The replay screen over a scripted scene's events (a Timeline in memory)."""
    from haconsole.console.replay import ReplayApp
    from haconsole.record.timeline import Timeline

    return ReplayApp(Timeline(scene.events()), title=f"{scene.name} (scripted lab)",
                     theme=theme)


def shot_app(shot: Shot) -> HAConsoleApp:
    """The app a shot is taken of."""
    if shot.replay:
        return replay_app(INCIDENT if shot.scene == INCIDENT.name else SCENES[shot.scene],
                          theme=shot.theme)
    return scene_app(SCENES[shot.scene], theme=shot.theme)


async def capture(shot: Shot, size: tuple[int, int] = SIZE) -> str:
    app = shot_app(shot)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for key in shot.keys:
            await pilot.press(key)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(title=shot.title)


async def write_all(outdir: Path, shots: Sequence[Shot] = SHOTS) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for shot in shots:
        path = outdir / shot.file
        path.write_text(await capture(shot), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m haconsole.console.screenshots OUTDIR", file=sys.stderr)
        return 2
    fixed_timezone()
    for path in asyncio.run(write_all(Path(args[0]))):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
