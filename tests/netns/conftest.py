"""Fixtures for the namespace tests: a lab factory that always tears down.

Every lab lives under a `hac-<pid>-<tag>-` prefix and a per-test work directory; the
finalizer stops engines, kills whatever is left in the namespaces and deletes them,
whatever the test did. On failure the engines' logs are printed (pytest shows them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from haconsole.netns.lab import NetnsLab
from haconsole.netns.topology import cleanup_stale, list_namespaces


def _shared_helpers() -> Any:
    """tests/conftest.py's need_* helpers, loaded by path (tests/ is not a package)."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "haconsole_tests_shared_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parent.parent / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# Re-exported: test modules elsewhere do `from conftest import need`, and pytest leaves
# whichever conftest.py it imported last (this one, for tests/ collected after netns/)
# under the module name "conftest".
_shared = _shared_helpers()
need = _shared.need
need_program = _shared.need_program
need_root_netns = _shared.need_root_netns
DATA = _shared.DATA
REQUIRE = _shared.REQUIRE
KEEPALIVED_VERSIONS = _shared.KEEPALIVED_VERSIONS
need_keepalived = _shared.need_keepalived
keepalived_version = _shared.keepalived_version


def need_lab(keepalived: bool = False) -> None:
    need_root_netns()
    for program in ("nginx", "curl", "tc"):
        need_program(program)
    if keepalived:
        need_program("keepalived")


@pytest.fixture
def make_lab(tmp_path: Any) -> Iterator[Callable[..., NetnsLab]]:
    labs: list[NetnsLab] = []

    def make(configs: dict[str, Any], *, engines: dict[str, Any] | None = None,
             start: Any = "all", **kwargs: Any) -> NetnsLab:
        need_lab(keepalived=bool(engines and "keepalived" in engines.values()))
        lab = NetnsLab(configs, engines=engines, workdir=tmp_path / f"lab{len(labs)}",
                       **kwargs)
        labs.append(lab)
        lab.start(None if start == "all" else start)
        return lab

    yield make
    for lab in labs:
        for name in lab.nodes:
            print(f"===== {name} ({lab.nodes[name].engine})")
            print(lab.log_text(name)[-6000:])
        lab.stop()
        leftovers = [ns for ns in list_namespaces() if ns.startswith(lab.topology.prefix)]
        assert not leftovers, f"namespaces left behind: {leftovers}"


@pytest.fixture
def veth_ns() -> Iterator[str]:
    """A scratch namespace holding a veth pair e0 (192.0.2.1/24) <-> e1 (192.0.2.2/24),
    both up; removed afterwards."""
    need_root_netns()
    ns = f"hacv-{os.getpid()}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "add", "e0", "type", "veth", "peer", "name", "e1")
        ip("-n", ns, "addr", "add", "192.0.2.1/24", "dev", "e0")
        ip("-n", ns, "addr", "add", "192.0.2.2/24", "dev", "e1")
        for dev in ("lo", "e0", "e1"):
            ip("-n", ns, "link", "set", dev, "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def root() -> Callable[[str], None]:
    """Root (and iproute2), or skip / fail under HACONSOLE_REQUIRE_NETNS=1; returns
    `need_program` for further requirements."""
    need_root_netns()
    return need_program  # type: ignore[no-any-return]


@pytest.fixture(scope="session", autouse=True)
def _stale_namespaces() -> None:
    """A crashed earlier run may have left namespaces: remove them first."""
    import os

    if os.geteuid() == 0:
        cleanup_stale()
