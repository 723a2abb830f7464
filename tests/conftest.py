"""Shared test helpers.

`need(condition, reason)` skips a test whose environment is missing (root, netns,
keepalived, tmux...), except when HACONSOLE_REQUIRE_NETNS=1 (CI): then it fails, so that
integration tests can never pass by silently not running.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REQUIRE = os.environ.get("HACONSOLE_REQUIRE_NETNS") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip (or, under HACONSOLE_REQUIRE_NETNS=1, fail) unless `condition` holds."""
    if condition:
        return
    if REQUIRE:
        pytest.fail(f"required by HACONSOLE_REQUIRE_NETNS=1 but unavailable: {reason}")
    pytest.skip(reason)


def need_root_netns() -> None:
    need(os.geteuid() == 0, "needs root to create network namespaces")
    need(shutil.which("ip") is not None, "needs iproute2 (`ip`)")


def need_program(name: str) -> None:
    need(shutil.which(name) is not None or Path("/usr/sbin", name).exists(),
         f"needs {name} installed (make test installs it when root)")


@pytest.fixture
def data_dir() -> Path:
    return DATA
