"""What keepalived learns from the node it runs on: interfaces, users, script files, and
which keepalived it is (its version and the features it was built with).

Verdicts that depend on the machine are only given when the caller says what the machine
holds (`Environment`); by default everything is assumed to exist on the target node, and
the keepalived is the newest release we judge like, built as distributions build it.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace

# The keepalived releases whose verdicts we reproduce: 2.2.7 (Debian 12's), 2.3 (as of its
# last release, 2.3.4) and 2.4 (2.4.3). Each name maps to the release compared against.
VERSIONS: dict[str, tuple[int, int, int]] = {
    "2.2.7": (2, 2, 7), "2.3": (2, 3, 4), "2.4": (2, 4, 3),
}
NEWEST = "2.4"
# What `keepalived -v` lists under "Config options" for a distribution build (Debian's):
# keywords of a feature that was not built in are unknown to keepalived.
DISTRO_FEATURES = frozenset({
    "NFTABLES", "LVS", "REGEX", "VRRP", "VRRP_AUTH", "VRRP_VMAC", "JSON", "BFD",
    "OLD_CHKSUM_COMPAT", "SNMP_V3_FOR_V2", "SNMP_VRRP", "SNMP_CHECKER", "SNMP_RFCV2",
    "SNMP_RFCV3", "DBUS",
})


def version_name(release: str) -> str:
    """The version we judge a keepalived release like ("2.4.3" -> "2.4")."""
    parts = tuple(int(p) for p in re.findall(r"\d+", release)[:3])
    if parts[:2] == (2, 3):
        return "2.3"
    if parts[:2] >= (2, 4):
        return "2.4"
    return "2.2.7"


@dataclass(frozen=True)
class Environment:
    """What keepalived would learn from the node: interface names, script files, users;
    and which keepalived judges the config (version, build features).

    None means "unknown": every interface, script and user is assumed to exist.
    """

    interfaces: frozenset[str] | None = None
    check_scripts: bool = False
    check_users: bool = False
    config_id: str | None = None
    version: str = NEWEST
    features: frozenset[str] = DISTRO_FEATURES

    @classmethod
    def local(cls, binary: str = "keepalived") -> Environment:
        """This machine, as `keepalived -t` run here would see it (the installed
        keepalived's version and features when there is one)."""
        try:
            names = frozenset(os.listdir("/sys/class/net"))
        except OSError:
            names = frozenset({"lo"})
        env = cls(names, True, True, os.uname().nodename)
        found = installed_keepalived(binary)
        return env if found is None else replace(env, version=found[0], features=found[1])

    def at_least(self, version: str) -> bool:
        """Whether the keepalived judging is `version` or newer ("2.3", "2.4")."""
        return VERSIONS[self.version] >= VERSIONS[version]

    def has(self, feature: str) -> bool:
        """Whether keepalived was built with `feature` ("LVS", "FIREWALL", "SNMP"...)."""
        if "+" in feature:
            return all(self.has(f) for f in feature.split("+"))
        if feature == "FIREWALL":
            return bool({"NFTABLES", "IPTABLES"} & self.features)
        if feature in ("SNMP", "SNMP_RFC"):
            return any(f.startswith(feature) for f in self.features)
        return feature in self.features


_RELEASE = re.compile(r"Keepalived v(\d+\.\d+\.\d+)")


def installed_keepalived(binary: str = "keepalived"
                         ) -> tuple[str, frozenset[str]] | None:
    """(version name, build features) of a keepalived binary, from its `-v`; None when
    there is none."""
    path = shutil.which(binary) or (
        "/usr/sbin/keepalived" if binary == "keepalived" and os.path.exists(
            "/usr/sbin/keepalived") else None)
    if path is None:
        return None
    try:
        ran = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = ran.stderr + ran.stdout
    release = _RELEASE.search(text)
    if release is None:
        return None
    options = re.search(r"^Config options:(.*)$", text, re.M)
    features = frozenset(w.split("=")[0] for w in options.group(1).split()) if options \
        else DISTRO_FEATURES
    return version_name(release.group(1)), features


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
