"""The state a pass builds and the helpers keyword handlers share.

Each handler is a function (builder, words) in the module of its keepalived block
(global_defs.py, vrrp_instance.py, ...); Builder holds what they build and how they report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
from haconsole.keepalived.conf.values import read_decimal, read_int, split_quoted, true_false

Reader = Callable[[str, int, int], tuple[bool, int, str | None]]


@dataclass(frozen=True)
class Number:
    """A keyword that takes one number keepalived range-checks, and what it says about it.

    On an invalid number keepalived ignores the keyword, or uses `default` when there is
    one; `zero`, when set, is its complaint as it turns a 0 into 1. The messages may name
    {name} (the block's name), {text} (the word), {hi} and {default}. `store` is where the
    value goes in the block being read ("cfg.interval"), as seconds (a float) if `seconds`.
    """

    read: Reader
    lo: int
    hi: int
    invalid: str
    store: str = ""
    default: int | None = None
    zero: str = ""
    seconds: bool = False


def set_path(block: object, path: str, value: object) -> None:
    """Set the attribute `path` ("cfg.interval") of `block` as a keyword table says."""
    *steps, attr = path.split(".")
    for step in steps:
        block = getattr(block, step)
    setattr(block, attr, value)


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

    def inst_for_block(self, words: list[str]) -> Inst | None:
        """The instance a value block belongs to; without one the block is read and dropped."""
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
        return inst

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

    def reverse_option(self, words: list[str], owner: str) -> bool:
        """`weight W reverse`: whether the word after the weight says reverse (any other word
        is reported, and keepalived keeps the weight)."""
        if len(words) < 3:
            return False
        if words[2] != "reverse":
            self.report(GENERAL_ERROR, f"{owner} unknown weight option {words[2]}")
        return words[2] == "reverse"

    def tracker_weight(self, words: list[str], tracker: TrackFile | TrackProcess, noun: str,
                       keyword: str, unset: int, invalid: int | None) -> None:
        """`weight W [reverse]` in track_file and vrrp_track_process: keepalived's two copies
        of this code differ in wording, in the unset weight and in what an invalid W does
        (`invalid` is then the weight, or None to ignore the line)."""
        if len(words) < 2:
            self.report(GENERAL_ERROR, f"No weight specified for {noun} {tracker.name} - "
                        "ignoring")
            return
        if tracker.weight != unset:
            self.report(GENERAL_ERROR, f"Weight already set for {noun} {tracker.name} - "
                        f"ignoring {words[1]}")
            return
        ok, value, msg = read_int(words[1], -254, 254)
        if not ok:
            self.report_number(msg)
            self.report(GENERAL_ERROR, f"Weight ({words[1]}) for {keyword} {tracker.name} must "
                        "be between [-254..254] inclusive. Ignoring...")
            if invalid is None:
                return
            value = invalid
        tracker.weight = value
        if self.reverse_option(words, f"{keyword} {tracker.name}"):
            tracker.reverse = True

    # -- numbers ---------------------------------------------------------------------------
    def report_number(self, msg: str | None) -> None:
        """A number reader's own complaint (INVALID_NUMBER), if it had one."""
        if msg:
            self.report(INVALID_NUMBER, msg)

    def number(self, spec: Number, text: str, name: str = "") -> int | None:
        """The value keepalived takes from `text`, after its complaints (None: it ignores
        the keyword)."""
        ok, value, msg = spec.read(text, spec.lo, spec.hi)
        if not ok:
            self.report_number(msg)
            self.report(GENERAL_ERROR, spec.invalid.format(name=name, text=text, hi=spec.hi,
                                                           default=spec.default))
            return spec.default
        if value == 0 and spec.zero:
            self.report(GENERAL_ERROR, spec.zero.format(name=name))
            return 1
        return value

    def store_number(self, spec: Number, text: str, block: object, name: str = "") -> None:
        """number(), kept at spec.store in `block` (the object being read)."""
        value = self.number(spec, text, name)
        if value is not None and spec.store:
            set_path(block, spec.store, float(value) if spec.seconds else value)

    def decimal(self, text: str, lo: int, hi: int) -> tuple[bool, int]:
        """read_decimal() with its complaints reported: (in range, value in microseconds)."""
        ok, value, msgs = read_decimal(text, lo, hi)
        for msg in msgs:
            self.report(INVALID_NUMBER, msg)
        return ok, value

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
