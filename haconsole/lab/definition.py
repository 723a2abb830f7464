"""Lab definitions: a small TOML file that describes N nodes sharing some VRRP instances.

From it the lab derives one keepalived-style `Config` per node (the same model a
keepalived.conf produces), so the lab nodes run exactly the code an agent runs.

Every value is checked here, once, into the typed dataclasses below, before anything
runs: a wrong type, a number out of range (or inf/nan), a reference to nothing, or an
unknown key (a misspelt key used to do nothing at all) is one `ConfigError` naming the
file, the line and the key: `configs/lab.toml:14: node[1].priority: must be
1..255 (an integer), got true`. Every key is documented in haconsole/data/lab.toml.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from haconsole.config import (
    AuthType,
    Config,
    ConfigError,
    GlobalDefs,
    IPAddress,
    IPInterface,
    Secret,
    TrackRef,
    VirtualAddress,
    VrrpInstance,
    VrrpScript,
)
from haconsole.tomlfile import KeyPath, TomlLines, parse_toml, printable, read_toml, where

DEFAULT_LAB = Path(__file__).resolve().parent.parent / "data" / "lab.toml"

MAX_NODES = 50
#: Names end up in scenarios (split on spaces), keepalived.conf text and, with --netns,
#: namespace and interface names: letters, digits and `_.-` only.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # a process name for pidof
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # Linux IFNAMSIZ - 1
RESERVED_NODE_NAMES = frozenset({"client"})  # lab --netns has a client namespace

State = Literal["MASTER", "BACKUP"]

TOP_KEYS = ("name", "interface", "fast_preempt", "node", "instance", "vrrp_script")
NODE_KEYS = ("name", "address", "priority", "priorities", "state", "fast_preempt")
INSTANCE_KEYS = ("name", "virtual_router_id", "virtual_ipaddress", "advert_int", "version",
                 "nopreempt", "preempt_delay", "auth_type", "auth_pass", "track_script")
SCRIPT_KEYS = ("service", "interval", "weight", "rise", "fall")
SECRET_KEYS = frozenset({"auth_pass"})  # never echoed in an error


@dataclass
class LabNodeSpec:
    name: str
    address: str
    priority: int
    priorities: dict[str, int] = field(default_factory=dict)  # per instance, else priority
    state: State = "BACKUP"
    # haconsole's opt-in fast preemption (agent --fast-preempt): the node's own
    # `fast_preempt`, else the lab-wide one.
    fast_preempt: bool = False


@dataclass(frozen=True)
class LabCheck:
    """A `[vrrp_script.NAME]`: checks the node's (simulated) `service`."""

    name: str
    service: str = "nginx"
    interval: float = 1.0
    weight: int = 0
    rise: int = 1
    fall: int = 1


@dataclass(frozen=True)
class LabInstance:
    """An `[[instance]]`: one VRRP instance every node of the lab runs."""

    name: str
    virtual_router_id: int
    virtual_ipaddress: tuple[IPInterface, ...]
    advert_int: float = 1.0
    version: int = 2
    nopreempt: bool = False
    preempt_delay: float = 0.0
    auth_type: AuthType | None = None
    auth_pass: Secret | None = None
    track_script: tuple[str, ...] = ()


