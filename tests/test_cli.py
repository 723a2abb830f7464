"""The command line: help, clear errors, the text-mode lab with a scenario."""

from __future__ import annotations

import subprocess
import sys

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
