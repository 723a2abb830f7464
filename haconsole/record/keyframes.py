"""Keyframes: a folded `ClusterView` frozen at an instant, so a seek folds minutes, not days.

Why pickle: the view is a graph (an instance is in `instances` and in its group; a failover
record is in `failovers` and `pending`), which pickle keeps; dumping a 400-instance view
takes ~10 ms and loading it ~5 ms. Two guards make a keyframe never wrong, only unused:
- the fingerprint: a hash of the fold's source (every module of `haconsole.cluster`, and
  the states). A keyframe written by other code is not loaded; the reader folds from
  further back.
- the loader builds nothing but classes of `haconsole.cluster` (and the states, deques and
  sets): a recording is a file people share, and loading it must never run anything else.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import pickle
import zlib
from pathlib import Path

from haconsole.cluster.view import ClusterView

CODEC = "pickle5+zlib"

# The code that decides what a folded view holds: every module of this package, and these.
_FOLD_PACKAGE = "haconsole.cluster"
_FOLD_MODULES = ("haconsole.vrrp.state",)

# What a keyframe may name: classes of those modules, and standard containers.
_ALLOWED_GLOBALS = {("collections", "deque"), ("builtins", "set"), ("builtins", "frozenset")}


def _fold_sources() -> list[Path]:
    package = importlib.import_module(_FOLD_PACKAGE)
    files = sorted(Path(p) for d in package.__path__ for p in Path(d).glob("*.py"))
    for name in _FOLD_MODULES:
        files.append(Path(str(importlib.import_module(name).__file__)))
    return files


@functools.cache
def fingerprint() -> str:
    """A short hash of the fold's source code (and the haconsole version)."""
    from haconsole import __version__

    h = hashlib.sha256(__version__.encode())
    try:
        for path in _fold_sources():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    except (ImportError, OSError, TypeError):  # no sources to read: the version alone
        h.update(b"sources unavailable")
    return h.hexdigest()[:16]


def dump(view: ClusterView, *, level: int = 6) -> bytes:
    """The view as a keyframe blob."""
    return zlib.compress(pickle.dumps(view, protocol=5), level)


class _Loader(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if (module.startswith(_FOLD_PACKAGE + ".") or module in _FOLD_MODULES) \
                and "." not in name:
            found = super().find_class(module, name)
            # a class defined there: never a function, nor a class it imported
            if isinstance(found, type) and found.__module__ == module:
                return found
        raise pickle.UnpicklingError(f"a keyframe may not name {module}.{name}")


def load(blob: bytes) -> ClusterView | None:
    """The view from a keyframe blob; None when it cannot be read (the caller folds from
    further back instead)."""
    try:
        view = _Loader(io.BytesIO(zlib.decompress(blob))).load()
    except Exception:  # any damage, any foreign content: not a usable keyframe
        return None
    return view if isinstance(view, ClusterView) else None
