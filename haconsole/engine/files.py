"""track_file: an integer in a file moves an instance's priority, watched with inotify.

Operators use it as a drain switch (`echo -50 > /run/keepalived/drain`) or a maintenance
flag. keepalived (trackers/track_file.c) watches the file's *directory* with inotify for
IN_CLOSE_WRITE, IN_DELETE and IN_MOVE, so a file written, replaced by `mv`, or removed is
seen at once; a missing or removed file counts as 0; the text is read like
`strtol(buf, NULL, 0)` (decimal, 0x hex, 0 octal, leading garbage -> 0) and a number
outside the 32-bit range is logged and ignored. `init_file [VALUE] [overwrite]` writes
VALUE when the tracker starts (only if the file is missing unless `overwrite`; never on a
reload). We do the same with inotify through ctypes (the stdlib has no binding) on the
asyncio loop, and the core applies keepalived's value * weight rules.

One choice differs: keepalived drops a track_file whose directory does not exist; we log
it and poll once a second instead, so creating the directory later starts the tracking.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import struct
from collections.abc import Callable
from pathlib import Path

from haconsole.engine.trackers import LogFn

ValueReport = Callable[[str, int, str], None]  # (track name, value, cause)

IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_DELETE = 0x200
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x4000
_WATCH_MASK = IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
_EVENT = struct.Struct("=iIII")  # wd, mask, cookie, len; then the name, NUL-padded
_READ_LIMIT = 127  # keepalived reads at most 127 bytes
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def parse_value(text: str) -> int | None:
    """The file's value as keepalived reads it; None when it must be ignored.

    strtol(text, NULL, 0): skip leading whitespace, an optional sign, then a 0x/0X (hex) or
    0 (octal) prefix, and the longest run of digits of that base; no digits gives 0. An
    overflow of a C long or a value outside [INT32_MIN, INT32_MAX + 1] is ignored.
    """
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    base = 10
    if s[:2].lower() == "0x" and s[2:3].lower() in _DIGITS[:16] and s[2:3]:
        base, s = 16, s[2:]
    elif s[:1] == "0":
        base = 8
    allowed = _DIGITS[:base]
    end = 0
    while end < len(s) and s[end].lower() in allowed:
        end += 1
    value = sign * int(s[:end], base) if end else 0
    if not _LONG_MIN <= value <= _LONG_MAX:
        return None
    if not _INT32_MIN <= value <= _INT32_MAX + 1:
        return None
    return value


def read_value(path: Path) -> tuple[int | None, str]:
    """(value, raw text) of the file now: a missing or unreadable file is 0."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return 0, ""
    try:
        data = os.read(fd, _READ_LIMIT)
    except OSError:
        return 0, ""
    finally:
        os.close(fd)
    if not data:
        return 0, ""
    text = data.decode("latin-1")
    return parse_value(text), text


class _Inotify:
    """A non-blocking inotify descriptor watching one directory (libc via ctypes)."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        wd = libc.inotify_add_watch(fd, os.fsencode(directory), _WATCH_MASK)
        if wd < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, os.strerror(err), str(directory))
        self.fd = fd

    def names(self) -> tuple[set[str], bool, bool]:
        """(names of entries that changed since the last call, queue overflowed so anything
        may have changed, watch ended because the directory went away)."""
        names: set[str] = set()
        overflow = gone = False
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return names, overflow, gone
            offset = 0
            while offset + _EVENT.size <= len(buf):
                _wd, mask, _cookie, length = _EVENT.unpack_from(buf, offset)
                raw = buf[offset + _EVENT.size: offset + _EVENT.size + length]
                offset += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                elif mask & IN_IGNORED:
                    gone = True
                elif not mask & IN_ISDIR:
                    names.add(os.fsdecode(raw.rstrip(b"\0")))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class FileTracker:
    """One track_file: reports the file's integer whenever it changes (see module doc)."""

    def __init__(self, name: str, path: str, *, init_value: int | None = None,
                 overwrite: bool = False, poll_interval: float = 1.0) -> None:
        self.name = name
        self.path = Path(path)
        self.init_value = init_value
        self.overwrite = overwrite
        self.poll_interval = poll_interval
        self.value: int | None = None
        self._inotify: _Inotify | None = None
        self._poller: asyncio.Task[None] | None = None
        self._report: ValueReport | None = None
        self._log: LogFn = lambda _m: None

    def start(self, report: ValueReport, log: LogFn) -> None:
        self._report, self._log = report, log
        self._initialise()
        loop = asyncio.get_running_loop()
        try:
            self._inotify = _Inotify(self.path.parent)
        except OSError as err:
            log(f"Unable to monitor track file {self.name} ({self.path.parent}: "
                f"{err.strerror}) - polling every {self.poll_interval:g}s")
            self._poller = loop.create_task(self._poll())
        else:
            loop.add_reader(self._inotify.fd, self._changed)
        self._read(initial=True)

    def _initialise(self) -> None:
        """init_file: write the initial value (if missing, or always with overwrite)."""
        if self.init_value is None:
            return
        if self.path.exists() and (not self.overwrite or not self.path.is_file()):
            if self.overwrite:
                self._log(f"Cannot initialise track file {self.name} - it is not a regular file")
            return
        try:
            self.path.write_text(f"{self.init_value}\n")
        except OSError as err:
            self._log(f"Unable to initialise track file {self.name}: {err.strerror}")

    def _changed(self) -> None:
        assert self._inotify is not None
        names, overflow, gone = self._inotify.names()
        if gone:
            self._fall_back_to_polling()
        if overflow or gone or self.path.name in names:
            self._read()

    def _fall_back_to_polling(self) -> None:
        """The watched directory went away: poll, so a re-created one is picked up."""
        if self._inotify is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        if self._poller is None:
            self._log(f"Track file {self.name}: lost the watch on {self.path.parent} - "
                      f"polling every {self.poll_interval:g}s")
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            self._read()

    def _read(self, initial: bool = False) -> None:
        value, text = read_value(self.path)
        if value is None:
            self._log(f"Invalid number {text.strip()!s} read from {self.path} - ignoring")
            if not initial:
                return
            value = 0
        if value == self.value and not initial:
            return
        self.value = value
        if self._report is not None:
            self._report(self.name, value, f"track file {self.name} = {value}")

    async def stop(self) -> None:
        if self._inotify is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
