"""Lab definitions: a small TOML file that describes N nodes sharing some VRRP instances.

From it the lab derives one keepalived-style `Config` per node (the same model a
keepalived.conf produces), so the lab nodes run exactly the code an agent runs.
Errors name the file and the key: `configs/lab.toml: node[1].priority: must be 1..255`.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haconsole.config import (
    Config,
    ConfigError,
    GlobalDefs,
    Secret,
    TrackRef,
    VirtualAddress,
    VrrpInstance,
    VrrpScript,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_LAB = Path(__file__).resolve().parent.parent / "data" / "lab.toml"


@dataclass
class LabNode:
    name: str
    address: str
    priority: int
    priorities: dict[str, int] = field(default_factory=dict)
    state: str = "BACKUP"


@dataclass
class LabCheck:
    name: str
    service: str = "nginx"
    interval: float = 1.0
    weight: int = -20
    rise: int = 1
    fall: int = 1


@dataclass
class LabDefinition:
    name: str
    interface: str
    nodes: list[LabNode]
    instances: list[dict[str, Any]]
    checks: dict[str, LabCheck]
    source: str = "<memory>"

    def node(self, name: str) -> LabNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def config_for(self, node: LabNode) -> Config:
        """The keepalived configuration this node would run."""
        cfg = Config(source=f"{self.source}#{node.name}",
                     global_defs=GlobalDefs(router_id=node.name))
        for check in self.checks.values():
            cfg.vrrp_scripts[check.name] = VrrpScript(
                name=check.name, script=f"pidof {check.service}", interval=check.interval,
                weight=check.weight, rise=check.rise, fall=check.fall,
            )
        for spec in self.instances:
            cfg.vrrp_instances.append(self._instance(spec, node))
        return cfg

    def _instance(self, spec: dict[str, Any], node: LabNode) -> VrrpInstance:
        name = spec["name"]
        password = spec.get("auth_pass")
        return VrrpInstance(
            name=name,
            interface=self.interface,
            virtual_router_id=int(spec["virtual_router_id"]),
            state=node.state if node.state in ("MASTER", "BACKUP") else "BACKUP",  # type: ignore[arg-type]
            priority=node.priorities.get(name, node.priority),
            advert_int=float(spec.get("advert_int", 1)),
            version=int(spec.get("version", 2)),
            nopreempt=bool(spec.get("nopreempt", False)),
            preempt_delay=float(spec.get("preempt_delay", 0)),
            auth_type=spec.get("auth_type", "PASS" if password else None),
            auth_pass=Secret(str(password)) if password else None,
            virtual_ipaddress=[
                VirtualAddress(ipaddress.ip_interface(v)) for v in spec["virtual_ipaddress"]
            ],
            track_script=[TrackRef(t) for t in spec.get("track_script", [])],
        )


def _need(cond: bool, source: str, where: str, message: str) -> None:
    if not cond:
        raise ConfigError(source, 0, f"{where}: {message}")


def parse_lab(data: dict[str, Any], source: str = "<memory>") -> LabDefinition:
    """Validate a parsed TOML document into a LabDefinition (ConfigError on bad input)."""
    nodes_raw = data.get("node", [])
    _need(isinstance(nodes_raw, list) and len(nodes_raw) >= 1, source, "node",
          "at least one [[node]] is required")
    nodes: list[LabNode] = []
    for i, raw in enumerate(nodes_raw):
        where = f"node[{i}]"
        _need(isinstance(raw.get("name"), str) and raw["name"], source, f"{where}.name",
              "a non-empty name is required")
        try:
            ipaddress.ip_address(raw.get("address", ""))
        except ValueError:
            raise ConfigError(source, 0, f"{where}.address: not an IP address: "
                                         f"{raw.get('address')!r}") from None
        prio = raw.get("priority", 100)
        _need(isinstance(prio, int) and 1 <= prio <= 255, source, f"{where}.priority",
              f"must be 1..255, got {prio!r}")
        nodes.append(LabNode(raw["name"], raw["address"], prio,
                             dict(raw.get("priorities", {})), raw.get("state", "BACKUP")))
    names = [n.name for n in nodes]
    _need(len(set(names)) == len(names), source, "node", f"duplicate node names in {names}")
    instances = data.get("instance", [])
    _need(isinstance(instances, list) and len(instances) >= 1, source, "instance",
          "at least one [[instance]] is required")
    for i, spec in enumerate(instances):
        where = f"instance[{i}]"
        _need(isinstance(spec.get("name"), str), source, f"{where}.name", "required")
        vrid = spec.get("virtual_router_id")
        _need(isinstance(vrid, int) and 1 <= vrid <= 255, source,
              f"{where}.virtual_router_id", f"must be 1..255, got {vrid!r}")
        vips = spec.get("virtual_ipaddress")
        _need(isinstance(vips, list) and len(vips) >= 1, source, f"{where}.virtual_ipaddress",
              "at least one VIP is required")
        for v in vips:
            try:
                ipaddress.ip_interface(v)
            except ValueError:
                raise ConfigError(source, 0, f"{where}.virtual_ipaddress: bad address {v!r}"
                                  ) from None
    checks: dict[str, LabCheck] = {}
    for name, raw in dict(data.get("vrrp_script", {})).items():
        checks[name] = LabCheck(
            name=name, service=raw.get("service", "nginx"),
            interval=float(raw.get("interval", 1)), weight=int(raw.get("weight", 0)),
            rise=int(raw.get("rise", 1)), fall=int(raw.get("fall", 1)),
        )
    for i, spec in enumerate(instances):
        for t in spec.get("track_script", []):
            _need(t in checks, source, f"instance[{i}].track_script",
                  f"no [vrrp_script.{t}] defined")
    return LabDefinition(
        name=str(data.get("name", "lab")), interface=str(data.get("interface", "eth0")),
        nodes=nodes, instances=instances, checks=checks, source=source,
    )


def load_lab(path: str | Path | None = None, *, nodes: int | None = None) -> LabDefinition:
    """Load a lab file (default: the embedded nginx pair); `nodes` resizes it to N nodes."""
    p = Path(path) if path else DEFAULT_LAB
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(str(p), 0, f"cannot read lab file: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = getattr(err, "lineno", 0) or 0
        raise ConfigError(str(p), line, f"TOML syntax error: {err}") from None
    lab = parse_lab(data, str(p))
    if nodes is not None:
        lab = resize(lab, nodes)
    return lab


def resize(lab: LabDefinition, n: int) -> LabDefinition:
    """N nodes nginx1..nginxN, priorities 100, 90, 80, ... (keeping the file's first nodes)."""
    if n < 1 or n > 50:
        raise ConfigError(lab.source, 0, f"-n: a lab has 1..50 nodes, not {n}")
    nodes = list(lab.nodes[:n])
    while len(nodes) < n:
        i = len(nodes)
        nodes.append(LabNode(f"nginx{i + 1}", f"192.0.2.{11 + i}", max(1, 100 - 10 * i)))
    lab.nodes = nodes
    return lab
