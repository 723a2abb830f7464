"""Regenerate the keepalived 2.4.3 dumps in this folder (run as root).

    sudo .venv/bin/python tests/data/keepalived-2.4.3/make_dumps.py \
        --keepalived .build/keepalived-2.4.3/sbin/keepalived

A pair of real keepalived nodes (haconsole's netns lab: nginx1 192.0.2.11 priority 100,
nginx2 192.0.2.12 priority 90, each with a /tmp of its own) runs three instances:

- VI_1: VRRPv2, PASS, IPv4 VIP, a `vrrp_script` (nginx1 MASTER, nginx2 BACKUP);
- VI_6: VRRPv3 over IPv6 (same roles);
- VI_2: the nodes disagree on purpose, so the counters count: different passwords
  (`json_version` 1) or different `auth_hmac` keys (2): both are MASTER, and every advert
  of the other side is an `auth_failure` (1) or an `auth_ext_invalid_hmac` (2).

`global_defs` names `state_dump_file`, `stats_dump_file` and `json_dump_file` in the
node's own directory. After a few seconds each node is sent SIGUSR1 (data), SIGUSR2
(stats) and the JSON signal, and the script records where each dump appeared: 2.4.3
writes the data dump where `state_dump_file` says (and its parent's next to it, with
`_parent` before the extension), but the stats and the JSON to its tmp directory
($TMPDIR, else /tmp) whatever `stats_dump_file` / `json_dump_file` say. The script fails
if that ever changes, so the README stays true.

Files: `dumps-jsonV-NODE.{json,data,stats}` for V in 1 and 2. The work directory is
rewritten to /run/keepalived/NODE, as in make_corpus.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from haconsole.netns.lab import NetnsLab, NetnsNode, pair_configs, wait_for  # noqa: E402

NODES = ("nginx1", "nginx2")
KEYS = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")


def config_text(node: NetnsNode, index: int, json_version: int) -> str:
    """The node's keepalived.conf (see the module docstring)."""
    d = node.dir
    state = "MASTER" if index == 0 else "BACKUP"
    prio = 100 if index == 0 else 90
    if json_version == 1:
        disagree = (f"    authentication {{\n        auth_type PASS\n"
                    f"        auth_pass secret-{'AB'[index]}\n    }}\n")
    else:
        disagree = (f"    auth_hmac {{\n        key 1 {KEYS[index]}\n"
                    f"        active_key 1\n    }}\n")
    return f"""global_defs {{
    router_id {node.name}
    script_user root
    json_version {json_version}
    state_dump_file {d}/ka-state.data
    stats_dump_file {d}/ka-stats.stats
    json_dump_file {d}/ka.json
}}
vrrp_script chk_nginx {{
    script "/usr/bin/pidof nginx"
    interval 1
    weight -20
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 100
    priority {prio}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass lab-pass
    }}
    virtual_ipaddress {{
        192.0.2.170/24
    }}
    track_script {{
        chk_nginx
    }}
}}
vrrp_instance VI_6 {{
    state {state}
    interface eth0
    virtual_router_id 106
    priority {prio}
    advert_int 1
    virtual_ipaddress {{
        2001:db8::170/64
    }}
}}
vrrp_instance VI_2 {{
    state BACKUP
    interface eth0
    virtual_router_id 102
    priority {prio}
    advert_int 1
{disagree}    virtual_ipaddress {{
        192.0.2.172/24
    }}
}}
"""


class DumpLab(NetnsLab):
    def __init__(self, *args: Any, json_version: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.json_version = json_version

    def config_text(self, node: NetnsNode) -> str:
        return config_text(node, list(self.nodes).index(node.name), self.json_version)


def node_file(lab: NetnsLab, node: str, path: str) -> str | None:
    """A file as the node sees it (its private /tmp included); None when absent."""
    out = subprocess.run([*lab.enter(node), "cat", path], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


def dump(lab: NetnsLab, node: str, json_sig: int) -> dict[str, tuple[str, str]]:
    """Signal the node's keepalived for its three dumps: suffix -> (where, text)."""
    d = lab.nodes[node].dir
    parent = int((d / "keepalived.pid").read_text())
    wanted = {
        # signal, suffix, where 2.4.3 writes it, where the config asked
        "data": (signal.SIGUSR1, f"{d}/ka-state.data", f"{d}/ka-state.data"),
        "stats": (signal.SIGUSR2, "/tmp/keepalived.stats", f"{d}/ka-stats.stats"),
        "json": (json_sig, "/tmp/keepalived.json", f"{d}/ka.json"),
    }
    found: dict[str, tuple[str, str]] = {}
    for suffix, (sig, where, asked) in wanted.items():
        os.kill(parent, sig)
        wait_for(lambda where=where: node_file(lab, node, where), 10,
                 what=f"{node}'s {suffix} dump at {where}")
        time.sleep(0.3)  # written at once, but let it finish
        text = node_file(lab, node, where)
        assert text is not None
        if where != asked and node_file(lab, node, asked) is not None:
            raise SystemExit(f"{node}: 2.4.3 now writes the {suffix} dump to {asked}: "
                             "update the README and this script")
        found[suffix] = (where, text)
    parent_data = node_file(lab, node, f"{d}/ka-state_parent.data")
    if parent_data is None:
        raise SystemExit(f"{node}: no parent data dump next to the state_dump_file")
    return found


def run(binary: str, json_version: int, out: Path) -> None:
    json_sig = int(subprocess.run([binary, "--signum=JSON"], capture_output=True,
                                  text=True, check=True).stdout.strip())
    workdir = Path(tempfile.mkdtemp(prefix=f"kadumps-{json_version}-"))
    lab = DumpLab(pair_configs(), engines=dict.fromkeys(NODES, "keepalived"),
                  workdir=workdir, keepalived_binary=binary, private_tmp=True,
                  json_version=json_version)
    try:
        lab.start()
        wait_for(lambda: lab.states("nginx2").get("VI_1") == "BACKUP"
                 and lab.states("nginx1").get("VI_1") == "MASTER", 20, what="VI_1 elected")
        wait_for(lambda: all(lab.states(n).get("VI_2") == "MASTER" for n in NODES), 20,
                 what="both VI_2 MASTER")
        time.sleep(4)  # adverts, and the other side's refused ones, counted
        for node in NODES:
            for suffix, (where, text) in dump(lab, node, json_sig).items():
                text = text.replace(str(lab.nodes[node].dir), f"/run/keepalived/{node}")
                text = text.replace(binary, "/usr/local/sbin/keepalived")
                (out / f"dumps-json{json_version}-{node}.{suffix}").write_text(text)
                print(f"json_version {json_version} {node} {suffix}: written to {where}")
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keepalived", default=".build/keepalived-2.4.3/sbin/keepalived")
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("make_dumps.py: needs root (network namespaces)", file=sys.stderr)
        return 2
    for version in (1, 2):
        run(os.path.abspath(args.keepalived), version, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
