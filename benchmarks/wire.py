"""Wire source figures: CPU at 20 000 frames/s, events published, a garbage flood.

Run: .venv/bin/python benchmarks/wire.py [--seconds 10] [--rate 20000] [--live]

Target: 20 000 frames/s (adverts + ARP) under 30 % of one core, and a flood of garbage
never stalls the console's loop.

- offline: `--seconds` of capture time at `--rate` frames/s, built in memory (200
  speakers on 200 VRIDs at 50 adverts/s each = 10 000/s, plus 10 000 ARP requests and
  replies/s for 500 addresses), through the whole path: link-layer and VRRP/ARP decoding,
  the aggregator, and the fold of what it publishes into a ClusterView. Printed: CPU per
  frame, CPU at the target rate as % of one core, events published per second. Then the
  worst cases: every advert different from its sender's last (no repeat shortcut), and
  garbage (random bytes as IPv4 protocol 112).
- live (`--live`, root): a sender process blasts the same mix on a veth pair in a scratch
  namespace; the real `LiveWireSource` (AF_PACKET, BPF, the asyncio loop) captures it.
  Printed: this process's CPU (the sender is another process), frames decoded and
  dropped, and the loop's worst lag (a 10 ms timer), under the mix and under garbage.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from haconsole.cluster.view import ClusterView
from haconsole.sources.wire import WireAggregator
from haconsole.vrrp.packet import MCAST_V4, Advert, encode

ROOT = Path(__file__).resolve().parent.parent
BROADCAST = b"\xff" * 6


def mac(n: int) -> bytes:
    return bytes([2, 0, 0, 0, n >> 8 & 0xFF, n & 0xFF])


def ipv4_frame(src_mac: bytes, dst_mac: bytes, src: str, dst: str, proto: int,
               payload: bytes, ttl: int = 255) -> bytes:
    total = 20 + len(payload)
    header = bytearray([0x45, 0, total >> 8, total & 0xFF, 0, 0, 0, 0, ttl, proto, 0, 0])
    header += ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    csum = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, 20, 2))
    csum = (csum & 0xFFFF) + (csum >> 16)
    header[10:12] = (~csum & 0xFFFF).to_bytes(2, "big")
    frame = dst_mac + src_mac + b"\x08\x00" + bytes(header) + payload
    return frame.ljust(60, b"\0")


def advert_frame(speaker: int, priority: int = 100) -> bytes:
    """Speaker n (0..199) masters VRID n + 1 from 192.0.2.(n + 10): a quiet segment."""
    src = f"192.0.2.{10 + speaker % 200}"
    vrid = 1 + speaker % 200
    advert = Advert(2, vrid, priority, 100, (ipaddress.IPv4Address(f"198.51.100.{vrid}"),),
                    1, b"bench")
    payload = encode(advert, ipaddress.IPv4Address(src), MCAST_V4)
    return ipv4_frame(mac(speaker), b"\x01\x00\x5e\x00\x00\x12", src, str(MCAST_V4), 112,
                      payload)


def arp_frame(address: int, reply: bool) -> bytes:
    ip = ipaddress.IPv4Address(f"203.0.113.{address % 250}").packed if address < 250 else \
        ipaddress.IPv4Address(f"192.0.2.{address % 250}").packed
    client = ipaddress.IPv4Address("192.0.2.251").packed
    owner = mac(1000 + address)
    if reply:
        body = b"\x00\x01\x08\x00\x06\x04\x00\x02" + owner + ip + mac(999) + client
        return (mac(999) + owner + b"\x08\x06" + body).ljust(60, b"\0")
    body = b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac(999) + client + b"\0" * 6 + ip
    return (BROADCAST + mac(999) + b"\x08\x06" + body).ljust(60, b"\0")


def mix(seconds: float, rate: int, *, changing: bool = False) -> list[tuple[float, bytes]]:
    """Half adverts (200 speakers round robin), half ARP (500 addresses, request then
    reply), evenly spread over `seconds` of capture time."""
    adverts = [advert_frame(s) for s in range(200)]
    out = []
    total = int(seconds * rate)
    t0 = 1795400000.0
    for n in range(total):
        t = t0 + n / rate
        if n % 2 == 0:
            k = n // 2
            frame = advert_frame(k % 200, 1 + k % 250) if changing else adverts[k % 200]
        else:
            k = n // 2
            frame = arp_frame(k % 500, reply=bool(k % 2))
        out.append((t, frame))
    return out


def garbage(seconds: float, rate: int) -> list[tuple[float, bytes]]:
    rng = random.Random(15)
    t0 = 1795400000.0
    out = []
    for n in range(int(seconds * rate)):
        size = rng.randrange(8, 64)
        payload = bytes([0x21]) + bytes(rng.getrandbits(8) for _ in range(size - 1))
        out.append((t0 + n / rate, ipv4_frame(mac(n % 4000), BROADCAST,
                                              f"192.0.2.{n % 250}", "224.0.0.18", 112,
                                              payload)))
    return out


def run_offline(frames: list[tuple[float, bytes]], label: str, rate: int) -> None:
    view = ClusterView()
    agg = WireAggregator("bench", "eth0")
    events = 0
    start = time.process_time()
    for t, frame in frames:
        agg.frame(1, t, frame)
        if agg.out:
            batch = agg.take()
            events += len(batch)
            view.apply_all(batch)
    cpu = time.process_time() - start
    seconds = (frames[-1][0] - frames[0][0]) or 1.0
    per = cpu / len(frames)
    print(f"  {label:<34} {per * 1e6:6.2f} µs/frame   {per * rate * 100:5.1f} % of a core "
          f"at {rate} frames/s   {events / seconds:8.1f} events/s "
          f"(alarms now: {len(view.alarms(frames[-1][0]))})")


SENDER = r"""
import socket, sys, time, pickle
iface, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
frames = pickle.load(sys.stdin.buffer)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
start = time.monotonic(); sent = 0; n = len(frames)
while True:
    elapsed = time.monotonic() - start
    if elapsed >= seconds:
        break
    due = int(elapsed * rate)
    while sent < due:
        try:
            s.send(frames[sent % n])
        except OSError:
            time.sleep(0.0005)
            continue
        sent += 1
    time.sleep(0.001)
