"""Parse + check a generated 1000-instance keepalived.conf and print the time it takes.

The target is < 1 s: `haconsole check` runs in editors and CI on every save/commit, and a
large site's config (hundreds of VRRP instances, one per VLAN) must stay instant.

    .venv/bin/python benchmarks/parse.py [--instances N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from haconsole.keepalived.check import check_files


def generate(instances: int) -> str:
    """A config in the shape operators write, scaled: scripts, then many instances."""
    parts = [
        "global_defs {\n    router_id bench\n    script_user root\n"
        "    enable_script_security\n}\n",
        'vrrp_script chk_nginx {\n    script "/usr/bin/pgrep -x nginx"\n    interval 1\n'
        "    weight -20\n    fall 2\n    rise 2\n}\n",
    ]
    for n in range(instances):
        vrid = n % 255 + 1
        vlan = n // 255
        parts.append(
            f"vrrp_instance VI_{n} {{\n"
            f"    state {'MASTER' if n % 2 else 'BACKUP'}\n"
            f"    interface eth{vlan}\n"
            f"    virtual_router_id {vrid}\n"
            f"    priority {100 + n % 50}\n"
            "    advert_int 1\n"
            "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n"
            "    virtual_ipaddress {\n"
            f"        10.{vlan}.{vrid}.1/24 dev eth{vlan} label eth{vlan}:{vrid}\n"
            f"        10.{vlan}.{vrid}.2/24\n"
            "    }\n"
            "    track_script {\n        chk_nginx\n    }\n"
            "}\n"
        )
    return "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "keepalived.conf")
        path.write_text(generate(args.instances))
        lines = path.read_text().count("\n")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = check_files([str(path)])
            times.append(time.perf_counter() - start)
    instances = len(report.nodes[0].config.vrrp_instances)
    print(f"parse + check: {instances} instances, {lines} lines, "
          f"{len(report.findings)} findings: median {statistics.median(times):.3f} s, "
          f"best {min(times):.3f} s over {args.repeat} runs (target < 1 s)")
    return 0 if statistics.median(times) < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
