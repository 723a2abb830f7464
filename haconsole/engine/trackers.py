"""Trackers: things whose result moves an instance's priority or puts it in FAULT.

`CheckTracker` runs a probe every `interval` seconds with keepalived's vrrp_script rules
(rise/fall counting, timeout counts as failure, the same log lines), whatever the probe is:
a subprocess for real scripts, a function for the lab's simulated nginx. Other trackers
(process, interface, file) push results directly through the same `report` callback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Report = Callable[[str, bool, str], None]  # (track name, ok, cause)
LogFn = Callable[[str], None]
Probe = Callable[[], Awaitable[int]]  # returns an exit status; raises TimeoutError


@dataclass
class ScriptCounter:
    """keepalived's rise/fall result counter for one vrrp_script (pure, no I/O).

    `result` runs from 0 to rise+fall-1; the script is OK while result >= rise. Only a
    crossing of that line (or the first result) is reported, with keepalived's wording.
    """

    name: str
    rise: int = 1
    fall: int = 1
    init_fail: bool = False

    def __post_init__(self) -> None:
        self.result = 0 if self.init_fail else self.rise - 1
        self.initial = True
        self.last_status = 0

    def feed(self, status: int | None) -> tuple[bool | None, list[str]]:
        """Feed one run (exit status, None = timed out); returns (new result or None, logs)."""
        logs: list[str] = []
        if status is not None and status != self.last_status:
            logs.append(f"Script `{self.name}` now returning {status}")
        if status is not None:
            self.last_status = status
        changed: bool | None = None
        top = self.rise + self.fall - 1
        if status == 0:
            if self.result < self.rise - 1:
                self.result += 1
            elif self.result != top:
                if self.result < self.rise:
                    logs.append(f"VRRP_Script({self.name}) succeeded")
                    changed = True
                self.result = top
        else:
            if self.result > self.rise:
                self.result -= 1
            else:
                if self.result == self.rise or self.initial:
                    why = "timed_out" if status is None else f"failed (exited with status {status})"
                    logs.append(f"VRRP_Script({self.name}) {why}")
                    changed = False
                self.result = 0
        self.initial = False
        return changed, logs


class CheckTracker:
    """Runs `probe` every `interval` s; reports through `report`, logs through `log`."""

    def __init__(
        self,
        name: str,
        probe: Probe,
        *,
        interval: float = 1.0,
        timeout: float | None = None,
        rise: int = 1,
        fall: int = 1,
        init_fail: bool = False,
    ) -> None:
        self.name = name
        self.probe = probe
        self.interval = interval
        self.timeout = timeout if timeout is not None else interval
        self.counter = ScriptCounter(name, rise, fall, init_fail)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self, report: Report, log: LogFn) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(report, log))

    def poke(self) -> None:
        """Run the check now instead of waiting for the next interval (used by the lab)."""
        self._wake.set()

    async def _run(self, report: Report, log: LogFn) -> None:
        while True:
            try:
                status: int | None = await asyncio.wait_for(self.probe(), self.timeout)
            except (asyncio.TimeoutError, TimeoutError):
                status = None
            except OSError as err:
                log(f"VRRP_Script({self.name}) could not run: {err}")
                status = 126
            changed, lines = self.counter.feed(status)
            for line in lines:
                log(line)
            if changed is not None:
                report(self.name, changed, lines[-1] if lines else "")
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end.

        One cancel is not enough on Python < 3.12: `asyncio.wait_for` can swallow a
        cancellation that lands just as the probe finishes, so cancel until it is done.
        """
        task, self._task = self._task, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.05)
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
