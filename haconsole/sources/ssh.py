"""SSH plumbing for remote sources: connections, host keys, reconnects, quoting.

Why one module: every remote source (stock keepalived, haconsole agent) needs the same
guarantees, and they are easy to get subtly wrong:

- the user's OpenSSH setup is honoured (asyncssh reads ~/.ssh/config, known_hosts, the
  agent and ~/.ssh/id_*), and host keys are verified: an unknown key is refused unless
  `--accept-new-host-keys` (then recorded, like OpenSSH's `accept-new`); a changed key is
  always refused, with a message naming the host and how to fix it;
- a lost connection is reported (the node turns stale) and retried with capped
  exponential backoff; each node has its own task, so one bad node never blocks another;
- every remote command is built here: templates are the operator's shell text, the
  node's values substituted into them are shell-quoted, and the whole script runs under
  `sh -c` (`sudo -n sh -c` with `sudo = true`) so the login shell does not matter.
  Nothing received from the network is ever put into a command.

And what a fleet of nodes shares: each node's clock measured against the console's
(`measure_clock`), the nodes' pasts published as one time-ordered sequence
(`HistoryMerge`), and one fold of everything they publish (`SharedView`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shlex
import string
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from haconsole.cluster import events as ev
from haconsole.cluster.view import ClusterView
from haconsole.sources.base import Publish, end_task
from haconsole.sources.inventory import NodeSpec

__all__ = [
    "CLOCK_SCRIPT",
    "TEMPLATE_FIELDS",
    "Backoff",
    "ClockReading",
    "CommandOutput",
    "HistoryMerge",
    "HostKeyRefused",
    "NodeLink",
    "SharedView",
    "SshOptions",
    "TemplateError",
    "best_offset",
    "measure_clock",
    "merge_order",
    "open_connection",
    "parse_clock",
    "parse_zone",
    "remote_command",
    "render_template",
    "wait_within",
]

#: Placeholders a command template may use; each is replaced by a shell-quoted value.
TEMPLATE_FIELDS = ("node", "service", "pidfile", "log_file")


class TemplateError(ValueError):
    """A command template uses a placeholder we do not fill, or a format feature."""


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill `{field}` placeholders with shell-quoted values (`{{`/`}}` are literal braces).

    Only bare names are allowed: no attribute access, index, conversion or format spec,
    so a template cannot reach into Python objects.
    """
    out: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise TemplateError(f"bad template: {err}") from None
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise TemplateError(f"placeholder {{{name}}} must be a plain name")
        if name not in TEMPLATE_FIELDS:
            raise TemplateError(f"unknown placeholder {{{name}}} "
                                f"(known: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})")
        if name not in values:
            raise TemplateError(f"no value for {{{name}}}")
        out.append(shlex.quote(values[name]))
    return "".join(out)


def remote_command(script: str, *, sudo: bool = False) -> str:
    """The exec string for a POSIX sh script: `sh -c 'script'`, `sudo -n` in front if asked."""
    prefix = "sudo -n sh -c " if sudo else "sh -c "
    return prefix + shlex.quote(script)


def template_values(spec: NodeSpec, **extra: str) -> dict[str, str]:
    """The values `render_template` fills for a node."""
    values = {"node": spec.name, "service": spec.service, "pidfile": spec.pidfile,
              "log_file": spec.log_file}
    values.update(extra)
    return values


T = TypeVar("T")


