"""Queued adverts on real raw sockets: one sendmmsg(2) puts them on the wire in order,
as separate sendmsg calls would (source address, TTL/hop limit 255, payload), and a
packet the kernel refuses is counted and dropped without holding back the others.

The sender is a RawTransport on one end of a veth pair in a scratch namespace (the
`veth_ns` fixture), the receiver a packet socket on the other end (both ends are in one
namespace, where IP itself would drop a packet from a local address); the script runs
inside it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.netns]

SCRIPT = r"""
import asyncio, ipaddress, json, socket, subprocess, time
from haconsole.net.raw import RawTransport
from haconsole.vrrp.packet import MCAST_V4, MCAST_V6, Advert, encode

def frames(sock):
    out = []
    while True:
        try:
            frame = sock.recv(2048)
        except BlockingIOError:
            return out
        kind, ip = frame[12:14], frame[14:]
        if kind == b"\x08\x00" and ip[9] == 112:
            vrrp = ip[(ip[0] & 15) * 4:]
            out.append((str(ipaddress.IPv4Address(ip[12:16])), ip[8], vrrp[2]))
        elif kind == b"\x86\xdd" and ip[6] == 112:
            out.append((str(ipaddress.IPv6Address(ip[8:24])), ip[7], ip[40 + 2]))

def link_local_ready():
    out = subprocess.run(["ip", "-6", "addr", "show", "scope", "link"], text=True,
                         capture_output=True).stdout
    return "fe80" in out and "tentative" not in out

async def main():
    end = time.monotonic() + 10
    while not link_local_ready() and time.monotonic() < end:
        await asyncio.sleep(0.1)
    result = {}
    for family, group in ((4, MCAST_V4), (6, MCAST_V6)):
        tx = RawTransport("e0", family)
        rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        rx.bind(("e1", 0))
        rx.setblocking(False)
        frames(rx)  # whatever came before
        got = []
        src = tx.primary_address()
        def packet(priority, dst=group):
            advert = Advert(version=3, vrid=7, priority=priority, advert_int_cs=100,
                            addresses=(ipaddress.ip_address("192.0.2.7" if family == 4
                                                            else "2001:db8::7"),))
            return tx.prepare(encode(advert, src, dst), src, dst)
        packets = [packet(p) for p in (101, 102, 103)]
        if family == 6:  # no route to this one: refused, counted, the rest still go
            packets.insert(1, packet(150, ipaddress.ip_address("2001:db8:ffff::1")))
        for p in packets:
            p.queue()
        tx.flush()
        tx.flush()  # nothing queued: nothing sent again
        packets[0]()  # and one sent at once, after them
        end = time.monotonic() + 3
        while len(got) < 4 and time.monotonic() < end:
            await asyncio.sleep(0.02)
            got += [f for f in frames(rx) if f[0] == str(src)]
        result[family] = {"src": str(src), "got": got, "sent": tx.sent,
                          "errors": tx.send_errors}
        tx.close(); rx.close()
    print(json.dumps(result))

asyncio.run(main())
"""


def test_queued_adverts_leave_in_one_call_in_order(veth_ns: str) -> None:
    out = subprocess.run(["ip", "netns", "exec", veth_ns, sys.executable, "-c", SCRIPT],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for family, refused in (("4", 0), ("6", 1)):
        r = result[family]
        assert r["got"] == [[r["src"], 255, p] for p in (101, 102, 103, 101)], (family, r)
        assert (r["sent"], r["errors"]) == (4, refused), (family, r)
