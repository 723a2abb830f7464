"""The keepalived.conf parser: the model it builds and keepalived 2.2.7's verdicts.

These run without keepalived; tests/test_keepalived_parity.py checks the same corpus
against the real binary.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haconsole.config import Secret
from haconsole.keepalived.conf import (
    EXIT_CONFIG,
    EXIT_CONFIG_TEST,
    EXIT_MISSING_PARAMETER,
    EXIT_NO_CONFIG,
    EXIT_OK,
    Environment,
    Finding,
    ParseResult,
    parse_file,
    parse_text,
)

CONF = Path(__file__).parent / "data" / "conf"
EXAMPLES = Path(__file__).resolve().parent.parent / "configs" / "keepalived"
LAB_ENV = Environment(frozenset({"lo", "eth0", "eth1", "eth2", "eth3"}))


def verdicts(result: ParseResult) -> list[tuple[int, str, str]]:
    return [(f.line, f.severity, f.message) for f in result.findings]


def messages(result: ParseResult) -> list[str]:
    return [f.message for f in result.findings]


def instance_text(body: str, name: str = "VI_1") -> str:
    return f"vrrp_instance {name} {{\n{body}\n}}\n"


BASE = ("    interface eth0\n    virtual_router_id 51\n"
        "    virtual_ipaddress {\n        192.0.2.1\n    }")


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


def test_classic_nginx_master_model() -> None:
    result = parse_file(CONF / "nginx-master.conf")
    cfg = result.config
    inst = cfg.instance("VI_1")
    assert (inst.state, inst.priority, inst.virtual_router_id, inst.interface) == (
        "MASTER", 100, 51, "eth0")
    assert inst.version == 2 and inst.advert_int == 1.0
    assert inst.virtual_ipaddress[0].address == ipaddress.ip_interface("192.0.2.170/24")
    assert inst.auth_type == "PASS"
    assert inst.auth_pass == Secret("SuperSec"), "keepalived keeps the first 8 characters"
    assert [r.name for r in inst.track_script] == ["chk_nginx"]
    script = cfg.vrrp_scripts["chk_nginx"]
    assert (script.script, script.interval, script.weight, script.fall, script.rise) == (
        "/usr/bin/pgrep nginx", 2.0, -20, 2, 1)
    assert cfg.global_defs.router_id == "node1"
    assert cfg.global_defs.notification_email == ["ops@example.com"]
    assert inst.file.endswith("nginx-master.conf") and inst.line == 22


def test_auth_pass_is_never_shown() -> None:
    result = parse_file(CONF / "nginx-master.conf")
    text = repr(result.config) + str(result.config.instance("VI_1").auth_pass)
    assert "SuperSec" not in text


def test_truncated_auth_pass_is_a_warning_at_its_line() -> None:
    result = parse_file(CONF / "nginx-master.conf")
    assert (30, "warning", "Truncating auth_pass to 8 characters") in verdicts(result)


def test_unknown_state_defaults_to_backup() -> None:
    result = parse_text(instance_text("    state master\n" + BASE))
    assert result.config.instance("VI_1").state == "BACKUP"
    assert (2, "error", "(VI_1) unknown state 'master', defaulting to BACKUP") in verdicts(result)


def test_nopreempt_with_state_master_is_cleared_with_a_warning() -> None:
    result = parse_file(CONF / "nopreempt-master.conf")
    inst = result.config.instance("VI_1")
    assert inst.nopreempt is False and inst.preempt_delay == 0
    found = [f for f in result.findings if "nopreempt will not work" in f.message]
    assert found and found[0].severity == "warning" and not found[0].ka_line
    assert result.config.instance("VI_2").nopreempt is True


def test_missing_virtual_router_id_is_an_error_and_stops_the_checks() -> None:
    result = parse_file(CONF / "missing-vrid.conf")
    assert [f.severity for f in result.findings] == ["error"]
    assert messages(result) == ["(VI_1) the virtual router id must be set"]
    assert result.keepalived_status() == EXIT_CONFIG_TEST


def test_out_of_range_priority_falls_back_to_default() -> None:
    result = parse_text(instance_text(BASE + "\n    priority 256"))
    assert result.config.instance("VI_1").priority == 100
    assert messages(result) == [
        "number '256' outside range [1, 255]",
        "(VI_1) Priority not valid! must be between 1 & 255. Using default 100",
    ]


def test_number_parsing_follows_c() -> None:
    result = parse_file(CONF / "vrid-range.conf")
    assert "invalid number 'abc'" in messages(result)
    assert "negative number '-3'" in messages(result)
    assert "number '99999999999999999999999' outside unsigned integer range" in messages(result)
    assert result.config.instance("VI_1").virtual_router_id == 51


def test_advert_int_decimal_and_rounding() -> None:
    result = parse_file(CONF / "advert-int.conf")
    assert "number '0.001' outside range [0.010000, 255.000000]" in messages(result)
    assert "number '1.0000001' has too many decimal places" in messages(result)
    assert "(VI_1) VRRPv2 advertisement interval 1.500000s must be an integer. rounding" in \
        messages(result)
    assert result.config.instance("VI_1").advert_int == 2.0
    assert result.config.instance("VI_2").advert_int == pytest.approx(40.95)


def test_priority_from_state_when_not_set() -> None:
    result = parse_text(instance_text("    state MASTER\n" + BASE))
    assert result.config.instance("VI_1").priority == 255


def test_ipv6_instance_is_vrrp_version_3() -> None:
    result = parse_file(CONF / "v3-ipv6.conf")
    v6 = result.config.instance("VI_V6")
    assert v6.version == 3 and v6.family == 6 and v6.advert_int == 0.5
    assert [str(v) for v in v6.virtual_ipaddress] == ["fe80::53", "2001:db8::100"]
    assert result.config.instance("VI_V3").advert_int == pytest.approx(0.02)


def test_virtual_ipaddress_options() -> None:
    result = parse_file(CONF / "vips.conf", LAB_ENV)
    vips = {str(v): v for v in result.config.instance("VI_1").virtual_ipaddress}
    assert vips["192.0.2.20"].dev == "eth0" and vips["192.0.2.20"].label == "eth0:1"
    assert vips["192.0.2.21"].brd == ipaddress.ip_address("192.0.2.255")
    assert vips["192.0.2.21"].scope == "link"
    assert vips["192.0.2.22"].brd == ipaddress.ip_address("192.0.2.0")
    assert vips["192.0.2.24"].address.network.prefixlen == 32, "bad prefix falls back to /32"
    assert "192.0.2.300" not in vips and "2001:db8::20" not in vips
    excluded = result.config.instance("VI_1").virtual_ipaddress_excluded
    assert [str(v) for v in excluded] == ["198.51.100.1", "2001:db8:1::1"]
    assert "VRRP parsed invalid IP 192.0.2.300. skipping IP..." in messages(result)
    assert "No label parameter specified for 192.0.2.29" in messages(result)


def test_track_script_weights_and_unknown_scripts() -> None:
    result = parse_file(CONF / "track-script.conf")
    refs = {r.name: r for r in result.config.instance("VI_1").track_script}
    assert refs["chk_a"].weight is None, "no override: the script's own weight applies"
    assert refs["chk_b"].weight == 253 and refs["chk_b"].reverse is True
    assert "(VI_1) track script chk_missing not found, ignoring..." in messages(result)
    assert "(VI_1) duplicate track_script chk_a - ignoring" in messages(result)


def test_script_must_be_defined_before_use() -> None:
    result = parse_file(CONF / "script-order.conf")
    assert result.config.instance("VI_1").track_script == []
    assert "(VI_1) track script chk_late not found, ignoring..." in messages(result)


def test_sync_group_membership_and_weights() -> None:
    result = parse_file(CONF / "sync-group-weights.conf")
    cfg = result.config
    assert cfg.instance("VI_A").sync_group == "G1"
    assert cfg.instance("VI_A").track_script == [], "weights are ignored in a sync group"
    assert cfg.instance("VI_C").track_script != [], "unless sync_group_tracking_weight"
    assert "(VI_A) ignoring tracked script chk with weights due to SYNC group" in \
        messages(result)


def test_address_owner_ignores_weights_and_nopreempt() -> None:
    result = parse_file(CONF / "address-owner.conf")
    owner = result.config.instance("VI_OWNER")
    assert owner.priority == 255 and owner.nopreempt is False
    assert owner.track_script == []
    assert [r.name for r in owner.track_interface] == ["eth2"]


def test_vrid_conflict_on_one_interface() -> None:
    result = parse_file(CONF / "vrid-conflict.conf")
    assert "VI_A and VI_B both use VRID 45 with IPv4 on interface eth0" in messages(result)
    assert not any("VI_C" in m for m in messages(result)), "another interface is fine"


def test_lvs_is_recognised_not_supported() -> None:
    result = parse_file(CONF / "lvs.conf")
    info = [f for f in result.findings if f.origin == "haconsole"]
    assert [(f.line, f.severity) for f in info] == [(8, "info"), (20, "info")]
    assert result.errors == []
    assert len(result.config.vrrp_instances) == 1


# --------------------------------------------------------------------------------------
# Reading lines: comments, quotes, braces, includes, definitions
# --------------------------------------------------------------------------------------


def test_comments_and_escapes() -> None:
    result = parse_file(CONF / "comments.conf")
    assert result.findings == []
    assert result.config.global_defs.notification_email_from == "ops#1@example.com"
    assert result.config.global_defs.router_id == "n1"


def test_unknown_keyword_block_leaks_into_the_parent() -> None:
    """keepalived does not skip an unknown keyword's block: its `}` closes the instance."""
    result = parse_file(CONF / "unknown-block-leak.conf")
    assert verdicts(result)[:5] == [
        (6, "error", "Unknown keyword 'unknown_block'"),
        (6, "error", "Unexpected '{' - ignoring"),
        (7, "error", "Unknown keyword 'foo'"),
        (9, "error", "Unknown keyword 'priority'"),
        (10, "error", "Unknown keyword 'virtual_ipaddress'"),
    ]
    assert result.config.instance("VI_1").priority == 100


