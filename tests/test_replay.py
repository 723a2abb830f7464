"""The replay screen (`haconsole replay` without --report), driven by Pilot.

The claim under test: what the replay shows at T is what a live console showed at T. The
scripted lab (`lab.scripted`: the real VRRP core on a virtual clock) gives deterministic
events; the live side folds them up to T into a ClusterView and renders it with the live
console at a clock fixed at T; the replay side seeks to T, or plays there from the start.
Playing is driven by an injected monotonic clock: no sleeps.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from rich.console import Console
from textual.command import CommandPalette

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.console.actions import ACTIONS
from haconsole.console.app import HAConsoleApp
from haconsole.console.replay import (
    GC_FULL_EVERY,
    MAX_STEP,
    REPLAY_KEYS,
    SPEEDS,
    GotoScreen,
    Item,
    PeriodFinder,
    ReplayApp,
    parse_when,
    run_replay,
    tune_gc,
)
from haconsole.console.screens import HelpScreen
from haconsole.console.screenshots import INCIDENT
from haconsole.console.widgets.timeline import (
    ENTERED_MASTER,
    LEFT_MASTER,
    NOTHING,
    OTHER,
    TIMES,
    Period,
    TimelineStrip,
    Track,
)
from haconsole.lab.scripted import SCENES, T0, Scene
from haconsole.record.timeline import Mark, Timeline

SIZE = (120, 36)
STRIP = 2  # the strip's lines, above the key bar
TITLE = "incident.hcr"
BOUND = 10.0


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


_EVENTS: dict[str, list[Item]] = {}


def events_of(scene: Scene) -> list[Item]:
    if scene.name not in _EVENTS:
        _EVENTS[scene.name] = scene.events()
    return _EVENTS[scene.name]


class FakeMonotonic:
    """The replay's real-time clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replay_app(scene: Scene = INCIDENT, *, monotonic: Callable[[], float] | None = None,
               events: Sequence[Item] | None = None, **kwargs: Any) -> ReplayApp:
    timeline = Timeline(list(events) if events is not None else events_of(scene))
    return ReplayApp(timeline, title=TITLE, theme="dark",
                     monotonic=monotonic or FakeMonotonic(), **kwargs)


def live_view(events: Sequence[Item], t: float) -> ClusterView:
    """What a live console had folded at `t`: every event at or before it, as it came."""
    view = ClusterView()
    view.apply_all(e for e in events if e.t <= t)
    return view


def facts(view: ClusterView, now: float) -> dict[str, Any]:
    """What the screen is made of: states, priorities, VIPs, transitions, failovers,
    alarms and rates at `now`, the log."""
    return {
        "nodes": sorted((n.name, n.up, n.lost_reason, n.last_event,
                         sorted(n.services.items()), sorted(n.tracks.items()))
                        for n in view.nodes.values()),
        "instances": sorted((key, i.state, i.base_priority, i.effective_priority, i.lost,
                             i.since, i.vips, i.hold_until, i.last_transition,
                             view.advert_rates(key, now), view.advert_series(key, now))
                            for key, i in view.instances.items()),
        "vips": sorted((v.vip, v.owner, v.since, v.previous_owner, sorted(v.holders.items()))
                       for v in view.vips.values()),
        "transitions": list(view.transitions),
        "failovers": list(view.failovers),
        "pending": sorted(view.pending.items()),
        "alarms": view.alarms(now),
        "log": [(e.t, e.node, e.text, e.level, e.instance) for e in view.log],
    }


def screen_lines(app: HAConsoleApp) -> list[str]:
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      record=True, force_terminal=True, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


async def until(pilot: Any, predicate: Callable[[], bool], what: str) -> None:
    import asyncio

    end = asyncio.get_running_loop().time() + BOUND
    while not predicate():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out after {BOUND} s waiting for {what}")
        await pilot.pause(0.02)


async def painted(pilot: Any) -> None:
    app = pilot.app
    await until(pilot, lambda: app.table.row_count == len(app.view.instances), "the rows")
    await pilot.pause()


