"""The in-process lab's simulated clients: the Clients panel's figures without root.

Real time, generous bounds only (the figures live in benchmarks and the README).
"""

from __future__ import annotations

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.lab.clients import SimulatedClients
from haconsole.lab.definition import load_lab
from haconsole.lab.lab import InProcessLab


class Node:
    def __init__(self, holds: bool, serving: bool) -> None:
        self._holds, self._serving = holds, serving

    def holds(self, vip: str) -> bool:
        return self._holds

    def serving(self) -> bool:
        return self._serving


def test_the_rules_a_client_lives_by() -> None:
    nodes = {"n1": Node(True, True), "n2": Node(False, True)}
    clients = SimulatedClients(lambda: nodes, ["192.0.2.170"], lambda e: None, lambda: 0.0)
    assert clients.answer("192.0.2.170", 1.0).error == "timeout"  # nobody announced it
    clients.observe(ev.VipAdded(1.0, "n1", instance="VI_1", vip="192.0.2.170"))
    ok = clients.answer("192.0.2.170", 2.0)
    assert (ok.ok, ok.served_by, ok.status) == (True, "n1", 200)
    nodes["n1"] = Node(True, False)  # nginx stopped: the kernel refuses
    assert clients.answer("192.0.2.170", 3.0).error == "refused"
    nodes["n1"] = Node(False, True)  # the VIP left n1 but the ARP cache still says n1
    assert clients.answer("192.0.2.170", 4.0).error == "timeout"
    nodes["n2"] = Node(True, True)
    clients.observe(ev.VipAdded(5.0, "n2", instance="VI_1", vip="192.0.2.170"))
    assert clients.answer("192.0.2.170", 6.0).served_by == "n2"


async def test_stopping_nginx_on_the_master_is_an_outage_the_clients_see() -> None:
    view = ClusterView()
    lab = InProcessLab(load_lab())
    await lab.start(view.apply)
    try:
        assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx1"], timeout=10)
        assert await lab.wait_for(lambda: bool(view.clients), timeout=5)
        ok, detail = await lab.execute(cmd.StopService("nginx1"))
        assert ok, detail
        assert await lab.wait_for(lambda: lab.masters("VI_1") == ["nginx2"], timeout=12)
        client = next(iter(view.clients.values()))
        assert await lab.wait_for(lambda: client.last_served_by == "nginx2" and
                                  client.outage_since is None, timeout=5)
        outage = client.outages[-1]
        # about Master_Down_Interval (3.65 s) plus the check's detection; generous bounds
        assert 1.0 < outage.ms / 1000 < 10.0 and outage.failed > 10
        rec = view.failovers[-1]
        assert (rec.old_master, rec.new_master) == ("nginx1", "nginx2")
        assert rec.client_outage_ms == outage.ms
    finally:
        await lab.stop()
