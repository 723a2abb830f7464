"""Scripted runs of the lab: a scenario replayed on the virtual clock, as a list of events.

Why: snapshot tests and README screenshots must come out identical on every run, but the
in-process lab runs in real time. A `ScriptedRun` drives the same sans-IO instances
(through `vrrp.sim.Simulation`) and the same check-script counter as the lab, on the lab's
definition, and publishes the events the lab's `Node` would (through the same
`engine.publish` table), stamped `T0 + virtual time`. The console then renders them for
real; only the clock is fixed.
"""

from __future__ import annotations

from collections.abc import Collection, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, CommandIssued
from haconsole.engine.publish import events as events_of
from haconsole.engine.trackers import ScriptCounter
from haconsole.lab import commands
from haconsole.lab.clients import SimulatedClients
from haconsole.lab.definition import LabDefinition, load_lab
from haconsole.lab.scenario import Step, parse_scenario
from haconsole.probe.runner import DEFAULT_RATE
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.sim import SimNode, Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.tracking import track_specs

T0 = 1_795_000_000.0  # a fixed wall clock (2026-11-18 11:06:40 UTC)
CHECK_DELAY = 0.4  # a stopped service is seen at the next check: as in the lab, < interval

Item = ev.Event | CommandIssued
T = TypeVar("T")


class EventSimulation(Simulation):
    """A Simulation that also records what the lab's Node would publish."""

    def __init__(self, t0: float) -> None:
        super().__init__()
        self.t0 = t0
        self.events: list[Item] = []
        self._facts: dict[str, _SimFacts] = {}

    def wall(self) -> float:
        return round(self.t0 + self.now, 6)

    def emit(self, event: Item) -> None:
        self.events.append(event)

    def log(self, node: str, text: str) -> None:
        self.emit(ev.LogLine(self.wall(), node, text=text))

    def state_of(self, node: SimNode, inst: Instance) -> ev.InstanceState:
        return ev.InstanceState(
            self.wall(), node.name, instance=inst.name, vrid=inst.vrid, state=inst.state,
            base_priority=inst.base_priority, effective_priority=inst.effective_priority,
            interface=inst.interface, version=inst.version,
            advert_int=inst.adver_int_us / 1e6, vips=tuple(str(v) for v in inst.vips),
            address=str(inst.address), master_address=str(inst.master_address or ""),
            hold_until=self._wall_of(inst.hold_until(self.now)),
        )

    def _wall_of(self, t: float | None) -> float | None:
        return None if t is None else round(self.t0 + t, 6)

    def _apply(self, node: SimNode, inst: Instance, actions: list[act.Action]) -> None:
        facts = self._facts.get(node.name)
        if facts is None:
            facts = self._facts[node.name] = _SimFacts(self, node)
        for a in actions:
            self.events.extend(events_of(a, inst, facts, self.wall()))
        super()._apply(node, inst, actions)


class _SimFacts:
    """One simulated node as haconsole.engine.publish sees it (NodeFacts)."""

    def __init__(self, sim: EventSimulation, node: SimNode) -> None:
        self.sim = sim
        self.node = node
        self.name = node.name

    def instance_state(self, inst: Instance) -> ev.InstanceState:
        return self.sim.state_of(self.node, inst)

    def held_vips(self) -> Collection[str]:
        return self.node.vips


