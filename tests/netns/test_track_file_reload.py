"""track_file and reload on real interfaces, each checked against keepalived 2.2.7.

- A drain file (`track_file`, weight -1) on the master: writing 30 lowers it from 100 to
  70, below the backup's 90, and the VIP moves; writing 0 brings it back. Run in mixed
  pairs both ways, so each engine reacts to the other's priority change.
- A reload (SIGHUP) of both nodes with one more VIP and a higher priority on the master
  keeps the master: no transition anywhere, the new VIP appears on the master. The same
  test on a keepalived pair is the baseline.
"""

from __future__ import annotations

import ipaddress
import signal
import time
from pathlib import Path

import pytest

from haconsole.config import TrackFile, TrackRef, VirtualAddress
from haconsole.netns.lab import VIP4, pair_configs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.slow]
OTHER = {"haconsole": "keepalived", "keepalived": "haconsole"}
VIP_NEW = "192.0.2.171"


@pytest.mark.parametrize("master", ["haconsole", "keepalived"])
def test_drain_file_moves_the_vip_and_back(make_lab, tmp_path: Path, master: str) -> None:
    configs = pair_configs()
    files = {name: tmp_path / f"{name}.drain" for name in configs}
    for name, config in configs.items():
        config.track_files["drain"] = TrackFile("drain", str(files[name]), weight=-1)
        config.vrrp_instances[0].track_file = [TrackRef("drain")]
    lab = make_lab(configs, engines={"nginx1": master, "nginx2": OTHER[master]})
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    files["nginx1"].write_text("30\n")  # 100 - 30 = 70 < 90
    lab.wait_single_holder(VIP4, 10, expect="nginx2")
    files["nginx1"].write_text("0\n")  # back to 100: preempts again
    lab.wait_single_holder(VIP4, 10, expect="nginx1")


@pytest.mark.parametrize("engine", ["haconsole", "keepalived"])
def test_reload_keeps_the_master(make_lab, engine: str) -> None:
    lab = make_lab(pair_configs(), engines={"nginx1": engine, "nginx2": engine})
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    # The operator's change: one more VIP on both nodes (adverts list the VIPs, so both
    # must agree) and a higher priority on the master; then reload both.
    lab.nodes["nginx1"].config.vrrp_instances[0].priority = 110
    marks = {name: len(lab.log_text(name)) for name in lab.nodes}
    for node in lab.nodes.values():
        vips = node.config.vrrp_instances[0].virtual_ipaddress
        vips.append(VirtualAddress(ipaddress.ip_interface(f"{VIP_NEW}/24")))
        (node.dir / "keepalived.conf").write_text(lab.config_text(node))
    for name in lab.nodes:
        lab.signal_engine(name, signal.SIGHUP)
    wait_for(lambda: lab.holders(VIP_NEW) == ["nginx1"], 10, what="the new VIP on nginx1")
    # Longer than Master_Down_Interval: a reload that dropped mastership would show.
    time.sleep(4)  # a stability window, not a wait for a condition
    assert lab.holders(VIP4) == ["nginx1"]
    for name in lab.nodes:
        after = lab.log_text(name)[marks[name]:]
        assert "Entering" not in after, f"{name} changed state on reload:\n{after}"
