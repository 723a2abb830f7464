"""The incident report from the real logs of a real pair in namespaces (root).

A keepalived pair (2.2.7, and 2.4.3 when HACONSOLE_KEEPALIVED names it), a pair of
haconsole agents and a mixed pair go through the incident of
tests/data/incident/make_incident.py: a check failure on the master and its recovery, a
SIGKILL of its VRRP engine and a restart, a clean stop and a restart, a partition of the
backup with its link up (split brain) and a heal. Both nodes' logs (keepalived's console
form, as the lab runs it with -l) are read as written, then reshaped into RFC 3164 and
RFC 5424 syslog and journalctl short-iso, short-precise and json (other programs' lines in
between, nginx2's clock 0.37 s behind): every form must give the same report, the exact
sequence of masters, each failover's kind and the split-brain window.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import KEEPALIVED_VERSIONS, need_keepalived

from haconsole.keepalived.log.history import read_history
from haconsole.netns.lab import NetnsLab, pair_configs
from haconsole.report import build_report

pytestmark = [pytest.mark.netns, pytest.mark.slow]

INCIDENT = Path(__file__).resolve().parent.parent / "data" / "incident"
N1, N2 = "nginx1", "nginx2"
SLACK = 2.0  # seconds: one-second stamps plus the reshaped clock offset


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"incident_{name}", INCIDENT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_incident = _load("make_incident")
reshape = _load("reshape")


def report_of(paths: list[Any]) -> Any:
    history = read_history(paths)
    (router,) = build_report(history.events).instances
    return router


def check(router: Any, marks: dict[str, float], form: str) -> None:
    got = [(f.old, f.new, f.kind) for f in router.failovers]
    assert got == make_incident.EXPECTED, f"{form}: {got}"
    assert router.masters == make_incident.EXPECTED_MASTERS, form
    check_f, _b1, crash, _b2, stop, _b3 = router.failovers
    # The console stamps are whole seconds (down to 1 s early) and the reshaped nginx2 is
    # another 0.37 s early: bounds are that loose (SLACK), the order is exact.
    assert marks["check"] - SLACK <= check_f.at <= marks["crash"] + SLACK, form
    assert marks["crash"] + 1.0 <= crash.at <= marks["stop"] + SLACK, form  # MDI 3.65 s
    assert marks["stop"] - SLACK <= stop.at <= marks["partition"] + SLACK, form
    assert "chk_nginx" in check_f.cause, form
    (split,) = router.split_brain
    assert split.masters == (N1, N2), form
    assert marks["partition"] + 1.0 <= split.start <= marks["heal"], form
    assert marks["heal"] - SLACK <= split.end <= marks["heal"] + 3.0, form
    assert split.duration >= make_incident.SPLIT_HOLD - SLACK, form


def run_and_check(lab: NetnsLab, tmp_path: Path, agents: tuple[bool, bool]) -> None:
    marks = make_incident.run_incident(lab)
    texts = {node: lab.log_text(node) for node in (N1, N2)}
    paths = []
    for node, text in texts.items():
        path = tmp_path / f"{node}.log"
        path.write_text(text)
        paths.append((node, path))
    check(report_of(paths), marks, "console")
    first = reshape.console_entries(texts[N1], N1, agent=agents[0])
    second = reshape.console_entries(texts[N2], N2, agent=agents[1], offset=-0.37)
    lines = reshape.with_noise(reshape.merged(first, second))
    for form in reshape.FORMS:
        path = tmp_path / f"all.{form}"
        path.write_text(reshape.render(lines, form))
        check(report_of([path]), marks, form)


@pytest.fixture(params=KEEPALIVED_VERSIONS, ids=lambda v: f"ka{v}")
def ka(request: pytest.FixtureRequest) -> str:
    return need_keepalived(request.param)


def test_keepalived_pair(make_lab: Any, ka: str, tmp_path: Path) -> None:
    lab = make_lab(pair_configs(), engines={N1: "keepalived", N2: "keepalived"},
                   keepalived_binary=ka)
    run_and_check(lab, tmp_path, (False, False))


def test_haconsole_pair(make_lab: Any, tmp_path: Path) -> None:
    lab = make_lab(pair_configs(), engines={N1: "haconsole", N2: "haconsole"})
    run_and_check(lab, tmp_path, (True, True))


def test_mixed_pair(make_lab: Any, tmp_path: Path) -> None:
    ka = need_keepalived(KEEPALIVED_VERSIONS[0])
    lab = make_lab(pair_configs(), engines={N1: "keepalived", N2: "haconsole"},
                   keepalived_binary=ka)
    run_and_check(lab, tmp_path, (False, True))

