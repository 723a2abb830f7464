"""keepalived.conf -> haconsole.config.Config, with keepalived 2.2.7's own verdicts.

Operators judge a config by what `keepalived -t` says, so this parser reproduces that
judgement rather than inventing a stricter grammar: the same keyword is unknown, the same
number is out of range and replaced by the same value, and the messages read the same.

How keepalived reads a config (facts this module mirrors)
---------------------------------------------------------
* Lines: `!` and `#` start a comment outside double quotes; `\\#` and `\\!` escape them.
  Leading and trailing blanks go. Each `{` and `}` outside quotes becomes a line of its
  own, so `vrrp_instance VI_1 {` is the two lines `vrrp_instance VI_1` and `{`.
  `include GLOB` (relative to the including file), `$NAME=value` definitions and
  `@node`-prefixed lines are handled while reading lines, before any keyword is seen.
* Words: split on blanks; a double-quoted string is one word without its quotes.
* Keywords: a table per block. A known keyword with a sub-table opens a block; an
  unknown keyword is reported and its `{ ... }` is *not* skipped: the `{` is reported as
  unexpected and its first `}` closes the enclosing block. A section that the current
  process does not handle is skipped by counting braces.
* keepalived -t reads the file four times (parent: global_defs; checker: LVS; vrrp;
  bfd), each process seeing the other processes' sections as skipped blocks, and prints
  every pass's verdicts. We run the same passes (`_PASSES`) and merge the findings.
* After reading, the vrrp process completes each instance (defaults, consistency
  checks) and stops at the first instance it cannot run; those verdicts carry no line.

Things keepalived learns from the machine it runs on (interfaces, script files, users)
are only judged when the caller passes that knowledge (`Environment`); otherwise every
interface, script and user is assumed to exist on the target node, except `lo`.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import pwd
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from haconsole.config import (
    Config,
    GlobalDefs,
    IPAddress,
    Secret,
    TrackFile,
    TrackProcess,
    TrackRef,
    VirtualAddress,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
)

Severity = Literal["error", "warning", "info"]

# keepalived's config_err_t levels, in its order (lib/parser.h). The exit status of
# `keepalived -t` is derived from the highest level reported.
OK = "OK"
FILE_NOT_FOUND = "FILE_NOT_FOUND"
BAD_IF = "BAD_IF"
FATAL = "FATAL"
MULTIPLE_FILES = "MULTIPLE_FILES"
UNKNOWN_KEYWORD = "UNKNOWN_KEYWORD"
UNEXPECTED_BOB = "UNEXPECTED_BOB"
MISSING_BOB = "MISSING_BOB"
UNEXPECTED_EOB = "UNEXPECTED_EOB"
MISSING_EOB = "MISSING_EOB"
UNMATCHED_QUOTE = "UNMATCHED_QUOTE"
MISSING_PARAMETER = "MISSING_PARAMETER"
INVALID_NUMBER = "INVALID_NUMBER"
GENERAL_ERROR = "GENERAL_ERROR"
WARNING = "WARNING"
DEPRECATED = "DEPRECATED"
SECURITY_ERROR = "SECURITY_ERROR"
LEVELS = (
    OK, FILE_NOT_FOUND, BAD_IF, FATAL, MULTIPLE_FILES, UNKNOWN_KEYWORD, UNEXPECTED_BOB,
    MISSING_BOB, UNEXPECTED_EOB, MISSING_EOB, UNMATCHED_QUOTE, MISSING_PARAMETER,
    INVALID_NUMBER, GENERAL_ERROR, WARNING, DEPRECATED, SECURITY_ERROR,
)
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_DEFAULT_SEVERITY: dict[str, Severity] = {
    OK: "warning", WARNING: "warning", DEPRECATED: "warning", SECURITY_ERROR: "warning",
}

# Exit statuses of `keepalived -t` (lib/scheduler.h, keepalived/include/main.h).
EXIT_OK, EXIT_MISSING_PARAMETER, EXIT_CONFIG, EXIT_CONFIG_TEST, EXIT_SECURITY = 0, 2, 4, 5, 6
EXIT_NO_CONFIG = 6

MAXBUF = 1024  # keepalived reads lines in chunks of MAXBUF - 1 bytes
IFNAMSIZ = 16
TIMER_HZ_DIGITS = 6
TIMER_HZ = 1_000_000
TIMER_MAX_SEC = 1000
UINT_MAX = 2**32 - 1
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
ULONG_MAX = 2**64 - 1
MAX_INCLUDE_DEPTH = 32
VRRP_PRIO_OWNER = 255
VRRP_PRIO_DFL = 100
WHITESPACE = " \t\f\n\r\v"


@dataclass(frozen=True)
class Finding:
    """One verdict on a config, at a file and line a person can open.

    origin "keepalived": `keepalived -t` prints the same message (ka_level is its level,
    ka_line says whether keepalived prints this line number or none at all).
    origin "haconsole": our own advice, which keepalived does not give.
    """

    file: str
    line: int
    severity: Severity
    message: str
    origin: Literal["keepalived", "haconsole"] = "keepalived"
    ka_level: str | None = GENERAL_ERROR
    ka_line: bool = True

    def format(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Environment:
    """What keepalived would learn from the node: interface names, script files, users.

    None means "unknown": every interface, script and user is assumed to exist.
    """

    interfaces: frozenset[str] | None = None
    check_scripts: bool = False
    check_users: bool = False
    config_id: str | None = None

    @classmethod
    def local(cls) -> Environment:
        """This machine, as `keepalived -t` run here would see it."""
        try:
            names = frozenset(os.listdir("/sys/class/net"))
        except OSError:
            names = frozenset({"lo"})
        return cls(names, True, True, os.uname().nodename)


@dataclass
class ParseResult:
    """The model keepalived would run, and every verdict on the way."""

    config: Config
    findings: list[Finding]
    files: list[str] = field(default_factory=list)
    fatal: bool = False  # keepalived exits at a missing parameter
    no_config: bool = False  # an include[rmwba] failed: keepalived stops after global_defs
    runnable: bool = True  # keepalived would start VRRP with this config (maybe grumbling)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def keepalived_status(self) -> int:
        """The exit status `keepalived -t` would give for these findings."""
        if self.fatal:
            return EXIT_MISSING_PARAMETER
        if self.no_config:
            return EXIT_NO_CONFIG
        levels = [f.ka_level for f in self.findings if f.origin == "keepalived" and f.ka_level]
        top = max(levels, key=_LEVEL_RANK.__getitem__, default=OK)
        if top == OK:
            return EXIT_OK
        if top in (FILE_NOT_FOUND, BAD_IF, FATAL):
            return EXIT_CONFIG
        if top == SECURITY_ERROR:
            return EXIT_SECURITY
        return EXIT_CONFIG_TEST


# --------------------------------------------------------------------------------------
# C number parsing, as keepalived's read_int/read_unsigned/read_decimal do it
# --------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)")


def _strtol(text: str) -> tuple[int, int]:
    """C strtol/strtoul base 10 without the range clamp: (value, characters consumed)."""
    m = _INT_RE.match(text)
    if m is None or not m.group(2):
        return 0, 0
    value = int(m.group(2))
    return (-value if m.group(1) == "-" else value), m.end()


def _read_int(text: str, lo: int, hi: int) -> tuple[bool, int, str | None]:
    """read_int_func in config-test mode: (ok, value as stored, error message)."""
    value, used = _strtol(text)
    if used < len(text):
        return False, _c_int(value), f"invalid number '{text}'"
    if not INT_MIN <= value <= INT_MAX:
        return False, _c_int(value), f"number '{text}' outside integer range"
    if not lo <= value <= hi:
        return False, value, f"number '{text}' outside range [{lo}, {hi}]"
    return True, value, None


def _c_int(value: int) -> int:
    """The C cast (int)long: keep the low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value > INT_MAX else value


def _read_unsigned(text: str, lo: int, hi: int) -> tuple[bool, int, str | None]:
    """read_unsigned_func in config-test mode."""
    stripped = text.lstrip(WHITESPACE)
    value, used = _strtol(stripped)
    if stripped.startswith("-"):
        return False, 0, f"negative number '{text}'"
    if used < len(stripped):
        return False, value & UINT_MAX, f"invalid number '{text}'"
    if value > UINT_MAX:
        return False, value & UINT_MAX, f"number '{text}' outside unsigned integer range"
    if not lo <= value <= hi:
        return False, value, f"number '{text}' outside range [{lo}, {hi}]"
    return True, value, None


def _read_decimal(
    text: str, lo: int, hi: int, shift: int = TIMER_HZ_DIGITS
) -> tuple[bool, int, list[str]]:
    """read_decimal_unsigned_long_func: a fixed-point number, value * 10**shift.

    Unlike the integer readers, keepalived returns True here for an unparsable number
    whose leading digits happen to be in range (it forgets config-test mode).
    """
    msgs: list[str] = []
    if text.startswith("-"):
        return False, 0, [f"negative number '{text}'"]
    dot = text.find(".")
    places = len(text) - dot - 1 if dot >= 0 else 0
    round_up = False
    if places > shift:
        msgs.append(f"number '{text}' has too many decimal places")
        round_up = text[dot + shift + 1] >= "5"
        places = shift
    digits = text[:dot] + text[dot + 1 : dot + 1 + places] if dot >= 0 else text
    digits += "0" * (shift - places)
    value, used = _strtol(digits)
    if digits.lstrip(WHITESPACE).startswith("-"):
        value = (-value) & ULONG_MAX
    value += 1 if round_up else 0
    if used < len(digits):
        msgs.append(f"invalid number '{text}'")
    elif value > ULONG_MAX:
        msgs.append(f"number '{text}' outside unsigned decimal range")
        return False, value, msgs
    elif not lo <= value <= hi:
        unit = 10**shift
        msgs.append(
            f"number '{text}' outside range [{lo // unit}.{lo % unit:0{shift}d}, "
            f"{hi // unit}.{hi % unit:0{shift}d}]"
        )
    else:
        return True, value, msgs
    return lo <= value <= hi, value, msgs


def _true_false(word: str) -> bool | None:
    """check_true_false: on/true/yes, off/false/no, anything else None."""
    if word in ("true", "on", "yes"):
        return True
    if word in ("false", "off", "no"):
        return False
    return None


# --------------------------------------------------------------------------------------
# Lines: reading files, comments, includes, definitions, braces
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    file: str
    number: int
    text: str


@dataclass(frozen=True, slots=True)
class _LexNote:
    """A verdict found while reading lines (before keywords), placed in the line stream."""

    index: int
    finding: Finding


def _decomment(text: str) -> tuple[str, str | None]:
    """keepalived's decomment(): (text without comment and edge blanks, the text to quote
    in "Unterminated quote" when a double quote is left open)."""
    text = text.lstrip(" \t")
    if not any(c in text for c in '!#"\\'):
        return text.rstrip(" \t"), None
    out: list[str] = []
    quote = False
    cont = False
    skip: int | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            if skip is None:
                quote = not quote
        elif ch == "\\":
            if i + 1 < n:
                nxt = text[i + 1]
                if not quote and nxt in "#!":
                    out.append(nxt)
                else:
                    out.append(ch)
                    out.append(nxt)
                i += 2
                continue
            cont = True
            break
        elif ch in "!#" and not quote and skip is None:
            skip = len(out)
        out.append(ch)
        i += 1
    joined = "".join(out)
    unterminated = joined if quote else None
    if skip is not None:
        joined = joined[:skip]
    joined = joined.rstrip(" \t")
    if cont:
        joined += "\\"
    return joined, unterminated


def _split_brace(text: str) -> tuple[str, str | None]:
    """Cut a line at its first `{` or `}` outside quotes: (this line, residue or None)."""
    if text[0] in "{}":
        rest = text[1:].lstrip(" \t").rstrip(" \t")
        return text[0], rest or None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            close = text.find('"', i + 1)
            if close < 0:
                return text, None
            i = close + 1
            continue
        if ch in "{}":
            return text[:i].rstrip(" \t"), text[i:].rstrip(" \t")
        i += 1
    return text, None


def _expand_braces(pattern: str) -> list[str]:
    """GLOB_BRACE: `a{b,c}d` -> [`abd`, `acd`] (nested braces supported)."""
    depth = 0
    start = -1
    for i, ch in enumerate(pattern):
        if ch == "\\":
            continue
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                options = _split_top_commas(pattern[start + 1 : i])
                if len(options) < 2:
                    continue
                head, tail = pattern[:start], pattern[i + 1 :]
                out: list[str] = []
                for opt in options:
                    out.extend(_expand_braces(head + opt + tail))
                return out
    return [pattern]


def _split_top_commas(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        depth += ch == "{"
        depth -= ch == "}" and depth > 0
        cur.append(ch)
    parts.append("".join(cur))
    return parts


_DEF_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)=")
_USE_DEF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)(?=[ \t,)]|$))")


