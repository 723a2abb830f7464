"""NetlinkVips on a real interface: keepalived's VIP rules through pyroute2-built messages.

Run in a scratch namespace (a child process, so this test's own namespace is untouched):
an IPv4 VIP with its label, an IPv6 VIP with IFA_F_NODAD, a re-add that is not an error,
`held()` naming only VIPs (never the interface's own address), and a remove that leaves
the interface's own address in place. The kernel's view comes from `ip -j addr`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.netns]

SCRIPT = r"""
import ipaddress, json, subprocess
from haconsole.config import VirtualAddress
from haconsole.net.vips import NetlinkVips

def kernel():
    out = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", "e0"],
                                    capture_output=True, text=True, check=True).stdout)
    return {i["local"]: i for i in out[0]["addr_info"] if i["family"] in ("inet", "inet6")
            and not i["local"].startswith("fe80")}

v4 = VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"), label="e0:vip")
v6 = VirtualAddress(ipaddress.ip_interface("2001:db8::170/64"))
vips = NetlinkVips()
vips.remove([v4, v6], "e0")          # the startup cleanup: nothing there yet, no error
vips.add([v4, v6], "e0")
added = kernel()
vips.add([v4], "e0")                 # already there: not an error
held = sorted(vips.held())
vips.remove([v4, v6], "e0")
print(json.dumps({"added": added, "held": held, "after": sorted(kernel()),
                  "errors": vips.errors}))
"""


def test_vips_with_label_nodad_and_only_vips_touched(veth_ns: str) -> None:
    out = subprocess.run(["ip", "netns", "exec", veth_ns, sys.executable, "-c", SCRIPT],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["errors"] == []
    added = result["added"]
    assert added["192.0.2.170"]["prefixlen"] == 24
    assert added["192.0.2.170"]["label"] == "e0:vip"
    assert added["2001:db8::170"]["prefixlen"] == 64 and added["2001:db8::170"].get("nodad")
    assert result["held"] == ["192.0.2.170", "2001:db8::170"]  # not 192.0.2.1
    assert result["after"] == ["192.0.2.1"]  # the interface's own address stays