async def live_screen(events: Sequence[Item], t: float) -> list[str]:
    """The live console's screen at `t`, STRIP lines shorter (the replay adds the strip)."""
    app = HAConsoleApp([], cluster=TITLE, theme="dark", confirm=False,
                       view=live_view(events, t), clock=lambda: t)
    async with app.run_test(size=(SIZE[0], SIZE[1] - STRIP)) as pilot:
        await painted(pilot)
        # settled, as a live console is within a second: a panel that fits itself to
        # its height measured it before the banner took its lines
        app.render_view(t, full=True)
        await pilot.pause()
        return screen_lines(app)


def same_screen(replay: list[str], live: list[str]) -> None:
    """Every line but the top bar's mode field, the strip and the key bars."""
    assert replay[0].rsplit("│", 1)[0] == live[0].rsplit("│", 1)[0]
    assert "REPLAY" in replay[0] and "live" not in replay[0]
    body, expected = replay[1:-1 - STRIP], live[1:-1]
    for i, (got, want) in enumerate(zip(body, expected, strict=True)):
        assert got == want, f"line {i + 1} differs:\n replay {got!r}\n live   {want!r}"


def at(seconds: float) -> float:
    return T0 + seconds


# ----------------------------------------------------------------------------- the fold


@pytest.mark.parametrize("scene", [*SCENES.values(), INCIDENT], ids=lambda s: s.name)
def test_a_fold_in_any_slices_is_the_fold_at_once(scene: Scene) -> None:
    """The view is a fold: the same events in any batches (ticks) give the same view."""
    events = events_of(scene)
    end = events[-1].t
    whole = live_view(events, end)
    for seed in range(3):
        rng = random.Random(seed)
        sliced, i = ClusterView(), 0
        while i < len(events):
            n = rng.randint(1, 40)
            sliced.apply_all(events[i:i + n])
            i += n
        assert facts(sliced, end) == facts(whole, end)


@pytest.mark.parametrize("seconds", [0.0, 3.609, 10.0, 23.258, 25.5, 43.9, 58.516, 61.0, 80.0])
def test_the_timeline_view_at_t_is_the_live_view_at_t(seconds: float) -> None:
    events = events_of(INCIDENT)
    timeline = Timeline(events)
    t = min(at(seconds), timeline.end)
    assert facts(timeline.view_at(t), t) == facts(live_view(events, t), t)


# ----------------------------------------------------------------------------- the screen


@pytest.mark.parametrize("seconds", [10.0, 23.258, 25.5, 58.516, 61.0, 79.5])
async def test_after_a_seek_the_screen_is_the_live_screen_at_t(seconds: float) -> None:
    events = events_of(INCIDENT)
    t = at(seconds)
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        app.seek(app.end)  # from further on: a seek backwards re-folds
        app.seek(t)
        await pilot.pause()
        assert app.cursor == t
        assert facts(app.view, t) == facts(live_view(events, t), t)
        replay = screen_lines(app)
    same_screen(replay, await live_screen(events, t))


async def test_after_playing_from_the_start_the_screen_is_the_live_screen_at_t() -> None:
    events = events_of(INCIDENT)
    clock = FakeMonotonic()
    app = replay_app(monotonic=clock)
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await pilot.press(*["plus"] * SPEEDS.index(10))
        assert app.speed == 10
        await pilot.press("space")
        assert app.playing
        while app.cursor < at(61.0):  # 0.1 s of real time per tick: a cursor second each
            clock.now += 0.1
            app.tick()
        await pilot.press("space")
        assert not app.playing
        t = app.cursor
        assert at(61.0) <= t < at(62.1)
        await pilot.pause()
        assert facts(app.view, t) == facts(live_view(events, t), t)
        replay = screen_lines(app)
    same_screen(replay, await live_screen(events, t))


