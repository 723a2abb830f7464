"""One pyroute2 IPRoute on a private thread, callable from inside an asyncio loop.

Why: pyroute2 0.9's synchronous IPRoute drives its own asyncio loop per thread and
refuses to run in a thread whose loop is already running (the engine's). Netlink calls
take microseconds, so the engine simply waits for this worker thread; the socket is
created lazily, inside the worker, in the caller's network namespace.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_local = threading.local()


def _ipr() -> Any:
    ipr = getattr(_local, "ipr", None)
    if ipr is None:
        from pyroute2 import IPRoute

        ipr = _local.ipr = IPRoute()
    return ipr


def call(fn: Callable[[Any], T]) -> T:
    """Run `fn(ipr)` on the netlink thread and return its result (or raise its error)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netlink")
        executor = _executor
    return executor.submit(lambda: fn(_ipr())).result()


def _close_ipr() -> None:
    ipr = getattr(_local, "ipr", None)
    if ipr is not None:
        ipr.close()
        _local.ipr = None


def shutdown() -> None:
    """Close the netlink socket and stop the thread (idempotent)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        with contextlib.suppress(RuntimeError):  # interpreter exit already stopped it
            executor.submit(_close_ipr).result()
        executor.shutdown(wait=True)


def error_code(err: BaseException) -> int | None:
    """The errno of a netlink error (pyroute2's NetlinkError is no OSError)."""
    code = getattr(err, "code", None)
    if isinstance(code, int):
        return code
    return getattr(err, "errno", None)
