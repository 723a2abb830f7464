"""The local transport: a node's shell reached by entering its namespaces on this machine.

Why: the namespace lab runs a stock keepalived in a network namespace, and the console
should read it with the very collector `connect` uses over SSH (`KeepalivedSource`):
its poll loop, its log follower, its parsers. Only the way to the node's shell differs,
so this module gives that collector the same `Transport` (`run`, `create_process`,
`clock`) over `ENTER... sh -c SCRIPT`, where ENTER is `ip netns exec NS` or, for a node
that also needs a private /tmp (keepalived writes its dumps to the fixed
/tmp/keepalived.json), `nsenter -t HOLDER -m -n --`. `LocalLink` keeps the collector
running on it, as `ssh.NodeLink` keeps it running on an SSH connection.

Scripts come from this program (the collector's templates, the lab's paths), never from
the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone

from haconsole.cluster import events as ev
from haconsole.sources.base import Publish, end_task
from haconsole.sources.ssh import Backoff, ClockReading, CommandOutput, wait_within
from haconsole.sources.transport import Collect, Process

__all__ = ["LocalLink", "LocalProcess", "LocalTransport", "netns_enter"]

#: Bytes a line (a JSON dump is one) may take before the reader gives up.
LINE_LIMIT = 1 << 24


def netns_enter(ns: str) -> list[str]:
    """The argv prefix that runs a command in network namespace `ns`."""
    return ["ip", "netns", "exec", ns]


class _TextOut:
    """An asyncio stream read as text (what asyncssh's SSHReader[str] gives)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readuntil(self, separator: str) -> str:
        data = await self._stream.readuntil(separator.encode())
        return data.decode("utf-8", "replace")

    async def readline(self) -> str:
        return (await self._stream.readline()).decode("utf-8", "replace")

    async def read(self) -> str:
        return (await self._stream.read()).decode("utf-8", "replace")

    async def _lines(self) -> AsyncIterator[str]:
        while True:
            line = await self._stream.readline()
            if not line:
                return
            yield line.decode("utf-8", "replace")

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()


class _TextIn:
    def __init__(self, stream: asyncio.StreamWriter | None) -> None:
        self._stream = stream

    def write(self, data: str) -> None:
        if self._stream is not None and not self._stream.is_closing():
            self._stream.write(data.encode())


class LocalProcess:
    """A script running in the node's namespaces, in a session of its own, so `close`
    ends it and everything it started (a `tail -F`, a `sleep` in a loop)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        self._stdin = _TextIn(proc.stdin)
        self._stdout = _TextOut(proc.stdout)
        self._stderr = _TextOut(proc.stderr)

    @property
    def stdin(self) -> _TextIn:
        return self._stdin

    @property
    def stdout(self) -> _TextOut:
        return self._stdout

    @property
    def stderr(self) -> _TextOut:
        return self._stderr

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    async def wait_closed(self, timeout: float = 3.0) -> None:
        """Wait until it has exited and its pipes are drained (SIGKILL after `timeout`):
        a loop must not close with a child's pipes still open."""
        try:
            await wait_within(self.proc.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            self._signal(signal.SIGKILL)
            await self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError, OSError,
                                         ValueError):
                    await wait_within(stream.read(), 1.0)


class LocalTransport:
    """`enter` (e.g. `netns_enter(ns)`) + `sh -c SCRIPT` on this machine: one clock."""

    def __init__(self, enter: Sequence[str], *, timeout: float = 30.0,
                 env: dict[str, str] | None = None) -> None:
        self.enter = list(enter)
        self.timeout = timeout
        self.env = env
        self._live: set[LocalProcess] = set()

    def argv(self, script: str) -> list[str]:
        return [*self.enter, "sh", "-c", script]

    async def _spawn(self, script: str, *, stdin: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv(script), stdin=stdin, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=LINE_LIMIT,
            env=self.env)

    async def run(self, script: str, *, timeout: float | None = None,
                  input: str | None = None) -> CommandOutput:
        try:
            proc = await self._spawn(script, stdin=asyncio.subprocess.PIPE)
        except OSError as failed:
            return CommandOutput(False, None, "", failed.strerror or str(failed))
        try:
            out, err = await wait_within(
                proc.communicate(input.encode() if input is not None else None),
                timeout or self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return CommandOutput(False, None, "", "timed out")
        status = proc.returncode
        return CommandOutput(status == 0, status, out.decode("utf-8", "replace"),
                             err.decode("utf-8", "replace"))

    async def create_process(self, script: str) -> Process:
        proc = LocalProcess(await self._spawn(script, stdin=asyncio.subprocess.PIPE))
        self._live = {p for p in self._live if p.proc.returncode is None}
        self._live.add(proc)
        return proc

    async def aclose(self) -> None:
        """End every process it started and wait for them (see `wait_closed`)."""
        live, self._live = self._live, set()
        for proc in live:
            proc.close()
        await asyncio.gather(*(proc.wait_closed() for proc in live))

    async def clock(self) -> ClockReading:
        """This machine's clock: no offset, no error (nothing to measure)."""
        zone = datetime.now().astimezone().tzinfo
        return ClockReading(0.0, 0.0, zone if isinstance(zone, timezone) else timezone.utc)


class LocalLink:
    """Keeps the collector running on a `LocalTransport`, as `ssh.NodeLink` does on SSH:
    NodeSeen and SourceHealth when it starts, stale when it fails, again after a backoff."""

    def __init__(self, name: str, transport: LocalTransport, publish: Publish,
                 collect: Collect, *, agent: str = "keepalived", address: str = "",
                 where: str = "") -> None:
        self.name = name
        self.transport = transport
        self.publish = publish
        self.collect = collect
        self.agent = agent
        self.address = address
        self.where = where or " ".join(transport.enter)
        self.backoff = Backoff(initial=0.5, maximum=5.0)
        self.connected = asyncio.Event()
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"local-{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        await end_task(self._task)
        self._task = None
        self.connected.clear()
        await self.transport.aclose()

    async def run(self, script: str, *, timeout: float | None = None,
                  input: str | None = None) -> CommandOutput:
        return await self.transport.run(script, timeout=timeout, input=input)

    async def _run(self) -> None:
        while not self._stopping:
            self.connected.set()
            self.last_error = ""
            began = time.monotonic()
            self.publish(ev.NodeSeen(time.time(), self.name, address=self.address,
                                     agent=self.agent))
            self.publish(ev.SourceHealth(time.time(), self.name, ok=True,
                                         detail=f"reading {self.where}"))
            reason = "the collector ended"
            try:
                await self.collect(self.transport)
            except (OSError, asyncio.TimeoutError, TimeoutError, asyncio.IncompleteReadError,
                    ConnectionError, ValueError) as err:
                reason = str(err) or type(err).__name__
            finally:
                self.connected.clear()
            if self._stopping:
                return
            if time.monotonic() - began >= 10.0:
                self.backoff.reset()
            delay = self.backoff.next()
            self.last_error = f"stale: {reason}; again in {delay:.1f} s"
            self.publish(ev.SourceHealth(time.time(), self.name, ok=False,
                                         detail=self.last_error))
            await asyncio.sleep(delay)