async def wait_within(aw: Awaitable[T], timeout: float | None) -> T:
    """`asyncio.wait_for` that never swallows a cancellation (Python < 3.12 can, when the
    awaited thing completes at the moment we are cancelled: a stopped source would then
    poll forever). TimeoutError when `timeout` passes."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise TimeoutError
    return task.result()


# ----------------------------------------------------------------------------- options


@dataclass
class Backoff:
    """Capped exponential backoff with jitter: 0.5, 1, 2, 4 ... `maximum` seconds."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        """The delay before the next attempt (and count this one)."""
        base = min(self.maximum, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        spread = base * self.jitter
        return max(0.0, min(self.maximum, base + self.rng.uniform(-spread, spread)))

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class SshOptions:
    """How to connect; the defaults are the ones `haconsole connect` uses."""

    known_hosts: str = ""  # "" = asyncssh's default (~/.ssh/config, else ~/.ssh/known_hosts)
    ssh_config: str = ""  # "" = ~/.ssh/config when it exists
    accept_new_host_keys: bool = False
    connect_timeout: float = 10.0
    keepalive_interval: float = 5.0
    keepalive_count_max: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    stable_after: float = 10.0  # a session this long resets the backoff
    command_timeout: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)  # more asyncssh.connect() options

    def backoff(self) -> Backoff:
        return Backoff(initial=self.backoff_initial, maximum=self.backoff_max)

    def known_hosts_path(self) -> Path:
        """The file new keys are written to and unknown/changed is decided against."""
        if self.known_hosts:
            return Path(self.known_hosts).expanduser()
        return Path("~", ".ssh", "known_hosts").expanduser()


# ----------------------------------------------------------------------------- host keys


class HostKeyRefused(Exception):
    """The server's host key is unknown or changed; the message says what to do."""


class _Client(asyncssh.SSHClient):
    """Remembers the key a server offered when known_hosts did not trust it."""

    def __init__(self, spec: NodeSpec, options: SshOptions) -> None:
        self.spec = spec
        self.options = options
        self.offered: asyncssh.SSHKey | None = None
        self.known: bool = False
        self.where: tuple[str, int] = ("", 22)
        self.accepted = False

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        self.offered = key
        self.where = (host, port)
        path = self.options.known_hosts_path()
        try:
            trusted = asyncssh.match_known_hosts(str(path), host, addr, port)[0] \
                if path.is_file() else []
        except (OSError, ValueError):
            trusted = []
        self.known = bool(trusted)
        if not self.known and self.options.accept_new_host_keys:
            self.accepted = True
            return True
        return False


def _fingerprint(key: asyncssh.SSHKey | None) -> str:
    return key.get_fingerprint("sha256") if key is not None else "?"


def _host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def refusal_message(spec: NodeSpec, client: _Client, path: Path) -> str:
    """Words for a refused host key: which node, which host, what to run."""
    host, port = client.where
    host = host or spec.host
    pattern = _host_pattern(host, port or 22)
    fp = _fingerprint(client.offered)
    if client.known:
        return (f"{spec.name}: HOST KEY CHANGED for {pattern} (offered {fp}); refusing to "
                f"connect: this may be a man-in-the-middle. If the change is expected, "
                f"remove the old key with `ssh-keygen -R '{pattern}' -f {path}` and reconnect.")
    return (f"{spec.name}: unknown host key for {pattern} (offered {fp}), not in {path}; "
            f"refusing to connect. Check the fingerprint with the node's administrator, then "
            f"add it (`ssh {'-p ' + str(port) + ' ' if port and port != 22 else ''}{host}` "
            f"once, or `ssh-keyscan` after checking), or run with --accept-new-host-keys.")


def _record_host_key(path: Path, host: str, port: int, key: asyncssh.SSHKey) -> None:
    """Append an accepted key to known_hosts (accept-new), creating ~/.ssh if needed."""
    line = key.export_public_key("openssh").decode().split()
    entry = f"{_host_pattern(host, port)} {line[0]} {line[1]}\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(entry)


