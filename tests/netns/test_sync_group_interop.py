"""vrrp_sync_group on real interfaces, against keepalived 2.2.7 both ways.

Two instances (VI_1 -> 192.0.2.170, VI_2 -> 192.0.2.180) in one sync group on each node;
only VI_1 tracks a maintenance file (track_file, weight 0: non-zero means FAULT). Writing
1 on the master faults VI_1 there, the group pulls VI_2 along, and *both* VIPs move to
the other node; writing 0 brings both back (preemption). The keepalived pair is the
baseline the mixed pairs must match.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from haconsole.config import TrackFile, TrackRef, VirtualAddress, VrrpSyncGroup
from haconsole.netns.lab import VIP4, pair_configs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.slow]
VIP2 = "192.0.2.180"
ENGINES = {
    "haconsole-master": {"nginx1": "haconsole", "nginx2": "keepalived"},
    "keepalived-master": {"nginx1": "keepalived", "nginx2": "haconsole"},
    "keepalived-pair": {"nginx1": "keepalived", "nginx2": "keepalived"},
}


@pytest.mark.parametrize("engines", ENGINES)
def test_sync_group_moves_both_vips(make_lab, tmp_path: Path, engines: str) -> None:
    configs = pair_configs(check_nginx=False)
    maint = {name: tmp_path / f"{name}.maint" for name in configs}
    for name, config in configs.items():
        vi1 = config.vrrp_instances[0]
        vi2 = dataclasses.replace(
            vi1, name="VI_2", virtual_router_id=vi1.virtual_router_id + 1,
            virtual_ipaddress=[VirtualAddress(ipaddress.ip_interface(f"{VIP2}/24"))])
        vi1.track_file = [TrackRef("maint")]
        config.track_files["maint"] = TrackFile("maint", str(maint[name]), weight=0)
        config.vrrp_instances.append(vi2)
        config.vrrp_sync_groups.append(VrrpSyncGroup("G", ["VI_1", "VI_2"]))
    lab = make_lab(configs, engines=ENGINES[engines])
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    lab.wait_single_holder(VIP2, 15, expect="nginx1")

    maint["nginx1"].write_text("1\n")
    wait_for(lambda: lab.holders(VIP4) == ["nginx2"] and lab.holders(VIP2) == ["nginx2"],
             8, what="both VIPs on nginx2")
    maint["nginx1"].write_text("0\n")
    wait_for(lambda: lab.holders(VIP4) == ["nginx1"] and lab.holders(VIP2) == ["nginx1"],
             15, what="both VIPs back on nginx1")
