"""keepalived's runtime dumps -> instance snapshots -> `cluster.events`.

A stock keepalived node tells its state only through files it writes on signals:

- `/tmp/keepalived.json` on the JSON signal (`keepalived --signum=JSON`): per instance a
  `data` object (state code, priorities, last_transition, VIPs, ... and `auth_data`, the
  VRRP password in clear text up to 2.2.7, `********` from 2.3) and a `stats` object
  (advert and error counters). `json_version 2` (2.3+) wraps the array as
  `{"vrrp": [...], "track_process": [...]}`, the second with each vrrp_track_process's
  quorum; `parse_json_document` says which version it read;
- `/tmp/keepalived.data` on SIGUSR1 (2.3+: where `state_dump_file` says): a
  human-readable dump of everything (the password too, masked from 2.3);
- `/tmp/keepalived.stats` on SIGUSR2: the counters as text (2.4 adds the authentication
  extension's six, `auth_ext_*`: None in `AdvertStats` where a release has none).

These readers are the input of the SSH source, which reads the files remotely and passes
their text here. Why this module is strict about two things:

- the password never leaves it in clear text: it is reduced to `auth_fingerprint`, an HMAC
  under a key that exists only in this process (equal passwords on two nodes give equal
  fingerprints, so a cross-node check can compare them; nothing can be recovered offline);
- malformed input raises `DumpError` (a ValueError) that says which file, instance, field or
  line is wrong, never a bare KeyError/JSONDecodeError, and never quotes the password.

Facts from keepalived 2.2.7 and 2.4.3: vrrp_json.c (field names; `vips` and `auth_data`
are omitted when empty/unset), vrrp_print.c (stats text), vrrp_data.c (data text), vrrp.h
(state codes 0 init, 1 backup, 2 master, 3 fault, 97 deleted, 98 stop). Real dumps of
both are in tests/data (2.4.3: tests/data/keepalived-2.4.3, made by make_dumps.py there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from haconsole.cluster.events import (
    AdvertCounters,
    Event,
    InstanceCounters,
    InstanceState,
    PacketDropped,
    State,
    TrackResult,
)

PathLike = str | os.PathLike[str]

__all__ = [
    "DEFAULT_DATA_PATH",
    "DEFAULT_JSON_PATH",
    "DEFAULT_STATS_PATH",
    "STATE_NAMES",
    "AdvertStats",
    "DumpError",
    "DumpPaths",
    "InstanceSnapshot",
    "JsonDump",
    "TrackedProcess",
    "dump_events",
    "dump_paths",
    "parse_data_dump",
    "parse_json_document",
    "parse_json_dump",
    "parse_stats_dump",
    "read_data_dump",
    "read_json_dump",
    "read_stats_dump",
    "snapshot_events",
    "track_process_events",
    "with_stats",
]

DEFAULT_JSON_PATH = "/tmp/keepalived.json"
DEFAULT_DATA_PATH = "/tmp/keepalived.data"
DEFAULT_STATS_PATH = "/tmp/keepalived.stats"

#: keepalived's instance state codes (vrrp.h) and their names.
STATE_NAMES: dict[int, str] = {
    0: "INIT",
    1: "BACKUP",
    2: "MASTER",
    3: "FAULT",
    97: "DELETED",
    98: "STOP",
}
_EVENT_STATE: dict[str, State] = {
    "INIT": State.INIT,
    "BACKUP": State.BACKUP,
    "MASTER": State.MASTER,
    "FAULT": State.FAULT,
    "DELETED": State.STOP,
    "STOP": State.STOP,
    # keepalived.data prints "unknown" for codes other than 0-3, i.e. deleted or stopping.
    "UNKNOWN": State.STOP,
}



@dataclass(frozen=True)
class DumpPaths:
    """Where one keepalived writes its dumps (see `dump_paths`)."""

    json: str = DEFAULT_JSON_PATH
    data: str = DEFAULT_DATA_PATH
    stats: str = DEFAULT_STATS_PATH


def dump_paths(*, tmp_dir: str = "", state_dump_file: str | None = None,
               release: str = "") -> DumpPaths:
    """Where a keepalived of `release` ("2.4.3"; "" unknown: taken as 2.3+) writes its
    dumps, given its tmp directory (its $TMPDIR when absolute, else /tmp) and the
    configuration's `state_dump_file`.

    From keepalived's sources (2.2.7 and 2.4.3: make_tmp_filename, and 2.3+'s
    global_data.c open_dump_file): the JSON and the stats always go to the tmp directory
    as keepalived.json and keepalived.stats (2.3+ parses `json_dump_file` and
    `stats_dump_file` but does not use them); SIGUSR1's data goes to `state_dump_file`
    from 2.3: its directory when absolute (else the tmp directory) and its file name (a
    path ending in "/" keeps keepalived.data). 2.2.7 knows no such keyword.
    """
    tmp = tmp_dir.rstrip("/") if tmp_dir.startswith("/") else "/tmp"
    tmp = tmp or "/"
    data = f"{tmp}/keepalived.data"
    numbers = tuple(int(n) for n in re.findall(r"\d+", release)[:2])
    if state_dump_file and (not numbers or numbers >= (2, 3)):
        if state_dump_file.startswith("/"):
            directory = state_dump_file if state_dump_file.endswith("/") else \
                state_dump_file.rsplit("/", 1)[0] + "/"
        else:
            directory = tmp + "/"
        name = "keepalived.data" if state_dump_file.endswith("/") else \
            state_dump_file.rsplit("/", 1)[-1]
        data = directory.rstrip("/") + "/" + name
    return DumpPaths(json=f"{tmp}/keepalived.json", data=data, stats=f"{tmp}/keepalived.stats")


# Lives only in this process: fingerprints compare passwords without revealing them.
_FINGERPRINT_KEY = os.urandom(32)


#: What keepalived 2.3+ writes instead of the password (vrrp_json.c, vrrp_data.c).
MASKED_PASSWORD = "********"


def _fingerprint(secret: bytes) -> str:
    """"" for 2.3+'s mask: equal masks say nothing about the passwords behind them."""
    if secret == MASKED_PASSWORD.encode():
        return ""
    return hmac.new(_FINGERPRINT_KEY, secret, hashlib.sha256).hexdigest()[:16]


