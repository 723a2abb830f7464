"""Shared test helpers.

`need(condition, reason)` skips a test whose environment is missing (root, netns,
keepalived, tmux...), except when HACONSOLE_REQUIRE_NETNS=1 (CI): then it fails, so that
integration tests can never pass by silently not running.

Reference keepalived binaries: the system one (Debian's 2.2.7) and any listed in
HACONSOLE_KEEPALIVED (`path[:path]`; `make test` sets it to the upstream 2.4.3 that
`make keepalived-upstream` builds). Tests parametrize over KEEPALIVED_VERSIONS and ask
`need_keepalived(version)` for the binary.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

DATA = Path(__file__).parent / "data"
REQUIRE = os.environ.get("HACONSOLE_REQUIRE_NETNS") == "1"

# CI (HACONSOLE_REQUIRE_NETNS=1) draws the same Hypothesis examples every run, so a red CI
# means a change broke something, not that a new random example turned up; runs elsewhere
# keep exploring (and an example they find goes into the test as an @example).
settings.register_profile("ci", derandomize=True)
if REQUIRE:
    settings.load_profile("ci")


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


# The keepalived versions every interop and parity test runs against: the system one
# first, then the upstream release that `make keepalived-upstream` builds.
KEEPALIVED_VERSIONS = ("2.2.7", "2.4.3")
SYSTEM_KEEPALIVED = "keepalived"
_VERSION_RE = re.compile(r"Keepalived v(\d+\.\d+\.\d+)")


@functools.cache
def keepalived_version(path: str) -> str | None:
    """What `path -v` says it is ("2.4.3"), or None when it does not run."""
    try:
        ran = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION_RE.search(ran.stderr + ran.stdout)
    return m.group(1) if m else None


def keepalived_binaries() -> list[tuple[str, str]]:
    """[(version, path)]: the system keepalived, then each one of HACONSOLE_KEEPALIVED."""
    system = shutil.which(SYSTEM_KEEPALIVED) or (
        "/usr/sbin/keepalived" if Path("/usr/sbin/keepalived").exists() else None)
    paths = [system] if system else []
    paths += [p for p in os.environ.get("HACONSOLE_KEEPALIVED", "").split(":") if p]
    found = []
    for path in paths:
        version = keepalived_version(os.path.abspath(path))
        if version is not None:
            found.append((version, os.path.abspath(path)))
    return found


def need_keepalived(version: str) -> str:
    """The path of keepalived `version`; skips (fails under HACONSOLE_REQUIRE_NETNS=1)
    with the reason when no such binary is configured."""
    for found, path in keepalived_binaries():
        if found == version:
            return path
    if version == KEEPALIVED_VERSIONS[0]:
        reason = f"needs keepalived {version} installed (make test installs it when root)"
    else:
        reason = (f"needs keepalived {version}: set HACONSOLE_KEEPALIVED to its binary "
                  "(`make test` builds it with `make keepalived-upstream` when the release "
                  "tarball is there)")
    need(False, reason)
    raise AssertionError("unreachable")  # need() skipped or failed
