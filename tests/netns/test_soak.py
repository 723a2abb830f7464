"""The chaos soak (benchmarks/soak.py), short: every fault kind once, no violation.

The long run is a benchmark (`benchmarks/soak.py --duration 1800`); CI runs one shuffled
round of every kind with a fixed seed (about two minutes) through the same code and
asserts what the soak reports: no invariant violation, every kind survived, every
takeover within its RFC bound plus a generous tolerance, nothing left behind. The
observer's arithmetic (no-master times, gaps) is checked first, without root.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load_soak() -> ModuleType:
    """benchmarks/soak.py by path (benchmarks/ is not a package)."""
    name = "haconsole_benchmarks_soak"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


soak = _load_soak()
fs = frozenset


def observer(changes, disabled):
    """An observer without namespaces, its logs written by hand."""
    obs = soak.Observer({}, ["vip"])
    obs.changes["vip"] = [(t, fs(h)) for t, h in changes]
    obs.disabled = [(t, fs(d)) for t, d in disabled]
    return obs


def test_a_crashed_master_counts_as_no_master_until_another_node_holds_the_vip():
    # a holds from 1; crashed (disabled) at 3, its VIP stays; b takes over at 6.6;
    # a restarts at 9 and preempts at 10 (both hold for a moment, never none)
    obs = observer([(0, ()), (1, {"a"}), (6.6, {"a", "b"}), (9, {"b"}), (10, {"a", "b"}),
                    (10.1, {"a"})],
                   [(0, ()), (3, {"a"}), (9.5, ())])
    assert obs.first_holder("vip", 3, {"a"}) == (6.6, "b")
    assert obs.first_holder("vip", 3, {"a"}, until=6) is None
    assert obs.gaps("vip", 2, 12) == [(3, 6.6)]
    assert obs.gaps("vip", 0, 12) == [(0, 1), (3, 6.6)]
    assert soak._outside(3, 6.6, [(3, 6.6)]) == []
    # a VIP that vanished from every node outside the takeover window is an outage
    obs = observer([(0, {"a"}), (4, ()), (4.4, {"a"})], [(0, ())])
    assert obs.gaps("vip", 1, 8) == [(4, 4.4)]
    assert soak._outside(4, 4.4, [(0.5, 4.1)]) == [(4.1, 4.4)]


def test_configs_put_each_instance_master_at_opposite_ends():
    configs, plans = soak.soak_configs(["n1", "n2", "n3"], 2)
    assert [(p.name, p.vip, p.top) for p in plans] == [
        ("VI_1", "192.0.2.170", "n1"), ("VI_2", "192.0.2.171", "n3")]
    assert plans[1].priorities == {"n1": 80, "n2": 90, "n3": 100}
    states = {n: [(i.name, i.state, i.priority) for i in c.vrrp_instances]
              for n, c in configs.items()}
    assert states["n3"] == [("VI_1", "BACKUP", 80), ("VI_2", "MASTER", 100)]
    assert soak.master_down(90) == pytest.approx(3 + 166 / 256)
    assert soak.skew_time(100) == pytest.approx(156 / 256)


@pytest.mark.netns
@pytest.mark.slow
def test_one_round_of_every_fault_kind_violates_nothing(tmp_path, root):
    for program in ("nginx", "curl", "nft"):
        root(program)
    options = soak.Options(duration=60, seed=20261130, hold=8.0, loss_span=(4.0, 6.0),
                           min_rounds=1, tolerance=0.5, outage_tolerance=0.3)
    soak_run = soak.Soak(options, workdir=tmp_path / "lab")
    report = soak_run.run()
    print(report.format())
    if not report.ok:
        for name in soak_run.lab.nodes:
            print(f"===== {name}\n{soak_run.lab.log_text(name)[-6000:]}")
    assert report.ok, [f"{v.kind}: {v.what}" for v in report.violations]
    assert set(report.faults) == set(soak.KINDS)
    assert not report.leaks
    rows = report.no_master()
    # the held node took over from the failed new master, at the RFC time
    for kind in ("failover+kill", "failover+halt", "failover+stop"):
        assert rows[kind]["n"] >= 1
    for kind, row in rows.items():
        assert row["worst_over_s"] <= options.tolerance, (kind, row)
    assert report.period_max_ms < 100  # polled at 10 ms; never blind for long
