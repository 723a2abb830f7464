"""The console driven by Pilot on the real in-process lab: every key, as an operator would.

Waits are polls on a condition with a generous bound (never bare sleeps). Most tests use
a fast lab (VRRPv3, 0.2 s adverts, nginx1 configured MASTER) so the whole file runs in
seconds; the `s` test uses the default nginx pair, exactly what `haconsole` opens.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.color import Color
from textual.command import CommandPalette
from textual.widgets import Static

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.app import HAConsoleApp
from haconsole.console.cli import run_console
from haconsole.console.screens import ConfirmScreen, HelpScreen
from haconsole.console.themes import THEMES_DIR, ThemeError, load_theme_file, load_themes
from haconsole.console.widgets.log import LogPanel
from haconsole.lab.definition import LabDefinition, load_lab, parse_lab
from haconsole.lab.lab import InProcessLab
from haconsole.lab.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
BOUND = 15.0  # generous: the default lab elects in ~3.6 s and fails over in < 4 s
SIZE = (120, 36)

FAST_LAB: dict[str, Any] = {
    "name": "fast pair",
    "interface": "eth0",
    "node": [
        {"name": "nginx1", "address": "192.0.2.11", "priority": 100, "state": "MASTER"},
        {"name": "nginx2", "address": "192.0.2.12", "priority": 90},
    ],
    "instance": [{"name": "VI_1", "virtual_router_id": 100, "version": 3, "advert_int": 0.2,
                  "virtual_ipaddress": ["192.0.2.170/24"], "track_script": ["chk_nginx"]}],
    "vrrp_script": {"chk_nginx": {"service": "nginx", "interval": 0.2, "weight": -20}},
}


def fast_lab(*, checks: bool = True) -> LabDefinition:
    """The fast pair; `checks=False` drops chk_nginx for tests that stop or crash a node:
    engine/trackers.py's CheckTracker.stop() can hang on Python 3.11 (a cancel swallowed
    by asyncio.wait_for as the probe completes), which would stall those commands."""
    data = copy.deepcopy(FAST_LAB)
    if not checks:
        data.pop("vrrp_script")
        for spec in data["instance"]:
            spec["track_script"] = []
    return parse_lab(data, "<fast lab>")


def screen_text(app: HAConsoleApp) -> str:
    """What the terminal shows, as plain text."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def log_text(app: HAConsoleApp) -> str:
    return "\n".join(line.text for line in app.query_one(LogPanel).lines)


async def until(pilot: Any, predicate: Callable[[], bool], what: str,
                timeout: float = BOUND) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


def master_row(app: HAConsoleApp, node: str) -> bool:
    return any(line.split()[:1] == [node] and "MASTER" in line.split()[3:5]
               for line in (raw.strip("│ ") for raw in screen_text(app).splitlines()) if line)


def make_app(definition: LabDefinition | None = None, **kwargs: Any) -> HAConsoleApp:
    lab = InProcessLab(definition or fast_lab(), failover_hold=kwargs.pop("failover_hold", 60.0))
    kwargs.setdefault("confirm", False)
    return HAConsoleApp([lab], cluster="test", kind="lab", **kwargs)


async def started(pilot: Any, master: str = "nginx1") -> None:
    app = pilot.app
    await until(pilot, lambda: app.view.master_of("VI_1") == master, f"{master} MASTER")
    await until(pilot, lambda: master_row(app, master), f"{master} MASTER on screen")


# ----------------------------------------------------------------------------- keys


async def test_s_stops_nginx_on_the_selected_master_and_the_pair_fails_over() -> None:
    """The issue's example, on the default lab that `haconsole` opens."""
    app = make_app(load_lab())
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.selected() is not None and app.selected().node == "nginx1"  # type: ignore[union-attr]
        await pilot.press("s")
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "nginx2 MASTER")
        await until(pilot, lambda: master_row(app, "nginx2"), "nginx2 MASTER on screen")
        await until(pilot, lambda: app.view.failovers and app.view.failovers[-1].complete,
                    "the stopwatch")
        # the VIP panel: VIP, owner (nginx2), since, previous owner (nginx1)
        vip_row = r"│ 192\.0\.2\.170 +nginx2 +\d\d:\d\d:\d\d.* nginx1"
        await until(pilot, lambda: re.search(vip_row, screen_text(app)) is not None,
                    "the VIP panel")
        text = screen_text(app)
        assert "cause  stop nginx on nginx1" in text
        assert re.search(r"advert [\d\u2009]+ ms +VIP [\d\u2009]+ ms", text)
        assert "100 \u221220 = 80" in text
        log = log_text(app)
        assert "(VI_1) Entering MASTER STATE" in log
        assert "received lower priority (80) advert" in log
        assert "[haconsole] stop nginx on nginx1: done" in log
        assert app.toasts[-1] == ("information",
                                  "stop nginx on nginx1: done - nginx stopped on nginx1")
        rec = app.view.failovers[-1]
        assert rec.advert_ms is not None and 2000 < rec.advert_ms < BOUND * 1000


