"""The instances table: one row per (node, instance), updated in place.

Why in place: rebuilding a DataTable loses the cursor the operator's keys act on, and
costs far more than touching the few cells that changed. State-like columns change only
for rows the view marked dirty; rate and age columns refresh once a second.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from haconsole.cluster.view import ClusterView, InstanceKey, InstanceView
from haconsole.console.format import (
    STATE_GLYPHS,
    LogFilter,
    age,
    priority_text,
    rate,
    signed,
    sparkline,
)
from haconsole.console.themes import Palette
from haconsole.console.wire_screen import crosscheck_cell

COLUMNS = (("node", "Node"), ("instance", "Instance"), ("state", "State"),
           ("priority", "Priority"), ("adverts", "Adverts/s"), ("activity", "Activity"),
           ("vips", "VIPs held"), ("wire", "Wire"), ("last", "Last change · why"))
SPARK_WIDTH = 12
NARROW = 110  # below this many columns the Activity sparkline gives its room to the rest


#: `o` cycles these orders, `O` reverses; "cluster" keeps each router's rows together
#: (instance name, VRID, VIPs), whatever the fleet's size.
SORTS = ("cluster", "state", "priority", "node")
_STATE_ORDER = {"MASTER": 0, "BACKUP": 1, "FAULT": 2, "INIT": 3, "STOP": 4, "LOST": 5}


def row_key(key: InstanceKey) -> str:
    return f"{key[0]}/{key[1]}"


class InstancesTable(DataTable[Text]):
    """Rows keyed `node/instance`; `selected` is what the action keys act on."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True,
                         cursor_foreground_priority="renderable", id=id)
        self.node_colour: Callable[[str], str] = lambda node: ""
        self._live_window: tuple[str, ...] = ()
        self._columns: tuple[tuple[str, str], ...] = ()
        self.sort_by = SORTS[0]
        self.sort_reverse = False
        self.row_filter = LogFilter()  # `/` filters the rows too
        self._order_stale = False  # rows changed since the last sort by state/priority
        self._summary = ""

    def _layout(self, wire: bool = False) -> bool:
        """(Re)build the columns for the width; True when they changed (rows are gone).
        The Wire cross-check column is there only when a wire source reports."""
        wanted = COLUMNS if self.size.width >= NARROW or not self.size.width else \
            tuple(c for c in COLUMNS if c[0] != "activity")
        wanted = tuple(c for c in wanted if c[0] != "wire" or wire)
        if wanted == self._columns:
            return False
        selected = self.selected
        self.clear(columns=True)
        for key, label in wanted:
            self.add_column(label, key=key)
        self._columns = wanted
        self._live_window = ()
        self._reselect = selected
        return True

    _reselect: InstanceKey | None = None

    @property
    def selected(self) -> InstanceKey | None:
        if self.row_count == 0:
            return None
        try:
            cell = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # no valid cursor yet
            return None
        value = cell.row_key.value or ""
        node, _, instance = value.partition("/")
        return (node, instance)

    def select(self, key: InstanceKey) -> bool:
        """Move the cursor to a row; False when there is no such row."""
        try:
            index = self.get_row_index(row_key(key))
        except Exception:  # RowDoesNotExist
            return False
        self.move_cursor(row=index)
        return True

    def refresh_from(self, view: ClusterView, changed: set[InstanceKey], now: float,
                     palette: Palette, *, full: bool) -> None:
        """Apply the view: `changed` rows in full, and the visible rows' live columns when
        `full` (once a second) or when the visible window moved."""
        added = False
        if self._layout(view.wire.present):
            changed = set(view.instances)
        shown = {key for key, _ in self._columns}
        for key in sorted(changed):
            inst = view.instances.get(key)
            if inst is None:
                continue
            if not self.shows(inst):
                if row_key(key) in self.rows:
                    self.remove_row(row_key(key))
                continue
            self._order_stale = True
            cells = [*self._state_cells(view, inst, now, palette),
                     *self._live_cells(view, inst, now, palette),
                     self._vips_cell(view, inst, palette),
                     crosscheck_cell(view, inst, now, palette) if "wire" in shown else Text(),
                     self._last_cell(view, inst, now, palette)]
            cells = [cell for (col, _), cell in zip(COLUMNS, cells, strict=True)
                     if col in shown]
            rk = row_key(key)
            if rk in self.rows:
                for (col, _), cell in zip(self._columns, cells, strict=True):
                    self._set(rk, col, cell)
            else:
                self.add_row(*cells, key=rk)
                added = True
        window = self._visible_rows()
        if full or window != self._live_window:
            self._live_window = window
            for rk in window:
                node, _, instance = rk.partition("/")
                inst = view.instances.get((node, instance))
                if inst is None:
                    continue
                adverts, activity = self._live_cells(view, inst, now, palette)
                if inst.hold_until is not None:  # the hold's countdown
                    self._set(rk, "state", self._state_cell(inst, now, palette))
                self._set(rk, "adverts", adverts)
                if "activity" in shown:
                    self._set(rk, "activity", activity)
                self._set(rk, "last", self._last_cell(view, inst, now, palette))
                if "wire" in shown:
                    self._set(rk, "wire", crosscheck_cell(view, inst, now, palette))
        if added or (full and self._order_stale and self.sort_by != "cluster"):
            selected = self._reselect or self.selected
            self._reselect = None
            self.resort(view, selected)
        if full or changed:
            self._update_summary(view)

    # ---------------------------------------------------------------- order, filter
    def shows(self, inst: InstanceView) -> bool:
        """Whether the `/` filter keeps this row (node:, instance:, words in its text)."""
        f = self.row_filter
        return not f.active or f.matches(inst.node, inst.name, " ".join(
            (inst.node, inst.name, "LOST" if inst.lost else str(inst.state), *inst.vips)))

    def set_filter(self, row_filter: LogFilter, view: ClusterView) -> None:
        """Drop the rows the filter hides now; the app re-sends every instance so the
        ones it shows again come back at the next refresh."""
        self.row_filter = row_filter
        for key, inst in view.instances.items():
            if not self.shows(inst) and row_key(key) in self.rows:
                self.remove_row(row_key(key))
        self._update_summary(view)

    def cycle_sort(self, view: ClusterView, *, reverse: bool = False) -> None:
        """`o`: the next order; `O`: the same order reversed."""
        if reverse:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.resort(view, self.selected)
        self._update_summary(view)

    def resort(self, view: ClusterView, selected: InstanceKey | None = None) -> None:
        by = self.sort_by

        def key(cells: list[Text]) -> tuple[object, ...]:
            inst = view.instances.get((cells[0].plain, cells[1].plain))
            if inst is None:
                return ((cells[1].plain, 0, ()), cells[0].plain)
            cluster = (inst.name, inst.vrid, inst.vips)
            state = _STATE_ORDER.get("LOST" if inst.lost else str(inst.state), 9)
            if by == "state":
                return (state, cluster, inst.node)
            if by == "priority":
                return (-inst.effective_priority, cluster, inst.node)
            if by == "node":
                return (inst.node, cluster)
            return (cluster, state, inst.node)

        self.sort("node", "instance", key=key, reverse=self.sort_reverse)
        self._order_stale = False
        if selected is not None:
            self.select(selected)

    def _update_summary(self, view: ClusterView) -> None:
        """The subtitle: instances by state, the order, and how many rows the filter
        shows."""
        counts: dict[str, int] = {}
        for inst in view.instances.values():
            state = "LOST" if inst.lost else str(inst.state)
            counts[state] = counts.get(state, 0) + 1
        total = len(view.instances)
        parts = [f"{total} instance{'s' * (total != 1)}"]
        parts += [f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: (
            _STATE_ORDER.get(s, 9), s))]
        text = " · ".join(parts) + f"  │  sort: {self.sort_by}" + \
            (" ↓" if self.sort_reverse else "") + " (o/O)"
        if self.row_filter.active:
            text += f"  │  filter shows {self.row_count}"
        if text != self._summary:
            self._summary = text
            self.border_subtitle = text

    def _visible_rows(self) -> tuple[str, ...]:
        """Keys of the rows on screen (plus a margin): only they need live columns.

        Rows scrolled into view get theirs at the next tick (the window moved).
        """
        first = max(0, int(self.scroll_y) - 5)
        last = int(self.scroll_y) + self.scrollable_content_region.height + 5
        return tuple(str(row.key.value) for row in self.ordered_rows[first:last])

    def _set(self, row: str, column: str, cell: Text) -> None:
        """Update a cell; widen its column only when the text no longer fits.

        (DataTable re-measures a whole column whenever a cell may have shrunk: with
        hundreds of rows refreshed every tick that is quadratic, so columns only grow.)
        """
        if self.get_cell(row, column) == cell:
            return  # unchanged: no repaint
        width = self.columns[ColumnKey(column)].content_width
        self.update_cell(row, column, cell, update_width=cell.cell_len > width)

    @staticmethod
    def _state_cell(inst: InstanceView, now: float, palette: Palette) -> Text:
        """The state with its glyph; a running operator hold shows its countdown."""
        state = "LOST" if inst.lost else inst.state
        style = palette.state(state)
        cell = Text(f"{STATE_GLYPHS.get(state, '?')} {state}",
                    style=f"bold {style}" if state == "MASTER" else style)
        left = inst.hold_left(now)
        if left is not None:
            cell.append(f" hold {age(left)}", style=f"bold {palette.warning}")
        return cell

    def _state_cells(self, view: ClusterView, inst: InstanceView, now: float,
                     palette: Palette) -> list[Text]:
        colour = self.node_colour(inst.node)
        state_cell = self._state_cell(inst, now, palette)
        prio = Text(priority_text(inst.base_priority, inst.effective_priority))
        if inst.lost:  # the last priority it reported: not a current fact
            prio.stylize(palette.muted)
            return [Text(inst.node, style=f"bold {colour}"), Text(inst.name), state_cell, prio]
        if inst.weight:
            prio = Text.assemble(str(inst.base_priority), " ",
                                 (signed(inst.weight), palette.warning if inst.weight < 0
                                  else palette.success),
                                 " = ", (str(inst.effective_priority), "bold"))
        return [Text(inst.node, style=f"bold {colour}"), Text(inst.name), state_cell, prio]

    @staticmethod
    def _vips_cell(view: ClusterView, inst: InstanceView, palette: Palette) -> Text:
        held = sorted(v.vip for v in view.vips.values()
                      if inst.node in v.holders and v.instance == inst.name)
        if not held:
            return Text("—", style=palette.muted)
        return Text(", ".join(held), style=palette.state("MASTER"))

    def _live_cells(self, view: ClusterView, inst: InstanceView, now: float,
                    palette: Palette) -> list[Text]:
        sent, recv = view.advert_rates(inst.key, now)
        series = view.advert_series(inst.key, now, SPARK_WIDTH)
        adverts = Text.assemble((f"↑{rate(sent):<4}", palette.foreground if sent else
                                 palette.muted), " ",
                                (f"↓{rate(recv):<4}", palette.foreground if recv else
                                 palette.muted))
        spark = Text(sparkline(series).ljust(SPARK_WIDTH),
                     style=palette.state("MASTER") if inst.live_master else palette.accent)
        return [adverts, spark]

    def _last_cell(self, view: ClusterView, inst: InstanceView, now: float,
                   palette: Palette) -> Text:
        node = view.nodes.get(inst.node)
        if inst.lost and node is not None and node.lost_at:
            return Text.assemble((f"{age(now - node.lost_at):>6} ", palette.muted),
                                 ("LOST", palette.state("LOST")),
                                 (f" · {node.lost_reason or 'gone'}", palette.muted))
        rec = inst.last_transition
        if rec is None and inst.since is not None:  # the node's own word, no transition seen
            return Text.assemble((f"{age(now - inst.since):>6} ", palette.muted),
                                 (str(inst.state), palette.state(inst.state)),
                                 (" · since, as the node reports", palette.muted))
        if rec is None:
            return Text("—", style=palette.muted)
        return Text.assemble((f"{age(now - rec.t):>6} ", palette.muted),
                             (rec.new, palette.state(rec.new)), (f" · {rec.reason}", palette.muted))
