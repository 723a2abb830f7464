"""keepalived.conf -> the stream of lines keepalived's keyword reader sees.

Comments, `$NAME=value` definitions, `@node` lines, `include` globs and the splitting of
braces onto lines of their own all happen here, before any keyword is looked at.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from haconsole.keepalived.conf.environment import Environment
from haconsole.keepalived.conf.findings import (
    DEFAULT_SEVERITY,
    FILE_NOT_FOUND,
    GENERAL_ERROR,
    MISSING_EOB,
    OK,
    UNEXPECTED_EOB,
    Finding,
    Severity,
)
from haconsole.keepalived.conf.limits import MAX_INCLUDE_DEPTH, MAXBUF, WHITESPACE


@dataclass(frozen=True, slots=True)
class Line:
    file: str
    number: int
    text: str


@dataclass(frozen=True, slots=True)
class LexNote:
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


class Lexer:
    """Turns the root file and its includes into keepalived's stream of lines."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.lines: list[Line] = []
        self.notes: list[LexNote] = []
        self.files: list[str] = []
        self.defs: dict[str, str] = {"_HASH": "#", "_BANG": "!"}
        self.block_depth = 0
        self.open_braces: list[Line] = []
        self._stack: list[str] = []
        self.config_file_error = False  # keepalived then stops after reading global_defs

    # -- findings -------------------------------------------------------------------
    def note(self, file: str, line: int, level: str, message: str, *,
             severity: Severity | None = None, origin: Literal["keepalived", "haconsole"]
             = "keepalived", ka_line: bool = True) -> None:
        sev = severity or DEFAULT_SEVERITY.get(level, "error")
        finding = Finding(file, line, sev, message, origin,
                          level if origin == "keepalived" else None, ka_line)
        self.notes.append(LexNote(len(self.lines), finding))

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
            self.notes.append(LexNote(len(self.lines), finding))

    def _read_file(self, path: str, data: bytes) -> None:
        self.files.append(path)
        self._stack.append(os.path.realpath(path))
        try:
            if self.env.at_least("2.4"):
                lines = _physical_lines_24(data, lambda number, message: self.note(
                    path, number, GENERAL_ERROR, message, ka_line=number > 0))
            else:
                lines = _physical_lines(data)
            for number, chunk in lines:
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
        self._emit(Line(path, number, head))
        return residue

    def _emit(self, line: Line) -> None:
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


def _physical_lines_24(data: bytes, complain: Callable[[int, str], None]
                       ) -> Iterator[tuple[int, str]]:
    """keepalived 2.4's reading: a line holding a NUL byte is dropped, and a line longer
    than MAXBUF - 1 bytes loses each full piece; both complaints name the line before
    (none on the first line), and every piece counts as a line, so the lines after an
    over-long one are numbered further on."""
    number = 0
    raws = data.split(b"\n")
    for i, raw in enumerate(raws):
        last = i == len(raws) - 1
        if last and not raw:
            break
        while len(raw) >= MAXBUF - 1 and b"\0" not in raw[: MAXBUF - 1]:
            complain(number, "line too long - ignoring")
            number += 1
            raw = raw[MAXBUF - 1 :]
        if b"\0" in raw[: MAXBUF - 1] and not last:
            complain(number, "configuration appears to have embedded NULs - ignoring line")
            number += 1
            continue
        number += 1
        yield number, raw.split(b"\0")[0].rstrip(b"\r").decode("utf-8", "surrogateescape")


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
