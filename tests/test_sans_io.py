"""The VRRP core stays sans-IO: no sockets, no asyncio, no clock reads in haconsole/vrrp/."""

from __future__ import annotations

import ast
from pathlib import Path

import haconsole.vrrp

FORBIDDEN_MODULES = {"socket", "asyncio", "time", "datetime", "select", "selectors",
                     "threading", "subprocess", "os", "scapy", "pyroute2", "trio", "anyio"}
FORBIDDEN_CALLS = {"open", "print", "input"}


def core_files() -> list[Path]:
    return sorted(Path(haconsole.vrrp.__file__).parent.glob("*.py"))


def test_core_files_found() -> None:
    names = {p.name for p in core_files()}
    assert {"packet.py", "instance.py", "sim.py", "actions.py"} <= names


def test_no_io_imports_or_calls_in_core() -> None:
    problems = []
    for path in core_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [(node.module or "").split(".")[0]]
            else:
                mods = []
            problems += [f"{path.name}:{node.lineno} imports {m}" for m in mods
                         if m in FORBIDDEN_MODULES]
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in FORBIDDEN_CALLS):
                problems.append(f"{path.name}:{node.lineno} calls {node.func.id}()")
    assert problems == []