@dataclass
class LabDefinition:
    name: str
    interface: str
    nodes: list[LabNodeSpec]
    instances: list[LabInstance]
    checks: dict[str, LabCheck]
    source: str = "<memory>"
    fast_preempt: bool = False  # the lab-wide default of LabNodeSpec.fast_preempt

    def node(self, name: str) -> LabNodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def instance(self, name: str) -> LabInstance:
        for inst in self.instances:
            if inst.name == name:
                return inst
        raise KeyError(name)

    def config_for(self, node: LabNodeSpec) -> Config:
        """The keepalived configuration this node would run."""
        cfg = Config(source=f"{self.source}#{node.name}",
                     global_defs=GlobalDefs(router_id=node.name))
        for check in self.checks.values():
            cfg.vrrp_scripts[check.name] = VrrpScript(
                name=check.name, script=f"pidof {check.service}", interval=check.interval,
                weight=check.weight, rise=check.rise, fall=check.fall,
            )
        for spec in self.instances:
            cfg.vrrp_instances.append(VrrpInstance(
                name=spec.name,
                interface=self.interface,
                virtual_router_id=spec.virtual_router_id,
                state=node.state,
                priority=node.priorities.get(spec.name, node.priority),
                advert_int=spec.advert_int,
                version=spec.version,
                nopreempt=spec.nopreempt,
                preempt_delay=spec.preempt_delay,
                auth_type=spec.auth_type,
                auth_pass=spec.auth_pass,
                virtual_ipaddress=[VirtualAddress(v) for v in spec.virtual_ipaddress],
                track_script=[TrackRef(t) for t in spec.track_script],
            ))
        return cfg


# ----------------------------------------------------------------------------- reading
_REQUIRED: Any = object()


