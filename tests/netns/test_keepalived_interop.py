"""Interop with real keepalived (Debian's 2.2.7 and upstream 2.4.3): mixed pairs both ways.

For each shape operators use (VRRPv2 + PASS, VRRPv3 IPv4, VRRPv3 IPv6, unicast,
nopreempt) and each direction (haconsole master / keepalived backup, and the reverse):
the configured master wins the election, the other engine follows it without a second
master, a SIGTERM on the master hands the VIP over after Skew_Time (priority 0), and the
restarted node preempts back (or, nopreempt, does not) — what two keepalived nodes do.
VRRPv3 at a 50 cs advert interval adds a crash (SIGKILL): the backup takes over after
Master_Down_Interval of that interval, not of a whole second.

Every test runs once per reference keepalived (the `ka` parameter): the whole matrix is
worth running twice, since 2.4.3 changed how it builds, checks and times adverts.
"""

from __future__ import annotations

import signal
import time

import pytest
from conftest import KEEPALIVED_VERSIONS, keepalived_version, need_keepalived

from haconsole.netns.lab import VIP4, VIP6, pair_configs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SHAPES = {
    "v2-pass": {"version": 2},
    "v3-ipv4": {"version": 3},
    "v3-ipv6": {"version": 3, "family": 6},
    "unicast": {"version": 2, "unicast": True},
}
DIRECTIONS = {
    "haconsole-master": {"nginx1": "haconsole", "nginx2": "keepalived"},
    "keepalived-master": {"nginx1": "keepalived", "nginx2": "haconsole"},
}
SKEW_90 = (256 - 90) / 256


@pytest.fixture(params=KEEPALIVED_VERSIONS, ids=lambda v: f"ka{v}")
def ka(request) -> str:
    """The keepalived binary of one reference version."""
    return need_keepalived(request.param)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_mixed_pair_elects_and_hands_over(make_lab, ka, shape, direction):
    elect_and_hand_over(make_lab, ka, SHAPES[shape], DIRECTIONS[direction])


def test_keepalived_pair_baseline(make_lab, ka):
    """The same checks on two keepalived nodes: the expectations are keepalived's."""
    elect_and_hand_over(make_lab, ka, SHAPES["v2-pass"],
                        {"nginx1": "keepalived", "nginx2": "keepalived"})


def elect_and_hand_over(make_lab, ka, options, engines):
    vip = VIP6 if options.get("family") == 6 else VIP4
    lab = make_lab(pair_configs(**options), engines=engines, keepalived_binary=ka)
    lab.wait_single_holder(vip, 15, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    # The backup follows the other engine's adverts: still a single master 2 s later.
    time.sleep(2)  # a stability window, not a wait for a condition
    assert lab.holders(vip) == ["nginx1"]
    url = f"http://[{vip}]/" if ":" in vip else f"http://{vip}/"
    wait_for(lambda: lab.curl(url) == "nginx1", 10, what="curl -> nginx1")

    start = time.monotonic()
    lab.signal_engine("nginx1", signal.SIGTERM)
    wait_for(lambda: lab.holders(vip) == ["nginx2"], 5, interval=0.01, what="takeover")
    elapsed = time.monotonic() - start
    assert elapsed < SKEW_90 + 0.6, f"takeover after {elapsed:.3f} s (Skew_Time 0.648)"
    assert lab.wait_engine_exit("nginx1") == 0
    wait_for(lambda: lab.curl(url) == "nginx2", 10, what="curl -> nginx2")

    lab.start_engine("nginx1")  # preemption back to the higher priority
    lab.wait_single_holder(vip, 15, expect="nginx1")


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_fast_v3_pair_survives_a_crash(make_lab, ka, direction):
    """VRRPv3, advert_int 0.5 (50 cs on the wire): a SIGKILLed master (no priority 0) is
    replaced after 3 x 0.5 + Skew_Time = 1.824 s of silence, and preempts back."""
    lab = make_lab(pair_configs(version=3, advert_int=0.5), engines=DIRECTIONS[direction],
                   keepalived_binary=ka)
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    time.sleep(1.5)  # a stability window (3 intervals), not a wait for a condition
    assert lab.holders(VIP4) == ["nginx1"]

    start = time.monotonic()
    lab.signal_engine("nginx1", signal.SIGKILL)
    # The killed master cannot remove its VIP: wait for the backup to add it.
    wait_for(lambda: "nginx2" in lab.holders(VIP4), 6, interval=0.01, what="takeover")
    elapsed = time.monotonic() - start
    down = 3 * 0.5 + SKEW_90 * 0.5
    assert down - 0.5 - 0.05 < elapsed < down + 0.6, (
        f"takeover {elapsed:.3f} s after the crash (Master_Down_Interval {down:.3f} s)")
    lab.wait_engine_exit("nginx1")
    wait_for(lambda: lab.curl(f"http://{VIP4}/") == "nginx2", 10, what="curl -> nginx2")

    lab.start_engine("nginx1")
    lab.wait_single_holder(VIP4, 15, expect="nginx1")


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_nopreempt_pair(make_lab, ka, direction):
    lab = make_lab(pair_configs(nopreempt=True), engines=DIRECTIONS[direction],
                   start=["nginx1"], keepalived_binary=ka)
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    lab.start_engine("nginx2")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", 5, what="nginx2 BACKUP")
    lab.signal_engine("nginx1", signal.SIGTERM)
    lab.wait_single_holder(VIP4, 5, expect="nginx2")
    lab.wait_engine_exit("nginx1")
    lab.start_engine("nginx1")
    wait_for(lambda: lab.states("nginx1").get("VI_1") == "BACKUP", 8, what="nginx1 BACKUP")
    # nopreempt: the higher priority node stays backup (checked over 5 s > MDI).
    time.sleep(5)  # a stability window, not a wait for a condition
    assert lab.holders(VIP4) == ["nginx2"]


def test_mismatched_password(make_lab, ka):
    configs = pair_configs(passwords=("secret-A", "secret-B"), check_nginx=False)
    lab = make_lab(configs, engines={"nginx1": "keepalived", "nginx2": "haconsole"},
                   keepalived_binary=ka)
    # Each drops the other's adverts: both end up MASTER (split brain by config).
    wait_for(lambda: sorted(lab.holders(VIP4)) == ["nginx1", "nginx2"], 10,
             what="both masters")
    # 2.2.7: "(VI_1) received an invalid passwd!"; 2.4.3 names the sender and logs it
    # once until the next transition: "(VI_1) received an invalid passwd from 192.0.2.12!"
    said = {"2.2.7": "(VI_1) received an invalid passwd!",
            "2.4.3": f"(VI_1) received an invalid passwd from {lab.ipv4('nginx2')}!"}
    wait_for(lambda: said[keepalived_version(ka)] in lab.log_text("nginx1"), 5,
             what="keepalived logging the invalid password")
    wait_for(lambda: "(VI_1) received an invalid passwd!" in lab.log_text("nginx2"), 5,
             what="haconsole logging keepalived's message")
    status = lab.agent_status("nginx2")
    assert status is not None and status["stats"]["VI_1"]["auth_failure"] > 0