async def test_S_starts_nginx_again_and_nginx1_preempts_back() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("s")
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "nginx2 MASTER")
        await pilot.press("S")
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "nginx1 back")
        assert app.view.failovers[-1].cause == "start nginx on nginx1"
        assert "[haconsole] start nginx on nginx1: done" in log_text(app)


async def test_f_fails_over_the_selected_instance_even_from_the_backup_row() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("down")  # select nginx2 (BACKUP): f still targets VI_1's MASTER
        assert app.selected().node == "nginx2"  # type: ignore[union-attr]
        await pilot.press("f")
        await until(pilot, lambda: master_row(app, "nginx2"), "nginx2 MASTER on screen")
        rec = app.view.failovers[-1]
        assert rec.cause == "fail over VI_1 away from nginx1"
        await until(pilot, lambda: rec.complete, "VIP on nginx2")
        assert "(VI_1) sent 0 priority" in log_text(app)
        assert "released VI_1 (priority 0 sent)" in app.toasts[-1][1]


async def test_r_restarts_the_agent() -> None:
    app = make_app(fast_lab(checks=False))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("r")
        await until(pilot, lambda: "restart the VRRP agent on nginx1: done" in log_text(app),
                    "the result in the log")
        assert "Stopping" in log_text(app)
        await until(pilot, lambda: app.view.master_of("VI_1") is not None, "a master again")


async def test_k_kills_the_node_then_boots_it() -> None:
    app = make_app(fast_lab(checks=False))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("k")
        await until(pilot, lambda: master_row(app, "nginx2"), "nginx2 MASTER on screen")
        await until(pilot, lambda: "✖ crashed" in screen_text(app), "nginx1 shown crashed")
        assert app.view.failovers[-1].cause == "kill nginx1 (crash)"
        await pilot.press("k")  # the node is down: k boots it
        await until(pilot, lambda: app.view.nodes["nginx1"].up, "nginx1 booted")
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx1", "nginx1 preempts")


async def test_p_partitions_into_split_brain_then_heals() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("down", "p")
        await until(pilot, lambda: "SPLIT BRAIN" in screen_text(app), "the split-brain banner")
        assert "VI_1 (VRID 100) is MASTER on nginx1 and nginx2" in screen_text(app)
        await pilot.press("p")
        await until(pilot, lambda: "all clear" in screen_text(app), "the banner to clear")
        assert "heal nginx2: done" in log_text(app)


async def test_slash_filters_the_log_and_escape_clears_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("slash", *"node:nginx2", "enter")
        await pilot.pause()
        lines = [line for line in log_text(app).splitlines() if line.strip()]
        assert lines and all(" nginx2 " in line for line in lines)
        assert "filter: node:nginx2" in screen_text(app)
        # the table is filtered too: only nginx2's row, selected
        assert app.table.row_count == 1 and app.table.selected == ("nginx2", "VI_1")
        await pilot.press("s")  # focus is back on the table: keys act on that row
        await until(pilot, lambda: app.view.nodes["nginx2"].services.get("nginx") is False,
                    "nginx stopped on nginx2")
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert " nginx1 " in log_text(app)
        assert "filter:" not in screen_text(app)
        await until(pilot, lambda: app.table.row_count == 2, "both rows back")


async def test_space_pauses_and_resumes_following_the_log() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("space")
        assert app.query_one(LogPanel).paused
        assert "paused" in screen_text(app)
        await pilot.press("space")
        assert not app.query_one(LogPanel).paused


async def test_t_cycles_themes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "dark"
        seen = []
        for _ in range(3):
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == ["light", "high-contrast", "dark"]
        assert app.palette.states["MASTER"] == load_themes()["dark"].palette.states["MASTER"]


async def test_question_mark_opens_help_and_escape_closes_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "fail over the selected instance" in text and "split brain" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_ctrl_p_palette_runs_any_action_on_any_node() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"stop nginx on nginx2")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: "stop nginx on nginx2: done" in log_text(app), "the result")
        assert app.view.nodes["nginx2"].services["nginx"] is False