async def open_connection(spec: NodeSpec, options: SshOptions) -> asyncssh.SSHClientConnection:
    """Connect to one node, verifying its host key (HostKeyRefused if not trusted)."""
    kwargs: dict[str, Any] = {
        "connect_timeout": options.connect_timeout,
        "keepalive_interval": options.keepalive_interval,
        "keepalive_count_max": options.keepalive_count_max,
    }
    if spec.port:
        kwargs["port"] = spec.port
    if spec.user:
        kwargs["username"] = spec.user
    if spec.jump:
        kwargs["tunnel"] = spec.jump
    if spec.identity_file:
        kwargs["client_keys"] = [spec.identity_file]
    if options.known_hosts:
        path = options.known_hosts_path()
        # A missing file trusts nothing (asyncssh would fail to read it): still verified.
        kwargs["known_hosts"] = str(path) if path.exists() else b""
    if options.ssh_config:
        kwargs["config"] = [options.ssh_config]
    kwargs.update(options.extra)
    holder: list[_Client] = []

    def factory() -> _Client:
        client = _Client(spec, options)
        holder.append(client)
        return client

    try:
        conn = await asyncssh.connect(spec.host, client_factory=factory, **kwargs)
    except asyncssh.HostKeyNotVerifiable:
        client = holder[-1] if holder else _Client(spec, options)
        raise HostKeyRefused(refusal_message(spec, client, options.known_hosts_path())) from None
    accepted = holder[-1] if holder else None
    if accepted is not None and accepted.accepted and accepted.offered is not None:
        host, port = accepted.where
        with contextlib.suppress(OSError):
            _record_host_key(options.known_hosts_path(), host, port, accepted.offered)
    return conn


# ----------------------------------------------------------------------------- link


@dataclass(frozen=True)
class CommandOutput:
    """What a remote command did (stdout/stderr decoded, trimmed for display)."""

    ok: bool
    exit_status: int | None
    stdout: str
    stderr: str

    def summary(self) -> str:
        """One line an operator reads: exit status and the last line of stderr."""
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()
        last = tail[-1][:200] if tail else ""
        status = "ok" if self.ok else f"exit status {self.exit_status}"
        return f"{status}{': ' + last if last else ''}"


Session = Callable[[asyncssh.SSHClientConnection], Awaitable[None]]


class NodeLink:
    """One node's connection, kept up: connect, run the session, reconnect with backoff.

    `session(conn)` is the source's collector; when it returns or raises, the connection
    is closed, the node is reported stale and a new connection is tried after a backoff
    delay. Health goes out as `SourceHealth` events; `NodeSeen` on every (re)connect.
    """

    def __init__(self, spec: NodeSpec, options: SshOptions, publish: Publish,
                 session: Session, *, agent: str = "keepalived") -> None:
        self.spec = spec
        self.options = options
        self.publish = publish
        self.session = session
        self.agent = agent
        self.backoff = options.backoff()
        self.conn: asyncssh.SSHClientConnection | None = None
        self.connected = asyncio.Event()
        self.attempts = 0
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"ssh-{self.spec.name}")

    async def stop(self) -> None:
        self._stopping = True
        await end_task(self._task)
        self._task = None
        self._close()

    def _close(self) -> None:
        conn, self.conn = self.conn, None
        self.connected.clear()
        if conn is not None:
            conn.close()

    def health(self, ok: bool, detail: str) -> None:
        self.publish(ev.SourceHealth(time.time(), self.spec.name, ok=ok, detail=detail))

    async def _run(self) -> None:
        while not self._stopping:
            self.attempts += 1
            try:
                conn = await open_connection(self.spec, self.options)
            except HostKeyRefused as err:
                self._retry_later(str(err))
                await asyncio.sleep(self.backoff.maximum)
                continue
            except (OSError, asyncssh.Error, asyncio.TimeoutError, TimeoutError,
                    ValueError) as err:
                delay = self.backoff.next()
                self._retry_later(f"{self.spec.name}: cannot connect to {self.spec.target}: "
                                  f"{_reason(err)}; retrying in {delay:.1f} s")
                await asyncio.sleep(delay)
                continue
            self.conn = conn
            self.connected.set()
            self.last_error = ""
            began = time.monotonic()
            self.publish(ev.NodeSeen(time.time(), self.spec.name, address=self.spec.host,
                                     agent=self.agent))
            self.health(True, f"connected to {self.spec.target}")
            reason = "session ended"
            try:
                await self.session(conn)
            except (OSError, asyncssh.Error, asyncio.TimeoutError, TimeoutError,
                    asyncio.IncompleteReadError, ConnectionError) as err:
                reason = _reason(err)
            finally:
                self._close()
            if self._stopping:
                return
            if time.monotonic() - began >= self.options.stable_after:
                self.backoff.reset()
            delay = self.backoff.next()
            self._retry_later(f"stale: connection to {self.spec.target} lost ({reason}); "
                              f"reconnecting in {delay:.1f} s")
            await asyncio.sleep(delay)

    def _retry_later(self, detail: str) -> None:
        self.last_error = detail
        self.health(False, detail)

    async def run(self, script: str, *, timeout: float | None = None,
                  input: str | None = None) -> CommandOutput:
        """Run a POSIX sh script on the node (sudo as the inventory says)."""
        conn = self.conn
        if conn is None:
            return CommandOutput(False, None, "", f"{self.spec.name} is not connected"
                                 f"{': ' + self.last_error if self.last_error else ''}")
        command = remote_command(script, sudo=self.spec.sudo)
        try:
            result = await conn.run(command, check=False, input=input,
                                    timeout=timeout or self.options.command_timeout)
        except asyncssh.TimeoutError:
            return CommandOutput(False, None, "", "timed out")
        except (OSError, asyncssh.Error) as err:
            return CommandOutput(False, None, "", _reason(err))
        out = result.stdout if isinstance(result.stdout, str) else ""
        err_text = result.stderr if isinstance(result.stderr, str) else ""
        status = result.exit_status
        return CommandOutput(status == 0, status, out, err_text)


