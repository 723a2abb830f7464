"""The command line: help, clear errors, the text-mode lab with a scenario."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import need, need_program

from haconsole.cli import main


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haconsole", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help_lists_commands() -> None:
    p = run("--help")
    assert p.returncode == 0
    for word in ("lab", "check", "watch"):
        assert word in p.stdout


def test_bad_lab_file_is_one_clear_line(tmp_path, capsys) -> None:
    bad = tmp_path / "lab.toml"
    bad.write_text("[[node]]\nname = 'a'\naddress = 'nope'\n")
    assert main(["lab", "--text", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an IP address" in err and str(bad) in err


def test_text_lab_plays_a_scenario() -> None:
    p = run("lab", "--text", "--duration", "9", "--scenario", "4.5:stop nginx1")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "nginx1 | " in out and "(VI_1) Entering MASTER STATE" in out
    assert "stop nginx on nginx1: done" in out
    assert "VRRP_Script(chk_nginx) failed (exited with status 1)" in out
    assert "lab-pass" not in out


def test_text_lab_records_and_serves_metrics_as_the_console_does(tmp_path) -> None:
    """--record and --metrics in text mode (--text, or stdout not a terminal as under
    nohup) were taken and did nothing: the recording is written and the endpoint
    answers, from the same events the lines are printed from."""
    import socket
    import time
    import urllib.request

    from haconsole.cluster import events as ev
    from haconsole.record import Recording

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "lab.hcr"
    proc = subprocess.Popen([sys.executable, "-m", "haconsole", "lab", "--text", "--duration",
                             "8", "--record", str(path), "--metrics", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end, body = time.monotonic() + 30, ""
        while 'node="nginx1"' not in body and time.monotonic() < end and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                            timeout=2) as answer:
                    body = answer.read().decode()
            except OSError:
                time.sleep(0.1)
                continue
            if "keepalived_vrrp_state{" not in body:
                time.sleep(0.2)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert 'keepalived_vrrp_state{' in body and 'node="nginx1"' in body
    assert "lab-pass" not in body
    assert "(VI_1) Entering MASTER STATE" in out
    with Recording.open(path) as rec:
        assert rec.closed_cleanly
        events = list(rec.events())
    assert any(isinstance(e, ev.Transition) and e.new == "MASTER" for e in events)
    assert b"lab-pass" not in path.read_bytes()


def test_netns_text_mode_refuses_record_and_metrics_in_one_line(capsys) -> None:
    """The namespace lab's text mode tails the engines' log files: with nothing to record
    or count it says so (exit 2) instead of taking the options and doing nothing."""
    need(os.geteuid() == 0, "needs root: the check under test comes after the root check")
    assert main(["lab", "--netns", "--text", "--record", "x.hcr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--record needs the console" in err[0], err


def test_connect_text_mode_hands_every_event_to_the_tap() -> None:
    """`connect --text` prints lines and gives the same events to `TextTap` (--record,
    --metrics), history and live alike."""
    import asyncio
    import io

    from haconsole.cluster import events as ev
    from haconsole.console.cli import Extras, TextTap, run_text

    class Fleet:
        nodes = ("n1",)

        async def start(self, publish):
            publish(ev.LogLine(1.0, "n1", text="(VI_1) Entering MASTER STATE"))
            publish(ev.Transition(1.0, "n1", instance="VI_1", old="BACKUP", new="MASTER",
                                  reason="advert timeout"))

        async def stop(self):
            pass

    recorded: list[object] = []
    extras = Extras(observers=[recorded.extend])
    tap = TextTap(extras)
    out = io.StringIO()
    asyncio.run(tap.around(run_text(Fleet(), duration=0.01, out=out, observe=tap)))
    assert "(VI_1) Entering MASTER STATE" in out.getvalue()
    assert [type(e).__name__ for e in recorded] == ["LogLine", "Transition"]


def test_bad_scenario_and_node_count_are_one_line(capsys) -> None:
    assert main(["lab", "--text", "--scenario", "nan:stop nginx1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("haconsole: --scenario: step 'nan:stop")
    assert main(["lab", "--text", "--scenario", "5:stop nginx7"]) == 2
    assert "no node 'nginx7' in the lab" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["lab", "--text", "-n", "0"])
    assert info.value.code == 2
    assert "a lab has 1..50 nodes, not 0" in capsys.readouterr().err


def test_netns_lab_without_cap_sys_admin_says_what_is_missing() -> None:
    need(os.geteuid() == 0, "needs root: the check under test comes after the root check")
    need_program("setpriv")
    p = subprocess.run(["setpriv", "--inh-caps=-all", "--ambient-caps=-all",
                        "--bounding-set=-sys_admin", sys.executable, "-m", "haconsole", "lab",
                        "--netns", "--duration", "1"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs CAP_SYS_ADMIN" in lines[0], p.stderr


def test_connect_takes_an_inventory_or_prometheus_not_both(tmp_path, capsys) -> None:
    inventory = tmp_path / "inv.toml"
    inventory.write_text('[[node]]\nname = "n1"\nhost = "192.0.2.11"\n')
    assert main(["connect"]) == 2
    assert main(["connect", str(inventory), "--prometheus", "http://127.0.0.1:9/"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["haconsole connect: give an INVENTORY or --prometheus URL (one of them)"] * 2


def test_connect_record_and_metrics_flags_are_checked(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["connect", "x.toml", "--metrics", "not-a-port"])
    assert "metrics" in capsys.readouterr().err


def test_connect_prometheus_honours_text_mode() -> None:
    """`connect --prometheus URL --text` (or not on a terminal) prints lines and stops
    after --duration; it used to start the full-screen console regardless."""
    p = run("connect", "--prometheus", "http://127.0.0.1:1/", "--text", "--duration", "1.5",
            timeout=30)
    assert p.returncode == 0, p.stderr
    assert "STALE cannot reach http://127.0.0.1:1" in p.stdout
    assert "\x1b[" not in p.stdout  # no terminal drawing