async def test_a_seek_back_drops_the_rows_of_instances_not_seen_yet() -> None:
    late = [ev.NodeSeen(at(30.0), "nginx3", agent="haconsole"),
            ev.InstanceState(at(30.0), "nginx3", instance="VI_1", vrid=51, state=ev.State.BACKUP,
                             base_priority=80, effective_priority=80, address="192.0.2.13",
                             vips=("192.0.2.170/24",))]
    events = sorted([*events_of(INCIDENT), *late], key=lambda e: e.t)
    app = replay_app(events=events)
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        app.seek(at(40.0))
        await pilot.pause()
        assert "nginx3/VI_1" in [k.value for k in app.table.rows]
        app.seek(at(20.0))
        await pilot.pause()
        assert sorted(str(k.value) for k in app.table.rows) == ["nginx1/VI_1", "nginx2/VI_1"]
        assert facts(app.view, at(20.0)) == facts(live_view(events, at(20.0)), at(20.0))


# ----------------------------------------------------------------------------- keys


async def test_right_and_left_land_on_each_transition_in_order() -> None:
    app = replay_app()
    times = sorted({m.t for m in Timeline(events_of(INCIDENT)).marks()})
    assert len(times) >= 5
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        assert app.cursor == app.start == times[0]
        for t in times[1:]:
            await pilot.press("right")
            assert app.cursor == t
            assert app.view.last_t == t  # the transition at t is folded in
        await pilot.press("right")
        assert app.cursor == times[-1] and app.toasts[-1][1] == "no later transition"
        for t in reversed(times[:-1]):
            await pilot.press("left")
            assert app.cursor == t
        await pilot.press("left")
        assert app.toasts[-1][1] == "no earlier transition"
        app.seek(times[2] + 1.0)  # between two marks: left goes to the one just before
        await pilot.press("left")
        assert app.cursor == times[2]


async def test_plus_and_minus_step_through_the_speeds_within_bounds() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        seen = [app.speed]
        for _ in range(len(SPEEDS) + 2):
            await pilot.press("plus")
            seen.append(app.speed)
        assert seen[:len(SPEEDS)] == list(SPEEDS) and seen[-1] == 600
        for _ in range(len(SPEEDS) + 2):
            await pilot.press("minus")
        assert app.speed == 1
        await pilot.press("plus", "plus")
        assert app.speed == 5 and f"{TIMES}5" in screen_lines(app)[-2]


async def test_space_plays_and_pauses_and_playing_follows_the_clock_times_the_speed() -> None:
    clock = FakeMonotonic()
    app = replay_app(monotonic=clock)
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await pilot.press("space")
        assert app.playing and "space pause" in screen_lines(app)[-1]
        clock.now += 0.3
        app.tick()
        assert app.cursor == pytest.approx(app.start + 0.3)
        await pilot.press("plus", "plus", "plus")  # x10
        clock.now += 0.2
        app.tick()
        assert app.cursor == pytest.approx(app.start + 0.3 + 2.0)
        clock.now += 60.0  # a stalled loop: one tick folds at most MAX_STEP of real time
        app.tick()
        assert app.cursor == pytest.approx(app.start + 2.3 + MAX_STEP * 10)
        await pilot.press("space")
        assert not app.playing and "space play" in screen_lines(app)[-1]
        before = app.cursor
        clock.now += 5.0
        app.tick()
        assert app.cursor == before
        assert "‖ paused" in screen_lines(app)[-2]


async def test_playing_stops_at_the_end_and_space_there_starts_again() -> None:
    clock = FakeMonotonic()
    app = replay_app(monotonic=clock)
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await pilot.press("end")
        assert app.cursor == app.end
        await pilot.press("home")
        assert app.cursor == app.start
        app.seek(app.end - 1.0)
        await pilot.press("space")
        clock.now += 0.5
        app.tick()
        clock.now += 0.5
        app.tick()
        assert app.cursor == app.end and not app.playing
        assert "■ end" in screen_lines(app)[-2]
        await pilot.press("space")
        assert app.playing and app.cursor == app.start


