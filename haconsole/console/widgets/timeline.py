"""The replay's timeline strip: the whole window on one line, every transition marked, the cursor.

Why the whole window on one line: replaying an incident, the operator first needs to see
where things happened (a cluster of ▲ is flapping, a heavy red stretch a split brain),
then go there; ←/→ land on the marks drawn here and a click goes to the time under it.
Marks are binned into columns once per width (a day can hold thousands of transitions):
while playing only the cursor column and the status line change.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from haconsole.console.format import age, clock
from haconsole.console.themes import Palette

# what a column shows, by rank: the most telling transition in it wins
NOTHING, OTHER, LEFT_MASTER, ENTERED_MASTER = range(4)
GLYPHS = {NOTHING: "─", OTHER: "•", LEFT_MASTER: "▼", ENTERED_MASTER: "▲"}
BAND_GLYPH = "━"  # the empty track during a split brain or a period with no master
MIN_TRACK = 10  # narrower than this, the start / end labels go
TIMES = "\u00d7"  # the speed: \u00d760


class MarkLike(Protocol):
    """One transition (`record.timeline.Mark`)."""

    @property
    def t(self) -> float: ...
    @property
    def old(self) -> str: ...
    @property
    def new(self) -> str: ...


@dataclass(frozen=True)
class Period:
    """A stretch of the window the strip shades: "split-brain" or "no-master"."""

    start: float
    end: float
    kind: str


@dataclass(frozen=True)
class Position:
    """What the status line says: where the cursor is and how it moves."""

    cursor: float
    playing: bool = False
    speed: float = 1.0
    passed: int = 0  # transitions at or before the cursor
    achieved: float | None = None  # the speed really played, when well below `speed`


def rank(mark: MarkLike) -> int:
    if mark.new == "MASTER":
        return ENTERED_MASTER
    if mark.old == "MASTER":
        return LEFT_MASTER
    return OTHER


class Track:
    """The window [start, end] cut into `width` columns of equal time."""

    def __init__(self, start: float, end: float, width: int) -> None:
        self.start, self.end, self.width = start, end, max(1, width)
        self.span = max(0.0, end - start)

    def column(self, t: float) -> int:
        if self.span <= 0:
            return 0
        return min(self.width - 1, max(0, int((t - self.start) / self.span * self.width)))

    def time(self, column: int) -> float:
        """The middle of a column (the ends for the first and last), within the window."""
        if self.span <= 0 or column <= 0:
            return self.start
        if column >= self.width - 1:
            return self.end
        return self.start + (column + 0.5) * self.span / self.width

    def bins(self, marks: Sequence[MarkLike]) -> list[tuple[int, str]]:
        """Per column, the highest rank of its marks and the state that mark entered."""
        out = [(NOTHING, "")] * self.width
        for mark in marks:
            col = self.column(mark.t)
            r = rank(mark)
            if r > out[col][0]:
                out[col] = (r, mark.new)
        return out

    def bands(self, periods: Sequence[Period]) -> list[str]:
        """Per column, the kind of period covering it ("" for none); split brain wins."""
        out = [""] * self.width
        for p in periods:
            for col in range(self.column(p.start), self.column(p.end) + 1):
                if out[col] != "split-brain":
                    out[col] = p.kind
        return out


def label(t: float, multi_day: bool) -> str:
    if multi_day:
        return time.strftime("%m-%d %H:%M", time.localtime(t))
    return clock(t)


def render_track(track: Track, bins: Sequence[tuple[int, str]], bands: Sequence[str],
                 cursor: float, palette: Palette) -> Text:
    """The track: marks (▲ entered MASTER, ▼ left it, • other), shaded periods, the cursor."""
    text = Text(no_wrap=True, overflow="crop")
    here = track.column(cursor)
    for col, ((r, new), band) in enumerate(zip(bins, bands, strict=True)):
        if r == ENTERED_MASTER:
            glyph, style = GLYPHS[r], f"bold {palette.state('MASTER')}"
        elif r == LEFT_MASTER:
            glyph, style = GLYPHS[r], palette.state(new)
        elif r == OTHER:
            glyph, style = GLYPHS[r], palette.foreground
        elif band:
            glyph, style = BAND_GLYPH, palette.error if band == "split-brain" \
                else palette.warning
        else:
            glyph, style = GLYPHS[r], palette.muted
        if col == here:
            glyph = glyph if r else "┃"
            text.append(glyph, Style.parse(f"bold {palette.accent}") + Style(reverse=True))
        else:
            text.append(glyph, style)
    return text


def render_status(start: float, end: float, position: Position, marks: int,
                  palette: Palette) -> Text:
    """E.g. `‖ paused x1  11:07:13.258  +33.3s of 34.3s  transition 4/5  replay · read-only`
    (with the times sign)."""
    glyph, style = state_glyph(position, end, palette)
    words = "playing" if position.playing else "end" if position.cursor >= end else "paused"
    state = Text(f"{glyph} {words}", style=style)
    sep = ("  ", "")
    busy = "" if position.achieved is None else f" (busy: {TIMES}{position.achieved:g})"
    return Text.assemble(
        state, " ", (f"{TIMES}{position.speed:g}", "bold"), (busy, palette.warning), sep,
        (clock(position.cursor, ms=True), f"bold {palette.accent}"), sep,
        (f"+{age(position.cursor - start)} of {age(end - start)}", palette.muted), sep,
        (f"transition {position.passed}/{marks}" if marks else "no transition",
         palette.foreground), sep,
        ("replay · read-only", f"italic {palette.muted}"),
        no_wrap=True, overflow="ellipsis",
    )


def state_glyph(position: Position, end: float, palette: Palette) -> tuple[str, str]:
    if position.playing:
        return "▶", f"bold {palette.success}"
    if position.cursor >= end:
        return "■", f"bold {palette.muted}"
    return "‖", f"bold {palette.warning}"


SHORT_STATUS = 21  # cells of the one-line strip's status: `‖ x600 11:07:13.258 `


def render_short_status(end: float, position: Position, palette: Palette) -> Text:
    """The status before the track on a short terminal: state, speed, the cursor."""
    glyph, style = state_glyph(position, end, palette)
    text = Text.assemble((glyph, style), " ", (f"{TIMES}{position.speed:<4g}", "bold"), " ",
                         (clock(position.cursor, ms=True), f"bold {palette.accent}"),
                         no_wrap=True)
    text.pad_right(SHORT_STATUS - text.cell_len)
    return text


class TimelineStrip(Widget):
    """Above the key bar: the track with its start and end, then the status (two lines);
    on a short terminal (`compact`) one line, the status then the track."""

    DEFAULT_CSS = """
    TimelineStrip {
        height: 2;
        padding: 0 1;
        background: $panel;
    }
    """

    class Seek(Message):
        """The operator clicked the track: go to `t`."""

        def __init__(self, t: float) -> None:
            super().__init__()
            self.t = t

    def __init__(self, start: float, end: float, marks: Sequence[MarkLike], palette: Palette,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.start, self.end = start, end
        self.marks = list(marks)
        self.palette = palette
        self.position = Position(start)
        self.periods: list[Period] = []
        self.multi_day = _day(start) != _day(end)  # then labels carry the date
        self._bins: tuple[int, list[tuple[int, str]], list[str]] | None = None
        self.compact = False

    def set_compact(self, compact: bool) -> None:
        """One line (a short terminal) or two."""
        if compact != self.compact:
            self.compact = compact
            self.styles.height = 1 if compact else 2
            self.refresh()

    def show(self, position: Position, palette: Palette) -> None:
        """Repaint when the position (or the theme) changed."""
        if position != self.position or palette is not self.palette:
            self.position, self.palette = position, palette
            self.refresh()

    def set_periods(self, periods: Sequence[Period]) -> None:
        self.periods = list(periods)
        self._bins = None
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _label_width(self) -> int:
        return len(label(self.start, self.multi_day))

    def track(self) -> tuple[Track, int]:
        """The track for the current width, and its offset in the content region."""
        width = self.content_size.width
        if self.compact:
            return Track(self.start, self.end, max(1, width - SHORT_STATUS)), SHORT_STATUS
        lw = self._label_width()
        if width - 2 * (lw + 1) >= MIN_TRACK:
            return Track(self.start, self.end, width - 2 * (lw + 1)), lw + 1
        return Track(self.start, self.end, width), 0

    def render(self) -> Text:
        track, offset = self.track()
        if self._bins is None or self._bins[0] != track.width:
            self._bins = (track.width, track.bins(self.marks), track.bands(self.periods))
        _, bins, bands = self._bins
        line = render_track(track, bins, bands, self.position.cursor, self.palette)
        if self.compact:
            return Text.assemble(render_short_status(self.end, self.position, self.palette),
                                 line, no_wrap=True)
        if offset:
            muted = self.palette.muted
            line = Text.assemble((label(self.start, self.multi_day), muted), " ", line, " ",
                                 (label(self.end, self.multi_day), muted), no_wrap=True)
        status = render_status(self.start, self.end, self.position, len(self.marks),
                               self.palette)
        return Text("\n", no_wrap=True).join([line, status])

    def time_at(self, x: int) -> float:
        """The time under column `x` of the content region (a label: its end)."""
        track, offset = self.track()
        if x < offset:
            return self.start
        if x >= offset + track.width:
            return self.end
        return track.time(x - offset)

    def on_click(self, event: events.Click) -> None:
        x = event.x - self.styles.padding.left
        self.post_message(self.Seek(self.time_at(x)))


def _day(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(t))
