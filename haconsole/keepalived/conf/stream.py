"""keepalived's process_stream(): one pass of keyword tables over the line stream.

Unknown keywords, stray and missing braces, skipped sections and value blocks are judged
here; what a known keyword means is left to its handler (see keywords.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from haconsole.keepalived.conf.environment import Environment
from haconsole.keepalived.conf.findings import (
    DEFAULT_SEVERITY,
    GENERAL_ERROR,
    MISSING_BOB,
    UNEXPECTED_BOB,
    UNKNOWN_KEYWORD,
    UNMATCHED_QUOTE,
    Finding,
    Severity,
)
from haconsole.keepalived.conf.lexer import Line
from haconsole.keepalived.conf.values import split_words

if TYPE_CHECKING:
    from haconsole.keepalived.conf.builder import Builder


class MissingParameter(Exception):
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


Handler = Callable[["Builder", list[str]], None]
EndHandler = Callable[["Builder"], None]


@dataclass
class Kw:
    """A keyword in a block's table: its handler, the table of the block it opens (with the
    handler run at that block's `}`), the section whose process reads it, and the
    keepalived version (`since`) and build feature it needs to be known at all."""

    handler: Handler | None = None
    sub: dict[str, Kw] | None = None
    end: EndHandler | None = None
    section: str = ""
    since: str = ""
    feature: str = ""

    def known(self, env: Environment) -> bool:
        """Whether the keepalived of `env` has this keyword in its tables."""
        return ((not self.since or env.at_least(self.since))
                and (not self.feature or env.has(self.feature)))


# Keywords whose command may hold a quote that another word closes (keepalived 2.3+ does
# not call the line's quote unmatched when it is past the keyword's first word).
QUOTED = frozenset({
    "notify_backup", "notify_master", "notify_fault", "notify_stop", "notify_deleted",
    "notify", "notify_master_rx_lower_pri", "script", "startup_script", "shutdown_script",
    "notify_fifo_script", "vrrp_notify_fifo_script", "lvs_notify_fifo_script",
})


class Stream:
    """The line cursor and block-skipping state shared by one pass (read_line's view)."""

    def __init__(self, lines: list[Line], sink: Callable[[Finding], None],
                 words_cache: dict[int, tuple[list[str], int]] | None = None, *,
                 env: Environment | None = None, parent: bool = False) -> None:
        self.lines = lines
        self.env = env or Environment()
        self.parent = parent
        self.words_cache = {} if words_cache is None else words_cache
        self.pos = 0
        self.line: Line | None = None
        self.skip_sublevel = 0
        self.kw_level = 0
        self.sink = sink
        self.unsupported: list[tuple[Line, str]] = []

    def next(self) -> Line | None:
        if self.pos >= len(self.lines):
            return None
        self.line = self.lines[self.pos]
        self.pos += 1
        return self.line

    def report(self, level: str, message: str, severity: Severity | None = None,
               line: Line | None = None) -> None:
        where = line or self.line
        sev = severity or DEFAULT_SEVERITY.get(level, "error")
        file, number = (where.file, where.number) if where else ("", 0)
        self.sink(Finding(file, number, sev, message, "keepalived", level))

    def words(self, line: Line, table: dict[str, Kw] | None = None) -> list[str]:
        """The line's words (cached across passes; handlers must not modify them)."""
        key = self.pos
        cached = self.words_cache.get(key)
        if cached is None:
            words, unmatched = split_words(line.text)
            # how many words came before the unmatched quote (0: none unmatched)
            cached = self.words_cache[key] = (words, len(words) + 1 if unmatched else 0)
        words, before_quote = cached
        if before_quote and not self._quote_allowed(words, before_quote - 1, table):
            self.report(UNMATCHED_QUOTE, f"Unmatched quote: '{line.text}'")
        return words

    def _quote_allowed(self, words: list[str], before: int, table: dict[str, Kw] | None
                       ) -> bool:
        """keepalived 2.3+: the parent process never complains, nor a quoted keyword's line
        whose open quote comes after its second word."""
        if not self.env.at_least("2.3"):
            return False
        if self.parent:
            return True
        return (before > 1 and table is not None and words[0] in QUOTED
                and words[0] in table)

    def process(self, table: dict[str, Kw], active: frozenset[str], builder: Builder,
                need_bob: bool = False) -> bool:
        """Read lines until this block's `}` (or EOF). True when a skipped block ended."""
        while (line := self.next()) is not None:
            if self.skip_sublevel > 0 and '"' not in line.text:
                if self._skip_fast(line.text):
                    return True
                continue
            words = self.words(line, table)
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
            if kw is None or not kw.known(self.env):
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

    def _keyword(self, kw: Kw, words: list[str], active: frozenset[str],
                 builder: Builder) -> None:
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


def arg(words: list[str], index: int) -> str:
    """strvec_slot(): a missing word makes keepalived exit with a message."""
    if index >= len(words):
        raise MissingParameter(words, index)
    return words[index]