async def test_the_view_while_playing_is_folded_incrementally_not_refolded() -> None:
    clock = FakeMonotonic()
    app = replay_app(monotonic=clock)
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        calls: list[float] = []
        view_at = app.timeline.view_at

        def counted(t: float) -> ClusterView:
            calls.append(t)
            return view_at(t)

        app.timeline.view_at = counted  # type: ignore[method-assign]
        view = app.view
        await pilot.press(*["plus"] * 8, "space")
        for _ in range(30):
            clock.now += 0.05
            app.tick()
        assert app.cursor > app.start + 60
        assert calls == [] and app.view is view


@pytest.mark.parametrize(("typed", "expected"), [
    ("11:07:20", at(40.0)),
    ("11:07", at(20.0)),
    ("11:07:13.258", at(33.258)),
    ("2026-11-18T11:07:30", at(50.0)),
    ("2026-11-18T11:07:30Z", at(50.0)),
    ("2026-11-18 12:07:30+01:00", at(50.0)),
    ("+90s", at(80.0)),  # past the end: at the end
    ("+15s", at(45.0)),
    ("+1m", at(80.0)),
    ("-5s", at(25.0)),
    ("-5m", at(0.0)),  # before the start: at the start
    ("+1m30s", at(80.0)),
])
async def test_g_goes_to_each_form_of_time(typed: str, expected: float) -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        app.seek(at(30.0))
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GotoScreen), "the go-to box")
        await pilot.press(*typed, "enter")
        await until(pilot, lambda: not isinstance(app.screen, GotoScreen), "the box to close")
        assert app.cursor == pytest.approx(expected, abs=1e-6)
        assert app.view.last_t <= app.cursor


async def test_g_explains_a_wrong_time_and_escape_cancels() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GotoScreen), "the go-to box")
        await pilot.press(*"soon", "enter")
        await pilot.pause()
        assert isinstance(app.screen, GotoScreen)
        assert "not a time: 'soon'" in "\n".join(screen_lines(app))
        await pilot.press("right", "space")  # typing: the cursor does not move
        assert app.cursor == app.start and not app.playing
        await pilot.press("escape")
        assert not isinstance(app.screen, GotoScreen) and app.cursor == app.start


def test_parse_when_forms_and_errors() -> None:
    start, end, cursor = at(0.0), at(80.0), at(30.0)

    def parse(text: str, cursor: float = cursor) -> float:
        return parse_when(text, cursor=cursor, start=start, end=end)

    assert parse("+90") == cursor + 90
    assert parse("- 1h 2m 3.5s") == cursor - 3723.5
    assert parse("11:06:50") == at(10.0)
    assert parse("11:08:30") == at(110.0)  # outside: the caller clamps and says so
    for bad in ("", "25:00", "11:61", "11:07:99", "yesterday", "+", "++5s"):
        with pytest.raises(ValueError):
            parse(bad)


def test_a_clock_time_is_taken_on_the_day_that_puts_it_in_the_window() -> None:
    """A window across midnight: 23:59:50 is the evening before, 00:00:05 the morning."""
    midnight = 1_795_046_400.0  # 2026-11-19 00:00:00 UTC
    start, end = midnight - 30, midnight + 30
    assert parse_when("23:59:50", cursor=midnight + 20, start=start, end=end) == midnight - 10
    assert parse_when("00:00:05", cursor=midnight - 20, start=start, end=end) == midnight + 5


async def test_replay_keys_do_not_act_while_typing_in_the_log_filter() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await pilot.press("slash", *"master timeout", "left", "right", "home", "end")
        assert app.cursor == app.start and not app.playing
        assert app.filter_box.value == "master timeout"
        await pilot.press("enter", "right")
        assert app.cursor > app.start


