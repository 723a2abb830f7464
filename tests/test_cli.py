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
