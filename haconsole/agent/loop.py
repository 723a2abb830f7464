"""An asyncio event loop whose timers fire on time (sub-millisecond), for VRRP.

Why: asyncio sleeps in epoll_wait, whose timeout is in whole milliseconds, and CPython
rounds it *up*; the kernel then adds 0.1 % of the timeout as slack (select_estimate_
accuracy: 0.5 ms on a 0.5 s wait). Every timer fires 1 to 2 ms late, yet VRRP's
deadlines (Skew_Time, Master_Down_Interval) are computed to the microsecond, and the
takeover time is exactly what the agent is judged on against keepalived.

How (keepalived's own answer, scheduler.c): the selector arms a timerfd on
CLOCK_MONOTONIC, asyncio's clock, for the loop's next deadline and lets epoll wait on it
with no timeout. A timerfd is an hrtimer without the 0.1 % slack, and with
PR_SET_TIMERSLACK at 1 ns it fires within the wake-up latency of the machine (tens of
µs on bare metal). One wake-up per timer and one cheap syscall to arm it, so it costs
about what the stock loop costs. Where timerfd is missing, the fallback rounds the epoll
timeout down and sleeps the remainder with nanosleep (a second wake-up per timer).

`set_precise(False)` returns to the stock rounding; the agent does so above
PRECISE_MAX_INSTANCES instances.

The loop itself (`PreciseEventLoop`) only caches the set of valid signal numbers:
asyncio rebuilds `signal.valid_signals()` (~130 µs, enum members) on every
add/remove_signal_handler, and the agent removes three handlers between SIGTERM and
its priority-0 advert.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import select
import selectors
import signal
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from haconsole.engine.timers import MANY_INSTANCES

T = TypeVar("T")


PRECISE_MAX_INSTANCES = MANY_INSTANCES

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no dynamic libc
        return None


_LIBC = _libc()


def _timerfd_create() -> int:
    """A non-blocking CLOCK_MONOTONIC timerfd, or -1 where the platform has none."""
    create = getattr(_LIBC, "timerfd_create", None)
    if create is None:
        return -1
    fd = create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
    return int(fd)


class PreciseSelector(selectors.EpollSelector):
    """EpollSelector with sub-millisecond wake-ups (see the module docstring)."""

    precise = True

    def __init__(self) -> None:
        super().__init__()
        self._timerfd = _timerfd_create()
        # struct itimerspec {it_interval, it_value}, each {tv_sec, tv_nsec}: one-shot.
        self._spec = (ctypes.c_long * 4)()
        self._armed = False
        self._settime: Any = None
        if self._timerfd >= 0:
            self._settime = _LIBC.timerfd_settime
            # Not in the selector's map: epoll wakes for it, select() never reports it.
            self._selector.register(self._timerfd, select.EPOLLIN)  # type: ignore[attr-defined]

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None or timeout <= 0 or not PreciseSelector.precise:
            if self._armed:
                self._arm(0.0)
            return super().select(timeout)
        if self._timerfd >= 0 and self._arm(timeout):
            return super().select(None)
        return self._select_nanosleep(timeout)

    def _arm(self, timeout: float) -> bool:
        """Arm (timeout > 0) or disarm (0) the timerfd; re-arming also clears a fired
        one, so it never keeps epoll awake. False if the kernel refused."""
        spec = self._spec
        seconds = int(timeout)
        nanos = int((timeout - seconds) * 1e9)
        if timeout > 0 and seconds == 0 and nanos == 0:
            nanos = 1  # 0 would disarm
        spec[2] = seconds
        spec[3] = nanos
        ok = self._settime(self._timerfd, 0, spec, None) == 0
        self._armed = ok and timeout > 0
        return ok

    def _select_nanosleep(self, timeout: float) -> list[Any]:
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

    def close(self) -> None:
        if self._timerfd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._timerfd)
            self._timerfd = -1
        super().close()


_VALID_SIGNALS = frozenset(signal.valid_signals())


class PreciseEventLoop(asyncio.SelectorEventLoop):
    """SelectorEventLoop whose signal-number check does not rebuild the valid set."""

    def _check_signal(self, sig: int) -> None:
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in _VALID_SIGNALS:
            raise ValueError(f"invalid signal number {sig}")


def set_precise(enabled: bool) -> None:
    """Sub-millisecond timers on (default) or off (stock epoll rounding, less CPU)."""
    PreciseSelector.precise = enabled


def _reduce_timer_slack() -> None:
    """prctl(PR_SET_TIMERSLACK, 1 ns): the kernel may otherwise add 50 µs to sleeps."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1, 0, 0, 0)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A PreciseEventLoop on PreciseSelector."""
    _reduce_timer_slack()
    return PreciseEventLoop(PreciseSelector())


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
