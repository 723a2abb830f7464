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


# ----------------------------------------------------------------------------- building
BUILD_CONF = """
vrrp_script chk_nginx {
    script "pidof nginx"
    interval 2
    timeout 3
    rise 2
    fall 4
}
vrrp_script unused {
    script "true"
}
vrrp_track_process nginx {
    process nginx
    quorum 2
}
track_file drain {
    file /run/drain
    init_file 5 overwrite
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.170/24
    }
    track_script {
        chk_nginx
    }
    track_process {
        nginx
    }
    track_file {
        drain
    }
}
"""


def _config(text: str = BUILD_CONF):
    from haconsole.keepalived.conf import parse_text

    return parse_text(text, "build.conf").config


def test_build_trackers_follows_each_definition() -> None:
    from haconsole.engine.build import build_trackers, with_primary_tracking
    from haconsole.engine.files import FileTracker
    from haconsole.engine.links import LinkTracker
    from haconsole.engine.process import ProcessTracker

    probed: list[tuple[str, str | None]] = []

    def probe(script, user):
        probed.append((script.name, user))

        async def run() -> int:
            return 0

        return run

    trackers = build_trackers(with_primary_tracking(_config()), probe=probe)
    by_name = {t.name: t for t in trackers.values()}
    assert sorted(by_name) == ["chk_nginx", "drain", "eth0", "nginx"]  # `unused`: not built
    check = by_name["chk_nginx"]
    assert isinstance(check, CheckTracker) and probed == [("chk_nginx", None)]
    assert (check.interval, check.timeout) == (2.0, 3.0)
    assert (check.counter.rise, check.counter.fall) == (2, 4)
    assert isinstance(by_name["nginx"], ProcessTracker) and by_name["nginx"].quorum == 2
    assert isinstance(by_name["eth0"], LinkTracker)
    drain = by_name["drain"]
    assert isinstance(drain, FileTracker) and drain.overwrite
    # A reload keeps the keys of unchanged definitions and never overwrites init_file.
    again = build_trackers(with_primary_tracking(_config()), probe=probe, reload=True)
    assert set(again) == set(trackers)
    assert not next(t for t in again.values() if t.name == "drain").overwrite
    changed = build_trackers(_config(BUILD_CONF.replace("fall 4", "fall 5")), probe=probe)
    assert {t.name for k, t in changed.items() if k not in trackers} == {"chk_nginx"}