def _reason(err: BaseException) -> str:
    """A short reason from an exception (asyncssh's `reason`, OSError's strerror...)."""
    if isinstance(err, asyncssh.DisconnectError | asyncssh.ChannelOpenError):
        return err.reason or type(err).__name__
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    if isinstance(err, asyncio.TimeoutError | TimeoutError):
        return "timed out"
    text = str(err)
    return text or type(err).__name__


def expand(path: str) -> str:
    return os.path.expanduser(path) if path else path


# ----------------------------------------------------------------------------- clocks

#: One remote process answers every newline with the node's clock; its first line is the
#: node's UTC offset. The first answer pays for the channel and `sh`; later ones are pure
#: round trips, so the tightest of a few samples is kept (as NTP does).
CLOCK_SCRIPT = "date +%z; while IFS= read -r _; do date +%s.%N; done"
_ZONE = re.compile(r"^([+-])(\d\d):?(\d\d)$")
_CLOCK = re.compile(r"^(\d+)(?:\.(\S*))?$")


@dataclass(frozen=True)
class ClockReading:
    """A node's clock against the console's, measured at attach.

    Why: keepalived stamps its log with the node's clock. History read from it must be
    put on the console's time line (`to_console`), and syslog stamps that carry no year
    or zone must be read in the node's own zone and year (`zone`)."""

    offset: float  # node clock - console clock, seconds
    error: float  # half the round trip of the sample used, seconds
    zone: timezone  # the node's UTC offset now (`date +%z`)

    @property
    def correction(self) -> float:
        """What node times are corrected by: the offset, unless it is within its own
        error (noise: shifting whole-second stamps by it would make an order up between
        nodes whose lines share a second)."""
        return self.offset if abs(self.offset) > self.error else 0.0

    def to_console(self, t: float) -> float:
        return t - self.correction

    def to_node(self, t: float) -> float:
        return t + self.correction

    def year(self, node_t: float) -> int:
        """The node's calendar year at node time `node_t` (for syslog stamps)."""
        return datetime.fromtimestamp(node_t, self.zone).year


