"""How a collector reaches a node's shell: the `Transport` it reads the node through,
the `Link` that keeps it up, and the SSH implementation of both.

Why a seam here: the stock-keepalived collector (`keepalived_ssh.KeepalivedSource`) runs
the same scripts whether the node is across SSH (`SshTransport` on `ssh.NodeLink`'s
connection) or in a namespace of the local lab (`local.LocalTransport`), so what the
console shows of a keepalived node is read the same way in both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import asyncssh

from haconsole.sources.base import Publish
from haconsole.sources.ssh import (
    ClockReading,
    CommandOutput,
    measure_clock,
    remote_command,
    wait_within,
)

__all__ = [
    "Collect",
    "Link",
    "LinkFactory",
    "Process",
    "SshTransport",
    "TextIn",
    "TextOut",
    "Transport",
    "drain",
    "script_output",
    "split_sections",
]


class TextIn(Protocol):
    """A process's stdin, text."""

    def write(self, data: str) -> None: ...


class TextOut(Protocol):
    """A process's stdout or stderr, text (asyncssh's SSHReader[str] is one)."""

    async def readuntil(self, separator: str) -> str: ...

    async def readline(self) -> str: ...

    async def read(self) -> str: ...

    def __aiter__(self) -> AsyncIterator[str]: ...


class Process(Protocol):
    """A long-running script on the node: the poll loop, the log follower."""

    @property
    def stdin(self) -> TextIn: ...

    @property
    def stdout(self) -> TextOut: ...

    @property
    def stderr(self) -> TextOut: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None:
        """Until it has ended (after `close`)."""
        ...


class Transport(Protocol):
    """How the collector reaches the node's shell (see the module docstring). Scripts
    are POSIX sh; the transport runs them as the node's administrator (sudo over SSH
    when the inventory says so)."""

    async def create_process(self, script: str) -> Process: ...

    async def clock(self) -> ClockReading:
        """The node's clock against ours (ValueError / TimeoutError when unreadable)."""
        ...


class Link(Protocol):
    """A node's transport kept up: runs the collector on it, again after a failure, and
    reports NodeSeen / SourceHealth through the publish function it was given."""

    connected: asyncio.Event
    last_error: str

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def run(self, script: str, *, timeout: float | None = None,
                  input: str | None = None) -> CommandOutput: ...


#: The collector, given a transport: returns or raises when the node is lost.
Collect = Callable[[Transport], Awaitable[None]]
#: Makes a node's link from the publish function for its facts and the collector.
LinkFactory = Callable[[Publish, Collect], Link]


class SshTransport:
    """The collector's scripts over one SSH connection (`sh -c`, `sudo -n` if asked); the
    actions go through `ssh.NodeLink.run`, which answers also while it reconnects."""

    def __init__(self, conn: asyncssh.SSHClientConnection, *, sudo: bool = False,
                 timeout: float = 30.0) -> None:
        self.conn = conn
        self.sudo = sudo
        self.timeout = timeout

    async def create_process(self, script: str) -> Process:
        proc: Process = await self.conn.create_process(
            remote_command(script, sudo=self.sudo), encoding="utf-8", errors="replace")
        return proc

    async def clock(self) -> ClockReading:
        return await measure_clock(self.conn, timeout=self.timeout)


async def script_output(transport: Transport, script: str, timeout: float) -> str:
    """Everything a short script prints ("" when it cannot run or is too slow)."""
    try:
        proc = await transport.create_process(script)
    except (asyncssh.Error, OSError):
        return ""
    try:
        return str(await wait_within(proc.stdout.read(), timeout))
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        return ""
    finally:
        proc.close()


async def drain(stream: TextOut, timeout: float = 1.0) -> str:
    """What is left on a stream (stderr of an ended process), one line, trimmed."""
    try:
        text = await wait_within(stream.read(), timeout)
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        return ""
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def split_sections(text: str, boundary: str, inline: frozenset[str] = frozenset()
                   ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """A script's output cut at its `BOUNDARY name` markers (the boundary is ours, so no
    line of a dump or a log can forge one), up to `BOUNDARY end`: the lines under each
    section, and for the `inline` names the words after the name on the marker line
    itself (`BOUNDARY pid 1234` -> {"pid": ["1234"]})."""
    sections: dict[str, list[str]] = {}
    values: dict[str, list[str]] = {}
    current: list[str] | None = None
    mark = f"{boundary} "
    for line in text.splitlines():
        if line.startswith(mark):
            words = line[len(mark):].split()
            head = words[0] if words else ""
            if head == "end":
                break
            if head in inline:
                values[head] = words[1:]
                current = None
            else:
                current = sections.setdefault(head, [])
            continue
        if current is not None:
            current.append(line)
    return sections, values
