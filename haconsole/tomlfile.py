"""TOML files people write (lab definitions, inventories): read them into plain data, with
every problem as one `ConfigError(file, line, message)`, and find the line of any key.

Why not tomllib alone: its errors carry the line only inside the message text (an
attribute from Python 3.14), some inputs escape TOMLDecodeError altogether (an integer
over 4 300 digits is a ValueError, a binary file a UnicodeDecodeError), and a parsed
document forgets where each key was, so a value that is valid TOML but wrong for us
(`priority = true`) could only be reported at line 0. `TomlLines` scans the text once
for table headers and `key =` lines, which is enough to point at the line of any key
path the loaders check, or at the nearest enclosing table when a key is missing.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from haconsole.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: A key path inside a document: table keys and array-of-tables indexes,
#: ("node", 1, "priority") for the second [[node]]'s priority.
KeyPath = tuple[str | int, ...]

_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")
_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_KEY_PART = re.compile(_KEY)


def _parts(dotted: str) -> tuple[str, ...]:
    """`a."b.c".d` -> ("a", "b.c", "d")."""
    out = []
    for match in _KEY_PART.finditer(dotted):
        word = match.group(0)
        out.append(word[1:-1] if word[0] in "\"'" else word)
    return tuple(out)


class TomlLines:
    """Where each table and key of a TOML text starts (1-based lines)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.total = text.count("\n") + 1
        counts: dict[KeyPath, int] = {}
        current: dict[KeyPath, int] = {}  # array-of-tables path -> its current index
        table: KeyPath = ()
        in_string = ""  # the quote of a multi-line string we are inside, if any

        def resolve(parts: tuple[str, ...]) -> KeyPath:
            path: KeyPath = ()
            for part in parts:
                path = (*path, part)
                if path in current:
                    path = (*path, current[path])
            return path

        for number, line in enumerate(text.splitlines(), start=1):
            if in_string:
                if line.count(in_string) % 2:
                    in_string = ""
                continue
            if match := _ARRAY_HEADER.match(line):
                parts = _parts(match.group(1))
                base = (*resolve(parts[:-1]), parts[-1])
                index = counts.get(base, 0)
                counts[base] = index + 1
                current[base] = index
                table = (*base, index)
                self.lines.setdefault(base, number)
                self.lines.setdefault(table, number)
            elif match := _TABLE_HEADER.match(line):
                table = resolve(_parts(match.group(1)))
                self.lines.setdefault(table, number)
            elif match := _KEY_LINE.match(line):
                self.lines.setdefault((*table, *_parts(match.group(1))), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2:
                    in_string = quote

    def line(self, path: KeyPath) -> int:
        """The line of `path`, else of its nearest enclosing key or table, else 1."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1


def parse_toml(text: str, source: str) -> tuple[dict[str, Any], TomlLines]:
    """Parse TOML text; ConfigError(source, line, message) for anything tomllib refuses."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _POSITION.search(message)
        line = int(match.group(1)) if match and match.group(1) else text.count("\n") + 1
        reason = _POSITION.sub("", message).strip() or "invalid TOML"
        raise ConfigError(source, line, f"TOML syntax error: {reason}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(source, _deep_line(text), "TOML nested too deeply") from None
    except ValueError:  # tomllib lets int()'s limit through as a ValueError
        raise ConfigError(source, _long_number_line(text), "an integer with more than "
                          f"{_int_digits()} digits") from None
    return data, TomlLines(text)


def read_toml(path: str | os.PathLike[str], what: str) -> tuple[dict[str, Any], TomlLines]:
    """Read and parse a TOML file; `what` names it in errors ("lab file")."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(source, 0, f"cannot read {what}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ConfigError(source, line, f"not a text file: invalid UTF-8 at byte "
                                        f"{err.start}") from None
    return parse_toml(text, source)


_LONG_DIGITS = re.compile(r"[0-9_]{1000,}")


def _int_digits() -> int:
    get = getattr(sys, "get_int_max_str_digits", None)  # Python 3.10.7+
    return int(get()) if get is not None else 4300


def _long_number_line(text: str) -> int:
    match = _LONG_DIGITS.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _deep_line(text: str, limit: int = 100) -> int:
    """The first line where brackets and braces nest past `limit` (strings ignored:
    good enough to point at the place)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += 1 if char in "[{" else -1 if char in "]}" else 0
            if depth > limit:
                return number
    return 1


def printable(text: str) -> str:
    """`text` quoted as a TOML string on one line: control and other unprintable
    characters escaped (an error message must stay one line)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def where(path: KeyPath) -> str:
    """A key path as people read it: ("node", 1, "priority") -> "node[1].priority"
    (keys that are not bare TOML keys quoted)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE.fullmatch(part) else printable(part)
            out += f".{key}" if out else key
    return out
