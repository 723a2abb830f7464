"""Events as JSON rows, and blocks of rows as compressed blobs.

Why generic (kind + the event's own fields): a recording must hold event kinds added after
it was written, and a reader must skip kinds it does not know rather than fail, so there
is no per-kind schema. Why blocks: one row per event would cost ~100 bytes of SQLite per
event; a second of events, sorted by time and zlib-compressed, costs ~8.

A block is `[[seq, event], ...]` sorted by (t, seq): `seq` numbers events in the order the
recorder received them (ties in time keep that order when blocks are merged).
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from enum import Enum
from typing import Any

from haconsole.cluster import events as ev
from haconsole.cluster.view import CommandIssued

Item = ev.Event | CommandIssued
Row = tuple[float, int, Item]  # (t, seq, item): the merge order

COMMAND_ISSUED = "command_issued"  # the console's note is not a source event: its own kind

_FIELDS: dict[type[Any], frozenset[str]] = {}


def encode(item: Item) -> dict[str, Any]:
    """The item as a JSON-ready dict: its fields plus `kind` (what `decode` reads back)."""
    if isinstance(item, CommandIssued):
        return {"kind": COMMAND_ISSUED, "t": item.t, "node": item.node, "command": item.command}
    d = dict(item.__dict__)  # the fields of a frozen dataclass: faster than asdict()
    d["kind"] = item.kind
    for name, value in d.items():
        if isinstance(value, Enum):
            d[name] = value.value
    return d


def decode(d: dict[str, Any]) -> Item | None:
    """The item back from `encode`'s dict; None for a kind this build does not know.

    Lenient on purpose: fields this build does not know (a newer recorder's) are dropped,
    lists become tuples (JSON has no tuple). A malformed known kind raises ValueError.
    """
    kind = d.get("kind")
    if kind == COMMAND_ISSUED:
        return CommandIssued(float(d["t"]), str(d["node"]), str(d.get("command", "")))
    cls = ev.EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return None
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    kwargs: dict[str, Any] = {k: (tuple(v) if type(v) is list else v)
                              for k, v in d.items() if k in names}
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field missing
        raise ValueError(f"{kind}: {err}") from None


def _plain(value: object) -> object:
    """JSON for what `encode` left as is (a field type added later): never fail a block."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def pack(rows: list[tuple[int, Item]]) -> bytes:
    """One block: `rows` (seq, item), already in (t, seq) order, as a zlib blob.
    ASCII JSON: a log line's undecodable bytes (lone surrogates) survive as escapes."""
    data = json.dumps([[seq, encode(item)] for seq, item in rows], separators=(",", ":"),
                      default=_plain)
    return zlib.compress(data.encode(), 6)


def unpack(blob: bytes) -> tuple[list[Row], int]:
    """A block's rows as (t, seq, item), and how many rows were skipped (unknown kinds or
    malformed events). Raises ValueError when the blob itself is damaged."""
    try:
        raw = json.loads(zlib.decompress(blob))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"a damaged block ({err})") from None
    if not isinstance(raw, list):
        raise ValueError("a damaged block (not a list of events)")
    rows: list[Row] = []
    skipped = 0
    for entry in raw:
        try:
            seq, d = entry
            item = decode(d)
        except (TypeError, ValueError, KeyError, AttributeError):
            item = None
        if item is None or type(seq) is not int or type(item.t) not in (float, int):
            skipped += 1  # (a crafted file: rows must sort)
            continue
        rows.append((item.t, seq, item))
    return rows, skipped