def test_keywords_are_case_sensitive() -> None:
    result = parse_file(CONF / "wrong-case.conf")
    assert "Unknown keyword 'Global_defs'" in messages(result)
    assert "Unknown keyword 'STATE'" in messages(result)
    assert "(VI_1) unknown authentication type 'pass'" in messages(result)


def test_braces_on_one_line_and_extra_braces() -> None:
    result = parse_file(CONF / "braces-extra.conf")
    assert (4, "error", "Extra '}' found") in verdicts(result)
    assert result.config.instance("VI_1").virtual_router_id == 49


def test_unterminated_blocks_are_reported_at_the_open_brace() -> None:
    result = parse_file(CONF / "braces-missing.conf")
    missing = [f for f in result.findings if "missing '}'" in f.message]
    assert [(f.line, f.message) for f in missing] == [
        (1, "There are 2 missing '}'s or extra '{'s")]


def test_missing_parameter_stops_like_keepalived() -> None:
    result = parse_file(CONF / "missing-param.conf")
    assert result.fatal and result.keepalived_status() == EXIT_MISSING_PARAMETER
    assert "*** Configuration line starting `priority` is missing a parameter after keyword " \
        "`priority` at word position 2" in messages(result)
    assert "Unknown keyword 'this_is_never_read'" in messages(result), "parent pass ran"