class DumpError(ValueError):
    """A keepalived dump that cannot be read; the message says where and what."""

    def __init__(self, dump: str, where: str, message: str) -> None:
        super().__init__(f"{dump}: {where}: {message}" if where else f"{dump}: {message}")
        self.dump = dump
        self.where = where
        self.message = message


@dataclass(frozen=True)
class AdvertStats:
    """keepalived's per-instance counters (the JSON `stats` object, SIGUSR2's text)."""

    advert_rcvd: int = 0
    advert_sent: int = 0
    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    advert_interval_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0
    # keepalived 2.4's authentication extension (auth_hmac): None where the release (or
    # the build) does not count them.
    auth_ext_missing: int | None = None
    auth_ext_malformed: int | None = None
    auth_ext_unknown_key: int | None = None
    auth_ext_invalid_hmac: int | None = None
    auth_ext_stale: int | None = None
    auth_ext_replay: int | None = None

    #: Counters of dropped packets; names match `PacketDropped.reason` / `PacketError`.
    ERROR_COUNTERS: ClassVar[tuple[str, ...]] = (
        "packet_len_err",
        "advert_interval_err",
        "ip_ttl_err",
        "invalid_type_rcvd",
        "addr_list_err",
        "invalid_authtype",
        "authtype_mismatch",
        "auth_failure",
        "auth_ext_missing",
        "auth_ext_malformed",
        "auth_ext_unknown_key",
        "auth_ext_invalid_hmac",
        "auth_ext_stale",
        "auth_ext_replay",
    )
    #: keepalived 2.4's, None when absent.
    AUTH_EXT: ClassVar[tuple[str, ...]] = ERROR_COUNTERS[8:]
    #: Only present when keepalived is built with VRRP authentication (and, for the
    #: authentication extension's, from 2.4).
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"authtype_mismatch", "auth_failure",
                                                    *AUTH_EXT})

    def errors(self) -> dict[str, int]:
        """The error counters by keepalived name (those this keepalived counts)."""
        return {name: value for name in self.ERROR_COUNTERS
                if (value := getattr(self, name)) is not None}

    def counters(self) -> dict[str, int]:
        """Every counter this keepalived counts, by keepalived name."""
        return {f.name: value for f in dataclasses.fields(self)
                if (value := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class InstanceSnapshot:
    """One VRRP instance as a keepalived dump shows it, password reduced to a fingerprint.

    `vips` are bare addresses (as the log parser and config model name them);
    `vip_specs` keep keepalived's full text (`192.0.2.170 dev eth0 scope global set`).
    `track_scripts` are what the dump shows: the JSON gives the scripts' commands, the
    data dump their names with weights (`chk_nginx weight -20`).
    Fields a dump does not carry are left empty/None (the JSON has no source address,
    the data dump has no counters). `auth_fingerprint` is "" without a password and for
    2.3+'s masked one.
    """

    name: str
    vrid: int
    state_code: int
    state: str
    base_priority: int
    effective_priority: int
    last_transition: float = 0.0
    vips: tuple[str, ...] = ()
    vip_specs: tuple[str, ...] = ()
    excluded_vips: tuple[str, ...] = ()
    interface: str = ""
    version: int = 2
    advert_int: float = 1.0
    master_advert_int: float | None = None
    master_priority: int | None = None
    master_address: str = ""
    address: str = ""
    want_state: str = ""
    nopreempt: bool | None = None
    preempt_delay: float = 0.0
    auth_type: int = 0
    auth_fingerprint: str = ""
    track_scripts: tuple[str, ...] = ()
    track_processes: tuple[str, ...] = ()  # vrrp_track_process names (2.4's JSON, .data)
    stats: AdvertStats | None = None

    @property
    def event_state(self) -> State:
        """The state in the event model (deleted/stopping instances are STOP)."""
        return _EVENT_STATE.get(self.state, State.STOP)


# --------------------------------------------------------------------------------------
# JSON (keepalived.json)
# --------------------------------------------------------------------------------------

_JSON = "keepalived.json"


class _Obj:
    """Typed access to one JSON object with errors that name the path."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise DumpError(_JSON, where, f"expected an object, got {_json_type(data)}")
        self.data: dict[str, Any] = data
        self.where = where

    def _fail(self, key: str, message: str) -> DumpError:
        return DumpError(_JSON, f"{self.where}.{key}", message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get_int(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            if default is not None and key not in self.data:
                return default
            raise self._fail(key, "missing" if key not in self.data else "is null")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._fail(key, f"expected a non-negative integer, got {value!r}")
        return value

    def get_float(self, key: str, default: float | None = None) -> float:
        value = self.data.get(key)
        if value is None:
            if default is not None and key not in self.data:
                return default
            raise self._fail(key, "missing" if key not in self.data else "is null")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self._fail(key, f"expected a finite number, got {value!r}")
        return float(value)

    def get_str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key)
        if value is None:
            if default is not None and key not in self.data:
                return default
            raise self._fail(key, "missing" if key not in self.data else "is null")
        if not isinstance(value, str):
            raise self._fail(key, f"expected a string, got {_json_type(value)}")
        return value

    def get_bool(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self._fail(key, f"expected a boolean, got {value!r}")

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "expected an array of strings")
        return tuple(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _vip_address(spec: str) -> str:
    """`192.0.2.170/24 dev eth0 scope global set` -> `192.0.2.170`."""
    token = spec.split(None, 1)[0] if spec.strip() else ""
    return token.split("/", 1)[0]


def _state_name(code: int, where: str, dump: str) -> str:
    try:
        return STATE_NAMES[code]
    except KeyError:
        known = ", ".join(f"{k} {v.lower()}" for k, v in STATE_NAMES.items())
        raise DumpError(dump, where, f"unknown state code {code} (known: {known})") from None


def _stats_from_json(obj: _Obj) -> AdvertStats:
    values: dict[str, int] = {}
    for f in dataclasses.fields(AdvertStats):
        if f.name in AdvertStats.AUTH_EXT:
            if obj.has(f.name):
                values[f.name] = obj.get_int(f.name)
        elif f.name in AdvertStats.OPTIONAL:
            values[f.name] = obj.get_int(f.name, default=0)
        else:
            values[f.name] = obj.get_int(f.name)
    return AdvertStats(**values)


def _auth_fingerprint_json(data: _Obj) -> str:
    """Fingerprint of `auth_data` without ever putting the value into a message."""
    if "auth_data" not in data.data:
        return ""
    secret = data.data["auth_data"]
    if not isinstance(secret, str):
        raise data._fail("auth_data", "expected a string")
    return _fingerprint(secret.encode("utf-8", "surrogateescape"))


def _instance_from_json(item: Any, index: int) -> InstanceSnapshot:
    top = _Obj(item, f"instance {index}")
    if not top.has("data"):
        raise DumpError(_JSON, top.where, "missing 'data' object")
    data = _Obj(top.data["data"], f"{top.where}.data")
    name = data.get_str("iname")
    where = f"instance {index} ({name})"
    data.where = f"{where}.data"
    state_code = data.get_int("state")
    want_code = data.get_int("wantstate", default=state_code)
    specs = data.strings("vips")
    stats = None
    if top.has("stats"):
        stats = _stats_from_json(_Obj(top.data["stats"], f"{where}.stats"))
    version = data.get_int("version", default=2)
    if version not in (2, 3):
        raise data._fail("version", f"expected 2 or 3, got {version}")
    return InstanceSnapshot(
        name=name,
        vrid=data.get_int("vrid"),
        state_code=state_code,
        state=_state_name(state_code, f"{data.where}.state", _JSON),
        want_state=STATE_NAMES.get(want_code, "UNKNOWN"),
        base_priority=data.get_int("base_priority"),
        effective_priority=data.get_int("effective_priority"),
        last_transition=data.get_float("last_transition"),
        vips=tuple(_vip_address(s) for s in specs),
        vip_specs=specs,
        excluded_vips=tuple(_vip_address(s) for s in data.strings("evips")),
        interface=data.get_str("ifp_ifname", default=""),
        version=version,
        advert_int=data.get_float("adver_int", default=1.0),
        master_advert_int=(
            data.get_float("master_adver_int") if data.has("master_adver_int") else None
        ),
        master_priority=data.get_int("master_priority") if data.has("master_priority") else None,
        nopreempt=data.get_bool("nopreempt"),
        preempt_delay=data.get_float("preempt_delay", default=0.0),
        auth_type=data.get_int("auth_type", default=0),
        auth_fingerprint=_auth_fingerprint_json(data),
        track_scripts=data.strings("track_script"),
        track_processes=data.strings("track_process"),
        stats=stats,
    )


@dataclass(frozen=True)
class TrackedProcess:
    """One vrrp_track_process as `json_version 2` shows it (`track_process`): whether it
    has its quorum of processes, the tracked object's result."""

    name: str
    current: int
    min_processes: int
    max_processes: int | None
    have_quorum: bool
    weight: int


@dataclass(frozen=True)
class JsonDump:
    """A whole keepalived.json: its format version (1: the bare array; 2: the object of
    `json_version 2`), the instances, and (2 only) the tracked processes."""

    version: int
    instances: tuple[InstanceSnapshot, ...]
    track_processes: tuple[TrackedProcess, ...] = ()


def _process_from_json(item: Any, index: int) -> TrackedProcess:
    obj = _Obj(item, f"track_process {index}")
    name = obj.get_str("process")
    obj.where = f"track_process {index} ({name})"
    weight = obj.data.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise obj._fail("weight", f"expected an integer, got {weight!r}")
    return TrackedProcess(
        name=name,
        current=obj.get_int("current_processes"),
        min_processes=obj.get_int("min_processes", default=1),
        max_processes=obj.get_int("max_processes") if obj.has("max_processes") else None,
        have_quorum=bool(obj.get_bool("have_quorum")),
        weight=weight,
    )


def parse_json_dump(text: str | bytes) -> tuple[InstanceSnapshot, ...]:
    """Instances of a keepalived.json dump (either format version), in file order."""
    return parse_json_document(text).instances


def parse_json_document(text: str | bytes) -> JsonDump:
    """A keepalived.json dump of either format version (see `JsonDump`)."""
    if isinstance(text, bytes):
        # keepalived writes auth_data bytes as they are: they may not be UTF-8.
        text = text.decode("utf-8", "surrogateescape")
    if not text.strip():
        raise DumpError(_JSON, "", "empty file (keepalived writes no dump without instances)")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg and the position only: the document may hold the password.
        raise DumpError(
            _JSON, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise DumpError(_JSON, "", "not valid JSON: nested too deeply") from None
    version = 1
    processes: tuple[TrackedProcess, ...] = ()
    if isinstance(doc, dict) and "vrrp" in doc:  # json_version 2
        version = 2
        top = _Obj(doc, "")
        if not isinstance(doc["vrrp"], list):
            raise DumpError(_JSON, "vrrp", f"expected an array of instances, got "
                                           f"{_json_type(doc['vrrp'])}")
        listed = doc.get("track_process", [])
        if not isinstance(listed, list):
            raise top._fail("track_process", f"expected an array, got {_json_type(listed)}")
        processes = tuple(_process_from_json(item, i) for i, item in enumerate(listed))
        doc = doc["vrrp"]
    if not isinstance(doc, list):
        raise DumpError(_JSON, "", f"expected an array of instances (json_version 1) or "
                                   f"an object with 'vrrp' (2), got {_json_type(doc)}")
    snapshots = tuple(_instance_from_json(item, i) for i, item in enumerate(doc))
    _check_unique(snapshots, _JSON)
    return JsonDump(version, snapshots, processes)


def read_json_dump(path: PathLike = DEFAULT_JSON_PATH) -> tuple[InstanceSnapshot, ...]:
    """`parse_json_dump` of a file (OSError if it cannot be read)."""
    return parse_json_dump(Path(path).read_bytes())


def _check_unique(snapshots: Iterable[InstanceSnapshot], dump: str) -> None:
    seen: set[str] = set()
    for snap in snapshots:
        if snap.name in seen:
            raise DumpError(dump, f"instance {snap.name}", "appears twice")
        seen.add(snap.name)


# --------------------------------------------------------------------------------------
# Stats text (keepalived.stats, SIGUSR2)
# --------------------------------------------------------------------------------------

_STATS = "keepalived.stats"

# (section, label) -> counter, as vrrp_print.c writes them.
_STATS_FIELDS: dict[tuple[str, str], str] = {
    ("Advertisements", "Received"): "advert_rcvd",
    ("Advertisements", "Sent"): "advert_sent",
    ("", "Became master"): "become_master",
    ("", "Released master"): "release_master",
    ("Packet Errors", "Length"): "packet_len_err",
    ("Packet Errors", "TTL"): "ip_ttl_err",
    ("Packet Errors", "Invalid Type"): "invalid_type_rcvd",
    ("Packet Errors", "Advertisement Interval"): "advert_interval_err",
    ("Packet Errors", "Address List"): "addr_list_err",
    ("Authentication Errors", "Invalid Type"): "invalid_authtype",
    ("Authentication Errors", "Type Mismatch"): "authtype_mismatch",
    ("Authentication Errors", "Failure"): "auth_failure",
    ("Priority Zero", "Received"): "pri_zero_rcvd",
    ("Priority Zero", "Sent"): "pri_zero_sent",
    ("Authentication Extension Errors", "Missing"): "auth_ext_missing",  # 2.4
    ("Authentication Extension Errors", "Malformed"): "auth_ext_malformed",
    ("Authentication Extension Errors", "Unknown Key"): "auth_ext_unknown_key",
    ("Authentication Extension Errors", "Invalid HMAC"): "auth_ext_invalid_hmac",
    ("Authentication Extension Errors", "Stale"): "auth_ext_stale",
    ("Authentication Extension Errors", "Replay"): "auth_ext_replay",
}


def parse_stats_dump(text: str | bytes) -> dict[str, AdvertStats]:
    """Counters by instance name from a keepalived.stats dump."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    result: dict[str, AdvertStats] = {}
    name: str | None = None
    section = ""
    values: dict[str, int] = {}

    def finish(lineno: int) -> None:
        if name is None:
            return
        missing = [
            f.name
            for f in dataclasses.fields(AdvertStats)
            if f.name not in values and f.name not in AdvertStats.OPTIONAL
        ]
        if missing:
            raise DumpError(
                _STATS, f"instance {name} (ending line {lineno})",
                f"missing counters: {', '.join(missing)}",
            )
        result[name] = AdvertStats(**values)

    lines = text.splitlines()
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        if raw.startswith("VRRP Instance:"):
            finish(lineno - 1)
            name = raw.split(":", 1)[1].strip()
            if not name:
                raise DumpError(_STATS, f"line {lineno}", "instance without a name")
            if name in result:
                raise DumpError(_STATS, f"line {lineno}", f"instance {name} appears twice")
            section, values = "", {}
            continue
        if name is None:
            raise DumpError(
                _STATS, f"line {lineno}", "expected 'VRRP Instance: NAME' before counters"
            )
        indent = len(raw) - len(raw.lstrip(" "))
        label, sep, value = raw.strip().partition(":")
        if not sep:
            raise DumpError(_STATS, f"line {lineno}", "expected 'Label: value'")
        value = value.strip()
        if not value:
            section = label if indent <= 2 else section
            continue
        if indent <= 2:
            section = ""
        counter = _STATS_FIELDS.get((section, label))
        if counter is None:
            continue  # a counter a later keepalived added: not an error
        if not value.isdigit():
            raise DumpError(
                _STATS, f"line {lineno}", f"{label}: expected a count, got {value!r}"
            )
        values[counter] = int(value)
    finish(len(lines))
    if not result and text.strip():
        raise DumpError(_STATS, "", "no 'VRRP Instance:' block found")
    return result


def read_stats_dump(path: PathLike = DEFAULT_STATS_PATH) -> dict[str, AdvertStats]:
    """`parse_stats_dump` of a file (OSError if it cannot be read)."""
    return parse_stats_dump(Path(path).read_bytes())


def with_stats(
    snapshots: Iterable[InstanceSnapshot], stats: Mapping[str, AdvertStats]
) -> tuple[InstanceSnapshot, ...]:
    """Attach SIGUSR2 counters to snapshots (e.g. from the SIGUSR1 data dump) by name."""
    return tuple(
        dataclasses.replace(s, stats=stats[s.name]) if s.name in stats else s
        for s in snapshots
    )


# --------------------------------------------------------------------------------------
# Data text (keepalived.data, SIGUSR1): instance state, priorities, VIPs
# --------------------------------------------------------------------------------------

_DATA = "keepalived.data"
_SECTION_RE = re.compile(r"^------< (?P<name>.+) >------$")
_DATA_STATES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "unknown": -1}
_AUTH_TYPES = {"none": 0, "SIMPLE_PASSWORD": 1, "IPSEC_AH": 2}


class _DataInstance:
    """Collects one ` VRRP Instance = NAME` block of keepalived.data."""

    def __init__(self, name: str, lineno: int) -> None:
        self.name = name
        self.lineno = lineno
        self.fields: dict[str, tuple[int, str]] = {}
        self.vips: list[str] = []
        self.evips: list[str] = []
        self.scripts: list[str] = []
        self.auth_fingerprint = ""

    def _fail(self, lineno: int, message: str) -> DumpError:
        return DumpError(_DATA, f"line {lineno} (instance {self.name})", message)

    def get_int(self, key: str, default: int | None = None) -> int:
        if key not in self.fields:
            if default is not None:
                return default
            raise DumpError(
                _DATA, f"instance {self.name} (line {self.lineno})", f"missing '{key} = ...'"
            )
        lineno, value = self.fields[key]
        if not value.isdigit():
            raise self._fail(lineno, f"{key}: expected an integer, got {value!r}")
        return int(value)

    def first(self, key: str) -> str:
        value = self.fields.get(key, (0, ""))[1]
        return value.split()[0].rstrip(",") if value.split() else ""

    def snapshot(self) -> InstanceSnapshot:
        if "State" not in self.fields:
            raise DumpError(
                _DATA, f"instance {self.name} (line {self.lineno})", "missing 'State = ...'"
            )
        lineno, state = self.fields["State"]
        if state not in _DATA_STATES:
            raise self._fail(lineno, f"State: unknown state {state!r}")
        code = _DATA_STATES[state]
        base = self.get_int("Priority")
        version = self.get_int("VRRP Version", default=2)
        address = self.first("Using src_ip")
        address = "" if address == "(none)" else address
        master_address = self.first("Master router") if state == "BACKUP" else ""
        if state == "MASTER":
            master_address = address
        auth_text = self.fields.get("Authentication type", (0, "none"))[1]
        return InstanceSnapshot(
            name=self.name,
            vrid=self.get_int("Virtual Router ID"),
            state_code=code,
            state=state.upper(),
            want_state=self.fields.get("Wantstate", (0, ""))[1].upper(),
            base_priority=base,
            effective_priority=self.get_int("Effective priority", default=base),
            last_transition=self._float_first("Last transition", 0.0),
            vips=tuple(_vip_address(s) for s in self.vips),
            vip_specs=tuple(self.vips),
            excluded_vips=tuple(_vip_address(s) for s in self.evips),
            interface=self.first("Interface"),
            version=version,
            advert_int=self._advert_int(),
            master_priority=(
                self.get_int("Master priority") if "Master priority" in self.fields else None
            ),
            master_address=master_address,
            address=address,
            nopreempt=(
                self.fields["Preempt"][1] == "disabled" if "Preempt" in self.fields else None
            ),
            preempt_delay=self._float_first("Preempt delay", 0.0),
            auth_type=_AUTH_TYPES.get(auth_text, 0),
            auth_fingerprint=self.auth_fingerprint,
            track_scripts=tuple(self.scripts),
        )

    def _float_first(self, key: str, default: float) -> float:
        if key not in self.fields:
            return default
        lineno, value = self.fields[key]
        token = value.split()[0] if value.split() else ""
        try:
            number = float(token)
        except ValueError:
            raise self._fail(lineno, f"{key}: expected a number, got {token!r}") from None
        if not math.isfinite(number):
            raise self._fail(lineno, f"{key}: expected a finite number, got {token!r}")
        return number

    def _advert_int(self) -> float:
        if "Advert interval" not in self.fields:
            return 1.0
        lineno, value = self.fields["Advert interval"]
        parts = value.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("sec", "milli-sec"):
            raise self._fail(lineno, f"Advert interval: expected 'N sec' or 'N milli-sec', "
                                     f"got {value!r}")
        return int(parts[0]) / (1000.0 if parts[1] == "milli-sec" else 1.0)


def parse_data_dump(text: str | bytes) -> tuple[InstanceSnapshot, ...]:
    """Instances of a keepalived.data dump (the `VRRP Topology` section), in file order.

    Only what an instance snapshot needs is read: state, priorities, VIPs, interface,
    addresses, timers. The password line is reduced to a fingerprint and dropped.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    lines = text.splitlines()
    sections = [i for i, line in enumerate(lines) if _SECTION_RE.match(line.strip())]
    if not sections:
        raise DumpError(_DATA, "", "no '------< ... >------' section headers: not a data dump")
    instances: list[_DataInstance] = []
    current: _DataInstance | None = None
    in_topology = False
    collect: list[str] | None = None
    for lineno, raw in enumerate(lines, 1):
        section = _SECTION_RE.match(raw.strip())
        if section:
            in_topology = section["name"] == "VRRP Topology"
            current, collect = None, None
            continue
        if not in_topology or not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        stripped = raw.strip()
        if indent == 1 and stripped.startswith("VRRP Instance = "):
            current = _DataInstance(stripped.split(" = ", 1)[1].strip(), lineno)
            instances.append(current)
            collect = None
            continue
        if current is None:
            raise DumpError(
                _DATA, f"line {lineno}", "expected ' VRRP Instance = NAME' in VRRP Topology"
            )
        if indent >= 5 and collect is not None:
            collect.append(stripped)
            continue
        collect = None
        if indent != 3:
            continue  # deeper detail lines (flags, tracked objects, peers)
        if stripped.startswith("Virtual IP Excluded"):
            collect = current.evips
            continue
        if stripped.startswith("Virtual IP ("):
            collect = current.vips
            continue
        if stripped.startswith("Tracked scripts"):
            collect = current.scripts
            continue
        key, sep, value = stripped.partition(" = ")
        if not sep:
            continue
        if key == "Password":
            # Never stored, never quoted: only its fingerprint survives.
            current.auth_fingerprint = _fingerprint(value.encode("utf-8", "surrogateescape"))
            continue
        current.fields.setdefault(key, (lineno, value.strip()))
    snapshots = tuple(inst.snapshot() for inst in instances)
    _check_unique(snapshots, _DATA)
    return snapshots


def read_data_dump(path: PathLike = DEFAULT_DATA_PATH) -> tuple[InstanceSnapshot, ...]:
    """`parse_data_dump` of a file (OSError if it cannot be read)."""
    return parse_data_dump(Path(path).read_bytes())


# --------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------


def snapshot_events(
    snapshot: InstanceSnapshot,
    *,
    node: str,
    t: float,
    previous: InstanceSnapshot | None = None,
) -> list[Event]:
    """InstanceState, then AdvertCounters and InstanceCounters (all of keepalived's
    counters, 14 or 20 from 2.4, for the metrics export) when the dump had counters.

    With the `previous` snapshot of the same instance, also one PacketDropped per error
    counter that grew (keepalived only counts them; the log may not say): `detail` gives
    how many. A counter that went down means keepalived restarted: its value is new.
    """
    events: list[Event] = [
        InstanceState(
            t=t,
            node=node,
            instance=snapshot.name,
            vrid=snapshot.vrid,
            state=snapshot.event_state,
            base_priority=snapshot.base_priority,
            effective_priority=snapshot.effective_priority,
            interface=snapshot.interface,
            version=snapshot.version,
            advert_int=snapshot.advert_int,
            vips=snapshot.vips,
            address=snapshot.address,
            master_address=snapshot.master_address,
        )
    ]
    stats = snapshot.stats
    if stats is None:
        return events
    events.append(
        AdvertCounters(
            t=t,
            node=node,
            instance=snapshot.name,
            sent=stats.advert_sent,
            received=stats.advert_rcvd,
        )
    )
    events.append(InstanceCounters(t=t, node=node, instance=snapshot.name,
                                   counters=stats.counters()))
    before = previous.stats if previous is not None else None
    if before is not None:
        for counter, now in stats.errors().items():
            was = getattr(before, counter) or 0
            grown = now - was if now >= was else now
            if grown > 0:
                events.append(
                    PacketDropped(
                        t=t,
                        node=node,
                        instance=snapshot.name,
                        reason=counter,
                        detail=f"{grown} counted by keepalived since the previous dump "
                        f"({now} in all)",
                    )
                )
    return events


def dump_events(
    snapshots: Iterable[InstanceSnapshot],
    *,
    node: str,
    t: float,
    previous: Iterable[InstanceSnapshot] = (),
) -> list[Event]:
    """`snapshot_events` for every instance of a dump, matched to `previous` by name."""
    before = {s.name: s for s in previous}
    events: list[Event] = []
    for snap in snapshots:
        events.extend(snapshot_events(snap, node=node, t=t, previous=before.get(snap.name)))
    return events


def track_process_events(processes: Iterable[TrackedProcess], *, node: str,
                         t: float) -> list[Event]:
    """One TrackResult per vrrp_track_process of a `json_version 2` dump: its quorum is
    the tracked object's result (what `track_process` weighs), named as in the config."""
    events: list[Event] = []
    for proc in processes:
        bound = f"{proc.min_processes}" + (
            f"-{proc.max_processes}" if proc.max_processes is not None else "+")
        events.append(TrackResult(
            t=t, node=node, track=proc.name, ok=proc.have_quorum,
            detail=f"{proc.current} running, quorum {bound}"))
    return events
