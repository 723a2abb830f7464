"""Snapshot tests of the main screens on the deterministic lab: a layout regression fails.

The scenes are the README's (`console.screenshots`): the real VRRP core on a virtual clock,
a fixed wall clock, UTC. Update after an intended change with
`pytest tests/test_console_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from haconsole.console.screenshots import SHOTS, SIZE, scene_app, shot_app
from haconsole.lab.scripted import SCENES


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("shot", SHOTS, ids=[s.file.removesuffix(".svg") for s in SHOTS])
def test_screen(snap_compare: Any, shot: Any) -> None:
    app = shot_app(shot)
    assert snap_compare(app, press=shot.keys, terminal_size=SIZE)


def test_narrow_terminal(snap_compare: Any) -> None:
    """80x24, the smallest terminal the console must stay usable in."""
    assert snap_compare(scene_app(SCENES["failover"]), terminal_size=(80, 24))


def _three_node_app() -> Any:
    """The failover scene on a three-node lab: the third node must not be cut off."""
    from haconsole.console.app import HAConsoleApp
    from haconsole.lab.definition import load_lab, resize

    scene = SCENES["failover"]
    return HAConsoleApp([], cluster="nginx trio", kind="lab", theme="dark", confirm=False,
                        view=scene.view(resize(load_lab(), 3)), clock=lambda: scene.now)


def test_narrow_terminal_three_nodes(snap_compare: Any) -> None:
    """80x24 with three nodes: full node names, every node listed, a clean key bar."""
    assert snap_compare(_three_node_app(), terminal_size=(80, 24))


def test_wide_terminal(snap_compare: Any) -> None:
    """220x60: the room goes to the log and the reasons, nothing stretches oddly."""
    assert snap_compare(_three_node_app(), terminal_size=(220, 60))
