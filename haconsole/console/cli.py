"""Entry points that start the console on a source: they wire layers together (the app
itself sees only `sources.base.Source`), so they may import the lab, sources and exports."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from haconsole.lab.scenario import Step
from haconsole.console.app import HAConsoleApp
from haconsole.console.themes import ThemeError, load_theme_file, load_themes
from haconsole.lab.definition import LabDefinition


def run_console(definition: LabDefinition, steps: Sequence[Step], *, theme: str | None = None,
                readonly: bool = False) -> int:
    """`haconsole` / `haconsole lab`: the console on the in-process lab (no confirmation:
    it is a lab). Returns the process exit status."""
    from haconsole.lab.lab import Lab

    try:
        themes = load_themes()
        if theme and theme.endswith(".toml"):
            extra = load_theme_file(theme)
            themes[extra.theme.name] = extra
            theme = extra.theme.name
    except ThemeError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    if theme and theme not in themes:
        from textual.theme import BUILTIN_THEMES

        if theme not in BUILTIN_THEMES:
            print(f"haconsole: unknown theme {theme!r} (themes: {', '.join(themes)}; "
                  "or a path to a .toml file)", file=sys.stderr)
            return 2
    app = HAConsoleApp([Lab(definition)], cluster=definition.name, kind="lab", theme=theme,
                       readonly=readonly, confirm=False, steps=steps, themes=themes)
    result = app.run()
    return result or 0
