"""keepalived.conf -> haconsole.config.Config, with keepalived's own verdicts.

Verdicts are those of one keepalived release and build: 2.2.7 (Debian 12), 2.3 (2.3.4)
or 2.4 (2.4.3, the default), built with a distribution's features unless told otherwise
(`Environment.version`, `Environment.features`). Keywords a release or build lacks are
unknown keywords there, exactly as that keepalived says.

Operators judge a config by what `keepalived -t` says, so this parser reproduces that
judgement rather than inventing a stricter grammar: the same keyword is unknown, the same
number is out of range and replaced by the same value, and the messages read the same.

How keepalived reads a config (facts this package mirrors)
----------------------------------------------------------
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
  every pass's verdicts. We run the same passes (`keywords.PASSES`) and merge the findings.
* After reading, the vrrp process completes each instance (defaults, consistency
  checks) and stops at the first instance it cannot run; those verdicts carry no line.

Things keepalived learns from the machine it runs on (interfaces, script files, users)
are only judged when the caller passes that knowledge (`Environment`); otherwise every
interface, script and user is assumed to exist on the target node, except `lo`.
"""

from __future__ import annotations

from haconsole.keepalived.conf.environment import Environment, script_flags
from haconsole.keepalived.conf.findings import (
    BAD_IF,
    DEPRECATED,
    EXIT_CONFIG,
    EXIT_CONFIG_TEST,
    EXIT_MISSING_PARAMETER,
    EXIT_NO_CONFIG,
    EXIT_OK,
    EXIT_SECURITY,
    FATAL,
    FILE_NOT_FOUND,
    GENERAL_ERROR,
    INVALID_NUMBER,
    LEVELS,
    MISSING_BOB,
    MISSING_EOB,
    MISSING_PARAMETER,
    MULTIPLE_FILES,
    OK,
    SECURITY_ERROR,
    UNEXPECTED_BOB,
    UNEXPECTED_EOB,
    UNKNOWN_KEYWORD,
    UNMATCHED_QUOTE,
    WARNING,
    Finding,
    ParseResult,
    Severity,
)
from haconsole.keepalived.conf.parse import parse_file, parse_text

__all__ = [
    "BAD_IF", "DEPRECATED", "EXIT_CONFIG", "EXIT_CONFIG_TEST", "EXIT_MISSING_PARAMETER",
    "EXIT_NO_CONFIG", "EXIT_OK", "EXIT_SECURITY", "FATAL", "FILE_NOT_FOUND", "GENERAL_ERROR",
    "INVALID_NUMBER", "LEVELS", "MISSING_BOB", "MISSING_EOB", "MISSING_PARAMETER",
    "MULTIPLE_FILES", "OK", "SECURITY_ERROR", "UNEXPECTED_BOB", "UNEXPECTED_EOB",
    "UNKNOWN_KEYWORD", "UNMATCHED_QUOTE", "WARNING", "Environment", "Finding", "ParseResult",
    "Severity", "parse_file", "parse_text", "script_flags",
]