def test_include_glob_relative_to_including_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = parse_file(CONF / "include-glob.conf")
    inst = result.config.instance("VI_INC")
    assert inst.file.endswith("conf.d/20-instance.conf")
    assert inst.auth_pass == Secret("fromafra")
    assert [str(v) for v in inst.virtual_ipaddress] == ["192.0.2.56"]
    bogus = [f for f in result.findings if "bogus_in_include" in f.message]
    assert bogus and bogus[0].file.endswith("conf.d/10-script.conf") and bogus[0].line == 4
    assert len(result.files) == 5


def test_include_loop_terminates(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include a.conf\nbogus\n")
    result = parse_file(tmp_path / "a.conf")
    assert any(f.message.startswith("include loop") for f in result.findings)
    assert "Unknown keyword 'bogus'" in messages(result)


def test_include_letters_make_errors_and_stop_keepalived() -> None:
    result = parse_file(CONF / "include-required.conf")
    assert result.no_config and result.keepalived_status() == EXIT_NO_CONFIG
    assert [f.severity for f in result.findings] == ["error"] * 4


def test_definitions_are_substituted() -> None:
    result = parse_file(CONF / "definitions.conf")
    assert "Unknown keyword '$VRID'" in messages(result), "`$NAME = x` is not a definition"
    assert result.config.instance("VI_1").interface == "eth0"


def test_config_id_selects_lines() -> None:
    node_a = parse_file(CONF / "config-id.conf", Environment(config_id="node-a-haconsole-test"))
    other = parse_file(CONF / "config-id.conf", Environment(config_id="node-b"))
    assert node_a.config.global_defs.router_id == "a"
    assert node_a.config.instance("VI_1").priority == 200
    assert other.config.global_defs.router_id == "not_a"
    assert other.config.instance("VI_1").priority == 100
    assert node_a.findings == [] and messages(other) == [
        "Unknown keyword 'bogus_only_off_node_a'"]


# --------------------------------------------------------------------------------------
# What keepalived learns from the machine
# --------------------------------------------------------------------------------------


def test_interfaces_unknown_by_default_except_loopback() -> None:
    assert parse_file(CONF / "interface-missing.conf").findings == []
    result = parse_file(CONF / "interface-missing.conf", LAB_ENV)
    assert result.keepalived_status() == EXIT_CONFIG_TEST
    assert "WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist" in messages(result)
    assert "Non-existent interface specified in configuration" in messages(result)
    lo = parse_file(CONF / "interface-lo.conf")
    assert "(VI_1) cannot use a loopback interface (lo) for vrrp - ignoring" in messages(lo)


def test_fatal_interface_gives_exit_4() -> None:
    assert parse_file(CONF / "linkbeat-only.conf", LAB_ENV).keepalived_status() == EXIT_CONFIG


def test_scripts_checked_only_when_asked() -> None:
    assumed = parse_file(CONF / "script-missing-file.conf")
    assert assumed.findings == []
    local = parse_file(CONF / "script-missing-file.conf", Environment(check_scripts=True))
    assert "Disabling track script chk_gone since not found/accessible" in messages(local)


def test_security_violation_without_script_security() -> None:
    result = parse_file(CONF / "nginx-backup.conf")
    assert [f.message for f in result.findings if f.ka_level == "SECURITY_ERROR"] == [
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled."]
    assert parse_file(CONF / "script-security-ok.conf").findings == []


# --------------------------------------------------------------------------------------
# Whatever the file holds: findings, never a traceback
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.conf", "only-comments.conf", "binary.conf",
                                  "deep-nesting.conf", "braces-missing.conf"])
