"""What the keepalived collector learns about a node once per connection, and how.

Why apart from the collector (keepalived_ssh.py): these are the facts that decide what
the collector reads, not what it reads. Which keepalived runs there (its release, shown
with the node), where that keepalived writes its dumps (they follow its configuration
and environment, not a fixed /tmp: `keepalived.dump.dump_paths`), and which notify FIFO
may be followed without taking lines from another reader. All of it comes from the node
itself: /proc/PID (cmdline, cwd, environ, exe) and the configuration the running
keepalived was started with, read by haconsole's keepalived.conf parser as that release
reads it.

The scripts are POSIX sh run through the collector's transport (SSH, or a namespace on
this machine); every value from the inventory or the node is quoted, and nothing the
node says is run.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence

from haconsole.config import GlobalDefs
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.ssh import render_template, template_values
from haconsole.sources.transport import split_sections

__all__ = ["DEFAULT_CONFIG", "NodeFacts", "config_from_cmdline", "config_path",
           "config_script", "facts_script", "fifo_choice", "fifo_script", "parse_facts",
           "pid_command", "read_global_defs"]

#: keepalived's configuration when nothing says another (its build's default).
DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


def pid_command(spec: NodeSpec) -> str:
    """Shell text printing keepalived's (parent's) PID: the pidfile, else pgrep."""
    return (render_template("cat {pidfile} 2>/dev/null", template_values(spec))
            if spec.pidfile else "pgrep -o -x keepalived")


@dataclasses.dataclass(frozen=True)
class NodeFacts:
    """What a connection learns once about the keepalived it reads (see `facts_script`)."""

    pid: str = ""
    release: str = ""  # "2.4.3"; "" when keepalived --version said nothing we know
    argv: tuple[str, ...] = ()  # the running keepalived's command line
    cwd: str = ""
    tmp_dir: str = ""  # its $TMPDIR ("" unset)


def facts_script(spec: NodeSpec, boundary: str) -> str:
    """One remote run: keepalived's PID, its release (the running binary's, else the one
    on PATH), its command line, working directory and $TMPDIR. Nothing from the node is
    run through a shell: /proc's NUL-separated fields are printed one per line."""
    assert boundary.isalnum()
    return f"""PATH="$PATH:/usr/sbin:/sbin"; export PATH
B={boundary}
p=$({pid_command(spec)} | head -n 1)
case "$p" in ''|*[!0-9]*) p= ;; esac
if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then p=; fi
echo "$B pid $p"
echo "$B version"
if [ -n "$p" ] && v=$(/proc/"$p"/exe --version 2>&1); then :; else
  v=$(keepalived --version 2>&1); fi
printf '%s\\n' "$v" | head -n 3
if [ -n "$p" ]; then
  echo "$B argv"; tr '\\000' '\\n' < /proc/"$p"/cmdline; echo
  echo "$B cwd"; readlink /proc/"$p"/cwd
  echo "$B tmpdir"; tr '\\000' '\\n' < /proc/"$p"/environ | sed -n 's/^TMPDIR=//p'
fi
echo "$B end"
"""


_RELEASE = re.compile(r"Keepalived v(\d+\.\d+\.\d+)")


def parse_facts(text: str, boundary: str) -> NodeFacts:
    """`facts_script`'s output as NodeFacts (whatever is missing stays empty)."""
    sections, values = split_sections(text, boundary, frozenset({"pid"}))
    pid = next(iter(values.get("pid", [])), "")
    pid = pid if pid.isdigit() else ""
    found = _RELEASE.search("\n".join(sections.get("version", [])))
    argv = tuple(a for a in sections.get("argv", []) if a)
    return NodeFacts(pid=pid, release=found.group(1) if found else "", argv=argv,
                     cwd="".join(sections.get("cwd", [])).strip(),
                     tmp_dir="".join(sections.get("tmpdir", [])[:1]).strip())


#: keepalived's short options (main.c getopt_long, alike in 2.2.7 and 2.4.3) that take
#: an argument, and those whose argument is optional (attached only).
_ARGUMENT = frozenset("uSfpisrcbA")
_OPTIONAL = frozenset("Mgt")


