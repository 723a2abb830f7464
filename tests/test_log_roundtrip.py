"""Round trip: every line haconsole logs is understood by the keepalived log parser.

Why: the agent logs in keepalived's wording so that one parser serves stock keepalived
nodes and haconsole nodes alike. A line the engine emits but the message table does not
know is a silent hole in the console: no event, no warning colour.

The lines come from the sources of truth, not from a list typed here:
- the sans-IO core runs scenarios on the Simulation (elections, priority changes,
  priority 0, lower and higher priority adverts, FAULT through weight-0 tracks, preempt
  delay, sync groups, track_file values, operator failover) and meets a packet for every
  drop the codec can raise;
- the trackers, notify scripts and an in-process agent (start, failover hold, service,
  reloads, stop) run for real, without root;
- an inventory of every log call in haconsole/vrrp, engine, agent and net, read from
  their source, proves that each wording was produced, or says here why not (NOT_RUN:
  then a line is made from the wording itself).

Each line must mean what MEANING says for its wording (the wording with placeholders as
{}), or be one IGNORED deliberately, with the reason.

The agent can also word its lines like keepalived 2.4 (`--log-compat 2.4`:
haconsole/keepalived/log/compat.py): every line of the scenarios and every refused packet
goes through that wording too, and must mean the same (MEANING_24 for what 2.4 adds).
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import functools
import ipaddress
import logging
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest

from haconsole.agent.control import Request
from haconsole.cluster import events as ev
from haconsole.config import Config, Secret, VirtualAddress, VrrpInstance
from haconsole.keepalived.log import KeepalivedLogParser, classify
from haconsole.keepalived.log.compat import DROPS, Wording24
from haconsole.keepalived.log.messages import MessageKind
from haconsole.vrrp import actions as act
from haconsole.vrrp import packet
from haconsole.vrrp.instance import Instance, TrackSpec
from haconsole.vrrp.packet import AUTH_NONE, MCAST_V4, encode
from haconsole.vrrp.sim import Simulation

ROOT = Path(__file__).resolve().parent.parent
#: Where the lines of an agent's log come from (it logs in keepalived's forms).
SOURCES = ("haconsole/vrrp", "haconsole/engine", "haconsole/agent", "haconsole/net")

#: What each wording must mean to the parser, by its text in the source ({} placeholders).
MEANING: dict[str, MessageKind] = {
    # The VRRP core (haconsole/vrrp), keepalived's own wording.
    "Entering {} STATE": "enter_state",
    "Entering BACKUP STATE": "enter_state",
    "Entering BACKUP STATE (init)": "enter_state",
    "Entering FAULT STATE": "enter_state",
    "Entering FAULT STATE (init)": "enter_state",
    "Entering MASTER STATE": "enter_state",
    "Receive advertisement timeout": "advert_timeout",
    "fast preemption: master {} advertised priority {}, below ours {}": "fast_preemption",
    "Master received advert from {} with higher priority {}, ours {}": "higher_priority_advert",
    "Master received advert from {} with same priority {} but higher IP address than ours":
        "same_priority_higher_ip",
    "received lower priority ({}) advert from {} - discarding": "lower_priority_discarded",
    "Received advert from {} with lower priority {}, ours {}{}": "lower_priority_advert",
    "Backup received priority 0 advertisement": "priority_zero_received",
    "Master received priority 0 message": "master_priority_zero_received",
    "sent 0 priority": "priority_zero_sent",
    "Changing effective priority from {} to {}": "priority_change",
    "setting VIPs.": "vips",
    "removing VIPs.": "vips",
    "Sending/queueing {} on {} for {}": "garp_queued",
    "WARNING - equal priority advert received from remote host with our IP address.": "error",
    "VRRP_Group({}) Syncing instances to {} state": "sync_group",
    # The node and its trackers (haconsole/engine).
    "Stopping": "stopping",
    "Sending gratuitous ARP on {} for {}": "garp_sent",
    "Sending unsolicited Neighbour Advert on {} for {}": "na_sent",
    "Script `{}` now returning {}": "script_status",
    "VRRP_Script({}) succeeded": "script_result",
    "VRRP_Script({}) {}": "script_result",
    "VRRP_Script({}) could not run: {}": "error",
    "Netlink reports {} {}": "interface_state",
    "Quorum {} for tracked process {}": "process_quorum",
    "Invalid number {} read from {} - ignoring": "error",
    "Cannot initialise track file {} - it is not a regular file": "error",
    "Unable to initialise track file {}: {}": "error",
    "Unable to monitor track file {} ({}: {}) - polling every {}s": "error",
    "Track file {}: lost the watch on {} - polling every {}s": "error",
    "({}) cannot run notify script: {}": "error",
    "cannot run notify script {}: {}": "error",
    "notify script {} timed out after {} s: killed": "error",
    # The daemon (haconsole/agent) and its sockets (haconsole/net).
    "Starting haconsole agent {} on {}": "starting",
    "Stopped haconsole agent": "stopped",
    "Reload failed, keeping the running configuration: {}": "error",
    "Reload could not start the new configuration: {}": "error",
    "control command {} failed": "error",
    "VRRP send on {} to {} failed: {}": "error",
    "VRRP receive on {} failed: {}": "error",
    "cannot prepare announcements for {} on {}: {}": "error",
    "cannot announce {} on {}: {}": "error",
}

#: Wordings the parser deliberately does not classify, and why.
IGNORED: dict[str, str] = {
    "start preempt delay ({}.{})": "informational (keepalived's wording too): the takeover "
                                   "that ends the delay says what happened",
    "stop preempt delay": "informational, as 'start preempt delay'",
    "({}) failover hold cancelled by operator: preemption applies again":
        "an operator's note; the hold reaches the console as InstanceState.hold_until",
    "{} {} by operator": "a service stopped or started from the console: ServiceState says it",
    "Reloading": "keepalived's wording too; a reload keeps every instance's state, so "
                 "there is nothing to show but the line",
    "Reload: configuration unchanged": "informational: nothing changed",
    "control socket: {}": "a refused control request (the client got the reason as its "
                          "reply): about the socket, not VRRP",
    "Serving Prometheus metrics on {}:{}/metrics": "informational: where to scrape",
}

#: Wordings no scenario here produces, and why; their line is made from the wording.
NOT_RUN: dict[str, str] = {
    "Reload could not start the new configuration: {}":
        "needs the new configuration's sockets to fail to open",
    "control command {} failed": "only a bug in a control handler logs it",
    "control socket: {}": "a malformed request: tests/test_input_fuzz.py sends them",
    "Serving Prometheus metrics on {}:{}/metrics": "needs a metrics port: tests/test_metrics.py",
    "VRRP send on {} to {} failed: {}": "needs a raw socket that fails (tests/netns)",
    "VRRP receive on {} failed: {}": "needs a raw socket that fails (tests/netns)",
    "cannot prepare announcements for {} on {}: {}": "needs a real interface (tests/netns)",
    "cannot announce {} on {}: {}": "needs a real interface (tests/netns)",
}

_INSTANCE_PREFIX = re.compile(r"\([^()\s]+\) ")


# ---------------------------------------------------------------------------------------
# The inventory: every wording the sources log, read from their syntax tree
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    """One logged wording: its text with {} placeholders, and where it is logged."""

    text: str
    where: str

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(".*?".join(re.escape(part) for part in self.text.split("{}")))

    def matches(self, line: str) -> bool:
        """Whether `line` is this wording, with or without the "(VI_1) " the core adds."""
        bare = _INSTANCE_PREFIX.sub("", line, count=1)
        return bool(self.pattern.fullmatch(line) or self.pattern.fullmatch(bare))

    @property
    def weight(self) -> int:
        """How specific the wording is: its fixed characters."""
        return len(self.text.replace("{}", ""))


_LOG_CALLS = {"_log", "log", "log_fn", "Log"}  # engine/core helpers: the message is last
_LOGGING_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}
_LOGGERS = {"log", "logger", "self.logger", "logging"}
_PERCENT = re.compile(r"%[sdri]")


def _text(node: ast.expr, *, percent: bool) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _PERCENT.sub("{}", node.value) if percent else node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None  # built at run time (a pass-through): its sources are read elsewhere


def _message_arg(call: ast.Call) -> tuple[ast.expr, bool] | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
    if not call.args:
        return None
    if name in _LOG_CALLS:
        return call.args[-1], False
    if name in _LOGGING_CALLS and owner in _LOGGERS:
        return call.args[0], True
    if name == "append" and owner in ("logs", "lines"):  # lines collected, then logged
        return call.args[0], False
    return None


@functools.cache
def inventory() -> dict[str, Wording]:
    """Every fixed wording passed to a log call in SOURCES, by text (`line = f"...";
    log(line)` included); pure pass-throughs ("%s", "({name}) {message}") carry none."""
    found: dict[str, Wording] = {}
    for path in sorted(p for src in SOURCES for p in (ROOT / src).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assigned = {n.targets[0].id: n.value for n in ast.walk(fn)
                        if isinstance(n, ast.Assign) and len(n.targets) == 1
                        and isinstance(n.targets[0], ast.Name)}
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call) or (arg := _message_arg(call)) is None:
                    continue
                node, percent = arg
                if isinstance(node, ast.Name) and node.id in assigned:
                    node = assigned[node.id]
                text = _text(node, percent=percent)
                if text is not None and re.search(r"[A-Za-z]", text.replace("{}", "")):
                    where = f"{path.relative_to(ROOT)}:{call.lineno}"
                    found.setdefault(text, Wording(text, where))
    return found


def wording_of(line: str) -> Wording | None:
    """The most specific logged wording a line is an instance of."""
    candidates = [w for w in inventory().values() if w.matches(line)]
    return max(candidates, key=lambda w: w.weight, default=None)


@dataclass(frozen=True)
class DropSite:
    """A `raise PacketError(REASON, detail)` in the core: one way to drop a packet."""

    reason: str
    detail: Wording


def drop_sites() -> list[DropSite]:
    sites = []
    for path in sorted((ROOT / "haconsole/vrrp").rglob("*.py")):
        for call in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == "PacketError"):
                continue
            where = f"{path.name}:{call.lineno}"
            reason, detail = call.args  # PacketError(REASON, detail), nothing built at run time
            text = _text(detail, percent=False)
            assert isinstance(reason, ast.Name) and text is not None, where
            sites.append(DropSite(getattr(packet, reason.id), Wording(text, where)))
    return sites


# ---------------------------------------------------------------------------------------
# Scenarios: what the core, the trackers and the agent log when they run
# ---------------------------------------------------------------------------------------

V4 = ipaddress.IPv4Address
A, B, C = V4("192.0.2.11"), V4("192.0.2.12"), V4("192.0.2.13")
VIP = VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))
VIP6 = VirtualAddress(ipaddress.ip_interface("2001:db8::170/64"))


def vi(prio: int, *, name: str = "VI_1", vrid: int = 51, **kw: object) -> VrrpInstance:
    """An instance with one IPv4 VIP and an excluded IPv6 one (GARP and NA lines)."""
    kw.setdefault("auth_type", "PASS")
    kw.setdefault("auth_pass", Secret("s3cret"))
    return VrrpInstance(name=name, interface="eth0", virtual_router_id=vrid, priority=prio,
                        virtual_ipaddress=[VIP], virtual_ipaddress_excluded=[VIP6],
                        **kw)  # type: ignore[arg-type]


def pair(a: VrrpInstance, b: VrrpInstance, *, tracks: Sequence[TrackSpec] = (),
         b_address: V4 = B, start: bool = True) -> Simulation:
    sim = Simulation(wire=True)
    sim.add_node("a", A, [a], {a.name: list(tracks)})
    sim.add_node("b", b_address, [b], {b.name: list(tracks)})
    if start:
        sim.start_all()
    return sim


def core_scenarios() -> Iterator[Simulation]:
    """Simulations whose logs cover what the core says about elections and tracking."""
    # Election, a check failing and recovering, a drained track_file, a clean stop.
    sim = pair(vi(100), vi(90), tracks=[TrackSpec("chk_nginx", -20),
                                        TrackSpec("drain", -1, kind="value")])
    for node in ("a", "b"):
        sim.set_track(node, "chk_nginx", True)
    sim.run_until(10)
    sim.set_track("a", "chk_nginx", False)
    sim.run_until(20)
    sim.set_track("a", "chk_nginx", True)
    sim.run_until(30)
    sim.set_track_value("a", "drain", 30)
    sim.run_until(40)
    sim.set_track_value("a", "drain", 0)
    sim.run_until(50)
    sim.release("a", 51, hold=5)  # operator failover: priority 0, a holds back
    sim.run_until(60)
    sim.stop("b")  # priority 0 from the master
    sim.run_until(65)
    yield sim
    # A partition heals: two masters meet (a lower priority, an equal one, the same
    # address), or one of them stops just then (a master receives priority 0).
    for b_prio, b_address in ((90, B), (100, B), (100, A)):
        sim = pair(vi(100), vi(b_prio), b_address=b_address)
        sim.run_until(10)
        sim.partition("b")
        sim.run_until(20)
        sim.partition("b", cut=False)
        sim.run_until(25)
        yield sim
    sim = pair(vi(100), vi(90))
    sim.run_until(10)
    sim.partition("b")
    sim.run_until(20)
    sim.partition("b", cut=False)
    sim.stop("b")
    sim.run_until(25)
    yield sim
    # FAULT: a weight-0 check failing at start, failing on a master and on a backup;
    # a weight-0 track_file with a non-zero value.
    sim = pair(vi(100), vi(90), tracks=[TrackSpec("link", 0), TrackSpec("flag", 0, kind="value")],
               start=False)
    sim.nodes["b"].tracks["VI_1"] = [TrackSpec("link", 0, initially_failed=True)]
    sim.start_all()
    sim.set_track("a", "link", True)
    sim.set_track_value("a", "flag", 0)
    sim.run_until(10)
    sim.set_track("b", "link", True)
    sim.set_track("a", "link", False)
    sim.run_until(20)
    sim.set_track("a", "link", True)
    sim.set_track("b", "link", False)
    sim.run_until(30)
    sim.set_track_value("a", "flag", 1)
    sim.run_until(40)
    yield sim
    # preempt_delay: a higher-priority backup waits, then its priority drops below.
    sim = pair(vi(100, preempt_delay=5.0), vi(90), tracks=[TrackSpec("chk", -20)], start=False)
    sim.start("b")
    sim.run_until(10)
    sim.start("a")
    sim.run_until(12)
    sim.set_track("a", "chk", False)
    sim.run_until(20)
    yield sim
    # vrrp_sync_group: a fault on one member moves the whole group, and back.
    sim = Simulation(wire=True)
    group = {"G1": ["VI_1", "VI_2"]}
    link = {"VI_1": [TrackSpec("link", 0)], "VI_2": []}
    sim.add_node("a", A, [vi(100), vi(100, name="VI_2", vrid=52)], link, sync_groups=group)
    sim.add_node("b", B, [vi(90), vi(90, name="VI_2", vrid=52)], link, sync_groups=group)
    sim.start_all()
    sim.set_track("a", "link", True)
    sim.set_track("b", "link", True)
    sim.run_until(10)
    sim.set_track("a", "link", False)
    sim.run_until(20)
    sim.set_track("a", "link", True)
    sim.run_until(30)
    yield sim
    # fast preemption (opt-in): the backup takes over when its master advertises lower.
    sim = Simulation(wire=True)
    chk = {"VI_1": [TrackSpec("chk", -20)]}
    sim.add_node("a", A, [vi(100)], chk)
    sim.add_node("b", B, [vi(90)], chk, fast_preempt=True)
    sim.start_all()
    sim.set_track("a", "chk", True)
    sim.set_track("b", "chk", True)
    sim.run_until(10)
    sim.set_track("a", "chk", False)
    sim.run_until(15)
    yield sim


def core_lines() -> list[str]:
    return [line for sim in core_scenarios() for line in sim.logs()]


@runtime_checkable
class Refusal(Protocol):
    """The action reporting a refused packet: keepalived's counter and what was wrong."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Drop:
    line: str  # what the instance logged
    reason: str
    detail: str
    inst: Instance  # who refused it, and everything it returned (for the 2.4 wording)
    actions: tuple[act.Action, ...] = ()


IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _drop(inst: Instance, payload: bytes, src: IP, dst: IP = MCAST_V4, ttl: int = 255) -> Drop:
    """What the instance logs and reports for one packet it refuses."""
    out = inst.on_packet(payload, src, dst, ttl, 1.0)
    lines = [a.message for a in out if isinstance(a, act.Log)]
    refusals = [a for a in out if isinstance(a, Refusal)]
    assert len(lines) == len(refusals) == 1, out
    return Drop(lines[0], refusals[0].reason, refusals[0].detail, inst, tuple(out))


def drop_lines() -> list[Drop]:
    """A packet for every way the codec and the instance's checks drop one."""
    me = Instance(vi(100), A)
    me.start(0.0)
    peer = Instance(vi(90), B)
    advert = peer.make_advert(90)
    good = encode(advert, B, MCAST_V4)

    def bad(**changes: object) -> bytes:
        return encode(dataclasses.replace(advert, **changes), B, MCAST_V4)  # type: ignore[arg-type]

    def header(first: int, size: int) -> bytes:
        return bytes([first, 51, 90, 1, 0, 0, 0, 0]) + bytes(size - 8)

    v6a, v6b = ipaddress.IPv6Address("fe80::1"), ipaddress.IPv6Address("ff02::12")
    flipped = good[:6] + bytes([good[6] ^ 0xFF, good[7]]) + good[8:]
    out = [
        _drop(me, good[:7], B),  # shorter than the header
        _drop(me, good + bytes(4), B),  # longer than its count says
        _drop(me, header(0x41, 12), B),  # version 4
        _drop(me, header(0x21, 24), v6a, v6b),  # VRRPv2 over IPv6
        _drop(me, header(0x22, 20), B),  # type 2
        _drop(me, flipped, B),  # checksum
        _drop(me, good, B, ttl=64),  # routed
        _drop(me, bad(version=3, auth_type=AUTH_NONE, auth_data=b""), B),
        _drop(me, bad(vrid=52), B),
        _drop(me, bad(auth_type=5), B),
        _drop(me, bad(auth_type=AUTH_NONE, auth_data=b""), B),
        _drop(me, bad(auth_data=b"wrong"), B),
        _drop(me, bad(advert_int_cs=200), B),
        _drop(me, bad(addresses=(VIP.ip, V4("192.0.2.171"))), B),
        _drop(me, bad(addresses=(V4("192.0.2.171"),)), B),
        _drop(me, good, B, dst=A),  # unicast to a multicast instance
    ]
    ah = Instance(vi(100, auth_type="AH", auth_pass=None), A)
    ah.start(0.0)
    ah_advert = Instance(vi(90, auth_type="AH", auth_pass=None), B).make_advert(90)
    out.append(_drop(ah, encode(ah_advert, B, MCAST_V4), B))  # AH: not supported
    uni = Instance(vi(100, unicast_peer=[B]), A)
    uni.start(0.0)
    uni.expectation = dataclasses.replace(  # check_unicast_src, peers' TTL 250-255
        uni.expectation, check_unicast_src=True, unicast_peers=frozenset({B}),
        unicast_ttl=(250, 255))
    out.append(_drop(uni, encode(advert, C, A), C, dst=A))  # not a peer
    out.append(_drop(uni, encode(advert, B, A), B, dst=A, ttl=64))  # TTL out of range
    return out


