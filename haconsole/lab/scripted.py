"""Scripted runs of the lab: a scenario replayed on the virtual clock, as a list of events.

Why: snapshot tests and README screenshots must come out identical on every run, but the
in-process lab runs in real time. A `ScriptedRun` drives the same sans-IO instances
(through `vrrp.sim.Simulation`) and the same check-script counter as the lab, on the lab's
definition, and publishes the events the lab's `Node` would (through the same
`engine.publish` table), stamped `T0 + virtual time`. The console then renders them for
real; only the clock is fixed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import partial

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView, CommandIssued
from haconsole.engine.publish import events as events_of
from haconsole.engine.trackers import ScriptCounter
from haconsole.lab.definition import LabDefinition, load_lab
from haconsole.lab.scenario import Step, parse_scenario
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.sim import SimNode, Simulation
from haconsole.vrrp.state import State
from haconsole.vrrp.tracking import track_specs

T0 = 1_795_000_000.0  # a fixed wall clock (2026-11-18 11:06:40 UTC)
CHECK_DELAY = 0.4  # a stopped service is seen at the next check: as in the lab, < interval

Item = ev.Event | CommandIssued


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
    """The lab definition on an EventSimulation; `run(steps, until)` returns the events."""

    definition: LabDefinition
    t0: float = T0

    def run(self, steps: Sequence[Step], until: float) -> list[Item]:
        sim = EventSimulation(self.t0)
        counters: dict[tuple[str, str], ScriptCounter] = {}
        for spec in self.definition.nodes:
            config = self.definition.config_for(spec)
            tracks = {i.name: track_specs(config, i) for i in config.vrrp_instances}
            sim.add_node(spec.name, spec.address, config.vrrp_instances, tracks)
        for name in sim.nodes:
            sim.at(0.0, partial(self._boot, sim, name, counters))
        for step in steps:
            sim.at(step.at, partial(self._command, sim, step.command, counters))
        sim.run_until(until)
        return sim.events

    def _boot(self, sim: EventSimulation, name: str,
              counters: dict[tuple[str, str], ScriptCounter]) -> None:
        sim.emit(ev.NodeSeen(sim.wall(), name, agent="haconsole"))
        sim.start(name)
        node = sim.nodes[name]
        for inst in node.instances.values():
            sim.emit(sim.state_of(node, inst))
        for service in sorted({c.service for c in self.definition.checks.values()} | {"nginx"}):
            sim.emit(ev.ServiceState(sim.wall(), name, service=service, up=True))
        for check in self.definition.checks.values():
            counter = counters[(name, check.name)] = ScriptCounter(
                check.name, check.rise, check.fall, False)
            self._feed(sim, name, check.name, counter, 0)

    def _feed(self, sim: EventSimulation, node: str, check: str, counter: ScriptCounter,
              status: int) -> None:
        changed, lines = counter.feed(status)
        for line in lines:
            sim.log(node, line)
        if changed is not None:
            sim.emit(ev.TrackResult(sim.wall(), node, track=check, ok=changed,
                                    detail=lines[-1] if lines else ""))
            sim.set_track(node, check, changed)

    def _service(self, sim: EventSimulation, node: str, service: str, up: bool,
                 counters: dict[tuple[str, str], ScriptCounter]) -> None:
        sim.emit(ev.ServiceState(sim.wall(), node, service=service, up=up))
        for check in self.definition.checks.values():
            if check.service == service:
                counter = counters[(node, check.name)]
                sim.at(sim.now + CHECK_DELAY,
                       partial(self._feed, sim, node, check.name, counter, 0 if up else 1))

    def _command(self, sim: EventSimulation, command: cmd.Command,
                 counters: dict[tuple[str, str], ScriptCounter]) -> None:
        node, what = command.node, command.describe()
        sim.emit(CommandIssued(sim.wall(), node, what))
        ok, detail = True, ""
        if isinstance(command, cmd.StopService | cmd.StartService):
            up = isinstance(command, cmd.StartService)
            self._service(sim, node, command.service, up, counters)
            detail = f"{command.service} {'started' if up else 'stopped'} on {node}"
        elif isinstance(command, cmd.Failover):
            released = [i.name for i in sim.nodes[node].instances.values()
                        if i.state == State.MASTER and command.instance in ("", i.name)]
            for inst in sim.nodes[node].instances.values():
                if inst.name in released:
                    sim.release(node, inst.vrid, 60.0)
            ok = bool(released)
            detail = (f"{node} released {', '.join(released)} (priority 0 sent)" if ok
                      else f"{node} is not MASTER of {command.instance}")
        elif isinstance(command, cmd.CancelHold):
            cancelled = [i.name for i in sim.nodes[node].instances.values()
                         if command.instance in ("", i.name) and i.cancel_hold(sim.now)]
            for inst in sim.nodes[node].instances.values():
                if inst.name in cancelled:
                    sim.emit(sim.state_of(sim.nodes[node], inst))
            ok = bool(cancelled)
            detail = (f"{node} may preempt again ({', '.join(cancelled)})" if ok
                      else f"{node} has no failover hold running")
        elif isinstance(command, cmd.KillNode):
            sim.crash(node)
            sim.emit(ev.NodeLost(sim.wall(), node, reason="crashed"))
            detail = f"{node} crashed (no priority 0)"
        elif isinstance(command, cmd.PartitionNode):
            sim.partition(node, command.partitioned)
            state = "partitioned from" if command.partitioned else "reconnected to"
            detail = f"{node} {state} the segment"
        else:
            ok, detail = False, f"a scripted run cannot run {command.name}"
        sim.emit(ev.CommandResult(sim.wall(), node, command=what, ok=ok, detail=detail))


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
