"""Read-only panels: VIP owners, the transitions timeline with the failover stopwatch.

Why Static + Rich tables: these panels are small and re-rendered whole at most ten times
a second; a Rich renderable is cheaper and simpler than a widget per line.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from haconsole.cluster.view import ClusterView, FailoverRecord
from haconsole.console.format import age, clock, millis
from haconsole.console.themes import Palette

NodeColour = Callable[[str], str]


class VipPanel(Static):
    """Each VIP: its owner, since when, and who held it before."""

    _last: tuple[ClusterView, float, Palette, NodeColour] | None = None

    def refresh_from(self, view: ClusterView, now: float, palette: Palette,
                     node_colour: NodeColour) -> None:
        # when the full layout does not fit (an 80x24 terminal): no headers, no blank
        # lines, one line per client, so that no node is cut off
        self._last = (view, now, palette, node_colour)
        full = (len(view.vips) + 2) + (2 * len(view.clients) + 2 if view.clients else 0) + \
            (len(view.nodes) + 1)
        compact = 0 < self.content_size.height < full
        self.update(render_vips(view, now, palette, node_colour, compact=compact),
                    layout=False)

    def on_resize(self) -> None:
        """The banner above grew or shrank: choose the compact form again for the new
        height (a replay paused at one instant gets no other repaint)."""
        if self._last is not None:
            self.refresh_from(*self._last)


def render_vips(view: ClusterView, now: float, palette: Palette,
                node_colour: NodeColour, *, compact: bool = False) -> RenderableType:
    if not view.vips and not view.nodes:
        return Text("waiting for the first events…", style=palette.muted)
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                  header_style=f"bold {palette.muted}", show_header=not compact)
    widest = max(len(v) for v in view.vips) if view.vips else 3
    owners = [sorted(v.holders) for v in view.vips.values()]
    owner_width = max([5, *(len(" + ".join(o)) + 2 for o in owners)])
    table.add_column("VIP", no_wrap=True, min_width=widest)
    table.add_column("Owner", no_wrap=True, min_width=owner_width)
    table.add_column("Since", no_wrap=True)
    table.add_column("Previous", no_wrap=True)
    for vip in sorted(view.vips.values(), key=lambda v: (v.instance, v.vip)):
        if len(vip.holders) > 1:
            owner = Text("✖ " + " + ".join(sorted(vip.holders)), style=f"bold {palette.error}")
        elif vip.owner:
            owner = Text(vip.owner, style=f"bold {node_colour(vip.owner)}")
        else:
            owner = Text("✖ none", style=f"bold {palette.error}")
        since = Text("—", style=palette.muted)
        if vip.since:
            since = Text.assemble(clock(vip.since), (f" {age(now - vip.since)}",
                                                     palette.muted))
        prev = Text(vip.previous_owner or "—",
                    style=node_colour(vip.previous_owner) if vip.previous_owner
                    else palette.muted)
        table.add_row(Text(vip.vip, style="bold"), owner, since, prev)
    gap: list[RenderableType] = [] if compact else [Text("")]
    parts: list[RenderableType] = [table, *gap]
    if view.clients:
        parts += [render_clients(view, now, palette, node_colour, compact=compact), *gap]
    parts.append(render_nodes(view, now, palette, node_colour))
    return Group(*parts)


CLIENT_STRIP = 12  # seconds of outcomes in the Clients strip


def render_clients(view: ClusterView, now: float, palette: Palette,
                   node_colour: NodeColour, *, compact: bool = False) -> RenderableType:
    """What the clients of each VIP see: requests/s, success, who answered, the last
    error and a strip of the last seconds (█ all answered, ▄ some failed, ▁ all failed).
    `compact`: one line per VIP, no header and no notes (an 80x24 terminal)."""
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                  header_style=f"bold {palette.muted}", show_header=not compact)
    clients = sorted(view.clients.values(), key=lambda c: c.target)
    table.add_column("Clients", no_wrap=True, min_width=max(len(c.vip) for c in clients))
    table.add_column("req/s", no_wrap=True, justify="right", min_width=5)
    table.add_column("ok", no_wrap=True, justify="right", min_width=4)
    table.add_column("by", no_wrap=True, min_width=max(
        [2, *(len(c.last_served_by) for c in clients)]))
    table.add_column(f"last {CLIENT_STRIP} s", no_wrap=True, overflow="crop", ratio=1)
    notes: list[Text] = []
    for client in clients:
        sent, ok = client.window(now, 10.0)
        rate = sent / max(1.0, min(10.0, now - client.first_seen))
        share = f"{100 * ok / sent:.0f}%" if sent else "—"
        healthy = sent > 0 and ok == sent
        strip = Text()
        for good, bad in client.strip(now, CLIENT_STRIP):
            if good + bad == 0:
                strip.append(" ")
            elif bad == 0:
                strip.append("█", style=palette.success)
            elif good == 0:
                strip.append("▁", style=f"bold {palette.error}")
            else:
                strip.append("▄", style=palette.warning)
        by = client.last_served_by
        if compact:
            line = Text.assemble(("clients ", palette.muted),
                                 (f"{client.vip} " if len(clients) > 1 else "", "bold"),
                                 (share, palette.success if healthy else
                                  f"bold {palette.error}"), (" ok  by ", palette.muted),
                                 (by or "—", node_colour(by) if by else palette.muted), "  ",
                                 strip[-8:], no_wrap=True, overflow="ellipsis")
            notes.append(line)
            continue
        table.add_row(Text(client.vip, style="bold"), f"{rate:.0f}",
                      Text(share, style=palette.success if healthy else f"bold {palette.error}"),
                      Text(by or "—", style=node_colour(by) if by else palette.muted), strip)
        if client.outage_since is not None:
            notes.append(Text(f"  {client.vip}: failing for {age(now - client.outage_since)}"
                              f", {client.outage_failed} failed ({client.last_error})",
                              style=f"bold {palette.error}", no_wrap=True,
                              overflow="ellipsis"))
        elif client.last_error and client.last_error_t is not None and \
                now - client.last_error_t < 60:
            notes.append(Text(f"  last error: {client.last_error} "
                              f"{age(now - client.last_error_t)} ago", style=palette.muted,
                              no_wrap=True, overflow="ellipsis"))
    return Group(*notes) if compact else Group(table, *notes)


def render_nodes(view: ClusterView, now: float, palette: Palette,
                 node_colour: NodeColour) -> Table:
    """Per node: reachable or lost, what runs VRRP there (keepalived or the agent, and its
    release, once a source said it), its services, its checks: the causes behind
    priorities.

    Facts from a node that is lost or stale are the last ones it sent, not its health now:
    they are greyed, without ✔, and carry their age."""
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                  header_style=f"bold {palette.muted}")
    rows = []
    versions = any(node.version for node in view.nodes.values())
    for node in view.nodes.values():
        stale = not node.up or not node.health_ok or \
            now - node.last_event > view.config.stale_after
        if node.up and node.health_ok and not stale:
            agent = Text("● up", style=palette.success)
        elif node.up:
            agent = Text("▲ " + (node.health_detail or "silent"), style=palette.warning)
        else:
            agent = Text("✖ " + (node.lost_reason or "lost"), style=f"bold {palette.error}")
        if node.clock_offset is not None:  # measured at attach: timelines depend on it
            skewed = abs(node.clock_offset) > view.config.clock_skew
            agent.append(f" clock{node.clock_offset:+.2f}s",
                         style=f"bold {palette.warning}" if skewed else palette.muted)
        services = Text()
        checks = Text()
        if stale:  # the last facts the node sent: greyed, no ✔, with their age
            agent.append(f" {age(now - node.last_event)}", style=palette.muted)
            for name, up in sorted(node.services.items()):
                services.append(f"{name}{'' if up else ' down'}? ", style=palette.muted)
            for name, ok in sorted(node.tracks.items()):
                checks.append(f"{name}{'' if ok else ' failing'}? ", style=palette.muted)
        for name, up in sorted(node.services.items()) if not stale else ():
            services.append(f"{'✔' if up else '✖'} {name} ",
                            style=palette.success if up else f"bold {palette.error}")
        for name, ok in sorted(node.tracks.items()) if not stale else ():
            checks.append(f"{'✔' if ok else '✖'} {name} ",
                          style=palette.muted if ok else f"bold {palette.warning}")
        services.rstrip()
        checks.rstrip()
        software = Text(node.software or "—", style=palette.muted)
        rows.append((Text(node.name, style=f"bold {node_colour(node.name)}"), agent,
                     *([software] if versions else []),
                     services or Text("—", style=palette.muted),
                     checks or Text("—", style=palette.muted)))
    # Names and the up/lost word never shrink; checks give way first, then services, then
    # the release (a column only once some source said one).
    titles = ("Node", "", *(["Version"] if versions else []), "Services", "Checks")
    widths = [max([len(title), *(row[i].cell_len for row in rows)])
              for i, title in enumerate(titles)]
    table.add_column("Node", no_wrap=True, min_width=widths[0])
    table.add_column("", no_wrap=True, overflow="ellipsis", min_width=min(widths[1], 6),
                     max_width=22)
    if versions:
        table.add_column("Version", no_wrap=True, overflow="ellipsis",
                         min_width=widths[2], max_width=widths[2])
    table.add_column("Services", no_wrap=True, overflow="ellipsis",
                     min_width=min(widths[-2], 14))
    table.add_column("Checks", no_wrap=True, overflow="ellipsis", ratio=1)
    for row in rows:
        table.add_row(*row)
    return table


class TransitionsPanel(Static):
    """The failover stopwatch on top, then state changes, newest first."""

    def refresh_from(self, view: ClusterView, now: float, palette: Palette,
                     node_colour: NodeColour, rows: int = 40) -> None:
        narrow = 0 < self.size.width < 60  # an 80-column terminal: whole seconds, no gaps
        self.update(render_transitions(view, now, palette, node_colour, rows, narrow=narrow),
                    layout=False)


def render_stopwatch(rec: FailoverRecord | None, now: float, palette: Palette,
                     node_colour: NodeColour) -> RenderableType:
    if rec is None:
        return Text("◷ no failover yet", style=palette.muted)
    head = Text.assemble(("◷ ", palette.accent), (f"{rec.instance} ", "bold"),
                         (rec.old_master, f"bold {node_colour(rec.old_master)}"), " → ")
    if rec.new_master:
        head.append(rec.new_master, style=f"bold {node_colour(rec.new_master)}")
    else:
        elapsed = age(now - rec.cause_t) if rec.cause_t is not None else "?"
        head.append(f"electing… {elapsed}", style=f"bold {palette.warning}")
    cause = Text.assemble(("   cause  ", palette.muted), rec.cause or "?", no_wrap=True,
                          overflow="ellipsis")
    if rec.cause_t is not None:
        cause.append(f"  at {clock(rec.cause_t, ms=True)}", style=palette.muted)
    figures = Text.assemble(
        ("   advert ", palette.muted), (millis(rec.advert_ms), f"bold {palette.accent}"),
        ("   VIP ", palette.muted), (millis(rec.vip_ms), f"bold {palette.accent}"),
        ("   elected ", palette.muted), (millis(rec.elected_ms), palette.foreground))
    if rec.client_outage is None:
        return Group(head, cause, figures)
    clients = Text.assemble(("   clients saw ", palette.muted),
                            (millis(rec.client_outage_ms), f"bold {palette.error}"),
                            (f" of errors ({rec.client_outage[2]} requests failed)",
                             palette.muted), no_wrap=True, overflow="ellipsis")
    return Group(head, cause, figures, clients)


def render_transitions(view: ClusterView, now: float, palette: Palette,
                       node_colour: NodeColour, rows: int = 40, *,
                       narrow: bool = False) -> RenderableType:
    parts: list[RenderableType] = [
        render_stopwatch(view.current_failover(), now, palette, node_colour)]
    done = [f for f in view.failovers if f is not view.current_failover()]
    for rec in list(reversed(done))[:3]:
        parts.append(Text.assemble(
            ("   earlier ", palette.muted), (f"{rec.instance} ", ""),
            (rec.old_master, node_colour(rec.old_master)), "→",
            (rec.new_master, node_colour(rec.new_master)), "  ",
            (f"advert {millis(rec.advert_ms)} · VIP {millis(rec.vip_ms)}", palette.accent),
            (f"  {rec.cause}", palette.muted), overflow="ellipsis", no_wrap=True))
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False, show_header=False)
    # node names never shrink; the reason gives way first
    table.add_column("time", no_wrap=True, style=palette.muted, min_width=8)
    table.add_column("node", no_wrap=True, min_width=max((len(n) for n in view.nodes),
                                                          default=4))
    table.add_column("instance", no_wrap=True)
    table.add_column("change", no_wrap=True)
    table.add_column("reason", ratio=1, no_wrap=True, overflow="ellipsis", style=palette.muted)
    for change in list(reversed(view.transitions))[:rows]:
        table.add_row(clock(change.t, ms=not narrow),
                      Text(change.node, style=node_colour(change.node)), change.instance,
                      Text.assemble((change.old, palette.state(change.old)), " → ",
                                    (change.new, f"bold {palette.state(change.new)}")),
                      change.reason)
    parts.append(Text(""))
    parts.append(table)
    return Group(*parts)
