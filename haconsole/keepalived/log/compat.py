"""keepalived 2.4's wording, for a node that logs like 2.4 (`haconsole agent --log-compat`).

Why a layer and not the core: the VRRP core (haconsole/vrrp) says what happened as
actions, a `Log` line in keepalived 2.2's words next to the facts (`PacketRejected` with
the sender and keepalived's counter, `AdvertAccepted`, `StateChanged`). Where 2.4 words
it differently, everything it needs is in those facts, so the engine hands each batch of
one instance's actions through `rewrite` before carrying them out, and the core keeps
one wording and no version switch. Lines, events, the agent's history and what a
console streams are then all in 2.4's words alike.

What 2.4.3 does differently (keepalived's vrrp.c, and the 2.4.3 captures in
tests/data/keepalived-2.4.3):

- a refused packet is logged in 2.4's sentence, naming the sender (`... from SRC`), and
  only once per instance and kind (`log_rate_limited_error`): the kind's flag is set when
  logged and every flag clears when the instance enters or leaves MASTER, and when a
  backup accepts an advert from a new master address; the counters still count all;
- with `-D`, a backup logs `master set to SRC` at the first packet from a master
  address, and `master changed from OLD to NEW` at a packet from another one, also one
  that is then refused (it is logged before the checks; the address a backup follows
  only moves when an advert is accepted).

The core's own drop wordings (`vrrp/packet.py`, a `PacketError`'s detail) are matched
here by `DROPS`; one no row knows keeps its line, rate-limited all the same
(tests/test_log_roundtrip.py meets every drop the core can raise in both wordings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from haconsole.vrrp import actions as act
from haconsole.vrrp.packet import AUTH_NAMES
from haconsole.vrrp.state import State

__all__ = ["DROPS", "LOG_COMPAT", "Drop", "InstanceFacts", "LogCompat", "Wording24",
           "log_wording"]

LogCompat = Literal["2.2", "2.4"]
#: The wordings a node can log in: 2.2 is the core's own (keepalived 2.2.7's).
LOG_COMPAT: tuple[LogCompat, ...] = ("2.2", "2.4")

_AUTH_NUMBER = {name: str(number) for number, name in AUTH_NAMES.items()}


class InstanceFacts(Protocol):
    """What the wording needs to know of the instance whose actions it words."""

    @property
    def name(self) -> str: ...

    @property
    def vrid(self) -> int: ...

    @property
    def version(self) -> int: ...

    @property
    def state(self) -> State: ...


@dataclass(frozen=True)
class _Packet:
    """One refused packet, as the sentence needs it."""

    src: str
    groups: dict[str, str]
    inst: InstanceFacts


@dataclass(frozen=True)
class Drop:
    """One row: the core's wording of a refusal (a regular expression over the
    PacketError detail), keepalived 2.4's rate-limit flag for it, and its 2.4 sentence."""

    detail: re.Pattern[str]
    flag: str
    sentence: Callable[[_Packet], str]


def _template(template: str) -> Callable[[_Packet], str]:
    """A sentence from a format string over the detail's groups and the instance."""

    def words(p: _Packet) -> str:
        return template.format(src=p.src, vrid=p.inst.vrid, version=p.inst.version,
                               **p.groups)

    return words


def _drop(detail: str, flag: str, sentence: str | Callable[[_Packet], str]) -> Drop:
    words = _template(sentence) if isinstance(sentence, str) else sentence
    return Drop(re.compile(detail), flag, words)


def _auth_mismatch(p: _Packet) -> str:
    """keepalived checks the AH header first, then compares the auth type numbers."""
    theirs, ours = p.groups["theirs"], p.groups["ours"]
    if theirs == "AH":
        return f"Received AH header but auth type not AH from {p.src}"
    if ours == "AH":
        return f"No AH header but auth type is AH from {p.src}"
    return (f"received a {_AUTH_NUMBER.get(theirs, theirs)} auth from {p.src}, "
            f"expecting {_AUTH_NUMBER.get(ours, ours)}!")