async def test_q_quits_and_stops_the_lab() -> None:
    app = make_app(fast_lab(checks=False))
    lab = app.sources[0]
    assert isinstance(lab, InProcessLab)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None, "the app to exit", 5)
    assert app.return_code == 0
    assert not any(host.running for host in lab.hosts.values())


async def test_a_scenario_runs_its_steps_through_the_console() -> None:
    app = make_app(steps=parse_scenario("0.8:stop nginx1"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "nginx2 MASTER")
        assert app.view.failovers[-1].cause == "stop nginx on nginx1"
        assert "[haconsole] stop nginx on nginx1: done" in log_text(app)


# ----------------------------------------------------------------------------- policies


async def test_destructive_actions_ask_for_confirmation_outside_the_lab() -> None:
    app = make_app(confirm=True)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop nginx on nginx1?" in screen_text(app)
        assert not app.screen.query("#confirm-warning")  # the lab has nothing to warn of
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.toasts[-1] == ("information", "cancelled: stop nginx on nginx1")
        assert app.view.nodes["nginx1"].services["nginx"] is True
        await pilot.press("S")  # not destructive: no question
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("s", "y")
        await until(pilot, lambda: app.view.master_of("VI_1") == "nginx2", "nginx2 MASTER")


async def test_readonly_is_watch_only() -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(pilot, lambda: "help" in screen_text(app), "the footer")
        text = screen_text(app)
        footer = next(line for line in text.splitlines() if "help" in line and "quit" in line)
        for action in ("stop nginx", "start nginx", "failover", "restart", "kill"):
            assert action not in footer
        assert "READ-ONLY" in text
        await pilot.press("s", "S", "f", "k", "p", "r")
        await pilot.pause(0.3)
        assert app.view.master_of("VI_1") == "nginx1"
        assert app.toasts == []
        app.request(cmd.StopService("nginx1"))  # the palette path is refused too
        assert app.toasts[-1][0] == "warning"
        app.request(cmd.StartService("nginx1"))  # even the harmless ones
        assert app.toasts[-1][0] == "warning"
        assert app._command_entries() == [] or all(
            not c.title.lower().startswith(("stop", "start", "fail", "kill", "restart"))
            for c in app._command_entries())


async def test_events_are_applied_in_batches_not_one_repaint_per_event() -> None:
    app = HAConsoleApp([], refresh_hz=10)
    renders = []
    async with app.run_test(size=SIZE) as pilot:
        original = app.render_view
        app.render_view = lambda now, full: (renders.append(now), original(now, full=full))  # type: ignore[method-assign]
        publish = app._publisher(InProcessLab(fast_lab()))  # type: ignore[arg-type]
        version = app.view.version
        t0 = app.clock()
        for i in range(2000):
            publish(ev.LogLine(t0 + i * 1e-4, "nginx1", text=f"line {i}"))
        assert app.view.version == version  # nothing folded yet: queued
        await until(pilot, lambda: app.applied >= 2000, "the batch")
        assert len(renders) <= 3
        assert "line 1999" in log_text(app)


class SilentSource:
    """A source that never reports command results as events."""

    name = "silent"

    async def start(self, publish: Callable[[ev.Event], None]) -> None:
        publish(ev.NodeSeen(time.time(), "web1"))
        publish(ev.InstanceState(time.time(), "web1", instance="VI_9", vrid=9, state="MASTER",
                                 base_priority=100, effective_priority=100,
                                 address="198.51.100.1", vips=("198.51.100.9",)))

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return False, "permission denied"

    def supports(self, command: type[cmd.Command]) -> bool:
        return not command.lab_only

    async def stop(self) -> None:
        return None


async def test_results_are_logged_even_when_the_source_does_not_publish_them() -> None:
    app = HAConsoleApp([SilentSource()], confirm=False)  # type: ignore[list-item]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "web1" in screen_text(app), "the row")
        await until(pilot, lambda: "stop nginx" in screen_text(app), "the footer")
        footer = next(line for line in screen_text(app).splitlines() if "stop nginx" in line)
        assert "kill" not in footer and "partition" not in footer  # lab-only: hidden
        await pilot.press("s")
        await until(pilot, lambda: "FAILED - permission denied" in log_text(app), "the result")
        assert app.toasts[-1] == ("error", "stop nginx on web1: FAILED - permission denied")


class WarningSource(SilentSource):
    """A source with something to say before a failover (as keepalived_ssh's preemption)."""

    name = "warns"
    WARNING = ("VI_9: preemption is on and web1 has the highest priority (100), so when "
               "keepalived starts again on web1 it takes the VIP straight back.")

    def __init__(self) -> None:
        self.asked: list[cmd.Command] = []

    def warning(self, command: cmd.Command) -> str:
        self.asked.append(command)
        return self.WARNING if isinstance(command, cmd.Failover) else ""


async def test_the_confirmation_shows_the_sources_warning_in_the_warning_colour() -> None:
    source = WarningSource()
    app = HAConsoleApp([source], confirm=True)  # type: ignore[list-item]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.view.master_of("VI_9") == "web1", "web1 MASTER")
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        assert source.asked == [cmd.Failover("web1", "VI_9")]
        box = app.screen.query_one("#confirm-warning", Static)
        shown = str(box.render())
        # the console's own preview first (web1 is the only node: nobody takes over),
        # then the source's warning
        assert shown.startswith("\u26a0 no backup can take over VI_9 (no other node runs it)")
        assert shown.endswith(f"\n{WarningSource.WARNING}")

        def dialog() -> str:
            """The words inside the dialog's frame (█ ... █), in reading order."""
            rows = [line[line.index("\u2588") + 1:line.rindex("\u2588")]
                    for line in screen_text(app).splitlines() if line.count("\u2588") >= 2]
            return " ".join(" ".join(rows).replace("\u258c", " ").split())

        await until(pilot, lambda: "straight back." in dialog(), "the warning on screen")
        text = dialog()
        assert "preemption is on and web1 has the highest priority (100), so when" in text
        assert text.index("Fail over VI_9 away from web1?") < text.index("preemption is on")
        assert text.index("preemption is on") < text.index("Yes (y)")
        # the theme's $warning (Textual derives it from the palette's, within rounding)
        warning = Color.parse(app.get_css_variables()["warning"])
        assert box.styles.color == warning
        assert box.rich_style.color is not None and box.rich_style.bold
        assert box.rich_style.color.triplet == warning.rich_color.triplet
        ours = Color.parse(app.palette.warning)
        assert max(abs(a - b) for a, b in zip(warning.rgb, ours.rgb, strict=True)) <= 2
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("s")  # a command the source has nothing to say about
        assert isinstance(app.screen, ConfirmScreen)
        assert "Stop nginx on web1?" in screen_text(app)
        assert not app.screen.query("#confirm-warning")


async def test_secrets_never_reach_the_screen() -> None:
    definition = load_lab()
    secret = definition.instances[0].auth_pass.reveal()
    app = make_app(definition)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        for screen in ("", "question_mark"):
            if screen:
                await pilot.press(screen)
            assert secret not in screen_text(app)
            assert secret not in app.export_screenshot()
        assert secret not in log_text(app)


# ----------------------------------------------------------------------------- themes


def test_theme_directories_are_identical() -> None:
    top = {p.name: p.read_bytes() for p in (ROOT / "themes").glob("*.toml")}
    packaged = {p.name: p.read_bytes() for p in THEMES_DIR.glob("*.toml")}
    assert top == packaged
    assert {"dark.toml", "light.toml", "high-contrast.toml"} <= set(top)


def test_themes_load_with_every_state_colour() -> None:
    themes = load_themes()
    assert list(themes)[:3] == ["dark", "light", "high-contrast"]
    assert not themes["light"].theme.dark
    for theme in themes.values():
        assert set(theme.palette.states) >= {"MASTER", "BACKUP", "FAULT", "STOP", "INIT"}


@pytest.mark.parametrize("text, message", [
    ('name = "x"\nprimary = "#fff"\n[states]\nMASTER = "nope"\n', "states.MASTER: not a colour"),
    ('name = "x"\n', "primary: required"),
    ("name = ", "TOML syntax error"),
])
def test_a_bad_theme_file_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ThemeError) as err:
        load_theme_file(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_run_console_reports_bad_themes_without_starting(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n')
    assert run_console(load_lab(), [], theme=str(bad)) == 2
    assert f"haconsole: {bad}: primary: required" in capsys.readouterr().err
    assert run_console(load_lab(), [], theme="nope") == 2
    assert "unknown theme 'nope'" in capsys.readouterr().err


def test_the_console_never_touches_sockets() -> None:
    """Sources own I/O; the console package imports neither sockets nor transports."""
    for path in (ROOT / "haconsole" / "console").rglob("*.py"):
        source = path.read_text()
        for banned in ("import socket", "haconsole.net", "asyncssh", "pyroute2"):
            assert banned not in source, f"{path.name} uses {banned}"


async def test_the_palette_screenshot_saves_where_it_says(tmp_path: Any,
                                                        monkeypatch: Any) -> None:
    monkeypatch.setenv("HACONSOLE_SCREENSHOTS", str(tmp_path))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        entry = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        assert str(tmp_path) in entry.help
        path = app.save_svg()
        assert path is not None and path.startswith(str(tmp_path))
        assert "<svg" in Path(path).read_text(encoding="utf-8")
        assert app.toasts[-1] == ("information", f"screenshot saved: {path}")
        assert app.save_svg(str(tmp_path / "missing" / "dir")) is None
        assert app.toasts[-1][0] == "error" and "not saved in" in app.toasts[-1][1]


async def test_fleet_table_groups_by_cluster_sorts_filters_and_counts_states() -> None:
    """`o`/`O` order the rows (cluster, state, priority, node), `/` filters them, and
    the subtitle counts instances by state. Two clusters share the name VI_1 (VRIDs 1
    and 3): grouping keeps each router's rows together."""
    view = ClusterView()
    fleet = [("a", "VI_1", 1, "MASTER", 100), ("b", "VI_1", 1, "BACKUP", 90),
             ("c", "VI_1", 3, "BACKUP", 80), ("d", "VI_1", 3, "MASTER", 120),
             ("a", "VI_2", 2, "BACKUP", 50), ("b", "VI_2", 2, "MASTER", 60)]
    for node, name, vrid, st, prio in fleet:
        view.apply(ev.InstanceState(1.0, node, instance=name, vrid=vrid, state=st,
                                    base_priority=prio, effective_priority=prio,
                                    vips=(f"192.0.2.{100 + vrid}",),
                                    address=f"192.0.2.{ord(node)}"))
    app = HAConsoleApp([], view=view, clock=lambda: 2.0)

    def rows() -> list[tuple[str, str]]:
        out = []
        for row in app.table.ordered_rows:
            node, _, instance = str(row.key.value).partition("/")
            out.append((node, instance))
        return out

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert rows() == [("a", "VI_1"), ("b", "VI_1"), ("d", "VI_1"), ("c", "VI_1"),
                          ("b", "VI_2"), ("a", "VI_2")]  # each router, its MASTER first
        assert "6 instances · 3 MASTER · 3 BACKUP" in str(app.table.border_subtitle)
        await pilot.press("o")  # by state: masters first, each in cluster order
        assert app.table.sort_by == "state"
        assert [n for n, _ in rows()] == ["a", "d", "b", "b", "c", "a"]
        await pilot.press("o")  # by priority, highest first
        assert rows()[0] == ("d", "VI_1") and rows()[-1] == ("a", "VI_2")
        await pilot.press("O")  # reversed: lowest first
        assert rows()[0] == ("a", "VI_2") and "↓" in str(app.table.border_subtitle)
        await pilot.press("slash", *"node:b", "enter")
        await pilot.pause(0.3)
        assert sorted(rows()) == [("b", "VI_1"), ("b", "VI_2")]
        assert "filter shows 2" in str(app.table.border_subtitle)
        await pilot.press("slash", "escape")
        await pilot.pause(0.3)
        assert len(rows()) == 6


async def test_the_console_records_what_it_shows_and_serves_metrics(tmp_path: Path) -> None:
    """`lab --record FILE --metrics 127.0.0.1:0`: what the console folded is in the file;
    a scrape shows the lab's nodes with keepalived-exporter's names."""
    import argparse
    import urllib.request

    from haconsole.console.cli import console_extras
    from haconsole.record.store import Recording

    path = tmp_path / "lab.hcr"
    extras = console_extras(argparse.Namespace(record=str(path), metrics=("127.0.0.1", 0)),
                            ["lab test"])
    app = make_app(observers=extras.observers, services=extras.services)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await until(pilot, lambda: bool(app._started_services), "the metrics endpoint")
        port = app._started_services[0].port
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        assert 'keepalived_vrrp_state{iname="VI_1"' in body and "nginx1" in body
    extras.close()
    recording = Recording.open(str(path))
    kinds = {e.kind for e in recording.events()}
    assert {"transition", "instance_state", "log"} <= kinds
