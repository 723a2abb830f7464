"""The recording file: an SQLite database in WAL mode, and how to tell it from others.

Why SQLite: the standard library has it; WAL keeps every committed second across a
SIGKILL and lets a reader open the file while the recorder writes; indexes seek by time.

Tables: `meta` (key -> JSON), `blocks` (compressed runs of events, `codec`), `keyframes`
(fold checkpoints, `keyframes`), `marks` (every transition, for a timeline's ticks without
reading the events). The header's application_id says "a haconsole recording" and its
user_version the format version, so a foreign or newer file is refused from its first
100 bytes, in one line that names it.

Invariants the writer keeps (readers rely on them):
- a block spans at most BLOCK_SPAN seconds (t_max - t_min), so a time range is found
  through the t_min index alone;
- every keyframe covers every event in the file at or before its time (a block holding
  older events deletes the keyframes it invalidates, in the same transaction).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from enum import Enum
from pathlib import Path
from typing import IO
from urllib.parse import quote

FORMAT = "haconsole-recording"
FORMAT_VERSION = 1
APPLICATION_ID = 0x48435231  # "HCR1"
BLOCK_SPAN = 10.0  # seconds: the longest time range one block covers
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blocks (id INTEGER PRIMARY KEY, t_min REAL NOT NULL, t_max REAL NOT NULL,
                     n INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX blocks_t ON blocks (t_min, t_max, n);
CREATE TABLE keyframes (id INTEGER PRIMARY KEY, t REAL NOT NULL, events INTEGER NOT NULL,
                        codec TEXT NOT NULL, fingerprint TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX keyframes_t ON keyframes (t);
CREATE TABLE marks (t REAL NOT NULL, node TEXT NOT NULL, instance TEXT NOT NULL,
                    old TEXT NOT NULL, new TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX marks_t ON marks (t);
"""


class RecordingError(Exception):
    """A file that cannot be used as a recording; the message is one line naming it."""


class FileState(Enum):
    MISSING = "missing"
    EMPTY = "empty"
    RECORDING = "recording"


def check_file(path: str | os.PathLike[str]) -> FileState:
    """What `path` is, from its header; RecordingError for anything but a haconsole
    recording this build can read, an empty file or no file at all."""
    name = str(path)
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return FileState.MISSING
    except IsADirectoryError:
        raise RecordingError(f"{name}: is a directory, not a recording") from None
    except OSError as err:
        raise RecordingError(f"{name}: cannot read ({err.strerror or err})") from None
    if size == 0:
        return FileState.EMPTY
    if not head.startswith(SQLITE_MAGIC[: len(head)]) or len(head) < len(SQLITE_MAGIC):
        raise RecordingError(f"{name}: not a haconsole recording (not an SQLite database)")
    if len(head) < 100:
        raise RecordingError(f"{name}: truncated ({size} bytes, not even a header)")
    app_id = int.from_bytes(head[68:72], "big")
    version = int.from_bytes(head[60:64], "big")
    if app_id != APPLICATION_ID:
        raise RecordingError(f"{name}: an SQLite database, but not a haconsole recording")
    if version > FORMAT_VERSION:
        raise RecordingError(f"{name}: recorded by a newer haconsole (recording format "
                             f"{version}; this one reads up to {FORMAT_VERSION})")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    size_valid = head[24:28] == head[92:96] and pages > 0
    wal = Path(name + "-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0  # pages may still live there
    if size_valid and not has_wal and size < pages * page_size:
        raise RecordingError(f"{name}: truncated ({size} of {pages * page_size} bytes): "
                             "the end of the recording is missing")
    return FileState.RECORDING


def lock(path: str | os.PathLike[str]) -> IO[bytes]:
    """Hold the file for one recorder (flock: independent of SQLite's own locks); two
    recorders appending to one file would interleave their sessions."""
    f = Path(path).open("rb")  # noqa: SIM115 - held until the recorder closes
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise RecordingError(f"{path}: another recorder is writing it") from None
    return f


def connect(path: str | os.PathLike[str], *, readonly: bool) -> sqlite3.Connection:
    """A connection to `path` (read-only never creates or changes the file)."""
    name = str(path)
    try:
        if readonly:
            uri = f"file:{quote(os.path.abspath(name))}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10.0)
        else:
            conn = sqlite3.connect(name, check_same_thread=False, timeout=10.0,
                                   isolation_level=None)
    except sqlite3.Error as err:
        raise RecordingError(f"{name}: cannot open ({err})") from None
    return conn


def create(conn: sqlite3.Connection) -> None:
    """Give an empty database the recording's header and tables, then switch it to WAL
    (header first, in rollback mode, so that even the first page says what the file is)."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
    conn.execute("BEGIN")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")


def damaged(path: str | os.PathLike[str], err: Exception) -> RecordingError:
    """The one line for a file SQLite (or a block) cannot read."""
    text = str(err) or type(err).__name__
    if "not a database" in text:
        return RecordingError(f"{path}: not a haconsole recording (not an SQLite database)")
    return RecordingError(f"{path}: damaged recording ({text})")
