"""keepalived's vrrp_script rise/fall counting and wording (ScriptCounter)."""

from __future__ import annotations

import asyncio

from haconsole.engine.trackers import CheckTracker, ScriptCounter


def test_first_success_reports_ok_without_now_returning() -> None:
    c = ScriptCounter("chk_nginx")
    assert c.feed(0) == (True, ["VRRP_Script(chk_nginx) succeeded"])
    assert c.feed(0) == (None, [])


def test_failure_wording_matches_keepalived() -> None:
    c = ScriptCounter("chk_nginx")
    c.feed(0)
    assert c.feed(1) == (False, ["Script `chk_nginx` now returning 1",
                                 "VRRP_Script(chk_nginx) failed (exited with status 1)"])
    assert c.feed(0) == (True, ["Script `chk_nginx` now returning 0",
                                "VRRP_Script(chk_nginx) succeeded"])


def test_fall_and_rise_need_consecutive_results() -> None:
    c = ScriptCounter("chk", rise=2, fall=3)
    assert c.feed(0)[0] is True  # keepalived starts one success short of OK (rise - 1)
    assert c.feed(1)[0] is None
    assert c.feed(1)[0] is None
    assert c.feed(1)[0] is False
    assert c.feed(0)[0] is None
    assert c.feed(0)[0] is True


def test_timeout_counts_as_failure() -> None:
    c = ScriptCounter("chk")
    c.feed(0)
    assert c.feed(None) == (False, ["VRRP_Script(chk) timed_out"])


def test_init_fail_starts_failed_and_reports_first_success() -> None:
    c = ScriptCounter("chk", init_fail=True)
    assert c.feed(0) == (True, ["VRRP_Script(chk) succeeded"])


async def test_check_tracker_runs_probe_and_kills_hung_probe() -> None:
    results: list[tuple[str, bool]] = []
    logs: list[str] = []
    calls = 0

    async def probe() -> int:
        nonlocal calls
        calls += 1
        if calls >= 2:
            await asyncio.Event().wait()  # hangs: must be cut at the timeout
        return 0

    tracker = CheckTracker("chk", probe, interval=0.01, timeout=0.05)
    tracker.start(lambda name, ok, cause: results.append((name, ok)), logs.append)
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while len(results) < 2 and loop.time() < end:
        await asyncio.sleep(0.01)
    await tracker.stop()
    assert results[:2] == [("chk", True), ("chk", False)]
    assert "VRRP_Script(chk) timed_out" in logs


async def test_stop_always_ends_the_tracker_even_when_a_probe_just_finished() -> None:
    """Regression: a single cancel could be swallowed by wait_for as the probe returned."""
    for _ in range(50):
        async def probe() -> int:
            await asyncio.sleep(0)
            return 0

        tracker = CheckTracker("chk", probe, interval=0.0005, timeout=0.01)
        tracker.start(lambda *a: None, lambda line: None)
        await asyncio.sleep(0.002)
        await asyncio.wait_for(tracker.stop(), timeout=5)
        assert tracker._task is None