def test_odd_files_parse(name: str) -> None:
    result = parse_file(CONF / name)
    assert isinstance(result.findings, list)


def test_empty_file_is_clean() -> None:
    result = parse_file(CONF / "empty.conf")
    assert result.findings == [] and result.keepalived_status() == EXIT_OK


def test_unreadable_file_is_a_finding(tmp_path: Path) -> None:
    result = parse_file(tmp_path / "nope.conf")
    assert [f.severity for f in result.findings] == ["error"]
    directory = parse_file(tmp_path)
    assert directory.errors


def test_very_deep_nesting_and_long_lines() -> None:
    text = "vrrp_instance V {\n" + "{\n" * 20000 + "x" * 5000 + "\n" + "}\n" * 20000
    result = parse_text(text)
    assert any("Unexpected '{'" in f.message for f in result.findings)


TOKENS = st.sampled_from([
    "vrrp_instance", "VI_1", "{", "}", "\n", " ", "\"", "'", "#", "!", "\\", "$X=1", "$X",
    "include", "interface", "eth0", "virtual_router_id", "300", "-1", "1.5", "priority",
    "virtual_ipaddress", "192.0.2.1/24", "fe80::1", "track_script", "chk", "vrrp_script",
    "script", "weight", "authentication", "auth_pass", "global_defs", "vrrp_sync_group",
    "group", "@n", "~SEQ", "\x00", "\xff", "state", "MASTER", "nopreempt", "unicast_peer",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=80))
def test_any_token_soup_parses(tokens: list[str]) -> None:
    result = parse_text(" ".join(tokens))
    for finding in result.findings:
        assert isinstance(finding, Finding) and finding.severity in ("error", "warning", "info")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_parse(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "k.conf"
    path.write_bytes(data)
    parse_file(path)


def test_examples_are_clean() -> None:
    for path in sorted(EXAMPLES.glob("*.conf")):
        assert parse_file(path).findings == [], path.name


@pytest.mark.parametrize(("name", "runnable"), [
    ("nginx-master.conf", True),          # warnings only
    ("unknown-keyword.conf", True),       # keepalived runs, ignoring the unknown words
    ("missing-vrid.conf", False),         # vrrp gives up
    ("missing-param.conf", False),        # keepalived exits
    ("include-required.conf", False),     # includem/r/w/b failure
    ("no-vip.conf", False),               # VRRPv3 without a VIP
])
def test_runnable_says_whether_keepalived_would_start(name: str, runnable: bool) -> None:
    assert parse_file(CONF / name, LAB_ENV).runnable is runnable


def test_garp_master_refresh_from_the_instance_or_the_global_default() -> None:
    text = """global_defs {
    vrrp_garp_master_refresh 30
    vrrp_garp_master_refresh_repeat 2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.170/24
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 100
    garp_master_refresh 5
    garp_master_refresh_repeat 0
    virtual_ipaddress {
        192.0.2.171/24
    }
}
"""
    result = parse_text(text, env=LAB_ENV)
    first, second = result.config.vrrp_instances
    assert (first.garp_master_refresh, first.garp_master_refresh_repeat) == (30, 2)
    assert (second.garp_master_refresh, second.garp_master_refresh_repeat) == (5, 1)
    assert messages(result) == ["(VI_2): garp_master_refresh_repeat must be greater than 0, "
                                "setting to 1"]
