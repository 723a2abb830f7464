"""Modal screens: the `?` help and the confirmation asked before destructive commands.

Why modal: both must be answered or dismissed before anything else happens, and the
main screen stays visible (dimmed) behind them so the operator keeps context.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from haconsole.console.actions import ACTIONS
from haconsole.console.format import STATE_GLYPHS, priority_text

GENERAL_KEYS = (
    ("↑ ↓", "select an instance (the action keys act on the selected row)"),
    ("/", "filter the log: node:NAME instance:NAME and words (Enter keeps, Esc clears)"),
    ("space", "pause / resume following the log"),
    ("t", "next colour theme"),
    ("ctrl+p", "command palette: every action on every node"),
    ("?", "this help"),
    ("q", "quit"),
)
# what the general keys do in a replay (None: nothing, the replay keys use it)
REPLAY_GENERAL_KEYS: dict[str, str | None] = {
    "↑ ↓": "select an instance",
    "space": None,
    "ctrl+p": "command palette: the replay keys, themes, the log filter",
}
ALARMS = (
    ("split brain", "two MASTERs for one VRID, or one VIP on two nodes"),
    ("flapping", "3 or more MASTER transitions of one instance in 60 s"),
    ("no master", "no MASTER for longer than Master_Down_Interval"),
    ("priority inversion", "a BACKUP outranks the MASTER for longer than Master_Down_Interval"),
    ("stale source", "a source reports trouble, or a node sent nothing for 10 s"),
)


class HelpScreen(ModalScreen[None]):
    """Every key, the state glyphs and what each alarm means."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss_help", "close", show=False)]

    def __init__(self, *, readonly: bool, confirm: bool, hidden: set[str],
                 replay_keys: Sequence[tuple[str, str]] = ()) -> None:
        """`replay_keys` (key, what) make it the replay's help: those keys first, and
        space plays instead of pausing the log."""
        super().__init__()
        self.readonly = readonly
        self.confirm = confirm
        self.hidden = hidden
        self.replay_keys = list(replay_keys)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "haconsole replay — keys" if self.replay_keys \
                else "haconsole — keys"
            box.border_subtitle = "esc to close"
            yield Static(self._keys(), id="help-keys")
            yield Static(self._legend(), id="help-legend")

    def _keys(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("key", style="bold", no_wrap=True, width=8)
        table.add_column("what")
        for key, what in self.replay_keys:
            table.add_row(key, what)
        if self.replay_keys:
            table.add_row("", Text("read-only: the screen as it was at the cursor, "
                                   "no action on nodes", style="italic"))
        for action in ACTIONS:
            if action.action in self.hidden:
                if action.needs and not self.readonly and not self.replay_keys:
                    # not silently: what this console cannot do, and where it can be done
                    table.add_row(Text(action.key, style="dim"),
                                  Text(f"{action.help} — not here: needs {action.needs}",
                                       style="dim"))
                continue
            note = ""
            if action.destructive and self.confirm:
                note = "  (asks to confirm)"
            table.add_row(action.key, Text(action.help + note))
        if self.readonly and not self.replay_keys:
            table.add_row("", Text("read-only console: watch only, every action is disabled",
                                   style="italic"))
        for key, what in GENERAL_KEYS:
            shown = REPLAY_GENERAL_KEYS.get(key, what) if self.replay_keys else what
            if shown is not None:
                table.add_row(key, shown)
        return table

    def _legend(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("k", style="bold", no_wrap=True, width=20)
        table.add_column("v")
        states = "  ".join(f"{g} {s}" for s, g in STATE_GLYPHS.items())
        table.add_row("states", states)
        table.add_row("priority", f"base  weights = effective, e.g. {priority_text(100, 80)}")
        table.add_row("stopwatch", "cause → new MASTER's first advert, → VIP present (ms)")
        for name, what in ALARMS:
            table.add_row(name, what)
        return table

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a destructive command; `y` / Enter confirms, `n` / Esc cancels.

    `warning` is what the owning source says the command will cause beyond its name
    (e.g. preemption pulling the VIP straight back): shown above the buttons in the
    theme's warning colour, because the moment to read it is before answering.
    """

    DEFAULT_CSS = """
    ConfirmScreen #confirm-warning {
        color: $warning;
        text-style: bold;
        margin-top: 1;
        padding-left: 1;
        border-left: outer $warning;
    }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, detail: str = "", *, warning: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box") as box:
            box.border_title = "confirm"
            yield Static(Text(self.question, style="bold"), id="confirm-question")
            if self.detail:
                yield Static(self.detail, id="confirm-detail")
            if self.warning:
                yield Static(Text(f"\u26a0 {self.warning}"), id="confirm-warning")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
