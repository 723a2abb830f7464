"""A console that attaches after an incident sees it: the agent hands over its past.

Two haconsole agents with real nginx: nginx stops on the master (failover) and starts
again (failback) before any console is watching. A ClusterView fed by AgentSources that
attach afterwards shows both moves in its Failovers, in their own time, and the
HistoryEnd marker in its log.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from haconsole.cluster import events as ev
from haconsole.cluster.history_gate import HistoryGate
from haconsole.cluster.view import ClusterView
from haconsole.netns.lab import VIP4, pair_configs, wait_for
from haconsole.sources.agent import AgentSocketSource

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def test_a_late_console_sees_the_failover_and_failback_from_the_agents_memory(make_lab):
    lab = make_lab(pair_configs())
    lab.wait_single_holder(VIP4, 15, expect="nginx1")
    lab.kill_nginx("nginx1")
    lab.wait_single_holder(VIP4, 15, expect="nginx2")
    lab.start_nginx("nginx1")
    lab.wait_single_holder(VIP4, 15, expect="nginx1")

    async def attach() -> ClusterView:
        """As the console does: what arrives goes through the HistoryGate, which folds
        the two agents' pasts in time order."""
        view = ClusterView()
        gate = HistoryGate(time.time())
        arrived: list[ev.Event] = []
        sources = [AgentSocketSource(n.name, n.control) for n in lab.nodes.values()]
        for source in sources:
            await source.start(arrived.append)
        loop = asyncio.get_running_loop()
        end = loop.time() + 15
        while sum(1 for n in view.nodes.values() if n.history_end is not None) < 2:
            assert loop.time() < end, "no HistoryEnd from both agents"
            batch, arrived[:] = list(arrived), []
            view.apply_all(gate.feed(batch, time.time()))  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
        for source in sources:
            await source.stop()
        return view

    view = asyncio.run(attach())
    moves = [(f.old_master, f.new_master) for f in view.failovers]
    assert moves[-2:] == [("nginx1", "nginx2"), ("nginx2", "nginx1")], moves
    first, back = list(view.failovers)[-2:]
    assert first.elected_t is not None and back.elected_t is not None
    assert first.elected_t < back.elected_t
    assert any("history:" in e.text and "live from here" in e.text for e in view.log)
    wait_for(lambda: lab.holders(VIP4) == ["nginx1"], 5, what="VIP on nginx1")
