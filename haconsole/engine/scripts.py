"""vrrp_script probes: run the check as a subprocess and return its exit status.

Why not a shell: keepalived execs the script's words directly, and a shell per check
costs a fork+exec more each interval and changes what a hung check leaves behind. We do
the same and fall back to `/bin/sh -c` only when the string needs a shell (pipes,
redirections, variables, globbing). A probe is cancelled by `CheckTracker` at its
timeout; cancellation kills the whole process group (the script and anything it
started), so a hung check can never pile up, and counts as a failure there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shlex
import signal
from collections.abc import Mapping, Sequence

from haconsole.engine.trackers import Probe

SHELL_CHARS = frozenset("|&;<>()$`*?[]{}~\n")


class ScriptError(Exception):
    """The script string cannot be run (unknown user, empty command)."""


def script_argv(script: str, args: Sequence[str] = ()) -> list[str]:
    """The argv keepalived would exec, with `args` appended; `/bin/sh -c script` when
    the string needs a shell (then `args` reach the command as its "$@")."""
    text = script.strip()
    if not text:
        raise ScriptError("empty script")
    if not any(c in SHELL_CHARS for c in text):
        try:
            return [*shlex.split(text), *args]
        except ValueError:  # an unbalanced quote: let the shell report it
            pass
    if args:
        return ["/bin/sh", "-c", f'{text} "$@"', "sh", *args]
    return ["/bin/sh", "-c", text]


def _user_ids(user: str | None) -> tuple[int, int] | None:
    if user is None or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ScriptError(f"unknown script user {user!r}") from None
    return entry.pw_uid, entry.pw_gid


def _exit_status(returncode: int) -> int:
    """Shell convention: killed by signal N -> 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


async def run_script(argv: list[str], *, user: str | None = None,
                     env: Mapping[str, str] | None = None) -> int:
    """Run once; returns the exit status. Cancelling kills the process group."""
    ids = _user_ids(user)
    kwargs: dict[str, object] = {}
    if ids is not None:
        kwargs["user"], kwargs["group"] = ids
        kwargs["extra_groups"] = []
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
        env=dict(env) if env is not None else None,
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        return _exit_status(await proc.wait())
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(proc.wait())
        raise


def script_probe(script: str, *, user: str | None = None,
                 env: Mapping[str, str] | None = None) -> Probe:
    """A `CheckTracker` probe for a vrrp_script's `script` string."""
    argv = script_argv(script)
    _user_ids(user)  # fail at configuration time, not at the first run

    async def probe() -> int:
        return await run_script(argv, user=user, env=env)

    return probe
