"""A command whose reader left (`haconsole watch ... | head`, `agent ctl events | head`):
not an error, so no traceback and exit 0 — but Python flushes stdout once more on the way
out and would fail again on the closed pipe."""

from __future__ import annotations

import os
import sys


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured in tests): nothing will flush to a closed pipe
