"""Colour themes as TOML files, turned into Textual themes plus the console's own palette.

Why TOML and not Python: operators restyle a console without touching code, and a bad
file must fail with its name and the key at fault (`ThemeError`), never a traceback.

A theme file holds Textual's theme keys (`primary`, `background`, ...), a `[states]`
table (colour per VRRP state) and a `[nodes]` table (`colors`: one per node, cycled).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

THEMES_DIR = Path(__file__).resolve().parent.parent / "data" / "themes"
DEFAULT_THEME = "dark"
ORDER = ("dark", "light", "high-contrast")
STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "INIT", "LOST")
_THEME_KEYS = ("primary", "secondary", "warning", "error", "success", "accent",
               "foreground", "background", "surface", "panel", "boost")


class ThemeError(ValueError):
    """A theme file that cannot be used; the message starts with the file name."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)


@dataclass(frozen=True)
class Palette:
    """Colours the widgets paint with (Rich styles are built from these strings)."""

    states: dict[str, str]
    nodes: tuple[str, ...]
    muted: str
    accent: str
    warning: str
    error: str
    success: str
    foreground: str

    def state(self, state: str) -> str:
        return self.states.get(state, self.foreground)

    def node(self, index: int) -> str:
        return self.nodes[index % len(self.nodes)]


@dataclass
class ConsoleTheme:
    theme: Theme
    palette: Palette
    source: str = "<builtin>"
    extra: dict[str, Any] = field(default_factory=dict)


def _colour(path: str | Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeError(path, f"{key}: expected a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(path, f"{key}: not a colour: {value!r}") from None
    return value


def parse_theme(data: dict[str, Any], path: str | Path) -> ConsoleTheme:
    """Validate one parsed theme document."""
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeError(path, "name: a non-empty string is required")
    if "primary" not in data:
        raise ThemeError(path, "primary: required")
    colours = {k: _colour(path, k, data[k]) for k in _THEME_KEYS if k in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(path, f"dark: expected true or false, got {dark!r}")
    states_raw = data.get("states", {})
    if not isinstance(states_raw, dict):
        raise ThemeError(path, "states: expected a table")
    unknown = set(states_raw) - set(STATES)
    if unknown:
        raise ThemeError(path, f"states: unknown state(s) {sorted(unknown)} "
                               f"(known: {', '.join(STATES)})")
    states = {k: _colour(path, f"states.{k}", v) for k, v in states_raw.items()}
    missing = [s for s in STATES if s not in states]
    if missing:
        raise ThemeError(path, f"states: missing {', '.join(missing)}")
    node_colours = data.get("nodes", {}).get("colors", [])
    if not isinstance(node_colours, list) or not node_colours:
        raise ThemeError(path, "nodes.colors: a non-empty list of colours is required")
    nodes = tuple(_colour(path, f"nodes.colors[{i}]", c) for i, c in enumerate(node_colours))
    muted = _colour(path, "muted", data.get("muted", "#808080"))
    theme = Theme(name=name, primary=colours["primary"], dark=dark)
    for key, value in colours.items():
        setattr(theme, key, value)
    foreground = colours.get("foreground", "#e0e0e0" if dark else "#202020")
    palette = Palette(
        states=states, nodes=nodes, muted=muted,
        accent=colours.get("accent", colours["primary"]),
        warning=colours.get("warning", "#ffa62b"), error=colours.get("error", "#ba3c5b"),
        success=colours.get("success", "#4ebf71"), foreground=foreground,
    )
    return ConsoleTheme(theme, palette, str(path))


def load_theme_file(path: str | Path) -> ConsoleTheme:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ThemeError(path, f"cannot read theme: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ThemeError(path, f"TOML syntax error: {err}") from None
    return parse_theme(data, path)


def load_themes(directory: str | Path = THEMES_DIR) -> dict[str, ConsoleTheme]:
    """Every `*.toml` theme in a directory, in cycling order (the known ones first)."""
    found = {t.theme.name: t for t in map(load_theme_file, sorted(Path(directory).glob("*.toml")))}
    ordered = {n: found[n] for n in ORDER if n in found}
    ordered.update({n: t for n, t in found.items() if n not in ordered})
    return ordered


def palette_for(theme: Theme) -> Palette:
    """A palette for a theme that has none of its own (Textual's built-in themes)."""
    fg = theme.foreground or ("#e0e0e0" if theme.dark else "#202020")
    success = theme.success or "#4ebf71"
    primary = theme.primary
    return Palette(
        states={"MASTER": success, "BACKUP": primary, "FAULT": theme.error or "#ba3c5b",
                "STOP": "#808080", "INIT": theme.warning or "#ffa62b",
                "LOST": theme.error or "#ba3c5b"},
        nodes=(theme.accent or primary, theme.secondary or primary, success,
               theme.warning or "#ffa62b"),
        muted="#808080", accent=theme.accent or primary, warning=theme.warning or "#ffa62b",
        error=theme.error or "#ba3c5b", success=success, foreground=fg,
    )
