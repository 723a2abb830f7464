"""The key bar: one line of key hints that always fits the terminal.

Why not Textual's Footer: it lays every binding out in a row and, on an 80-column
terminal, cuts the last ones mid-word behind the palette hint (stray letters at the right
edge). Here each hint has a rank; the bar keeps the most useful hints that fit, in their
table order, and `? help` (where every key is listed) always.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class Hint:
    key: str
    label: str
    rank: int = 50  # lower is kept first when space runs out; 0 is always kept


SEP = "  "


def fit(hints: list[Hint], width: int) -> list[Hint]:
    """The hints to show in `width` cells: by rank until full, then in their own order."""
    chosen: set[int] = set()
    used = 0
    for index, hint in sorted(enumerate(hints), key=lambda ih: (ih[1].rank, ih[0])):
        cost = len(hint.key) + 1 + len(hint.label) + (len(SEP) if chosen else 0)
        if hint.rank == 0 or used + cost <= width:
            chosen.add(index)
            used += cost
    return [h for i, h in enumerate(hints) if i in chosen]


class KeyBar(Static):
    """Shows `hints` (set with `show_hints`), refitted whenever the width changes."""

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._hints: list[Hint] = []
        self.key_style = "bold"

    def show_hints(self, hints: list[Hint], key_style: str = "bold") -> None:
        self._hints = hints
        self.key_style = key_style
        self.refresh()

    def render(self) -> Text:
        width = max(0, self.size.width - 2)
        text = Text(no_wrap=True, overflow="crop")
        for i, hint in enumerate(fit(self._hints, width)):
            if i:
                text.append(SEP)
            text.append(hint.key, style=self.key_style)
            text.append(f" {hint.label}")
        return text
