"""Subprocess probes, pidfd process tracking and notify scripts (no root needed)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time

from haconsole.cluster import events as ev
from haconsole.config import Config, VrrpInstance
from haconsole.engine.notify import Notifier, notify_commands
from haconsole.engine.process import ProcessTracker, find_processes
from haconsole.engine.scripts import script_argv, script_probe
from haconsole.engine.trackers import CheckTracker


def test_script_argv_uses_a_shell_only_when_needed():
    assert script_argv("pidof nginx") == ["pidof", "nginx"]
    assert script_argv("'/usr/bin/my check' -q") == ["/usr/bin/my check", "-q"]
    assert script_argv("pidof nginx || exit 1") == ["/bin/sh", "-c", "pidof nginx || exit 1"]


async def test_probe_status_and_hung_script_killed_at_timeout(tmp_path):
    assert await script_probe("true")() == 0
    assert await script_probe("false")() == 1
    marker = tmp_path / "child.pid"
    reports: list[tuple[str, bool, str]] = []
    logs: list[str] = []
    tracker = CheckTracker("chk", script_probe(f"echo $$ > {marker}; exec sleep 30"),
                           interval=5, timeout=0.3)
    tracker.start(lambda *r: reports.append(r), logs.append)
    for _ in range(200):
        if reports:
            break
        await asyncio.sleep(0.01)
    await tracker.stop()
    assert reports and reports[0][1] is False
    assert "VRRP_Script(chk) timed_out" in logs
    pid = int(marker.read_text())
    for _ in range(100):  # the whole process group was killed
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"hung script {pid} still running")


async def test_process_death_is_reported_in_milliseconds(tmp_path):
    # A copy of sleep under a name of our own: the tracker follows every process of
    # that name, and the test kills each one, so it must never match anyone else's.
    name = f"hacslp{os.getpid()}"[:15]
    program = tmp_path / name
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    proc = subprocess.Popen([str(program), "30"])
    try:
        tracker = ProcessTracker("chk_sleep", name, rescan=10)
        reports: list[tuple[float, bool]] = []
        tracker.start(lambda name, ok, cause: reports.append((time.monotonic(), ok)),
                      lambda line: None)
        assert set(tracker.pids) == {proc.pid} and reports[-1][1] is True
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        for _ in range(100):
            if reports[-1][1] is False:
                break
            await asyncio.sleep(0.002)
        assert reports[-1][1] is False and reports[-1][0] - killed < 0.05
        await tracker.stop()
    finally:
        proc.kill()
        proc.wait()
    assert proc.pid not in find_processes(name)


async def test_notify_scripts_get_keepalived_arguments(tmp_path):
    out = tmp_path / "notify.txt"
    inst = VrrpInstance(name="VI_1", notify=f"/bin/sh -c 'echo \"$@\" >> {out}' notify",
                        notify_master=f"/bin/sh -c 'echo master >> {out}'")
    assert notify_commands(inst, "BACKUP", 90)[-1][-4:] == ["INSTANCE", "VI_1", "BACKUP",
                                                              "90"]
    notifier = Notifier(Config(vrrp_instances=[inst]))
    notifier.on_event(ev.PriorityChange(0, "n", instance="VI_1", old=100, new=80))
    notifier.on_event(ev.Transition(0, "n", instance="VI_1", old="BACKUP", new="MASTER"))
    await notifier.wait()
    lines = out.read_text().splitlines()
    assert sorted(lines) == ["INSTANCE VI_1 MASTER 80", "master"]