class _Lexer:
    """Turns the root file and its includes into keepalived's stream of lines."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.lines: list[_Line] = []
        self.notes: list[_LexNote] = []
        self.files: list[str] = []
        self.defs: dict[str, str] = {"_HASH": "#", "_BANG": "!"}
        self.block_depth = 0
        self.open_braces: list[_Line] = []
        self._stack: list[str] = []
        self.config_file_error = False  # keepalived then stops after reading global_defs

    # -- findings -------------------------------------------------------------------
    def note(self, file: str, line: int, level: str, message: str, *,
             severity: Severity | None = None, origin: Literal["keepalived", "haconsole"]
             = "keepalived") -> None:
        sev = severity or _DEFAULT_SEVERITY.get(level, "error")
        finding = Finding(file, line, sev, message, origin,
                          level if origin == "keepalived" else None)
        self.notes.append(_LexNote(len(self.lines), finding))

    # -- files ----------------------------------------------------------------------
    def read_root(self, path: str, data: bytes | None = None) -> None:
        """Read the main file (or the given bytes as if they were that file)."""
        if data is None:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                self.note(path, 0, FILE_NOT_FOUND, f"cannot read {path}: "
                          f"{exc.strerror or exc}", severity="error", origin="haconsole")
                return
        self._read_file(path, data)
        if self.block_depth > 0:
            where = self.open_braces[0]
            finding = Finding(where.file, where.number, "error", f"There are "
                              f"{self.block_depth} missing '}}'s or extra '{{'s", "keepalived",
                              MISSING_EOB, ka_line=False)
            self.notes.append(_LexNote(len(self.lines), finding))

    def _read_file(self, path: str, data: bytes) -> None:
        self.files.append(path)
        self._stack.append(os.path.realpath(path))
        try:
            for number, chunk in _physical_lines(data):
                self._physical(path, number, chunk)
        finally:
            self._stack.pop()

    def _physical(self, path: str, number: int, chunk: str) -> None:
        if not chunk:
            return
        text, unterminated = _decomment(chunk)
        if unterminated is not None:
            self.note(path, number, GENERAL_ERROR, f"Unterminated quote '{unterminated}'")
        pending: str | None = text
        while pending:
            pending = self._logical(path, number, pending)

    def _logical(self, path: str, number: int, text: str) -> str | None:
        """Handle one logical line; return the residue after a brace, if any."""
        text = self._config_id(text)
        if not text:
            return None
        if text[0] == "$" and self._definition(text):
            return None
        if text.startswith(("~SEQ", "~LST")):
            self.note(path, number, OK, f"{text[:4]} is not supported by haconsole - line"
                      " ignored", severity="warning", origin="haconsole")
            return None
        for _ in range(8):
            if text[0] == "~" or "$" not in text:
                break
            replaced = self._substitute(path, text)
            if replaced == text:
                break
            text, _ = _decomment(replaced)
            text = self._config_id(text)
            if not text:
                return None
        if self._include(path, number, text):
            return None
        head, residue = _split_brace(text)
        self._emit(_Line(path, number, head))
        return residue

    def _emit(self, line: _Line) -> None:
        if line.text == "{":
            self.block_depth += 1
            self.open_braces.append(line)
        elif line.text == "}":
            if self.block_depth < 1:
                self.note(line.file, line.number, UNEXPECTED_EOB, "Extra '}' found")
                self.block_depth = 0
            else:
                self.block_depth -= 1
                self.open_braces.pop()
        self.lines.append(line)

    def _config_id(self, text: str) -> str:
        """`@node line` applies only on node `node`; `@^node line` everywhere else."""
        if not text.startswith("@"):
            return text
        reverse = text.startswith("@^")
        start = 2 if reverse else 1
        m = re.search(r"[ \t]", text[start:])
        if not m:
            return ""
        name = text[start : start + m.start()]
        matches = self.env.config_id is not None and name == self.env.config_id
        if matches == reverse:
            return ""
        return text[start + m.start() :].lstrip(" \t")

    def _definition(self, text: str) -> bool:
        m = _DEF_NAME.match(text)
        if not m:
            return False
        value = text[m.end() :].lstrip(" \t")
        self.defs[m.group(1)] = value
        return True

    def _substitute(self, path: str, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name == "_INSTANCE":
                return self.env.config_id or ""
            if name == "_PWD" and name not in self.defs:
                return os.path.dirname(os.path.abspath(path))
            return self.defs.get(name, m.group(0))

        return _USE_DEF.sub(repl, text)

    # -- include --------------------------------------------------------------------
    def _include(self, path: str, number: int, text: str) -> bool:
        """`include[r|m|w|b|a] GLOB`: the letter makes some include problems errors."""
        if not text.startswith("include") or len(text) < 8:
            return False
        kind = text[7]
        if kind in WHITESPACE:
            flags, pattern = 0, text[8:]
        elif kind in _INCLUDE_KINDS and len(text) > 8 and text[8] in WHITESPACE:
            flags, pattern = _INCLUDE_KINDS[kind], text[9:]
        else:
            return False
        self._open_glob(path, number, pattern.lstrip(" \t"), flags)
        return True

    def _include_note(self, path: str, number: int, flags: int, bit: int, message: str
                      ) -> None:
        """file_config_error(): printed always, an error only if the include asked for it."""
        level = FILE_NOT_FOUND if flags & bit else OK
        self.config_file_error = self.config_file_error or bool(flags & bit)
        self.note(path, number, level, message, severity="error" if flags & bit else None)

    def _open_glob(self, path: str, number: int, pattern: str, flags: int) -> None:
        base = os.path.dirname(path)
        matches: list[str] = []
        missing = False
        for alternative in _expand_braces(pattern):
            full = os.path.join(base, alternative)
            found = sorted(glob.glob(full))
            matches.extend(found)
            missing = missing or _glob_missing(full, found)
        braces = len(_expand_braces(pattern)) > 1
        if not matches:
            if missing:
                self._include_note(path, number, flags, _INC_B if braces else _INC_M,
                                   f"Config files missing '{pattern}'.")
            elif glob.has_magic(pattern) and flags & _INC_W:
                self._include_note(path, number, flags, _INC_W,
                                   f"No config files matched '{pattern}'.")
            return
        if missing:
            self._include_note(path, number, flags, _INC_B,
                               f'Some config files missing: "{pattern}".')
            if flags & _INC_B:
                return
        for match in matches:
            self._open_included(path, number, match, os.path.relpath(match, base or "."),
                                flags)

    def _open_included(self, path: str, number: int, full: str, shown: str, flags: int
                       ) -> None:
        if os.path.isdir(full):
            self._include_note(path, number, flags, _INC_R, f"Configuration file '{shown}/' "
                               "is a directory - skipping")
            return
        try:
            st = os.stat(full)
        except OSError as exc:
            self._include_note(path, number, flags, _INC_R, f"Configuration file '{shown}' "
                               f"open problem ({exc.strerror}) - skipping")
            return
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
            self._include_note(path, number, flags, _INC_R, f"Configuration file '{shown}' "
                               "is not a regular non-executable file - skipping")
            return
        real = os.path.realpath(full)
        if real in self._stack or len(self._stack) >= MAX_INCLUDE_DEPTH:
            self.note(path, number, OK, f"include loop: '{shown}' is already being read"
                      " - skipping (keepalived recurses until 'Too many open files')",
                      origin="haconsole")
            return
        try:
            data = Path(full).read_bytes()
        except OSError as exc:
            self._include_note(path, number, flags, _INC_R, f"Configuration file '{shown}' "
                               f"open problem ({exc.strerror}) - skipping")
            return
        self._read_file(full, data)


# include letters (lib/parser.c): r = unreadable/directory is an error, m = no match is an
# error unless wildcards, w = no match is an error even with wildcards, b = every brace
# alternative must exist, a = all of them.
_INC_R, _INC_M, _INC_W, _INC_B = 1, 2, 4, 8
_INCLUDE_KINDS = {
    "r": _INC_R, "m": _INC_R | _INC_M, "w": _INC_R | _INC_M | _INC_W, "b": _INC_R | _INC_B,
    "a": _INC_R | _INC_M | _INC_B | _INC_W,
}


def _glob_missing(pattern: str, found: list[str]) -> bool:
    """Whether glob hit a missing file or directory (keepalived's "Config files missing"),
    as opposed to a wildcard that simply matched nothing in an existing directory."""
    if not glob.has_magic(pattern):
        return not found
    head, tail = os.path.split(pattern)
    if not glob.has_magic(tail):
        return not found
    return not glob.has_magic(head) and not os.path.isdir(head or ".")


def _physical_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) as keepalived's fgets reads them: NUL ends a line's text,
    lines longer than MAXBUF - 1 bytes come in several pieces (same line number)."""
    for number, raw in enumerate(data.split(b"\n"), 1):
        for start in range(0, max(len(raw), 1), MAXBUF - 1):
            piece = raw[start : start + MAXBUF - 1]
            nul = piece.find(b"\0")
            if nul >= 0:
                piece = piece[:nul]
            yield number, piece.rstrip(b"\r\n").decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------


_PLAIN_WORD = re.compile(r'[^ \t\f\n\r\v"]+')


def _words(text: str) -> tuple[list[str], bool]:
    """alloc_strvec: blank-separated words, "..." as one word. (words, quote unmatched)."""
    if '"' not in text:
        return _PLAIN_WORD.findall(text), False
    out: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITESPACE:
            i += 1
        if i >= n:
            return out, False
        if text[i] == '"':
            close = text.find('"', i + 1)
            if close < 0:
                return out, True
            out.append(text[i + 1 : close])
            i = close + 1
            continue
        j = i
        while j < n and text[j] not in WHITESPACE and text[j] != '"':
            j += 1
        out.append(text[i:j])
        i = j


_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v"}


def _words_quoted(text: str) -> tuple[list[str], str | None]:
    """alloc_strvec_quoted_escaped: '...' and "..." quoting plus C escapes.

    Returns (words, error) where error names the missing quote character.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITESPACE:
            i += 1
        if i >= n:
            return out, None
        word: list[str] = []
        quote = ""
        while i < n:
            ch = text[i]
            if ch == "\\":
                if i + 1 >= n:
                    return [], None
                i, decoded = _escape(text, i + 1)
                word.append(decoded)
                continue
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    word.append(ch)
                i += 1
                continue
            if ch in "\"'":
                quote = ch
                i += 1
                continue
            if ch in WHITESPACE:
                break
            word.append(ch)
            i += 1
        if quote:
            return out, quote
        out.append("".join(word))


def _escape(text: str, i: int) -> tuple[int, str]:
    ch = text[i]
    if ch == "x" and i + 1 < len(text) and text[i + 1] in "0123456789abcdefABCDEF":
        j = i + 1
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            j += 1
        return j, chr(int(text[i + 1 : j], 16) & 0xFF)
    if ch == "c" and i + 1 < len(text):
        return i + 2, chr(ord(text[i + 1]) & 0x1F)
    if ch in "01234567":
        j = i
        while j < len(text) and j < i + 3 and text[j] in "01234567":
            j += 1
        return j, chr(int(text[i:j], 8) & 0xFF)
    return i + 1, _ESCAPES.get(ch, ch)


# --------------------------------------------------------------------------------------
# Keyword engine: keepalived's process_stream(), one pass over the line stream
# --------------------------------------------------------------------------------------


class _MissingParameter(Exception):
    """A handler needed word `index` and the line has fewer words: keepalived exits."""

    def __init__(self, words: list[str], index: int) -> None:
        super().__init__(words[0] if words else "")
        self.words = words
        self.index = index

    def message(self) -> str:
        first = self.words[0] if self.words else "***MISSING ***"
        if 0 < self.index <= len(self.words):
            return (f"*** Configuration line starting `{first}` is missing a parameter after"
                    f" keyword `{self.words[self.index - 1]}` at word position"
                    f" {self.index + 1}")
        return (f"*** Configuration line starting `{first}` is missing a parameter at word"
                f" position {self.index + 1}")


Handler = Callable[["_Builder", list[str]], None]
EndHandler = Callable[["_Builder"], None]


@dataclass
class _Kw:
    handler: Handler | None = None
    sub: dict[str, _Kw] | None = None
    end: EndHandler | None = None
    section: str = ""


class _Stream:
    """The line cursor and block-skipping state shared by one pass (read_line's view)."""

    def __init__(self, lines: list[_Line], sink: Callable[[Finding], None],
                 words_cache: dict[int, tuple[list[str], bool]] | None = None) -> None:
        self.lines = lines
        self.words_cache = {} if words_cache is None else words_cache
        self.pos = 0
        self.line: _Line | None = None
        self.skip_sublevel = 0
        self.kw_level = 0
        self.sink = sink
        self.unsupported: list[tuple[_Line, str]] = []

    def next(self) -> _Line | None:
        if self.pos >= len(self.lines):
            return None
        self.line = self.lines[self.pos]
        self.pos += 1
        return self.line

    def report(self, level: str, message: str, severity: Severity | None = None,
               line: _Line | None = None) -> None:
        where = line or self.line
        sev = severity or _DEFAULT_SEVERITY.get(level, "error")
        file, number = (where.file, where.number) if where else ("", 0)
        self.sink(Finding(file, number, sev, message, "keepalived", level))

    def words(self, line: _Line) -> list[str]:
        """The line's words (cached across passes; handlers must not modify them)."""
        key = self.pos
        cached = self.words_cache.get(key)
        if cached is None:
            cached = self.words_cache[key] = _words(line.text)
        words, unmatched = cached
        if unmatched:
            self.report(UNMATCHED_QUOTE, f"Unmatched quote: '{line.text}'")
        return words

    def process(self, table: dict[str, _Kw], active: frozenset[str], builder: _Builder,
                need_bob: bool = False) -> bool:
        """Read lines until this block's `}` (or EOF). True when a skipped block ended."""
        while (line := self.next()) is not None:
            if self.skip_sublevel > 0 and '"' not in line.text:
                if self._skip_fast(line.text):
                    return True
                continue
            words = self.words(line)
            if not words:
                continue
            first = words[0]
            if self.skip_sublevel == -1:
                if first == "{":
                    self.skip_sublevel = 1
                    need_bob = False
                    continue
                self.skip_sublevel = 0
            if self.skip_sublevel:
                if self._skip(words):
                    return True
                continue
            if need_bob:
                need_bob = False
                if first == "{" and self.kw_level > 0:
                    continue
                self.report(MISSING_BOB, "Missing '{' at beginning of configuration block")
            elif first == "{":
                self.report(UNEXPECTED_BOB, "Unexpected '{' - ignoring")
                continue
            if first == "}" and self.kw_level > 0:
                return False
            kw = table.get(first)
            if kw is None:
                self.report(UNKNOWN_KEYWORD, f"Unknown keyword '{first}'")
                continue
            self._keyword(kw, words, active, builder)
        return False

    def _skip_fast(self, text: str) -> bool:
        """_skip() for a line without quotes: only a lone brace can be a brace word."""
        if text == "{":
            self.skip_sublevel += 1
        elif text == "}":
            self.skip_sublevel -= 1
            return self.skip_sublevel == 0 and self.kw_level > 0
        return False

    def _skip(self, words: list[str]) -> bool:
        last = words[-1]
        for word in words:
            last = word
            if word == "{":
                self.skip_sublevel += 1
            elif word == "}":
                self.skip_sublevel -= 1
                if self.skip_sublevel == 0:
                    break
        return last == "}" and self.skip_sublevel == 0 and self.kw_level > 0

    def _keyword(self, kw: _Kw, words: list[str], active: frozenset[str],
                 builder: _Builder) -> None:
        is_active = not kw.section or kw.section in active
        if not is_active:
            self.skip_sublevel = 1 if words[-1] == "{" else -1
            if kw.section in ("lvs", "bfd") and self.line is not None:
                self.unsupported.append((self.line, words[0]))
            return
        bob_needed = False
        if kw.sub is not None:
            if words[-1] == "{":
                words = words[:-1]
            else:
                bob_needed = True
        if kw.handler is not None:
            kw.handler(builder, words)
        if kw.sub is not None:
            self.kw_level += 1
            skipped = self.process(kw.sub, active, builder, bob_needed)
            self.kw_level -= 1
            if not skipped and kw.end is not None:
                kw.end(builder)

    # -- helpers for handlers --------------------------------------------------------
    def value_lines(self, words: list[str]) -> Iterator[list[str]]:
        """alloc_value_block: the word lists of a `{ ... }` value block."""
        if len(words) > 1:
            self.report(GENERAL_ERROR, f"Block {words[0]} has extra parameters {words[1]} ...")
        need_bob = True
        while (line := self.next()) is not None:
            vec = self.words(line)
            if not vec:
                continue
            if need_bob:
                need_bob = False
                if vec[0] == "{":
                    if len(vec) == 1:
                        continue
                    vec = vec[1:]
            if vec[-1] == "}":
                if len(vec) == 1:
                    return
                yield vec[:-1]
                return
            yield vec

    def skip_block(self) -> None:
        """skip_block(true): ignore the `{ ... }` that should follow."""
        self.skip_sublevel = -1


def _arg(words: list[str], index: int) -> str:
    """strvec_slot(): a missing word makes keepalived exit with a message."""
    if index >= len(words):
        raise _MissingParameter(words, index)
    return words[index]


# --------------------------------------------------------------------------------------
# What one pass builds
# --------------------------------------------------------------------------------------

_MCAST4 = ipaddress.IPv4Address("224.0.0.18")
_MCAST6 = ipaddress.IPv6Address("ff02::12")


@dataclass
class _Globals:
    """global_defs as the vrrp process inherits it from the parent's reading."""

    defs: GlobalDefs = field(default_factory=GlobalDefs)
    dynamic_interfaces: bool = False
    nftables: bool = False
    mcast4: IPAddress = _MCAST4
    mcast6: IPAddress = _MCAST6
    garp_lower_prio_rep: int | None = None
    garp_lower_prio_delay: float | None = None
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3


@dataclass
class _Script:
    cfg: VrrpScript
    args: list[str] = field(default_factory=list)
    user_set: bool = False
    remove: bool = False
    file: str = ""


@dataclass
class _Track:
    name: str
    weight: int
    reverse: bool = False
    explicit: bool = False
    line: int = 0


@dataclass
class _Inst:
    """A vrrp_instance while it is read: keepalived's internal flags next to the model."""

    cfg: VrrpInstance
    file: str
    family: int = 0
    version: int = 0
    base_priority: int = 0
    wantstate: str = "INIT"
    ifp: str | None = None
    ifp_exists: bool = False
    nopreempt: bool = False
    preempt_delay_us: int = 0
    adver_int_us: int = 0
    unicast_configured: bool = False
    fault_no_peer: bool = False
    saddr_from_config: bool = False
    strict_mode: bool | None = None
    accept: bool | None = None
    garp_lower_prio_rep: int | None = None
    garp_lower_prio_delay: float | None = None
    lower_prio_no_advert: bool | None = None
    higher_prio_send_advert: bool | None = None
    down_timer_adverts: int = 3
    mcast_dst: IPAddress | None = None
    auth_type: str | None = None
    auth_data: str = ""
    ttl: int = -1
    vmac: bool = False
    vmac_xmit_base: bool = False
    ipvlan: bool = False
    ipvlan_family: int = 0
    notify: dict[str, list[str]] = field(default_factory=dict)
    track_if: list[_Track] = field(default_factory=list)
    track_script: list[_Track] = field(default_factory=list)
    track_file: list[_Track] = field(default_factory=list)
    track_process: list[_Track] = field(default_factory=list)
    vips: list[VirtualAddress] = field(default_factory=list)
    evips: list[VirtualAddress] = field(default_factory=list)
    sync: str | None = None
    sync_tracking_weight: bool = False

    @property
    def name(self) -> str:
        return self.cfg.name


@dataclass
class _Group:
    cfg: VrrpSyncGroup
    members: list[str] | None = None
    tracking_weight: bool = False
    notify: dict[str, list[str]] = field(default_factory=dict)
    file: str = ""


def _cmd_str(args: list[str]) -> str:
    """keepalived's cmd_str(): each word in single quotes (a leading < or > excepted)."""
    out = []
    for i, word in enumerate(args):
        out.append(word if i == 0 and word[:1] in "<>" and word else f"'{word}'")
    return " ".join(out)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _parse_ip(text: str) -> IPAddress | None:
    """inet_stosockaddr/inet_pton: a bare IPv4 or IPv6 address (no %scope)."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Builder:
    """Runs the handlers of one pass and keeps what they build.

    Handler methods are named after their section: g_ (global_defs), i_ (vrrp_instance),
    a_ (authentication), s_ (vrrp_script), y_ (vrrp_sync_group), f_ (track_file),
    p_ (vrrp_track_process).
    """

    def __init__(self, stream: _Stream, env: Environment, glob_: _Globals) -> None:
        self.s = stream
        self.env = env
        self.g = glob_
        self.scripts: list[_Script] = []
        self.instances: list[_Inst] = []
        self.instance_names: set[str] = set()
        self.groups: list[_Group] = []
        self.track_files: list[TrackFile] = []
        self.cur_track_file: TrackFile | None = None
        self.processes: list[TrackProcess] = []
        self.non_existent_interface: _Line | None = None

    # -- small helpers -----------------------------------------------------------------
    def report(self, level: str, message: str, severity: Severity | None = None) -> None:
        self.s.report(level, message, severity)

    def advise(self, message: str) -> None:
        """Our own warning (keepalived accepts this silently)."""
        line = self.here
        self.s.sink(Finding(line.file, line.number, "warning", message, "haconsole", None))

    @property
    def here(self) -> _Line:
        assert self.s.line is not None
        return self.s.line

    @property
    def inst(self) -> _Inst | None:
        return self.instances[-1] if self.instances else None

    def interface(self, name: str) -> tuple[bool, bool]:
        """if_get_by_ifname(IF_CREATE_IF_DYNAMIC): (usable, exists now)."""
        known = self.env.interfaces
        if known is None or name in known:
            return True, True
        if self.g.dynamic_interfaces:
            return True, False
        self.non_existent_interface = self.non_existent_interface or self.s.line
        return False, False

    def user_exists(self, name: str) -> bool:
        if not self.env.check_users:
            return True
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True

    def notify_script(self, words: list[str]) -> list[str] | None:
        """notify_script_init(): the command re-read with quotes and escapes."""
        full, missing = _words_quoted(self.here.text)
        if missing:
            self.report(UNMATCHED_QUOTE, f"String '{self.here.text}': missing terminating "
                        f"{missing}")
            return None
        if len(full) < 2:
            raise _MissingParameter(full or words, 1)
        if len(full) > 2 and not any(q in self.here.text for q in "\"'"):
            self.advise(f"{words[0]}: keepalived runs '{full[1]}' as user '{full[2]}'"
                        f"{' (group ' + repr(full[3]) + ')' if len(full) > 3 else ''}; quote "
                        "the command if those words are its arguments")
        args, _ = _words_quoted(full[1])
        return args or None

    # -- global_defs ---------------------------------------------------------------------
    def g_router_id(self, words: list[str]) -> None:
        if len(words) < 2:
            self.report(GENERAL_ERROR, "routerid name missing - ignoring")
            return
        self.g.defs.router_id = " ".join(words[1:])

    def g_email_from(self, words: list[str]) -> None:
        if len(words) < 2:
            self.report(GENERAL_ERROR, "emailfrom missing - ignoring")
            return
        self.g.defs.notification_email_from = " ".join(words[1:])

    def g_smtp_server(self, words: list[str]) -> None:
        server = _arg(words, 1)
        port = words[2] if len(words) >= 3 else "25"
        self.g.defs.smtp_server = server
        if not port.isdigit() or not 0 < int(port) < 65536:
            self.report(GENERAL_ERROR, f"Invalid smtp server {server} {port}")

    def g_smtp_timeout(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 0, UINT_MAX // TIMER_HZ)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"smtp_connect_timeout '{words[1]}' must be in [0, "
                        f"{UINT_MAX // TIMER_HZ}] - ignoring")
            return
        if value == 0:
            self.report(GENERAL_ERROR, "smtp_conect_timeout must be greater than 0, setting to 1")
            value = 1
        self.g.defs.smtp_connect_timeout = value

    def g_email(self, words: list[str]) -> None:
        emails = self.read_value_block(words)
        if not emails:
            self.report(GENERAL_ERROR, "Warning - empty notification_email block", "warning")
            return
        self.g.defs.notification_email.extend(emails)

    def g_smtp_alert(self, words: list[str]) -> None:
        self._bool_word(words, f"Invalid value '{{}}' for global {words[0]} specified")

    def g_vrrp_version(self, words: list[str]) -> None:
        ok, value, msg = _read_int(_arg(words, 1), 2, 3)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, "VRRP Error: Version must be either 2 or 3")
            return
        self.g.defs.vrrp_version = value

    def g_garp_delay(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 0, UINT_MAX // TIMER_HZ)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"vrrp_garp_master_delay '{words[1]}' invalid - ignoring")
            return
        self.g.defs.vrrp_garp_master_delay = float(value)

    def g_garp_repeat(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 0, UINT_MAX)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"vrrp_garp_master_repeat '{words[1]}' invalid - ignoring")
            return
        if value == 0:
            self.report(GENERAL_ERROR, "vrrp_garp_master_repeat must be greater than 0, "
                        "setting to 1")
            value = 1
        self.g.defs.vrrp_garp_master_repeat = value

    def g_garp_lower_prio_delay(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 0, UINT_MAX // TIMER_HZ)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR,
                        f"vrrp_garp_lower_prio_delay '{words[1]}' invalid - ignoring")
            return
        self.g.garp_lower_prio_delay = float(value)

    def g_garp_lower_prio_repeat(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 0, INT_MAX)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"Invalid vrrp_garp_lower_prio_repeat '{words[1]}'")
            return
        self.g.garp_lower_prio_rep = value

    def g_down_timer_adverts(self, words: list[str]) -> None:
        ok, value, msg = _read_unsigned(_arg(words, 1), 1, 100)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"Invalid vrrp_down_timer_adverts [1:100] '{words[1]}'")
            return
        self.g.down_timer_adverts = value

    def g_min_garp(self, words: list[str]) -> None:
        if self.g.defs.vrrp_garp_master_repeat == 5:
            self.g.defs.vrrp_garp_master_repeat = 1
        if self.g.defs.vrrp_garp_master_delay == 5.0:
            self.g.defs.vrrp_garp_master_delay = 0.0

    def g_strict(self, words: list[str]) -> None:
        self.g.defs.vrrp_strict = True

    def g_script_user(self, words: list[str]) -> None:
        if len(words) < 2:
            self.report(GENERAL_ERROR, "No script username specified")
            return
        self.g.defs.script_user = words[1]
        if not self.user_exists(words[1]):
            self.report(GENERAL_ERROR, "Error setting global script uid/gid")

    def g_script_security(self, words: list[str]) -> None:
        self.g.defs.enable_script_security = True

    def g_mcast4(self, words: list[str]) -> None:
        self._mcast_group(words, 4)

    def g_mcast6(self, words: list[str]) -> None:
        self._mcast_group(words, 6)

    def _mcast_group(self, words: list[str], family: int) -> None:
        text = _arg(words, 1)
        addr = _parse_ip(text)
        key = words[0]
        if addr is None:
            self.report(GENERAL_ERROR, f"Can't parse {key} [{text}]. Skipping")
        elif addr.version != family:
            self.report(GENERAL_ERROR, f"{key} [{text}] is not IPv{family}. Skipping")
        elif not addr.is_multicast:
            self.report(GENERAL_ERROR, f"{key} [{text}] is not multicast. Skipping")
        else:
            if family == 6 and (addr.packed[1] & 0x0F) != 2:
                self.report(WARNING, f"{key} [{text}] should be link-local multicast.")
            if family == 4:
                self.g.mcast4 = addr
            else:
                self.g.mcast6 = addr

    def g_dynamic_interfaces(self, words: list[str]) -> None:
        self.g.dynamic_interfaces = True
        if len(words) >= 2 and words[1] != "allow_if_changes":
            self.report(GENERAL_ERROR, f"Unknown dynamic_interfaces option '{words[1]}'")

    def g_iptables(self, words: list[str]) -> None:
        self.report(GENERAL_ERROR, "iptables not supported, using nftables instead. Please "
                    "replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
        self.g.nftables = True

    def g_nftables(self, words: list[str]) -> None:
        if self.g.nftables:
            self.report(GENERAL_ERROR, "nftables already specified - ignoring")
            return
        self.g.nftables = True

    def g_lower_prio_no_advert(self, words: list[str]) -> None:
        value = self._bool_word(words, f"Invalid value for {words[0]} specified", quote=False)
        if value is not None:
            self.g.lower_prio_no_advert = value

    def g_higher_prio_send_advert(self, words: list[str]) -> None:
        value = self._bool_word(words, f"Invalid value for {words[0]} specified", quote=False)
        if value is not None:
            self.g.higher_prio_send_advert = value

    def g_default_interface(self, words: list[str]) -> None:
        if len(words) < 2:
            self.report(GENERAL_ERROR, "default_interface requires interface name")

    def _bool_word(self, words: list[str], message: str, quote: bool = True) -> bool | None:
        """A yes/no option that defaults to yes when no word follows the keyword."""
        if len(words) < 2:
            return True
        value = _true_false(words[1])
        if value is None:
            self.report(GENERAL_ERROR, message.format(words[1]) if quote else message)
        return value

    def _number(self, msg: str | None) -> None:
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

    # -- vrrp_instance -----------------------------------------------------------------------
    def i_begin(self, words: list[str]) -> None:
        if len(words) != 2:
            self.report(GENERAL_ERROR, "vrrp_instance must have a name")
            self.s.skip_block()
            return
        if words[1] in self.instance_names:
            self.report(GENERAL_ERROR, f"vrrp instance {words[1]} already defined")
            self.s.skip_block()
            return
        line = self.here
        cfg = VrrpInstance(words[1], line=line.number, file=line.file)
        cfg.garp_master_delay = self.g.defs.vrrp_garp_master_delay
        cfg.garp_master_repeat = self.g.defs.vrrp_garp_master_repeat
        self.instances.append(_Inst(cfg, line.file, down_timer_adverts=self.g.down_timer_adverts))
        self.instance_names.add(words[1])

    def i_end(self) -> None:
        inst = self.inst
        if inst is None:
            return
        if inst.unicast_configured and (inst.vmac or inst.ipvlan):
            if inst.ifp is None:
                self.report(GENERAL_ERROR, f"({inst.name}): Cannot use VMAC/ipvlan with unicast"
                            " and no interface - clearing use_vmac")
                inst.vmac = inst.ipvlan = False
            elif not inst.vmac_xmit_base:
                self.report(GENERAL_ERROR, f"({inst.name}) unicast with use_vmac requires "
                            "vmac_xmit_base - setting")
                inst.vmac_xmit_base = True
        if not inst.cfg.unicast_peer and inst.ttl != -1:
            self.report(GENERAL_ERROR, f"({inst.name}): Cannot use unicast_ttl without unicast"
                        " peers - resetting")
            inst.ttl = -1

    def i_state(self, words: list[str]) -> None:
        inst = self.inst
        word = _arg(words, 1)
        if inst is None:
            return
        if word == "MASTER":
            inst.wantstate = "MASTER"
        elif word == "BACKUP":
            if inst.wantstate == "MASTER":
                self.report(GENERAL_ERROR, f"({inst.name}) state previously set as MASTER - "
                            "ignoring BACKUP")
            else:
                inst.wantstate = "BACKUP"
        else:
            self.report(GENERAL_ERROR,
                        f"({inst.name}) unknown state '{word}', defaulting to BACKUP")
            inst.wantstate = "BACKUP"

    def i_interface(self, words: list[str]) -> None:
        inst = self.inst
        name = _arg(words, 1)
        if inst is None:
            return
        if len(name.encode("utf-8", "surrogateescape")) >= IFNAMSIZ:
            self.report(GENERAL_ERROR, f"Interface name '{name}' too long - ignoring")
            return
        usable, exists = self.interface(name)
        inst.ifp, inst.ifp_exists = (name, exists) if usable else (None, False)
        inst.cfg.interface = name
        if not usable:
            self.report(GENERAL_ERROR, f"WARNING - interface {name} for vrrp_instance "
                        f"{inst.name} doesn't exist")
        elif name == "lo":
            self.report(GENERAL_ERROR, f"({inst.name}) cannot use a loopback interface (lo) "
                        "for vrrp - ignoring")
            inst.ifp = None

    def i_vrid(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 1, 255)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): VRID '{text}' not valid - must be "
                        "between 1 & 255")
            return
        inst.cfg.virtual_router_id = value

    def i_priority(self, words: list[str]) -> None:
        inst = self.inst
        ok, value, msg = _read_unsigned(_arg(words, 1), 1, VRRP_PRIO_OWNER)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}) Priority not valid! must be between 1 & "
                        f"{VRRP_PRIO_OWNER}. Using default {VRRP_PRIO_DFL}")
            value = VRRP_PRIO_DFL
        inst.base_priority = value

    def i_advert_int(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msgs = _read_decimal(text, TIMER_HZ // 100, 255 * TIMER_HZ)
        if inst is None:
            return
        for msg in msgs:
            self.report(INVALID_NUMBER, msg)
        if not ok or value <= 0:
            self.report(GENERAL_ERROR, f"({inst.name}) Advert interval ({text}) not valid! Must"
                        " be > 0 - ignoring")
            return
        inst.adver_int_us = value

    def i_version(self, words: list[str]) -> None:
        inst = self.inst
        ok, value, msg = _read_int(_arg(words, 1), 2, 3)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): Version must be either 2 or 3")
            return
        if (inst.version and inst.version != value) or (value == 2 and inst.family == 6):
            self.report(GENERAL_ERROR, f"({inst.name}) vrrp_version {value} conflicts with "
                        f"configured or deduced version {inst.version}; ignoring.")
            return
        inst.version = value

    def i_native_ipv6(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        if inst.family == 4:
            self.report(GENERAL_ERROR, f"({inst.name}) Cannot specify native_ipv6 with IPv4 "
                        "addresses")
            return
        inst.family = 6
        inst.version = 3

    def i_nopreempt(self, words: list[str]) -> None:
        if self.inst:
            self.inst.nopreempt = True

    def i_preempt(self, words: list[str]) -> None:
        if self.inst:
            self.inst.nopreempt = False

    def i_preempt_delay(self, words: list[str]) -> None:
        inst = self.inst
        ok, value, msgs = _read_decimal(_arg(words, 1), 0, TIMER_MAX_SEC * TIMER_HZ)
        if inst is None:
            return
        for msg in msgs:
            self.report(INVALID_NUMBER, msg)
        if not ok:
            self.report(GENERAL_ERROR, f"({inst.name}) Preempt_delay not valid! must be "
                        f"between 0-{TIMER_MAX_SEC}")
            value = 0
        inst.preempt_delay_us = value

    def i_src_ip(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        if inst is None:
            return
        if words[0] == "unicast_src_ip":
            inst.unicast_configured = True
        addr = _parse_ip(text)
        if addr is None:
            self.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] "
                        f"malformed src address[{text}]. Skipping...")
            return
        inst.saddr_from_config = True
        if not inst.family:
            inst.family = addr.version
        elif addr.version != inst.family:
            self.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] and "
                        f"src address[{text}] MUST be of the same family !!! Skipping...")
            inst.saddr_from_config = False
            return
        if words[0] == "unicast_src_ip":
            inst.cfg.unicast_src_ip = addr
        else:
            inst.cfg.mcast_src_ip = addr

    def i_mcast_dst(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        if inst is None:
            return
        addr = _parse_ip(text)
        if addr is None:
            self.report(GENERAL_ERROR, f"({inst.name}) malformed mcast dest address {text}. "
                        "Skipping...")
            return
        if not inst.family:
            inst.family = addr.version
        elif addr.version != inst.family:
            self.report(GENERAL_ERROR, f"({inst.name}) mcast dest address {text} MUST match "
                        "VRRP instance family. Skipping...")
            addr = None
        if addr is not None and not _mcast_ok(addr):
            local = " link-local" if addr.version == 6 else ""
            self.report(GENERAL_ERROR, f"({inst.name}) mcast_dst_ip {text} not{local} "
                        "multicast. Skipping...")
            addr = None
        inst.mcast_dst = addr

    def i_unicast_peer(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        inst.unicast_configured = True
        self.each_value(words, lambda vec: self._peer(inst, vec))

    def _peer(self, inst: _Inst, vec: list[str]) -> None:
        addr = _parse_ip(vec[0])
        if addr is None:
            self.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] "
                        f"malformed unicast peer address[{vec[0]}]. Skipping...")
            return
        if not inst.family:
            inst.family = addr.version
        elif addr.version != inst.family:
            self.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] and "
                        f"unicast peer address[{vec[0]}] MUST be of the same family !!! "
                        "Skipping...")
            return
        min_ttl, max_ttl = 0, 255
        for i in range(1, len(vec), 2):
            if i + 1 >= len(vec):
                self.report(GENERAL_ERROR, f"({inst.name}) {vec[i]} is missing a value")
                break
            ok, ttl, msg = _read_unsigned(vec[i + 1], 0, 255)
            if not ok:
                self._number(msg)
                continue
            if vec[i] == "min_ttl":
                min_ttl = ttl
            elif vec[i] == "max_ttl":
                max_ttl = ttl
            else:
                self.report(GENERAL_ERROR, f"({inst.name}) unknown unicast_peer option {vec[i]}")
                break
        if min_ttl > max_ttl:
            self.report(GENERAL_ERROR, f"({inst.name}) min_ttl {min_ttl} > max_ttl {max_ttl} - "
                        "all packets will be discarded")
        inst.cfg.unicast_peer.append(addr)

    def i_unicast_flag(self, words: list[str]) -> None:
        if self.inst:
            self.inst.unicast_configured = True
            if words[0] == "unicast_fault_no_peer":
                self.inst.fault_no_peer = True

    def i_old_unicast_checksum(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        inst.unicast_configured = True
        if len(words) >= 2 and words[1] != "never":
            self.report(GENERAL_ERROR, f"({inst.name}) Unknown old_unicast_chksum mode "
                        f"{words[1]} - ignoring")

    def i_unicast_ttl(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, 255)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): TTL '{text}' not valid - must be "
                        "between 0 & 255")
            return
        inst.ttl = value

    def i_vip(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        excluded = words[0] == "virtual_ipaddress_excluded"
        self.each_value(words, lambda vec: self._vip(inst, vec, excluded))

    def _vip(self, inst: _Inst, vec: list[str], excluded: bool) -> None:
        vip = self._ipaddress(vec)
        if vip is None:
            return
        if excluded:
            inst.evips.append(vip)
            return
        family = vip.address.version
        if not inst.family:
            inst.family = family
        elif family != inst.family:
            self.report(GENERAL_ERROR, f"({inst.name}): address family must match VRRP "
                        f"instance [{vec[0]}] - ignoring")
            return
        inst.vips.append(vip)

    def _ipaddress(self, vec: list[str]) -> VirtualAddress | None:
        """alloc_ipaddress(): `ADDR[/len] [dev X] [brd B] [scope S] [label L] ...`."""
        address, msgs = _vip_address(vec[0])
        for level, msg in msgs:
            self.report(level, msg)
        if address is None:
            return None
        return self._ipaddress_options(address, vec)

    def _ipaddress_options(self, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                           vec: list[str]) -> VirtualAddress | None:
        opts: dict[str, str] = {}
        brd_sign = ""
        i = 1
        while i < len(vec):
            key = vec[i]
            if key in ("dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft"):
                if i + 1 >= len(vec):
                    self.report(GENERAL_ERROR, f"No {key} parameter specified for {vec[0]}")
                    return None
                value = vec[i + 1]
                i += 1
                if not self._ip_option(address, vec[0], key, value, opts):
                    return None
                if key in ("broadcast", "brd") and value in ("+", "-"):
                    brd_sign = value
            elif key not in ("home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin",
                             "no_track", "use_vmac"):
                self.report(GENERAL_ERROR, f"Unknown configuration entry '{key}' for ip address"
                            " - ignoring")
            i += 1
        brd = self._broadcast(address, opts.get("brd"), brd_sign)
        if address.version == 6:
            if opts.get("scope") not in (None, "global", "0"):
                self.report(GENERAL_ERROR, f"Cannot specify scope for IPv6 addresses ({vec[0]})"
                            " - ignoring scope")
            opts.pop("scope", None)
            if "label" in opts:
                self.report(GENERAL_ERROR, f"Cannot specify label for IPv6 addresses ({vec[0]})"
                            " - ignoring label")
                opts.pop("label")
        return VirtualAddress(address, opts.get("dev"), opts.get("label"), brd,
                              opts.get("scope"))

    def _ip_option(self, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                   shown: str, key: str, value: str, opts: dict[str, str]) -> bool:
        """One `key value` pair of a VIP line; False drops the address."""
        if key == "dev":
            if "dev" in opts:
                self.report(GENERAL_ERROR, f"Cannot specify ipaddress device more than once "
                            f"for {shown}")
                return False
            usable, _ = self.interface(value)
            if not usable:
                self.report(GENERAL_ERROR, f"WARNING - interface {value} for ip address {shown}"
                            " doesn't exist")
                return False
            opts["dev"] = value
        elif key == "scope":
            if value in ("global", "nowhere", "host", "link", "site") or (
                    value.isdigit() and int(value) < 256):
                opts["scope"] = value
            else:
                self.report(GENERAL_ERROR, f"Invalid scope '{value}' specified for {shown} - "
                            "ignoring")
        elif key in ("broadcast", "brd"):
            if address.version == 6:
                self.report(GENERAL_ERROR, f"VRRP is trying to assign a broadcast {key} to the "
                            f"IPv6 address {shown} !!?? WTF... skipping VIP...")
                return False
            if value not in ("+", "-") and not _is_ipv4(value):
                self.report(GENERAL_ERROR, f"VRRP is trying to assign invalid broadcast {value}."
                            " skipping VIP...")
                return False
            opts["brd"] = value
        elif key == "label":
            if len(value.encode("utf-8", "surrogateescape")) >= IFNAMSIZ:
                self.report(GENERAL_ERROR, f"Address label {value} is longer than maximum "
                            f"length {IFNAMSIZ - 1} - removing address")
                return False
            opts["label"] = value
        elif key == "preferred_lft" and value != "forever":
            ok, _, msg = _read_unsigned(value, 0, UINT_MAX)
            if not ok:
                self._number(msg)
                self.report(GENERAL_ERROR, f"preferred_lft {value} is invalid")
        return True

    def _broadcast(self, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                   brd: str | None, sign: str) -> IPAddress | None:
        if brd is None:
            return None
        if not sign:
            return _parse_ip(brd)
        if address.network.prefixlen > 30:
            self.report(GENERAL_ERROR, f"Address prefix length {address.network.prefixlen} too"
                        " long for broadcast")
            return None
        net = address.network
        return net.broadcast_address if sign == "+" else net.network_address

    def i_track_interface(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        self.each_value(words, lambda vec: self._track_if(inst.name, inst.track_if, vec))

    def _track_if(self, owner: str, tracks: list[_Track], vec: list[str]) -> None:
        name = vec[0]
        usable, _ = self.interface(name)
        if not usable:
            self.report(GENERAL_ERROR, f"({owner}) tracked interface {name} doesn't exist")
            return
        if any(t.name == name for t in tracks):
            self.report(GENERAL_ERROR, f"({owner}) duplicate track_interface {name} - ignoring")
            return
        weight, reverse = 0, False
        if len(vec) >= 2:
            if vec[1] != "weight":
                self.report(GENERAL_ERROR, f"({owner}) unknown track_interface {name} option "
                            f"{vec[1]} - ignoring")
                return
            if len(vec) == 2:
                self.report(GENERAL_ERROR, f"({owner}) weight without value specified for "
                            f"track_interface {name} - ignoring")
                return
            weight = self._track_weight(owner, name, vec[2], "interface", 0)
            if len(vec) >= 4:
                if vec[3] == "reverse":
                    reverse = True
                else:
                    self.report(GENERAL_ERROR, f"({owner}) unknown track_interace {name} weight"
                                f" option {vec[3]} - ignoring")
        tracks.append(_Track(name, weight, reverse, len(vec) >= 3, self.here.number))

    def _track_weight(self, owner: str, name: str, text: str, kind: str, default: int) -> int:
        ok, weight, msg = _read_int(text, -254, 254)
        if not ok:
            self._number(msg)
            if kind == "interface":
                self.report(GENERAL_ERROR, f"({owner}) weight {text} for {name} must be between"
                            " [-253..253] inclusive. Ignoring...")
            elif kind == "script":
                self.report(GENERAL_ERROR, f"({owner}) track script {name}: weight must be "
                            "between [-253..253] inclusive, ignoring...")
            else:
                self.report(GENERAL_ERROR, f"({owner}) weight for track {kind} {name} must be "
                            "in [-254..254] inclusive. Ignoring...")
            return default
        if kind in ("interface", "script") and weight in (-254, 254):
            self.report(GENERAL_ERROR, f"({owner}) weight for {name} cannot be +/-254. "
                        "Setting to +/-253")
            weight = 253 if weight > 0 else -253
        return weight

    def i_track_script(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        self.each_value(words, lambda vec: self._track_script(inst.name, inst.track_script, vec))

    def _track_script(self, owner: str, tracks: list[_Track], vec: list[str]) -> None:
        name = vec[0]
        script = next((s for s in self.scripts if s.cfg.name == name and not s.remove), None)
        if script is None:
            self.report(GENERAL_ERROR, f"({owner}) track script {name} not found, ignoring...")
            return
        if any(t.name == name for t in tracks):
            self.report(GENERAL_ERROR, f"({owner}) duplicate track_script {name} - ignoring")
            return
        weight, reverse = script.cfg.weight, script.cfg.weight_reverse
        if len(vec) >= 2 and not self._weight_option(owner, name, vec, "script"):
            return
        if len(vec) >= 3:
            weight = self._track_weight(owner, name, vec[2], "script", weight)
            reverse = self._reverse(owner, name, vec, "track_script", reverse)
        tracks.append(_Track(name, weight, reverse, len(vec) >= 3, self.here.number))

    def _weight_option(self, owner: str, name: str, vec: list[str], kind: str) -> bool:
        if vec[1] != "weight":
            self.report(GENERAL_ERROR, f"({owner}) unknown track {kind} option {vec[1]} - "
                        "ignoring")
            return False
        if len(vec) == 2:
            self.report(GENERAL_ERROR, f"({owner}) weight without value specified for track "
                        f"{kind} {name} - ignoring")
            return False
        return True

    def _reverse(self, owner: str, name: str, vec: list[str], kind: str, reverse: bool) -> bool:
        if len(vec) < 4:
            return reverse
        if vec[3] in ("reverse", "noreverse"):
            return vec[3] == "reverse"
        self.report(GENERAL_ERROR, f"({owner}) unknown {kind} {name} weight option {vec[3]} - "
                    "ignoring")
        return reverse

    def i_track_file(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        self.each_value(words, lambda vec: self._track_file(inst.name, inst.track_file, vec))

    def _track_file(self, owner: str, tracks: list[_Track], vec: list[str]) -> None:
        name = vec[0]
        tfile = next((t for t in self.track_files if t.name == name), None)
        if tfile is None:
            self.report(GENERAL_ERROR, f"({owner}) track file {name} not found, ignoring...")
            return
        if any(t.name == name for t in tracks):
            self.report(GENERAL_ERROR, f"({owner}) duplicate track_file {name} - ignoring")
            return
        weight, reverse = tfile.weight, tfile.reverse
        if len(vec) >= 2:
            if vec[1] != "weight":
                self.report(GENERAL_ERROR, f"({owner}) unknown track file option {vec[1]} - "
                            "ignoring")
                return
            if len(vec) == 2:
                self.report(GENERAL_ERROR, f"({owner}) weight without value specified for "
                            f"track file {name} - ignoring")
                return
            weight = self._track_weight(owner, name, vec[2], "file", weight)
            if len(vec) >= 4:
                if vec[3] not in ("reverse", "noreverse"):
                    self.report(GENERAL_ERROR, f"({owner}) unknown track file {name} weight "
                                f"option {vec[3]} - ignoring")
                    return
                reverse = vec[3] == "reverse"
        tracks.append(_Track(name, weight, reverse, len(vec) >= 3, self.here.number))

    def i_track_process(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            self.ignore_block(words)
            return
        self.each_value(words, lambda vec: self._track_process(inst.name, inst.track_process,
                                                                vec))

    def _track_process(self, owner: str, tracks: list[_Track], vec: list[str]) -> None:
        name = vec[0]
        proc = next((p for p in self.processes if p.name == name), None)
        if proc is None:
            self.report(GENERAL_ERROR, f"({owner}) track process {name} not found, ignoring...")
            return
        if any(t.name == name for t in tracks):
            self.report(GENERAL_ERROR, f"({owner}) duplicate track_process {name} - ignoring")
            return
        weight, reverse = proc.weight, proc.reverse
        if len(vec) >= 2 and not self._weight_option(owner, name, vec, "process"):
            return
        if len(vec) >= 3:
            weight = self._track_weight(owner, name, vec[2], "process", weight)
            reverse = self._reverse(owner, name, vec, "track_process", reverse)
        tracks.append(_Track(name, weight, reverse, len(vec) >= 3, self.here.number))

    def i_notify(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        self._set_notify(inst.name, inst.notify, words, f"({inst.name})")

    def _set_notify(self, owner: str, notify: dict[str, list[str]], words: list[str],
                    prefix: str) -> None:
        key = words[0]
        if key in notify:
            shown = _arg(words, 1)
            self.report(GENERAL_ERROR, f"{prefix} {key} script already specified - ignoring "
                        f"{shown}")
            return
        args = self.notify_script(words)
        if args is not None:
            notify[key] = args

    def i_notify_deleted(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        if "notify_deleted" in inst.notify:
            shown = words[1] if len(words) > 1 else ""
            self.report(GENERAL_ERROR, f"({inst.name}) notify_deleted already specified - "
                        f"ignoring {shown}")
            return
        inst.notify["notify_deleted"] = (self.notify_script(words) or []) if len(words) > 1 else []

    def i_smtp_alert(self, words: list[str]) -> None:
        inst = self.inst
        value = self._bool_word(words, "Invalid vrrp_instance smtp_alert parameter {}")
        if inst is not None and value is not None:
            inst.cfg.smtp_alert = value

    def i_flag_option(self, words: list[str]) -> None:
        """lower_prio_no_advert, higher_prio_send_advert, strict_mode,
        skip_check_adv_addr: yes/no, yes when alone."""
        inst = self.inst
        if inst is None:
            return
        value = self._bool_word(words, f"({inst.name}) invalid {words[0]} {{}} specified")
        if value is None:
            return
        if words[0] == "lower_prio_no_advert":
            inst.lower_prio_no_advert = value
        elif words[0] == "higher_prio_send_advert":
            inst.higher_prio_send_advert = value
        elif words[0] == "strict_mode":
            inst.strict_mode = value

    def i_notify_priority_changes(self, words: list[str]) -> None:
        inst = self.inst
        if inst is not None:
            self._bool_word(words, f"({inst.name}) Invalid value '{{}}' for "
                            "notify_priority_changes specified")

    def i_accept(self, words: list[str]) -> None:
        if self.inst:
            self.inst.accept = words[0] == "accept"

    def i_garp_delay(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, UINT_MAX // TIMER_HZ)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): {words[0]} '{text}' invalid - ignoring")
            return
        if words[0] == "garp_master_delay":
            inst.cfg.garp_master_delay = float(value)
        else:
            inst.garp_lower_prio_delay = float(value)

    def i_garp_repeat(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, UINT_MAX)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): {words[0]} '{text}' invalid - ignoring")
            return
        if value == 0:
            self.report(GENERAL_ERROR, f"({inst.name}): {words[0]} must be greater than 0, "
                        "setting to 1")
            value = 1
        if words[0] == "garp_master_repeat":
            inst.cfg.garp_master_repeat = value

    def i_garp_refresh(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, _, msg = _read_unsigned(text, 0, UINT_MAX)
        if inst is not None and not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): Invalid garp_master_refresh '{text}' - "
                        "ignoring")

    def i_garp_lower_prio_repeat(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, INT_MAX)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): Invalid garp_lower_prio_repeat '{text}'")
            return
        inst.garp_lower_prio_rep = value

    def i_down_timer_adverts(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 1, 100)
        if inst is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}): Invalid down_timer_adverts [1:100] "
                        f"'{text}'")
            return
        inst.down_timer_adverts = value

    def i_debug(self, words: list[str]) -> None:
        inst = self.inst
        text = _arg(words, 1)
        ok, _, msg = _read_unsigned(text, 0, 4)
        if inst is not None and not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({inst.name}) Debug value '{text}' not valid; must be "
                        "between 0-4")

    def i_linkbeat(self, words: list[str]) -> None:
        if self.inst:
            self.report(GENERAL_ERROR, f"({self.inst.name}) 'linkbeat_use_polling' in vrrp "
                        "instance deprecated - use linkbeat_interfaces block", "warning")

    def i_lvs_sync(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        self.report(GENERAL_ERROR, f"({inst.name}) Specifying lvs_sync_daemon_interface against"
                    " a vrrp is deprecated.", "warning")
        pad = " " * max(len(inst.name) - 2, 0)
        self.report(GENERAL_ERROR, f"      {pad}Please use global lvs_sync_daemon", "warning")
        _arg(words, 1)

    def i_kernel_rx_buf_size(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        if len(words) == 2:
            ok, _, msg = _read_unsigned(words[1], 0, UINT_MAX)
            if ok:
                return
            self._number(msg)
        self.report(GENERAL_ERROR, f"({inst.name}) invalid kernel_rx_buf_size specified")

    def i_vmac(self, words: list[str]) -> None:
        if not self.inst:
            return
        self.inst.vmac = True
        self.inst.cfg.use_vmac = True
        for word in words[1:3]:
            if ":" not in word and not _dev_name_valid(word):
                self.report(GENERAL_ERROR, f"VMAC interface name '{word}' too long or invalid "
                            "characters - ignoring")

    def i_vrf(self, words: list[str]) -> None:
        inst = self.inst
        name = _arg(words, 1)
        if inst is None:
            return
        if len(name.encode("utf-8", "surrogateescape")) >= IFNAMSIZ:
            self.report(GENERAL_ERROR, f"({inst.name}) VRF interface name '{name}' too long - "
                        "ignoring")
        elif inst.ifp is not None:
            self.report(GENERAL_ERROR, f"({inst.name}) Cannot specify VRF interface and "
                        "interface - ignoring")
        elif not self.interface(name)[0]:
            self.report(GENERAL_ERROR, f"({inst.name}) WARNING - VRF interface {name} doesn't "
                        "exist")

    def i_garp_extra_if(self, words: list[str]) -> None:
        inst = self.inst
        if inst is None:
            return
        key = words[0]
        if key == "vmac_garp_intvl":
            self.report(DEPRECATED, 'Keyword "vmac_garp_intvl" is deprecated - please use '
                        '"garp_extra_if"')
        have_time = False
        for word in words[1:]:
            if word == "all":
                continue
            ok, _, msg = _read_unsigned(word, 0, 86400)
            if not ok:
                self._number(msg)
                self.report(GENERAL_ERROR, f"({inst.name}): {key} '{word}' invalid - ignoring")
                return
            have_time = True
        if not have_time:
            self.report(GENERAL_ERROR, f"({inst.name}): {key} specified without time - "
                        "ignoring")

    def i_vmac_xmit_base(self, words: list[str]) -> None:
        if self.inst:
            self.inst.vmac_xmit_base = True

    def i_ipvlan(self, words: list[str]) -> None:
        if self.inst:
            self.inst.ipvlan = True
            addrs = [a for a in map(_parse_ip, words[1:]) if a is not None]
            self.inst.ipvlan_family = addrs[0].version if addrs else 0

    def i_dont_track_primary(self, words: list[str]) -> None:
        if self.inst:
            self.inst.cfg.dont_track_primary = True

    # -- interface lists at the top level ------------------------------------------------------
    def v_linkbeat_interfaces(self, words: list[str]) -> None:
        self.each_value(words, self._linkbeat_interface)

    def _linkbeat_interface(self, vec: list[str]) -> None:
        if not self._existing_interface(vec[0]):
            self.report(FATAL, f"unknown interface {vec[0]} specified for linkbeat interface")
            return
        if len(vec) > 1 and (vec[1] not in ("MII", "ETHTOOL", "IOCTL") or len(vec) > 2):
            self.report(GENERAL_ERROR, f"extra characters {vec[1]} in linkbeat interface")

    def v_up_down_delays(self, words: list[str]) -> None:
        self.each_value(words, self._up_down_delay)

    def _up_down_delay(self, vec: list[str]) -> None:
        if not self._existing_interface(vec[0]):
            self.report(FATAL, f"unknown interface {vec[0]} specified for up/down delay")
            return
        for text in vec[1:3]:
            for msg in _read_decimal(text, 0, 255 * TIMER_HZ)[2]:
                self.report(INVALID_NUMBER, msg)

    def _existing_interface(self, name: str) -> bool:
        """if_get_by_ifname(name, dynamic_interfaces): no "non-existent" flag here."""
        known = self.env.interfaces
        return known is None or name in known or self.g.dynamic_interfaces

    # -- authentication ------------------------------------------------------------------------
    def a_type(self, words: list[str]) -> None:
        inst = self.inst
        word = _arg(words, 1)
        if inst is None:
            return
        if word in ("AH", "PASS"):
            inst.auth_type = word
        else:
            self.report(GENERAL_ERROR, f"({inst.name}) unknown authentication type '{word}'")

    def a_pass(self, words: list[str]) -> None:
        inst = self.inst
        word = _arg(words, 1)
        if inst is None:
            return
        raw = word.encode("utf-8", "surrogateescape")
        if len(raw) > 8:
            self.report(GENERAL_ERROR, "Truncating auth_pass to 8 characters", "warning")
            raw = raw[:8]
        inst.auth_data = raw.split(b"\0")[0].decode("utf-8", "surrogateescape")

    # -- vrrp_script ---------------------------------------------------------------------------
    def s_begin(self, words: list[str]) -> None:
        name = _arg(words, 1)
        line = self.here
        self.scripts.append(_Script(VrrpScript(name, line=line.number), file=line.file))

    @property
    def script(self) -> _Script | None:
        return self.scripts[-1] if self.scripts else None

    def s_script(self, words: list[str]) -> None:
        script = self.script
        full, missing = _words_quoted(self.here.text)
        if missing:
            self.report(UNMATCHED_QUOTE, f"String '{self.here.text}': missing terminating "
                        f"{missing}")
            full = []
        if script is None or len(full) < 2:
            return
        if len(full) > 2 and not any(q in self.here.text for q in "\"'"):
            self.advise(f"vrrp_script {script.cfg.name}: keepalived runs only '{full[1]}' and "
                        f"ignores {' '.join(full[2:])!r}; quote the whole command")
        args, _ = _words_quoted(full[1])
        script.args = args
        script.cfg.script = _cmd_line(args)

    def s_interval(self, words: list[str]) -> None:
        script = self.script
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, UINT_MAX // TIMER_HZ)
        if script is None:
            return
        name = script.cfg.name
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({name}): vrrp script interval '{text}' must be between"
                        f" 1 and {UINT_MAX // TIMER_HZ} - ignoring")
            return
        if value == 0:
            self.report(GENERAL_ERROR, f"({name}): vrrp script interval must be greater than 0,"
                        " setting to 1")
            value = 1
        script.cfg.interval = float(value)

    def s_timeout(self, words: list[str]) -> None:
        script = self.script
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, UINT_MAX // TIMER_HZ)
        if script is None:
            return
        name = script.cfg.name
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({name}): vrrp script timeout '{text}' invalid - "
                        "ignoring")
            return
        if value == 0:
            self.report(GENERAL_ERROR, f"({name}): vrrp script timeout must be greater than 0, "
                        "setting to 1")
            value = 1
        script.cfg.timeout = float(value)

    def s_weight(self, words: list[str]) -> None:
        script = self.script
        text = _arg(words, 1)
        ok, value, msg = _read_int(text, -253, 253)
        if script is None:
            return
        name = script.cfg.name
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"vrrp_script {name} weight {text} must be in "
                        "[-253, 253]")
        script.cfg.weight = value
        if len(words) >= 3:
            if words[2] == "reverse":
                script.cfg.weight_reverse = True
            else:
                self.report(GENERAL_ERROR, f"vrrp_script {name} unknown weight option "
                            f"{words[2]}")

    def s_rise_fall(self, words: list[str]) -> None:
        script = self.script
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 1, INT_MAX)
        if script is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"({script.cfg.name}): vrrp script {words[0]} value "
                        f"'{text}' invalid, defaulting to 1")
            value = 1
        setattr(script.cfg, words[0], value)

    def s_user(self, words: list[str]) -> None:
        script = self.script
        user = _arg(words, 1)
        if script is None:
            return
        if not self.user_exists(user) or (len(words) > 2 and not _group_exists(words[2],
                                                                                self.env)):
            self.report(GENERAL_ERROR, f"Unable to set uid/gid for script "
                        f"{_cmd_str(script.args)}")
            script.remove = True
            return
        script.remove = False
        script.user_set = True
        script.cfg.user = user

    def s_init_fail(self, words: list[str]) -> None:
        if self.script:
            self.script.cfg.init_fail = True

    def s_end(self) -> None:
        script = self.script
        if script is None:
            return
        if not script.args or not script.args[0]:
            self.report(GENERAL_ERROR, f"No script set for vrrp_script {script.cfg.name} - "
                        "removing")
            script.remove = True
        if script.remove:
            self.scripts.pop()

    # -- vrrp_sync_group ----------------------------------------------------------------------
    def y_begin(self, words: list[str]) -> None:
        if len(words) != 2:
            self.report(GENERAL_ERROR, "vrrp_sync_group must have a name - skipping")
            self.s.skip_block()
            return
        if any(g.cfg.name == words[1] for g in self.groups):
            self.report(GENERAL_ERROR, f"vrrp sync group {words[1]} already defined")
            self.s.skip_block()
            return
        line = self.here
        self.groups.append(_Group(VrrpSyncGroup(words[1], line=line.number), file=line.file))

    @property
    def group(self) -> _Group | None:
        return self.groups[-1] if self.groups else None

    def y_group(self, words: list[str]) -> None:
        group = self.group
        if group is None:
            self.ignore_block(words)
            return
        if group.members is not None:
            self.report(GENERAL_ERROR, f"Group list already specified for sync group "
                        f"{group.cfg.name}")
            self.s.skip_block()
            return
        members = self.read_value_block(words)
        group.members = members or None
        if not members:
            self.report(GENERAL_ERROR, f"Warning - sync group {group.cfg.name} has empty group "
                        "block", "warning")

    def y_track(self, words: list[str]) -> None:
        group = self.group
        if group is None:
            self.ignore_block(words)
            return
        name = group.cfg.name
        kind = words[0]
        sink: list[_Track] = []
        if kind == "track_interface":
            self.each_value(words, lambda vec: self._track_if(name, sink, vec))
        elif kind == "track_script":
            self.each_value(words, lambda vec: self._track_script(name, sink, vec))
        elif kind == "track_file":
            self.each_value(words, lambda vec: self._track_file(name, sink, vec))
        elif kind == "track_process":
            self.each_value(words, lambda vec: self._track_process(name, sink, vec))
        else:
            self.ignore_block(words)
        refs = getattr(group.cfg, kind, None)
        if isinstance(refs, list):
            refs.extend(TrackRef(t.name, t.weight if t.explicit else None, t.reverse)
                        for t in sink)

    def y_notify(self, words: list[str]) -> None:
        group = self.group
        if group is None:
            return
        self._set_notify(group.cfg.name, group.notify, words, f"vrrp group {group.cfg.name}:")

    def y_smtp_alert(self, words: list[str]) -> None:
        self._bool_word(words, "Invalid vrrp_group smtp_alert parameter {}")

    def y_global_tracking(self, words: list[str]) -> None:
        group = self.group
        if group is None:
            return
        self.report(GENERAL_ERROR, f"({group.cfg.name}) global_tracking is deprecated. Use "
                    "track_interface/script/file on the sync group", "warning")
        group.tracking_weight = True

    def y_tracking_weight(self, words: list[str]) -> None:
        if self.group:
            self.group.tracking_weight = True

    def y_notify_priority_changes(self, words: list[str]) -> None:
        group = self.group
        if group is not None:
            self._bool_word(words, f"({group.cfg.name}) Invalid value '{{}}' for sync group "
                            "notify_priority_changes specified")

    # -- track_file -----------------------------------------------------------------------------
    def f_begin(self, words: list[str]) -> None:
        name = _arg(words, 1)
        self.cur_track_file = TrackFile(name, line=self.here.number)

    def f_file(self, words: list[str]) -> None:
        tfile = self.cur_track_file
        if len(words) < 2:
            self.report(GENERAL_ERROR, "track file file name missing")
            return
        if tfile is None:
            return
        if tfile.file:
            self.report(GENERAL_ERROR, f"File already set for track file {tfile.name} - "
                        f"ignoring {words[1]}")
            return
        tfile.file = " ".join(words[1:])

    def f_weight(self, words: list[str]) -> None:
        tfile = self.cur_track_file
        if len(words) < 2:
            name = tfile.name if tfile else ""
            self.report(GENERAL_ERROR, f"No weight specified for track file {name} - ignoring")
            return
        if tfile is None:
            return
        if tfile.weight != 1:
            self.report(GENERAL_ERROR, f"Weight already set for track file {tfile.name} - "
                        f"ignoring {words[1]}")
            return
        ok, weight, msg = _read_int(words[1], -254, 254)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"Weight ({words[1]}) for track_file {tfile.name} must be"
                        " between [-254..254] inclusive. Ignoring...")
            weight = 1
        tfile.weight = weight
        if len(words) >= 3:
            if words[2] == "reverse":
                tfile.reverse = True
            else:
                self.report(GENERAL_ERROR, f"track_file {tfile.name} unknown weight option "
                            f"{words[2]}")

    def f_init_file(self, words: list[str]) -> None:
        tfile = self.cur_track_file
        if tfile is None:
            return
        tfile.init_file = 0
        for word in words[1:]:
            stripped = word.lstrip(WHITESPACE)
            if stripped[:1].isdigit() or stripped[:1] == "-":
                ok, value, msg = _read_int(word, INT_MIN, INT_MAX)
                if not ok:
                    self._number(msg)
                    self.report(GENERAL_ERROR, f"Track file {tfile.name} init value {stripped} "
                                "is invalid")
                    value = 0
                elif not -254 <= value <= 254:
                    self.report(GENERAL_ERROR, f"Track file {tfile.name} init value {value} is "
                                "outside sensible range [-254, 254]")
                tfile.init_file = value
            elif stripped == "overwrite":
                tfile.init_overwrite = True
            else:
                self.report(GENERAL_ERROR, f"Unknown track file init option {stripped}")

    def f_end(self) -> None:
        tfile = self.cur_track_file
        if tfile is None:
            return
        self.cur_track_file = None
        if not tfile.file:
            self.report(GENERAL_ERROR, f"No file set for track_file {tfile.name} - ignoring")
            return
        self.track_files.append(tfile)

    # -- vrrp_track_process --------------------------------------------------------------------
    def p_begin(self, words: list[str]) -> None:
        name = _arg(words, 1)
        self.processes.append(TrackProcess(name, quorum=1, line=self.here.number))

    @property
    def process(self) -> TrackProcess | None:
        return self.processes[-1] if self.processes else None

    def p_process(self, words: list[str]) -> None:
        proc = self.process
        path = _arg(words, 1)
        if proc is None:
            return
        if proc.process:
            self.report(GENERAL_ERROR, f"Process already set for track process {proc.name} - "
                        f"ignoring {path}")
            return
        proc.process = path
        if len(words) > 2:
            proc.param_match = proc.param_match or "exact"

    def p_param_match(self, words: list[str]) -> None:
        proc = self.process
        if proc is None:
            return
        if len(words) == 1:
            proc.param_match = "exact"
        elif words[1] in ("initial", "partial"):
            proc.param_match = words[1]
        else:
            self.report(GENERAL_ERROR, f"Invalid param_match type {words[1]} - ignoring")

    def p_weight(self, words: list[str]) -> None:
        proc = self.process
        if proc is None:
            return
        if len(words) < 2:
            self.report(GENERAL_ERROR, f"No weight specified for track process {proc.name} - "
                        "ignoring")
            return
        if proc.weight:
            self.report(GENERAL_ERROR, f"Weight already set for track process {proc.name} - "
                        f"ignoring {words[1]}")
            return
        ok, weight, msg = _read_int(words[1], -254, 254)
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"Weight ({words[1]}) for vrrp_track_process {proc.name} "
                        "must be between [-254..254] inclusive. Ignoring...")
            return
        if len(words) >= 3:
            if words[2] == "reverse":
                proc.reverse = True
            else:
                self.report(GENERAL_ERROR, f"vrrp_track_process {proc.name} unknown weight "
                            f"option {words[2]}")
        proc.weight = weight

    def p_quorum(self, words: list[str]) -> None:
        proc = self.process
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 1, 65535)
        if proc is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"Quorum ({text}) for vrrp_track_process {proc.name} "
                        "must be between [1..65535] inclusive. Ignoring...")
            return
        if proc.quorum_max is not None and value > proc.quorum_max:
            self.report(GENERAL_ERROR, "Quorum is greater than quorum_max - ignoring")
            return
        proc.quorum = value

    def p_quorum_max(self, words: list[str]) -> None:
        proc = self.process
        text = _arg(words, 1)
        ok, value, msg = _read_unsigned(text, 0, 65535)
        if proc is None:
            return
        if not ok:
            self._number(msg)
            self.report(GENERAL_ERROR, f"quorum_max ({text}) for vrrp_track_process {proc.name} "
                        "must be between [0..65535] inclusive. Ignoring...")
            return
        if (value or proc.quorum > 1) and value < proc.quorum:
            self.report(GENERAL_ERROR, "quorum_max is less than quorum - ignoring")
            return
        proc.quorum_max = value
        if value == 0:
            proc.quorum = 0
        elif not proc.quorum:
            proc.quorum = 1

    def p_delay(self, words: list[str]) -> None:
        proc = self.process
        text = _arg(words, 1)
        ok, value, msgs = _read_decimal(text, 1, 3600 * TIMER_HZ)
        if proc is None:
            return
        for msg in msgs:
            self.report(INVALID_NUMBER, msg)
        if not ok:
            prefix = {"terminate_delay": "terminate_", "fork_delay": "fork_"}.get(words[0], "")
            self.report(GENERAL_ERROR, f"{prefix}delay ({text}) for vrrp_track_process "
                        f"{proc.name} must be between [0.000001..3600] inclusive. Ignoring...")
            return
        if words[0] != "fork_delay":
            proc.delay = value / TIMER_HZ

    def p_end(self) -> None:
        proc = self.process
        if proc is None:
            return
        if not proc.process:
            self.report(GENERAL_ERROR, f"track process '{proc.name}' process name not specified")
            self.processes.pop()


def _dev_name_valid(name: str) -> bool:
    """The kernel's dev_valid_name(): what a VMAC interface may be called."""
    return (bool(name) and len(name.encode("utf-8", "surrogateescape")) < IFNAMSIZ
            and name not in (".", "..") and not any(c in name for c in "/:" + WHITESPACE))


def _cmd_line(args: list[str]) -> str:
    """The command as a shell would read it back (for display and the model)."""
    return " ".join(a if a and not any(c in a for c in " \t'\"\\") else repr(a) for a in args)


def _group_exists(name: str, env: Environment) -> bool:
    if not env.check_users:
        return True
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _mcast_ok(addr: IPAddress) -> bool:
    """IN_MULTICAST for IPv4, IN6_IS_ADDR_MC_LINKLOCAL for IPv6."""
    if addr.version == 4:
        return addr.is_multicast
    packed = addr.packed
    return packed[0] == 0xFF and (packed[1] & 0x0F) == 2


def _vip_address(
    text: str,
) -> tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface | None, list[tuple[str, str]]]:
    """parse_ipaddress(): the address and prefix of a VIP, with keepalived's complaints."""
    msgs: list[tuple[str, str]] = []
    version = 6 if ":" in text else 4
    prefix = 128 if version == 6 else 32
    addr_text = text
    slash = text.find("/")
    if slash >= 0:
        addr_text = text[:slash]
        ok, value, msg = _read_unsigned(text[slash + 1 :], 0, prefix)
        if ok:
            prefix = value
        else:
            if msg:
                msgs.append((INVALID_NUMBER, msg))
            msgs.append((GENERAL_ERROR, f"Invalid address prefix len {text[slash + 1:]} for "
                         f"address {text} - using {prefix}"))
    try:
        if "%" in addr_text:
            raise ValueError(addr_text)
        addr = ipaddress.ip_address(addr_text)
        if addr.version != version:
            raise ValueError(addr_text)
    except ValueError:
        msgs.append((GENERAL_ERROR, f"VRRP parsed invalid IP {text}. skipping IP..."))
        return None, msgs
    return ipaddress.ip_interface(f"{addr}/{prefix}"), msgs


# --------------------------------------------------------------------------------------
# Keyword tables (keepalived 2.2.7 as built by Debian: VRRP, LVS, BFD, nftables, vmac)
# --------------------------------------------------------------------------------------

_GLOBAL_ACCEPTED = frozenset("""
process_names process_name vrrp_process_name checker_process_name lvs_process_name
bfd_process_name smtp_helo_name startup_script startup_script_timeout shutdown_script
shutdown_script_timeout max_auto_priority min_auto_priority_delay checker_log_all_failures
no_email_faults disable_local_igmp lvs_timeouts lvs_flush lvs_flush_on_stop
lvs_flush_onstop lvs_sync_daemon vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat
vrrp_garp_interval vrrp_gna_interval vrrp_garp_extra_if vrrp_vmac_garp_intvl
nftables_priority nftables_ifindex nftables_ipvs nftables_ipvs_priority
nftables_ipvs_start_fwmark nftables_counters vrrp_check_unicast_src vrrp_skip_check_adv_addr
vrrp_priority vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime
vrrp_rlimit_rtime notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script
vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload lvs_notify_fifo
lvs_notify_fifo_script checker_priority checker_no_swap checker_rt_priority
checker_cpu_affinity checker_rlimit_rttime checker_rlimit_rtime bfd_priority bfd_no_swap
bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime snmp_socket enable_traps
enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3
enable_snmp_checker enable_dbus dbus_service_name vrrp_netlink_cmd_rcv_bufs
vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs
vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs process_monitor_rcv_bufs_force
lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs
lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails vrrp_rx_bufs_policy
vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids vmac_prefix vmac_addr_prefix
umask random_seed reload_check_config reload_time_file reload_repeat reload_file
include_check config_save_dir tmp_config_directory data_use_instance
""".split())  # noqa: SIM905 - a word list reads better than 100 quoted strings

# Keywords haconsole accepts without modelling, and what keepalived says when the value
# is missing: FATAL_MISSING (it exits, "missing a parameter") or its message.
FATAL_MISSING = ""
_GLOBAL_NEED_VALUE: dict[str, str] = {
    **dict.fromkeys((
        "bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name",
        "checker_rlimit_rtime", "checker_rlimit_rttime", "config_save_dir", "lvs_process_name",
        "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority",
        "process_name", "random_seed", "umask", "vmac_addr_prefix", "vmac_prefix",
        "vrrp_garp_interval", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat",
        "vrrp_gna_interval", "vrrp_process_name", "vrrp_rlimit_rtime", "vrrp_rlimit_rttime",
        "vrrp_startup_delay", "child_wait_time"), FATAL_MISSING),
    "bfd_cpu_affinity": "No bfd cpu_id set specified",
    "bfd_priority": "No bfd process priority specified",
    "bfd_rt_priority": "No bfd process real-time priority specified",
    "checker_cpu_affinity": "No checker cpu_id set specified",
    "checker_priority": "No checker process priority specified",
    "checker_rt_priority": "No checker process real-time priority specified",
    "vrrp_cpu_affinity": "No vrrp cpu_id set specified",
    "vrrp_priority": "No vrrp process priority specified",
    "vrrp_rt_priority": "No vrrp process real-time priority specified",
    "dbus_service_name": "dbus_service_name missing - ignoring",
    "lvs_netlink_cmd_rcv_bufs": "lvs_netlink_cmd_rcv_bufs size missing",
    "lvs_netlink_monitor_rcv_bufs": "lvs_netlink_monitor_rcv_bufs size missing",
    "vrrp_netlink_cmd_rcv_bufs": "vrrp_netlink_cmd_rcv_bufs size missing",
    "vrrp_netlink_monitor_rcv_bufs": "vrrp_netlink_monitor_rcv_bufs size missing",
    "process_monitor_rcv_bufs": "process_monitor_rcv_bufs size missing",
    "lvs_notify_fifo": "No lvs_notify_fifo name specified",
    "lvs_notify_fifo_script": "No lvs_notify_fifo_script specified",
    "notify_fifo": "No notify_fifo name specified",
    "notify_fifo_script": "No notify_fifo_script specified",
    "vrrp_notify_fifo": "No vrrp_notify_fifo name specified",
    "vrrp_notify_fifo_script": "No vrrp_notify_fifo_script specified",
    "lvs_sync_daemon": "lvs_sync_daemon requires interface",
    "lvs_timeouts": "lvs_timeouts requires at least one option",
    "min_auto_priority_delay": "min_auto_priority_delay requires delay time",
    "reload_time_file": "reload_time_file invalid",
    "shutdown_script": "shutdown script missing",
    "shutdown_script_timeout": "shutdown_script_timeout requires value",
    "startup_script": "startup script missing",
    "startup_script_timeout": "startup_script_timeout requires value",
    "snmp_socket": "SNMP error : snmp socket name missing",
    "tmp_config_directory": "tmp_config_directory missing directory name",
    "vrrp_garp_extra_if": "vrrp_garp_extra_if specified without time - ignoring",
    "vrrp_vmac_garp_intvl": "vrrp_vmac_garp_intvl specified without time - ignoring",
    "vrrp_rx_bufs_multiplier": "Invalid vrrp_rx_bufs_multiplier",
    "vrrp_rx_bufs_policy": "vrrp_rx_bufs_policy missing",
    "instance": "instance name missing - ignoring",
    "net_namespace": "net_namespace name missing - ignoring",
}
_DEPRECATED = {
    "vrrp_vmac_garp_intvl": "vrrp_garp_extra_if", "vmac_garp_intvl": "garp_extra_if",
}


def _accepting(keyword: str, missing: str | None) -> Handler:
    """A handler for a keyword haconsole does not model: keepalived's verdict when its value
    is missing (a message, or an exit), and its deprecation notice."""

    def handler(builder: _Builder, words: list[str]) -> None:
        if keyword in _DEPRECATED:
            builder.report(DEPRECATED, f'Keyword "{keyword}" is deprecated - please use '
                           f'"{_DEPRECATED[keyword]}"')
        if missing is None or len(words) >= 2:
            return
        if missing == FATAL_MISSING:
            raise _MissingParameter(words, 1)
        inst = builder.inst
        builder.report(GENERAL_ERROR, missing.format(name=inst.name if inst else ""))

    return handler


_GLOBAL_HANDLERS: dict[str, Handler] = {
    "router_id": _Builder.g_router_id,
    "notification_email_from": _Builder.g_email_from,
    "smtp_server": _Builder.g_smtp_server,
    "smtp_connect_timeout": _Builder.g_smtp_timeout,
    "notification_email": _Builder.g_email,
    "smtp_alert": _Builder.g_smtp_alert,
    "smtp_alert_vrrp": _Builder.g_smtp_alert,
    "smtp_alert_checker": _Builder.g_smtp_alert,
    "vrrp_version": _Builder.g_vrrp_version,
    "vrrp_garp_master_delay": _Builder.g_garp_delay,
    "vrrp_garp_master_repeat": _Builder.g_garp_repeat,
    "vrrp_garp_lower_prio_delay": _Builder.g_garp_lower_prio_delay,
    "vrrp_garp_lower_prio_repeat": _Builder.g_garp_lower_prio_repeat,
    "vrrp_down_timer_adverts": _Builder.g_down_timer_adverts,
    "vrrp_min_garp": _Builder.g_min_garp,
    "vrrp_strict": _Builder.g_strict,
    "script_user": _Builder.g_script_user,
    "enable_script_security": _Builder.g_script_security,
    "vrrp_mcast_group4": _Builder.g_mcast4,
    "vrrp_mcast_group6": _Builder.g_mcast6,
    "dynamic_interfaces": _Builder.g_dynamic_interfaces,
    "vrrp_iptables": _Builder.g_iptables,
    "nftables": _Builder.g_nftables,
    "vrrp_lower_prio_no_advert": _Builder.g_lower_prio_no_advert,
    "vrrp_higher_prio_send_advert": _Builder.g_higher_prio_send_advert,
    "default_interface": _Builder.g_default_interface,
}

_INSTANCE_HANDLERS: dict[str, Handler] = {
    "use_vmac": _Builder.i_vmac,
    "use_vmac_addr": _Builder.accept,
    "vmac_xmit_base": _Builder.i_vmac_xmit_base,
    "use_ipvlan": _Builder.i_ipvlan,
    "unicast_peer": _Builder.i_unicast_peer,
    "unicast_fault_no_peer": _Builder.i_unicast_flag,
    "check_unicast_src": _Builder.i_unicast_flag,
    "old_unicast_checksum": _Builder.i_old_unicast_checksum,
    "native_ipv6": _Builder.i_native_ipv6,
    "state": _Builder.i_state,
    "interface": _Builder.i_interface,
    "vrf": _Builder.i_vrf,
    "dont_track_primary": _Builder.i_dont_track_primary,
    "track_interface": _Builder.i_track_interface,
    "track_script": _Builder.i_track_script,
    "track_file": _Builder.i_track_file,
    "track_process": _Builder.i_track_process,
    "track_bfd": _Builder.ignore_block,
    "mcast_src_ip": _Builder.i_src_ip,
    "unicast_src_ip": _Builder.i_src_ip,
    "mcast_dst_ip": _Builder.i_mcast_dst,
    "track_src_ip": _Builder.accept,
    "virtual_router_id": _Builder.i_vrid,
    "unicast_ttl": _Builder.i_unicast_ttl,
    "version": _Builder.i_version,
    "priority": _Builder.i_priority,
    "advert_int": _Builder.i_advert_int,
    "virtual_ipaddress": _Builder.i_vip,
    "virtual_ipaddress_excluded": _Builder.i_vip,
    "promote_secondaries": _Builder.accept,
    "linkbeat_use_polling": _Builder.i_linkbeat,
    "virtual_routes": _Builder.ignore_block,
    "virtual_rules": _Builder.ignore_block,
    "accept": _Builder.i_accept,
    "no_accept": _Builder.i_accept,
    "skip_check_adv_addr": _Builder.i_flag_option,
    "strict_mode": _Builder.i_flag_option,
    "preempt": _Builder.i_preempt,
    "nopreempt": _Builder.i_nopreempt,
    "preempt_delay": _Builder.i_preempt_delay,
    "debug": _Builder.i_debug,
    "notify_backup": _Builder.i_notify,
    "notify_master": _Builder.i_notify,
    "notify_fault": _Builder.i_notify,
    "notify_stop": _Builder.i_notify,
    "notify_deleted": _Builder.i_notify_deleted,
    "notify": _Builder.i_notify,
    "notify_master_rx_lower_pri": _Builder.i_notify,
    "smtp_alert": _Builder.i_smtp_alert,
    "notify_priority_changes": _Builder.i_notify_priority_changes,
    "lvs_sync_daemon_interface": _Builder.i_lvs_sync,
    "garp_master_delay": _Builder.i_garp_delay,
    "garp_master_refresh": _Builder.i_garp_refresh,
    "garp_master_repeat": _Builder.i_garp_repeat,
    "garp_master_refresh_repeat": _Builder.i_garp_repeat,
    "garp_lower_prio_delay": _Builder.i_garp_delay,
    "garp_lower_prio_repeat": _Builder.i_garp_lower_prio_repeat,
    "down_timer_adverts": _Builder.i_down_timer_adverts,
    "garp_extra_if": _Builder.i_garp_extra_if,
    "vmac_garp_intvl": _Builder.i_garp_extra_if,
    "lower_prio_no_advert": _Builder.i_flag_option,
    "higher_prio_send_advert": _Builder.i_flag_option,
    "kernel_rx_buf_size": _Builder.i_kernel_rx_buf_size,
}

_SCRIPT_HANDLERS: dict[str, Handler] = {
    "script": _Builder.s_script,
    "interval": _Builder.s_interval,
    "timeout": _Builder.s_timeout,
    "weight": _Builder.s_weight,
    "rise": _Builder.s_rise_fall,
    "fall": _Builder.s_rise_fall,
    "user": _Builder.s_user,
    "init_fail": _Builder.s_init_fail,
}

_GROUP_HANDLERS: dict[str, Handler] = {
    "group": _Builder.y_group,
    "track_interface": _Builder.y_track,
    "track_script": _Builder.y_track,
    "track_file": _Builder.y_track,
    "track_process": _Builder.y_track,
    "track_bfd": _Builder.y_track,
    "notify_backup": _Builder.y_notify,
    "notify_master": _Builder.y_notify,
    "notify_fault": _Builder.y_notify,
    "notify_stop": _Builder.y_notify,
    "notify": _Builder.y_notify,
    "smtp_alert": _Builder.y_smtp_alert,
    "global_tracking": _Builder.y_global_tracking,
    "sync_group_tracking_weight": _Builder.y_tracking_weight,
    "notify_priority_changes": _Builder.y_notify_priority_changes,
}

_TRACK_FILE_HANDLERS: dict[str, Handler] = {
    "file": _Builder.f_file,
    "weight": _Builder.f_weight,
    "init_file": _Builder.f_init_file,
}

_PROCESS_HANDLERS: dict[str, Handler] = {
    "process": _Builder.p_process,
    "param_match": _Builder.p_param_match,
    "weight": _Builder.p_weight,
    "quorum": _Builder.p_quorum,
    "quorum_max": _Builder.p_quorum_max,
    "delay": _Builder.p_delay,
    "terminate_delay": _Builder.p_delay,
    "fork_delay": _Builder.p_delay,
    "full_command": _Builder.accept,
}

UNSUPPORTED_SECTIONS = {
    "virtual_server": "lvs", "virtual_server_group": "lvs", "SSL": "lvs", "bfd_instance": "bfd",
}


def _table(handlers: dict[str, Handler]) -> dict[str, _Kw]:
    return {name: _Kw(handler) for name, handler in handlers.items()}


def _root_table() -> dict[str, _Kw]:
    """keepalived's root keywords with the section (process) that handles each."""
    global_sub = _table(_GLOBAL_HANDLERS)
    global_sub.update({name: _Kw(_accepting(name, _GLOBAL_NEED_VALUE.get(name)))
                       for name in _GLOBAL_ACCEPTED})
    instance_sub = _table(_INSTANCE_HANDLERS)
    instance_sub["authentication"] = _Kw(None, {"auth_type": _Kw(_Builder.a_type),
                                                "auth_pass": _Kw(_Builder.a_pass)})
    garp_sub = {name: _Kw(_accepting(name, FATAL_MISSING))
                for name in ("garp_interval", "gna_interval", "interface")}
    garp_sub["interfaces"] = _Kw(_Builder.ignore_block)
    root: dict[str, _Kw] = {
        "global_defs": _Kw(None, global_sub, section="global"),
        "vrrp_instance": _Kw(_Builder.i_begin, instance_sub, _Builder.i_end, "vrrp"),
        "vrrp_script": _Kw(_Builder.s_begin, _table(_SCRIPT_HANDLERS), _Builder.s_end, "vrrp"),
        "vrrp_sync_group": _Kw(_Builder.y_begin, _table(_GROUP_HANDLERS), section="vrrp"),
        "vrrp_track_process": _Kw(_Builder.p_begin, _table(_PROCESS_HANDLERS), _Builder.p_end,
                                  "vrrp"),
        "track_group": _Kw(_Builder.accept, {"group": _Kw(_Builder.ignore_block)},
                           section="vrrp"),
        "garp_group": _Kw(_Builder.accept, garp_sub, section="vrrp"),
    }
    for name in ("static_ipaddress", "static_routes", "static_rules"):
        root[name] = _Kw(_Builder.ignore_block, section="vrrp")
    root["linkbeat_interfaces"] = _Kw(_Builder.v_linkbeat_interfaces, section="vrrp")
    root["interface_up_down_delays"] = _Kw(_Builder.v_up_down_delays, section="vrrp")
    for name in ("track_file", "vrrp_track_file"):
        root[name] = _Kw(_Builder.f_begin, _table(_TRACK_FILE_HANDLERS), _Builder.f_end,
                         "track_file")
    for name in ("linkbeat_use_polling", "net_namespace", "net_namespace_ipvs",
                 "namespace_with_ipsets", "use_pid_dir", "instance", "child_wait_time"):
        root[name] = _Kw(_accepting(name, _GLOBAL_NEED_VALUE.get(name)), section="global")
    for name, section in UNSUPPORTED_SECTIONS.items():
        root[name] = _Kw(None, section=section)
    return root


_ROOT = _root_table()

# keepalived -t: the parent reads global_defs, then the checker, vrrp and bfd processes
# each read the whole file with their own sections active.
_PASSES: tuple[tuple[str, frozenset[str]], ...] = (
    ("parent", frozenset({"global"})),
    ("checker", frozenset({"track_file"})),
    ("vrrp", frozenset({"vrrp", "track_file"})),
    ("bfd", frozenset()),
)


# --------------------------------------------------------------------------------------
# Completing the vrrp configuration (vrrp_complete_init), verdicts without line numbers
# --------------------------------------------------------------------------------------

SC_ISSCRIPT, SC_INSECURE, SC_NOTFOUND, SC_INHIBIT, SC_EXECUTABLE, SC_SYSTEM = (
    1, 2, 4, 8, 16, 32)


def script_flags(args: list[str], env: Environment, secure_mode: bool) -> int:
    """check_script_secure(): what keepalived concludes about a script on this machine.

    Without env.check_scripts the script is assumed present, executable and safe.
    """
    if not args:
        return 0
    cmd = args[0]
    if cmd.startswith("<") and cmd[1:].lstrip(" \t").startswith("/"):
        return SC_SYSTEM
    if not env.check_scripts:
        return SC_ISSCRIPT | SC_EXECUTABLE
    path = cmd if "/" in cmd else _which(cmd)
    if path is None:
        return SC_NOTFOUND
    try:
        st = os.stat(path)
    except OSError:
        return SC_NOTFOUND
    flags = SC_ISSCRIPT
    if not st.st_mode & 0o111:
        return flags
    flags |= SC_EXECUTABLE
    for checked in {path, os.path.realpath(path)}:
        if _insecure_path(checked):
            flags |= SC_INSECURE | (SC_INHIBIT if secure_mode else 0)
            break
    return flags


def _which(cmd: str) -> str | None:
    for directory in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        candidate = os.path.join(directory or ".", cmd)
        if os.path.isfile(candidate):
            return candidate
    return None


def _insecure_path(path: str) -> bool:
    """check_security(): some element of the path is writable by a non-root user."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        element = "/".join(parts[:i]) or "/"
        try:
            st = os.lstat(element)
        except OSError:
            return False
        is_last = i == len(parts)
        if st.st_uid != 0:
            return True
        writable = (st.st_gid and st.st_mode & stat.S_IWGRP) or st.st_mode & stat.S_IWOTH
        checked = stat.S_ISREG(st.st_mode) or (stat.S_ISDIR(st.st_mode)
                                               and not st.st_mode & stat.S_ISVTX)
        if checked and writable and (is_last or stat.S_ISDIR(st.st_mode)):
            return True
    return False


class _Completion:
    """vrrp_complete_init() in config-test mode: defaults, consistency, first failure stops."""

    def __init__(self, b: _Builder, sink: Callable[[Finding], None], root_file: str) -> None:
        self.b = b
        self.g = b.g
        self.sink = sink
        self.root_file = root_file
        self.stopped = False

    def say(self, level: str, message: str, where: _Inst | _Group | _Script | None = None,
            severity: Severity | None = None) -> None:
        if self.stopped:
            return
        if isinstance(where, (_Inst, _Group, _Script)):
            file, line = where.file, where.cfg.line
        else:
            file, line = self.root_file, 0
        sev = severity or _DEFAULT_SEVERITY.get(level, "error")
        self.sink(Finding(file, line, sev, message, "keepalived", level, ka_line=False))

    def stop(self) -> None:
        self.stopped = True

    def run(self) -> None:
        b = self.b
        if b.instances:
            self.security()
        for inst in b.instances:
            if not self.min_cfg(inst):
                self.stop()
                break
        self.sync_groups()
        for inst in b.instances:
            if not self.instance(inst):
                self.stop()
        self.vrid_conflicts()

    # -- scripts --------------------------------------------------------------------------
    def security(self) -> None:
        env, secure = self.b.env, self.g.defs.enable_script_security
        flags = 0
        insecure: set[str] = set()
        for script in self.b.scripts:
            f = script_flags(script.args, env, secure)
            flags |= f
            name = script.cfg.name
            if f & SC_INHIBIT:
                self.say(GENERAL_ERROR, f"Disabling track script {name} due to insecure",
                         script)
                insecure.add(name)
            elif f & SC_NOTFOUND:
                self.say(GENERAL_ERROR, f"Disabling track script {name} since not "
                         "found/accessible", script)
                insecure.add(name)
            elif not f & (SC_EXECUTABLE | SC_SYSTEM):
                insecure.add(name)
        holders: list[dict[str, list[str]]] = [i.notify for i in self.b.instances]
        holders += [g.notify for g in self.b.groups]
        for notify in holders:
            for key, args in list(notify.items()):
                f = script_flags(args, env, secure)
                flags |= f
                if f & (SC_INHIBIT | SC_NOTFOUND) or not f & SC_EXECUTABLE:
                    del notify[key]
        for inst in self.b.instances:
            inst.track_script = [t for t in inst.track_script if t.name not in insecure]
        self.b.scripts = [s for s in self.b.scripts if s.cfg.name not in insecure]
        if not secure and flags & SC_ISSCRIPT:
            extra = " There are insecure scripts." if flags & SC_INSECURE else ""
            first = self.b.scripts[0] if self.b.scripts else self.b.instances[0]
            self.say(SECURITY_ERROR, "SECURITY VIOLATION - scripts are being executed but "
                     f"script_security not enabled.{extra}", first)

    # -- instances ------------------------------------------------------------------------
    def min_cfg(self, inst: _Inst) -> bool:
        if inst.cfg.virtual_router_id == 0:
            self.say(GENERAL_ERROR, f"({inst.name}) the virtual router id must be set", inst)
            return False
        if inst.ifp is None:
            self.say(GENERAL_ERROR, f"({inst.name}) Unknown interface!", inst)
            return False
        return True

    def sync_groups(self) -> None:
        for group in self.b.groups:
            if group.members is None:
                self.say(GENERAL_ERROR, f"Sync group {group.cfg.name} has no virtual router(s)."
                         " removing", group)
                continue
            self.set_group(group)

    def set_group(self, group: _Group) -> None:
        name = group.cfg.name
        state = "INIT"
        members: list[str] = []
        for member in group.members or []:
            inst = next((i for i in self.b.instances if i.name == member), None)
            if inst is None:
                self.say(GENERAL_ERROR, f"Virtual router {member} specified in sync group "
                         f"{name} doesn't exist - ignoring", group)
                continue
            if inst.sync is not None:
                self.say(GENERAL_ERROR, f"Virtual router {member} cannot exist in more than one"
                         f" sync group; ignoring {name}", group)
                continue
            inst.sync = name
            inst.sync_tracking_weight = group.tracking_weight
            members.append(member)
            if state == "MASTER" and inst.wantstate == "BACKUP":
                self.say(GENERAL_ERROR, f"Sync group {name} has some member(s) as address owner"
                         " and some not as address owner. This won't work.", group)
            if state != "BACKUP":
                owner = inst.wantstate == "MASTER" and inst.base_priority == VRRP_PRIO_OWNER
                state = "MASTER" if owner else "BACKUP"
        group.cfg.group = members
        if not members:
            self.say(GENERAL_ERROR, f"Sync group {name}, no matching virtual router found in "
                     "group declaration - removing", group)
        elif len(members) == 1:
            self.say(GENERAL_ERROR, f"Sync group {name} has only 1 virtual router(s) - this "
                     "probably isn't what you want", group, "warning")

    def instance(self, inst: _Inst) -> bool:
        """vrrp_complete_instance(): False when keepalived gives up on the config."""
        strict = self.g.defs.vrrp_strict if inst.strict_mode is None else inst.strict_mode
        inst.strict_mode = strict
        self.family_and_version(inst, strict)
        if not inst.vips and (inst.version == 3 or strict):
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is "
                     "required", inst)
            return False
        if not inst.vips:
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is sensible",
                     inst, "warning")
        self.priority_and_state(inst, strict)
        self.authentication(inst, strict)
        self.unicast(inst)
        self.vip_count(inst)
        self.preemption(inst, strict)
        self.accept_and_strict(inst, strict)
        self.advert_interval(inst)
        self.own_interface(inst)
        self.vmac(inst)
        if not inst.vips and (inst.version == 3 or inst.family == 6 or strict):
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is "
                     "required", inst)
            return False
        self.tracking_weights(inst)
        return True

    def family_and_version(self, inst: _Inst, strict: bool) -> None:
        if inst.family == 6:
            if inst.version == 2 and strict:
                self.say(GENERAL_ERROR, f"({inst.name}) cannot use IPv6 with VRRP version 2; "
                         "setting version 3", inst)
                inst.version = 3
            elif not inst.version:
                inst.version = 3
        if not inst.family:
            inst.family = 4
        if not inst.version:
            inst.version = 3 if inst.family == 6 else self.g.defs.vrrp_version

    def priority_and_state(self, inst: _Inst, strict: bool) -> None:
        if inst.base_priority == 0:
            inst.base_priority = VRRP_PRIO_OWNER if inst.wantstate == "MASTER" else VRRP_PRIO_DFL
        owner = inst.base_priority == VRRP_PRIO_OWNER
        if inst.wantstate == "INIT":
            inst.wantstate = "MASTER" if owner else "BACKUP"
        elif strict and (inst.wantstate == "MASTER") != owner:
            self.say(GENERAL_ERROR, f"({inst.name}) State MASTER must match being address "
                     "owner", inst)
            inst.wantstate = "MASTER" if owner else "BACKUP"

    def authentication(self, inst: _Inst, strict: bool) -> None:
        if inst.auth_type is None:
            return
        name = inst.name
        if strict:
            self.say(GENERAL_ERROR, f"({name}) Strict mode does not support authentication. "
                     "Ignoring.", inst)
            inst.auth_type = None
        elif inst.version == 3:
            self.say(GENERAL_ERROR, f"({name}) VRRP version 3 does not support authentication."
                     " Ignoring.", inst)
            inst.auth_type = None
        elif not inst.auth_data:
            self.say(GENERAL_ERROR, f"({name}) Authentication specified but no password given."
                     " Ignoring", inst)
            inst.auth_type = None
        elif inst.family == 6 and inst.auth_type == "AH":
            self.say(GENERAL_ERROR, f"({name}) Cannot use AH authentication with IPv6. "
                     "ignoring", inst)
            inst.auth_type = None
        elif (inst.auth_type == "AH" and inst.wantstate == "MASTER"
              and inst.base_priority != VRRP_PRIO_OWNER):
            self.say(GENERAL_ERROR, f"({name}) Initial state master is incompatible with AH "
                     "authentication - clearing", inst)
            inst.wantstate = "BACKUP"

    def unicast(self, inst: _Inst) -> None:
        if inst.unicast_configured and not inst.cfg.unicast_peer and not inst.fault_no_peer:
            self.say(DEPRECATED, f"({inst.name}) A unicast keyword has been specified without "
                     "any unicast peers. Defaulting to multicast. This usage is deprecated - "
                     "please update your configuration.", inst)
        if inst.cfg.unicast_peer and inst.mcast_dst is not None:
            self.say(GENERAL_ERROR, f"({inst.name}) multicast destination specified with "
                     "unicast - ignoring", inst)
            inst.mcast_dst = None

    def vip_count(self, inst: _Inst) -> None:
        if inst.family == 4:
            header = 14 + 20 + 8 + (8 + (24 if inst.auth_type == "AH" else 0)
                                    if inst.version == 2 else 0)
            most = (1500 - header) // 4
        else:
            most = (1500 - (14 + 40 + 8)) // 16
        most = min(most, 255)
        if inst.vips and len(inst.vips) > most:
            self.say(GENERAL_ERROR, f"({inst.name}) Number of VIPs ({len(inst.vips)}) exceeds "
                     f"maximum/space available in packet (max {most} addresses) - excess "
                     "moved to eVIPs", inst)
            inst.evips = inst.vips[most:] + inst.evips
            inst.vips = inst.vips[:most]

    def preemption(self, inst: _Inst, strict: bool) -> None:
        name = inst.name
        if inst.base_priority == VRRP_PRIO_OWNER and inst.nopreempt:
            self.say(GENERAL_ERROR, f"({name}) nopreempt is incompatible with priority "
                     f"{VRRP_PRIO_OWNER}. resetting nopreempt", inst, "warning")
            inst.nopreempt = False
        if inst.wantstate == "MASTER":
            if inst.nopreempt:
                self.say(GENERAL_ERROR, f"({name}) Warning - nopreempt will not work with "
                         "initial state MASTER - clearing", inst, "warning")
                inst.nopreempt = False
            if inst.preempt_delay_us:
                self.say(GENERAL_ERROR, f"({name}) Warning - preempt delay will not work with "
                         "initial state MASTER - clearing", inst, "warning")
                inst.preempt_delay_us = 0
        if inst.preempt_delay_us:
            if strict:
                self.say(GENERAL_ERROR, f"({name}) preempt_delay is incompatible with strict "
                         "mode - resetting", inst, "warning")
                inst.preempt_delay_us = 0
            if inst.nopreempt:
                self.say(GENERAL_ERROR, f"({name}) preempt_delay is incompatible with "
                         "nopreempt mode - resetting", inst, "warning")
                inst.preempt_delay_us = 0
        if inst.down_timer_adverts != 3 and strict:
            self.say(GENERAL_ERROR, f"({name}) down_timer_adverts is incompatible with strict "
                     "mode - resetting", inst, "warning")
            inst.down_timer_adverts = 3

    def accept_and_strict(self, inst: _Inst, strict: bool) -> None:
        name = inst.name
        owner = inst.base_priority == VRRP_PRIO_OWNER
        if inst.accept is None:
            inst.accept = True if owner else not strict
        if inst.accept and not owner and strict and inst.version == 2:
            self.say(GENERAL_ERROR, f"({name}) warning - accept mode for VRRP version 2 does "
                     "not comply with RFC3768 - resetting", inst, "warning")
            inst.accept = False
        if inst.garp_lower_prio_rep is None:
            inst.garp_lower_prio_rep = 0 if strict else self.garp_lower_prio_rep()
        elif strict and inst.garp_lower_prio_rep:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no repeat garps. resetting",
                     inst, "warning")
            inst.garp_lower_prio_rep = 0
        if inst.garp_lower_prio_delay is None:
            inst.garp_lower_prio_delay = 0.0 if strict else self.garp_lower_prio_delay()
        elif strict and inst.garp_lower_prio_delay:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no repeat garp delay. "
                     "resetting", inst, "warning")
            inst.garp_lower_prio_delay = 0.0
        if inst.lower_prio_no_advert is None:
            inst.lower_prio_no_advert = True if strict else self.g.lower_prio_no_advert
        elif strict and not inst.lower_prio_no_advert:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no lower priority advert. "
                     "resetting", inst, "warning")
            inst.lower_prio_no_advert = True
        if inst.higher_prio_send_advert is None:
            inst.higher_prio_send_advert = False if strict else self.g.higher_prio_send_advert
        elif strict and inst.higher_prio_send_advert:
            self.say(GENERAL_ERROR, f"({name}) strict mode requires higher_prio_send_advert to "
                     "be clear. resetting", inst, "warning")
            inst.higher_prio_send_advert = False

    def garp_lower_prio_rep(self) -> int:
        rep = self.g.garp_lower_prio_rep
        return self.g.defs.vrrp_garp_master_repeat if rep is None else rep

    def garp_lower_prio_delay(self) -> float:
        delay = self.g.garp_lower_prio_delay
        return self.g.defs.vrrp_garp_master_delay if delay is None else delay

    def advert_interval(self, inst: _Inst) -> None:
        name = inst.name
        if not inst.adver_int_us:
            inst.adver_int_us = TIMER_HZ
        value = inst.adver_int_us
        centi = TIMER_HZ // 100
        if inst.version == 2:
            if value >= 256 * TIMER_HZ:
                self.say(GENERAL_ERROR, f"({name}) VRRPv2 advertisement interval "
                         f"{value / TIMER_HZ:.2f}s is out of range. Must be less than 256s. "
                         "Setting to 255s", inst)
                inst.adver_int_us = 255 * TIMER_HZ
            elif value % TIMER_HZ:
                self.say(GENERAL_ERROR, f"({name}) VRRPv2 advertisement interval "
                         f"{value / TIMER_HZ:f}s must be an integer. rounding", inst, "warning")
                value += TIMER_HZ // 2
                inst.adver_int_us = max(value - value % TIMER_HZ, TIMER_HZ)
        elif value >= 4096 * centi:
            self.say(GENERAL_ERROR, f"({name}) VRRPv3 advertisement interval "
                     f"{value / TIMER_HZ:.2f}s is out of range. Must be less than 40.96s. "
                     "Setting to 40.95s", inst)
            inst.adver_int_us = 4095 * centi
        elif value % centi:
            self.say(GENERAL_ERROR, f"({name}) VRRPv3 advertisement interval "
                     f"{value / TIMER_HZ:f}s must be in units of 10ms - rounding", inst,
                     "warning")
            value += centi // 2
            inst.adver_int_us = max(value - value % centi, centi)

    def vmac(self, inst: _Inst) -> None:
        name = inst.name
        if inst.ipvlan and inst.family == 4 and not inst.ipvlan_family:
            self.say(GENERAL_ERROR, f"({name}) IPv4 ipvlan requires a source ip address to be "
                     "configured. setting instance to fault state", inst)
        elif inst.ipvlan and inst.ipvlan_family and inst.ipvlan_family != inst.family:
            self.say(GENERAL_ERROR, f"({name}) IPv4 ipvlan address family does not match "
                     "instance. setting instance to fault state", inst)
        if inst.vmac_xmit_base and not inst.vmac:
            self.say(GENERAL_ERROR, f"({name}) vmac_xmit_base is only valid with a vmac", inst)

    def own_interface(self, inst: _Inst) -> None:
        kept = []
        for track in inst.track_if:
            if track.name == inst.ifp:
                self.say(GENERAL_ERROR, f"({inst.name}) Ignoring track_interface {track.name} "
                         "since own interface", inst, "warning")
            else:
                kept.append(track)
        inst.track_if = kept

    def tracking_weights(self, inst: _Inst) -> None:
        """Weights are ignored in a sync group (unless sync_group_tracking_weight) and for
        the address owner."""
        in_group = inst.sync is not None and not inst.sync_tracking_weight
        if not in_group and inst.base_priority != VRRP_PRIO_OWNER:
            return
        reason = "SYNC group" if in_group else "address owner"
        reason_ = "SYNC group" if in_group else "address_owner"
        name = inst.name
        for track in inst.track_if:
            if track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring {track.name} tracked interface "
                         f"{'weight ' if in_group else ''}due to {reason}", inst, "warning")
                track.weight = 0 if in_group else track.weight
        if not in_group:
            inst.track_if = [t for t in inst.track_if if not t.weight]
        for track in list(inst.track_script):
            if track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring tracked script {track.name} with "
                         f"weights due to {reason_}", inst, "warning")
                inst.track_script.remove(track)
        for track in list(inst.track_file):
            if track.weight == 1:
                self.say(GENERAL_ERROR, f"({name}) ignoring weight from tracked file "
                         f"{track.name} due to {reason_}. specify weight 0", inst, "warning")
                track.weight = 0
            elif track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring tracked file {track.name} with "
                         f"weight {track.weight} due to {reason_}", inst, "warning")
                inst.track_file.remove(track)

    # -- VRID conflicts ------------------------------------------------------------------------
    def vrid_conflicts(self) -> None:
        same: dict[tuple[int, int], list[_Inst]] = {}
        for inst in self.b.instances:
            if inst.cfg.virtual_router_id:
                same.setdefault((inst.family, inst.cfg.virtual_router_id), []).append(inst)
        for insts in same.values():
            self.vrid_clash(insts)

    def vrid_clash(self, insts: list[_Inst]) -> None:
        for n, a in enumerate(insts):
            for b in insts[n + 1 :]:
                if bool(a.cfg.unicast_peer) != bool(b.cfg.unicast_peer):
                    continue
                if a.cfg.unicast_peer:
                    self.unicast_conflict(a, b)
                    continue
                if a.ifp != b.ifp or self.mcast(a) != self.mcast(b) or not a.ifp_exists:
                    continue
                self.say(GENERAL_ERROR, f"{a.name} and {b.name} both use VRID "
                         f"{a.cfg.virtual_router_id} with IPv{a.family} on interface {a.ifp}", a)

    def unicast_conflict(self, a: _Inst, b: _Inst) -> None:
        if a.ifp and b.ifp and a.ifp != b.ifp:
            return
        src_a, src_b = a.cfg.unicast_src_ip or a.cfg.mcast_src_ip, (
            b.cfg.unicast_src_ip or b.cfg.mcast_src_ip)
        if src_a is None or src_b is None or src_a != src_b:
            return
        if set(a.cfg.unicast_peer) & set(b.cfg.unicast_peer):
            self.say(GENERAL_ERROR, f"({a.name}) duplicate VRID conflict with {b.name} VRID "
                     f"{a.cfg.virtual_router_id}", a)

    def mcast(self, inst: _Inst) -> IPAddress:
        if inst.mcast_dst is not None:
            return inst.mcast_dst
        return self.g.mcast4 if inst.family == 4 else self.g.mcast6


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


class _Findings:
    """Findings of all passes, each printed once (keepalived repeats them per process)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int, str], Finding] = {}

    def add(self, finding: Finding) -> None:
        key = (finding.file, finding.line, finding.message)
        self.items.setdefault(key, finding)

    def ordered(self, files: list[str]) -> list[Finding]:
        rank = {name: n for n, name in enumerate(files)}
        return sorted(self.items.values(),
                      key=lambda f: (not f.ka_line and f.origin == "keepalived",
                                     rank.get(f.file, len(rank)), f.line))