def _cast(p: _Packet) -> str:
    expected = "un" if p.groups["instance"] == "unicast" else "mult"
    got = "un" if p.groups["destination"] == "unicast" else "mult"
    return f"Expected {expected}icast packet but received {got}icast packet from {p.src}"


#: The core's refusals (vrrp/packet.py) in keepalived 2.4.3's words, first match wins;
#: flags are keepalived's VRRP_RLFLAG_* names.
DROPS: tuple[Drop, ...] = (
    _drop(r"(?P<size>\d+) bytes, shorter than the 8-byte header", "INCOMPLETE_PACKET",
          "vrrp packet from {src} too short, length {size} and expect 8"),
    _drop(r"too (?P<how>long|short): (?P<size>\d+) bytes, expected (?P<expect>\d+) for "
          r"\d+ address\(es\)", "INCOMPLETE_PACKET",
          "vrrp packet from {src} too {how}, length {size} and expect {expect}"),
    _drop(r"version (?P<got>\d+), expected 2 or 3", "WRONG_VERSION",
          "wrong VRRP version from {src}. Received {got} and expect {version}"),
    _drop(r"VRRPv2 over IPv6 \(RFC 3768 is IPv4 only\)", "WRONG_VERSION",
          "wrong VRRP version from {src}. Received 2 and expect {version}"),
    _drop(r"version (?P<got>\d+), expected (?P<want>\d+)", "WRONG_VERSION",
          "wrong VRRP version from {src}. Received {got} and expect {want}"),
    _drop(r"type (?P<got>\d+), expected (?P<want>\d+)", "NOT_ADVERTISEMENT",
          "Invalid packet type from {src}. {got} and expect {want}"),
    _drop(r"checksum 0x[0-9a-f]+, expected 0x[0-9a-f]+", "BAD_CHECKSUM",
          "Invalid VRRPv{version} checksum from {src}"),
    _drop(r"TTL (?P<ttl>\d+), expected (?P<low>\d+)-(?P<high>\d+)", "TTL_NOT_IN_RANGE",
          "TTL/HL {ttl} from {src} not in range [{low}, {high}]"),
    _drop(r"TTL (?P<ttl>\d+), expected (?P<want>\d+)", "INVALID_TTL",
          "invalid TTL/HL from {src}. Received {ttl} and expect {want}"),
    _drop(r"auth type (?P<got>\d+)", "BAD_AUTH", "Invalid auth type from {src}: {got}"),
    _drop(r"auth type (?P<theirs>.+), expected (?P<ours>.+)", "WRONG_AUTH", _auth_mismatch),
    # keepalived has no sentence for AH it cannot check; the core words both as 2.2 does.
    _drop(r"wrong password|IPsec AH authentication is not supported", "WRONG_AUTH_PASSWD",
          "received an invalid passwd from {src}!"),
    _drop(r"interval (?P<got>\S+) s, expected (?P<want>\S+) s", "ADV_INTVL_MISMATCH",
          "advertisement interval mismatch with {src} mine={want} sec rcv'd={got} sec"),
    _drop(r"(?P<got>\d+) address\(es\), expected (?P<want>\d+)", "WRONG_ADDR_COUNT",
          "expected {want} VIPs but received {got}"),
    _drop(r"(?P<destination>multicast|unicast) destination \S+ on a "
          r"(?P<instance>unicast|multicast) instance", "UNI_MULTICAST_ERR", _cast),
    _drop(r"VIP (?P<vip>\S+) not in the advert", "VIPS_MISMATCH",
          "ip address associated with VRID {vrid} not present in advert from {src}: {vip}"),
    _drop(r"source (?P<peer>\S+) is not a unicast peer", "UNKNOWN_UNICAST_SRC",
          "unicast source address {peer} not a unicast peer"),
)


