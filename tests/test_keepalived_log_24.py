"""keepalived 2.4.3's logs: every line of the real captures understood, each node's log
replayed into the transitions it went through, and the agent's 2.4 wording
(`--log-compat 2.4`, haconsole/keepalived/log/compat.py) matching what 2.4.3 wrote.

The captures are tests/data/keepalived-2.4.3/*.log (README there: scenarios and how they
were made); keepalived 2.4's wording and rate limiting are described in compat.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from haconsole.cluster import events as ev
from haconsole.config import Secret, VirtualAddress, VrrpInstance
from haconsole.keepalived.log import KeepalivedLogParser, classify, parse_line
from haconsole.keepalived.log.compat import Wording24, log_wording
from haconsole.keepalived.log.history import read_history
from haconsole.vrrp import actions as act
from haconsole.vrrp.instance import Instance
from haconsole.vrrp.packet import MCAST_V4, encode

CORPUS = Path(__file__).parent / "data" / "keepalived-2.4.3"
LOGS = sorted(CORPUS.glob("*.log"))

#: Lines of the captures the message table deliberately leaves unclassified, and why.
IGNORED: dict[str, str] = {
    r"Command line: .*|\s+'.*'": "the startup banner: how keepalived was started (and the "
                                 "continuation lines of its command line)",
    r"Running on .*|Opening file '.*'\.|Configuration file .*": "the startup banner",
    r"NOTICE: setting config option max_auto_priority should result in better keepalived "
    r"performance": "tuning advice printed at every start",
    r"SECURITY VIOLATION - scripts are being executed but script_security not enabled\.":
        "configuration advice printed at every start (haconsole check says it too)",
    r"\(\S+\) the first IPv6 VIP address should be link local":
        "configuration advice printed at every start (RFC 5798 5.2.9)",
    r"Registering (?:Kernel netlink reflector|Kernel netlink command channel|gratuitous "
    r"(?:ARP|NDISC) shared channel)|VRRP sockpool: .*|Startup complete":
        "start-up steps: the instances' own lines say what they do",
    r"Starting VRRP child process, pid=\d+": "a run or a respawn: the history reader's "
                                             "(history.py: NodeSeen), not a VRRP fact",
    r"Assigned address \S+ for interface \S+": "the node's addresses: the history reader "
                                               "names the node's sender address with them",
    r"CPU usage \(self/children\) .*": "a resource summary at stop",
    r"Printing (?:VRRP|parent) (?:data|stats) for process\(\d+\) on signal":
        "a dump we asked for (the SSH collector drops these lines as its own)",
    r"Restart of VRRP process delayed \d+ seconds to limit respawn rate|\s+Please log an "
    r"issue at .*|\s+and include a full copy of .*|\s+copies of the keepalived system log "
    r".*": "what follows a child's death, itself classified (an error)",
    r"read eventfd count \d+, num_reloading \d+": "keepalived's internals at a respawn",
    r"\(\S+\) master set to \S+|\(\S+\) master changed from \S+ to \S+":
        "-D only, and logged for a packet from a new address even when it is then refused "
        "(crafted-ttl-interval-nginx2.log): it names no master",
}
_IGNORED = [(re.compile(pattern), pattern) for pattern in IGNORED]


def corpus_messages() -> Iterator[tuple[str, int, str]]:
    """(file, line number, message) of every keepalived line of the captures (the lab's
    `--- start keepalived` markers are not keepalived's)."""
    for path in LOGS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() and not line.startswith("--- start "):
                yield path.name, number, parse_line(line).message


def test_every_line_of_the_captures_is_classified_or_ignored_with_a_reason() -> None:
    unknown, both = [], []
    used: set[str] = set()
    lines = 0
    for name, number, message in corpus_messages():
        lines += 1
        ignored = [p for rx, p in _IGNORED if rx.fullmatch(message)]
        used.update(ignored)
        meaning = classify(message)
        if meaning is None and not ignored:
            unknown.append(f"{name}:{number}: {message}")
        elif meaning is not None and ignored:
            both.append(f"{name}:{number}: {message} ({meaning.kind}, yet IGNORED)")
    assert lines > 1000
    assert not unknown, "classify or add to IGNORED:\n" + "\n".join(unknown[:20])
    assert not both, "\n".join(both[:20])
    assert not set(IGNORED) - used, f"IGNORED but never met: {set(IGNORED) - used}"


def test_the_captures_mean_what_keepalived_did() -> None:
    """A few lines whose meaning matters most, as the table reads them."""
    expect = {
        "(VI_1) received an invalid passwd from 192.0.2.12!": ("packet_error", "auth_failure"),
        "(VI_1) invalid TTL/HL from 192.0.2.200. Received 64 and expect 255":
            ("packet_error", "ip_ttl_err"),
        "(VI_1) advertisement interval mismatch with 192.0.2.200 mine=1 sec rcv'd=3 sec":
            ("packet_error", "advert_interval_err"),
        "VRRP child process(5653) died: Respawning": ("error", ""),
        "pid 5653 exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?":
            ("error", ""),
        "Starting Keepalived v2.4.3 (07/20,2026)": ("starting", ""),
        "Stopped Keepalived v2.4.3 (07/20,2026)": ("stopped", ""),
    }
    seen = {message for _name, _number, message in corpus_messages()}
    for message, (kind, reason) in expect.items():
        assert message in seen, message
        meaning = classify(message)
        assert meaning is not None and (meaning.kind, meaning.reason) == (kind, reason)


#: What each node went through, scenario by scenario (the README's table): a run starts
#: (+), its instance's states, how it ended: stopped, crashed, or "fell" (silent: a SIGKILL).
JOURNEYS: dict[str, str] = {
    "v2-pass-nginx1": "+ BACKUP MASTER STOP stopped + BACKUP MASTER STOP stopped",
    "v2-pass-nginx2": "+ BACKUP MASTER BACKUP MASTER STOP stopped",
    "v3-ipv4-50cs-crash-nginx1": "+ BACKUP MASTER fell + BACKUP MASTER STOP stopped",
    "v3-ipv4-50cs-crash-nginx2": "+ BACKUP MASTER BACKUP MASTER STOP stopped",
    "v3-ipv6-nginx1": "+ BACKUP MASTER STOP stopped + BACKUP MASTER STOP stopped",
    "v3-ipv6-nginx2": "+ BACKUP MASTER BACKUP MASTER STOP stopped",
    "unicast-nginx1": "+ BACKUP MASTER STOP stopped + BACKUP MASTER STOP stopped",
    "unicast-nginx2": "+ BACKUP MASTER BACKUP MASTER STOP stopped",
    "nopreempt-nginx1": "+ BACKUP MASTER STOP stopped + BACKUP STOP stopped",
    "nopreempt-nginx2": "+ BACKUP MASTER STOP stopped",
    "wrong-password-nginx1": "+ BACKUP MASTER STOP stopped",
    "wrong-password-nginx2": "+ BACKUP MASTER STOP stopped",
    # check failure (takeover), preemption back, the VRRP child killed (crashed, the
    # parent's respawn takes over again), partition (nginx2 master too), heal, the end.
    "incident-nginx1": "+ BACKUP MASTER BACKUP MASTER crashed + BACKUP MASTER STOP stopped",
    "incident-nginx2": "+ BACKUP MASTER BACKUP MASTER BACKUP MASTER BACKUP MASTER STOP "
                       "stopped",
    "incident-no-detail-nginx1": "+ BACKUP MASTER BACKUP MASTER crashed + BACKUP MASTER "
                                 "STOP stopped",
    "incident-no-detail-nginx2": "+ BACKUP MASTER BACKUP MASTER BACKUP MASTER BACKUP "
                                 "MASTER STOP stopped",
    "crafted-ttl-interval-nginx1": "+ BACKUP MASTER STOP stopped",
    "crafted-ttl-interval-nginx2": "+ BACKUP MASTER STOP stopped",
}


def journey(events: list[ev.Event]) -> str:
    words = []
    for e in events:
        if isinstance(e, ev.NodeSeen):
            words.append("+")
        elif isinstance(e, ev.Transition):
            words.append(str(e.new))
        elif isinstance(e, ev.NodeLost):
            words.append(e.reason.split(":", 1)[0].split()[0])
    return " ".join(words)


def test_every_capture_is_in_the_journeys() -> None:
    assert {p.stem for p in LOGS} == set(JOURNEYS)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_each_log_replays_into_what_keepalived_went_through(path: Path) -> None:
    history = read_history([path])
    assert journey(history.events) == JOURNEYS[path.stem]
    seen = [e for e in history.events if isinstance(e, ev.NodeSeen)]
    assert seen and all(e.agent == "keepalived" for e in seen)


def reasons(path: str) -> list[str]:
    return [f"{e.old}>{e.new}: {e.reason}" for e in read_history([CORPUS / path]).events
            if isinstance(e, ev.Transition) and e.new == "MASTER"]


def test_why_each_takeover_happened() -> None:
    """The reasons the parser gives, from the lines before each takeover."""
    assert reasons("v2-pass-nginx2.log") == [
        "BACKUP>MASTER: advert timeout after priority 0 advert (master left)"] * 2
    # the check failed on nginx1 (100 -> 80): nginx2 preempts; nginx1 preempts back.
    assert reasons("incident-nginx2.log")[0] == \
        "BACKUP>MASTER: advert timeout, preempting lower priority 80 master 192.0.2.11"
    assert reasons("incident-nginx1.log")[1] == \
        "BACKUP>MASTER: advert timeout, preempting lower priority 90 master 192.0.2.12"
    # the crafted adverts from 192.0.2.200 were refused: nginx1 stayed the master.
    assert reasons("crafted-ttl-interval-nginx2.log") == [
        "BACKUP>MASTER: advert timeout after priority 0 advert (master left)"]


def test_a_single_run_replays_the_same_through_the_parser_alone() -> None:
    """The history reader's parser per run is the plain KeepalivedLogParser."""
    for path in LOGS:
        text = path.read_text()
        if text.count("Starting Keepalived") != 1 or "died" in text:
            continue
        parser = KeepalivedLogParser(path.stem)
        plain = [(e.old, e.new) for e in parser.feed_lines(text.splitlines())
                 if isinstance(e, ev.Transition)]
        read = [(e.old, e.new) for e in read_history([path]).events
                if isinstance(e, ev.Transition)]
        assert plain == read, path.name


# ---------------------------------------------------------------------------------------
# The agent's 2.4 wording, against what keepalived 2.4.3 logged in the same situation
# ---------------------------------------------------------------------------------------

V4 = ipaddress.IPv4Address
NGINX1, NGINX2, CRAFTER = V4("192.0.2.11"), V4("192.0.2.12"), V4("192.0.2.200")
VIP = VirtualAddress(ipaddress.ip_interface("192.0.2.170/24"))


def instance(priority: int, password: str = "lab-pass", **kw: object) -> VrrpInstance:
    return VrrpInstance(name="VI_1", interface="eth0", virtual_router_id=100,
                        priority=priority, virtual_ipaddress=[VIP], auth_type="PASS",
                        auth_pass=Secret(password), **kw)  # type: ignore[arg-type]


class Node:
    """One instance of the core driven by hand, its actions through the 2.4 wording."""

    def __init__(self, config: VrrpInstance, address: V4, *, detail: bool = True) -> None:
        self.inst = Instance(config, address)
        self.wording = Wording24(detail=detail)
        self.lines: list[str] = []
        self.actions: list[act.Action] = []
        self.now = 0.0
        self._take(self.inst.start(0.0))

    def _take(self, actions: list[act.Action]) -> None:
        worded = self.wording.rewrite(self.inst, actions)
        self.actions += worded
        self.lines += [a.message for a in worded if isinstance(a, act.Log)]

    def until(self, t: float) -> None:
        while (deadline := self.inst.next_deadline()) is not None and deadline <= t:
            self.now = deadline
            self._take(self.inst.on_timer(deadline))
        self.now = t

    def receive(self, t: float, sender: Instance | VrrpInstance, src: V4, *,
                priority: int | None = None, ttl: int = 255, **advert: object) -> None:
        self.until(t)
        peer = sender if isinstance(sender, Instance) else Instance(sender, src)
        made = peer.make_advert(peer.base_priority if priority is None else priority)
        payload = encode(dataclasses.replace(made, **advert), src, MCAST_V4)  # type: ignore[arg-type]
        self._take(self.inst.on_packet(payload, src, MCAST_V4, ttl, t))

    def said(self, *words: str) -> list[str]:
        return [line for line in self.lines if any(w in line for w in words)]


def capture(name: str, *words: str) -> list[str]:
    """The instance lines of a capture holding one of `words`, without their stamps."""
    lines = [parse_line(line).message for line in (CORPUS / name).read_text().splitlines()
             if line.strip() and not line.startswith("---")]
    return [line for line in lines if any(w in line for w in words)]


WORDS = ("master set", "master changed", "TTL", "interval mismatch", "passwd")


def test_crafted_adverts_logged_as_keepalived_2_4_did() -> None:
    """crafted-ttl-interval: a backup hears its master, then three adverts with TTL 64 and
    three with a 3 s interval from 192.0.2.200. 2.4.3 named the new address before each
    (detail), and each complaint once."""
    backup = Node(instance(90), NGINX2)
    master = instance(100)
    for t in (1.0, 2.0):
        backup.receive(t, master, NGINX1)
    crafted = instance(50)
    for t in (2.1, 2.4, 2.7):
        backup.receive(t, crafted, CRAFTER, ttl=64)
    for t in (3.0, 3.3, 3.6):
        backup.receive(t, crafted, CRAFTER, advert_int_cs=300)
    assert backup.said(*WORDS) == capture("crafted-ttl-interval-nginx2.log", *WORDS)
    refused = [a for a in backup.actions if isinstance(a, act.PacketRejected)]
    assert [r.reason for r in refused] == ["ip_ttl_err"] * 3 + ["advert_interval_err"] * 3
    # the master of the same capture: no master lines, each complaint once
    lead = Node(instance(100, state="MASTER"), NGINX1)
    lead.until(3.5)
    for t in (4.1, 4.4, 4.7):
        lead.receive(t, crafted, CRAFTER, ttl=64)
    for t in (5.0, 5.3, 5.6):
        lead.receive(t, crafted, CRAFTER, advert_int_cs=300)
    assert lead.said(*WORDS) == capture("crafted-ttl-interval-nginx1.log", *WORDS)


def test_wrong_password_logged_once_per_state_as_2_4_did() -> None:
    """wrong-password: each refused advert is logged once; entering MASTER clears the
    flag, so the new master says it once more (wrong-password-nginx2.log)."""
    backup = Node(instance(90, password="secret-B"), NGINX2)
    other = instance(100, password="secret-A")
    for t in (0.5, 0.8):  # in the same second, before the backup's timer
        backup.receive(t, other, NGINX1)
    backup.until(4.0)  # no accepted advert: MASTER
    for t in (4.5, 5.5, 6.5):
        backup.receive(t, other, NGINX1)
    words = (*WORDS, "Entering MASTER")
    said = capture("wrong-password-nginx2.log", *words)
    assert said == ["(VI_1) master set to 192.0.2.11",
                    "(VI_1) received an invalid passwd from 192.0.2.11!",
                    "(VI_1) Entering MASTER STATE",
                    "(VI_1) received an invalid passwd from 192.0.2.11!"]
    # 2.4.3's backup met one refused advert before its timer; ours meets two: a refused
    # packet leaves the address unset, so "master set to" comes again, the complaint not.
    assert backup.said(*words) == [said[0], said[1], said[0], *said[2:]]


def test_flags_clear_on_a_new_master_and_master_lines_need_detail() -> None:
    backup = Node(instance(90), NGINX2)
    a, b = instance(100), instance(110)
    backup.receive(1.0, a, NGINX1)
    backup.receive(1.5, a, NGINX1, ttl=64)
    backup.receive(1.7, a, NGINX1, ttl=64)  # rate-limited
    backup.receive(2.0, b, V4("192.0.2.13"))  # a better master: accepted, flags clear
    backup.receive(2.5, b, V4("192.0.2.13"), ttl=64)  # said again
    assert backup.said("master", "TTL") == [
        "(VI_1) master set to 192.0.2.11",
        "(VI_1) invalid TTL/HL from 192.0.2.11. Received 64 and expect 255",
        "(VI_1) master changed from 192.0.2.11 to 192.0.2.13",
        "(VI_1) invalid TTL/HL from 192.0.2.13. Received 64 and expect 255",
    ]
    quiet = Node(instance(90), NGINX2, detail=False)
    quiet.receive(1.0, a, NGINX1)
    quiet.receive(2.0, b, V4("192.0.2.13"))
    assert quiet.said("master") == []


def test_every_refusal_counts_though_logged_once() -> None:
    backup = Node(instance(90), NGINX2)
    for i in range(5):
        backup.receive(1.0 + i / 10, instance(100, password="nope"), NGINX1)
    assert sum(isinstance(a, act.PacketRejected) for a in backup.actions) == 5
    assert len(backup.said("passwd")) == 1
    assert backup.inst.stats["auth_failure"] == 5


def test_log_wording_choices() -> None:
    assert log_wording("2.2") is None
    assert isinstance(log_wording("2.4", detail=False), Wording24)
    with pytest.raises(ValueError, match=r"expected 2\.2 or 2\.4"):
        log_wording("2.3")


# ---------------------------------------------------------------------------------------
# The agent: `haconsole agent --log-compat 2.4`
# ---------------------------------------------------------------------------------------

PAIR_CONF = """
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    version 3
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        node = record.name.removeprefix("haconsole.node.")
        self.lines.setdefault(node, []).append(record.getMessage())


async def test_the_agent_logs_like_2_4_when_asked(tmp_path: Path) -> None:
    """Two agents whose VIPs disagree refuse each other's adverts. The one logging like
    2.4 names the sender and says it once per state; the other (2.2) at every advert."""
    from haconsole.agent.daemon import Agent, AgentOptions
    from haconsole.net.memory import MemorySegment, MemoryVips

    segment = MemorySegment()
    agents = []
    # b first: a starts as a backup hearing b, whose adverts it refuses
    for name, address, priority, vip, compat in (("b", NGINX2, 90, "192.0.2.171", "2.2"),
                                                  ("a", NGINX1, 100, "192.0.2.170", "2.4")):
        conf = tmp_path / f"{name}.conf"
        conf.write_text(PAIR_CONF.format(priority=priority, vip=vip))
        options = AgentOptions(config_file=str(conf), control=str(tmp_path / f"{name}.sock"),
                               node_name=name, check_permissions=False, track_primary=False,
                               log_compat=compat, log_detail=True)
        agents.append(Agent(options, vips=MemoryVips(), transport_for=lambda iface, fam,
                            name=name, address=address: segment.attach(name, iface,
                                                                      str(address))))
    capture = _Lines()
    logger = logging.getLogger("haconsole")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    tasks = []
    try:
        loop = asyncio.get_running_loop()
        for agent in agents:
            ready = asyncio.Event()
            tasks.append(loop.create_task(agent.run(on_ready=ready.set)))
            await asyncio.wait_for(ready.wait(), 10)
            end = loop.time() + 10
            while agent is agents[0] and \
                    "(VI_1) Entering MASTER STATE" not in capture.lines.get("b", []):
                assert loop.time() < end, "b did not become MASTER"
                await asyncio.sleep(0.02)
        end = loop.time() + 10
        while len([x for x in capture.lines.get("b", []) if "not in the advert" in x]) < 10:
            assert loop.time() < end, capture.lines
            await asyncio.sleep(0.05)
    finally:
        for agent in agents:
            agent.request_stop()
        for task in tasks:
            await asyncio.wait_for(task, 10)
        logger.removeHandler(capture)
        logger.setLevel(level)
    a, b = capture.lines["a"], capture.lines["b"]
    refused = [x for x in a if "not present in advert" in x]
    entered = [x for x in a if "Entering" in x]
    assert refused and all(x == "(VI_1) ip address associated with VRID 51 not present in "
                                "advert from 192.0.2.12: 192.0.2.170" for x in refused)
    assert len(refused) <= len(entered)  # once per state at most, not per advert
    assert all(classify(x) is not None for x in refused)
    # as a backup, a names the address of each packet it refuses (no master accepted)
    said = [x for x in a if "master " in x]
    assert said and set(said) == {"(VI_1) master set to 192.0.2.12"}
    assert len(refused) == 2  # once as a backup, once more as the master it became
    assert len([x for x in b if "VIP 192.0.2.171 not in the advert" in x]) >= 10  # 2.2: each


def test_the_agent_command_line_takes_the_wording() -> None:
    import argparse

    from haconsole.agent.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).log_compat == "2.2"
    assert parser.parse_args(["--log-compat", "2.4"]).log_compat == "2.4"
    with pytest.raises(SystemExit):
        parser.parse_args(["--log-compat", "2.3"])
