"""`haconsole check`: output forms, exit status, cross-node checks and the what-if table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from haconsole.cli import main
from haconsole.keepalived.check import check_files, what_if_table
from haconsole.keepalived.conf import parse_file

CONF = Path(__file__).parent / "data" / "conf"
EXAMPLES = Path(__file__).resolve().parent.parent / "configs" / "keepalived"
FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<sev>error|warning|info): (?P<msg>.+)$")


def node(tmp_path: Path, name: str, *, priority: int = 100, state: str = "BACKUP",
         vrid: int = 51, advert: str = "1", password: str = "secret", vips: str = "192.0.2.170",
         extra: str = "", script_weight: int = -20, instance: str = "VI_1",
         interface: str = "eth0") -> str:
    """One node's keepalived.conf in the classic shape, with the knobs the tests turn."""
    vip_lines = "\n".join(f"        {v}" for v in vips.split())
    text = f"""global_defs {{
    router_id {name}
    script_user root
    enable_script_security
}}
vrrp_script chk_nginx {{
    script "/usr/bin/pgrep nginx"
    weight {script_weight}
}}
vrrp_instance {instance} {{
    state {state}
    interface {interface}
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert}
    authentication {{
        auth_type PASS
        auth_pass {password}
    }}
    virtual_ipaddress {{
{vip_lines}
    }}
    track_script {{
        chk_nginx
    }}
{extra}
}}
"""
    path = tmp_path / f"{name}.conf"
    path.write_text(text)
    return str(path)


def pair(tmp_path: Path, first: dict | None = None, second: dict | None = None) -> list[str]:
    a = {"priority": 100, "state": "MASTER", **(first or {})}
    b = {"priority": 90, **(second or {})}
    return [node(tmp_path, "node1", **a), node(tmp_path, "node2", **b)]


def cross_messages(paths: list[str]) -> list[str]:
    return [f.message for f in check_files(paths).findings if f.origin == "haconsole"]


# --------------------------------------------------------------------------------------
# Output and exit status
# --------------------------------------------------------------------------------------


def test_text_output_is_file_line_severity_message(capsys) -> None:
    status = main(["check", str(CONF / "unknown-keyword.conf")])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 1
    assert out and all(FINDING.match(line) for line in out)
    first = FINDING.match(out[0])
    assert first is not None
    assert first["file"].endswith("unknown-keyword.conf") and first["line"] == "3"
    assert first["msg"] == "Unknown keyword 'routerid'"


def test_warnings_only_exit_zero(capsys) -> None:
    assert main(["check", str(CONF / "nginx-master.conf")]) == 0
    out = capsys.readouterr().out
    assert ":30: warning: Truncating auth_pass to 8 characters" in out


