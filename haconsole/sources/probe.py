"""Client probes as console sources: what the users of a VIP saw, next to the nodes.

Two ways in, one event (`ClientRequest`, folded by the view's Clients section):

- `ProbeProcessSource`: a probe running elsewhere, `python -m haconsole.probe`, whose
  JSON lines are read as they come. Started through anything that gives a `Process`
  (a `Transport`'s `create_process`): in the namespace lab it runs in the client
  namespace, a real client on the LAN (ARP, TCP, HTTP through the VIP); over SSH it
  could run on a host in the clients' network. A probe that exits is started again.
- `ClientProbeSource`: the probe in this process (`probe.runner.ClientProbe`): the
  console's own host is the client (`connect` with `probe = [...]` in the inventory).

Neither publishes anything but client requests: a client is not a VRRP node, and any
other event would make it one in the view (and a stale one, 10 s after it went quiet).
A probe's own trouble is kept in `last_error` and said on stderr by the entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.probe.runner import DEFAULT_RATE, DEFAULT_TIMEOUT, ClientProbe, ProbeTarget
from haconsole.sources.base import Publish, end_task
from haconsole.sources.transport import Process

__all__ = ["ClientProbeSource", "ProbeProcessSource", "parse_probe_line", "probe_argv"]


def probe_argv(python: str, targets: Sequence[str], *, rate: float = DEFAULT_RATE,
               timeout: float = DEFAULT_TIMEOUT, client: str = "client") -> list[str]:
    """`python -m haconsole.probe` for `targets` (`URL[=VIP]`)."""
    return [python, "-m", "haconsole.probe", "--rate", f"{rate:g}", "--timeout",
            f"{timeout:g}", "--client", client, *targets]


def parse_probe_line(line: str) -> ev.ClientRequest | None:
    """One line of the probe's output as its event; None for anything else (a blank
    line, a warning, a line cut short, another kind of event)."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
        event = ev.event_from_dict(doc) if isinstance(doc, dict) else None
    except (ValueError, TypeError):
        return None
    return event if isinstance(event, ev.ClientRequest) else None


Spawn = Callable[[], Awaitable[Process]]


class ProbeProcessSource:
    """Client requests read from a probe process (see the module docstring). `spawn`
    starts it, e.g. `lambda: transport.create_process(shlex.join(probe_argv(...)))`."""

    def __init__(self, name: str, spawn: Spawn, *, retry: float = 1.0) -> None:
        self.name = name
        self.spawn = spawn
        self.retry = retry
        self.requests = 0  # lines read as requests
        self.skipped = 0  # lines that were not
        self.starts = 0
        self.last_error = ""
        self.running = asyncio.Event()  # set once a request has been read
        self._publish: Publish = lambda e: None
        self._task: asyncio.Task[None] | None = None
        self._proc: Process | None = None

    async def start(self, publish: Publish) -> None:
        self._publish = publish
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        proc = self._proc
        await end_task(self._task)
        self._task = None
        self._close()
        if proc is not None:
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError, OSError):
                await asyncio.wait_for(proc.wait_closed(), 5.0)

    def supports(self, command: type[cmd.Command]) -> bool:
        return False

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return False, f"{self.name} is a client probe: it runs no command"

    def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.close()

    async def _run(self) -> None:
        while True:
            try:
                self._proc = await self.spawn()
                self.starts += 1
                await self._read(self._proc)
                err = await _last_line(self._proc)
                self.last_error = "the probe exited" + (f": {err}" if err else "")
            except (OSError, ValueError) as failed:
                self.last_error = f"the probe failed: {failed}"
            finally:
                self._close()
            await asyncio.sleep(self.retry)

    async def _read(self, proc: Process) -> None:
        async for line in proc.stdout:
            event = parse_probe_line(line)
            if event is None:
                self.skipped += 1
                continue
            self.requests += 1
            self.running.set()
            self._publish(event)


async def _last_line(proc: Process, timeout: float = 1.0) -> str:
    with contextlib.suppress(asyncio.TimeoutError, TimeoutError, OSError):
        text = await asyncio.wait_for(proc.stderr.read(), timeout)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""
    return ""


class ClientProbeSource:
    """The probe in this process: this host is the client of every target."""

    def __init__(self, targets: Sequence[ProbeTarget], *, name: str = "probe",
                 client: str = "console", rate: float = DEFAULT_RATE,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name = name
        self.targets = list(targets)
        self.client = client
        self.rate = rate
        self.timeout = timeout
        self._probe: ClientProbe | None = None

    async def start(self, publish: Publish) -> None:
        self._probe = ClientProbe(self.targets, publish, client=self.client, rate=self.rate,
                                  timeout=self.timeout)
        self._probe.start()

    async def stop(self) -> None:
        if self._probe is not None:
            await self._probe.stop()
            self._probe = None

    def supports(self, command: type[cmd.Command]) -> bool:
        return False

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return False, f"{self.name} is a client probe: it runs no command"