def tracker_lines() -> list[str]:
    """keepalived's rise/fall wording for script results (pure)."""
    from haconsole.engine.trackers import ScriptCounter

    counter = ScriptCounter("chk_nginx")
    lines: list[str] = []
    for status in (0, 1, 0, None, 0):
        lines += counter.feed(status)[1]
    return lines


async def until(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Wait on the event loop for `predicate`, failing with `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


async def engine_lines(tmp: Path) -> list[str]:
    """Trackers, notify scripts and links, run for real on the loop (no root)."""
    from haconsole.engine.files import FileTracker
    from haconsole.engine.links import LinkTracker
    from haconsole.engine.notify import Notifier
    from haconsole.engine.process import ProcessTracker
    from haconsole.engine.trackers import CheckTracker

    lines: list[str] = []

    def report(*_args: object) -> None:
        pass

    async def unrunnable() -> int:
        raise PermissionError(13, "Permission denied")

    check = CheckTracker("chk_broken", unrunnable, interval=10)
    check.start(report, lines.append)
    await until(lambda: any("could not run" in line for line in lines), "the check's line")
    await check.stop()

    (tmp / "garbage").write_text("4294967296\n")  # beyond a 32-bit int: ignored
    (tmp / "a-dir").mkdir()
    watched = tmp / "watched"
    watched.mkdir()
    files = [FileTracker("garbage", str(tmp / "garbage")),
             FileTracker("dir", str(tmp / "a-dir"), init_value=5, overwrite=True),
             FileTracker("nowhere", str(tmp / "missing" / "f"), init_value=5, poll_interval=60),
             FileTracker("gone", str(watched / "f"), poll_interval=60)]
    for tracker in files:
        tracker.start(report, lines.append)
    watched.rmdir()  # the watch ends: the tracker falls back to polling
    await until(lambda: any("lost the watch" in line for line in lines), "the lost watch")
    for tracker in files:
        await tracker.stop()

    name = f"hc-roundtrip-{os.getpid()}"  # argv[0]: what track_process matches too
    child = subprocess.Popen([name, "30"], executable="sleep")
    try:
        procs = ProcessTracker("svc", name, rescan=60)
        procs.start(report, lines.append)
        child.kill()
        await until(lambda: any("Quorum lost" in line for line in lines), "the quorum loss")
        await procs.stop()
    finally:
        child.kill()
        child.wait()

    link = LinkTracker("hcrt0")  # no such interface: reported down
    link.start(report, lines.append)
    link._set(True)  # what the netlink reader does when the link comes up
    await link.stop()

    config = Config(vrrp_instances=[vi(100, notify_master=" ", notify_backup=str(tmp / "none"),
                                       notify_fault="sleep 5")])
    notifier = Notifier(config, timeout=0.2, log_fn=lines.append)
    for new in ("MASTER", "BACKUP", "FAULT"):
        notifier.on_event(ev.Transition(0.0, "n", "VI_1", "INIT", new, ""))  # type: ignore[arg-type]
    await until(lambda: any("timed out" in line for line in lines), "the notify timeout")
    await notifier.wait()
    return lines


AGENT_CONF = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.170/24
    }
    virtual_ipaddress_excluded {
        2001:db8::170/64
    }
}
"""


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def agent_lines(tmp: Path) -> list[str]:
    """An in-process agent on the in-memory segment: start (an address owner takes over
    at once: GARP and NA lines), failover and its hold, a service, reloads, stop."""
    from haconsole.agent.daemon import Agent, AgentOptions
    from haconsole.net.memory import MemorySegment, MemoryVips

    conf = tmp / "keepalived.conf"
    conf.write_text(AGENT_CONF)
    segment = MemorySegment()
    options = AgentOptions(config_file=str(conf), control=str(tmp / "agent.sock"),
                           check_permissions=False, track_primary=False,
                           services={"svc": ("true", "true")})
    agent = Agent(options, vips=MemoryVips(),
                  transport_for=lambda iface, fam: segment.attach("a", iface, str(A)))
    capture = _Capture()
    logger = logging.getLogger("haconsole")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        ready = asyncio.Event()
        task = asyncio.get_running_loop().create_task(agent.run(on_ready=ready.set))
        await asyncio.wait_for(ready.wait(), 10)
        await until(lambda: any("Neighbour Advert" in line for line in capture.lines),
                    "the new master's announcements")
        assert (await agent.execute(Request("failover")))["ok"]
        assert (await agent.execute(Request("cancel-hold")))["ok"]
        assert (await agent.execute(Request("stop-service")))["ok"]
        assert (await agent.reload()) == (True, "configuration unchanged")
        conf.write_text(AGENT_CONF.replace("priority 255", "priority 200"))
        assert (await agent.reload())[0]
        conf.write_text("vrrp_instance {")
        assert not (await agent.reload())[0]
        agent.request_stop()
        assert await asyncio.wait_for(task, 10) == 0
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
    return capture.lines


@dataclass
class Run:
    """Everything the scenarios logged: each distinct line once, and the packet drops."""

    lines: list[str]
    drops: list[Drop]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("roundtrip")

    async def live() -> list[str]:
        return await engine_lines(tmp) + await agent_lines(tmp)

    lines = core_lines() + tracker_lines() + asyncio.run(live())
    return Run(list(dict.fromkeys(lines)), drop_lines())


# ---------------------------------------------------------------------------------------
# The round trip
# ---------------------------------------------------------------------------------------


def test_every_logged_wording_has_a_stated_meaning() -> None:
    """A new log line must say what it means to the parser (or why it means nothing)."""
    wordings = inventory()
    assert len(wordings) > 40, "the inventory no longer finds the log calls"
    unstated = [f"{w.where}: {w.text!r}" for w in wordings.values()
                if w.text not in MEANING and w.text not in IGNORED]
    assert not unstated, "add to MEANING or IGNORED:\n" + "\n".join(unstated)
    stale = sorted((MEANING.keys() | IGNORED.keys() | NOT_RUN.keys()) - wordings.keys())
    assert not stale, f"no longer logged anywhere in {SOURCES}: {stale}"
    assert not MEANING.keys() & IGNORED.keys()


def test_every_logged_wording_is_produced(run: Run) -> None:
    """The scenarios really produce each wording (else a new line goes unchecked)."""
    produced = {w.text for line in run.lines for w in inventory().values() if w.matches(line)}
    missing = [f"{w.where}: {w.text!r}" for w in inventory().values()
               if w.text not in produced and w.text not in NOT_RUN]
    assert not missing, "no scenario logs:\n" + "\n".join(missing)
    stale = sorted(NOT_RUN.keys() & produced)
    assert not stale, f"produced after all, drop from NOT_RUN: {stale}"


def test_every_line_means_what_its_wording_says(run: Run) -> None:
    """The round trip proper: each line classifies to its wording's kind, or to nothing
    when IGNORED says why."""
    made = [w.text.replace("{}", "x") for text, w in inventory().items() if text in NOT_RUN]
    wrong = []
    for line in run.lines + made:
        wording = wording_of(line)
        if wording is None:  # a pass-through ("%s"): its own wording is checked where made
            continue
        msg = classify(line)
        if wording.text in IGNORED:
            if msg is not None:
                wrong.append(f"{line!r}: IGNORED, yet classified as {msg.kind}")
        elif msg is None or msg.kind != MEANING[wording.text]:
            got = "nothing" if msg is None else msg.kind
            wrong.append(f"{line!r} ({wording.where}): {got}, expected {MEANING[wording.text]}")
    assert not wrong, "\n".join(wrong)


def test_every_drop_is_classified_with_its_counter(run: Run) -> None:
    """Each dropped packet's line says which keepalived counter it is."""
    wrong = []
    for drop in run.drops:
        msg = classify(drop.line)
        if msg is None or (msg.kind, msg.reason) != ("packet_error", drop.reason):
            got = msg and (msg.kind, msg.reason)
            wrong.append(f"{drop.line!r}: {got}, expected {drop.reason}")
    assert not wrong, "\n".join(wrong)


def test_every_way_to_drop_a_packet_is_met(run: Run) -> None:
    """Each `raise PacketError` in the core met a packet here (its line is checked above)."""
    missing = [f"{site.detail.where}: {site.reason} {site.detail.text!r}"
               for site in drop_sites()
               if not any(drop.reason == site.reason and site.detail.pattern.fullmatch(drop.detail)
                          for drop in run.drops)]
    assert not missing, "no packet here meets:\n" + "\n".join(missing)


def test_the_parser_replays_the_core_into_its_transitions() -> None:
    """Beyond kinds: one node's core log, parsed, gives the core's own transitions."""
    for sim in core_scenarios():
        for node in sim.nodes:
            parser = KeepalivedLogParser(node)
            parsed = [(e.instance, e.old, e.new) for line in sim.logs(node)
                      for e in parser.feed(line) if isinstance(e, ev.Transition)]
            core = [(r.instance, r.old, r.new) for r in sim.records
                    if r.node == node and r.what == "transition" and r.new != "STOP"
                    and r.old != "INIT"]
            assert [t for t in parsed if t[1] != "INIT"] == core, node


# ---------------------------------------------------------------------------------------
# The same, worded like keepalived 2.4 (`haconsole agent --log-compat 2.4`)
# ---------------------------------------------------------------------------------------

#: What the 2.4 wording adds, by its text: master lines are deliberately unclassified.
MEANING_24: dict[str, MessageKind | None] = {
    "master set to {}": None,  # -D: also for a packet then refused, so it names no master
    "master changed from {} to {}": None,
}


def worded_24(drop: Drop) -> list[str]:
    """The lines one refused packet gets in 2.4's words (a fresh instance memory: the
    first of its kind, so not rate-limited)."""
    out = Wording24().rewrite(drop.inst, list(drop.actions))
    return [a.message for a in out if isinstance(a, act.Log)]


def test_every_drop_worded_like_2_4_names_its_sender_and_counter(run: Run) -> None:
    """Each refused packet's 2.4 sentence classifies to the same keepalived counter and
    names the sender (keepalived 2.4's "from SRC"), after a master line when the
    instance is a backup meeting a new address."""
    wrong = []
    for drop in run.drops:
        lines = worded_24(drop)
        sentence = lines[-1]
        msg = classify(sentence)
        src = str(next(a.src for a in drop.actions if isinstance(a, act.PacketRejected)))
        # keepalived 2.4 names the sender in all but the VIP count; the core's VRID check
        # (keepalived demultiplexes by VRID) keeps the core's line.
        unnamed = re.fullmatch(r"\(VI_1\) (?:expected \d+ VIPs but received \d+|VRID .*)",
                               sentence)
        named = msg is not None and (msg.source == src or unnamed is not None)
        if msg is None or (msg.kind, msg.reason) != ("packet_error", drop.reason) or \
                not named:
            wrong.append(f"{sentence!r} (from {drop.detail!r}): {msg}")
        for line in lines[:-1]:
            assert re.fullmatch(r"\(VI_1\) master (?:set to|changed from \S+ to) \S+", line)
            assert classify(line) is None
    assert not wrong, "\n".join(wrong)


def test_every_2_4_sentence_is_met(run: Run) -> None:
    """Each row of the 2.4 table words some refusal the core can make (else it is stale)."""
    met = {i for drop in run.drops for i, row in enumerate(DROPS)
           if row.detail.fullmatch(drop.detail)}
    stale = [row.detail.pattern for i, row in enumerate(DROPS) if i not in met]
    assert not stale, f"no refusal of the core is worded by: {stale}"


def test_every_line_worded_like_2_4_means_the_same(run: Run) -> None:
    """The scenarios' other lines pass the 2.4 wording unchanged or as MEANING_24 says."""
    for sim in core_scenarios():
        for node in sim.nodes:
            for line in sim.logs(node):
                inst = Instance(vi(100), A)
                out = Wording24().rewrite(inst, [act.Log(line)])
                assert [a.message for a in out if isinstance(a, act.Log)] == [line]
    for text, kind in MEANING_24.items():
        line = "(VI_1) " + text.replace("{}", "192.0.2.11")
        msg = classify(line)
        assert (msg.kind if msg is not None else None) == kind, line
