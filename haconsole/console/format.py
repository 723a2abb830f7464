"""Pure text formatting shared by the widgets (no Textual): easy to test, one wording.

Why glyphs next to colours: state must stay readable for colour-blind operators and on
monochrome terminals, so every state has a shape as well as a colour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

STATE_GLYPHS = {"MASTER": "●", "BACKUP": "○", "FAULT": "✖", "STOP": "■", "INIT": "…",
                "LOST": "✖"}
SPARK = "▁▂▃▄▅▆▇█"
MINUS = "\u2212"


def signed(n: int) -> str:
    """`+10` / `\u221220` with a real minus sign (it lines up with digits)."""
    return f"+{n}" if n >= 0 else f"{MINUS}{-n}"


def priority_text(base: int, effective: int) -> str:
    """`100 \u221220 = 80` (a real minus sign) when weights apply, else just `100`."""
    weight = effective - base
    if weight == 0:
        return str(base)
    return f"{base} {signed(weight)} = {effective}"


def age(seconds: float) -> str:
    """A compact age: `0.4s`, `12s`, `3m05s`, `2h04m`, `3d02h`."""
    s = max(0.0, seconds)
    if s < 10:
        return f"{s:.1f}s"
    if s < 60:
        return f"{int(s)}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    if s < 86400:
        return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
    return f"{int(s // 86400)}d{int(s % 86400 // 3600):02d}h"


def clock(t: float, ms: bool = False) -> str:
    """Local wall-clock time of an event, `HH:MM:SS` (optionally `.mmm`)."""
    text = time.strftime("%H:%M:%S", time.localtime(t))
    if ms:
        text += f".{int((t % 1) * 1000):03d}"
    return text


def millis(ms: float | None) -> str:
    """`3 754 ms`, or `—` when not measured."""
    if ms is None:
        return "—"
    return f"{ms:,.0f} ms".replace(",", "\u2009")


def sparkline(values: list[int], floor: int = 2) -> str:
    """Block characters scaled to max(values, floor): a steady 1/s shows as a mid bar."""
    top = max([floor, *values])
    out = []
    for v in values:
        if v <= 0:
            out.append(" ")
        else:
            out.append(SPARK[min(len(SPARK) - 1, max(0, round(v / top * (len(SPARK) - 1))))])
    return "".join(out)


def rate(per_second: float) -> str:
    return f"{per_second:.1f}" if per_second < 100 else f"{per_second:.0f}"


@dataclass(frozen=True)
class LogFilter:
    """`/` filter: `node:NAME` (or `n:`), `instance:NAME` (or `i:`), and free text.

    Every term must match (AND); text is a case-insensitive substring of the line.
    """

    nodes: tuple[str, ...] = ()
    instances: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LogFilter:
        nodes: list[str] = []
        instances: list[str] = []
        words: list[str] = []
        for term in text.split():
            key, sep, value = term.partition(":")
            if sep and value and key.lower() in ("node", "n"):
                nodes.append(value.lower())
            elif sep and value and key.lower() in ("instance", "inst", "i"):
                instances.append(value.lower())
            else:
                words.append(term.lower())
        return cls(tuple(nodes), tuple(instances), tuple(words))

    @property
    def active(self) -> bool:
        return bool(self.nodes or self.instances or self.words)

    def matches(self, node: str, instance: str, text: str) -> bool:
        if self.nodes and node.lower() not in self.nodes:
            return False
        if self.instances and instance.lower() not in self.instances:
            return False
        low = text.lower()
        return all(w in low for w in self.words)
