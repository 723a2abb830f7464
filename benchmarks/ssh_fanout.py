"""SSH fan-out: `haconsole connect` on N in-process asyncssh servers on 127.0.0.1.

Each server (in a child process, so the figures below are the console side's own) has its
own host key and serves what a stock keepalived node would: the poll loop's JSON dump,
`ip -j addr` and service check, and a keepalived log stream. Printed:

- time to connect to all N nodes (first dump of every node folded in the ClusterView);
- steady CPU of the console side (one process: SSH, parsing, the fold) at the polling
  interval, as % of one core, and the servers' CPU for reference;
- event latency from a change on a node to the ClusterView: a dump-only change (expect
  about half the interval on average) and a change announced in the log (milliseconds).

Targets (issue 6): all connected < 3 s, < 10 % of a core steady at 1 s polling, 50 nodes.

    .venv/bin/python benchmarks/ssh_fanout.py [-n 50] [--seconds 10] [--interval 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncssh

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from haconsole.cluster import events as ev  # noqa: E402
from haconsole.cluster.view import ClusterView  # noqa: E402
from haconsole.sources.connect import FleetSource  # noqa: E402
from haconsole.sources.inventory import parse_inventory  # noqa: E402
from haconsole.sources.ssh import SshOptions  # noqa: E402

# ------------------------------------------------------------------ the servers (child)


def _instance(name: str, state: int, sent: int, rcvd: int) -> dict[str, Any]:
    return {
        "data": {"iname": "VI_1", "ifp_ifname": "eth0", "vrid": 51, "base_priority": 100,
                 "effective_priority": 100, "last_transition": 1.0, "adver_int": 1,
                 "state": state, "wantstate": state, "version": 2, "nopreempt": False,
                 "vips": [f"192.0.2.{100 + int(name[1:]) % 100} dev eth0 scope global set"],
                 "auth_type": 1, "auth_data": "secret12"},
        "stats": {"advert_rcvd": rcvd, "advert_sent": sent, "become_master": 0,
                  "release_master": 0, "packet_len_err": 0, "advert_interval_err": 0,
                  "ip_ttl_err": 0, "invalid_type_rcvd": 0, "addr_list_err": 0,
                  "invalid_authtype": 0, "authtype_mismatch": 0, "auth_failure": 0,
                  "pri_zero_rcvd": 0, "pri_zero_sent": 0},
    }


class FakeKeepalived:
    def __init__(self, name: str) -> None:
        self.name = name
        self.state = 1
        self.sent = self.rcvd = 0
        self.logs: list[asyncio.Queue[str]] = []

    def block(self, boundary: str) -> str:
        if self.state == 2:
            self.sent += 1
        else:
            self.rcvd += 1
        addr = [{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.0.2.1"}]}]
        return (f"{boundary} pid 4242\n{boundary} json\n"
                f"{json.dumps([_instance(self.name, self.state, self.sent, self.rcvd)])}\n"
                f"{boundary} addr\n{json.dumps(addr)}\n{boundary} service up\n{boundary} end\n")

    async def handle(self, process: asyncssh.SSHServerProcess[str]) -> None:
        script = (process.command or "").split(" ", 2)[-1]
        try:
            if "signum=JSON" in script:
                boundary = re.search(r"B=([0-9a-f]+)", script)
                assert boundary
                async for _ in process.stdin:
                    process.stdout.write(self.block(boundary.group(1)))
            elif "tail" in script or "journalctl" in script:
                mark = re.search(r"B=([0-9a-f]+)", script)  # no past: straight to live
                process.stdout.write(f"{mark.group(1)} live\n" if mark else "")
                queue: asyncio.Queue[str] = asyncio.Queue()
                self.logs.append(queue)
                while True:
                    process.stdout.write(await queue.get())
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            pass
        with contextlib.suppress(OSError, asyncssh.Error):
            process.exit(0)

    def say(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
        for queue in self.logs:
            queue.put_nowait(f"{stamp} {self.name} Keepalived_vrrp[7]: {message}\n")


class _NoAuth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


async def serve(count: int) -> None:
    nodes = [FakeKeepalived(f"n{i}") for i in range(count)]
    ports, keys = [], []
    for node in nodes:
        key = asyncssh.generate_private_key("ssh-ed25519")
        server = await asyncssh.create_server(_NoAuth, "127.0.0.1", 0, server_host_keys=[key],
                                              process_factory=node.handle, encoding="utf-8")
        ports.append(server.sockets[0].getsockname()[1])
        keys.append(key.export_public_key().decode().strip())
    print(json.dumps({"ports": ports, "keys": keys}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        verb, *rest = line
        if verb == "cpu":
            print(f"cpu {time.process_time()}", flush=True)
            continue
        node = nodes[int(rest[0])]
        node.state = 1 if node.state == 2 else 2
        if verb == "log":
            node.say("(VI_1) Entering " + ("MASTER" if node.state == 2 else "BACKUP") + " STATE")
        print(f"done {time.time()}", flush=True)


# ------------------------------------------------------------------ the console (parent)


class Child:
    def __init__(self, count: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(count)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.hello = json.loads(self.proc.stdout.readline())

    async def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return await asyncio.to_thread(self.proc.stdout.readline)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self.proc.wait(10)


async def measure(count: int, seconds: float, interval: float, samples: int) -> None:
    child = Child(count)
    ports, keys = child.hello["ports"], child.hello["keys"]
    work = Path(tempfile.mkdtemp(prefix="haconsole-bench-"))
    known = work / "known_hosts"
    known.write_text("".join(f"[127.0.0.1]:{p} {k}\n" for p, k in zip(ports, keys, strict=True)))
    text = f"interval = {interval}\n" + "".join(
        f'[[node]]\nname = "n{i}"\nhost = "127.0.0.1"\nport = {p}\nlog_file = "/var/log/k"\n'
        for i, p in enumerate(ports))
    options = SshOptions(known_hosts=str(known),
                         extra={"config": [], "agent_path": None, "client_keys": []})
    fleet = FleetSource(parse_inventory(text, "bench.toml"), options)
    view = ClusterView()
    changed: dict[str, float] = {}
    seen: set[str] = set()
    all_seen = asyncio.Event()
    counts = {"events": 0}

    def publish(event: ev.Event) -> None:
        counts["events"] += 1
        key = (event.node, "VI_1")
        before = view.instances[key].state if key in view.instances else None
        view.apply(event)
        if key in view.instances and view.instances[key].state != before:
            changed[event.node] = time.time()
        if isinstance(event, ev.InstanceState) and event.node not in seen:
            seen.add(event.node)
            if len(seen) == count:
                all_seen.set()

    began = time.perf_counter()
    await fleet.start(publish)
    await asyncio.wait_for(all_seen.wait(), 60)
    connect_s = time.perf_counter() - began

    await asyncio.sleep(2 * interval)  # settle: log streams open, first deltas
    server_cpu0 = float((await child.ask("cpu")).split()[1])
    cpu0, wall0, events0 = time.process_time(), time.perf_counter(), counts["events"]
    await asyncio.sleep(seconds)
    cpu1, wall1, events1 = time.process_time(), time.perf_counter(), counts["events"]
    server_cpu1 = float((await child.ask("cpu")).split()[1])
    steady = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    server = 100 * (server_cpu1 - server_cpu0) / (wall1 - wall0)

    latencies: dict[str, list[float]] = {"dump": [], "log": []}
    for i in range(samples):
        for verb in ("dump", "log"):
            index = (i * 7 + (1 if verb == "log" else 0)) % count
            node = f"n{index}"
            changed.pop(node, None)
            applied = float((await child.ask(f"{verb} {index}")).split()[1])
            end = time.monotonic() + 5 * interval + 5
            while node not in changed and time.monotonic() < end:
                await asyncio.sleep(0.002)
            if node in changed:
                latencies[verb].append(1000 * (changed[node] - applied))
    await fleet.stop()
    child.close()

    print(f"ssh fan-out: {count} nodes, polling every {interval:g} s "
          f"(asyncssh {asyncssh.__version__}, Python {sys.version.split()[0]})")
    print(f"  connect to all:          {connect_s:6.2f} s   (target < 3 s)")
    print(f"  steady CPU, console:     {steady:6.1f} % of one core   (target < 10 %; "
          f"{(events1 - events0) / (wall1 - wall0):.0f} events/s folded)")
    print(f"  steady CPU, {count} servers: {server:6.1f} % of one core (reference)")
    for verb, label in (("dump", "dump change -> view"), ("log", "log line -> view")):
        xs = sorted(latencies[verb])
        if not xs:
            print(f"  {label}: no sample")
            continue
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
        print(f"  {label:<24} median {statistics.median(xs):7.1f} ms  p95 {p95:7.1f} ms  "
              f"max {xs[-1]:7.1f} ms  ({len(xs)} samples)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--nodes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="steady-state window")
    parser.add_argument("--interval", type=float, default=1.0, help="polling interval")
    parser.add_argument("--samples", type=int, default=20, help="latency samples per kind")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.serve))
        return 0
    asyncio.run(measure(args.nodes, args.seconds, args.interval, args.samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