def parse_file(path: str | os.PathLike[str], env: Environment | None = None) -> ParseResult:
    """Read a keepalived.conf (and its includes) as keepalived 2.2.7 would. Never raises
    for anything the file holds: every problem is a Finding."""
    env = env or Environment()
    root = os.fspath(path)
    lexer = _Lexer(env)
    lexer.read_root(root)
    return _parse_lines(root, lexer, env)


def parse_text(text: str, source: str = "<memory>", env: Environment | None = None
               ) -> ParseResult:
    """Parse config text (includes resolve relative to the current directory)."""
    env = env or Environment()
    lexer = _Lexer(env)
    lexer.read_root(source, text.encode("utf-8", "surrogateescape"))
    return _parse_lines(source, lexer, env)


def _parse_lines(root: str, lexer: _Lexer, env: Environment) -> ParseResult:
    findings = _Findings()
    glob_ = _Globals()
    vrrp: _Builder | None = None
    fatal = False
    runnable = True
    parent_reached = len(lexer.lines)
    words: dict[int, tuple[list[str], bool]] = {}
    for name, active in _PASSES:
        stream = _Stream(lexer.lines, findings.add, words)
        builder = _Builder(stream, env, glob_)
        try:
            stream.process(_ROOT, active, builder)
        except _MissingParameter as exc:
            stream.report(MISSING_PARAMETER, exc.message())
            fatal = True
        if name == "parent":
            parent_reached = stream.pos
            if lexer.config_file_error and not fatal:
                break
        if name == "vrrp":
            vrrp = builder
            _unsupported(stream, findings)
            if not fatal:
                runnable = _complete(builder, findings, root)
        if fatal:
            break
    for note in lexer.notes:
        if note.index <= parent_reached or not fatal:
            findings.add(note.finding)
    config = _build_config(root, glob_, vrrp)
    no_config = lexer.config_file_error and not fatal
    runnable = runnable and not fatal and not no_config and bool(lexer.files)
    return ParseResult(config, findings.ordered(lexer.files), lexer.files, fatal, no_config,
                       runnable)


