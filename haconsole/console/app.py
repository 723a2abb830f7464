"""The Textual console: a ClusterView on screen, keys that send Commands to sources.

Why it looks like this:
- The console never touches sockets. Sources publish events into a queue; a timer folds
  the queue into the ClusterView ten times a second and repaints once, so a burst of
  thousands of events costs one frame, and nothing blocks the UI.
- Commands run in workers; each reports done / failed in the log and in a toast.
  A destructive one is confirmed first, and the dialog carries the owning source's
  warning (`sources.base.WarnsBeforeCommands`), which it answers from facts it holds.
- Which source runs a command is learnt from the events: the source that reports a node
  owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Input, Static

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.history_gate import HistoryGate
from haconsole.cluster.view import Changes, ClusterView, CommandIssued
from haconsole.console.actions import (
    ACTIONS,
    BY_ACTION,
    NotPossible,
    Target,
    allowed,
    needs_confirmation,
)
from haconsole.console.format import LogFilter
from haconsole.console.preview import failover_preview
from haconsole.console.screens import ConfirmScreen, HelpScreen
from haconsole.console.themes import (
    DEFAULT_THEME,
    ConsoleTheme,
    Palette,
    load_theme_file,
    load_themes,
    palette_for,
)
from haconsole.console.widgets.banner import AlarmBanner
from haconsole.console.widgets.instances import InstancesTable
from haconsole.console.widgets.keybar import Hint, KeyBar
from haconsole.console.widgets.log import LogPanel
from haconsole.console.widgets.panels import TransitionsPanel, VipPanel
from haconsole.sources.base import WarnsBeforeCommands

if TYPE_CHECKING:
    from haconsole.cluster.commands import Step
    from haconsole.sources.base import Source

#: Sees each batch of events as it is folded (e.g. a recorder's record_many).
Observer = Callable[[list[Any]], None]
#: Started with the view once the sources run; returns something with `async close()`.
Service = Callable[[Callable[[], ClusterView]], Awaitable[Any]]

REFRESH_HZ = 10.0
STOP_TIMEOUT = 3.0
COMMAND_TIMEOUT = 30.0  # a command that hangs is reported as failed, not waited on forever


class FilterInput(Input):
    """The `/` filter box: Esc clears the filter and hides it."""

    BINDINGS = [Binding("escape", "clear_filter", "clear filter", show=False)]

    def action_clear_filter(self) -> None:
        self.value = ""
        app = self.app
        if isinstance(app, HAConsoleApp):
            app.close_filter()


class HAConsoleApp(App[int]):
    """The operations console over a list of sources (see the module docstring)."""

    CSS_PATH = "console.tcss"
    TITLE = "haconsole"
    BINDINGS = [
        *(Binding(a.key, a.action, a.label) for a in ACTIONS),
        Binding("slash", "filter", "filter"),
        Binding("o", "sort", "sort", show=False),
        Binding("O", "sort_reverse", "reverse sort", show=False),
        Binding("w", "wire", "wire"),
        Binding("space", "pause_log", "pause log", show=False),
        Binding("t", "next_theme", "theme"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        sources: Sequence[Source] = (),
        *,
        cluster: str = "cluster",
        kind: str = "",
        theme: str | None = None,
        readonly: bool = False,
        confirm: bool = True,
        steps: Sequence[Step] = (),
        view: ClusterView | None = None,
        clock: Callable[[], float] = time.time,
        themes: dict[str, ConsoleTheme] | None = None,
        refresh_hz: float = REFRESH_HZ,
        observers: Sequence[Observer] = (),
        services: Sequence[Service] = (),
    ) -> None:
        self.console_themes = dict(themes) if themes is not None else load_themes()
        super().__init__()
        self.sources = list(sources)
        # what the entry point adds around the view: observers see every batch folded
        # (a recorder), services run while the console does (a metrics endpoint)
        self.observers = list(observers)
        self.services = list(services)
        self._started_services: list[Any] = []
        self.cluster = cluster
        self.kind = kind
        self.readonly = readonly
        self.confirm = confirm
        self.steps = list(steps)
        self.view = view or ClusterView()
        self.clock = clock
        self.refresh_hz = refresh_hz
        self.toasts: list[tuple[str, str]] = []  # (severity, message), newest last
        self.applied = 0  # events folded so far (benchmarks read it)
        self._queue: list[ev.Event | CommandIssued] = []
        self._gate = HistoryGate(clock())
        self._owners: dict[str, Source] = {}
        self._results: set[tuple[str, str]] = set()
        self._partitioned: set[str] = set()
        self._node_colours: dict[str, int] = {}
        self._last_full = float("-inf")
        # folded but not painted yet: all of a view handed in pre-folded (replay, scenes)
        self._changes = Changes(instances=set(self.view.instances), panels=True)
        self._rewrite_log = False
        self._scenario: asyncio.Task[None] | None = None
        self._stopped = False
        self._widgets_ready = False
        for ct in self.console_themes.values():
            self.register_theme(ct.theme)
        name = theme or DEFAULT_THEME
        if name not in self.available_themes:
            name = next(iter(self.console_themes), "textual-dark")
        self.theme = name
        self.palette = self._palette_for(self.current_theme)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield AlarmBanner(id="banner")
        yield InstancesTable(id="instances")
        with Horizontal(id="middle"):
            yield VipPanel(id="vips")
            yield TransitionsPanel(id="transitions")
        with Vertical(id="logbox"):
            yield FilterInput(placeholder="filter the table and the log: node:nginx1  "
                                          "instance:VI_1  words…",
                              id="filter")
            yield LogPanel(id="log")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        main = self.main  # kept: ticks must not query while screens come and go
        self.table = table = main.query_one(InstancesTable)
        self.banner = main.query_one(AlarmBanner)
        self.vip_panel = main.query_one(VipPanel)
        self.transitions_panel = main.query_one(TransitionsPanel)
        self.log_panel = main.query_one(LogPanel)
        self.filter_box = main.query_one(FilterInput)
        self.topbar = main.query_one("#topbar", Static)
        self.keybar = main.query_one(KeyBar)
        table.border_title = "Instances"
        table.node_colour = self.node_colour
        self.vip_panel.border_title = "VIPs & nodes"
        self.transitions_panel.border_title = "Failovers & transitions"
        self.log_panel.border_title = "Log"
        self._widgets_ready = True
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        table.focus()
        self.set_interval(1.0 / self.refresh_hz, self.tick)
        self.call_after_refresh(self.tick)
        if self.sources:
            self.run_worker(self._start_sources(), group="sources", exit_on_error=False)

    def on_resize(self) -> None:
        """Repaint in full at the next tick: columns and panels adapt to the new size."""
        self._last_full = float("-inf")
        self.call_after_refresh(self.tick)

    @property
    def main(self) -> Screen[Any]:
        """The main screen (queries must not land on a modal screen shown above it)."""
        return self.screen_stack[0]

    # ------------------------------------------------------------------ sources
    def _publisher(self, source: Source) -> Callable[[ev.Event], None]:
        def publish(event: ev.Event) -> None:
            self._owners[event.node] = source
            if isinstance(event, ev.CommandResult):
                self._results.add((event.node, event.command))
            self._queue.append(event)

        return publish

    async def _start_sources(self) -> None:
        for source in self.sources:
            try:
                await source.start(self._publisher(source))
            except Exception as err:  # a source failing must not kill the UI
                self._toast("error", f"{source.name}: cannot start: {err}")
        if self.steps:
            from haconsole.cluster.commands import play

            self._scenario = asyncio.create_task(play(self.run_scripted, self.steps))
        for service in self.services:
            try:
                self._started_services.append(await service(lambda: self.view))
            except Exception as err:  # a port in use must not kill the UI
                self._toast("error", f"cannot start: {err}")

    async def stop_sources(self) -> None:
        """Stop the scenario and every source (each bounded in time)."""
        if self._stopped:
            return
        self._stopped = True
        if self._scenario is not None:
            self._scenario.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._scenario
        for source in self.sources:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.stop(), STOP_TIMEOUT)
        for running in self._started_services:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running.close(), STOP_TIMEOUT)

    def owner(self, node: str) -> Source | None:
        source = self._owners.get(node)
        if source is None and len(self.sources) == 1:
            return self.sources[0]
        return source

    # ------------------------------------------------------------------ the batch
    def tick(self) -> None:
        """Fold the queued events, then repaint what changed (at most once per tick)."""
        if not self._widgets_ready:
            return
        items, self._queue = self._queue, []
        now = self.clock()
        if items or self._gate.holding:  # nodes' pasts are folded in time order
            items = self._gate.feed(items, now)  # type: ignore[assignment]
        if items:
            self._changes.update(self.view.apply_all(items, on_error=self._fold_error))
            self.applied += len(items)
            for observe in self.observers:
                observe(items)
        full = abs(now - self._last_full) >= 1.0
        if not items and not full and not self._rewrite_log:
            return
        if full:
            self._last_full = now
        self.render_view(now, full=full)

    def render_view(self, now: float, *, full: bool) -> None:
        """Repaint: changed rows always; panels when the state moved or once a second
        (ages); the log when it has new lines. Adverts alone only move the rate columns."""
        view, palette = self.view, self.palette
        changes, self._changes = self._changes, Changes()
        self.table.refresh_from(view, changes.instances, now, palette, full=full)
        if full or changes.panels:
            self.banner.refresh_from(view, now, palette)
            self.vip_panel.refresh_from(view, now, palette, self.node_colour)
            self.transitions_panel.refresh_from(view, now, palette, self.node_colour)
            self._update_topbar(now)
            self.keybar.show_hints(self.key_hints(), f"bold {palette.accent}")
        self.log_panel.refresh_from(view, palette, self.node_colour,
                                    rewrite=self._rewrite_log)
        self._rewrite_log = False

    def _update_topbar(self, now: float) -> None:
        view, palette = self.view, self.palette
        groups = len(view.groups())
        sep = ("  │  ", palette.muted)
        text = Text.assemble(
            (" haconsole ", f"bold {palette.accent}"), sep, (self.cluster, "bold"),
            (f" ({self.kind})" if self.kind else "", palette.muted), sep,
            f"{len(view.nodes)} node{'s' * (len(view.nodes) != 1)} · "
            f"{groups} instance{'s' * (groups != 1)} · {len(view.vips)} VIP"
            f"{'s' * (len(view.vips) != 1)}", sep, ("theme ", palette.muted), self.theme,
        )
        text.append_text(Text.assemble(sep, self.topbar_mode(now)))
        self.topbar.update(text, layout=False)

    def topbar_mode(self, now: float) -> Text:
        """The top bar's last field: READ-ONLY, and live or idle (a replay says REPLAY)."""
        palette = self.palette
        idle = not self.view.last_t or now - self.view.last_t > 5
        text = Text.assemble(("READ-ONLY", f"bold {palette.warning}"),
                             ("  │  ", palette.muted)) if self.readonly else Text()
        text.append_text(Text.assemble(("○ idle", palette.muted) if idle
                                       else ("● live", palette.success)))
        return text

    def node_colour(self, node: str) -> str:
        index = self._node_colours.setdefault(node, len(self._node_colours))
        return self.palette.node(index)

    # ------------------------------------------------------------------ themes
    def _palette_for(self, theme: Theme) -> Palette:
        own = self.console_themes.get(theme.name)
        return own.palette if own is not None else palette_for(theme)

    def _on_theme_changed(self, theme: Theme) -> None:
        self.palette = self._palette_for(theme)
        if not self._widgets_ready:
            return
        self._changes.instances.update(self.view.instances)
        self._changes.panels = True
        self._rewrite_log = True
        self.render_view(self.clock(), full=True)

    def action_next_theme(self) -> None:
        names = list(self.console_themes) or list(self.available_themes)
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self._toast("information", f"theme: {self.theme}")

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide what this console may not do: every action key when read-only
        (watch-only), lab keys when no source can run them."""
        spec = BY_ACTION.get(action)
        if spec is None:
            return True
        if self.readonly:
            return False
        return not self.sources or any(s.supports(k) for s in self.sources for k in spec.kinds)

    def key_hints(self) -> list[Hint]:
        """The key bar's hints: every action this console may do, then the general keys;
        `? help` and `q quit` always fit."""
        hidden = self.hidden_actions()
        hints = [Hint(a.key, a.label, a.rank) for a in ACTIONS if a.action not in hidden]
        hints += [Hint("/", "filter", 9), Hint("o", "sort", 11), Hint("t", "theme", 12),
                  Hint("^p", "palette", 6),
                  Hint("?", "help", 0), Hint("q", "quit", 0)]
        if self.view.wire.present:
            hints.append(Hint("w", "wire", 5))
        return hints

    def hidden_actions(self) -> set[str]:
        return {a.action for a in ACTIONS if not self.check_action(a.action, ())}

    def selected(self) -> Target | None:
        key = self.table.selected
        return Target(*key) if key else None

    def _node_action(self, name: str) -> None:
        target = self.selected()
        if target is None:
            self._toast("warning", "no instance selected yet")
            return
        try:
            command = BY_ACTION[name].build(self.view, target, self._partitioned)
        except NotPossible as err:
            self._toast("error", str(err))
            return
        self.request(command)

    def action_stop_service(self) -> None:
        self._node_action("stop_service")

    def action_start_service(self) -> None:
        self._node_action("start_service")

    def action_restart_agent(self) -> None:
        self._node_action("restart_agent")

    def action_failover(self) -> None:
        self._node_action("failover")

    def action_cancel_hold(self) -> None:
        self._node_action("cancel_hold")

    def action_kill(self) -> None:
        self._node_action("kill")

    def action_partition(self) -> None:
        self._node_action("partition")

    def action_link(self) -> None:
        self._node_action("link")

    def request(self, command: cmd.Command) -> None:
        """Check, confirm if needed, then run a command in a worker."""
        if not allowed(command, readonly=self.readonly):
            self._toast("warning", f"read-only console: cannot {command.describe()}")
            return
        source = self.owner(command.node)
        if source is None:
            self._toast("error", f"{command.describe()}: no source reports {command.node}")
            return
        if not source.supports(type(command)):
            self._toast("error", f"{command.describe()}: {source.name} cannot do that")
            return
        detail = f"{source.name} will run it on {command.node}."
        warnings = [self._warning(source, command)]
        if isinstance(command, cmd.Failover):
            preview = failover_preview(self.view, command, self.clock())
            detail = "\n".join((*preview.lines, detail))
            warnings.insert(0, preview.warning)
        warning = "\n".join(w for w in warnings if w)
        # a warned failover is confirmed even in the lab: the VIP may land on a dead service
        if needs_confirmation(command, confirm=self.confirm) or (
                warning and isinstance(command, cmd.Failover)):
            question = f"{command.describe()[:1].upper()}{command.describe()[1:]}?"
            self.push_screen(ConfirmScreen(question, detail, warning=warning),
                             partial(self._confirmed, source, command))
            return
        self._launch(source, command)

    @staticmethod
    def _warning(source: Source, command: cmd.Command) -> str:
        """The source's own warning for the dialog, from what it already knows (no I/O:
        `WarnsBeforeCommands`); a source that fails to say is reported, not fatal."""
        if not isinstance(source, WarnsBeforeCommands):
            return ""
        try:
            return source.warning(command)
        except Exception as err:  # the dialog must still open
            return f"{source.name} could not say what this will cause: {err}"

    def _confirmed(self, source: Source, command: cmd.Command, yes: bool | None) -> None:
        if yes:
            self._launch(source, command)
        else:
            self._toast("information", f"cancelled: {command.describe()}")

    def _launch(self, source: Source, command: cmd.Command) -> None:
        self._queue.append(CommandIssued(self.clock(), command.node, command.describe()))
        self.run_worker(self._execute(source, command), group="commands", exit_on_error=False)

    async def run_scripted(self, command: cmd.Command) -> tuple[bool, str]:
        """A scenario step: no confirmation (the operator wrote the script)."""
        source = self.owner(command.node)
        if source is None:
            return False, f"no source reports {command.node}"
        self._queue.append(CommandIssued(self.clock(), command.node, command.describe()))
        return await self._execute(source, command)

    async def _execute(self, source: Source, command: cmd.Command) -> tuple[bool, str]:
        what = command.describe()
        try:
            ok, detail = await asyncio.wait_for(source.execute(command), COMMAND_TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError):
            ok, detail = False, f"no answer from {source.name} after {COMMAND_TIMEOUT:g} s"
        except Exception as err:  # report, never crash the console
            ok, detail = False, f"{type(err).__name__}: {err}"
        key = (command.node, what)
        if key in self._results:
            self._results.discard(key)
        else:  # the source did not report it as an event: log it ourselves
            self._queue.append(ev.CommandResult(self.clock(), command.node, command=what,
                                                ok=ok, detail=detail))
        if ok and isinstance(command, cmd.PartitionNode):
            if command.partitioned:
                self._partitioned.add(command.node)
            else:
                self._partitioned.discard(command.node)
        self._toast("information" if ok else "error", cmd.outcome(what, ok, detail))
        return ok, detail

    def _fold_error(self, item: object, err: Exception) -> None:
        """An event the view could not fold: skipped, said once (a bug, not the operator's)."""
        if not self._fold_errors:
            self._toast("error", f"internal error, an event was skipped: "
                                 f"{type(err).__name__}: {err} (on {type(item).__name__})")
        self._fold_errors += 1

    _fold_errors = 0

    def save_svg(self, directory: str | None = None) -> str | None:
        """Save an SVG of the screen in `directory` (default: `screenshot_dir()`) and say
        where; a failure is said too, with the reason."""
        target = directory or screenshot_dir()
        try:
            path = self.save_screenshot(path=target)
        except OSError as err:
            self._toast("error", f"screenshot not saved in {target}: {err.strerror or err}")
            return None
        self._toast("information", f"screenshot saved: {path}")
        return path

    def _toast(self, severity: str, message: str) -> None:
        self.toasts.append((severity, message))
        self.notify(message, severity=severity, timeout=4)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ log filter
    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.set_filter(event.value)
            if not event.value.strip():
                self.close_filter()
            else:
                self.table.focus()

    def set_filter(self, text: str) -> None:
        """Rewrite the log with the new filter at the next tick (keystrokes coalesce);
        the instances table keeps only the rows it matches."""
        self.log_panel.log_filter = LogFilter.parse(text)
        self.table.set_filter(self.log_panel.log_filter, self.view)
        self._changes.instances.update(self.view.instances)  # matching rows come back
        self._update_log_title()
        self._rewrite_log = True

    def action_sort(self) -> None:
        """`o`: order the instances by cluster, state, priority or node (in turn)."""
        self.table.cycle_sort(self.view)

    def action_sort_reverse(self) -> None:
        """`O`: reverse the order."""
        self.table.cycle_sort(self.view, reverse=True)

    def close_filter(self) -> None:
        self.set_filter("")
        box = self.filter_box
        box.display = False
        self.table.focus()

    def action_pause_log(self) -> None:
        log = self.log_panel
        log.set_paused(not log.paused)
        self._update_log_title()

    def _update_log_title(self) -> None:
        log = self.log_panel
        text = self.filter_box.value.strip()
        title = "Log"
        if text:
            title += f" · filter: {text}"
        log.border_title = title
        log.border_subtitle = "‖ paused (space resumes)" if log.paused else ""

    # ------------------------------------------------------------------ help, palette, quit
    def action_wire(self) -> None:
        """`w`: the Wire screen (console/wire_screen.py): speakers, ARP owners, alarms."""
        from haconsole.console.wire_screen import WireScreen

        if not isinstance(self.screen, WireScreen):
            self.push_screen(WireScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(readonly=self.readonly, confirm=self.confirm,
                                        hidden=self.hidden_actions()))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's saves where it may not exist
                command = SystemCommand("Screenshot", "save an SVG of the screen here "
                                        f"({screenshot_dir()}) and say where",
                                        lambda: self.set_timer(0.1, self.save_svg))
            yield command
        yield SystemCommand("Next theme", "cycle the console's colour themes",
                            self.action_next_theme)
        yield SystemCommand("Filter the log", "node:NAME instance:NAME and words",
                            self.action_filter)
        yield SystemCommand("Help", "keys, states and alarms", self.action_help)
        yield from self._command_entries()

    def _command_entries(self) -> Iterable[SystemCommand]:
        hidden = self.hidden_actions()
        seen: set[str] = set()
        for (node, instance) in list(self.view.instances):
            for spec in ACTIONS:
                if spec.action in hidden:
                    continue
                try:
                    command = spec.build(self.view, Target(node, instance), self._partitioned)
                except NotPossible:
                    continue
                what = command.describe()
                if what in seen:
                    continue
                seen.add(what)
                yield SystemCommand(what[:1].upper() + what[1:], spec.help,
                                    partial(self.request, command))

    async def action_quit(self) -> None:
        await self.stop_sources()
        self.exit(0)

    async def on_unmount(self) -> None:
        """However the app ends (q, ctrl+c, a test leaving run_test), stop the sources."""
        await self.stop_sources()


def screenshot_dir() -> str:
    """Where the palette's Screenshot goes: $HACONSOLE_SCREENSHOTS, else the working
    directory when writable (a jump host's home often is), else the temp directory."""
    import os
    import tempfile

    chosen = os.environ.get("HACONSOLE_SCREENSHOTS")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    cwd = os.getcwd()
    return cwd if os.access(cwd, os.W_OK) else tempfile.gettempdir()


def console_themes(theme: str | None) -> tuple[dict[str, ConsoleTheme], str | None]:
    """The console's themes and the name of `theme` (a name, or a .toml file it adds);
    ValueError, with one line to print, when it cannot be used."""
    themes = load_themes()
    if theme and theme.endswith(".toml"):
        extra = load_theme_file(theme)
        themes[extra.theme.name] = extra
        theme = extra.theme.name
    if theme and theme not in themes:
        from textual.theme import BUILTIN_THEMES

        if theme not in BUILTIN_THEMES:
            raise ValueError(f"unknown theme {theme!r} (themes: {', '.join(themes)}; "
                             "or a path to a .toml file)")
    return themes, theme