print(sent)
"""


async def capture(netns: str, iface: str, seconds: float) -> tuple[float, int, int, float]:
    from haconsole.sources.wire import netns_wire_source

    view = ClusterView()
    source = netns_wire_source(netns, iface)
    lags: list[float] = []
    await source.start(view.apply)
    loop = asyncio.get_running_loop()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    end = loop.time() + seconds
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - before - 0.01)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    agg = source.aggregator
    await source.stop()
    return cpu, agg.packets, agg.dropped, max(lags)


def run_live(seconds: float, rate: int) -> None:
    import pickle

    if os.geteuid() != 0:
        print("  live: needs root (skipped)")
        return
    ns = f"hacb-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for args in (["link", "add", "e0", "type", "veth", "peer", "name", "e1"],
                     ["link", "set", "e0", "up"], ["link", "set", "e1", "up"]):
            subprocess.run(["ip", "-n", ns, *args], check=True)
        cpu, decoded, dropped, lag = asyncio.run(capture(ns, "e1", seconds))
        print(f"  live {'idle (nothing sent)':<30} {cpu / seconds * 100:5.1f} % of a core   "
              f"worst loop lag {lag * 1000:.1f} ms (the machine's own noise)")
        for label, frames in (("mix (adverts + ARP)", [f for _, f in mix(1, 4000)]),
                              ("garbage (random protocol 112)",
                               [f for _, f in garbage(1, 4000)])):
            blob = Path(f"/tmp/hacb-{os.getpid()}.frames")
            blob.write_bytes(pickle.dumps(frames))
            with blob.open("rb") as feed:
                sender = subprocess.Popen(
                    ["ip", "netns", "exec", ns, sys.executable, "-c", SENDER, "e0",
                     str(rate), str(seconds + 1)], stdin=feed, stdout=subprocess.PIPE)
            time.sleep(0.5)
            cpu, decoded, dropped, lag = asyncio.run(capture(ns, "e1", seconds))
            sent = sender.communicate(timeout=30)[0].decode().strip()
            blob.unlink()
            print(f"  live {label:<30} {cpu / seconds * 100:5.1f} % of a core   "
                  f"{decoded / seconds:8.0f} decoded/s   {dropped} dropped   "
                  f"worst loop lag {lag * 1000:.1f} ms   (sender: {sent} frames)")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=20000)
    parser.add_argument("--live", action="store_true", help="also capture live (root)")
    args = parser.parse_args()
    print(f"wire source, {args.seconds:g} s at {args.rate} frames/s "
          "(target: < 30 % of one core)")
    run_offline(mix(args.seconds, args.rate), "mix: adverts + ARP", args.rate)
    run_offline(mix(args.seconds, args.rate, changing=True),
                "worst: every advert changes", args.rate)
    run_offline(garbage(args.seconds, args.rate), "garbage: random protocol 112", args.rate)
    if args.live:
        run_live(args.seconds, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