def _unsupported(stream: _Stream, findings: _Findings) -> None:
    for line, keyword in stream.unsupported:
        what = "LVS" if UNSUPPORTED_SECTIONS[keyword] == "lvs" else "BFD"
        findings.add(Finding(line.file, line.number, "info",
                             f"{keyword}: {what} sections are not supported by haconsole - "
                             "section skipped", "haconsole", None))


def _complete(builder: _Builder, findings: _Findings, root: str) -> bool:
    """Complete the vrrp configuration; False when keepalived would refuse to run it."""
    completion = _Completion(builder, findings.add, root)
    where = builder.non_existent_interface
    if where is not None:
        findings.add(Finding(where.file, where.number, "error", "Non-existent interface "
                             "specified in configuration", "keepalived", BAD_IF, ka_line=False))
        completion.stop()
    completion.run()
    return not completion.stopped


def _build_config(root: str, glob_: _Globals, b: _Builder | None) -> Config:
    config = Config(source=root, global_defs=glob_.defs)
    if b is None:
        return config
    for script in b.scripts:
        config.vrrp_scripts.setdefault(script.cfg.name, script.cfg)
    for tfile in b.track_files:
        config.track_files.setdefault(tfile.name, tfile)
    for proc in b.processes:
        config.track_processes.setdefault(proc.name, proc)
    config.vrrp_instances = [_finish(inst, glob_) for inst in b.instances]
    for group in b.groups:
        _finish_group(group)
        config.vrrp_sync_groups.append(group.cfg)
    return config