def test_clean_pair_prints_nothing(capsys) -> None:
    assert main(["check", str(EXAMPLES / "nginx-node1.conf"),
                 str(EXAMPLES / "nginx-node2.conf")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2 files, 0 errors, 0 warnings" in captured.err


def test_json_output(capsys) -> None:
    status = main(["check", "--json", str(CONF / "missing-vrid.conf")])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["errors"] == 1
    assert doc["findings"] == [{
        "file": str(CONF / "missing-vrid.conf"), "line": 1, "severity": "error",
        "message": "(VI_1) the virtual router id must be set", "origin": "keepalived"}]


def test_json_never_contains_the_password(capsys) -> None:
    main(["check", "--json", "--what-if", str(CONF / "nginx-master.conf"),
          str(CONF / "nginx-backup.conf")])
    out = capsys.readouterr().out
    assert "SuperSec" not in out and json.loads(out)["what_if"]


@pytest.mark.parametrize("name", ["binary.conf", "empty.conf", "deep-nesting.conf",
                                  "braces-missing.conf", "include-loop.conf"])
def test_no_traceback_whatever_the_file_holds(name: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "haconsole", "check", str(CONF / name)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "haconsole check: 1 file" in proc.stderr


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path, capsys) -> None:
    assert main(["check", str(tmp_path / "absent.conf")]) == 1
    assert "error" in capsys.readouterr().out


@pytest.mark.parametrize("stem", ["nginx", "nopreempt", "unicast", "v3-ipv6"])
def test_example_pairs_are_clean(stem: str) -> None:
    report = check_files([str(EXAMPLES / f"{stem}-node1.conf"),
                          str(EXAMPLES / f"{stem}-node2.conf")])
    assert report.findings == [] and report.exit_status == 0


# --------------------------------------------------------------------------------------
# Cross-node checks
# --------------------------------------------------------------------------------------


def test_settings_carried_by_adverts_must_match(tmp_path: Path) -> None:
    paths = pair(tmp_path, second={"vrid": 52, "advert": "2", "password": "other",
                                   "vips": "192.0.2.170 192.0.2.171"})
    report = check_files(paths)
    msgs = [f.message for f in report.findings]
    assert report.exit_status == 1
    assert any("virtual_router_id 52 here but 51 in node1.conf" in m for m in msgs)
    assert any("advert_int 2s here but 1s in node1.conf" in m for m in msgs)
    assert any("authentication (auth_pass) differs from node1.conf" in m for m in msgs)
    assert any("only here: 192.0.2.171; only there: -" in m for m in msgs)
    assert not any("other" in m or "secret" in m for m in msgs), "passwords stay secret"
    flagged = [f for f in report.findings if "virtual_router_id" in f.message]
    assert flagged[0].file.endswith("node2.conf") and flagged[0].line == 10


def test_version_mismatch(tmp_path: Path) -> None:
    paths = pair(tmp_path, second={"extra": "    version 3"})
    assert any("VRRP version 3 here but 2 in node1.conf" in m for m in cross_messages(paths))


def test_equal_priorities_and_two_masters(tmp_path: Path) -> None:
    paths = pair(tmp_path, second={"priority": 100, "state": "MASTER"})
    msgs = cross_messages(paths)
    assert any("priority 100 on several nodes" in m for m in msgs)
    assert any("state MASTER on 2 nodes" in m for m in msgs)


def test_nopreempt_must_be_on_every_node(tmp_path: Path) -> None:
    paths = pair(tmp_path, {"state": "BACKUP", "extra": "    nopreempt", "script_weight": 0},
                 {"script_weight": 0})
    msgs = cross_messages(paths)
    assert any("nopreempt on node1.conf but not here" in m for m in msgs)


def test_nopreempt_with_negative_weight_is_a_trap(tmp_path: Path) -> None:
    paths = pair(tmp_path, {"state": "BACKUP", "extra": "    nopreempt"},
                 {"extra": "    nopreempt"})
    assert any("nopreempt with a negative track weight" in m for m in cross_messages(paths))


def test_unicast_peers_point_at_each_other(tmp_path: Path) -> None:
    a = "    unicast_src_ip 192.0.2.11\n    unicast_peer {\n        192.0.2.12\n    }"
    b = "    unicast_src_ip 192.0.2.12\n    unicast_peer {\n        192.0.2.99\n    }"
    msgs = cross_messages(pair(tmp_path, {"extra": a}, {"extra": b}))
    assert any("unicast_peer does not list 192.0.2.11 (node1.conf's unicast_src_ip)" in m
               for m in msgs)
    good = b.replace("192.0.2.99", "192.0.2.11")
    assert not any("unicast" in m for m in cross_messages(pair(tmp_path, {"extra": a},
                                                               {"extra": good})))
    mixed = cross_messages(pair(tmp_path, {"extra": a}))
    assert any("multicast here but unicast in node1.conf" in m for m in mixed)


def test_vrid_reused_by_another_instance_on_the_interface(tmp_path: Path) -> None:
    paths = [node(tmp_path, "node1", state="MASTER"),
             node(tmp_path, "node2", priority=90, instance="VI_WEB")]
    msgs = cross_messages(paths)
    assert any("VRID 51 on eth0 is also VI_1 in node1.conf" in m for m in msgs)
    assert any("VI_1: not defined in node2.conf" in m for m in msgs)


def test_weight_too_small_to_move_the_vip(tmp_path: Path) -> None:
    """The classic trap: 100 - 20 = 80 is still above a backup at 70."""
    paths = pair(tmp_path, second={"priority": 70})
    traps = [f for f in check_files(paths).findings if "does not move" in f.message]
    assert len(traps) == 1 and traps[0].severity == "warning"
    assert "drops 100 -> 80, still above node2.conf's 70" in traps[0].message
    assert "weight -31 or lower" in traps[0].message
    assert not any("does not move" in m for m in cross_messages(pair(tmp_path)))


# --------------------------------------------------------------------------------------
# What-if
# --------------------------------------------------------------------------------------


def rows_by_event(paths: list[str]) -> dict[tuple[str, str], tuple[str, float | None]]:
    configs = [(Path(p).name, parse_file(p).config) for p in paths]
    return {(r.node, r.event): (r.master_after, r.vip_moves_after)
            for r in what_if_table(configs)}


def test_what_if_timings_match_the_rfc(tmp_path: Path) -> None:
    rows = rows_by_event(pair(tmp_path))
    after, moved = rows[("node1.conf", "check chk_nginx fails")]
    assert after == "node2.conf" and moved == pytest.approx(3 + (256 - 90) / 256, abs=1e-3)
    after, moved = rows[("node1.conf", "node stops cleanly")]
    assert after == "node2.conf" and moved == pytest.approx((256 - 90) / 256, abs=1e-3)
    assert rows[("node2.conf", "node dies")] == ("node1.conf", None)


def test_what_if_shows_the_trap(tmp_path: Path) -> None:
    rows = rows_by_event(pair(tmp_path, second={"priority": 70}))
    assert rows[("node1.conf", "check chk_nginx fails")] == ("node1.conf", None)
    assert rows[("node1.conf", "node dies")][0] == "node2.conf"


def test_what_if_table_in_the_cli(tmp_path: Path, capsys) -> None:
    assert main(["check", "--what-if", *pair(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "what-if" in out
    line = next(row for row in out.splitlines() if "node stops cleanly" in row
                and "node1.conf  node1.conf" not in row and row.split()[1] == "node1.conf")
    assert "0.648 s" in line


def test_what_if_fault_moves_the_vip_with_nopreempt(tmp_path: Path) -> None:
    paths = pair(tmp_path, {"state": "BACKUP", "extra": "    nopreempt", "script_weight": 0},
                 {"extra": "    nopreempt", "script_weight": 0})
    after, moved = rows_by_event(paths)[("node1.conf", "check chk_nginx fails")]
    assert after == "node2.conf" and moved is not None and moved < 1.0


# -- which keepalived judges, and warnings `keepalived -t` fails on -------------------------

SECURITY = """vrrp_script chk {
    script "/usr/bin/true"
    interval 1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 11
    priority 100
    track_script {
        chk
    }
    virtual_ipaddress {
        192.0.2.11
    }
}
"""
NO_VIP = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 12
    priority 100
}
"""
OWNER_TRACKS = """global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "/usr/bin/true"
    weight -20
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 13
    priority 255
    track_script {
        chk
    }
    virtual_ipaddress {
        192.0.2.13
    }
}
"""


@pytest.mark.parametrize(("text", "message", "status"), [
    (SECURITY, "SECURITY VIOLATION - scripts are being executed but script_security not "
               "enabled.", 6),
    (NO_VIP, "(VI_1) No VIP specified; at least one is sensible", 5),
    (OWNER_TRACKS, "(VI_1) ignoring tracked script chk with weights due to address_owner", 5),
])
@pytest.mark.parametrize("version", ["2.2.7", "2.4"])
def test_warnings_keepalived_t_rejects_say_so(tmp_path, capsys, text, message, status,
                                              version):
    """No error from haconsole, but `keepalived -t` exits non-zero (its daemon starts all
    the same): the warning and the summary both say that keepalived's test rejects it."""
    conf = tmp_path / "node1.conf"
    conf.write_text(text)
    assert main(["check", "--keepalived-version", version, str(conf)]) == 0
    out, err = capsys.readouterr()
    line = next(ln for ln in out.splitlines() if message in ln)
    m = FINDING.match(line)
    assert m is not None and m["sev"] == "warning"
    assert m["msg"].endswith(f"[keepalived {version} -t rejects this (exit {status}); its "
                             "daemon still starts]")
    assert "0 errors" in err
    assert f"but keepalived {version} -t rejects node1.conf (exit {status})" in err


def test_clean_config_has_no_rejection_note(capsys):
    assert main(["check", str(EXAMPLES / "nginx-node1.conf")]) == 0
    _, err = capsys.readouterr()
    assert "rejects" not in err


def test_json_carries_the_version_and_keepalived_test_status(tmp_path, capsys):
    conf = tmp_path / "n.conf"
    conf.write_text(SECURITY)
    main(["check", "--json", "--keepalived-version", "2.2.7", str(conf)])
    doc = json.loads(capsys.readouterr().out)
    assert doc["keepalived_version"] == "2.2.7"
    assert doc["keepalived_test_status"] == {str(conf): 6}
    assert any("rejects this (exit 6)" in f.get("note", "") for f in doc["findings"])


def test_version_decides_which_keywords_exist(capsys):
    """2.3/2.4 keywords are unknown to 2.2.7, as 2.2.7 itself says."""
    path = str(CONF / "keywords-2.3.conf")
    assert main(["check", "--keepalived-version", "2.2.7", path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:4: error: Unknown keyword 'json_version'" in out
    assert f"{path}:51: error: Unknown keyword 'no_virtual_ipaddress'" in out
    for version in ("2.3", "2.4"):
        main(["check", "--keepalived-version", version, path])
        out = capsys.readouterr().out
        assert "Unknown keyword" not in out and "error:" not in out


def test_auth_hmac_is_2_4_only(capsys):
    path = str(CONF / "auth-hmac.conf")
    main(["check", "--keepalived-version", "2.3", path])
    assert f"{path}:6: error: Unknown keyword 'auth_hmac'" in capsys.readouterr().out
    main(["check", "--keepalived-version", "2.4", path])
    out = capsys.readouterr().out
    assert "Unknown keyword" not in out
    assert "(VI_BAD) auth_hmac key 1 length 9 not in range [32, 64]" in out


def test_local_judges_like_the_installed_keepalived(tmp_path, monkeypatch):
    """--local asks the keepalived on PATH for its release and build features."""
    from haconsole.keepalived.conf import Environment

    fake = tmp_path / "keepalived"
    fake.write_text("#!/bin/sh\necho 'Keepalived v2.3.2 (11/03,2024)' >&2\n"
                    "echo 'Config options:  VRRP VRRP_AUTH JSON' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    env = Environment.local()
    assert env.version == "2.3"
    assert env.has("VRRP_AUTH") and not env.has("LVS") and not env.has("FIREWALL")
    # without LVS keepalived does not know virtual_server at all
    result = parse_file(CONF / "lvs.conf", env)
    assert any(f.message == "Unknown keyword 'virtual_server'" for f in result.findings)
