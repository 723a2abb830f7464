"""The repository keeps its own rules: test modules with one name each (pytest collects
tests/ and tests/netns/ under their basenames), and no document that points outside it."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_test_modules_have_unique_names() -> None:
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_no_document_points_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                             text=True, check=False).stdout.split()
    paths = [ROOT / p for p in tracked] or list(ROOT.glob("*.md"))
    offenders = [str(p.relative_to(ROOT)) for p in paths
                 if p.exists() and "../shared" in p.read_text(encoding="utf-8")]
    assert offenders == []
