"""What keepalived learns from the node it runs on: interfaces, users, script files.

Verdicts that depend on the machine are only given when the caller says what the machine
holds (`Environment`); by default everything is assumed to exist on the target node.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass


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


def user_exists(name: str, env: Environment) -> bool:
    return _known(pwd.getpwnam, name, env)


def group_exists(name: str, env: Environment) -> bool:
    return _known(grp.getgrnam, name, env)


def _known(lookup: Callable[[str], object], name: str, env: Environment) -> bool:
    """A user or group keepalived could resolve (always, unless env.check_users)."""
    if not env.check_users:
        return True
    try:
        lookup(name)
    except KeyError:
        return False
    return True


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
