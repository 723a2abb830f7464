"""track_process, event-driven: a dead nginx lowers the priority in milliseconds.

keepalived follows processes with the netlink proc connector, which only works in the
initial network namespace and needs CAP_NET_ADMIN there. We use pidfds instead
(`pidfd_open(2)`, Linux 5.3): one per matching process, registered with the asyncio loop;
the kernel makes it readable the instant the process exits, in any namespace. New
processes (a restarted nginx) are found by rescanning /proc every `rescan` seconds, which
only delays *recovery*, never the detection of a death.

Matching follows keepalived's `process NAME`: the process name (`/proc/PID/comm`, 15
characters) or the basename of argv[0]. Results are reported through the tracker
protocol (`report(name, ok, cause)`) with keepalived's log lines ("Quorum lost for
tracked process nginx").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

Report = Callable[[str, bool, str], None]
LogFn = Callable[[str], None]


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _zombie(pid: int, proc: str) -> bool:
    stat = _read(f"{proc}/{pid}/stat")
    if stat is None:
        return True
    # "pid (comm) S ...": the state follows the last ')' (comm may contain one).
    state = stat.rsplit(b")", 1)[-1].split()[:1]
    return state in ([b"Z"], [b"X"], [])


def matches(pid: int, process: str, proc: str = "/proc") -> bool:
    """Whether `pid` runs `process` (comm or argv[0] basename) and is not dead (an
    unreaped zombie still has its /proc entry and name)."""
    if _zombie(pid, proc):
        return False
    comm = _read(f"{proc}/{pid}/comm")
    if comm is not None and comm.rstrip(b"\n").decode(errors="replace") == process[:15]:
        return True
    cmdline = _read(f"{proc}/{pid}/cmdline")
    if not cmdline:
        return False
    argv0 = cmdline.split(b"\0", 1)[0].decode(errors="replace")
    return os.path.basename(argv0.split(" ", 1)[0]) == process


def _netns(pid: int | str, proc: str) -> int | None:
    try:
        return os.stat(f"{proc}/{pid}/ns/net").st_ino
    except OSError:
        return None


def find_processes(process: str, proc: str = "/proc", *, same_netns: bool = True) -> set[int]:
    """PIDs of every live process named `process` now.

    With `same_netns`, only processes in our network namespace count: a service in
    another namespace (another lab node, a container) does not serve our VIPs.
    """
    found: set[int] = set()
    try:
        names = os.listdir(proc)
    except OSError:
        return found
    own = _netns("self", proc) if same_netns else None
    for entry in names:
        if not entry.isdigit() or not matches(int(entry), process, proc):
            continue
        if own is not None and _netns(entry, proc) != own:
            continue
        found.add(int(entry))
    return found


class ProcessTracker:
    """Reports `ok` while at least `quorum` processes named `process` run."""

    def __init__(self, name: str, process: str, *, quorum: int = 1, delay: float = 0.0,
                 rescan: float = 0.5, proc: str = "/proc") -> None:
        self.name = name
        self.process = process
        self.quorum = max(1, quorum)
        self.delay = delay
        self.rescan = rescan
        self.proc = proc
        self.pids: dict[int, int] = {}  # pid -> pidfd
        self.ok: bool | None = None
        self._report: Report | None = None
        self._log: LogFn | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, report: Report, log: LogFn) -> None:
        self._report, self._log = report, log
        self._loop = asyncio.get_running_loop()
        self._scan()
        self._evaluate(initial=True)
        self._task = self._loop.create_task(self._rescan_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending is not None:
            self._pending.cancel()
        for pid in list(self.pids):
            self._forget(pid)

    # ----------------------------------------------------------------- internals
    def _watch(self, pid: int) -> None:
        assert self._loop is not None
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            return
        self.pids[pid] = fd
        self._loop.add_reader(fd, self._exited, pid)

    def _forget(self, pid: int) -> None:
        fd = self.pids.pop(pid, None)
        if fd is None:
            return
        if self._loop is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_reader(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _exited(self, pid: int) -> None:
        self._forget(pid)
        self._evaluate()

    def _scan(self) -> None:
        for pid in find_processes(self.process, self.proc) - set(self.pids):
            self._watch(pid)

    async def _rescan_loop(self) -> None:
        while True:
            await asyncio.sleep(self.rescan)
            before = len(self.pids)
            self._scan()
            if len(self.pids) != before:
                self._evaluate()

    def _evaluate(self, initial: bool = False) -> None:
        ok = len(self.pids) >= self.quorum
        if ok == self.ok and not initial:
            return
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.delay > 0 and not initial and self._loop is not None:
            self._pending = self._loop.call_later(self.delay, self._apply, ok)
        else:
            self._apply(ok)

    def _apply(self, ok: bool) -> None:
        self._pending = None
        if ok == self.ok:
            return
        self.ok = ok
        line = f"Quorum {'gained' if ok else 'lost'} for tracked process {self.name}"
        if self._log is not None:
            self._log(line)
        if self._report is not None:
            self._report(self.name, ok, line)