def config_from_cmdline(argv: Sequence[str]) -> str | None:
    """The configuration a keepalived command line names: `-f FILE`, `-fFILE`, `-nlf FILE`,
    `--use-file FILE`, `--use-file=FILE` (or a long option's unambiguous prefix, as
    getopt_long takes it); None when it names none (keepalived's default then)."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "--":
            return None
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if len(name) >= 2 and "use-file".startswith(name):
                return value if eq else next(args, None)
            continue
        if not arg.startswith("-") or arg == "-":
            continue
        for i, letter in enumerate(arg[1:], 1):
            if letter == "f":
                return arg[i + 1:] or next(args, None)
            if letter in _ARGUMENT:
                if i + 1 == len(arg):
                    next(args, None)  # its argument is the next word
                break
            if letter in _OPTIONAL:
                break
    return None


def config_path(spec: NodeSpec, facts: NodeFacts) -> str:
    """The keepalived.conf to read: the inventory's, else the running one's, else the
    default. A relative `-f` is relative to where keepalived started (/proc/PID/cwd)."""
    if spec.config:
        return spec.config
    path = config_from_cmdline(facts.argv) if facts.argv else None
    if not path:
        return DEFAULT_CONFIG
    if not path.startswith("/"):
        base = facts.cwd if facts.cwd.startswith("/") else f"/proc/{facts.pid}/cwd"
        return f"{base.rstrip('/')}/{path}"
    return path


def config_script(path: str, boundary: str) -> str:
    """Print `BOUNDARY ok` and the file, or `BOUNDARY error WHY` (one line)."""
    assert boundary.isalnum()
    return f"""B={boundary}
if t=$(cat -- {shlex.quote(path)} 2>&1); then echo "$B ok"; printf '%s\\n' "$t"
else printf '%s\\n' "$B error $t" | head -n 1; fi
"""


_INCLUDE = re.compile(r"^[ \t]*(?:@\^?\S+[ \t]+)?include\b.*$", re.M)


def read_global_defs(text: str, path: str, release: str) -> GlobalDefs:
    """global_defs of a keepalived.conf's text, as keepalived `release` reads it (a 2.2.7
    knows no state_dump_file). Its includes are not followed: they would be resolved
    on this machine, not on the node."""
    from haconsole.keepalived.conf import Environment, parse_text
    from haconsole.keepalived.conf.environment import version_name

    env = Environment(version=version_name(release)) if release else Environment()
    return parse_text(_INCLUDE.sub("", text), path, env).config.global_defs


def fifo_choice(defs: GlobalDefs) -> tuple[str, str]:
    """(the FIFO to read, or "") and, when there is none, why. keepalived writes every
    VRRP line to `notify_fifo` and to `vrrp_notify_fifo` alike; a FIFO gives each line to
    one reader, so one read by its `*_notify_fifo_script` is left to that script."""
    fifos = [(defs.vrrp_notify_fifo, defs.vrrp_notify_fifo_script, "vrrp_notify_fifo"),
             (defs.notify_fifo, defs.notify_fifo_script, "notify_fifo")]
    named = [(path, script, key) for path, script, key in fifos if path]
    for path, script, _key in named:
        if not script:
            return path, ""
    if named:
        keys = " and ".join(key for _path, _script, key in named)
        return "", (f"{keys} {'is' if len(named) == 1 else 'are'} read by "
                    f"{'its' if len(named) == 1 else 'their'} notify_fifo_script: reading "
                    "it too would take lines from it. Add a `vrrp_notify_fifo PATH` of "
                    "its own (keepalived writes every line to both)")
    return "", "keepalived.conf names no notify_fifo or vrrp_notify_fifo"


def fifo_script(path: str, boundary: str) -> str:
    """Follow a notify FIFO: drain what waited in it unread (old news: the dump says the
    state), say `BOUNDARY open`, print each line as keepalived writes it; when
    keepalived closes it (a restart: keepalived makes the FIFO anew), open it again.
    When its stdin ends (the session closed) it ends, readers included: a `cat` left
    blocked on the FIFO would take lines from the next session's."""
    assert boundary.isalnum()
    return f"""B={boundary}
F={shlex.quote(path)}
follow() {{
  first=1
  while :; do
    if [ -p "$F" ]; then
      if [ "$first" = 1 ]; then
        dd if="$F" of=/dev/null iflag=nonblock 2>/dev/null
        first=0
      fi
      echo "$B open"
      cat "$F"
    elif [ "$first" = 1 ]; then
      echo "$B missing"
      first=0
    fi
    sleep 0.2
  done
}}
follow &
cat >/dev/null
kill 0
"""
