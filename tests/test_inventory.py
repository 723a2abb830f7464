"""The SSH inventory: the issue's schema, defaults, and FILE:LINE errors (never a traceback)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from haconsole.config import ConfigError
from haconsole.console.cli import add_connect_arguments as add_arguments
from haconsole.console.cli import main_connect
from haconsole.sources.connect import build_fleet
from haconsole.sources.inventory import DEFAULT_COMMANDS, load_inventory, parse_inventory

ROOT = Path(__file__).resolve().parent.parent

ISSUE_EXAMPLE = '''\
name = "prod-edge"              # cluster name shown in the header (optional)
[[node]]
name = "edge1"                  # shown in the console; also the SSH host by default
host = "edge1.example.org"      # optional: address or ~/.ssh/config alias
port = 22                       # optional
user = "root"                   # optional (else ~/.ssh/config, else the local user)
kind = "keepalived"             # or "haconsole"
sudo = false                    # prefix remote commands with `sudo -n`
pidfile = "/run/keepalived.pid" # optional, else pgrep
log_file = ""                   # optional: tail -F this instead of journalctl
jump = ""                       # optional ProxyJump host
[node.commands]                 # optional per-node overrides of the action templates
stop_service = "systemctl stop nginx"
start_service = "systemctl start nginx"
restart_agent = "systemctl restart keepalived"
'''


def test_the_issue_schema_parses() -> None:
    inv = parse_inventory(ISSUE_EXAMPLE, "prod.toml")
    assert inv.name == "prod-edge"
    (node,) = inv.nodes
    assert (node.name, node.host, node.port, node.user, node.kind) == \
        ("edge1", "edge1.example.org", 22, "root", "keepalived")
    assert node.pidfile == "/run/keepalived.pid" and not node.sudo and node.line == 2
    assert node.command("stop_service") == "systemctl stop nginx"
    assert node.command("stop_keepalived") == DEFAULT_COMMANDS["stop_keepalived"]


def test_minimal_node_defaults() -> None:
    inv = parse_inventory('[[node]]\nname = "lb1"\n')
    node = inv.nodes[0]
    assert node.host == "lb1" and node.port is None and node.user is None
    assert node.kind == "keepalived" and node.service == "nginx" and node.interval == 1.0
    assert node.target == "lb1"


def test_defaults_table_and_interval_apply_to_every_node() -> None:
    inv = parse_inventory('interval = 0.5\n[defaults]\nuser = "ops"\nsudo = true\n'
                          '[[node]]\nname = "a"\n[[node]]\nname = "b"\nuser = "root"\n')
    a, b = inv.nodes
    assert (a.user, a.sudo, a.interval) == ("ops", True, 0.5)
    assert (b.user, b.sudo) == ("root", True)
    assert b.target == "root@b"


def test_example_file_loads() -> None:
    inv = load_inventory(ROOT / "configs" / "inventory.example.toml")
    assert [n.name for n in inv.nodes] == ["edge1", "edge2", "edge3"]
    assert inv.nodes[2].kind == "haconsole"


@pytest.mark.parametrize(("text", "line", "words"), [
    ('name = "x"\n[[node]]\nname = "a"\nport = "22"\n', 4, "node.port: expected an integer"),
    ('[[node]]\nname = "a"\n\n[[node]]\nname = "b"\nkind = "ssh"\n', 6, "kind must be one of"),
    ('[[node]]\nname = "a"\n[[node]]\nname = "a"\n', 3, "already defined at line 1"),
    ('[[node]]\nhost = "h"\n', 1, "'name' is required"),
    ('[[node]]\nname = "a"\nprot = 22\n', 3, "unknown key 'prot'"),
    ('[[node]]\nname = "a"\nport = 70000\n', 3, "port must be 1..65535"),
    ('[[node]]\nname = "a"\nsudo = "yes"\n', 3, "expected true or false"),
    ('[[node]]\nname = "a"\n[node.commands]\nstop_service = "kill {pid}"\n', 4,
     "unknown placeholder {pid}"),
    ('[[node]]\nname = "a"\n[node.commands]\nstop_nginx = "x"\n', 4, "unknown command"),
    ('name = "x"\n', 1, "no [[node]] tables"),
    ('colour = 1\n[[node]]\nname = "a"\n', 1, "unknown key 'colour'"),
    ('interval = 0\n[[node]]\nname = "a"\n', 1, "interval: must be"),
    ('[defaults]\nnmae = "x"\n[[node]]\nname = "a"\n', 2, "defaults: unknown key"),
    ('[[node]]\nname = "edge 1"\n', 1, "needs a 'host'"),
    ('name = "x"\n[[node]]\nname = "a\n', 3, "Illegal character"),
    ('[[node]\nname = "a"\n', 1, ""),
])
def test_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_inventory(text, "inv.toml")
    err = info.value
    assert (err.file, err.line) == ("inv.toml", line), str(err)
    assert str(err).startswith(f"inv.toml:{line}: ")
    assert words in err.message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_inventory(tmp_path / "nope.toml")
    assert "cannot read inventory" in str(info.value)


def test_connect_prints_file_line_and_exits_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[node]]\nname = "a"\nkind = "telnet"\n')
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main_connect(parser.parse_args([str(bad)])) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: node 'a': kind must be one of keepalived, haconsole" in err
    assert "Traceback" not in err


def test_build_fleet_makes_one_source_per_kind() -> None:
    from haconsole.sources.agent_ssh import AgentSshSource
    from haconsole.sources.keepalived_ssh import KeepalivedSource

    inv = load_inventory(ROOT / "configs" / "inventory.example.toml")
    fleet = build_fleet(inv, readonly=True, accept_new_host_keys=True)
    assert fleet.name == "prod-edge" and fleet.readonly
    assert fleet.options.accept_new_host_keys
    assert isinstance(fleet.nodes["edge1"], KeepalivedSource)
    assert isinstance(fleet.nodes["edge3"], AgentSshSource)


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[[node]]\nname = "a"\nport = ' + "9" * 5000 + "\n", 3, "more than"),
    ("interval = " + "9" * 400 + '\n[[node]]\nname = "a"\n', 1, "interval: must be"),
    ('[[node]]\nname = "a"\ninterval = ' + "9" * 400 + "\n", 3, "interval must be"),
    ('[[node]]\nname = "a"\ninterval = nan\n', 3, "interval must be"),
    ("interval = inf\n[[node]]\nname = \"a\"\n", 1, "interval: must be"),
    ("a = " + "[" * 2000 + "]" * 2000 + "\n", 1, "nested too deeply"),
])
def test_numbers_no_python_can_read_are_file_line_errors(text: str, line: int,
                                                         words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_inventory(text, "inv.toml")
    assert info.value.line == line and words in info.value.message
    assert "\n" not in str(info.value)


def test_connect_on_a_binary_or_huge_file_is_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for name, data in (("bin.toml", b"name = 'x'\n\x00\xff\xfe"),
                       ("huge.toml", b"interval = " + b"1" * 400 + b"\n")):
        path = tmp_path / name
        path.write_bytes(data)
        assert main_connect(parser.parse_args([str(path)])) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"haconsole: {path}:")