def parse_zone(text: str) -> timezone | None:
    """`date +%z` output (`+0530`, `-0800`) as a timezone; None if it is not one."""
    m = _ZONE.match(text.strip())
    if m is None:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes >= 24 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))


def parse_clock(text: str) -> tuple[float, float] | None:
    """`date +%s.%N` output as (seconds, resolution error). A `date` without %N (busybox
    prints it literally) gives whole seconds: the middle of the second, error 0.5 s."""
    m = _CLOCK.match(text.strip())
    if m is None:
        return None
    frac = m.group(2) or ""
    if frac.isdigit():
        return float(f"{m.group(1)}.{frac}"), 0.0
    return int(m.group(1)) + 0.5, 0.5


def best_offset(samples: Iterable[tuple[float, float, float, float]]) -> tuple[float, float]:
    """(offset, error) from samples (sent, node clock, received, resolution): the node read
    its clock somewhere between sent and received (console clock), so the midpoint is the
    best guess and half the round trip the bound; the tightest sample wins."""
    best: tuple[float, float] | None = None
    for sent, remote, received, resolution in samples:
        half = max(0.0, received - sent) / 2
        candidate = (remote - (sent + half), half + resolution)
        if best is None or candidate[1] < best[1]:
            best = candidate
    if best is None:
        raise ValueError("no clock sample")
    return best


async def measure_clock(conn: asyncssh.SSHClientConnection, *, samples: int = 4,
                        timeout: float = 10.0) -> ClockReading:
    """Measure the node's clock offset over one remote process (no sudo needed).
    ValueError when the node's answers cannot be read, TimeoutError when it is silent."""
    proc = await conn.create_process(remote_command(CLOCK_SCRIPT), encoding="utf-8",
                                     errors="replace")
    try:
        zone = parse_zone(await wait_within(proc.stdout.readline(), timeout))
        if zone is None:
            raise ValueError("`date +%z` did not print a UTC offset")
        taken = []
        for _ in range(max(1, samples)):
            sent = time.time()
            proc.stdin.write("\n")
            line = await wait_within(proc.stdout.readline(), timeout)
            received = time.time()
            clock = parse_clock(line)
            if clock is None:
                raise ValueError(f"`date +%s.%N` printed {line.strip()[:40]!r}")
            taken.append((sent, clock[0], received, clock[1]))
        offset, error = best_offset(taken)
        return ClockReading(offset, error, zone)
    finally:
        proc.close()


# ----------------------------------------------------------------------------- history


class HistoryMerge:
    """Publishes the past of a fleet's nodes as one sequence in time order.

    Why: a failover is told by two nodes' logs (the old master leaving, the new one taking
    over), and the view folds events in the order it gets them. Node after node, the first
    node's whole past would be folded before the second's and the story would not add up.
    So each node hands its history here at attach; once every expected node has (or `wait`
    seconds after the first did) all of it goes out merged by time, then each node's
    HistoryEnd. A node that comes later (slow to connect, or reconnecting) goes alone.

    Lines of different nodes in the same second (whole-second stamps: keepalived's own
    log, syslog) have no order of their own; VRRP gives one: the node that enters MASTER
    acts first, the others react to its advert. So within a tie, a node's lines that
    include an election go before the other nodes' (`merge_order`).
    """

    def __init__(self, expected: Iterable[str], *, wait: float = 3.0) -> None:
        self.order = list(expected)
        self.wait = wait
        self._expected = set(self.order)
        self._batch: dict[str, tuple[list[ev.Event], ev.Event, Publish]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._done = asyncio.Event()
        self.flushed = False

    def withdraw(self, node: str) -> None:
        """Do not wait for `node` (it cannot connect now)."""
        if node not in self._batch:
            self._expected.discard(node)
            self._maybe_flush()

    async def submit(self, node: str, events: list[ev.Event], end: ev.Event,
                     publish: Publish) -> None:
        """Hand over a node's history (time-ordered) and its HistoryEnd; returns once
        they are published."""
        if self.flushed or node not in self._expected:
            for event in merge_order({node: events}):
                publish(event)
            publish(end)
            return
        self._batch[node] = (events, end, publish)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.wait, self._flush)
        self._maybe_flush()
        try:
            await self._done.wait()
        except asyncio.CancelledError:
            if not self.flushed:  # the node stopped while waiting: not its past any more
                self._batch.pop(node, None)
                self._expected.discard(node)
                self._maybe_flush()
            raise

    def _maybe_flush(self) -> None:
        if self._batch and self._expected <= set(self._batch):
            self._flush()

    def _flush(self) -> None:
        if self.flushed:
            return
        self.flushed = True
        if self._timer is not None:
            self._timer.cancel()
        publishers = {node: publish for node, (_e, _end, publish) in self._batch.items()}
        pasts = {node: events for node, (events, _end, _p) in self._batch.items()}
        for event in merge_order(pasts, self.order):
            publishers[event.node](event)
        for _events, end, publish in self._batch.values():
            publish(end)
        self._batch.clear()
        self._done.set()


