"""vrrp_track_process: a process tracker definition."""

from __future__ import annotations

from haconsole.config import TrackProcess
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR, INVALID_NUMBER
from haconsole.keepalived.conf.limits import TIMER_HZ
from haconsole.keepalived.conf.stream import Handler, arg
from haconsole.keepalived.conf.values import read_decimal, read_int, read_unsigned


def begin(b: Builder, words: list[str]) -> None:
    name = arg(words, 1)
    b.processes.append(TrackProcess(name, quorum=1, line=b.here.number))


def command(b: Builder, words: list[str]) -> None:
    proc = b.process
    path = arg(words, 1)
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
    proc = b.process
    if proc is None:
        return
    if len(words) < 2:
        b.report(GENERAL_ERROR, f"No weight specified for track process {proc.name} - "
                 "ignoring")
        return
    if proc.weight:
        b.report(GENERAL_ERROR, f"Weight already set for track process {proc.name} - "
                 f"ignoring {words[1]}")
        return
    ok, value, msg = read_int(words[1], -254, 254)
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"Weight ({words[1]}) for vrrp_track_process {proc.name} "
                 "must be between [-254..254] inclusive. Ignoring...")
        return
    if len(words) >= 3:
        if words[2] == "reverse":
            proc.reverse = True
        else:
            b.report(GENERAL_ERROR, f"vrrp_track_process {proc.name} unknown weight "
                     f"option {words[2]}")
    proc.weight = value


def quorum(b: Builder, words: list[str]) -> None:
    proc = b.process
    text = arg(words, 1)
    ok, value, msg = read_unsigned(text, 1, 65535)
    if proc is None:
        return
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"Quorum ({text}) for vrrp_track_process {proc.name} "
                 "must be between [1..65535] inclusive. Ignoring...")
        return
    if proc.quorum_max is not None and value > proc.quorum_max:
        b.report(GENERAL_ERROR, "Quorum is greater than quorum_max - ignoring")
        return
    proc.quorum = value


def quorum_max(b: Builder, words: list[str]) -> None:
    proc = b.process
    text = arg(words, 1)
    ok, value, msg = read_unsigned(text, 0, 65535)
    if proc is None:
        return
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"quorum_max ({text}) for vrrp_track_process {proc.name} "
                 "must be between [0..65535] inclusive. Ignoring...")
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
    proc = b.process
    text = arg(words, 1)
    ok, value, msgs = read_decimal(text, 1, 3600 * TIMER_HZ)
    if proc is None:
        return
    for msg in msgs:
        b.report(INVALID_NUMBER, msg)
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
