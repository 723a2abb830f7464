"""The track_file watcher: keepalived's strtol reading, inotify on write/mv/rm, init_file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from haconsole.engine.files import FileTracker, parse_value


@pytest.mark.parametrize(("text", "value"), [
    ("42\n", 42), ("  -7", -7), ("+3", 3), ("0x1f", 31), ("0X10z", 16), ("010", 8),
    ("08", 0), ("0x", 0), ("abc", 0), ("", 0), ("12abc", 12), ("2147483648", 2**31),
])
def test_parse_value_like_strtol_base_0(text: str, value: int) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize("text", ["2147483649", "-2147483649", "99999999999999999999999"])
def test_out_of_range_numbers_are_ignored(text: str) -> None:
    assert parse_value(text) is None


class Seen:
    """Collects reports and logs; waits for a condition instead of sleeping."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.logs: list[str] = []
        self.changed = asyncio.Event()

    def report(self, name: str, value: int, cause: str) -> None:
        assert name == "tf" and str(value) in cause
        self.values.append(value)
        self.changed.set()

    def log(self, line: str) -> None:
        self.logs.append(line)
        self.changed.set()

    async def until(self, cond: object, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while not cond():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)


async def test_reports_at_start_then_on_write_move_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "drain"
    seen = Seen()
    tracker = FileTracker("tf", str(path))
    tracker.start(seen.report, seen.log)
    try:
        assert seen.values == [0]  # a missing file reads as 0, reported at once
        path.write_text("-20\n")
        await seen.until(lambda: seen.values[-1:] == [-20])
        staged = tmp_path / ".drain.new"
        staged.write_text("5")
        os.rename(staged, path)  # atomic replace: IN_MOVED_TO
        await seen.until(lambda: seen.values[-1:] == [5])
        path.write_text("5")  # same value: nothing to report
        (tmp_path / "other").write_text("9")  # another file in the directory: ignored
        path.unlink()
        await seen.until(lambda: seen.values[-1:] == [0])
        assert seen.values == [0, -20, 5, 0]
    finally:
        await tracker.stop()


async def test_invalid_number_is_logged_and_the_last_value_kept(tmp_path: Path) -> None:
    path = tmp_path / "v"
    path.write_text("3")
    seen = Seen()
    tracker = FileTracker("tf", str(path))
    tracker.start(seen.report, seen.log)
    try:
        path.write_text("99999999999")
        await seen.until(lambda: any("Invalid number" in line for line in seen.logs))
        path.write_text("4")
        await seen.until(lambda: seen.values[-1:] == [4])
        assert seen.values == [3, 4]
    finally:
        await tracker.stop()


@pytest.mark.parametrize(("existing", "overwrite", "expected"), [
    (None, False, "7\n"), ("1\n", False, "1\n"), ("1\n", True, "7\n"),
])
async def test_init_file(tmp_path: Path, existing: str | None, overwrite: bool,
                         expected: str) -> None:
    path = tmp_path / "f"
    if existing is not None:
        path.write_text(existing)
    seen = Seen()
    tracker = FileTracker("tf", str(path), init_value=7, overwrite=overwrite)
    tracker.start(seen.report, seen.log)
    await tracker.stop()
    assert path.read_text() == expected
    assert seen.values == [int(expected)]


async def test_missing_directory_is_polled_until_it_appears(tmp_path: Path) -> None:
    directory = tmp_path / "later"
    seen = Seen()
    tracker = FileTracker("tf", str(directory / "f"), poll_interval=0.05)
    tracker.start(seen.report, seen.log)
    try:
        assert any("polling" in line for line in seen.logs)
        directory.mkdir()
        (directory / "f").write_text("2")
        await seen.until(lambda: seen.values[-1:] == [2])
    finally:
        await tracker.stop()


async def test_directory_removed_falls_back_to_polling(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    seen = Seen()
    tracker = FileTracker("tf", str(directory / "f"), poll_interval=0.05)
    tracker.start(seen.report, seen.log)
    try:
        directory.rmdir()
        await seen.until(lambda: any("lost the watch" in line for line in seen.logs))
        directory.mkdir()
        (directory / "f").write_text("6")
        await seen.until(lambda: seen.values[-1:] == [6])
    finally:
        await tracker.stop()