@dataclass
class _Memory:
    """What keepalived keeps per instance for its wording: the rate-limit flags set, and
    the master address it follows (`master_saddr`)."""

    flags: set[str] = field(default_factory=set)
    master: str | None = None


class Wording24:
    """keepalived 2.4's wording over one node's core actions (see the module docstring).

    `detail`: the node logs with `-D` (the `master set to` lines are detail lines).
    """

    def __init__(self, *, detail: bool = True) -> None:
        self.detail = detail
        self._memory: dict[str, _Memory] = {}

    def rewrite(self, inst: InstanceFacts, actions: Sequence[act.Action]) -> list[act.Action]:
        """`actions` of `inst` (one batch, as the core returned it) with its log lines in
        2.4's words: sentences replaced, repeats left out, `master set to` added."""
        memory = self._memory.get(inst.name)
        if memory is None:
            memory = self._memory[inst.name] = _Memory()
        before = next((a.old for a in actions if type(a) is act.StateChanged), inst.state)
        out: list[act.Action] = []
        self._follow(inst, actions, before, memory, out)
        worded = False  # the refusal just met has its line (or none): drop the core's
        for a in actions:
            if isinstance(a, act.Log) and worded:
                worded = False
                continue
            worded = False
            if isinstance(a, act.StateChanged) and State.MASTER in (a.old, a.new):
                memory.flags.clear()  # vrrp_state_goto_master / vrrp_state_leave_master
            out.append(a)
            if isinstance(a, act.PacketRejected):
                line = self._refusal(inst, a, memory)
                if line is not None:  # else logged already since the flags last cleared
                    out.append(line)
                worded = True
        return out

    def _follow(self, inst: InstanceFacts, actions: Sequence[act.Action], before: State,
                memory: _Memory, out: list[act.Action]) -> None:
        """The master a backup follows: `master set to` / `master changed from` on a
        packet from a new address; a new master accepted clears the flags."""
        packet = next((a for a in actions
                       if type(a) is act.AdvertAccepted or type(a) is act.PacketRejected),
                      None)
        if packet is None:
            return
        assert isinstance(packet, act.AdvertAccepted | act.PacketRejected)
        src = str(packet.src)
        accepted = type(packet) is act.AdvertAccepted
        if before == State.BACKUP and src != memory.master:
            if self.detail:
                said = f"master set to {src}" if memory.master is None else \
                    f"master changed from {memory.master} to {src}"
                out.append(act.Log(f"({inst.name}) {said}"))
            if accepted:
                memory.flags.clear()
        if not accepted:
            return
        assert isinstance(packet, act.AdvertAccepted)
        if before == State.BACKUP and packet.priority != 0:
            memory.master = src
        elif before == State.MASTER and any(
                isinstance(a, act.StateChanged) and a.new == State.BACKUP for a in actions):
            memory.master = src  # a master stepping down follows the better one

    @staticmethod
    def _refusal(inst: InstanceFacts, a: act.PacketRejected,
                 memory: _Memory) -> act.Log | None:
        for row in DROPS:
            m = row.detail.fullmatch(a.detail)
            if m is not None:
                flag = row.flag
                text = row.sentence(_Packet(str(a.src), m.groupdict(), inst))
                break
        else:  # a wording no row knows: the core's line, rate-limited all the same
            flag, text = f"other {a.reason}", a.detail or a.reason
        if flag in memory.flags:
            return None
        memory.flags.add(flag)
        return act.Log(f"({inst.name}) {text}")


def log_wording(compat: str, *, detail: bool = True) -> Wording24 | None:
    """The wording layer for `--log-compat` (None: the core's own, keepalived 2.2's)."""
    if compat == "2.4":
        return Wording24(detail=detail)
    if compat == "2.2":
        return None
    raise ValueError(f"unknown keepalived log wording {compat!r} "
                     f"(expected {' or '.join(LOG_COMPAT)})")