def merge_order(pasts: Mapping[str, list[ev.Event]], order: Iterable[str] = ()
                ) -> list[ev.Event]:
    """Nodes' pasts as one sequence: by time; a node's own order kept; within a tie
    between nodes, the node entering MASTER then first, then `order` (the inventory's)."""
    rank = {name: i for i, name in enumerate(order)}
    elected = {(e.node, e.t) for events in pasts.values() for e in events
               if isinstance(e, ev.Transition) and e.new == ev.State.MASTER}
    keyed = [((e.t, (node, e.t) not in elected, rank.get(node, len(rank)), node, i), e)
             for node, events in pasts.items() for i, e in enumerate(events)]
    keyed.sort(key=lambda item: item[0])
    return [e for _key, e in keyed]


# ----------------------------------------------------------------------------- fleet facts


class SharedView:
    """The fleet's one fold of what its nodes publish (a `ClusterView`), and a way to wait
    for a fact in it.

    Why: a keepalived failover stops keepalived on the master and must then wait until
    another node (another source) is MASTER of the same virtual router before starting it
    again, and its preemption warning needs the peers' priorities. Those are questions for
    the same fold the console reads, not for a second bookkeeping of the same events.
    Instances are matched by VRID.
    """

    def __init__(self, view: ClusterView | None = None) -> None:
        self.view = view or ClusterView()
        self._changed = asyncio.Event()

    def apply(self, event: ev.Event) -> None:
        self.view.apply(event)
        self._changed.set()

    def _live(self, node: str) -> bool:
        view = self.view.nodes.get(node)
        return view is not None and view.up and view.health_ok

    def masters(self, vrid: int, *, exclude: str = "") -> list[str]:
        """Nodes (other than `exclude`, reachable) that are MASTER of `vrid` now."""
        return sorted({i.node for i in self.view.instances.values()
                       if i.vrid == vrid and i.live_master and i.node != exclude
                       and self._live(i.node)})

    def peers(self, vrid: int, *, exclude: str = "") -> list[str]:
        return sorted({i.node for i in self.view.instances.values()
                       if i.vrid == vrid and i.node != exclude})

    def priority(self, node: str, vrid: int) -> int:
        """The base priority `node` last reported for `vrid` (0 if unknown)."""
        return max((i.base_priority for i in self.view.instances.values()
                    if i.node == node and i.vrid == vrid), default=0)

    async def wait_master(self, vrid: int, *, exclude: str, timeout: float) -> str | None:
        """The first other node seen MASTER of `vrid` within `timeout`, else None."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            found = self.masters(vrid, exclude=exclude)
            if found:
                return found[0]
            left = end - loop.time()
            if left <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await wait_within(self._changed.wait(), left)
