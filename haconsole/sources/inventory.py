"""The SSH inventory: which nodes `haconsole connect` reaches, and how.

Why a file of its own: an on-call engineer keeps one TOML per cluster (`prod.toml`) and
must get `FILE:LINE: message` for a mistake in it, never a traceback. Schema (keys may
be added, never renamed):

    name = "prod-edge"              # cluster name shown in the header (optional)
    interval = 1.0                  # optional: seconds between dumps (default 1)
    known_hosts = "~/.ssh/known_hosts"   # optional: where host keys are checked
    ssh_config = "~/.ssh/config"    # optional: OpenSSH client config to honour
    probe = ["http://192.0.2.170/"] # optional: what clients see through each VIP, probed
                                    # from this console's host ("URL" or "URL=VIP")
    [defaults]                      # optional: any node key, for every node
    user = "ops"
    [[node]]
    name = "edge1"                  # shown in the console; also the SSH host by default
    host = "edge1.example.org"      # optional: address or ~/.ssh/config alias
    port = 22                       # optional
    user = "root"                   # optional (else ~/.ssh/config, else the local user)
    kind = "keepalived"             # or "haconsole"
    sudo = false                    # prefix remote commands with `sudo -n`
    pidfile = "/run/keepalived.pid" # optional, else pgrep
    log_file = ""                   # optional: tail -F this instead of journalctl
    config = ""                     # optional: the keepalived.conf to read (dump paths,
                                    # notify FIFOs); else the running keepalived's -f, else
                                    # /etc/keepalived/keepalived.conf
    notify_fifo = false             # optional: read the conf's vrrp_notify_fifo/notify_fifo
                                    # (one no notify_fifo_script reads) as the event stream
    history_lines = 20000           # optional: at most this many log lines read at attach
    jump = ""                       # optional ProxyJump host
    identity_file = ""              # optional: private key (else agent / ~/.ssh/id_*)
    service = "nginx"               # optional: the guarded service
    capture = "eth0"                # optional: watch this interface's wire (tcpdump)
    [node.commands]                 # optional per-node overrides of the action templates
    stop_service = "systemctl stop nginx"

Templates are shell text written by the operator; `{pidfile}`, `{log_file}`,
`{service}` and `{node}` in them are replaced by the node's values, shell-quoted (see
`haconsole.sources.ssh.render_template`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from haconsole.config import ConfigError
from haconsole.tomlfile import TomlLines, parse_toml, read_toml

__all__ = [
    "COMMAND_KEYS",
    "DEFAULT_COMMANDS",
    "KINDS",
    "Inventory",
    "NodeSpec",
    "load_inventory",
    "parse_inventory",
]

KINDS = ("keepalived", "haconsole")

#: Action templates and their defaults on a systemd host with a stock keepalived.
DEFAULT_COMMANDS: dict[str, str] = {
    "stop_service": "systemctl stop {service}",
    "start_service": "systemctl start {service}",
    "restart_agent": "systemctl restart keepalived",
    "stop_keepalived": "systemctl stop keepalived",
    "start_keepalived": "systemctl start keepalived",
    # Exit status 0 = the service runs. Polled with every dump.
    "service_status": "pgrep -x {service} >/dev/null",
    # haconsole agent nodes: the event stream (stdin/stdout JSON lines).
    "agent_stream": "haconsole agent ctl --stream",
}
COMMAND_KEYS = frozenset(DEFAULT_COMMANDS)

_NODE_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "host": str,
    "port": int,
    "user": str,
    "kind": str,
    "sudo": bool,
    "pidfile": str,
    "log_file": str,
    "config": str,
    "notify_fifo": bool,
    "history_lines": int,
    "jump": str,
    "identity_file": str,
    "service": str,
    "capture": str,
    "interval": (int, float),
    "commands": dict,
}
_TOP_KEYS = {"name", "interval", "known_hosts", "ssh_config", "defaults", "node", "probe"}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "a table"}


@dataclass(frozen=True)
class NodeSpec:
    """One `[[node]]` table, defaults applied. `line` is where its table starts."""

    name: str
    host: str
    kind: str = "keepalived"
    port: int | None = None
    user: str | None = None
    sudo: bool = False
    pidfile: str = ""
    log_file: str = ""
    config: str = ""  # keepalived.conf on the node ("": the running one's -f, else default)
    notify_fifo: bool = False  # read keepalived's notify FIFO as the event stream
    history_lines: int = 20000  # the cap on log lines read at attach (connect --since)
    jump: str = ""
    identity_file: str = ""
    service: str = "nginx"
    capture: str = ""  # an interface whose wire `connect` watches over SSH ("" = none)
    interval: float = 1.0
    commands: Mapping[str, str] = field(default_factory=dict)
    line: int = 0

    def command(self, key: str) -> str:
        """The template for `key`: the node's override, else the default."""
        return self.commands.get(key) or DEFAULT_COMMANDS[key]

    @property
    def target(self) -> str:
        """`user@host:port` for messages (no secret in it)."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"


@dataclass(frozen=True)
class Inventory:
    """The whole file: cluster name, SSH settings and nodes in file order."""

    path: str
    nodes: tuple[NodeSpec, ...]
    name: str = ""
    interval: float = 1.0
    known_hosts: str = ""
    ssh_config: str = ""
    probes: tuple[str, ...] = ()  # "URL" or "URL=VIP": client probes (`probe` key)

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(name)


def parse_inventory(text: str, path: str = "<inventory>") -> Inventory:
    """Parse inventory TOML text; every problem is a `ConfigError(path, line, message)`."""
    doc, lines = parse_toml(text, path)
    return _inventory(doc, lines, path)


def _inventory(doc: dict[str, Any], lines: TomlLines, path: str) -> Inventory:
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(path, lines.line((key,)), f"unknown key {key!r} "
                              f"(known: {', '.join(sorted(_TOP_KEYS))})")

    def top(key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = doc.get(key, default)
        if not _is(value, kind):
            raise ConfigError(path, lines.line((key,)), f"{key}: expected {_type_name(kind)}")
        return value

    name = top("name", str, "")
    interval = top("interval", (int, float), 1.0)
    if not _seconds(interval):
        raise ConfigError(path, lines.line(("interval",)),
                          "interval: must be 0.05..3600 seconds")
    known_hosts = top("known_hosts", str, "")
    ssh_config = top("ssh_config", str, "")
    defaults = top("defaults", dict, {})
    for key in defaults:
        if key not in _NODE_KEYS or key == "name":
            raise ConfigError(path, lines.line(("defaults", key)),
                              f"defaults: unknown key {key!r}")
    raw_nodes = doc.get("node")
    if raw_nodes is None:
        raise ConfigError(path, 1, "no [[node]] tables: the inventory names no node")
    if not isinstance(raw_nodes, list):
        raise ConfigError(path, lines.line(("node",)), "node: expected [[node]] tables")
    nodes: list[NodeSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise ConfigError(path, lines.line(("node", index)), "node: expected a table")
        spec = _node(path, lines, index, {**defaults, **raw}, float(interval), set(raw))
        if spec.name in seen:
            raise ConfigError(path, spec.line, f"node {spec.name!r} is already defined "
                              f"at line {seen[spec.name]}")
        seen[spec.name] = spec.line
        nodes.append(spec)
    return Inventory(path=path, nodes=tuple(nodes), name=name, interval=float(interval),
                     known_hosts=_expand(known_hosts), ssh_config=_expand(ssh_config),
                     probes=_probes(doc.get("probe", ()), path, lines.line(("probe",))))


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and parse an inventory file (a missing file is a ConfigError at line 0)."""
    doc, lines = read_toml(path, "inventory")
    return _inventory(doc, lines, str(path))