async def test_a_click_on_the_strip_goes_to_the_time_under_it() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        strip = app.query_one(TimelineStrip)
        track, offset = strip.track()
        column = track.width // 2
        await pilot.click(TimelineStrip, offset=(strip.styles.padding.left + offset + column, 0))
        assert app.cursor == pytest.approx(track.time(column))
        assert track.column(app.cursor) == column
        await pilot.click(TimelineStrip, offset=(1, 0))  # the start label
        assert app.cursor == app.start


# ----------------------------------------------------------------------------- read-only


async def test_node_actions_are_absent_from_keys_key_bar_help_and_palette() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        for action in ACTIONS:
            assert app.check_action(action.action, ()) is False
        assert app.check_action("pause_log", ()) is False
        bar = screen_lines(app)[-1]
        for action in ACTIONS:
            assert f"{action.key} {action.label}" not in bar
        for k in REPLAY_KEYS:
            assert app.check_action(k.action, ()) is True
        view_before = facts(app.view, app.cursor)
        await pilot.press(*(a.key for a in ACTIONS))
        assert app.toasts == [] and facts(app.view, app.cursor) == view_before
        app.request(cmd.StopService("nginx1"))  # any path to a command is refused
        assert app.toasts[-1][0] == "warning" and "read-only" in app.toasts[-1][1]

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        help_text = "\n".join(screen_lines(app))
        assert "haconsole replay — keys" in help_text
        assert "read-only: the screen as it was at the cursor, no action on nodes" in help_text
        for action in ACTIONS:
            assert action.help not in help_text
        for k in REPLAY_KEYS:
            assert k.help in help_text
        assert "pause / resume following the log" not in help_text
        await pilot.press("right")  # a modal is up: the replay keys rest
        assert app.cursor == app.start
        await pilot.press("escape")

        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Replay: read-only" in titles
        for k in REPLAY_KEYS:
            assert f"Replay: {k.help}" in titles
        for verb in ("Stop", "Start", "Fail", "Kill", "Restart", "Partition", "Cancel"):
            assert not any(t.startswith(verb) for t in titles), titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"next transition", "enter")
        await until(pilot, lambda: app.cursor > app.start, "the palette's next transition")


# ----------------------------------------------------------------------------- the strip


def test_the_track_maps_times_to_columns_and_back() -> None:
    track = Track(100.0, 200.0, 50)
    assert track.column(100.0) == 0 and track.column(200.0) == 49
    assert track.column(150.0) == 25 and track.column(-5.0) == 0
    assert track.time(0) == 100.0 and track.time(49) == 200.0
    for col in range(1, 49):
        assert track.column(track.time(col)) == col
    assert Track(5.0, 5.0, 10).column(5.0) == 0  # a window of one instant


def test_a_column_shows_its_most_telling_transition() -> None:
    track = Track(0.0, 10.0, 10)
    marks = [Mark(1.0, "a", "VI_1", "INIT", "BACKUP"), Mark(5.0, "a", "VI_1", "BACKUP",
                                                            "MASTER"),
             Mark(5.1, "b", "VI_1", "MASTER", "BACKUP"), Mark(8.0, "b", "VI_1", "MASTER",
                                                          "FAULT")]
    bins = track.bins(marks)
    assert [r for r, _ in bins] == [NOTHING, OTHER, NOTHING, NOTHING, NOTHING,
                                    ENTERED_MASTER, NOTHING, NOTHING, LEFT_MASTER, NOTHING]
    assert bins[8] == (LEFT_MASTER, "FAULT")
    bands = track.bands([Period(2.0, 3.5, "no-master"), Period(3.2, 4.0, "split-brain")])
    assert bands[:5] == ["", "", "no-master", "split-brain", "split-brain"]


