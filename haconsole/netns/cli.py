"""`haconsole lab --netns`: build the real lab, print its merged logs, tear it down.

Wired by haconsole.cli: `add_arguments(lab_parser)` adds the netns-only flags and
`main_netns_lab(args)` runs it with the lab flags (`-n`, `--config`, `--scenario`,
`--duration`, `--text`). Ctrl-C and SIGTERM tear everything down; a lab left by a crash
is removed at the next start (namespaces named after a dead pid).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TextIO


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keepalived", nargs="+", default=[], metavar="NODE",
                        help="with --netns: run the Debian keepalived on these nodes "
                             "instead of the haconsole agent")


CAP_SYS_ADMIN = 21  # mounting /run/netns, setns()


def _preflight(keepalived: bool) -> str | None:
    if os.geteuid() != 0:
        return "lab --netns needs root (it creates network namespaces)"
    from haconsole.agent.daemon import CAP_NET_ADMIN, effective_capabilities

    caps = effective_capabilities()
    missing = [name for bit, name in ((CAP_SYS_ADMIN, "CAP_SYS_ADMIN (creating namespaces)"),
                                      (CAP_NET_ADMIN, "CAP_NET_ADMIN (veths and addresses)"))
               if caps is not None and not caps & (1 << bit)]
    if missing:
        return ("lab --netns needs " + " and ".join(missing) + ", which this process lacks "
                "(in a container: run it privileged, or use the in-process `haconsole lab`)")
    programs = ["ip", "nginx", "curl"] + (["keepalived"] if keepalived else [])
    for program in programs:
        if shutil.which(program) is None and not Path("/usr/sbin", program).exists():
            return f"lab --netns needs {program} (make test installs it when root)"
    return None


class _Tail:
    """Follows the engines' log files and prints new lines prefixed with the node."""

    def __init__(self, files: dict[str, Path], out: TextIO) -> None:
        self.files = files
        self.out = out
        self.offsets = dict.fromkeys(files, 0)
        self.width = max((len(n) for n in files), default=4)

    def poll(self) -> None:
        for node, path in self.files.items():
            try:
                with path.open("r", errors="replace") as f:
                    f.seek(self.offsets[node])
                    data = f.read()
                    self.offsets[node] = f.tell()
            except OSError:
                continue
            for line in data.splitlines():
                if line and not line.startswith("--- start"):
                    print(f"{node:<{self.width}} | {line}", file=self.out)
        self.out.flush()


def main_netns_lab(args: argparse.Namespace) -> int:
    from haconsole.config import ConfigError
    from haconsole.lab.definition import load_lab
    from haconsole.lab.scenario import ScenarioError, parse_scenario
    from haconsole.netns.lab import NetnsLab, lab_configs
    from haconsole.netns.topology import NetnsError

    keepalived = list(getattr(args, "keepalived", []) or [])
    problem = _preflight(bool(keepalived))
    if problem:
        print(f"haconsole: {problem}", file=sys.stderr)
        return 2
    try:
        definition = load_lab(getattr(args, "config", None), nodes=getattr(args, "nodes", None))
        scenario = getattr(args, "scenario", None)
        steps = parse_scenario(scenario, definition) if scenario else []
    except ConfigError as err:
        print(f"haconsole: {err}", file=sys.stderr)
        return 2
    except ScenarioError as err:
        print(f"haconsole: --scenario: {err}", file=sys.stderr)
        return 2
    configs = lab_configs(definition)
    unknown = [n for n in keepalived if n not in configs]
    if unknown:
        print(f"haconsole: --keepalived: no node {unknown[0]!r} in the lab "
              f"(nodes: {', '.join(configs)})", file=sys.stderr)
        return 2
    lab = NetnsLab(configs, engines=dict.fromkeys(keepalived, "keepalived"))

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    try:
        print(f"haconsole: building {definition.name} in namespaces {lab.topology.prefix}*",
              file=sys.stderr)
        lab.start()
        _print_summary(lab, definition)
        tail = _Tail({n: node.log for n, node in lab.nodes.items()}, sys.stdout)
        duration = getattr(args, "duration", None)
        start = time.monotonic()
        pending = list(steps)
        while duration is None or time.monotonic() - start < duration:
            while pending and time.monotonic() - start >= pending[0].at:
                step = pending.pop(0)
                ok, detail = lab.execute(step.command)
                print(f"[haconsole] {step.command.describe()}: "
                      f"{'done' if ok else 'FAILED'} - {detail}", flush=True)
            tail.poll()
            time.sleep(0.2)
        tail.poll()
    except KeyboardInterrupt:
        print("\nhaconsole: tearing the lab down", file=sys.stderr)
    except (OSError, RuntimeError, TimeoutError, NetnsError) as err:
        print(f"haconsole: lab --netns failed: {err}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, old)
        lab.stop()
    return 0


def _print_summary(lab: object, definition: object) -> None:
    from haconsole.netns.lab import NetnsLab

    assert isinstance(lab, NetnsLab)
    print("node      engine      namespace                     address       control")
    for name, node in lab.nodes.items():
        control = node.control if node.engine == "haconsole" else "-"
        print(f"{name:<9} {node.engine:<11} {lab.ns(name):<29} {lab.ipv4(name):<13} {control}")
    vips = sorted({str(v.ip) for c in (n.config for n in lab.nodes.values())
                   for i in c.vrrp_instances for v in i.virtual_ipaddress})
    client = lab.topology.ns("client")
    for vip in vips:
        print(f"try: ip netns exec {client} curl http://{vip}/")
    print("Ctrl-C tears everything down.", flush=True)
