"""Capture a real incident on a VRRP pair in the netns lab (root): both nodes' logs.

    sudo .venv/bin/python tests/data/incident/make_incident.py [--engines keepalived,keepalived]
        [--keepalived /usr/sbin/keepalived] [--out tests/data/incident] [--prefix keepalived]

The pair is `pair_configs()` (VRRPv2, VI_1, VRID 100, VIP 192.0.2.170, nginx1 priority 100
`state MASTER`, nginx2 90, chk_nginx weight -20; keepalived nodes check nginx over HTTP,
agents track the nginx process). `run_incident` is also what
tests/netns/test_incident_report.py drives, so the saved logs and the live test go
through the same steps:

1. check failure: nginx stopped on nginx1 (the master) -> nginx2 takes over;
2. nginx started again -> nginx1 preempts back;
3. crash: SIGKILL of nginx1's VRRP engine (every keepalived process of the node, frozen
   first with SIGSTOP: the parent cannot respawn its VRRP child, and the child, which
   keepalived has get SIGTERM when its parent dies, cannot send priority 0 either) ->
   nginx2 takes over after Master_Down_Interval; the engine restarted -> nginx1 preempts
   back;
4. clean stop: SIGTERM to nginx1's engine (priority 0) -> nginx2 takes over after
   Skew_Time; started again -> nginx1 preempts back;
5. partition of nginx2 with its link up (the bridge port forwards nothing) -> nginx2
   becomes master too (split brain) for `SPLIT_HOLD` seconds; healed -> nginx2 steps down.

Expected masters: nginx1, nginx2, nginx1, nginx2, nginx1, nginx2, nginx1 (EXPECTED below).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from haconsole.cluster import commands as cmd  # noqa: E402
from haconsole.netns.lab import VIP4, NetnsLab, pair_configs, wait_for  # noqa: E402
from haconsole.netns.topology import signal_processes  # noqa: E402

#: How long the partitioned backup stays a second master: long enough that the split
#: brain is far above the report's one-second threshold (a deliberate duration, not a wait).
SPLIT_HOLD = 3.0

#: (from, to, kind) of every failover the incident makes, in order.
EXPECTED = [
    ("nginx1", "nginx2", "check"),
    ("nginx2", "nginx1", "preempt"),
    ("nginx1", "nginx2", "crash"),
    ("nginx2", "nginx1", "preempt"),
    ("nginx1", "nginx2", "priority-0"),
    ("nginx2", "nginx1", "preempt"),
]
EXPECTED_MASTERS = ["nginx1"] + [to for _f, to, _k in EXPECTED]


def _master_entries(lab: NetnsLab, node: str) -> int:
    return lab.log_text(node).count("Entering MASTER STATE")


def run_incident(lab: NetnsLab, timeout: float = 20.0) -> dict[str, float]:
    """Drive the steps of the module docstring on a started pair; returns when each
    began (time.time()), for the caller's messages."""
    marks: dict[str, float] = {}
    lab.wait_single_holder(VIP4, timeout, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", timeout,
             what="nginx2 BACKUP")

    marks["check"] = time.time()
    lab.execute(cmd.StopService("nginx1"))
    lab.wait_single_holder(VIP4, timeout, expect="nginx2")
    lab.execute(cmd.StartService("nginx1"))
    lab.wait_single_holder(VIP4, timeout, expect="nginx1")

    marks["crash"] = time.time()
    taken = _master_entries(lab, "nginx2")
    if lab.nodes["nginx1"].engine == "keepalived":
        # keepalived's children get SIGTERM when their parent dies (PR_SET_PDEATHSIG):
        # the VRRP child would send priority 0 after all. Frozen first, none can.
        signal_processes(lab.ns("nginx1"), "keepalived", signal.SIGSTOP)
    lab.signal_engine("nginx1", signal.SIGKILL)
    lab.wait_engine_exit("nginx1")
    # The dead master cannot remove its VIP: wait for nginx2's takeover in its log.
    wait_for(lambda: _master_entries(lab, "nginx2") > taken, timeout,
             what="nginx2 taking over from the killed nginx1")
    lab.start_engine("nginx1")
    lab.wait_single_holder(VIP4, timeout, expect="nginx1")

    marks["stop"] = time.time()
    lab.signal_engine("nginx1", signal.SIGTERM)
    lab.wait_engine_exit("nginx1")
    lab.wait_single_holder(VIP4, timeout, expect="nginx2")
    lab.start_engine("nginx1")
    lab.wait_single_holder(VIP4, timeout, expect="nginx1")

    marks["partition"] = time.time()
    taken = _master_entries(lab, "nginx2")
    lab.topology.partition("nginx2", True)
    wait_for(lambda: _master_entries(lab, "nginx2") > taken, timeout,
             what="nginx2 becoming a second master")
    time.sleep(SPLIT_HOLD)  # the split brain's length: a deliberate duration
    marks["heal"] = time.time()
    lab.topology.partition("nginx2", False)
    lab.wait_single_holder(VIP4, timeout, expect="nginx1")
    wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP", timeout,
             what="nginx2 BACKUP after the heal")
    return marks


def capture(engines: dict[str, Any], out: Path, prefix: str,
            keepalived: str = "keepalived") -> list[Path]:
    """Run the incident and save both nodes' logs as OUT/PREFIX-NODE.log."""
    work = Path(f"/tmp/hac-incident-{prefix}")
    shutil.rmtree(work, ignore_errors=True)
    lab = NetnsLab(pair_configs(), engines=engines, workdir=work, keepalived_binary=keepalived)
    lab.start()
    saved = []
    try:
        run_incident(lab)
        out.mkdir(parents=True, exist_ok=True)
        for node in lab.nodes:
            path = out / f"{prefix}-{node}.log"
            path.write_text(lab.log_text(node))
            saved.append(path)
    finally:
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="keepalived,keepalived",
                        help="nginx1's and nginx2's engine (keepalived or haconsole)")
    parser.add_argument("--keepalived", default="keepalived", help="the keepalived binary")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--prefix", default=None,
                        help="file name prefix (default: the engines, e.g. keepalived)")
    args = parser.parse_args()
    first, second = args.engines.split(",")
    prefix = args.prefix or (first if first == second else f"{first}-{second}")
    for path in capture({"nginx1": first, "nginx2": second}, Path(args.out), prefix,
                        args.keepalived):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
