"""vrrp_track_process: a process tracker definition."""

from __future__ import annotations

from haconsole.config import TrackProcess
from haconsole.keepalived.conf.builder import Builder, Number
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.limits import TIMER_HZ
from haconsole.keepalived.conf.stream import Handler, arg
from haconsole.keepalived.conf.values import read_unsigned


def begin(b: Builder, words: list[str]) -> None:
    name = arg(words, 1)
    b.processes.append(TrackProcess(name, quorum=1, line=b.here.number))


def command(b: Builder, words: list[str]) -> None:
    proc, path = b.process, arg(words, 1)
    if proc is None:
        return
    if proc.process:
        b.report(GENERAL_ERROR, f"Process already set for track process {proc.name} - "
                 f"ignoring {path}")
        return
    proc.process = path
    if len(words) > 2:
        proc.param_match = proc.param_match or "exact"


def param_match(b: Builder, words: list[str]) -> None:
    proc = b.process
    if proc is None:
        return
    if len(words) == 1:
        proc.param_match = "exact"
    elif words[1] in ("initial", "partial"):
        proc.param_match = words[1]
    else:
        b.report(GENERAL_ERROR, f"Invalid param_match type {words[1]} - ignoring")


def weight(b: Builder, words: list[str]) -> None:
    """`weight W [reverse]`: an invalid W is ignored."""
    if b.process is not None:
        b.tracker_weight(words, b.process, "track process", "vrrp_track_process", unset=0,
                         invalid=None)


def quorum(b: Builder, words: list[str]) -> None:
    proc, text = b.process, arg(words, 1)
    if proc is None or (value := b.number(_QUORUM, text, proc.name)) is None:
        return
    if proc.quorum_max is not None and value > proc.quorum_max:
        b.report(GENERAL_ERROR, "Quorum is greater than quorum_max - ignoring")
        return
    proc.quorum = value


def quorum_max(b: Builder, words: list[str]) -> None:
    proc, text = b.process, arg(words, 1)
    if proc is None or (value := b.number(_QUORUM_MAX, text, proc.name)) is None:
        return
    if (value or proc.quorum > 1) and value < proc.quorum:
        b.report(GENERAL_ERROR, "quorum_max is less than quorum - ignoring")
        return
    proc.quorum_max = value
    if value == 0:
        proc.quorum = 0
    elif not proc.quorum:
        proc.quorum = 1


def delay(b: Builder, words: list[str]) -> None:
    """delay, terminate_delay and fork_delay (keepalived checks fork_delay, haconsole does
    not model it)."""
    proc, text = b.process, arg(words, 1)
    if proc is None:
        return
    ok, value = b.decimal(text, 1, 3600 * TIMER_HZ)
    if not ok:
        prefix = {"terminate_delay": "terminate_", "fork_delay": "fork_"}.get(words[0], "")
        b.report(GENERAL_ERROR, f"{prefix}delay ({text}) for vrrp_track_process "
                 f"{proc.name} must be between [0.000001..3600] inclusive. Ignoring...")
        return
    if words[0] != "fork_delay":
        proc.delay = value / TIMER_HZ


def end(b: Builder) -> None:
    proc = b.process
    if proc is None:
        return
    if not proc.process:
        b.report(GENERAL_ERROR, f"track process '{proc.name}' process name not specified")
        b.processes.pop()


_QUORUM = Number(read_unsigned, 1, 65535, "Quorum ({text}) for vrrp_track_process {name} must "
                 "be between [1..65535] inclusive. Ignoring...")
_QUORUM_MAX = Number(read_unsigned, 0, 65535, "quorum_max ({text}) for vrrp_track_process "
                     "{name} must be between [0..65535] inclusive. Ignoring...")

KEYWORDS: dict[str, Handler] = {
    "process": command,
    "param_match": param_match,
    "weight": weight,
    "quorum": quorum,
    "quorum_max": quorum_max,
    "delay": delay,
    "terminate_delay": delay,
    "fork_delay": delay,
    "full_command": Builder.accept,
}
