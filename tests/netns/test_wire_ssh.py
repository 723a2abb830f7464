"""`connect` with `capture = "eth0"`: the wire of each node, over the real sshd lab.

Each node of the SSH lab (OpenSSH sshd, keepalived 2.2.7, nginx in namespaces; see
ssh_testbed.py) declares `capture = "eth0"`: the console runs the fleet and one
`SshWireSource` per node (`tcpdump -w -` on the node, streamed over SSH and decoded here).
The Wire screen then shows both capture points, n1's adverts named with n1, the VIP
answered by n1's MAC, and the cross-check column agrees for both nodes; the password
never reaches an event or the screen. A capture that cannot start (no such interface)
is reported as an unhealthy capture point with tcpdump's own words, and retried.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ssh_testbed import PASSWORD, VIP, SshTestbed  # tests/netns is on sys.path

from haconsole.cluster import events as ev
from haconsole.console.app import HAConsoleApp
from haconsole.console.widgets.instances import InstancesTable
from haconsole.console.wire_screen import WireScreen
from haconsole.netns.lab import wait_for
from haconsole.netns.topology import list_namespaces
from haconsole.sources.connect import build_fleet
from haconsole.sources.inventory import load_inventory
from haconsole.sources.ssh import SshOptions
from haconsole.sources.wire import SshWireSource, ssh_wire_sources

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(150)]
SIZE = (180, 50)


@pytest.fixture
def wire_lab(root: Callable[[str], None]) -> Iterator[SshTestbed]:
    """The SSH lab (keepalived on n1 and n2), its inventory giving both `capture`."""
    for program in ("sshd", "keepalived", "nginx", "nsenter", "unshare", "ssh-keygen", "ss",
                    "tcpdump"):
        root(program)
    lab = SshTestbed()
    try:
        lab.start()
        text = re.sub(r'^(name = "n\d")$', r'\1\ncapture = "eth0"', lab.inventory_text(),
                      flags=re.M)
        lab.inventory.write_text(text)
        yield lab
    except BaseException:
        print(lab.logs())
        raise
    finally:
        lab.stop()
        left = [ns for ns in list_namespaces() if ns.startswith(lab.topology.prefix)]
        assert not left, f"namespaces left behind: {left}"


class Tap:
    """A source seen through: every event it publishes is also kept in `events`."""

    def __init__(self, source: Any, events: list[ev.Event]) -> None:
        self.source, self.events, self.name = source, events, source.name

    async def start(self, publish: Callable[[ev.Event], None]) -> None:
        def both(event: ev.Event) -> None:
            self.events.append(event)
            publish(event)

        await self.source.start(both)

    async def stop(self) -> None:
        await self.source.stop()

    def supports(self, command: Any) -> bool:
        return bool(self.source.supports(command))

    async def execute(self, command: Any) -> tuple[bool, str]:
        return await self.source.execute(command)  # type: ignore[no-any-return]


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await (pilot.pause(0.2) if pilot is not None else asyncio.sleep(0.1))


async def test_connect_shows_the_wire_of_each_node(wire_lab: SshTestbed) -> None:
    lab = wire_lab
    wait_for(lambda: lab.holders() == ["n1"], 15, what="n1 to hold the VIP")
    inventory = load_inventory(lab.inventory)
    assert [spec.capture for spec in inventory.nodes] == ["eth0", "eth0"]
    fleet = build_fleet(inventory)
    wires = ssh_wire_sources(inventory, fleet.options)
    assert [w.name for w in wires] == ["n1:eth0", "n2:eth0"]
    events: list[ev.Event] = []
    app = HAConsoleApp([Tap(fleet, events), *(Tap(w, events) for w in wires)],
                       cluster=fleet.name, kind="ssh", readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        await until(pilot, lambda: view.master_of("VI_1") == "n1" and
                    ("n2", "VI_1") in view.instances, 20, "n1 MASTER and n2 known")
        await until(pilot, lambda: {"n1:eth0", "n2:eth0"} <= set(view.wire.points) and all(
            p.ok for p in view.wire.points.values()), 20, "both captures running")
        speaker = await until(pilot, lambda: view.wire.speakers.get((51, 4, "192.0.2.11")),
                              15, "n1's adverts on the wire")
        await until(pilot, lambda: speaker.points == {"n1:eth0", "n2:eth0"}, 10,
                    "n1's adverts seen from both nodes (n1's own, outgoing, too)")
        assert speaker.priority == 150 and speaker.auth == "PASS" and speaker.ttl == 255
        assert view.wire.node_of_address(view, "192.0.2.11") == "n1"
        table = app.query_one(InstancesTable)

        def mark(node: str) -> str:
            try:
                return str(table.get_cell(f"{node}/VI_1", "wire").plain)
            except Exception:  # no row or column yet
                return ""

        await until(pilot, lambda: mark("n1") == "✓" and mark("n2") == "✓", 20,
                    "the cross-check agreeing for both nodes")
        await pilot.press("w")
        screen = await until(pilot, lambda: isinstance(app.screen, WireScreen) and app.screen,
                             5, "the Wire screen")
        await until(pilot, lambda: f"VIP {VIP} → " in screen.text and " (n1)" in screen.text,
                    20, "the VIP answered by n1's MAC")
        text = screen.text
        assert "● n1:eth0" in text and "● n2:eth0" in text
        assert re.search(r"●\s+192\.0\.2\.11\s+n1\s+[0-9a-f:]{17}\s+150\s+1s\s+v2\s+PASS·a",
                         text), text
        assert "✓ agree" in text and "the wire agrees with itself" in text
        dumped = "\n".join(json.dumps(e.to_dict()) for e in events)
        assert PASSWORD[:8] not in text and PASSWORD[:8] not in dumped
    await asyncio.wait_for(fleet.stop(), 5)


async def test_a_capture_that_cannot_start_says_why(wire_lab: SshTestbed) -> None:
    inventory = load_inventory(wire_lab.inventory)
    source = SshWireSource(inventory.node("n1"), SshOptions(
        known_hosts=inventory.known_hosts, ssh_config=inventory.ssh_config,
        backoff_initial=0.2, backoff_max=1.0), "nosuch0")
    seen: list[ev.Event] = []
    await source.start(seen.append)
    try:
        failed = await until(None, lambda: next(
            (e for e in seen if isinstance(e, ev.WireCapture) and not e.ok), None), 30,
            "the capture reported unhealthy")
        assert failed.node == "n1:nosuch0"
        assert failed.detail.startswith("tcpdump on n1:nosuch0 ended (tcpdump: nosuch0: ")
        assert failed.detail.endswith("; reconnecting in 0.2 s")
    finally:
        await source.stop()
    assert Path(wire_lab.inventory).exists()
