"""The shell scripts haconsole runs on a stock keepalived node, and the parsers of what
they print back.

Why apart from the collector (`keepalived_ssh.py`, which says when each runs): these are
the two ends of one protocol, the POSIX sh that runs on the node and the Python that reads
its output, and they change together. Every value that comes from the inventory is quoted
(`render_template`, shlex); section markers carry a random boundary of ours, so nothing a
dump or a log contains can forge one.

- `poll_script`: the long-lived poll loop (a block of sections per line on its stdin:
  keepalived's JSON dump, or its data and stats dumps, `ip -j addr`, the service check);
  `parse_poll_block` reads a block into a `PollResult`.
- `log_script`: the past of the log per a `LogPlan` (journald or a log file), then the
  live log from exactly where the past ended.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import shlex

from haconsole.keepalived.dump import (
    DumpError,
    DumpPaths,
    InstanceSnapshot,
    TrackedProcess,
    parse_data_dump,
    parse_json_document,
    parse_stats_dump,
    with_stats,
)
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.keepalived_facts import pid_command
from haconsole.sources.ssh import render_template, template_values
from haconsole.sources.transport import split_sections

__all__ = [
    "PRIMER_LINES",
    "LogPlan",
    "PollResult",
    "log_script",
    "norm_address",
    "parse_poll_block",
    "parse_script_status",
    "poll_script",
]

#: journald's lines just before the `--since` window, read so the parser knows each
#: instance's state when the window opens (a log file's last lines include them anyway).
PRIMER_LINES = 1000


# ----------------------------------------------------------------------------- polls


def poll_script(spec: NodeSpec, boundary: str, paths: DumpPaths | None = None) -> str:
    """The remote loop: one block of sections per line read on stdin (`scripts`: with
    the vrrp_script results of the data dump too). `paths`: where this keepalived writes
    its dumps (`keepalived.dump.dump_paths`; default /tmp's).

    Every node value is quoted by `render_template` or shlex; `boundary` is ours (hex).
    """
    assert boundary.isalnum()
    paths = paths or DumpPaths()
    json_path, data_path, stats_path = (
        shlex.quote(paths.json), shlex.quote(paths.data), shlex.quote(paths.stats))
    values = template_values(spec)
    pid = pid_command(spec)
    status = render_template(spec.command("service_status"), values)
    return f"""PATH="$PATH:/usr/sbin:/sbin"; export PATH
B={boundary}
num() {{ case "$1" in ''|*[!0-9]*) echo ;; *) echo "$1" ;; esac; }}
# the running binary's signal numbers (another keepalived may be first on PATH)
signums() {{ k=/proc/$p/exe
  sig=$(num "$("$k" --signum=JSON 2>/dev/null || keepalived --signum=JSON 2>/dev/null)")
  dsig=$(num "$("$k" --signum=DATA 2>/dev/null || keepalived --signum=DATA 2>/dev/null)")
  ssig=$(num "$("$k" --signum=STATS 2>/dev/null || keepalived --signum=STATS 2>/dev/null)")
}}
lastp=
w() {{ i=0; while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i+1)); done; }}
whole() {{ w "$1"; a=; b=$(wc -c < "$1"); i=0
  while [ "$a" != "$b" ] && [ $i -lt 50 ]; do
    a=$b; sleep 0.02; b=$(wc -c < "$1"); i=$((i+1))
  done; }}
while IFS= read -r req; do
  p=$(num "$({pid} | head -n 1)")
  if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then p=; fi
  echo "$B pid $p"
  if [ -n "$p" ] && [ "$p" != "$lastp" ]; then signums; lastp=$p; fi
  if [ -n "$p" ]; then
    if [ -n "$sig" ]; then
      rm -f {json_path}; kill -s "$sig" "$p"; w {json_path}
      echo "$B json"; cat {json_path} 2>/dev/null; echo
      if [ "$req" = scripts ] && [ -n "$dsig" ]; then
        rm -f {data_path}; kill -s "$dsig" "$p"; whole {data_path}
        echo "$B scripts"
        sed -n '/^------< VRRP Scripts >------/,/^------< /p' {data_path} 2>/dev/null
      fi
    elif [ -n "$dsig" ]; then
      rm -f {data_path} {stats_path}; kill -s "$dsig" "$p"; kill -s "$ssig" "$p"
      w {data_path}; w {stats_path}
      echo "$B data"; cat {data_path} 2>/dev/null; echo
      echo "$B stats"; cat {stats_path} 2>/dev/null; echo
    fi
  fi
  echo "$B addr"; ip -j addr show 2>/dev/null; echo
  if ( {status} ) </dev/null >/dev/null 2>&1; then s=up; else s=down; fi
  echo "$B service $s"
  echo "$B end"
