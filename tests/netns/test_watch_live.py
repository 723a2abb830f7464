"""`haconsole watch -i IFACE` live, in a namespace: a real VRRP advert on a veth is decoded.

One namespace holds a veth pair (the `veth_ns` fixture); a sender on one end multicasts
adverts (every 0.1 s, for as long as the capture runs), `haconsole watch -i` on the other
end prints the first one.
"""

from __future__ import annotations

import json
import subprocess
import sys

SENDER = r"""
import socket, sys, time, ipaddress
from haconsole.vrrp.packet import Advert, encode, MCAST_V4
src = ipaddress.IPv4Address("192.0.2.1")
advert = Advert(2, 42, 150, 100, (ipaddress.IPv4Address("192.0.2.42"),), 1, b"secret!\0")
payload = encode(advert, src, MCAST_V4)
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(str(src)))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
end = time.monotonic() + 20
while time.monotonic() < end:
    s.sendto(payload, (str(MCAST_V4), 0))
    time.sleep(0.1)
"""


def test_watch_live_decodes_an_advert(veth_ns: str) -> None:
    watch = subprocess.Popen(
        ["ip", "netns", "exec", veth_ns, sys.executable, "-m", "haconsole", "watch",
         "-i", "e1", "--count", "1", "--json", "--timeout", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender = subprocess.Popen(["ip", "netns", "exec", veth_ns, sys.executable, "-c", SENDER],
                              stderr=subprocess.PIPE, text=True)
    try:
        out, err = watch.communicate(timeout=30)
    finally:
        sender.kill()
        sender.wait()
    assert watch.returncode == 0, err
    record = json.loads(out.splitlines()[0])
    assert record["vrid"] == 42 and record["priority"] == 150
    assert record["src"] == "192.0.2.1" and record["dst"] == "224.0.0.18"
    assert "secret" not in out
