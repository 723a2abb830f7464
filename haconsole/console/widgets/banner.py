"""The alarm banner: what is wrong right now, worst first; a quiet line when all is well.

Why always visible: an operator glancing at the screen must see split brain or a missing
master without reading the tables, and must see that nothing is wrong when nothing is.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from haconsole.cluster.view import Alarm, ClusterView
from haconsole.console.format import age
from haconsole.console.themes import Palette

MAX_LINES = 3


class AlarmBanner(Static):
    """Sets the class `-critical`, `-warning` or `-ok` so the stylesheet can colour it."""

    _shown = ""

    def refresh_from(self, view: ClusterView, now: float, palette: Palette) -> list[Alarm]:
        alarms = view.alarms(now)
        level = "ok"
        if alarms:
            level = "critical" if alarms[0].severity == "critical" else "warning"
        self.set_class(level == "critical", "-critical")
        self.set_class(level == "warning", "-warning")
        self.set_class(level == "ok", "-ok")
        text = render_banner(view, alarms, now)
        if text.plain != self._shown:  # a relayout only when the banner really changes
            self._shown = text.plain
            self.update(text)
        return alarms


def render_banner(view: ClusterView, alarms: list[Alarm], now: float) -> Text:
    if not alarms:
        text = Text("✔ all clear", style="bold")
        for _group, members in sorted(view.groups().items()):
            masters = [m.node for m in members if m.live_master]
            name = members[0].name
            text.append(f"   {name}: MASTER {', '.join(masters) or '—'}")
            vips = sorted({v for m in members for v in m.vips})
            if vips and masters:
                text.append(f" · {', '.join(vips)}")
        return text
    lines = []
    for alarm in alarms[:MAX_LINES]:
        glyph = "✖" if alarm.severity == "critical" else "▲"
        lines.append(Text.assemble((f"{glyph} {alarm.title}", "bold"),
                                   f"  {alarm.message}  ", (f"({age(now - alarm.since)})",
                                                            "italic")))
    if len(alarms) > MAX_LINES:
        lines.append(Text(f"  … and {len(alarms) - MAX_LINES} more", style="italic"))
    return Text("\n").join(lines)
