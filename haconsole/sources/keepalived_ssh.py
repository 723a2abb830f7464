"""A stock keepalived node over SSH: nothing installed on it, everything read remotely.

What it reads, and why this way:

- state: keepalived only tells its state through dumps it writes on a signal. One
  long-lived remote `sh` loop does, each time we write a line to it: signal
  `keepalived --signum=JSON` to the PID (pidfile or `pgrep`), wait for
  /tmp/keepalived.json, print it; fall back to the SIGUSR1/SIGUSR2 data and stats dumps
  when JSON is not compiled in; then `ip -j addr show` (who holds the VIPs) and the
  service check. One channel and no per-poll SSH round trips keeps fifty nodes at 1 s
  cheap. Sections are separated by a random boundary chosen here, so no dump content can
  forge one. Adverts/s come from the counters (`AdvertCounters`, the view takes deltas).
  The JSON dump has no vrrp_script results: on the line `scripts` (at attach, and when a
  priority, a state or the PID changed) the loop also prints the `VRRP Scripts` section
  of the data dump, whose `Status = GOOD|BAD` become `TrackResult`s.
- the past, at attach (`since` seconds, `connect --since`): first the node's clock is
  measured against ours (`ClockOffset`), then one dump is read but held back (it tells
  the log parser each instance's VIPs and base priority), then the log's last `since`
  seconds: `journalctl -u keepalived --since @T` (after a few lines from before T, so
  the parser knows each instance's state when the window opens) or the inventory's log
  file, at most `history_lines` lines. Those lines become events with their own times, corrected by
  the clock offset, handed to the fleet's `HistoryMerge` (one time order across nodes,
  so a failover reads as one story) and closed by `HistoryEnd`. Before them goes each
  instance's state at the start of the window, worked back from the dump and the log
  (which router it is in, and what it was). Then the held dump, then live.
- live logs: the same remote process that printed the past follows the log from exactly
  where the past ended (journald's cursor; the file's byte offset), so no line is lost
  or shown twice at the seam, and neither the cursor nor the offset ever leaves the
  node. Live lines are stamped with the time they arrive here: the remote clock (and
  whole-second stamps) must not skew the failover stopwatch. A stream that is lost
  resumes after the last line seen.
- facts from both are merged: a transition the log already reported is not repeated when
  the next dump shows it; VIP events come once per change; a fact older than the one
  held (the dump read before the past) does not overwrite it.

- the node itself, once per connection (and again when keepalived's PID changes): the
  running keepalived's release (`keepalived --version` of /proc/PID/exe: `NodeSeen.version`),
  and where it writes its dumps: its configuration (the inventory's `config`, else the
  `-f`/`--use-file` of /proc/PID/cmdline, else keepalived's default), read with
  haconsole's keepalived.conf parser as that release reads it (`state_dump_file`, 2.3+)
  and its $TMPDIR (/proc/PID/environ): `keepalived.dump.dump_paths`.
- notify FIFO (`notify_fifo = true` in the inventory): the FIFO keepalived writes each
  state change to (`vrrp_notify_fifo` / `notify_fifo` in its global_defs) is read as the
  first word on every transition, the moment it happens; the dumps stay for counters and
  VIPs, the log for the reasons. A FIFO gives each line to one reader: only a FIFO no
  `*_notify_fifo_script` reads is taken (see `fifo_choice`), and the backlog keepalived
  wrote while nobody read is drained unread at attach (the first dump says the state).

Actions: stop/start the service, restart keepalived, and fail over (stop keepalived on the
master so it sends priority 0, wait until another node is MASTER, start it again; with
preemption on, `warning()` says first that the VIP will come straight back).

The scripts themselves, and the parsers of what they print, are in `keepalived_remote.py`;
the facts read once per connection (release, config, dump paths, FIFO) in
`keepalived_facts.py`. This module decides when each runs and turns the answers into events.

One collector, two transports (`transport.py`): everything above reads the node through a
`Transport` (`create_process` for the poll loop and the log follower, `clock` for the
node's clock), kept up by a `Link` (which also runs one-off scripts: the actions). Over SSH
those are `SshTransport` on `ssh.NodeLink`'s connection; the namespace lab runs the same collector
on a keepalived in a local namespace (`sources/local.py`), so what the console shows of a
keepalived node is read the same way there and in production. `link` (a `LinkFactory`)
picks it; `run_action` is where an action key becomes something done on the node (the
inventory's template through the link, or the lab's own).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import asyncssh

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.config import GlobalDefs
from haconsole.keepalived.dump import (
    DumpPaths,
    InstanceSnapshot,
    dump_events,
    dump_paths,
    track_process_events,
)
from haconsole.keepalived.fifo import fifo_events, parse_fifo_line
from haconsole.keepalived.log import KeepalivedLogParser
from haconsole.sources.base import Publish
from haconsole.sources.inventory import NodeSpec
from haconsole.sources.keepalived_facts import (
    NodeFacts,
    config_path,
    config_script,
    facts_script,
    fifo_choice,
    fifo_script,
    parse_facts,
    read_global_defs,
)
from haconsole.sources.keepalived_remote import (
    LogPlan,
    PollResult,
    log_script,
    norm_address,
    parse_poll_block,
    poll_script,
)
from haconsole.sources.ssh import (
    ClockReading,
    HistoryMerge,
    NodeLink,
    SharedView,
    SshOptions,
    TemplateError,
    merge_order,
    render_template,
    template_values,
    wait_within,
)
from haconsole.sources.transport import (
    Collect,
    Link,
    LinkFactory,
    Process,
    SshTransport,
    Transport,
    drain,
    script_output,
)

__all__ = ["KeepalivedSource"]

#: keepalived logs every dump it writes (the VRRP child's, and on SIGUSR1 its parent's,
#: checker's and BFD's too); we cause one per poll, so these lines are ours.
_OWN_SIGNAL_LINE = re.compile(r"Printing [\w ]{0,30}?(?:as json|data|stats) for process\(\d+\) "
                              r"on signal")

#: How long reading the past may take before we give up on it and go live.
HISTORY_TIMEOUT = 60.0


def _history_source(spec: NodeSpec, label: str) -> str:
    """Where the past came from, for HistoryEnd (`journalctl --since 1h`)."""
    where = "journalctl" if not spec.log_file else spec.log_file
    return f"{where} --since {label}" if label else where


# ----------------------------------------------------------------------------- polls


class _Poller:
    """The remote poll loop of one session."""

    def __init__(self, proc: Process, boundary: str,
                 timeout: float) -> None:
        self.proc = proc
        self.boundary = boundary
        self.timeout = timeout

    async def poll(self, *, scripts: bool = False) -> tuple[PollResult, float]:
        """One block, parsed, and the time it arrived."""
        self.proc.stdin.write("scripts\n" if scripts else "\n")
        try:
            block = await wait_within(
                self.proc.stdout.readuntil(f"{self.boundary} end\n"), self.timeout)
        except asyncio.IncompleteReadError:
            err = await drain(self.proc.stderr)
            raise ConnectionError(
                "the remote poll loop exited" + (f": {err}" if err else "")) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise TimeoutError(f"no dump within {self.timeout:.0f} s") from None
        return parse_poll_block(block, self.boundary), time.time()


# ----------------------------------------------------------------------------- the node


class KeepalivedSource:
    """One stock keepalived node over SSH, as a `Source`.

    `since`: seconds of the node's log read at attach (0: live only); `since_label` says
    it as the operator did (`1h`), for HistoryEnd. `view`: the fleet's shared fold
    (failover waits, preemption warnings); `merge`: the fleet's history merge. `link`:
    how the node is reached (default: SSH with `options`; see `LinkFactory`).
    """

    def __init__(self, spec: NodeSpec, options: SshOptions | None = None, *,
                 view: SharedView | None = None, merge: HistoryMerge | None = None,
                 since: float = 3600.0, since_label: str = "",
                 failover_timeout: float = 15.0, link: LinkFactory | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.options = options or SshOptions()
        self._link_factory = link or self._ssh_link
        self.view = view or SharedView()
        self.merge = merge
        self.since = max(0.0, since)
        self.since_label = since_label
        self.failover_timeout = failover_timeout
        self.link: Link | None = None
        self.snapshots: dict[str, InstanceSnapshot] = {}
        self.polls = 0
        self.clock: ClockReading | None = None
        self.facts: NodeFacts | None = None  # the keepalived read (release, PID...)
        self.paths = DumpPaths()  # where it writes its dumps
        self.fifo = ""  # the notify FIFO read ("": none)
        # The last FIFO lines read, with when they arrived (tests, benchmarks).
        self.fifo_read: collections.deque[tuple[float, str]] = collections.deque(maxlen=64)
        self._said: set[str] = set()  # one-off warnings already logged
        self._publish: Publish = lambda e: None
        self._poll_now = asyncio.Event()
        self._polled = asyncio.Event()
        self._resume: float | None = None  # node time of the last log line seen
        self._submitted = False
        self._held: list[ev.Event] | None = None
        # What has been published, kept across reconnects: facts are said once, a fact
        # older than the one said (with its time) does not replace it.
        self._states: dict[str, ev.State] = {}
        self._state_t: dict[str, float] = {}
        self._holding: set[tuple[str, str]] = set()
        self._vip_t: dict[tuple[str, str], float] = {}
        self._tracks: dict[str, bool] = {}
        self._track_t: dict[str, float] = {}
        self._effective: dict[str, int] = {}  # each instance's effective priority now
        self._priority_said: dict[str, tuple[int, str]] = {}  # last PriorityChange (new, cause)
        self._reset_session()

    def _reset_session(self) -> None:
        self._sent_state: dict[str, tuple[Any, ...]] = {}
        self._service: bool | None = None
        self._running: bool | None = None
        self._pid = ""
        self._dump_failures = 0
        self._have_counters = False
        self._want_scripts = True
        self._first_poll = True
        self._facts_stale = False  # keepalived's PID changed: read the node's facts again
        self._parser = self._new_parser()

    def _new_parser(self, node_t: float | None = None) -> KeepalivedLogParser:
        """A parser reading stamps as the node writes them: its zone, its year."""
        clock = self.clock
        if clock is None:
            return KeepalivedLogParser(self.spec.name)
        year = clock.year(node_t if node_t is not None else clock.to_node(time.time()))
        return KeepalivedLogParser(self.spec.name, year=year, tz=clock.zone)

    # ------------------------------------------------------------------ Source
    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self.link = self._link_factory(self._link_event, self._collect)
        self.link.start()

    def _ssh_link(self, publish: Publish, collect: Collect) -> Link:
        """The default: an SSH connection kept up, the collector on an SshTransport."""

        async def session(conn: asyncssh.SSHClientConnection) -> None:
            await collect(SshTransport(conn, sudo=self.spec.sudo,
                                       timeout=self.options.command_timeout))

        return NodeLink(self.spec, self.options, publish, session, agent="keepalived")

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()

    def supports(self, command: type[cmd.Command]) -> bool:
        return command in (cmd.StopService, cmd.StartService, cmd.RestartAgent, cmd.Failover)

    # ------------------------------------------------------------------ publishing
    def _send(self, event: ev.Event) -> None:
        self.view.apply(event)
        self._publish(event)

    def _link_event(self, event: ev.Event) -> None:
        """Connection facts (NodeSeen, SourceHealth) are about now: never held back. A
        node that cannot connect is not waited for by the fleet's history merge."""
        if isinstance(event, ev.SourceHealth) and not event.ok and self.merge is not None \
                and not self._submitted:
            self.merge.withdraw(self.name)
        self._send(event)

    def _out(self, event: ev.Event) -> None:
        """Publish, or hold while the node's past is being published."""
        if self._held is not None:
            self._held.append(event)
        else:
            self._send(event)

    def _release(self) -> None:
        held, self._held = self._held, None
        for event in held or ():
            self._send(event)

    def _emit(self, event: ev.Event, out: Callable[[ev.Event], None] | None = None) -> None:
        """Publish once per fact: drop what the other reader (log or dump) already said,
        and what is older than the fact held (a dump read before the log's last lines).
        `out`: where the past goes (not published yet)."""
        if isinstance(event, ev.Transition):
            if event.t < self._state_t.get(event.instance, 0.0):
                return
            known = self._states.get(event.instance)
            if known == event.new:
                return
            if known is not None and known != event.old:
                event = dataclasses.replace(event, old=known)
            self._states[event.instance] = event.new
            self._state_t[event.instance] = event.t
        elif isinstance(event, ev.VipAdded | ev.VipRemoved):
            if not event.vip:
                return
            key = (event.instance, norm_address(event.vip))
            if event.t < self._vip_t.get(key, 0.0):
                return
            added = isinstance(event, ev.VipAdded)
            if (key in self._holding) == added:
                return
            if added:
                self._holding.add(key)
            else:
                self._holding.discard(key)
            self._vip_t[key] = event.t
        elif isinstance(event, ev.PriorityChange):
            said = (event.new, event.cause)
            if self._priority_said.get(event.instance) == said:
                return  # the FIFO said it; the log's line adds its cause, else nothing
            self._priority_said[event.instance] = said
            self._effective[event.instance] = event.new
        elif isinstance(event, ev.TrackResult):
            self._tracks[event.track] = event.ok
            self._track_t[event.track] = max(event.t, self._track_t.get(event.track, 0.0))
        elif isinstance(event, ev.AdvertSent | ev.AdvertReceived) and self._have_counters \
                and out is None:
            return  # the dump's counters already count them (not the past's: before them)
        (out or self._out)(event)

    # ------------------------------------------------------------------ session
    async def _collect(self, transport: Transport) -> None:
        """One session on the node: attach (clock, first dump, the past), then live."""
        self._reset_session()
        self._submitted = False
        await self._measure_clock(transport)
        await self._read_facts(transport)
        self._parser = self._new_parser()
        boundary = secrets.token_hex(8)
        proc = await transport.create_process(poll_script(self.spec, boundary, self.paths))
        poller = _Poller(proc, boundary, max(5.0, 3 * self.spec.interval + 2))
        log_task: asyncio.Task[None] | None = None
        fifo_task: asyncio.Task[None] | None = None
        fifo = await self._open_fifo(transport) if self.fifo else None
        try:
            first, first_t = await poller.poll(scripts=True)
            self._want_scripts = False
            self.polls += 1
            for snap in first.snapshots or ():  # the parser must know VIPs and priorities
                self._parser.set_vips(snap.name, snap.vips, snap.excluded_vips)
                self._parser.set_base_priority(snap.name, snap.base_priority)
            plan, source = self._plan()
            log = await self._open_log(transport, plan)
            history = self._history(log[1] if log else [], plan, first)
            self._held = []
            self._handle_poll(first, first_t)
            self._polled.set()
            log_task = asyncio.get_running_loop().create_task(
                self._log_loop(transport, log[0] if log else None))
            if fifo is not None:
                fifo_task = asyncio.get_running_loop().create_task(self._fifo_loop(*fifo))
            if plan.since_node is not None:
                await self._publish_history(history, source)
            self._release()
            await self._poll_loop(poller, transport)
        finally:
            self._release()
            for task in (log_task, fifo_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if fifo is not None:
                fifo[0].close()
            proc.close()

    def _note(self, text: str, level: str = "warning") -> None:
        """A line about the collector itself, once per wording."""
        if text not in self._said:
            self._said.add(text)
            self._send(ev.LogLine(time.time(), self.name, f"[haconsole] {text}", level))

    async def _read_facts(self, transport: Transport) -> bool:
        """The keepalived this connection reads (`facts_script`): its release (NodeSeen),
        where it writes its dumps, and the notify FIFO to follow. True when the dumps
        moved since the last reading (the poll loop reads them from the old places)."""
        boundary = secrets.token_hex(8)
        timeout = self.options.command_timeout
        facts = parse_facts(await script_output(transport, facts_script(self.spec, boundary),
                                          timeout), boundary)
        if facts.release and (self.facts is None or facts.release != self.facts.release):
            self._send(ev.NodeSeen(time.time(), self.name, agent="keepalived",
                                   version=facts.release))
        self.facts = facts
        path = config_path(self.spec, facts)
        text = await script_output(transport, config_script(path, boundary), timeout)
        defs = GlobalDefs()
        head, _, body = text.partition("\n")
        if head == f"{boundary} ok":
            defs = read_global_defs(body, path, facts.release)
        elif facts.pid or self.spec.config:  # no keepalived, no conf named: nothing to say
            why = head.removeprefix(f"{boundary} error ").strip() or "no answer"
            self._note(f"cannot read keepalived's configuration {path} ({why}): its dumps "
                       "are read from the default places")
        paths = dump_paths(tmp_dir=facts.tmp_dir, state_dump_file=defs.state_dump_file,
                           release=facts.release)
        moved, self.paths = paths != self.paths, paths
        if self.spec.notify_fifo:
            self.fifo, why = fifo_choice(defs)
            if not self.fifo:
                self._note(f"notify_fifo: {why}; transitions come from the log and the "
                           "dumps")
        return moved

    async def _open_fifo(self, transport: Transport) -> tuple[Process, str] | None:
        """Start following the notify FIFO: once its backlog is drained (or it is found
        missing), the process and its marks' prefix; None when it cannot start."""
        boundary = secrets.token_hex(8)
        proc = await transport.create_process(fifo_script(self.fifo, boundary))
        try:
            first = await wait_within(proc.stdout.readline(), self.options.command_timeout)
        except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
            first = ""
        if first.strip() == f"{boundary} missing":
            self._note(f"notify FIFO {self.fifo} does not exist (yet): read once keepalived "
                       "makes it")
        elif first.strip() != f"{boundary} open":
            proc.close()
            self._note(f"cannot read the notify FIFO {self.fifo}: "
                       + (await drain(proc.stderr) or "no answer"))
            return None
        return proc, f"{boundary} "

    async def _fifo_loop(self, proc: Process, mark: str) -> None:
        """Each FIFO line as it comes: the transition (or priority change) it says,
        stamped on arrival, then a poll for the rest (VIPs, counters)."""
        async for line in proc.stdout:
            text = line.rstrip("\n")
            parsed = parse_fifo_line(text) if not text.startswith(mark) else None
            if parsed is None:
                continue
            self.fifo_read.append((time.time(), text))
            snap = self.snapshots.get(parsed.name)
            priority = self._effective.get(parsed.name,
                                           snap.effective_priority if snap else None)
            events = fifo_events(parsed, node=self.name, t=time.time(),
                                 state=self._states.get(parsed.name), priority=priority,
                                 base=snap.base_priority if snap is not None else 0)
            for event in events:
                self._emit(event)
            if events:
                self.poll_now()
        self._note(f"notify FIFO {self.fifo}: the reader ended: "
                   + (await drain(proc.stderr) or "?"))

    async def _measure_clock(self, transport: Transport) -> None:
        try:
            self.clock = await transport.clock()
        except (ValueError, TimeoutError, asyncio.TimeoutError, asyncssh.Error) as err:
            self.clock = None
            self._send(ev.LogLine(time.time(), self.name,
                                  f"[haconsole] cannot read the node's clock ({err}): its "
                                  "log times are taken as they are", "warning"))
            return
        if self.clock.offset == 0 and self.clock.error == 0:
            return  # the node runs on this machine's clock (a local transport): no news
        self._send(ev.ClockOffset(time.time(), self.name, offset=self.clock.offset,
                                  error=self.clock.error))

    def _to_node(self, t: float) -> float:
        return self.clock.to_node(t) if self.clock is not None else t

    def _to_console(self, t: float) -> float:
        return self.clock.to_console(t) if self.clock is not None else t

    def _plan(self) -> tuple[LogPlan, str]:
        """The past to read: after the last line seen (a reconnect), else the `since`
        window, else none."""
        cap = self.spec.history_lines
        if self._resume is not None:
            return LogPlan(self._resume, cap, after=True), \
                _history_source(self.spec, "") + " after the last line seen"
        if self.since > 0:
            return LogPlan(self._to_node(time.time() - self.since), cap), \
                _history_source(self.spec, self.since_label or f"{self.since:g}s")
        return LogPlan(), ""

    async def _open_log(self, transport: Transport, plan: LogPlan
                        ) -> tuple[Process, list[str]] | None:
        """Start the log process; its past (lines up to the `live` mark). None when the
        past cannot be read in time: then live only (the stream's problem is logged)."""
        boundary = secrets.token_hex(8)
        proc = await transport.create_process(log_script(self.spec, boundary, plan))
        mark = f"{boundary} live"
        lines: list[str] = []

        async def past() -> None:
            async for line in proc.stdout:
                text = line.rstrip("\n")
                if text == mark:
                    return
                lines.append(text)
            raise EOFError

        try:
            await wait_within(past(), HISTORY_TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError, EOFError) as err:
            proc.close()
            why = (f"not read within {HISTORY_TIMEOUT:g} s" if not isinstance(err, EOFError)
                   else "the log command ended: " + (await drain(proc.stderr) or "?"))
            self._send(ev.LogLine(time.time(), self.name,
                                  f"[haconsole] cannot read keepalived's log: {why}",
                                  "warning"))
            return None
        return proc, lines

    def _history(self, lines: list[str], plan: LogPlan, first: PollResult | None, *,
                 adverts: bool = True) -> list[ev.Event]:
        """The past's events on the console's clock, deduplicated like live ones; for a
        `since` window (`first`: the dump held back) after each instance's state at its
        start. The node's parser reads them, and then goes on with the live lines.
        `adverts`: False when the dump's counters already counted them."""
        if plan.since_node is None:
            return []
        if not plan.after:  # a parser in the node's year when the window opened
            self._parser = self._new_parser(plan.since_node)
        for snap in first.snapshots or () if first is not None else self.snapshots.values():
            self._parser.set_vips(snap.name, snap.vips, snap.excluded_vips)
            self._parser.set_base_priority(snap.name, snap.base_priority)
        raw: list[ev.Event] = []
        for line in lines:
            if _OWN_SIGNAL_LINE.search(line):
                continue
            events = self._parser.feed(line)
            if not events:
                continue
            node_t = events[-1].t
            self._resume = node_t if self._resume is None else max(self._resume, node_t)
            if node_t < plan.since_node or (plan.after and node_t <= plan.since_node):
                continue  # before the window: it only taught the parser
            raw.extend(dataclasses.replace(e, t=self._to_console(e.t)) for e in events
                       if adverts or not isinstance(e, ev.AdvertSent | ev.AdvertReceived))
        out: list[ev.Event] = []
        if first is not None and not plan.after:
            out.extend(self._window_start(self._to_console(plan.since_node), raw, first))
            for event in out:
                self._emit(event, out=lambda e: None)  # what they say is known from here
        for event in raw:
            self._emit(event, out=out.append)
        return out

    def _window_start(self, t_start: float, raw: list[ev.Event], first: PollResult
                      ) -> list[ev.Event]:
        """Each instance as it was when the window opened, worked back from the dump (now)
        and the log (what changed since): the router it is in (the view groups the past
        by VRID), its state and priority then, the VIPs it held then."""
        node = self.spec.name
        out: list[ev.Event] = []
        held = first.all_addresses()
        for snap in (self._with_address(s, first) for s in first.snapshots or ()):
            mine = [e for e in raw if getattr(e, "instance", None) == snap.name]
            changes = [e for e in mine if isinstance(e, ev.Transition)]
            prios = [e for e in mine if isinstance(e, ev.PriorityChange)]
            since = self._since(snap)
            if changes:
                state, t, since = ev.State(changes[0].old), t_start, None
            else:
                state = snap.event_state
                t = min(t_start, since) if since is not None else t_start
            out.append(ev.InstanceState(
                t, node, instance=snap.name, vrid=snap.vrid, state=state,
                base_priority=snap.base_priority,
                effective_priority=prios[0].old if prios else snap.effective_priority,
                interface=snap.interface, version=snap.version, advert_int=snap.advert_int,
                vips=snap.vips, address=snap.address, since=since))
            if state != ev.State.MASTER:
                continue  # only a master holds VIPs (keepalived starting "removes" them too)
            for vip in snap.vips:
                said = [e for e in mine if isinstance(e, ev.VipAdded | ev.VipRemoved)
                        and norm_address(e.vip) == norm_address(vip)]
                # held then: removed first in the window, or held throughout (since the
                # takeover the node reports, when that is all that happened)
                if isinstance(said[0], ev.VipRemoved) if said else norm_address(vip) in held:
                    out.append(ev.VipAdded(since if since is not None else t_start, node,
                                           instance=snap.name, vip=vip))
        return out

    async def _publish_history(self, history: list[ev.Event], source: str) -> None:
        end = ev.HistoryEnd(time.time(), self.name, source=source, events=len(history))
        self._submitted = True
        if self.merge is not None:
            await self.merge.submit(self.name, history, end, self._send)
            return
        for event in merge_order({self.name: history}):
            self._send(event)
        self._send(end)

    async def _poll_loop(self, poller: _Poller, transport: Transport) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await wait_within(self._poll_now.wait(), self.spec.interval)
            self._poll_now.clear()
            result, t = await poller.poll(scripts=self._want_scripts)
            self._want_scripts = False
            self.polls += 1
            self._handle_poll(result, t)
            self._polled.set()
            if self._facts_stale:  # a new keepalived: its release, its dumps' places
                self._facts_stale = False
                if await self._read_facts(transport):
                    raise ConnectionError("keepalived restarted with its dumps elsewhere: "
                                          "reading them there")

    def _since(self, snap: InstanceSnapshot) -> float | None:
        """When the instance entered its state, as the node says, on our clock."""
        return self._to_console(snap.last_transition) if snap.last_transition > 0 else None

    def _handle_poll(self, result: PollResult, t: float) -> None:
        node = self.spec.name
        if result.pid != self._pid:
            self._want_scripts = self._want_scripts or not self._first_poll
            self._facts_stale = bool(result.pid) and not self._first_poll
            self._pid = result.pid  # keepalived (re)started: its checks start over
        if result.service_up is not None and result.service_up != self._service:
            self._service = result.service_up
            self._emit(ev.ServiceState(t, node, service=self.spec.service, up=result.service_up))
        if not result.running:
            if self._running is not False:
                self._emit(ev.LogLine(t, node, "[haconsole] keepalived is not running",
                                      "warning"))
            self._running = False
            for name, state in list(self._states.items()):
                if state != ev.State.STOP:
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
        self._scripts(result, t)
        for event in track_process_events(result.processes, node=node, t=t):
            assert isinstance(event, ev.TrackResult)
            if self._tracks.get(event.track) != event.ok:
                self._emit(event)
        self._first_poll = False
        if self._want_scripts:
            self._poll_now.set()

    def _dump(self, result: PollResult, t: float) -> None:
        node = self.spec.name
        if self._dump_failures >= 3:
            self._emit(ev.SourceHealth(t, node, ok=True, detail="keepalived's dump readable"))
        self._dump_failures = 0
        snapshots = tuple(self._with_address(s, result) for s in result.snapshots or ())
        previous = self.snapshots
        self.snapshots = {s.name: s for s in snapshots}
        self._have_counters = any(s.stats is not None for s in snapshots)
        if not self._first_poll and any(
                (p := previous.get(s.name)) is None
                or (p.state, p.effective_priority) != (s.state, s.effective_priority)
                for s in snapshots):
            self._want_scripts = True  # a priority moved: which check says so?
        parsed = self._parser.states
        if any(parsed.get(s.name) not in (None, s.event_state) and
               t >= self._state_t.get(s.name, 0.0) for s in snapshots):
            # The log (a missed line) disagrees with keepalived itself: start the parser
            # afresh, or it would swallow the next "Entering X STATE" as no news.
            self._parser = self._new_parser()
        for snap in snapshots:
            self._parser.set_vips(snap.name, snap.vips, snap.excluded_vips)
            self._parser.set_base_priority(snap.name, snap.base_priority)
            self._effective[snap.name] = snap.effective_priority
            known = self._states.get(snap.name)
            if known is not None and known != snap.event_state:
                self._emit(ev.Transition(t, node, snap.name, known, snap.event_state,
                                         "seen in keepalived's dump"))
            elif known is None:
                self._states[snap.name] = snap.event_state
                self._state_t[snap.name] = t
        for event in dump_events(snapshots, node=node, t=t, previous=tuple(previous.values())):
            if isinstance(event, ev.InstanceState):
                snap = self.snapshots[event.instance]
                event = dataclasses.replace(event, since=self._since(snap))
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
        vips = {norm_address(v) for v in snap.vips}
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
                cls = ev.VipAdded if norm_address(vip) in held else ev.VipRemoved
                at = t
                since = self._since(snap)
                if cls is ev.VipAdded and self._first_poll and since is not None and \
                        snap.event_state == ev.State.MASTER and \
                        (snap.name, norm_address(vip)) not in self._vip_t:
                    at = since  # held before we came: since the takeover the node reports
                self._emit(cls(at, self.spec.name, instance=snap.name, vip=vip))

    def _scripts(self, result: PollResult, t: float) -> None:
        """vrrp_script results from the data dump, when the log has not said them (at
        attach, or a line missed): the Checks column shows a failing check."""
        for name, ok in sorted((result.scripts or {}).items()):
            if self._tracks.get(name) == ok or t < self._track_t.get(name, 0.0):
                continue
            self._emit(ev.TrackResult(t, self.spec.name, track=name, ok=ok,
                                      detail=f"Status = {'GOOD' if ok else 'BAD'} in "
                                             "keepalived's data dump"))

    # ------------------------------------------------------------------ live logs
    async def _log_loop(self, transport: Transport, proc: Process | None) -> None:
        """Follow the log process started at attach; if it ends, start another that
        resumes after the last line seen."""
        while True:
            if proc is not None:
                try:
                    async for line in proc.stdout:
                        self._log_line(line.rstrip("\n"))
                finally:
                    proc.close()
                err = await drain(proc.stderr)
                self._emit(ev.LogLine(time.time(), self.spec.name,
                                      "[haconsole] log stream ended"
                                      + (f": {err}" if err else "") + "; restarting in 5 s",
                                      "warning"))
            await asyncio.sleep(5.0)
            plan = LogPlan(self._resume, self.spec.history_lines, after=True) \
                if self._resume is not None else LogPlan()
            log = await self._open_log(transport, plan)
            if log is None:
                proc = None
                continue
            proc, lines = log
            events = self._history(lines, plan, None, adverts=not self._have_counters)
            for event in merge_order({self.name: events}):
                self._out(event)
            if plan.since_node is not None:
                self._out(ev.HistoryEnd(time.time(), self.name, events=len(events),
                                        source=_history_source(self.spec, "")
                                        + " after the log stream restarted"))

    def _log_line(self, line: str) -> None:
        now = time.time()
        if _OWN_SIGNAL_LINE.search(line):
            return  # keepalived's note that it obeyed our dump signal: noise, every poll
        events = self._parser.feed(line)
        if not events:
            return
        self._resume = events[-1].t
        for event in events:
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
            peers = self.view.peers(snap.vrid, exclude=self.name)
            higher = [p for p in peers
                      if self.view.priority(p, snap.vrid) > snap.base_priority]
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
        return [s for s in self.snapshots.values() if s.event_state == ev.State.MASTER]

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        """Run a command on the node; publishes a CommandResult with the outcome."""
        try:
            ok, detail = await self._execute(command)
        except TemplateError as err:
            ok, detail = False, f"bad command template: {err}"
        self._send(ev.CommandResult(time.time(), self.name, command=command.describe(),
                                    ok=ok, detail=detail))
        self.poll_now()
        return ok, detail

    async def run_action(self, key: str, **values: str) -> tuple[bool, str]:
        """Do what the action `key` (an inventory command key: stop_service,
        start_keepalived...) means on the node: its template, run through the link.
        (ok, one-line summary). The namespace lab overrides it: its processes are its own."""
        assert self.link is not None
        script = render_template(self.spec.command(key), template_values(self.spec, **values))
        out = await self.link.run(script)
        return out.ok, out.summary()

    async def _execute(self, command: cmd.Command) -> tuple[bool, str]:
        if self.link is None or not self.link.connected.is_set():
            why = self.link.last_error if self.link is not None else "not started"
            return False, f"{self.name} is not connected ({why or 'connecting'})"
        if isinstance(command, cmd.StopService | cmd.StartService):
            key = "stop_service" if isinstance(command, cmd.StopService) else "start_service"
            ok, summary = await self.run_action(key, service=command.service)
            verb = "stopped" if key == "stop_service" else "started"
            return ok, (f"{command.service} {verb} on {self.name}" if ok
                        else f"{key} failed on {self.name}: {summary}")
        if isinstance(command, cmd.RestartAgent):
            ok, summary = await self.run_action("restart_agent")
            return ok, (f"keepalived restarted on {self.name}" if ok
                        else f"restart_agent failed on {self.name}: {summary}")
        if isinstance(command, cmd.Failover):
            return await self._failover(command)
        return False, f"a keepalived node cannot run {command.name}"

    async def _failover(self, command: cmd.Failover) -> tuple[bool, str]:
        targets = [s for s in self._targets(command) if s.event_state == ev.State.MASTER]
        if not targets:
            what = command.instance or "any instance"
            return False, f"{self.name} is not MASTER of {what}"
        warning = self.warning(command)
        if warning:
            self._send(ev.LogLine(time.time(), self.name, f"[haconsole] {warning}",
                                  "warning"))
        began = time.monotonic()
        ok, summary = await self.run_action("stop_keepalived")
        if not ok:
            return False, f"stop_keepalived failed on {self.name}: {summary}"
        parts = [f"keepalived stopped on {self.name} (priority 0 sent)"]
        vrids = sorted({s.vrid for s in targets})
        for vrid in vrids:
            master = await self.view.wait_master(vrid, exclude=self.name,
                                                 timeout=self.failover_timeout)
            if master is None:
                parts.append(f"no new MASTER of VRID {vrid} seen within "
                             f"{self.failover_timeout:g} s")
            else:
                parts.append(f"{master} is MASTER of VRID {vrid} after "
                             f"{time.monotonic() - began:.1f} s")
        ok2, summary2 = await self.run_action("start_keepalived")
        parts.append(f"keepalived started again on {self.name}" if ok2
                     else f"start_keepalived FAILED on {self.name}: {summary2}")
        if warning:
            parts.append("preemption will pull the VIP back")
        moved = all("is MASTER" in p for p in parts[1:1 + len(vrids)])
        return ok2 and moved, "; ".join(parts)
