"""`haconsole replay` without --report: the live console's screen, travelling in a recording.

Why a subclass of the live console: what the screen shows at T must be exactly what a
live console showed at T, so the replay keeps its widgets, its fold (`ClusterView`) and
its ten-per-second tick, and changes only where events come from and what the clock
says. The clock is the replay cursor. A seek takes `timeline.view_at(t)` (keyframes make
that cheap) and repaints at once; playing puts each tick's `events_between(old, new)` in
the console's own queue, which the tick folds as it folds a live source's events: never a
refold while playing. A tick folds what fits in about `TICK_SECONDS` on this machine, so
a dense stretch plays slower than asked (the strip says how fast) and the console keeps
its frame rate.

The timeline strip marks every transition; split brains and stretches without MASTER
are shaded from a fold of the window done between frames (skipped past `SHADE_LIMIT`
events: that fold would cost a big recording seconds of the console's time).

Nothing here changes a node: the console is read-only and check_action hides every node
action from the key bar, the help and the palette.
"""

from __future__ import annotations

import bisect
import gc
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any, Protocol

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, CommandIssued, GroupKey
from haconsole.console.app import REFRESH_HZ, HAConsoleApp, console_themes
from haconsole.console.format import clock
from haconsole.console.screens import HelpScreen
from haconsole.console.themes import ConsoleTheme
from haconsole.console.widgets.instances import row_key
from haconsole.console.widgets.keybar import Hint, KeyBar
from haconsole.console.widgets.timeline import (
    TIMES,
    MarkLike,
    Period,
    Position,
    TimelineStrip,
)

Item = ev.Event | CommandIssued

SPEEDS = (1, 2, 5, 10, 30, 60, 120, 300, 600)
MAX_STEP = 0.5  # real seconds folded per tick at most (a stalled loop does not flood it)
TICK_SECONDS = 0.06  # a playing tick's goal: the events it folds adapt to the machine
MIN_TICK_EVENTS, MAX_TICK_EVENTS = 500, 50_000
FIRST_SPAN = 1.0  # replayed seconds of the first tick after a seek (density unknown yet)
PERIOD_CHUNKS = 400  # the shading pass reads the window in this many slices
COMPACT_BELOW = 30  # terminal lines: shorter, the strip takes one line instead of two
SHADE_STEP = 5_000  # events the shading pass reads per step between UI messages
SHADE_LIMIT = 100_000  # events: a window holding more is not shaded
GC_FULL_EVERY = 100  # young collections between two full ones in the replay (tune_gc)


class ReplayTimeline(Protocol):
    """What the replay needs of `record.timeline.Timeline`."""

    start: float
    end: float

    def view_at(self, t: float) -> ClusterView: ...
    def events_between(self, a: float, b: float) -> Sequence[Item]: ...
    def marks(self) -> Sequence[MarkLike]: ...


# ---------------------------------------------------------------------- the keys
@dataclass(frozen=True)
class ReplayKey:
    """One replay key: the binding, the key bar, the help screen and the palette read it."""

    key: str  # Textual's key name
    shown: str  # as the help writes it
    action: str  # the app's action (without `action_`)
    help: str  # one line, for the help screen and the palette
    bar: Hint | None = None  # its key bar hint (None: a pair's second key, or not shown)


REPLAY_KEYS: tuple[ReplayKey, ...] = (
    ReplayKey("space", "space", "toggle_play", "play / pause", Hint("space", "play", 1)),
    ReplayKey("left", "\u2190", "previous_mark", "go to the previous transition",
              Hint("\u2190/\u2192", "transitions", 2)),
    ReplayKey("right", "\u2192", "next_mark", "go to the next transition"),
    ReplayKey("plus", "+", "faster",
              "play faster: " + " ".join(f"{TIMES}{s}" for s in SPEEDS), Hint("+/-", "speed", 4)),
    ReplayKey("minus", "-", "slower", "play slower"),
    ReplayKey("g", "g", "go_to",
              "go to a time: HH:MM[:SS], ISO 8601, or +90s / -5m from the cursor",
              Hint("g", "go to", 3)),
    ReplayKey("home", "home", "seek_start", "go to the start", Hint("home/end", "start/end", 10)),
    ReplayKey("end", "end", "seek_end", "go to the end"),
)
BY_REPLAY_ACTION = {k.action: k for k in REPLAY_KEYS}


