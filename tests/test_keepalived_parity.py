"""haconsole check judges every corpus config exactly as `keepalived -t` 2.2.7 does.

keepalived runs once per file inside a private network namespace with the interfaces the
corpus expects (lo, eth0..eth3), so its verdicts depend on nothing but the file. For each
file we compare the *set* of (file, line, message) verdicts (keepalived prints many of
them once per process; the ones it prints without a line are compared by message) and
the exit status. haconsole's own advice (origin "haconsole") must be exactly the extras
listed in EXTRA, and the rare places where we knowingly differ are listed in KNOWN, each
with the reason.

Without keepalived or root the test skips with the reason, except under
HACONSOLE_REQUIRE_NETNS=1 (CI) where it fails instead.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import need

from haconsole.keepalived.check import check_files
from haconsole.keepalived.conf import Environment

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "tests" / "data" / "conf"
EXAMPLES = sorted((ROOT / "configs" / "keepalived").glob("*.conf"))
CORPUS = sorted(CORPUS_DIR.glob("*.conf")) + EXAMPLES
INTERFACES = frozenset({"lo", "eth0", "eth1", "eth2", "eth3"})

Verdict = tuple[str | None, int | None, str]


def _keepalived() -> str | None:
    return shutil.which("keepalived") or (
        "/usr/sbin/keepalived" if Path("/usr/sbin/keepalived").exists() else None)


@dataclass(frozen=True)
class Known:
    """A knowing difference from keepalived on one file, and why."""

    reason: str
    keepalived_only: frozenset[str] = frozenset()
    status: int | None = None  # keepalived's exit status when ours differs


KNOWN: dict[str, Known] = {
    "binary.conf": Known(
        "keepalived's parent process counts lines with fgets() and strlen(), so a line "
        "holding a NUL byte is not counted: its line numbers lag behind the real ones (its "
        "child processes, reading a copy, agree with us)",
        frozenset({
            "(Line 1) Unknown keyword '\udcff\udcfe'",
            "(Line 2) Unexpected '{' - ignoring",
            "(Line 2) Unknown keyword '}'",
            "(Line 3) Unknown keyword '\x01\x02\x03\x04\x05\x06\x07\x08'",
            "Unknown keyword '\x7fELF\x02\x01'",
        })),
    "include-loop.conf": Known(
        "keepalived re-includes the file until it runs out of file descriptors, then "
        "reports the duplicates that produced; haconsole stops at the loop and says so",
        frozenset({
            "(include-loop.conf: Line 1) Configuration file 'include-loop.conf' open problem"
            " (Too many open files) - skipping",
            "(include-loop.conf: Line 2) vrrp instance VI_1 already defined",
        }),
        status=5),
    "lvs.conf": Known(
        "LVS (virtual_server) is not supported by haconsole: keepalived's checker verdicts "
        "on it are not reproduced (haconsole says the section is skipped)",
        frozenset({"Virtual server [192.0.2.61]:none:443 has no real servers - ignoring"}),
        status=5),
}

EXTRA: dict[str, set[str]] = {
    "include-loop.conf": {
        "include loop: 'include-loop.conf' is already being read - skipping (keepalived "
        "recurses until 'Too many open files')",
    },
    "lvs.conf": {
        "virtual_server: LVS sections are not supported by haconsole - section skipped",
    },
    "script-unquoted.conf": {
        "vrrp_script chk_nginx: keepalived runs only '/usr/bin/pgrep' and ignores 'nginx'; "
        "quote the whole command",
        "notify_master: keepalived runs '/usr/bin/logger' as user 'master'; quote the "
        "command if those words are its arguments",
    },
}

_LINE = re.compile(r"^\((?:(?P<file>[^()]+): )?Line (?P<n>\d+)\) (?P<msg>.*)$")
_SCRIPT = """
ip link add eth0 type veth peer name eth1 && ip link add eth2 type veth peer name eth3 &&
ip link set lo up && for i in 0 1 2 3; do ip link set eth$i up; done || exit 99
for f in "$@"; do
  printf '@@@ %s\\n' "$f"
  ( cd "$(dirname "$f")" && timeout 20 {keepalived} -t -l -f "$(basename "$f")" 2>&1 )
  printf '@@@ rc=%s\\n' "$?"