def _node(path: str, lines: TomlLines, index: int, raw: dict[str, Any], interval: float,
          own: set[str]) -> NodeSpec:
    line = lines.line(("node", index))

    def where(key: str) -> int:
        return lines.line(("node", index, key) if key in own else ("defaults", key))

    for key, value in raw.items():
        kind = _NODE_KEYS.get(key)
        if kind is None:
            raise ConfigError(path, where(key), f"node: unknown key {key!r} "
                              f"(known: {', '.join(sorted(_NODE_KEYS))})")
        if not _is(value, kind):
            raise ConfigError(path, where(key), f"node.{key}: expected {_type_name(kind)}")
    name = raw.get("name")
    if not name or not isinstance(name, str):
        raise ConfigError(path, line, "node: 'name' is required")
    if any(c.isspace() for c in name) and not raw.get("host"):
        raise ConfigError(path, line, f"node {name!r}: a name with spaces needs a 'host'")
    kind = raw.get("kind", "keepalived")
    if kind not in KINDS:
        raise ConfigError(path, where("kind"),
                          f"node {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    port = raw.get("port")
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(path, where("port"), f"node {name!r}: port must be 1..65535")
    node_interval = raw.get("interval", interval)
    if not _seconds(node_interval):
        raise ConfigError(path, where("interval"),
                          f"node {name!r}: interval must be 0.05..3600 seconds")
    history_lines = raw.get("history_lines", 20000)
    if not 0 <= history_lines <= 10_000_000:
        raise ConfigError(path, where("history_lines"),
                          f"node {name!r}: history_lines must be 0..10000000")
    commands = raw.get("commands", {})
    for key, value in commands.items():
        at = lines.line(("node", index, "commands", key))
        if key not in COMMAND_KEYS:
            raise ConfigError(path, at,
                              f"node {name!r}: unknown command {key!r} "
                              f"(known: {', '.join(sorted(COMMAND_KEYS))})")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(path, at, f"node {name!r}: commands.{key} must be a non-empty "
                                        "string")
        _check_template(path, at, name, key, value)
    host = raw.get("host") or name
    return NodeSpec(
        name=name,
        host=host,
        kind=kind,
        port=port,
        user=raw.get("user") or None,
        sudo=bool(raw.get("sudo", False)),
        pidfile=raw.get("pidfile", ""),
        log_file=raw.get("log_file", ""),
        config=raw.get("config", ""),
        notify_fifo=bool(raw.get("notify_fifo", False)),
        history_lines=history_lines,
        jump=raw.get("jump", ""),
        identity_file=_expand(raw.get("identity_file", "")),
        service=raw.get("service", "nginx") or "nginx",
        capture=raw.get("capture", ""),
        interval=float(node_interval),
        commands=dict(commands),
        line=line,
    )


def _probes(raw: Any, path: str, line: int) -> tuple[str, ...]:
    """`probe = "URL"` or a list of them, each checked (`URL=VIP` names the VIP)."""
    from haconsole.probe.http import TargetError
    from haconsole.probe.runner import ProbeTarget

    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(path, line, "probe: expected a URL or a list of URLs")
    for item in items:
        try:
            ProbeTarget.parse(*item.split("=", 1))
        except TargetError as err:
            raise ConfigError(path, line, f"probe: {err}") from None
    return tuple(items)


def _check_template(path: str, line: int, node: str, key: str, template: str) -> None:
    """Reject placeholders we do not fill: a typo must not reach a remote shell."""
    from haconsole.sources.ssh import TEMPLATE_FIELDS, TemplateError, render_template

    try:
        render_template(template, dict.fromkeys(TEMPLATE_FIELDS, "x"))
    except TemplateError as err:
        raise ConfigError(path, line, f"node {node!r}: commands.{key}: {err}") from None


def _seconds(value: int | float) -> bool:
    """An interval we poll at: finite, 0.05..3600 (compared before any float(): a
    400-digit integer is out of range, not an OverflowError)."""
    return not (isinstance(value, float) and math.isnan(value)) and 0.05 <= value <= 3600


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return "a number"
    return _TYPE_NAMES.get(kind, kind.__name__)


def _expand(value: str) -> str:
    return os.path.expanduser(value) if value else ""