def _refs(tracks: Iterable[_Track]) -> list[TrackRef]:
    return [TrackRef(t.name, t.weight if t.explicit else None, t.reverse) for t in tracks]


def _finish(inst: _Inst, glob_: _Globals) -> VrrpInstance:
    """The model the engine runs: keepalived's values after completion."""
    cfg = inst.cfg
    if not inst.family:
        inst.family = 4
    if not inst.version:
        inst.version = 3 if inst.family == 6 else glob_.defs.vrrp_version
    if inst.base_priority == 0:
        inst.base_priority = VRRP_PRIO_OWNER if inst.wantstate == "MASTER" else VRRP_PRIO_DFL
    if inst.wantstate == "INIT":
        inst.wantstate = "MASTER" if inst.base_priority == VRRP_PRIO_OWNER else "BACKUP"
    cfg.state = "MASTER" if inst.wantstate == "MASTER" else "BACKUP"
    cfg.priority = inst.base_priority
    cfg.version = inst.version
    cfg.advert_int = (inst.adver_int_us or TIMER_HZ) / TIMER_HZ
    cfg.nopreempt = inst.nopreempt
    cfg.preempt_delay = inst.preempt_delay_us / TIMER_HZ
    if inst.auth_type in ("PASS", "AH"):
        cfg.auth_type = "PASS" if inst.auth_type == "PASS" else "AH"
        cfg.auth_pass = Secret(inst.auth_data)
    cfg.virtual_ipaddress = inst.vips
    cfg.virtual_ipaddress_excluded = inst.evips
    cfg.track_interface = _refs(inst.track_if)
    cfg.track_script = _refs(inst.track_script)
    cfg.track_file = _refs(inst.track_file)
    cfg.track_process = _refs(inst.track_process)
    cfg.accept = inst.accept
    cfg.strict_mode = bool(inst.strict_mode if inst.strict_mode is not None
                           else glob_.defs.vrrp_strict)
    cfg.mcast_dst_ip = inst.mcast_dst
    cfg.down_timer_adverts = inst.down_timer_adverts
    cfg.sync_group = inst.sync
    if inst.garp_lower_prio_rep is not None:
        cfg.garp_lower_prio_repeat = inst.garp_lower_prio_rep
    if inst.lower_prio_no_advert is not None:
        cfg.lower_prio_no_advert = inst.lower_prio_no_advert
    for key in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
        if key in inst.notify:
            setattr(cfg, key, _cmd_line(inst.notify[key]))
    return cfg


def _finish_group(group: _Group) -> None:
    for key in ("notify_master", "notify_backup", "notify_fault", "notify"):
        if key in group.notify:
            setattr(group.cfg, key, _cmd_line(group.notify[key]))
    if group.cfg.group == [] and group.members:
        group.cfg.group = list(group.members)
