"""An asyncio event loop whose timers fire on time (sub-millisecond), for VRRP.

Why: asyncio sleeps in epoll_wait, whose timeout is in whole milliseconds, and CPython
rounds it *up*: every timer fires about 1 ms late. VRRP's deadlines (Skew_Time,
Master_Down_Interval) are computed to the microsecond, and the takeover time is exactly
what the agent is judged on against keepalived. This selector rounds the epoll timeout
*down* and sleeps the remaining fraction of a millisecond with nanosleep, so a timer is
late by tens of microseconds. The short sleep ignores file descriptors for less than
1 ms: a packet arriving meanwhile is read right after, as it would be a millisecond
later with the stock loop.

The price is one extra wake-up per timer (about 40 µs of CPU): nothing for a node with
a few instances, 4 % of a core at a thousand adverts per second. `set_precise(False)`
returns to the stock rounding; the agent does so above PRECISE_MAX_INSTANCES instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


PRECISE_MAX_INSTANCES = 200


class PreciseSelector(selectors.EpollSelector):
    """EpollSelector with sub-millisecond wake-ups (see the module docstring)."""

    precise = True

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None or timeout <= 0 or not PreciseSelector.precise:
            return super().select(timeout)
        deadline = time.monotonic() + timeout
        whole_ms = math.floor(timeout * 1000)
        if whole_ms >= 1:
            ready = super().select(whole_ms / 1000)
            if ready:
                return ready
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return super().select(0)


def set_precise(enabled: bool) -> None:
    """Sub-millisecond timers on (default) or off (stock epoll rounding, less CPU)."""
    PreciseSelector.precise = enabled


def _reduce_timer_slack() -> None:
    """prctl(PR_SET_TIMERSLACK, 1 ns): the kernel may otherwise add 50 µs to sleeps."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1, 0, 0, 0)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A SelectorEventLoop on PreciseSelector."""
    _reduce_timer_slack()
    return asyncio.SelectorEventLoop(PreciseSelector())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the precise loop."""
    runner_cls = getattr(asyncio, "Runner", None)
    if runner_cls is not None:  # Python 3.11+
        with runner_cls(loop_factory=new_event_loop) as runner:
            return runner.run(coro)  # type: ignore[no-any-return]
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