@dataclass
class ScriptedRun:
    """The lab definition on an EventSimulation; `run(steps, until)` returns the events.

    It takes the lab's commands through the lab's dispatcher (`lab.commands`), so a
    step does and says what it would on the in-process lab."""

    definition: LabDefinition
    t0: float = T0
    failover_hold: float = 60.0
    client_rate: float = DEFAULT_RATE  # simulated client requests per VIP per second (0: none)
    sim: EventSimulation = field(init=False, repr=False)
    _counters: dict[tuple[str, str], ScriptCounter] = field(init=False, repr=False)
    _up: dict[tuple[str, str], bool] = field(init=False, repr=False)  # services

    def run(self, steps: Sequence[Step], until: float) -> list[Item]:
        self.sim = sim = EventSimulation(self.t0)
        self._counters, self._up = {}, {}
        for spec in self.definition.nodes:
            config = self.definition.config_for(spec)
            tracks = {i.name: track_specs(config, i) for i in config.vrrp_instances}
            sim.add_node(spec.name, spec.address, config.vrrp_instances, tracks,
                         fast_preempt=spec.fast_preempt)
        for name in sim.nodes:
            sim.at(0.0, partial(self._boot, name))
        for step in steps:
            sim.at(step.at, partial(self._command, step.command))
        if self.client_rate:
            self._clients(until)
        sim.run_until(until)
        return sim.events

    def _clients(self, until: float) -> None:
        """The lab's simulated clients (lab.clients) on the virtual clock: every VIP at
        `client_rate`/s, learning ARP from the events published so far."""
        sim = self.sim
        vips = sorted({str(v) for spec in self.definition.nodes
                       for inst in self.definition.config_for(spec).vrrp_instances
                       for v in inst.virtual_ipaddress})
        clients = SimulatedClients(lambda: {n: _Served(self, n) for n in sim.nodes}, vips,
                                   sim.emit, sim.wall, rate=self.client_rate)
        seen = [0]

        def tick() -> None:
            for event in sim.events[seen[0]:]:
                if isinstance(event, ev.Event):
                    clients.observe(event)
            for vip in vips:
                sim.emit(clients.answer(vip, sim.wall()))
            seen[0] = len(sim.events)

        step, t = 1.0 / self.client_rate, 0.5
        while t <= until:
            sim.at(t, tick)
            t = round(t + step, 6)

    def _command(self, command: cmd.Command) -> None:
        sim, what = self.sim, command.describe()
        sim.emit(CommandIssued(sim.wall(), command.node, what))
        ok, detail = _at_once(commands.execute(self, command))
        sim.emit(ev.CommandResult(sim.wall(), command.node, command=what, ok=ok,
                                  detail=detail))

    # ----------------------------------------------------------------- the lab's nodes
    def _boot(self, name: str) -> None:
        sim = self.sim
        sim.emit(ev.NodeSeen(sim.wall(), name, agent="haconsole"))
        sim.start(name)
        node = sim.nodes[name]
        for inst in node.instances.values():
            sim.emit(sim.state_of(node, inst))
        for service in sorted(self.services(name)):
            sim.emit(ev.ServiceState(sim.wall(), name, service=service,
                                     up=self._up.get((name, service), True)))
        for check in self.definition.checks.values():
            self._counters[(name, check.name)] = ScriptCounter(
                check.name, check.rise, check.fall, False)
            self._feed(name, check.name, self._up.get((name, check.service), True))

    def _feed(self, node: str, check: str, up: bool) -> None:
        """The check script's next result reaches a running node's tracker."""
        if not self.sim.nodes[node].alive:
            return
        changed, lines = self._counters[(node, check)].feed(0 if up else 1)
        for line in lines:
            self.sim.log(node, line)
        if changed is not None:
            self.sim.emit(ev.TrackResult(self.sim.wall(), node, track=check, ok=changed,
                                         detail=lines[-1] if lines else ""))
            self.sim.set_track(node, check, changed)

    def _stop(self, name: str) -> None:
        """The agent stops cleanly, as the engine's Node.stop: masters send priority 0."""
        self.sim.log(name, "Stopping")
        self.sim.stop(name)
        self.sim.emit(ev.NodeLost(self.sim.wall(), name, reason="stopped"))

    def _instance(self, node: str, name: str) -> Instance | None:
        return next((i for i in self.sim.nodes[node].instances.values() if i.name == name),
                    None)

    # ----------------------------------------------------------------- LabControl
    def has_node(self, node: str) -> bool:
        return node in self.sim.nodes

    def is_running(self, node: str) -> bool:
        return self.sim.nodes[node].alive

    def services(self, node: str) -> Collection[str]:
        return {c.service for c in self.definition.checks.values()} | {"nginx"}

    def instance_names(self, node: str) -> list[str]:
        return [i.name for i in self.sim.nodes[node].instances.values()]

    def set_service(self, node: str, service: str, up: bool) -> None:
        """A stopped service is seen at the check's next run (CHECK_DELAY later)."""
        self._up[(node, service)] = up
        self.sim.emit(ev.ServiceState(self.sim.wall(), node, service=service, up=up))
        for check in self.definition.checks.values():
            if check.service == service:
                self.sim.at(self.sim.now + CHECK_DELAY,
                            partial(self._feed, node, check.name, up))

    async def restart(self, node: str) -> None:
        if self.is_running(node):
            self._stop(node)
        self._boot(node)

    async def halt(self, node: str) -> list[str]:
        masters = [i.name for i in self.sim.nodes[node].instances.values()
                   if i.state == State.MASTER]
        self._stop(node)
        return masters

    async def kill(self, node: str) -> None:
        self.sim.crash(node)
        self.sim.emit(ev.NodeLost(self.sim.wall(), node, reason="crashed"))

    async def boot(self, node: str) -> None:
        if not self.is_running(node):
            self._boot(node)

    def partition(self, node: str, cut: bool) -> None:
        self.sim.partition(node, cut)

    def release(self, node: str, instance: str) -> bool:
        inst = self._instance(node, instance)
        if inst is None or inst.state != State.MASTER:
            return False
        self.sim.release(node, inst.vrid, self.failover_hold)
        return True

    def cancel_hold(self, node: str, instance: str) -> list[str]:
        sim, cancelled = self.sim, []
        for inst in sim.nodes[node].instances.values():
            if instance in ("", inst.name) and inst.cancel_hold(sim.now):
                cancelled.append(inst.name)
                sim.log(node, f"({inst.name}) failover hold cancelled by operator: "
                              "preemption applies again")
                sim.emit(sim.state_of(sim.nodes[node], inst))
        return cancelled


class _Served:
    """A scripted node as the simulated clients see it (lab.clients.ServedBy)."""

    def __init__(self, run: ScriptedRun, name: str) -> None:
        self.run, self.name = run, name

    def holds(self, vip: str) -> bool:
        node = self.run.sim.nodes[self.name]
        return node.alive and vip in node.vips

    def serving(self) -> bool:
        return self.run.sim.nodes[self.name].alive and \
            self.run._up.get((self.name, "nginx"), True)


def _at_once(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits: a scripted run acts at once, on its virtual
    clock, so the lab's (async) dispatcher completes on its first step."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    raise RuntimeError("a scripted run's command waited for something")


@dataclass(frozen=True)
class Scene:
    """A named moment of a scripted run: the events up to `until`, seen at `now`."""

    name: str
    scenario: str
    until: float

    def events(self, definition: LabDefinition | None = None) -> list[Item]:
        run = ScriptedRun(definition or load_lab())
        return run.run(parse_scenario(self.scenario) if self.scenario else [], self.until)

    @property
    def now(self) -> float:
        return T0 + self.until

    def view(self, definition: LabDefinition | None = None) -> ClusterView:
        view = ClusterView()
        view.apply_all(self.events(definition))
        return view


SCENES = {
    "overview": Scene("overview", "", 42.0),
    "failover": Scene("failover", "30:stop nginx1", 34.6),
    "split-brain": Scene("split-brain", "20:partition nginx2", 36.0),
}