# ---------------------------------------------------------------------- `g`: times
_RELATIVE = re.compile(r"^([+-])\s*((?:\d+(?:\.\d+)?\s*[hms]?\s*)+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")
FORMS = "HH:MM[:SS], 2026-11-18T11:07:30[Z], +90s, -5m, +1h30m"


def parse_when(text: str, *, cursor: float, start: float, end: float) -> float:
    """The instant `text` names (not yet clamped to [start, end]); ValueError in one line.

    `+90s` / `-5m` / `+1h30m` move from the cursor (a bare number is seconds); `HH:MM` and
    `HH:MM:SS[.fff]` are local times on the day that puts them in (else nearest) the
    window, the cursor's day first; anything else is read as ISO 8601 (a naive one is
    local time).
    """
    s = text.strip()
    if not s:
        raise ValueError(f"type a time: {FORMS}")
    m = _RELATIVE.match(s)
    if m:
        seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(m.group(2)))
        return cursor + seconds if m.group(1) == "+" else cursor - seconds
    m = _CLOCK.match(s)
    if m:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"not a time of day: {s}")
        micro = round(float(m.group(4) or 0) * 1e6)
        day = datetime.fromtimestamp(cursor).date()
        candidates = [datetime.combine(day + timedelta(days=d),
                                       dtime(hour, minute, second, min(micro, 999_999)))
                      .timestamp() for d in (0, -1, 1)]
        return min(candidates, key=lambda c: (max(start - c, c - end, 0.0), abs(c - cursor)))
    iso = s[:-1] + "+00:00" if s[-1:] in "zZ" else s
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        raise ValueError(f"not a time: {s!r} (try {FORMS})") from None


