"""Fast preemption (`haconsole agent --fast-preempt`) beside real keepalived masters and
backups (Debian's 2.2.7 and upstream 2.4.3).

A haconsole backup with fast preemption next to a keepalived master: when nginx dies on
the master, keepalived's check lowers its priority (80) and its next advert says so; the
backup takes over on that first lower advert instead of waiting out Master_Down_Interval,
and keepalived, an RFC master, steps down on the first advert of higher priority it
hears. One holder of the VIP after convergence, the clients follow it, and when nginx
returns keepalived preempts back as it would from any backup.

The reverse (a keepalived backup, the agent master with the flag on): nothing changes,
since fast preemption is a backup's behaviour; keepalived takes over at the RFC time.

Timings are the benchmark's (`benchmarks/failover.py --engines keepalived+fast`); here
the logs say which rule moved the VIP, and a generous bound separates the two rules: an
RFC backup cannot take over sooner than Master_Down_Interval after the last advert at
full priority, which the master sent at most one interval before nginx died.
"""

from __future__ import annotations

import time

import pytest
from conftest import KEEPALIVED_VERSIONS, need_keepalived

from haconsole.netns.lab import VIP4, pair_configs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SKEW_90 = (256 - 90) / 256
MDI_90 = 3 + SKEW_90  # the backup's Master_Down_Interval (v2, advert_int 1)
# An RFC backup takes over at least MDI after the last full-priority advert, which came
# at most one advert interval (1 s) before the fault: never sooner than this after it.
RFC_EARLIEST = MDI_90 - 1.0
URL = f"http://{VIP4}/"


@pytest.fixture(params=KEEPALIVED_VERSIONS, ids=lambda v: f"ka{v}")
def ka(request) -> str:
    return need_keepalived(request.param)


def only_holder_for(lab, node: str, seconds: float) -> None:
    """`node` alone holds the VIP at every look for `seconds` (beyond two adverts)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert lab.holders(VIP4) == [node], f"holders {lab.holders(VIP4)}, expected {node}"
        time.sleep(0.1)


def test_fast_backup_takes_over_from_a_keepalived_master(make_lab, ka):
    lab = make_lab(pair_configs(), engines={"nginx1": "keepalived", "nginx2": "haconsole"},
                   keepalived_binary=ka, fast_preempt=["nginx2"])
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    wait_for(lambda: lab.curl(URL) == "nginx1", 10, what="curl -> nginx1")

    killed = time.monotonic()
    lab.kill_nginx("nginx1")
    wait_for(lambda: "nginx2" in lab.holders(VIP4), 8, interval=0.01, what="takeover")
    elapsed = time.monotonic() - killed
    agent_log = lab.log_text("nginx2")
    assert "(VI_1) fast preemption: master 192.0.2.11 advertised priority 80, below ours " \
           "90" in agent_log
    assert "Receive advertisement timeout" not in agent_log.rsplit("Entering BACKUP", 1)[-1]
    # keepalived notices with its 1 s check and says so in its next advert; an RFC
    # backup would still be waiting.
    assert elapsed < RFC_EARLIEST + 1.0, f"takeover {elapsed:.3f} s after nginx died"

    # keepalived steps down on the backup's first advert: one holder, and it stays so.
    lab.wait_single_holder(VIP4, 3, expect="nginx2")
    wait_for(lambda: "with higher priority 90, ours 80" in lab.log_text("nginx1"), 5,
             what="keepalived stepping down on the higher priority")
    only_holder_for(lab, "nginx2", 3.0)
    assert lab.log_text("nginx2").count("fast preemption:") == 1
    wait_for(lambda: lab.curl(URL) == "nginx2", 10, what="curl -> nginx2")

    lab.start_nginx("nginx1")  # keepalived preempts back as from any backup
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    only_holder_for(lab, "nginx1", 2.5)


def test_fast_master_beside_a_keepalived_backup_changes_nothing(make_lab, ka):
    lab = make_lab(pair_configs(), engines={"nginx1": "haconsole", "nginx2": "keepalived"},
                   keepalived_binary=ka, fast_preempt=["nginx1"])
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    wait_for(lambda: "Entering BACKUP STATE" in lab.log_text("nginx2"), 5,
             what="keepalived BACKUP")

    killed = time.monotonic()
    lab.kill_nginx("nginx1")  # the agent advertises 80 at once; keepalived discards it
    wait_for(lambda: "nginx2" in lab.holders(VIP4), 8, interval=0.01, what="takeover")
    elapsed = time.monotonic() - killed
    assert elapsed > RFC_EARLIEST - 0.1, f"keepalived took over after {elapsed:.3f} s"
    lab.wait_single_holder(VIP4, 3, expect="nginx2")
    only_holder_for(lab, "nginx2", 2.5)
    assert "fast preemption" not in lab.log_text("nginx1")

    # nginx back: the agent, a backup at 100 now, preempts the keepalived master at 90
    # (fast preemption: on its first advert below 100, not one Master_Down_Interval on).
    lab.start_nginx("nginx1")
    lab.wait_single_holder(VIP4, 8, expect="nginx1")
    assert "fast preemption: master 192.0.2.12 advertised priority 90, below ours 100" \
        in lab.log_text("nginx1")
    only_holder_for(lab, "nginx1", 2.5)
