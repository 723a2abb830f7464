"""The Wire screen (`w`) and the cross-check mark of the instances table.

Why a screen of its own: when two boxes fight over a VIP the operator needs the wire's
answer in one place, per virtual router: who sends adverts (with which priority,
interval, version, password letter, TTL), what each advertises, and which MAC answers
ARP for each VIP, named with the node when the console knows it. The main screen keeps
only the verdict: one mark per instance that says whether the node, its interface and
the wire agree, and names the odd fact out when they do not.

Everything shown is a function of the `ClusterView` (`view.wire`) and `now`, like the
rest of the console: a recording replays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from haconsole.cluster.view import ClusterView, InstanceView
from haconsole.cluster.wire import CrossCheck, RouterRow
from haconsole.console.format import age
from haconsole.console.themes import Palette

if TYPE_CHECKING:
    from haconsole.console.app import HAConsoleApp
    from haconsole.console.themes import ConsoleTheme
    from haconsole.sources.base import Source

__all__ = ["WireScreen", "crosscheck_cell", "render_wire", "run_wire_console", "wire_console"]

SHORT = {"says MASTER": "state", "sends adverts": "adverts", "holds the VIP": "VIP",
         "answers ARP": "ARP"}


def crosscheck_cell(view: ClusterView, inst: InstanceView, now: float,
                    palette: Palette) -> Text:
    """One green mark when node, interface and wire agree; else the odd fact(s) out."""
    check = view.wire.cross_check(view, inst, now)
    if check.agree:
        return Text("✓", style=f"bold {palette.success}")
    odd = ", ".join(check.odd)
    if check.settling:
        return Text(f"… {odd}", style=palette.muted)
    return Text(f"✗ {odd}", style=f"bold {palette.error}")


def _fact(value: bool | None, yes: str, no: str, palette: Palette) -> Text:
    if value is None:
        return Text(f"? {yes}", style=palette.muted)
    return Text(f"{'✓' if value else '·'} {yes if value else no}",
                style=palette.foreground if value else palette.muted)


def render_wire(view: ClusterView, now: float, palette: Palette) -> Text:
    """The whole Wire screen as text: captures, wire alarms, then per VRID its speakers,
    their VIPs and each VIP's owners, then the cross-check of every instance."""
    wire = view.wire
    out = Text()
    if not wire.present:
        out.append("No wire source: start one with `haconsole watch -i IFACE`, or give "
                   "nodes `capture = \"eth0\"` in the inventory.", style=palette.muted)
        return out
    for point in wire.points.values():
        status = ("● ", palette.success) if point.ok else ("✖ ", palette.error)
        out.append_text(Text.assemble(status, (point.name, "bold"),
                                      f"  {point.rate:.0f} frames/s · {point.packets} "
                                      f"decoded · {point.dropped} dropped",
                                      ("" if point.ok else f"  {point.detail}",
                                       palette.error),
                                      (f"  (last report {age(now - point.last_seen)} ago)",
                                       palette.muted)))
        out.append("\n")
    alarms = [a for a in view.alarms(now) if a.kind.startswith("wire-")]
    out.append("\n")
    if alarms:
        for alarm in alarms:
            critical = alarm.severity == "critical"
            out.append_text(Text.assemble(
                ("✖ " if critical else "▲ ", palette.error if critical else palette.warning),
                (alarm.title, "bold"), f"  {alarm.message}",
                (f"  ({age(now - alarm.since)})", palette.muted)))
            out.append("\n")
    else:
        out.append("✔ the wire agrees with itself\n", style=palette.success)
    rows = wire.report(view, now)
    if not rows:
        out.append("\nno VRRP speaker seen yet\n", style=palette.muted)
    for row in rows:
        out.append("\n")
        out.append_text(_router(row, now, palette, bool(view.instances)))
    checks = [(inst, wire.cross_check(view, inst, now)) for inst in
              sorted(view.instances.values(), key=lambda i: (i.name, i.node))]
    if checks:
        out.append("\nCross-check  node says · wire adverts · interface VIP · wire ARP\n",
                   style="bold")
        for inst, check in checks:
            out.append_text(_check_line(inst, check, palette))
            out.append("\n")
    anomalies = sorted(wire.anomalies.values(), key=lambda a: -a.last)[:8]
    if anomalies:
        out.append("\nAnomalies\n", style="bold")
        for a in anomalies:
            out.append(f"  {a.reason} x{a.count}" + (f" from {a.source}" if a.source else "")
                       + (f" (VRID {a.vrid})" if a.vrid >= 0 else "")
                       + (f": {a.detail}" if a.detail else ""), style=palette.warning)
            out.append(f"  {age(now - a.last)} ago\n", style=palette.muted)
    return out


