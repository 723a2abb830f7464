"""vrrp_script: a script tracker definition."""

from __future__ import annotations

from haconsole.config import VrrpScript
from haconsole.keepalived.conf.builder import Builder, Number
from haconsole.keepalived.conf.environment import group_exists, user_exists
from haconsole.keepalived.conf.findings import GENERAL_ERROR, INVALID_NUMBER, UNMATCHED_QUOTE
from haconsole.keepalived.conf.limits import INT_MAX, TIMER_HZ, UINT_MAX
from haconsole.keepalived.conf.state import Script
from haconsole.keepalived.conf.stream import Handler, arg
from haconsole.keepalived.conf.values import (
    cmd_line,
    cmd_str,
    read_decimal,
    read_int,
    read_unsigned,
    split_quoted,
)


def begin(b: Builder, words: list[str]) -> None:
    name = arg(words, 1)
    line = b.here
    b.scripts.append(Script(VrrpScript(name, line=line.number), file=line.file))


def number(b: Builder, words: list[str]) -> None:
    """The keywords of NUMBERS."""
    script, text = b.script, arg(words, 1)
    if script is None:
        return
    if words[0] in ("interval", "timeout") and b.env.at_least("2.3"):
        _milliseconds(b, script, words[0], text)
        return
    b.store_number(NUMBERS[words[0]], text, script.cfg, script.cfg.name)


def _milliseconds(b: Builder, script: Script, key: str, text: str) -> None:
    """keepalived 2.3+ reads interval and timeout to the millisecond (0.001 .. 4294 s)."""
    name, hi = script.cfg.name, UINT_MAX // TIMER_HZ
    ok, value, msgs = read_decimal(text, 0, hi * 1000, shift=3)
    for msg in msgs:
        b.report(INVALID_NUMBER, msg)
    if not ok:
        b.report(GENERAL_ERROR, f"({name}): vrrp script interval '{text}' must be between "
                 f"0.001 and {hi} - ignoring" if key == "interval" else
                 f"({name}): vrrp script timeout '{text}' invalid - ignoring")
        return
    if value == 0:
        b.report(GENERAL_ERROR, f"({name}): vrrp script {key} must be greater than 0, "
                 "setting to 1")
        value = 1000
    setattr(script.cfg, key, value / 1000)


def command(b: Builder, words: list[str]) -> None:
    script = b.script
    full, missing = split_quoted(b.here.text)
    if missing:
        b.report(UNMATCHED_QUOTE, f"String '{b.here.text}': missing terminating "
                 f"{missing}")
        full = []
    if script is None or len(full) < 2:
        return
    if len(full) > 2 and not any(q in b.here.text for q in "\"'"):
        b.advise(f"vrrp_script {script.cfg.name}: keepalived runs only '{full[1]}' and "
                 f"ignores {' '.join(full[2:])!r}; quote the whole command")
    args, _ = split_quoted(full[1])
    script.args = args
    script.cfg.script = cmd_line(args)


def weight(b: Builder, words: list[str]) -> None:
    """`weight W [reverse]`: unlike the other numbers, an invalid W is kept as read."""
    script, text = b.script, arg(words, 1)
    ok, value, msg = read_int(text, -253, 253)
    if script is None:
        return
    name = script.cfg.name
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"vrrp_script {name} weight {text} must be in [-253, 253]")
    script.cfg.weight = value
    if b.reverse_option(words, f"vrrp_script {name}"):
        script.cfg.weight_reverse = True


def user(b: Builder, words: list[str]) -> None:
    script, name = b.script, arg(words, 1)
    if script is None:
        return
    if not user_exists(name, b.env) or (len(words) > 2 and not group_exists(words[2],
                                                                            b.env)):
        b.report(GENERAL_ERROR, f"Unable to set uid/gid for script "
                 f"{cmd_str(script.args)}")
        script.remove = True
        return
    script.remove = False
    script.user_set = True
    script.cfg.user = name


def init_fail(b: Builder, words: list[str]) -> None:
    if b.script:
        b.script.cfg.init_fail = True


def end(b: Builder) -> None:
    script = b.script
    if script is None:
        return
    if not script.args or not script.args[0]:
        b.report(GENERAL_ERROR, f"No script set for vrrp_script {script.cfg.name} - "
                 "removing")
        script.remove = True
    if script.remove:
        b.scripts.pop()


# Keywords taking one number: keepalived's range, where the value goes, its complaints.
NUMBERS: dict[str, Number] = {
    "interval": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "({name}): vrrp script interval '{text}' must "
        "be between 1 and {hi} - ignoring", "interval", seconds=True,
        zero="({name}): vrrp script interval must be greater than 0, setting to 1"),
    "timeout": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "({name}): vrrp script timeout '{text}' "
        "invalid - ignoring", "timeout", seconds=True,
        zero="({name}): vrrp script timeout must be greater than 0, setting to 1"),
    "rise": Number(read_unsigned, 1, INT_MAX, "({name}): vrrp script rise value '{text}' "
                   "invalid, defaulting to 1", "rise", default=1),
    "fall": Number(read_unsigned, 1, INT_MAX, "({name}): vrrp script fall value '{text}' "
                   "invalid, defaulting to 1", "fall", default=1),
}
KEYWORDS: dict[str, Handler] = {
    "script": command,
    "weight": weight,
    "user": user,
    "init_fail": init_fail,
    **dict.fromkeys(NUMBERS, number),
}
