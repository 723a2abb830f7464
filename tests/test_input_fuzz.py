"""Property tests for what people and programs feed haconsole: lab files, inventories and
control-socket requests. Whatever the input: a typed value or one clear error, never
another exception (a traceback is a bug the user cannot act on).

The strategies start from valid documents and change them key by key (wrong types, huge
or non-finite numbers, unknown keys, missing keys) so most examples get past the first
check, plus raw text and bytes for the parsers themselves. Like test_packet_fuzz.py, the
example counts keep the file to seconds in CI; raise `max_examples` for a longer hunt.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import math
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haconsole.agent.control import Request, RequestError, parse_request
from haconsole.config import ConfigError
from haconsole.engine.build import build_trackers
from haconsole.lab.definition import (
    DEFAULT_LAB,
    INSTANCE_KEYS,
    NODE_KEYS,
    SCRIPT_KEYS,
    TOP_KEYS,
    LabDefinition,
    parse_lab_text,
)
from haconsole.lab.lab import InProcessLab
from haconsole.sources.inventory import Inventory, parse_inventory
from haconsole.vrrp.instance import Instance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROOT = Path(__file__).resolve().parent.parent
INVENTORY = (ROOT / "configs" / "inventory.example.toml").read_text()

# ----------------------------------------------------------------------------- values
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)  # TOML has no
# lone surrogates: those would only test the TOML parser, not us
SCALARS = [
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 3, 100, 255, 256, -1, -254, 2**31, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.2, 1.5, 0.001, 40.95, 1e300, math.nan, math.inf]),
    TEXT,
    st.sampled_from(["MASTER", "BACKUP", "SLAVE", "PASS", "AH", "MD5", "VI_1", "chk_nginx",
                     "nginx", "nginx1", "client", "192.0.2.11", "192.0.2.170/24",
                     "2001:db8::1/64", "eth0", "", "fast", "high", "a b", "x" * 40]),
]
#: Each kind of value about equally likely, so that "a boolean where a priority goes"
#: comes up within a CI run's examples.
VALUES = st.one_of(
    *SCALARS,
    st.lists(st.one_of(*SCALARS), max_size=3),
    st.dictionaries(st.sampled_from(["VI_1", "a", "x y"]) | TEXT, st.one_of(*SCALARS),
                    max_size=3),
)


def toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else toml_string(key)


def toml_value(value: Any) -> str:
    """A value as TOML text (the standard library reads TOML but does not write it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_text(doc: dict[str, Any]) -> str:
    """A document shaped like a lab file or an inventory: scalars, then tables and arrays
    of tables as headers, so the errors have real lines to point at."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            tables += [(f"[{toml_key(key)}.{toml_key(k)}]", v) for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables += [(f"[[{toml_key(key)}]]", v) for v in value]
        elif isinstance(value, dict) and key in ("defaults",):
            tables.append((f"[{toml_key(key)}]", value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for header, table in tables:
        lines.append(header)
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def mutated(base: dict[str, Any], sections: dict[str, tuple[str, ...]]):
    """Strategy: `base` with a few keys set to fuzzed values, removed, or added."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        for _ in range(draw(st.integers(1, 4))):
            where = draw(st.sampled_from(sorted(sections)))
            table = _table(doc, where)
            if table is None:
                continue
            key = draw(st.sampled_from([*sections[where], "bogus"]))
            if draw(st.integers(0, 5)) == 0:
                table.pop(key, None)
            else:
                table[key] = draw(VALUES)
        return doc

    return build()


def _table(doc: dict[str, Any], where: str) -> dict[str, Any] | None:
    table: Any = doc
    for part in where.split("."):
        if isinstance(table, list):
            table = table[int(part)] if int(part) < len(table) else None
        elif isinstance(table, dict):
            table = table.get(part)
        if table is None:
            return None
    return table if isinstance(table, dict) else None


def _one_line(err: ConfigError) -> None:
    assert "\n" not in str(err) and err.line >= 1, str(err)


# ----------------------------------------------------------------------------- lab files
LAB = tomllib.loads(DEFAULT_LAB.read_text())
LAB_SECTIONS = {"": TOP_KEYS, "node.0": NODE_KEYS, "node.1": NODE_KEYS,
                "instance.0": INSTANCE_KEYS, "vrrp_script.chk_nginx": SCRIPT_KEYS}


def _probe(script: Any, user: Any) -> Any:
    async def probe() -> int:
        return 0

    return probe


def check_lab(text: str) -> None:
    """The property: a definition whose every value has its type and range, that the lab,
    the tracker builder and the core all accept; or one ConfigError with a line."""
    try:
        lab = parse_lab_text(text, "fuzz.toml")
    except ConfigError as err:
        _one_line(err)
        return
    assert isinstance(lab, LabDefinition)
    for node in lab.nodes:
        assert type(node.priority) is int and 1 <= node.priority <= 255
        assert node.state in ("MASTER", "BACKUP")
        assert all(type(p) is int and 1 <= p <= 255 for p in node.priorities.values())
        config = lab.config_for(node)
        for cfg in config.vrrp_instances:
            assert math.isfinite(cfg.advert_int) and math.isfinite(cfg.preempt_delay)
            Instance(cfg, ipaddress.ip_address(node.address)).start(0.0)
        build_trackers(config, probe=_probe)
    for check in lab.checks.values():
        assert type(check.weight) is int and type(check.rise) is int
        assert math.isfinite(check.interval) and check.interval > 0
    InProcessLab(lab)


@FUZZ
@given(mutated(LAB, LAB_SECTIONS))
def test_lab_documents(doc: dict[str, Any]) -> None:
    check_lab(toml_text(doc))


LAB_LINES = DEFAULT_LAB.read_text().splitlines()
TRICKY_TEXT = st.sampled_from([
    "priority = " + "9" * 5000, "a = " + "[" * 600 + "]" * 600, "[[node]]", "[node]",
    "[vrrp_script]", "vrrp_script = 1", 'name = "a"\nname = "b"', "x = '''", '"""',
    "advert_int = 1e999", "priority = 0x10", "state = 'MASTER'", "\x00", "= 1",
])
LINE = TRICKY_TEXT | st.text(max_size=30) | st.text("[]{}=\"'.,#\n abc0123-_", max_size=30)


@FUZZ
@given(st.integers(0, len(LAB_LINES)), LINE, st.booleans())
def test_lab_text(at: int, line: str, replace: bool) -> None:
    lines = list(LAB_LINES)
    lines[at:at + replace] = [line]
    check_lab("\n".join(lines))


# ----------------------------------------------------------------------------- inventory
INV = tomllib.loads(INVENTORY)
INV_SECTIONS = {"": ("name", "interval", "known_hosts", "ssh_config", "defaults", "node"),
                "defaults": ("user", "sudo", "port", "interval", "kind", "service"),
                "node.0": ("name", "host", "port", "user", "kind", "sudo", "pidfile",
                           "log_file", "jump", "identity_file", "service", "interval",
                           "commands"),
                "node.0.commands": ("stop_service", "start_service", "agent_stream")}


def check_inventory(text: str) -> None:
    try:
        inv = parse_inventory(text, "fuzz.toml")
    except ConfigError as err:
        _one_line(err)
        return
    assert isinstance(inv, Inventory) and inv.nodes
    for node in inv.nodes:
        assert isinstance(node.interval, float) and 0.05 <= node.interval <= 3600
        assert node.port is None or (type(node.port) is int and 1 <= node.port <= 65535)
        assert all(isinstance(v, str) for v in node.commands.values())


@FUZZ
@given(mutated(INV, INV_SECTIONS))
def test_inventory_documents(doc: dict[str, Any]) -> None:
    check_inventory(toml_text(doc))


INV_LINES = INVENTORY.splitlines()


@FUZZ
@given(st.integers(0, len(INV_LINES)), LINE, st.booleans())
def test_inventory_text(at: int, line: str, replace: bool) -> None:
    lines = list(INV_LINES)
    lines[at:at + replace] = [line]
    check_inventory("\n".join(lines))


# ----------------------------------------------------------------------------- control
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8,
)
REQUESTS = st.fixed_dictionaries({}, optional={
    "id": JSON, "cmd": st.sampled_from(["status", "failover", "subscribe", "nope"]) | JSON,
    "instance": st.sampled_from(["VI_1", "VI_9"]) | JSON, "service": JSON, "x": JSON})
