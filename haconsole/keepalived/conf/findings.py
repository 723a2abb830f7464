"""What a check says: keepalived's verdict levels, a Finding, and the exit status.

keepalived ranks its config complaints (config_err_t) and `keepalived -t` exits with a
status derived from the worst one; ParseResult.keepalived_status() reproduces that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from haconsole.config import Config

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
DEFAULT_SEVERITY: dict[str, Severity] = {
    OK: "warning", WARNING: "warning", DEPRECATED: "warning", SECURITY_ERROR: "warning",
}

# Exit statuses of `keepalived -t` (lib/scheduler.h, keepalived/include/main.h).
EXIT_OK, EXIT_MISSING_PARAMETER, EXIT_CONFIG, EXIT_CONFIG_TEST, EXIT_SECURITY = 0, 2, 4, 5, 6
EXIT_NO_CONFIG = 6


@dataclass(frozen=True)
class Finding:
    """One verdict on a config, at a file and line a person can open.

    origin "keepalived": `keepalived -t` prints the same message (ka_level is its level,
    ka_line says whether keepalived prints this line number or none at all).
    origin "haconsole": our own advice, which keepalived does not give.
    note: what this means for keepalived beyond the message (e.g. that `keepalived -t`
    fails on a finding haconsole ranks a warning).
    """

    file: str
    line: int
    severity: Severity
    message: str
    origin: Literal["keepalived", "haconsole"] = "keepalived"
    ka_level: str | None = GENERAL_ERROR
    ka_line: bool = True
    note: str = ""

    def format(self) -> str:
        note = f" [{self.note}]" if self.note else ""
        return f"{self.file}:{self.line}: {self.severity}: {self.message}{note}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
            "origin": self.origin,
        }
        if self.note:
            out["note"] = self.note
        return out

    @property
    def test_status(self) -> int:
        """The exit status `keepalived -t` gives for this finding alone (0: none)."""
        return status_of(self.ka_level) if self.origin == "keepalived" else EXIT_OK


def status_of(level: str | None) -> int:
    """keepalived's config_test_exit(): the exit status for the worst level reported."""
    if level is None or level == OK:
        return EXIT_OK
    if level in (FILE_NOT_FOUND, BAD_IF, FATAL):
        return EXIT_CONFIG
    if level == SECURITY_ERROR:
        return EXIT_SECURITY
    return EXIT_CONFIG_TEST


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
        return status_of(max(levels, key=_LEVEL_RANK.__getitem__, default=OK))