def when(t: float, multi_day: bool = False) -> str:
    """A window edge as an operator reads it (with the date when the window spans days)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if multi_day else clock(t)


class GotoScreen(ModalScreen[float | None]):
    """`g`: a time to go to; a wrong one is explained under the box, which stays open."""

    DEFAULT_CSS = """
    GotoScreen {
        align: center middle;
        background: $background 60%;
    }
    #goto-box {
        width: 64;
        max-width: 95%;
        height: auto;
        padding: 1 2;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        background: $surface;
    }
    #goto-hint {
        color: $foreground 70%;
    }
    #goto-error {
        color: $error;
        height: auto;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def __init__(self, cursor: float, start: float, end: float) -> None:
        super().__init__()
        self.cursor, self.start, self.end = cursor, start, end

    def compose(self) -> ComposeResult:
        multi = time.localtime(self.start)[:3] != time.localtime(self.end)[:3]
        with Vertical(id="goto-box") as box:
            box.border_title = "go to"
            box.border_subtitle = "enter goes · esc cancels"
            yield Static(Text(f"recording {when(self.start, multi)} \u2013 {when(self.end, multi)}"
                              f", now at {clock(self.cursor, ms=True)}"), id="goto-hint")
            yield Input(placeholder=FORMS, id="goto-input")
            yield Static("", id="goto-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            t = parse_when(event.value, cursor=self.cursor, start=self.start, end=self.end)
        except ValueError as err:
            self.query_one("#goto-error", Static).update(str(err))
            return
        self.dismiss(t)

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------------- shading
STATE_KINDS = (ev.Transition, ev.InstanceState, ev.NodeLost, ev.NodeSeen)


class PeriodFinder:
    """Split-brain and no-master stretches, from a fold of the state events only.

    Why its own fold: the strip shows them for the whole window at once, and a fold of
    the events that decide who is live MASTER (transitions, snapshots, nodes lost and
    seen) is far cheaper than views at every column. A stretch without MASTER counts as
    the alarm does: only past the routers' Master_Down_Interval.
    """

    def __init__(self, view: ClusterView, t: float) -> None:
        """Start from `view`, the fold of everything up to `t` (the window's start)."""
        self.view = view
        self.periods: list[Period] = []
        self._split: dict[GroupKey, float] = {}  # group -> since
        self._nomaster: dict[GroupKey, tuple[float, float]] = {}  # group -> (since, grace)
        self._dirty: set[str] = set(view.nodes)  # nodes whose routers to look at
        self._t: float | None = t

    def feed(self, items: Iterable[Item]) -> None:
        for item in items:
            if not isinstance(item, STATE_KINDS):
                continue
            if item.t != self._t:  # judge a moment once all its events are in
                self._settle()
                self._t = item.t
            self.view.apply(item)
            self._dirty.add(item.node)

    def finish(self, end: float) -> list[Period]:
        self._settle()
        for since in self._split.values():
            self.periods.append(Period(since, end, "split-brain"))
        for since, grace in self._nomaster.values():
            if end - since > grace:
                self.periods.append(Period(since, end, "no-master"))
        self._split.clear()
        self._nomaster.clear()
        self.periods.sort(key=lambda p: p.start)
        return self.periods

    def _settle(self) -> None:
        if not self._dirty or self._t is None:
            return
        view, t = self.view, self._t
        groups = {i.group for i in view.instances.values() if i.node in self._dirty}
        self._dirty.clear()
        for group in groups:
            members = view.group_members(group)
            masters = sum(1 for m in members if m.live_master)
            if masters > 1:
                self._split.setdefault(group, t)
            elif group in self._split:
                self.periods.append(Period(self._split.pop(group), t, "split-brain"))
            if masters == 0 and members:
                live = [m for m in members if not m.lost]
                grace = max(m.master_down_interval for m in members) if live else 0.0
                since = self._nomaster.get(group, (t, 0.0))[0]
                self._nomaster[group] = (since, grace)
            elif group in self._nomaster:
                since, grace = self._nomaster.pop(group)
                if t - since > grace:
                    self.periods.append(Period(since, t, "no-master"))


# ---------------------------------------------------------------------- the app
def window(timeline: ReplayTimeline, since: float | None,
           until: float | None) -> tuple[float, float]:
    """The replayed window: the timeline's, narrowed to --since / --until (end < start
    when nothing is left). What happened before `since` still counts: the view at the
    start is the fold of everything up to it."""
    start = timeline.start if since is None else max(since, timeline.start)
    end = timeline.end if until is None else min(until, timeline.end)
    return start, end


class ReplayApp(HAConsoleApp):
    """The console over a Timeline: the cursor is the clock, the keys move it."""

    BINDINGS = [Binding(k.key, k.action, k.help, show=False, priority=True)
                for k in REPLAY_KEYS]
    # the strip takes a line or two: on an 80x24 terminal the log gives them back
    CSS = "#logbox { min-height: 4; }"

    def __init__(self, timeline: ReplayTimeline, *, theme: str | None = None,
                 title: str = "", since: float | None = None, until: float | None = None,
                 notes: Sequence[str] = (), themes: dict[str, ConsoleTheme] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 refresh_hz: float = REFRESH_HZ, shade: bool = True) -> None:
        self.timeline = timeline
        self.start, self.end = window(timeline, since, until)
        self.end = max(self.end, self.start)
        self.cursor = self.start
        self.playing = False
        self.speed: float = SPEEDS[0]
        self.marks = [m for m in timeline.marks() if self.start <= m.t <= self.end]
        self.mark_times = [m.t for m in self.marks]
        self.notes = list(notes)
        self.shade = shade
        self._monotonic = monotonic
        self._played_at: float | None = None  # the monotonic time the cursor last moved
        self._density: float | None = None  # events per replayed second, lately
        self.tick_events = 4_000  # events a playing tick folds at most (_fit_budget)
        self.achieved: float = self.speed  # the speed really played, lately
        super().__init__([], cluster=title or "recording", theme=theme, readonly=True,
                         confirm=False, view=timeline.view_at(self.start),
                         clock=lambda: self.cursor, themes=themes, refresh_hz=refresh_hz)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        """The live console's screen, with the timeline strip above the key bar."""
        for widget in super().compose():
            if isinstance(widget, KeyBar):
                self.strip = TimelineStrip(self.start, self.end, self.marks, self.palette,
                                           id="timeline")
                yield self.strip
            yield widget

    def on_mount(self) -> None:
        # (HAConsoleApp.on_mount runs too: Textual calls each class's handler)
        self.strip.set_compact(self.size.height < COMPACT_BELOW)
        for note in self.notes:
            self._toast("warning", note)
        if self.shade:
            self._shade()

    def on_resize(self) -> None:
        # (and HAConsoleApp.on_resize)
        self.strip.set_compact(self.size.height < COMPACT_BELOW)

    def topbar_mode(self, now: float) -> Text:
        return Text.assemble(("REPLAY", f"bold {self.palette.accent}"),
                             (" · read-only", self.palette.muted))

    def key_hints(self) -> list[Hint]:
        hints = [Hint(k.bar.key, "pause", k.bar.rank)
                 if k.action == "toggle_play" and self.playing else k.bar
                 for k in REPLAY_KEYS if k.bar is not None]
        return [*hints, *super().key_hints()]

    # ------------------------------------------------------------------ the clock
    def tick(self) -> None:
        """Move the cursor if playing and queue what happened meanwhile; the live tick
        then folds and paints it."""
        playing = self._widgets_ready and self.playing
        started = time.perf_counter()
        capped = self._advance() if playing else False
        super().tick()
        if self._widgets_ready:
            self._show_position()
        if playing:
            self._fit_budget(time.perf_counter() - started, capped)

    def _fit_budget(self, took: float, capped: bool) -> None:
        """Keep a playing tick near TICK_SECONDS on this machine: fewer events per tick
        after a slow one, more after a quick one that the budget held back."""
        if took > TICK_SECONDS:
            self.tick_events = max(MIN_TICK_EVENTS, int(self.tick_events * 0.75))
        elif capped and took < TICK_SECONDS / 2:
            self.tick_events = min(MAX_TICK_EVENTS, int(self.tick_events * 1.25))

    def _advance(self) -> bool:
        """Move the cursor by the real time since the last tick times the speed, folding
        about `tick_events` events at most: a dense stretch plays slower than asked and
        the console keeps its frame rate (`achieved` says the speed really played).
        True when that budget held the cursor back."""
        now = self._monotonic()
        real = now - self._played_at if self._played_at is not None else 0.0
        self._played_at = now
        left = self.end - self.cursor
        span = min(left, min(real, MAX_STEP) * self.speed)
        capped = False
        if span > 0:
            limit = FIRST_SPAN if self._density is None else self.tick_events / self._density
            capped = limit < span
            span = min(span, limit)
            target = self.end if span >= left else self.cursor + span
            items = self.timeline.events_between(self.cursor, target)
            self._density = max(len(items), 1) / span
            self._queue.extend(items)
            self.cursor = target
            if real > 0:
                self.achieved = 0.7 * self.achieved + 0.3 * span / real
        if self.cursor >= self.end:
            self.pause()
        return capped

    def seek(self, t: float) -> None:
        """Show the view at `t` (clamped to the window) now: a new fold from the
        timeline's nearest keyframe, painted in full before the next frame."""
        self.cursor = min(self.end, max(self.start, t))
        self._queue.clear()
        self._density = None  # another stretch: measure it again
        self.view = self.timeline.view_at(self.cursor)
        if self.playing:
            self._played_at = self._monotonic()
        if not self._widgets_ready:
            return
        keep = {row_key(key) for key in self.view.instances}
        table = self.table
        for key in [k for k in table.rows if k.value not in keep]:
            table.remove_row(key)
        self._changes.instances = set(self.view.instances)
        self._changes.panels = True
        self._rewrite_log = True
        self._last_full = float("-inf")
        self.tick()
        # rows in the order a console opened at the cursor has them (a running one
        # keeps the order rows came in: playing does not reorder)
        table.resort(self.view, table.selected)
        self.call_after_refresh(self._repaint)

    def _repaint(self) -> None:
        """Once the layout settled, paint again the panel that fits itself to its height
        (VIPs & nodes): it measured that before the banner took or gave back lines."""
        self.vip_panel.refresh_from(self.view, self.cursor, self.palette, self.node_colour)

    def play(self) -> None:
        if self.cursor >= self.end:
            self.seek(self.start)
        self.playing = True
        self._played_at = self._monotonic()
        self.achieved = self.speed
        self._show_position()
        self.keybar.show_hints(self.key_hints(), f"bold {self.palette.accent}")

    def pause(self) -> None:
        self.playing = False
        self._played_at = None
        self._last_full = float("-inf")  # the next paint is all at the cursor (ages, rates)
        self._show_position()
        self.keybar.show_hints(self.key_hints(), f"bold {self.palette.accent}")

    def _show_position(self) -> None:
        slow = self.playing and self.achieved < 0.8 * self.speed
        position = Position(self.cursor, self.playing, self.speed,
                            bisect.bisect_right(self.mark_times, self.cursor),
                            achieved=round(self.achieved) if slow else None)
        self.strip.show(position, self.palette)

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Replay keys act on the main screen only (typing in the filter or a dialog
        must not move the cursor); node actions are hidden (read-only)."""
        if action in BY_REPLAY_ACTION:
            return self._at_the_controls()
        if action == "pause_log":  # space plays and pauses the replay
            return False
        return super().check_action(action, parameters)

    def _at_the_controls(self) -> bool:
        if not self.screen_stack:
            return False
        return self.screen is self.main and not isinstance(self.focused, Input)

    def action_toggle_play(self) -> None:
        if self.playing:
            self.pause()
            self.tick()
            self.call_after_refresh(self._repaint)
        else:
            self.play()

    def action_next_mark(self) -> None:
        i = bisect.bisect_right(self.mark_times, self.cursor)
        if i >= len(self.mark_times):
            self._toast("information", "no later transition")
            return
        self.seek(self.mark_times[i])

    def action_previous_mark(self) -> None:
        i = bisect.bisect_left(self.mark_times, self.cursor) - 1
        if i < 0:
            self._toast("information", "no earlier transition")
            return
        self.seek(self.mark_times[i])

    def action_faster(self) -> None:
        self._set_speed(next((s for s in SPEEDS if s > self.speed), SPEEDS[-1]))

    def action_slower(self) -> None:
        self._set_speed(next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0]))

    def _set_speed(self, speed: float) -> None:
        if self.playing:  # what played so far played at the old speed
            self._advance()
        self.speed = self.achieved = speed
        self._show_position()

    def action_go_to(self) -> None:
        if isinstance(self.screen, GotoScreen):
            return
        self.push_screen(GotoScreen(self.cursor, self.start, self.end), self._went_to)

    def _went_to(self, t: float | None) -> None:
        if t is None:
            return
        if not self.start <= t <= self.end:
            edge = "start" if t < self.start else "end"
            self._toast("information", f"{clock(t)} is outside the recording: at its {edge}")
        self.seek(t)

    def action_seek_start(self) -> None:
        self.seek(self.start)

    def action_seek_end(self) -> None:
        self.seek(self.end)

    def on_timeline_strip_seek(self, message: TimelineStrip.Seek) -> None:
        self.seek(message.t)

    # ------------------------------------------------------------------ help, palette
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(readonly=True, confirm=False,
                                        hidden=self.hidden_actions(),
                                        replay_keys=[(k.shown, k.help) for k in REPLAY_KEYS]))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for k in REPLAY_KEYS:
            yield SystemCommand(f"Replay: {k.help}", f"key {k.shown}",
                                getattr(self, f"action_{k.action}"))
        yield SystemCommand("Replay: read-only", "a replay shows what happened: no action "
                            "on nodes (stop, start, failover, kill…)", self.action_help)

    # ------------------------------------------------------------------ shading
    def _shade(self, finder: PeriodFinder | None = None, lo: float | None = None,
               read: int = 0) -> None:
        """Shade split brains and stretches without MASTER on the strip: read the window
        in slices, `SHADE_STEP` events per step, the next step after the UI's pending
        messages. Past `SHADE_LIMIT` events it gives up (the fold would cost seconds of
        the console's time): a big recording's strip has its marks, not its shading."""
        if finder is None or lo is None:
            finder, lo = PeriodFinder(self.timeline.view_at(self.start), self.start), self.start
        step = (self.end - self.start) / PERIOD_CHUNKS
        budget = read + SHADE_STEP
        while lo < self.end and read < budget:
            hi = self.end if step <= 0 or self.end - lo < 1.5 * step else lo + step
            items = self.timeline.events_between(lo, hi)
            finder.feed(items)
            read += len(items)
            lo = hi
        if lo >= self.end:
            self.strip.set_periods(finder.finish(self.end))
        elif read < SHADE_LIMIT:
            self.call_later(self._shade, finder, lo, read)


def tune_gc() -> None:
    """For the replay's process: CPython's full collections every GC_FULL_EVERY young
    ones instead of 10. Playing churns through objects that live a few seconds (log lines
    roll out of the view's 2000), so by default a full collection (60+ ms with the
    console's objects, most of a frame) ran every few ticks; benchmarks/replay_screen.py
    measured the p95 tick at x600 go from ~350 ms to ~60 ms."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GC_FULL_EVERY)


def run_replay(timeline: ReplayTimeline, *, theme: str | None = None, title: str = "",
               since: float | None = None, until: float | None = None,
               notes: Sequence[str] = ()) -> int:
    """`haconsole replay SOURCE...` without --report: the console on `timeline`, paused
    at the start of the window. Returns the process exit status."""
    try:
        themes, theme = console_themes(theme)
    except ValueError as err:
        print(f"haconsole replay: {err}", file=sys.stderr)
        return 2
    start, end = window(timeline, since, until)
    if end < start:
        print(f"haconsole replay: no events between {when(start, True)} and "
              f"{when(end, True)}", file=sys.stderr)
        return 1
    tune_gc()
    app = ReplayApp(timeline, theme=theme, title=title, since=since, until=until,
                    notes=notes, themes=themes)
    return app.run() or 0
