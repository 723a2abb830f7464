"""A stock keepalived node over SSH: nothing installed on it, everything read remotely.

What it reads, and why this way:

- state: keepalived only tells its state through dumps it writes on a signal. One
  long-lived remote `sh` loop does, each time we write a newline to it: signal
  `keepalived --signum=JSON` to the PID (pidfile or `pgrep`), wait for
  /tmp/keepalived.json, print it; fall back to the SIGUSR1/SIGUSR2 data and stats dumps
  when JSON is not compiled in; then `ip -j addr show` (who holds the VIPs) and the
  service check. One channel and no per-poll SSH round trips keeps fifty nodes at 1 s
  cheap. Sections are separated by a random boundary chosen here, so no dump content can
  forge one. Adverts/s come from the counters (`AdvertCounters`, the view takes deltas).
- logs: `journalctl -u keepalived -f -o short-iso -n 50`, or `tail -F` of the inventory's
  log file, through `KeepalivedLogParser`. The first lines are history: they prime the
  parser and show in the log, but only live lines make transitions. Live lines are
  stamped with the time they arrive here: the remote clock (and short-iso's whole
  seconds) must not skew the failover stopwatch.
- facts from both are merged: a transition the log already reported is not repeated when
  the next dump shows it; VIP events come once per change.

Actions: stop/start the service, restart keepalived, and fail over (stop keepalived on the
master so it sends priority 0, wait until another node is MASTER, start it again; with
preemption on, `warning()` says first that the VIP will come straight back).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import re
import secrets
import time
from typing import Any

import asyncssh

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.keepalived.dump import (
    DumpError,
    InstanceSnapshot,
    dump_events,
    parse_data_dump,
    parse_json_dump,
    parse_stats_dump,
    with_stats,
)
from haconsole.keepalived.log import KeepalivedLogParser
from haconsole.sources.base import Publish
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.ssh import (
    FleetState,
    NodeLink,
    SshOptions,
    TemplateError,
    remote_command,
    render_template,
    template_values,
    wait_within,
)

__all__ = ["KeepalivedSshNode", "PollResult", "parse_poll_block", "poll_script"]

#: keepalived logs every dump it writes; we cause one per poll, so these lines are ours.
_OWN_SIGNAL_LINE = re.compile(r"Printing VRRP (as json|data|stats) for process\(\d+\) on signal")

JSON_PATH = "/tmp/keepalived.json"
DATA_PATH = "/tmp/keepalived.data"
STATS_PATH = "/tmp/keepalived.stats"


def poll_script(spec: NodeSpec, boundary: str) -> str:
    """The remote loop: one block of sections per newline read on stdin.

    Every node value is quoted by `render_template`; `boundary` is ours (hex).
    """
    assert boundary.isalnum()
    values = template_values(spec)
    pid = (render_template("cat {pidfile} 2>/dev/null", values) if spec.pidfile
           else "pgrep -o -x keepalived")
    status = render_template(spec.command("service_status"), values)
    return f"""PATH="$PATH:/usr/sbin:/sbin"; export PATH