done
"""


# ----------------------------------------------------------------------------- logs

_JOURNAL = "journalctl -u keepalived -o short-iso-precise --no-pager -q"


@dataclasses.dataclass(frozen=True)
class LogPlan:
    """What the log process prints before going live.

    `since_node` is where the past starts, on the node's clock (None: no past, live only);
    `cap` bounds the lines read; `after` keeps only lines strictly after `since_node` (a
    resume after the last line seen) instead of from it (the `--since` window).
    """

    since_node: float | None = None
    cap: int = 20000
    after: bool = False


def log_script(spec: NodeSpec, boundary: str, plan: LogPlan) -> str:
    """One remote process: the past (per `plan`), a `BOUNDARY live` line, then the live
    log from exactly where the past ended: journald's cursor, or the file's byte offset.
    Neither leaves the node; the log file's path is quoted by `render_template`."""
    assert boundary.isalnum()
    head = f'PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"; export PATH\nB={boundary}\n'
    if spec.log_file:
        head += render_template("F={log_file}\n", template_values(spec))
        if plan.since_node is None:
            return head + 'echo "$B live"\nexec tail -n 0 -F "$F"\n'
        cap = max(0, int(plan.cap))
        window = max(1 << 20, cap * 512)  # bytes read back from the end for `cap` lines
        return head + f"""size=$(wc -c < "$F" 2>/dev/null | tr -d ' ')
case "$size" in ''|*[!0-9]*) size=0 ;; esac
if [ "$size" -gt 0 ] && [ {cap} -gt 0 ]; then
  from=$(( size > {window} ? size - {window} : 0 ))
  tail -c +$((from + 1)) "$F" | head -c $((size - from)) | if [ "$from" -gt 0 ]; then
    sed 1d; else cat; fi | tail -n {cap}
fi
echo
echo "$B live"
exec tail -c +$((size + 1)) -F "$F"
"""
    if plan.since_node is None:
        return head + f'echo "$B live"\nexec {_JOURNAL} -f --lines=0\n'
    since = f"@{int(plan.since_node)}"
    cap = max(0, int(plan.cap))
    primer = min(cap, PRIMER_LINES)  # before the window: they only teach the parser
    return head + f"""{_JOURNAL} --until {since} --lines={primer}
h=$({_JOURNAL} --since {since} --show-cursor --lines=all | tail -n {cap + 1})
printf '%s\\n' "$h" | sed '/^-- cursor: /d' | tail -n {cap}
c=$(printf '%s\\n' "$h" | sed -n 's/^-- cursor: //p')
echo
echo "$B live"
if [ -n "$c" ]; then exec {_JOURNAL} -f --lines=all --after-cursor "$c"; fi
exec {_JOURNAL} -f --lines=all --since {since}
"""


# ----------------------------------------------------------------------------- poll output


@dataclasses.dataclass
class PollResult:
    """One poll's sections, parsed (errors are values: `dump_error`)."""

    pid: str = ""
    snapshots: tuple[InstanceSnapshot, ...] | None = None
    dump_error: str = ""
    addresses: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # if -> addrs
    service_up: bool | None = None
    scripts: dict[str, bool] | None = None  # vrrp_script name -> GOOD (data dump)
    processes: tuple[TrackedProcess, ...] = ()  # vrrp_track_process quorums (json_version 2)

    @property
    def running(self) -> bool:
        return bool(self.pid)

    def all_addresses(self) -> set[str]:
        return {a for addrs in self.addresses.values() for a in addrs}


def norm_address(address: str) -> str:
    try:
        return ipaddress.ip_address(address.split("/", 1)[0]).compressed
    except ValueError:
        return address


def _parse_addr(text: str) -> dict[str, list[str]]:
    try:
        doc = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return {}
    out: dict[str, list[str]] = {}
    if not isinstance(doc, list):
        return out
    for link in doc:
        if not isinstance(link, dict):
            continue
        name = str(link.get("ifname", ""))
        for info in link.get("addr_info", []) or []:
            if isinstance(info, dict) and isinstance(info.get("local"), str):
                out.setdefault(name, []).append(norm_address(info["local"]))
    return out


_SCRIPT_SECTION = "------< VRRP Scripts >------"


def parse_script_status(text: str) -> dict[str, bool]:
    """vrrp_script results from keepalived's data dump (`VRRP Scripts` section): name ->
    `Status = GOOD`. A script that has not reported yet (`Init state = INIT`) is left out:
    keepalived prints BAD for it, which is no result."""
    out: dict[str, bool] = {}
    inside = False
    name = ""
    init = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("------<"):
            inside = line == _SCRIPT_SECTION
            name = ""
            continue
        if not inside:
            continue
        key, sep, value = line.partition(" = ")
        if not sep:
            continue
        if key == "VRRP Script" and raw.startswith(" VRRP Script"):
            name, init = value.strip(), ""
        elif key == "Init state":
            init = value.strip()
        elif key == "Status" and name and init not in ("INIT", "INIT/RELOAD") and \
                value.strip() in ("GOOD", "BAD"):
            out[name] = value.strip() == "GOOD"
    return out


def parse_poll_block(block: str, boundary: str) -> PollResult:
    """Split one block of the poll loop's output into a PollResult."""
    sections, values = split_sections(block, boundary, frozenset({"pid", "service"}))
    result = PollResult(pid=next(iter(values.get("pid", [])), ""))
    if "service" in values:
        result.service_up = values["service"][:1] == ["up"]
    try:
        if "json" in sections:
            doc = parse_json_document("\n".join(sections["json"]))
            result.snapshots = doc.instances
            result.processes = doc.track_processes
        elif "data" in sections:
            snaps = parse_data_dump("\n".join(sections["data"]))
            stats_text = "\n".join(sections.get("stats", []))
            stats = parse_stats_dump(stats_text) if stats_text.strip() else {}
            result.snapshots = with_stats(snaps, stats)
    except DumpError as err:
        result.dump_error = str(err)
    scripts = sections.get("scripts", sections.get("data"))
    if scripts is not None:
        result.scripts = parse_script_status("\n".join(scripts))
    result.addresses = _parse_addr("\n".join(sections.get("addr", [])))
    return result
