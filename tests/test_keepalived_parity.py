"""haconsole check judges every corpus config exactly as `keepalived -t` does, for each
reference keepalived: Debian's 2.2.7 and upstream 2.4.3 (HACONSOLE_KEEPALIVED).

keepalived runs once per file inside a private network namespace with the interfaces the
corpus expects (lo, eth0..eth3), so its verdicts depend on nothing but the file. For each
file we compare the *set* of (file, line, message) verdicts (keepalived prints many of
them once per process; the ones it prints without a line are compared by message) and
the exit status. haconsole judges as that binary's version with that binary's build
features (`keepalived -v`: the upstream build has no LVS, BFD or nftables, so their
keywords are unknown to it). haconsole's own advice (origin "haconsole") must be exactly
the extras listed in EXTRA, and the rare places where we knowingly differ are listed in
KNOWN, per version, each with the reason.

Without a reference binary or root the test skips with the reason, except under
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
from conftest import KEEPALIVED_VERSIONS, need, need_keepalived

from haconsole.keepalived.check import check_files
from haconsole.keepalived.conf import Environment
from haconsole.keepalived.conf.environment import installed_keepalived

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "tests" / "data" / "conf"
EXAMPLES = sorted((ROOT / "configs" / "keepalived").glob("*.conf"))
CORPUS = sorted(CORPUS_DIR.glob("*.conf")) + EXAMPLES
INTERFACES = frozenset({"lo", "eth0", "eth1", "eth2", "eth3"})

Verdict = tuple[str | None, int | None, str]


@dataclass(frozen=True)
class Known:
    """A knowing difference from keepalived on one file, and why."""

    reason: str
    keepalived_only: frozenset[str] = frozenset()
    status: int | None = None  # keepalived's exit status when ours differs
    haconsole_only: frozenset[str] = frozenset()


_KNOWN_ALL: dict[str, Known] = {
    "include-loop.conf": Known(
        "keepalived re-includes the file until it runs out of file descriptors, then "
        "reports the duplicates that produced; haconsole stops at the loop and says so",
        frozenset({
            "(include-loop.conf: Line 1) Configuration file 'include-loop.conf' open problem"
            " (Too many open files) - skipping",
            "(include-loop.conf: Line 2) vrrp instance VI_1 already defined",
        }),
        status=5),
}
_LVS = Known(
    "LVS (virtual_server) is not supported by haconsole: keepalived's checker verdicts "
    "on it are not reproduced (haconsole says the section is skipped)",
    frozenset({"Virtual server [192.0.2.61]:none:443 has no real servers - ignoring"}),
    status=5)
KNOWN: dict[str, dict[str, Known]] = {
    "2.2.7": {**_KNOWN_ALL, "lvs.conf": _LVS, "binary.conf": Known(
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
    "long-line-2.4.conf": Known(
        "keepalived 2.2.7's child processes read the parent's copy of the file, where a "
        "line longer than 1023 bytes became two: after one, the vrrp process numbers lines "
        "one further than the file (its parent, and haconsole, do not)",
        frozenset({"(long-line-2.4.conf: Line 11) *** Configuration line starting `priority`"
                   " is missing a parameter after keyword `priority` at word position 2"}),
        haconsole_only=frozenset({
            "(long-line-2.4.conf: Line 10) *** Configuration line starting `priority` is "
            "missing a parameter after keyword `priority` at word position 2"})),
    },
    # keepalived 2.4 reads NUL bytes and over-long lines the way haconsole models.
    "2.4.3": {**_KNOWN_ALL},
}

# haconsole's own advice per corpus file; "lvs.conf" only where keepalived has LVS.
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


Runs = dict[str, tuple[int, set[Verdict], set[str]]]


@dataclass(frozen=True)
class Reference:
    """One reference keepalived: its release, how haconsole judges like it, its verdicts."""

    release: str
    env: Environment
    runs: Runs
    lvs: bool


@pytest.fixture(scope="module", params=KEEPALIVED_VERSIONS, ids=lambda v: f"ka{v}")
def reference(request) -> Reference:
    """keepalived -t of one reference version on every corpus file (one namespace)."""
    binary = need_keepalived(request.param)
    found = installed_keepalived(binary)
    assert found is not None, f"{binary} -v says no version"
    version, features = found
    env = Environment(INTERFACES, check_scripts=True, check_users=True,
                      config_id=socket.gethostname(), version=version, features=features)
    return Reference(request.param, env, _keepalived_runs(binary), env.has("LVS"))


@pytest.fixture(scope="module")
def keepalived_verdicts(reference: Reference) -> Runs:
    return reference.runs


def _keepalived_runs(binary: str) -> Runs:
    """keepalived -t on every corpus file, in one network namespace for all of them."""
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
def test_same_verdicts_as_keepalived(path: Path, reference: Reference) -> None:
    status, theirs, _ = reference.runs[str(path)]
    report = check_files([str(path)], reference.env)
    result = report.nodes[0].result
    ours: set[Verdict] = set()
    for f in result.findings:
        if f.origin == "keepalived":
            ours.add((os.path.basename(f.file), f.line, f.message) if f.ka_line
                     else (None, None, f.message))
    known = KNOWN[reference.release].get(path.name, Known(""))
    only_theirs = {v for v in theirs - ours if not _raw(v) & known.keepalived_only}
    assert only_theirs == set(), f"keepalived says it, haconsole does not: {only_theirs}"
    only_ours = {v for v in ours - theirs if not _raw(v) & known.haconsole_only}
    assert only_ours == set(), f"haconsole says it, keepalived does not: {only_ours}"
    assert result.keepalived_status() == (status if known.status is None else 0)
    if known.status is not None:
        assert status == known.status
    extras = {f.message for f in report.findings if f.origin == "haconsole"}
    expected = EXTRA.get(path.name, set()) if path.name != "lvs.conf" or reference.lvs \
        else set()
    assert extras == expected


def test_corpus_is_large_and_exercises_both_outcomes(keepalived_verdicts) -> None:
    statuses = [keepalived_verdicts[str(p)][0] for p in CORPUS]
    assert len(CORPUS) >= 40
    assert statuses.count(0) >= 8, "clean configs"
    assert {2, 4, 5, 6} <= set(statuses), "missing parameter, bad interface, errors, security"


def test_known_differences_are_still_real(reference: Reference) -> None:
    """Each allow-listed keepalived message is still printed: the list cannot rot."""
    keepalived_verdicts = reference.runs
    for name, known in KNOWN[reference.release].items():
        _, _, raw = keepalived_verdicts[str(CORPUS_DIR / name)]
        missing = {m for m in known.keepalived_only if m not in raw}
        assert not missing, f"{name}: keepalived no longer prints {missing} ({known.reason})"
