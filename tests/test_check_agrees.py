"""`check`'s advice and the engine agree on every config of the parity corpus.

The checker warns when a check failing on the master leaves its priority above the best
backup's (a weight trap). It reasons about priorities with `check._tracks` / `_healthy`;
the engine's instance computes them from `vrrp.tracking`. For every instance of every
corpus file (and the examples), with all checks passing and with each one failing alone,
both must give the same effective priority. They once resolved weights differently (a
reversed vrrp_script, a missing track_file definition).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from haconsole.keepalived import check
from haconsole.keepalived.conf import Environment, parse_file
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.tracking import track_specs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "data" / "conf").glob("*.conf")) + \
    sorted((ROOT / "configs" / "keepalived").glob("*.conf"))
ENV = Environment(frozenset({"lo", "eth0", "eth1", "eth2", "eth3"}))


def _engine_priority(config: object, inst: object, failing: str | None) -> int:
    specs = track_specs(config, inst)  # type: ignore[arg-type]
    engine = Instance(inst, ipaddress.ip_address("192.0.2.1"), tracks=specs)  # type: ignore[arg-type]
    files = config.track_files  # type: ignore[attr-defined]
    engine.preset_tracks({s.name: s.name != failing for s in specs if s.kind == "check"},
                         {s.name: (files[s.name].init_file or 0) if s.name in files else 0
                          for s in specs if s.kind == "value"})
    return engine.effective_priority


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_check_and_engine_agree_on_priorities(path: Path) -> None:
    config = parse_file(str(path), ENV).config
    compared = 0
    for inst in config.vrrp_instances:
        if not inst.virtual_router_id or not 1 <= inst.priority <= 255:
            continue
        healthy = check._healthy(config, inst)
        assert healthy == _engine_priority(config, inst, None), (path.name, inst.name)
        for track in check._tracks(config, inst):
            if track.weight == 0 or track.kind == "file":
                continue  # weight 0 means FAULT (no priority); files report values
            expected = _engine_priority(config, inst, track.name)
            assert check._priority(config, inst, track.name) == expected, (
                path.name, inst.name, track.name)
            compared += 1
    assert compared >= 0


def test_the_corpus_exercises_weights() -> None:
    """The comparison above is not vacuous: many corpus instances track weighted checks."""
    weighted = 0
    for path in CORPUS:
        config = parse_file(str(path), ENV).config
        weighted += sum(1 for inst in config.vrrp_instances
                        for t in check._tracks(config, inst) if t.weight)
    assert weighted >= 10