B={boundary}
num() {{ case "$1" in ''|*[!0-9]*) echo ;; *) echo "$1" ;; esac; }}
sig=$(num "$(keepalived --signum=JSON 2>/dev/null)")
dsig=$(num "$(keepalived --signum=DATA 2>/dev/null)")
ssig=$(num "$(keepalived --signum=STATS 2>/dev/null)")
w() {{ i=0; while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i+1)); done; }}
while IFS= read -r _; do
  p=$(num "$({pid} | head -n 1)")
  if [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; then p=; fi
  echo "$B pid $p"
  if [ -n "$p" ]; then
    if [ -n "$sig" ]; then
      rm -f {JSON_PATH}; kill -s "$sig" "$p"; w {JSON_PATH}
      echo "$B json"; cat {JSON_PATH} 2>/dev/null; echo
    elif [ -n "$dsig" ]; then
      rm -f {DATA_PATH} {STATS_PATH}; kill -s "$dsig" "$p"; kill -s "$ssig" "$p"
      w {DATA_PATH}; w {STATS_PATH}
      echo "$B data"; cat {DATA_PATH} 2>/dev/null; echo
      echo "$B stats"; cat {STATS_PATH} 2>/dev/null; echo
    fi
  fi
  echo "$B addr"; ip -j addr show 2>/dev/null; echo
  if ( {status} ) </dev/null >/dev/null 2>&1; then s=up; else s=down; fi
  echo "$B service $s"
  echo "$B end"
done
"""


def log_command(spec: NodeSpec, history: int = 50) -> str:
    """The remote log follower: journalctl, or tail -F of the inventory's log file."""
    if spec.log_file:
        return render_template(f"tail -n {int(history)} -F {{log_file}}",
                               template_values(spec))
    return f"journalctl -u keepalived -f -o short-iso -n {int(history)}"


@dataclasses.dataclass
class PollResult:
    """One poll's sections, parsed (errors are values: `dump_error`)."""

    pid: str = ""
    snapshots: tuple[InstanceSnapshot, ...] | None = None
    dump_error: str = ""
    addresses: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # if -> addrs
    service_up: bool | None = None

    @property
    def running(self) -> bool:
        return bool(self.pid)

    def all_addresses(self) -> set[str]:
        return {a for addrs in self.addresses.values() for a in addrs}


def _norm(address: str) -> str:
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
                out.setdefault(name, []).append(_norm(info["local"]))
    return out


def parse_poll_block(block: str, boundary: str) -> PollResult:
    """Split one block of the poll loop's output into a PollResult."""
    result = PollResult()
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    mark = f"{boundary} "
    for line in block.splitlines():
        if line.startswith(mark):
            words = line[len(mark):].split()
            head = words[0] if words else ""
            if head == "pid":
                result.pid = words[1] if len(words) > 1 else ""
                current = None
            elif head == "service":
                result.service_up = len(words) > 1 and words[1] == "up"
                current = None
            elif head == "end":
                break
            else:
                current = sections.setdefault(head, [])
            continue
        if current is not None:
            current.append(line)
    try:
        if "json" in sections:
            result.snapshots = parse_json_dump("\n".join(sections["json"]))
        elif "data" in sections:
            snaps = parse_data_dump("\n".join(sections["data"]))
            stats_text = "\n".join(sections.get("stats", []))
            stats = parse_stats_dump(stats_text) if stats_text.strip() else {}
            result.snapshots = with_stats(snaps, stats)
    except DumpError as err:
        result.dump_error = str(err)
    result.addresses = _parse_addr("\n".join(sections.get("addr", [])))
    return result


class KeepalivedSshNode:
    """One stock keepalived node over SSH, as a `Source`."""

    def __init__(self, spec: NodeSpec, options: SshOptions | None = None, *,
                 fleet: FleetState | None = None, failover_timeout: float = 15.0,
                 log_history: int = 50) -> None:
        self.spec = spec
        self.name = spec.name
        self.options = options or SshOptions()
        self.fleet = fleet or FleetState()
        self.failover_timeout = failover_timeout
        self.log_history = log_history
        self.link: NodeLink | None = None
        self.snapshots: dict[str, InstanceSnapshot] = {}
        self.polls = 0
        self._publish: Publish = lambda e: None
        self._poll_now = asyncio.Event()
        self._polled = asyncio.Event()
        self._reset_facts()

    def _reset_facts(self) -> None:
        self._states: dict[str, ev.State] = {}
        self._sent_state: dict[str, tuple[Any, ...]] = {}
        self._held: set[tuple[str, str]] = set()
        self._service: bool | None = None
        self._running: bool | None = None
        self._dump_failures = 0
        self._have_counters = False
        self._parser = KeepalivedLogParser(self.spec.name)

    # ------------------------------------------------------------------ Source
    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self.link = NodeLink(self.spec, self.options, self._emit_raw, self._session,
                             agent="keepalived")
        self.link.start()

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()

    def supports(self, command: type[cmd.Command]) -> bool:
        return command in (cmd.StopService, cmd.StartService, cmd.RestartAgent, cmd.Failover)

    # ------------------------------------------------------------------ publishing
    def _emit_raw(self, event: ev.Event) -> None:
        self.fleet.observe(event)
        self._publish(event)

    def _emit(self, event: ev.Event) -> None:
        """Publish once per fact: drop what the other reader (log or dump) already said."""
        if isinstance(event, ev.Transition):
            known = self._states.get(event.instance)
            if known == event.new:
                return
            if known is not None and known != event.old:
                event = dataclasses.replace(event, old=known)
            self._states[event.instance] = event.new
        elif isinstance(event, ev.VipAdded | ev.VipRemoved):
            if not event.vip:
                return
            key = (event.instance, _norm(event.vip))
            added = isinstance(event, ev.VipAdded)
            if (key in self._held) == added:
                return
            if added:
                self._held.add(key)
            else:
                self._held.discard(key)
        elif isinstance(event, ev.AdvertSent | ev.AdvertReceived) and self._have_counters:
            return  # the dump's counters already count them
        self._emit_raw(event)

    # ------------------------------------------------------------------ session
    async def _session(self, conn: asyncssh.SSHClientConnection) -> None:
        self._reset_facts()
        log_task = asyncio.get_running_loop().create_task(self._log_loop(conn))
        try:
            await self._poll_loop(conn)
        finally:
            log_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await log_task

    async def _poll_loop(self, conn: asyncssh.SSHClientConnection) -> None:
        boundary = secrets.token_hex(8)
        script = poll_script(self.spec, boundary)
        proc = await conn.create_process(remote_command(script, sudo=self.spec.sudo),
                                         encoding="utf-8", errors="replace")
        timeout = max(5.0, 3 * self.spec.interval + 2)
        try:
            while True:
                proc.stdin.write("\n")
                try:
                    block = await wait_within(
                        proc.stdout.readuntil(f"{boundary} end\n"), timeout)
                except asyncio.IncompleteReadError:
                    err = await _drain(proc.stderr)
                    raise ConnectionError(
                        "the remote poll loop exited" + (f": {err}" if err else "")) from None
                except (asyncio.TimeoutError, TimeoutError):
                    raise TimeoutError(f"no dump within {timeout:.0f} s") from None
                self.polls += 1
                self._handle_poll(parse_poll_block(block, boundary), time.time())
                self._polled.set()
                self._poll_now.clear()
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await wait_within(self._poll_now.wait(), self.spec.interval)
        finally:
            proc.close()

    def _handle_poll(self, result: PollResult, t: float) -> None:
        node = self.spec.name
        if result.service_up is not None and result.service_up != self._service:
            self._service = result.service_up
            self._emit(ev.ServiceState(t, node, service=self.spec.service, up=result.service_up))
        if not result.running:
            if self._running is not False:
                self._emit(ev.LogLine(t, node, "[haconsole] keepalived is not running",
                                      "warning"))
            self._running = False
            for name, state in list(self._states.items()):
                if state != "STOP":
                    self._emit(ev.Transition(t, node, name, state, ev.State.STOP,
                                             "keepalived is not running"))
        elif result.snapshots is not None:
            if self._running is False:
                self._emit(ev.LogLine(t, node, "[haconsole] keepalived is running again"))
            self._running = True
            self._dump(result, t)
        elif result.dump_error:
            self._dump_failures += 1
            # A dump read while keepalived was still writing it: retry before complaining.
            if self._dump_failures == 3:
                self._emit(ev.SourceHealth(t, node, ok=False,
                                           detail=f"cannot read keepalived's dump: "
                                                  f"{result.dump_error}"))
        self._vips(result, t)

    def _dump(self, result: PollResult, t: float) -> None:
        node = self.spec.name
        if self._dump_failures >= 3:
            self._emit(ev.SourceHealth(t, node, ok=True, detail="keepalived's dump readable"))
        self._dump_failures = 0
        snapshots = tuple(self._with_address(s, result) for s in result.snapshots or ())
        previous = tuple(self.snapshots.values())
        self.snapshots = {s.name: s for s in snapshots}
        self._have_counters = any(s.stats is not None for s in snapshots)
        parsed = self._parser.states
        if any(parsed.get(s.name) not in (None, s.event_state) for s in snapshots):
            # The log (history, or a missed line) disagrees with keepalived itself: start
            # the parser afresh, or it would swallow the next "Entering X STATE" as no news.
            self._parser = KeepalivedLogParser(node)
        for snap in snapshots:
            self._parser.set_vips(snap.name, snap.vips, snap.excluded_vips)
            self._parser.set_base_priority(snap.name, snap.base_priority)
            known = self._states.get(snap.name)
            if known is not None and known != snap.event_state:
                self._emit(ev.Transition(t, node, snap.name, known, snap.event_state,
                                         "seen in keepalived's dump"))
            self._states[snap.name] = snap.event_state
        for event in dump_events(snapshots, node=node, t=t, previous=previous):
            if isinstance(event, ev.InstanceState):
                key = dataclasses.astuple(dataclasses.replace(event, t=0.0))
                if self._sent_state.get(event.instance) == key:
                    continue
                self._sent_state[event.instance] = key
            self._emit(event)

    @staticmethod
    def _with_address(snap: InstanceSnapshot, result: PollResult) -> InstanceSnapshot:
        """Fill the instance's own address (the JSON has none) from its interface."""
        if snap.address:
            return snap
        v6 = any(":" in v for v in snap.vips)
        vips = {_norm(v) for v in snap.vips}
        candidates = [a for a in result.addresses.get(snap.interface, [])
                      if (":" in a) == v6 and a not in vips]
        if v6:
            candidates.sort(key=lambda a: not a.startswith("fe80"))
        return dataclasses.replace(snap, address=candidates[0]) if candidates else snap

    def _vips(self, result: PollResult, t: float) -> None:
        if not result.addresses and not result.running:
            return
        held = result.all_addresses()
        for snap in self.snapshots.values():
            for vip in snap.vips:
                cls = ev.VipAdded if _norm(vip) in held else ev.VipRemoved
                self._emit(cls(t, self.spec.name, instance=snap.name, vip=vip))

    # ------------------------------------------------------------------ logs
    async def _log_loop(self, conn: asyncssh.SSHClientConnection) -> None:
        command = remote_command(log_command(self.spec, self.log_history), sudo=self.spec.sudo)
        while True:
            proc = await conn.create_process(command, encoding="utf-8", errors="replace")
            began = time.time()
            try:
                async for line in proc.stdout:
                    self._log_line(line.rstrip("\n"), began)
            finally:
                proc.close()
            err = await _drain(proc.stderr)
            self._emit_raw(ev.LogLine(time.time(), self.spec.name,
                                      "[haconsole] log stream ended"
                                      + (f": {err}" if err else "") + "; restarting in 5 s",
                                      "warning"))
            await asyncio.sleep(5.0)

    def _log_line(self, line: str, began: float) -> None:
        now = time.time()
        if _OWN_SIGNAL_LINE.search(line):
            return  # keepalived's note that it obeyed our dump signal: noise, every poll
        events = self._parser.feed(line)
        if not events:
            return
        history = now - began < 1.5 and events[-1].t < now - 5.0
        for event in events:
            if history:
                if isinstance(event, ev.LogLine):
                    self._emit_raw(event)
                continue
            self._emit(dataclasses.replace(event, t=now))

    # ------------------------------------------------------------------ helpers for callers
    async def wait_polled(self, timeout: float) -> bool:
        """Wait for the next completed poll (tests, benchmarks)."""
        self._polled.clear()
        try:
            await wait_within(self._polled.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return False
        return True

    def poll_now(self) -> None:
        self._poll_now.set()

    # ------------------------------------------------------------------ commands
    def warning(self, command: cmd.Command) -> str:
        """What the operator should know before confirming (preemption), or ""."""
        if not isinstance(command, cmd.Failover):
            return ""
        notes = []
        for snap in self._targets(command):
            if snap.nopreempt:
                continue
            peers = self.fleet.peers(snap.vrid, exclude=self.name)
            higher = [p for p in peers
                      if self.fleet.priority(p, snap.vrid) > snap.base_priority]
            if peers and higher:
                continue
            delay = (f" after its preempt_delay of {snap.preempt_delay:g} s"
                     if snap.preempt_delay else "")
            notes.append(
                f"{snap.name}: preemption is on and {self.name} has the highest priority "
                f"({snap.base_priority}), so when keepalived starts again on {self.name} it "
                f"takes the VIP straight back{delay}. For a lasting move, set nopreempt or "
                f"lower its priority.")
        return " ".join(notes)

    def _targets(self, command: cmd.Failover) -> list[InstanceSnapshot]:
        if command.instance:
            snap = self.snapshots.get(command.instance)
            return [snap] if snap is not None else []
        return [s for s in self.snapshots.values() if s.event_state == "MASTER"]

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        """Run a command on the node; publishes a CommandResult with the outcome."""
        try:
            ok, detail = await self._execute(command)
        except TemplateError as err:
            ok, detail = False, f"bad command template: {err}"
        self._emit_raw(ev.CommandResult(time.time(), self.name, command=command.describe(),
                                        ok=ok, detail=detail))
        self.poll_now()
        return ok, detail

    async def _run_template(self, key: str, **values: str) -> tuple[bool, str]:
        assert self.link is not None
        script = render_template(self.spec.command(key), template_values(self.spec, **values))
        out = await self.link.run(script)
        return out.ok, out.summary()

    async def _execute(self, command: cmd.Command) -> tuple[bool, str]:
        if self.link is None or self.link.conn is None:
            why = self.link.last_error if self.link is not None else "not started"
            return False, f"{self.name} is not connected ({why or 'connecting'})"
        if isinstance(command, cmd.StopService | cmd.StartService):
            key = "stop_service" if isinstance(command, cmd.StopService) else "start_service"
            ok, summary = await self._run_template(key, service=command.service)
            verb = "stopped" if key == "stop_service" else "started"
            return ok, (f"{command.service} {verb} on {self.name}" if ok
                        else f"{key} failed on {self.name}: {summary}")
        if isinstance(command, cmd.RestartAgent):
            ok, summary = await self._run_template("restart_agent")
            return ok, (f"keepalived restarted on {self.name}" if ok
                        else f"restart_agent failed on {self.name}: {summary}")
        if isinstance(command, cmd.Failover):
            return await self._failover(command)
        return False, f"a keepalived node cannot run {command.name}"

    async def _failover(self, command: cmd.Failover) -> tuple[bool, str]:
        targets = [s for s in self._targets(command) if s.event_state == "MASTER"]
        if not targets:
            what = command.instance or "any instance"
            return False, f"{self.name} is not MASTER of {what}"
        warning = self.warning(command)
        if warning:
            self._emit_raw(ev.LogLine(time.time(), self.name, f"[haconsole] {warning}",
                                      "warning"))
        began = time.monotonic()
        ok, summary = await self._run_template("stop_keepalived")
        if not ok:
            return False, f"stop_keepalived failed on {self.name}: {summary}"
        parts = [f"keepalived stopped on {self.name} (priority 0 sent)"]
        vrids = sorted({s.vrid for s in targets})
        for vrid in vrids:
            master = await self.fleet.wait_master(vrid, exclude=self.name,
                                                  timeout=self.failover_timeout)
            if master is None:
                parts.append(f"no new MASTER of VRID {vrid} seen within "
                             f"{self.failover_timeout:g} s")
            else:
                parts.append(f"{master} is MASTER of VRID {vrid} after "
                             f"{time.monotonic() - began:.1f} s")
        ok2, summary2 = await self._run_template("start_keepalived")
        parts.append(f"keepalived started again on {self.name}" if ok2
                     else f"start_keepalived FAILED on {self.name}: {summary2}")
        if warning:
            parts.append("preemption will pull the VIP back")
        moved = all("is MASTER" in p for p in parts[1:1 + len(vrids)])
        return ok2 and moved, "; ".join(parts)


async def _drain(stream: asyncssh.SSHReader[str], timeout: float = 1.0) -> str:
    """What is left on a stream (stderr of an ended process), one line, trimmed."""
    try:
        text = await wait_within(stream.read(), timeout)
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        return ""
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""