def _router(row: RouterRow, now: float, palette: Palette, know_nodes: bool) -> Text:
    """`know_nodes`: the console knows nodes, so a MAC none of them has is a stranger."""
    title = f"VRID {row.vrid}" + (f" · {row.instance}" if row.instance else "") + \
        f" · IPv{row.family}"
    out = Text(title + "\n", style=f"bold {palette.accent}")
    header = ("", "source", "node", "MAC", "prio", "int", "ver", "auth", "adv/s", "TTL",
              "last seen")
    cells = [header]
    for spk in row.speakers:
        cells.append(("●" if spk.sending else "○", spk.address,
                      spk.node or ("unknown" if know_nodes else "—"),
                      spk.mac or "—", str(spk.priority), f"{spk.interval:g}s",
                      f"v{spk.version}", spk.auth, f"{spk.rate:.1f}",
                      str(spk.ttl) + (" uni" if spk.unicast else ""),
                      f"{age(now - spk.last)} ago"))
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for n, line in enumerate(cells):
        style = "bold" if n == 0 else (palette.foreground if row.speakers[n - 1].sending
                                       else palette.muted)
        text = "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        out.append("  " + text.rstrip() + "\n", style=style)
    for spk in row.speakers:
        out.append(f"  {spk.address} advertises ", style=palette.muted)
        out.append((", ".join(spk.vips) or "no VIP") + "\n")
    for owner in row.owners:
        out.append(f"  VIP {owner.vip} → ", style="bold")
        if not owner.macs:
            out.append("no ARP/ND answer seen\n", style=palette.muted)
            continue
        for i, (mac, node, answering) in enumerate(owner.macs):
            if i:
                out.append(", ")
            stranger = " (unknown box)" if know_nodes else ""
            out.append(mac + (f" ({node})" if node else stranger),
                       style=palette.foreground if answering else palette.muted)
            if not answering:
                out.append(" stopped", style=palette.muted)
        if owner.announced is not None:
            out.append(f"  · last gratuitous ARP {age(now - owner.announced)} ago",
                       style=palette.muted)
        out.append("\n")
    return out


def _check_line(inst: InstanceView, check: CrossCheck, palette: Palette) -> Text:
    if check.agree:
        verdict = Text("✓ agree      ", style=f"bold {palette.success}")
    elif check.settling:
        verdict = Text("… settling   ", style=palette.muted)
    else:
        verdict = Text("✗ " + ", ".join(SHORT[f] for f in check.odd).ljust(11),
                       style=f"bold {palette.error}")
    return Text.assemble(
        "  ", verdict, f" {inst.node} · {inst.name}  ",
        _fact(check.says_master, "MASTER", inst.state if not inst.lost else "LOST", palette),
        " · ", _fact(check.sends_adverts, "sends adverts", "no adverts", palette),
        " · ", _fact(check.holds_vip, "holds the VIP", "no VIP", palette),
        " · ", _fact(check.answers_arp, "answers ARP", "not answering", palette))


class WireScreen(Screen[None]):
    """`w`: the wire, refreshed once a second (esc or `w` goes back)."""

    DEFAULT_CSS = """
    WireScreen {
        background: $background;
    }
    #wire-top {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    #wire-box {
        border: round $primary 50%;
        border-title-color: $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,w", "close", "back"),
                Binding("q", "app.quit", "quit", show=False)]

    def compose(self) -> ComposeResult:
        yield Static(id="wire-top")
        with VerticalScroll(id="wire-box") as box:
            box.border_title = "Wire"
            box.border_subtitle = "esc or w: back"
            yield Static(id="wire-body")

    def on_mount(self) -> None:
        self.refresh_wire()
        self.set_interval(1.0, self.refresh_wire)

    @property
    def text(self) -> str:
        """What the screen shows, as plain text (for tests and screenshots' checks)."""
        return self._text

    _text = ""

    def refresh_wire(self) -> None:
        app: Any = self.app
        view: ClusterView = app.view
        now = app.clock()
        body = render_wire(view, now, app.palette)
        self._text = body.plain
        self.query_one("#wire-body", Static).update(body)
        points = len(view.wire.points)
        self.query_one("#wire-top", Static).update(Text.assemble(
            (" haconsole ", f"bold {app.palette.accent}"), ("  │  ", app.palette.muted),
            ("Wire", "bold"), f"  {points} capture point{'s' * (points != 1)} · "
            f"{len(view.wire.speakers)} speakers · {len(view.wire.owners)} addresses"))

    def action_close(self) -> None:
        self.dismiss(None)


def wire_console(sources: Sequence[Source], *, cluster: str, theme: str | None = None,
                 themes: dict[str, ConsoleTheme] | None = None) -> HAConsoleApp:
    """The console on wire sources alone, opening on the Wire screen (read-only: a wire
    source runs no command)."""
    from haconsole.console.app import HAConsoleApp

    class WireConsole(HAConsoleApp):
        def on_mount(self) -> None:  # Textual calls the App's own on_mount too
            self.call_after_refresh(self.action_wire)

    return WireConsole(sources, cluster=cluster, kind="wire", theme=theme, readonly=True,
                       themes=themes)


def run_wire_console(sources: Sequence[Source], *, cluster: str, theme: str | None = None,
                     themes: dict[str, ConsoleTheme] | None = None) -> int:
    """`haconsole watch -i IFACE` on a terminal; returns the exit status."""
    app = wire_console(sources, cluster=cluster, theme=theme, themes=themes)
    return app.run() or 0