done
"""


@pytest.fixture(scope="module")
def keepalived_verdicts() -> dict[str, tuple[int, set[Verdict], set[str]]]:
    """keepalived -t on every corpus file, in one network namespace for all of them."""
    binary = _keepalived()
    need(binary is not None, "keepalived is not installed (make test installs it as root)")
    ran = subprocess.run([str(binary), "-v"], capture_output=True, text=True)
    version = ran.stderr + ran.stdout
    need("Keepalived v2.2.7 " in version,
          f"the parity corpus is judged by keepalived 2.2.7, found {version[:40]!r}")
    need(os.geteuid() == 0, "needs root to run keepalived in a network namespace")
    need(shutil.which("unshare") is not None and shutil.which("ip") is not None,
          "needs unshare and iproute2")
    script = _SCRIPT.replace("{keepalived}", shlex.quote(str(binary)))
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", *map(str, CORPUS)],
                          capture_output=True, timeout=120)
    need(proc.returncode == 0, f"could not set up a network namespace: {proc.stderr!r}")
    return _parse_runs(proc.stdout.decode("utf-8", "surrogateescape"))


def _parse_runs(output: str) -> dict[str, tuple[int, set[Verdict], set[str]]]:
    runs: dict[str, tuple[int, set[Verdict], set[str]]] = {}
    current = ""
    lines: list[str] = []
    for line in output.split("\n"):
        if line.startswith("@@@ rc="):
            runs[current] = (int(line[7:]), *_verdicts(current, lines))
            lines = []
        elif line.startswith("@@@ "):
            current = line[4:]
        elif line:
            lines.append(line)
    return runs


def _verdicts(path: str, lines: list[str]) -> tuple[set[Verdict], set[str]]:
    """(normalised verdicts, raw lines): `(file: Line n) msg`, `(Line n) msg` or `msg`."""
    found: set[Verdict] = set()
    for line in lines:
        m = _LINE.match(line)
        if m:
            found.add((os.path.basename(m["file"] or path), int(m["n"]), m["msg"]))
        else:
            found.add((None, None, line))
    return found, set(lines)


def _raw(verdict: Verdict) -> set[str]:
    file, line, msg = verdict
    if file is None:
        return {msg}
    return {f"({file}: Line {line}) {msg}", f"(Line {line}) {msg}"}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_same_verdicts_as_keepalived(path: Path, keepalived_verdicts) -> None:
    status, theirs, _ = keepalived_verdicts[str(path)]
    env = Environment(INTERFACES, check_scripts=True, check_users=True,
                      config_id=socket.gethostname())
    report = check_files([str(path)], env)
    result = report.nodes[0].result
    ours: set[Verdict] = set()
    for f in result.findings:
        if f.origin == "keepalived":
            ours.add((os.path.basename(f.file), f.line, f.message) if f.ka_line
                     else (None, None, f.message))
    known = KNOWN.get(path.name, Known(""))
    only_theirs = {v for v in theirs - ours if not _raw(v) & known.keepalived_only}
    assert only_theirs == set(), f"keepalived says it, haconsole does not: {only_theirs}"
    assert ours - theirs == set(), f"haconsole says it, keepalived does not: {ours - theirs}"
    assert result.keepalived_status() == (status if known.status is None else 0)
    if known.status is not None:
        assert status == known.status
    extras = {f.message for f in report.findings if f.origin == "haconsole"}
    assert extras == EXTRA.get(path.name, set())


def test_corpus_is_large_and_exercises_both_outcomes(keepalived_verdicts) -> None:
    statuses = [keepalived_verdicts[str(p)][0] for p in CORPUS]
    assert len(CORPUS) >= 40
    assert statuses.count(0) >= 8, "clean configs"
    assert {2, 4, 5, 6} <= set(statuses), "missing parameter, bad interface, errors, security"


def test_known_differences_are_still_real(keepalived_verdicts) -> None:
    """Each allow-listed keepalived message is still printed: the list cannot rot."""
    for name, known in KNOWN.items():
        _, _, raw = keepalived_verdicts[str(CORPUS_DIR / name)]
        missing = {m for m in known.keepalived_only if m not in raw}
        assert not missing, f"{name}: keepalived no longer prints {missing} ({known.reason})"
