"""The state a pass builds and the helpers keyword handlers share.

Each handler is a function (builder, words) in the module of its keepalived block
(global_defs.py, vrrp_instance.py, ...); Builder holds what they build and how they report.
"""

from __future__ import annotations

from collections.abc import Callable

from haconsole.config import TrackFile, TrackProcess
from haconsole.keepalived.conf.environment import Environment
from haconsole.keepalived.conf.findings import (
    GENERAL_ERROR,
    INVALID_NUMBER,
    UNMATCHED_QUOTE,
    Finding,
    Severity,
)
from haconsole.keepalived.conf.lexer import Line
from haconsole.keepalived.conf.state import Globals, Group, Inst, Script
from haconsole.keepalived.conf.stream import MissingParameter, Stream, arg
from haconsole.keepalived.conf.values import split_quoted, true_false


class Builder:
    """What one pass builds, and the reporting and reading the handlers share."""

    def __init__(self, stream: Stream, env: Environment, glob_: Globals) -> None:
        self.s = stream
        self.env = env
        self.g = glob_
        self.scripts: list[Script] = []
        self.instances: list[Inst] = []
        self.instance_names: set[str] = set()
        self.groups: list[Group] = []
        self.track_files: list[TrackFile] = []
        self.cur_track_file: TrackFile | None = None
        self.processes: list[TrackProcess] = []
        self.non_existent_interface: Line | None = None

    # -- reporting -----------------------------------------------------------------------
    def report(self, level: str, message: str, severity: Severity | None = None) -> None:
        self.s.report(level, message, severity)

    def advise(self, message: str) -> None:
        """Our own warning (keepalived accepts this silently)."""
        line = self.here
        self.s.sink(Finding(line.file, line.number, "warning", message, "haconsole", None))

    @property
    def here(self) -> Line:
        assert self.s.line is not None
        return self.s.line

    # -- the block being read ----------------------------------------------------------
    @property
    def inst(self) -> Inst | None:
        return self.instances[-1] if self.instances else None

    @property
    def script(self) -> Script | None:
        return self.scripts[-1] if self.scripts else None

    @property
    def group(self) -> Group | None:
        return self.groups[-1] if self.groups else None

    @property
    def process(self) -> TrackProcess | None:
        return self.processes[-1] if self.processes else None

    # -- what keepalived would find on the node ------------------------------------------
    def interface(self, name: str) -> tuple[bool, bool]:
        """if_get_by_ifname(IF_CREATE_IF_DYNAMIC): (usable, exists now)."""
        known = self.env.interfaces
        if known is None or name in known:
            return True, True
        if self.g.dynamic_interfaces:
            return True, False
        self.non_existent_interface = self.non_existent_interface or self.s.line
        return False, False

    def notify_script(self, words: list[str]) -> list[str] | None:
        """notify_script_init(): the command re-read with quotes and escapes."""
        full, missing = split_quoted(self.here.text)
        if missing:
            self.report(UNMATCHED_QUOTE, f"String '{self.here.text}': missing terminating "
                        f"{missing}")
            return None
        if len(full) < 2:
            raise MissingParameter(full or words, 1)
        if len(full) > 2 and not any(q in self.here.text for q in "\"'"):
            self.advise(f"{words[0]}: keepalived runs '{full[1]}' as user '{full[2]}'"
                        f"{' (group ' + repr(full[3]) + ')' if len(full) > 3 else ''}; quote "
                        "the command if those words are its arguments")
        args, _ = split_quoted(full[1])
        return args or None

    # -- shapes several blocks share ----------------------------------------------------
    def set_notify(self, owner: str, notify: dict[str, list[str]], words: list[str],
                   prefix: str) -> None:
        key = words[0]
        if key in notify:
            shown = arg(words, 1)
            self.report(GENERAL_ERROR, f"{prefix} {key} script already specified - ignoring "
                        f"{shown}")
            return
        args = self.notify_script(words)
        if args is not None:
            notify[key] = args

    def bool_word(self, words: list[str], message: str, quote: bool = True) -> bool | None:
        """A yes/no option that defaults to yes when no word follows the keyword."""
        if len(words) < 2:
            return True
        value = true_false(words[1])
        if value is None:
            self.report(GENERAL_ERROR, message.format(words[1]) if quote else message)
        return value

    def report_number(self, msg: str | None) -> None:
        """A number reader's own complaint (INVALID_NUMBER), if it had one."""
        if msg:
            self.report(INVALID_NUMBER, msg)

    # -- value blocks ----------------------------------------------------------------------
    def read_value_block(self, words: list[str]) -> list[str]:
        out: list[str] = []
        for vec in self.s.value_lines(words):
            out.extend(vec)
        return out

    def each_value(self, words: list[str], fn: Callable[[list[str]], None]) -> None:
        for vec in self.s.value_lines(words):
            fn(vec)

    def ignore_block(self, words: list[str]) -> None:
        for _ in self.s.value_lines(words):
            pass

    def accept(self, words: list[str]) -> None:
        """A keyword keepalived knows and haconsole does not model: no verdict."""