LINES = st.one_of(
    REQUESTS.map(lambda r: json.dumps(r).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.integers(1, 5000).map(lambda n: b'{"cmd": "status", "x": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(4000, 6000).map(lambda n: b'{"cmd": "status", "id": ' + b"7" * n + b"}"),
)


@FUZZ
@given(LINES)
def test_control_requests(line: bytes) -> None:
    try:
        request = parse_request(line)
    except RequestError as err:
        assert "\n" not in str(err) and str(err).startswith("bad request: ")
        assert err.id is None or isinstance(err.id, str | int)
        return
    assert isinstance(request, Request) and isinstance(request.cmd, str)
    assert request.id is None or (isinstance(request.id, str | int)
                                  and not isinstance(request.id, bool))
    assert all(v is None or isinstance(v, str) for v in (request.instance, request.service))
    json.dumps({"id": request.id})  # the reply can always echo it


async def _session(lines: list[bytes], tmp: Path) -> None:
    from test_agent import _start_agent

    agent, task = await _start_agent(tmp)
    try:
        reader, writer = await asyncio.open_unix_connection(str(tmp / "agent.sock"),
                                                            limit=1 << 22)
        for line in [*lines, b'{"id": "end", "cmd": "status"}']:
            writer.write(line.replace(b"\n", b" ") + b"\n")
            await writer.drain()
            reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
            while "event" in reply:  # a fuzzed `subscribe` streams events from then on
                reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
            assert isinstance(reply.get("ok"), bool) and "\n" not in reply.get("detail", "")
        assert reply["id"] == "end" and reply["ok"] and agent.node is not None
        writer.close()
    finally:
        agent.request_stop()
        assert await asyncio.wait_for(task, 10) == 0


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(LINES.filter(lambda b: b"shutdown" not in b and b"restart" not in b
                             and b"reload" not in b), min_size=100, max_size=100))
def test_agent_survives_fuzzed_requests(tmp_path_factory: Any, lines: list[bytes]) -> None:
    """1 200 messages on live agents: each gets a reply, the agent keeps running."""
    asyncio.run(_session(lines, tmp_path_factory.mktemp("agent")))
