"""The merged log tail: keepalived's own lines from every node, coloured by node.

Why a RichLog fed incrementally: the view keeps the last lines with sequence numbers, so
each tick writes only the new ones; a filter change rewrites the tail from the view.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events, on
from textual.widgets import RichLog

from haconsole.cluster.view import ClusterView, LogEntry
from haconsole.console.format import LogFilter, clock
from haconsole.console.themes import Palette

MAX_LINES = 1000
MAX_PER_TICK = 200  # a live burst beyond this scrolls off anyway: write only the newest
# A rewrite asked for (a seek in a replay, a new filter) fills the whole scrollback, so
# the operator can scroll back from the instant they jumped to.


class LogPanel(RichLog):
    """`log_filter` selects lines; `paused` stops following the tail."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False,
                         auto_scroll=True, id=id)
        self.log_filter = LogFilter()
        self._seq = 0
        self._width = 6

    @on(events.Resize)
    def _follow_tail(self, event: events.Resize) -> None:
        """Keep following the tail when the panel changes height (the table grew)."""
        if self.auto_scroll:
            self.call_after_refresh(self.scroll_end, animate=False)

    @property
    def paused(self) -> bool:
        return not self.auto_scroll

    def set_paused(self, paused: bool) -> None:
        self.auto_scroll = not paused
        if not paused:
            self.scroll_end(animate=False)

    def refresh_from(self, view: ClusterView, palette: Palette,
                     node_colour: Callable[[str], str], *, rewrite: bool = False) -> None:
        """Write entries newer than the last written (all of them when `rewrite`)."""
        # asked for (a seek, a new filter): fill the scrollback; a live reorder redraws
        # a tick's worth, as it may come every tick
        limit = MAX_LINES if rewrite else MAX_PER_TICK
        if view.log_reordered_at > self._seq:
            rewrite = True  # a line landed before ones already shown: redraw in time order
        if rewrite:
            self.clear()
            self._seq = 0
        if view.log_seq == self._seq:
            return
        self._width = max([self._width, *(len(n) for n in view.nodes)])
        fresh: list[LogEntry] = []
        for entry in reversed(view.log):  # newest first: stop at the last one written
            if entry.seq <= self._seq:
                break
            fresh.append(entry)
        fresh.reverse()
        self._seq = view.log_seq
        shown = [e for e in fresh if self.log_filter.matches(e.node, e.instance, e.text)]
        if shown:  # one write per tick: RichLog measures and renders once for the batch
            self.write(Text("\n").join(self.line(entry, palette, node_colour)
                                        for entry in shown[-limit:]))

    def line(self, entry: LogEntry, palette: Palette, node_colour: Callable[[str], str]) -> Text:
        if entry.level == "error":
            style = palette.error
        elif entry.level == "warning":
            style = palette.warning
        elif entry.text.startswith("[haconsole]"):
            style = palette.accent
        else:
            style = palette.foreground
        body = Text(entry.text, style=style)
        if self.log_filter.words:
            body.highlight_words(self.log_filter.words, style=f"bold underline {palette.accent}",
                                 case_sensitive=False)
        return Text.assemble((clock(entry.t, ms=True), palette.muted), " ",
                             (f"{entry.node:<{self._width}}", f"bold {node_colour(entry.node)}"),
                             " ", body)