def test_split_brain_and_no_master_stretches_are_found_as_the_alarms_see_them() -> None:
    def periods(scene: Scene) -> list[tuple[float, float, str]]:
        timeline = Timeline(events_of(scene))
        finder = PeriodFinder(timeline.view_at(timeline.start), timeline.start)
        finder.feed(timeline.events_between(timeline.start, timeline.end))
        return [(round(p.start - T0, 3), round(p.end - T0, 3), p.kind)
                for p in finder.finish(timeline.end)]

    # the partitioned nginx2 elects itself: split brain until the heal
    assert periods(INCIDENT) == [(58.516, 65.516, "split-brain")]
    assert periods(SCENES["failover"]) == []  # a failover is no outage past its MDI
    # both nodes dead: no master at once (nobody left to elect), until nginx2 is back
    both = Scene("both-dead", "20:kill nginx2; 30:kill nginx1; 35:boot nginx2", 45.0)
    assert periods(both) == [(30.0, 38.648, "no-master")]


async def test_the_strip_shades_the_split_brain_and_shows_the_cursor() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        await until(pilot, lambda: bool(app.strip.periods), "the shading")
        assert [p.kind for p in app.strip.periods] == ["split-brain"]
        track_line, status = screen_lines(app)[-3:-1]
        assert track_line.strip().startswith("11:06:40") and track_line.strip().endswith(
            "11:08:00")
        assert "━" in track_line and track_line.count("▲") == 4
        assert f"‖ paused {TIMES}1  11:06:40.000" in status and "transition 2/9" in status


# ----------------------------------------------------------------------------- the command


def test_run_replay_refuses_a_bad_theme_or_an_empty_window(
        capsys: pytest.CaptureFixture[str]) -> None:
    timeline = Timeline(events_of(SCENES["overview"]))
    assert run_replay(timeline, theme="no-such-theme") == 2
    assert "unknown theme 'no-such-theme'" in capsys.readouterr().err
    assert run_replay(timeline, since=timeline.end + 10) == 1
    err = capsys.readouterr().err
    assert err.startswith("haconsole replay: no events between") and err.count("\n") == 1


def test_the_replay_process_runs_full_collections_less_often() -> None:
    import gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (before[0], before[1], GC_FULL_EVERY)
        assert before[2] < GC_FULL_EVERY
    finally:
        gc.set_threshold(*before)


async def test_the_window_and_the_notes_given_to_the_replay() -> None:
    app = replay_app(since=at(20.0), until=at(50.0), notes=["nginx2.log:12: unreadable line"])
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        assert (app.start, app.end, app.cursor) == (at(20.0), at(50.0), at(20.0))
        assert all(at(20.0) <= m.t <= at(50.0) for m in app.marks)
        assert app.view.master_of("VI_1") == "nginx1"  # what happened before counts
        assert app.toasts == [("warning", "nginx2.log:12: unreadable line")]
        await pilot.press("end")
        assert app.cursor == at(50.0)


async def test_after_a_seek_the_log_scrolls_back_a_full_panel_from_the_cursor() -> None:
    """A seek rewrites the log panel with as many lines as it keeps (it used to write the
    200 of a live tick, so the operator could not scroll back past them)."""
    from haconsole.console.widgets.log import MAX_LINES

    events = list(events_of(INCIDENT))
    t = at(40.0)
    chatter = [ev.LogLine(t - 30 + i * 0.01, "nginx2",
                          text=f"(VI_1) chatter {i}") for i in range(MAX_LINES + 300)]
    app = replay_app(events=sorted(events + chatter, key=lambda e: e.t))
    async with app.run_test(size=SIZE) as pilot:
        await painted(pilot)
        app.seek(t)
        await pilot.pause()
        lines = [strip.text for strip in app.log_panel.lines]
        assert len(lines) == MAX_LINES
        shown = [e.text for e in app.view.log if e.t <= t][-MAX_LINES:]
        assert len(shown) == MAX_LINES
        assert all(ln.rstrip().endswith(text) for ln, text in zip(lines, shown, strict=True))


# ----------------------------------------------------------------------------- snapshot


def test_the_replay_screen_in_a_narrow_terminal(snap_compare: Any) -> None:
    """80x24 at the split brain: the strip, its status and the key bar still fit."""
    assert snap_compare(replay_app(), press=["right"] * 4, terminal_size=(80, 24))