def _show(value: Any) -> str:
    """A value as the TOML author wrote it, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return printable(value) if len(value) <= 40 else printable(value[:37]) + "..."
    if isinstance(value, int):
        text = str(value) if value.bit_length() < 200 else f"{str(value)[:20]}..."
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, float):
        return repr(value)
    return f"a {type(value).__name__}"  # TOML dates and times


class _Reader:
    """Reads document values into typed ones; every refusal names the key and its line."""

    def __init__(self, source: str, lines: TomlLines | None) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        line = self.lines.line(path) if self.lines is not None else 0
        raise ConfigError(self.source, line, f"{where(path)}: {message}")

    def got(self, path: KeyPath, value: Any) -> str:
        """", got VALUE" for a message (never the value of a secret key)."""
        if path and path[-1] in SECRET_KEYS:
            return "" if isinstance(value, str) else f", got {_kind(value)}"
        return f", got {_show(value)}"

    def table(self, value: Any, path: KeyPath, known: tuple[str, ...] | None,
              shape: str = "a table") -> dict[str, Any]:
        """`value` as a table whose keys are all `known` (None: any key)."""
        if not isinstance(value, dict):
            self.fail(path, f"must be {shape}{self.got(path, value)}")
        for key in value:
            if known is not None and key not in known:
                self.fail((*path, key), f"unknown key (known: {', '.join(known)})")
        return value

    def tables(self, value: Any, path: KeyPath, header: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be {header} tables{self.got(path, value)}")
        return value

    def _get(self, table: Mapping[str, Any], path: KeyPath, key: str, default: Any) -> Any:
        if key in table:
            return table[key]
        if default is _REQUIRED:
            self.fail((*path, key), "required")
        return default

    def integer(self, table: Mapping[str, Any], path: KeyPath, key: str, lo: int, hi: int,
                default: Any = _REQUIRED) -> int:
        value = self._get(table, path, key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail((*path, key), f"must be {lo}..{hi} (an integer)"
                                    f"{self.got((*path, key), value)}")
        return value

    def number(self, table: Mapping[str, Any], path: KeyPath, key: str, lo: float,
               hi: float, default: Any = _REQUIRED, unit: str = "seconds") -> float:
        """A finite int or float in lo..hi (compared before any float(): a 400-digit
        integer is refused, not an OverflowError)."""
        value = self._get(table, path, key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or (isinstance(value, float) and not math.isfinite(value))
                or not lo <= value <= hi):
            self.fail((*path, key), f"must be a number {lo:g}..{hi:g} {unit}"
                                    f"{self.got((*path, key), value)}")
        return float(value)

    def flag(self, table: Mapping[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        value = self._get(table, path, key, default)
        if not isinstance(value, bool):
            self.fail((*path, key), f"must be true or false{self.got((*path, key), value)}")
        return value

    def string(self, table: Mapping[str, Any], path: KeyPath, key: str,
               default: Any = _REQUIRED, pattern: re.Pattern[str] | None = None,
               shape: str = "") -> str:
        value = self._get(table, path, key, default)
        if not isinstance(value, str) or (pattern is not None
                                          and not pattern.fullmatch(value)):
            self.fail((*path, key), f"must be {shape or 'a string'}"
                                    f"{self.got((*path, key), value)}")
        return value

    def choice(self, table: Mapping[str, Any], path: KeyPath, key: str,
               choices: tuple[str, ...], default: Any = _REQUIRED) -> str:
        value = self._get(table, path, key, default)
        if value not in choices or not isinstance(value, str):
            self.fail((*path, key), f"must be one of {', '.join(map(_show, choices))}"
                                    f"{self.got((*path, key), value)}")
        return value

    def strings(self, table: Mapping[str, Any], path: KeyPath, key: str) -> list[str]:
        value = self._get(table, path, key, [])
        if not isinstance(value, list):
            self.fail((*path, key), "must be an array of strings"
                                    f"{self.got((*path, key), value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail((*path, key, i), f"must be a string{self.got((*path, key), item)}")
        return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _show(value) if isinstance(value, dict | list) else f"a {type(value).__name__}"


NAME_SHAPE = "a name of letters, digits and _.- (at most 32)"


def _checks(r: _Reader, raw: Any) -> dict[str, LabCheck]:
    checks: dict[str, LabCheck] = {}
    tables = r.table(raw, ("vrrp_script",), None, "tables [vrrp_script.NAME]")
    for name, spec in tables.items():
        path: KeyPath = ("vrrp_script", name)
        if not _NAME.fullmatch(name):
            r.fail(path, f"the script name must be {NAME_SHAPE}")
        spec = r.table(spec, path, SCRIPT_KEYS, f"a table ([vrrp_script.{name}])")
        checks[name] = LabCheck(
            name=name,
            service=r.string(spec, path, "service", "nginx", _SERVICE,
                             "a process name (letters, digits and _.+-)"),
            interval=r.number(spec, path, "interval", 0.01, 3600, 1.0),
            weight=r.integer(spec, path, "weight", -253, 253, 0),
            rise=r.integer(spec, path, "rise", 1, 2**31 - 1, 1),
            fall=r.integer(spec, path, "fall", 1, 2**31 - 1, 1),
        )
    return checks


def _vips(r: _Reader, spec: dict[str, Any], path: KeyPath) -> tuple[IPInterface, ...]:
    texts = r.strings(spec, path, "virtual_ipaddress")
    if not texts:
        r.fail((*path, "virtual_ipaddress"), "at least one VIP is required, "
                                             'e.g. ["192.0.2.170/24"]')
    vips: list[IPInterface] = []
    for i, text in enumerate(texts):
        try:
            vip = ipaddress.ip_interface(text)
        except ValueError:
            r.fail((*path, "virtual_ipaddress", i), f"not an address{r.got(path, text)}")
        if vips and vip.version != vips[0].version:
            r.fail((*path, "virtual_ipaddress", i), "an instance's VIPs are all IPv4 or "
                                                    "all IPv6")
        if vip.ip in {v.ip for v in vips}:
            r.fail((*path, "virtual_ipaddress", i), f"{vip.ip} is listed twice")
        vips.append(vip)
    return tuple(vips)


def _instance(r: _Reader, raw: Any, path: KeyPath) -> LabInstance:
    spec = r.table(raw, path, INSTANCE_KEYS, "a table ([[instance]])")
    name = r.string(spec, path, "name", pattern=_NAME, shape=NAME_SHAPE)
    version = r.integer(spec, path, "version", 2, 3, 2)
    if version == 2:  # VRRPv2 counts whole seconds (RFC 3768), 1..255
        advert_int = r.number(spec, path, "advert_int", 1, 255, 1.0)
        if advert_int != int(advert_int):
            r.fail((*path, "advert_int"), "VRRPv2 advertises whole seconds (use version = "
                                          f"3 for less), got {_show(spec['advert_int'])}")
    else:  # VRRPv3: centiseconds, 0.01..40.95 (RFC 5798)
        advert_int = r.number(spec, path, "advert_int", 0.01, 40.95, 1.0)
        if abs(advert_int * 100 - round(advert_int * 100)) > 1e-6:
            r.fail((*path, "advert_int"), "VRRPv3 advertises in 10 ms units, got "
                                          f"{_show(spec['advert_int'])}")
    vips = _vips(r, spec, path)
    if version == 2 and vips[0].version == 6:
        r.fail((*path, "virtual_ipaddress"), "IPv6 VIPs need VRRPv3 (version = 3)")
    auth_type: AuthType | None = None
    auth_pass: Secret | None = None
    if "auth_pass" in spec or "auth_type" in spec:
        if version == 3:
            r.fail((*path, "auth_type" if "auth_type" in spec else "auth_pass"),
                   "VRRPv3 has no authentication (remove auth_type and auth_pass)")
        auth_type = "AH" if r.choice(spec, path, "auth_type", ("PASS", "AH"),
                                     "PASS") == "AH" else "PASS"
        password = r.string(spec, path, "auth_pass")
        if not 1 <= len(password.encode()) <= 8:
            r.fail((*path, "auth_pass"), "must be 1..8 bytes (VRRPv2 carries 8)")
        auth_pass = Secret(password)
    track = r.strings(spec, path, "track_script")
    return LabInstance(
        name=name,
        virtual_router_id=r.integer(spec, path, "virtual_router_id", 1, 255),
        virtual_ipaddress=vips,
        advert_int=advert_int,
        version=version,
        nopreempt=r.flag(spec, path, "nopreempt", False),
        preempt_delay=r.number(spec, path, "preempt_delay", 0, 1000, 0.0),
        auth_type=auth_type,
        auth_pass=auth_pass,
        track_script=tuple(track),
    )


def _node(r: _Reader, raw: Any, path: KeyPath, fast_preempt: bool) -> LabNodeSpec:
    spec = r.table(raw, path, NODE_KEYS, "a table ([[node]])")
    name = r.string(spec, path, "name", pattern=_NAME, shape=NAME_SHAPE)
    if name in RESERVED_NODE_NAMES:
        r.fail((*path, "name"), f"{name!r} is reserved (lab --netns names its client so)")
    address = r.string(spec, path, "address")
    try:
        ip: IPAddress = ipaddress.ip_address(address)
    except ValueError:
        r.fail((*path, "address"), f"not an IP address{r.got(path, address)}")
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback:
        r.fail((*path, "address"), f"{ip} cannot be a node's own address")
    raw_priorities = r.table(spec.get("priorities", {}), (*path, "priorities"), None,
                             "a table of instance = priority, e.g. { VI_1 = 90 }")
    priorities = {inst: r.integer(raw_priorities, (*path, "priorities"), inst, 1, 255)
                  for inst in raw_priorities}
    state = r.choice(spec, path, "state", ("MASTER", "BACKUP"), "BACKUP")
    return LabNodeSpec(name, str(ip), r.integer(spec, path, "priority", 1, 255, 100),
                       priorities, "MASTER" if state == "MASTER" else "BACKUP",
                       r.flag(spec, path, "fast_preempt", fast_preempt))


def parse_lab(data: Mapping[str, Any], source: str = "<memory>",
              lines: TomlLines | None = None) -> LabDefinition:
    """Check a parsed TOML document into a LabDefinition (ConfigError on bad input;
    `lines` gives the errors their line numbers)."""
    r = _Reader(source, lines)
    r.table(data, (), TOP_KEYS)
    fast_preempt = r.flag(data, (), "fast_preempt", False)
    raw_nodes = r.tables(data.get("node", []), ("node",), "[[node]]")
    if not 1 <= len(raw_nodes) <= MAX_NODES:
        r.fail(("node",), f"a lab has 1..{MAX_NODES} [[node]] tables, not {len(raw_nodes)}")
    nodes: list[LabNodeSpec] = []
    for i, raw in enumerate(raw_nodes):
        node = _node(r, raw, ("node", i), fast_preempt)
        for other in nodes:
            if node.name == other.name:
                r.fail(("node", i, "name"), f"{node.name!r} is defined twice")
            if node.address == other.address:
                r.fail(("node", i, "address"), f"{node.address} is also {other.name}'s")
            if ipaddress.ip_address(node.address).version != \
                    ipaddress.ip_address(other.address).version:
                r.fail(("node", i, "address"), "the nodes' addresses are all IPv4 or all IPv6")
        nodes.append(node)
    family = ipaddress.ip_address(nodes[0].address).version

    raw_instances = r.tables(data.get("instance", []), ("instance",), "[[instance]]")
    if not raw_instances:
        r.fail(("instance",), "at least one [[instance]] is required")
    instances: list[LabInstance] = []
    for i, raw in enumerate(raw_instances):
        inst = _instance(r, raw, ("instance", i))
        vip_family = inst.virtual_ipaddress[0].version
        if vip_family != family:
            r.fail(("instance", i, "virtual_ipaddress"), f"IPv{vip_family} VIPs need "
                   f"IPv{vip_family} node addresses (the nodes have IPv{family})")
        for earlier in instances:
            if inst.name == earlier.name:
                r.fail(("instance", i, "name"), f"{inst.name!r} is defined twice")
            if inst.virtual_router_id == earlier.virtual_router_id:
                r.fail(("instance", i, "virtual_router_id"),
                       f"{inst.virtual_router_id} is also {earlier.name}'s: one virtual router "
                       "per VRID on a segment")
        instances.append(inst)

    checks = _checks(r, data.get("vrrp_script", {}))
    names = [inst.name for inst in instances]
    for i, node in enumerate(nodes):
        for inst_name in node.priorities:
            if inst_name not in names:
                r.fail(("node", i, "priorities", inst_name),
                       f"no such [[instance]] (instances: {', '.join(names)})")
    for i, inst in enumerate(instances):
        for k, check in enumerate(inst.track_script):
            if check not in checks:
                known = ", ".join(checks) or "none defined"
                r.fail(("instance", i, "track_script", k),
                       f"no [vrrp_script.{check}] (defined: {known})")
    return LabDefinition(
        name=r.string(data, (), "name", "lab"),
        interface=r.string(data, (), "interface", "eth0", _INTERFACE,
                           "an interface name (1..15 of letters, digits and _.-)"),
        nodes=nodes, instances=instances, checks=checks, source=source,
        fast_preempt=fast_preempt,
    )


def load_lab(path: str | Path | None = None, *, nodes: int | None = None) -> LabDefinition:
    """Load a lab file (default: the embedded nginx pair); `nodes` resizes it to N nodes."""
    p = Path(path) if path else DEFAULT_LAB
    data, lines = read_toml(p, "lab file")
    lab = parse_lab(data, str(p), lines)
    if nodes is not None:
        lab = resize(lab, nodes)
    return lab


def parse_lab_text(text: str, source: str = "<memory>") -> LabDefinition:
    """parse_lab for TOML text (tests, fuzzing): syntax and value errors alike."""
    data, lines = parse_toml(text, source)
    return parse_lab(data, source, lines)


def resize(lab: LabDefinition, n: int) -> LabDefinition:
    """N nodes: the file's first ones, then nginxK at free addresses, priorities 100, 90,
    80, ... (at least 1)."""
    if not 1 <= n <= MAX_NODES:
        raise ValueError(f"a lab has 1..{MAX_NODES} nodes, not {n}")
    nodes = list(lab.nodes[:n])
    names = {node.name for node in nodes}
    addresses = {node.address for node in nodes}
    first = ipaddress.ip_address(lab.nodes[0].address)
    base = ipaddress.ip_address("192.0.2.0" if first.version == 4 else "2001:db8::")
    k = 0
    while len(nodes) < n:
        i = len(nodes)
        k += 1
        name = f"nginx{k}"
        address = str(base + 10 + k)
        if name in names or address in addresses:
            continue
        names.add(name)
        addresses.add(address)
        nodes.append(LabNodeSpec(name, address, max(1, 100 - 10 * i),
                                 fast_preempt=lab.fast_preempt))
    lab.nodes = nodes
    return lab
