"""keepalived's runtime dumps (JSON, SIGUSR1 data, SIGUSR2 stats) -> snapshots -> events.

The vectors in tests/data were written by keepalived 2.2.7, node1 of the syslog run in
keepalived-syslog.txt (pid 4240, "Printing VRRP as json/data/stats ... on signal");
those of keepalived 2.4.3 (`json_version` 1 and 2, data and stats of a master and a
backup, counters that count) by tests/data/keepalived-2.4.3/make_dumps.py.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from haconsole.cluster.events import (
    AdvertCounters,
    InstanceCounters,
    InstanceState,
    PacketDropped,
    TrackResult,
    Transition,
)
from haconsole.keepalived.dump import (
    AdvertStats,
    DumpError,
    DumpPaths,
    InstanceSnapshot,
    TrackedProcess,
    dump_events,
    dump_paths,
    parse_data_dump,
    parse_json_document,
    parse_json_dump,
    parse_stats_dump,
    read_data_dump,
    read_json_dump,
    read_stats_dump,
    snapshot_events,
    track_process_events,
    with_stats,
)
from haconsole.keepalived.log import KeepalivedLogParser, parse_line

DATA = Path(__file__).parent / "data"
PASSWORD = "mypasswo"
JSON_TEXT = (DATA / "keepalived.json").read_text()
DATA_TEXT = (DATA / "keepalived.data").read_text()
STATS_TEXT = (DATA / "keepalived.stats").read_text()

VECTOR_STATS = AdvertStats(advert_rcvd=6, advert_sent=8, become_master=2, release_master=1)


def json_doc() -> list[dict[str, Any]]:
    doc: list[dict[str, Any]] = json.loads(JSON_TEXT)
    return doc


def dumped(doc: Any) -> str:
    return json.dumps(doc)


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------


def test_json_dump_values() -> None:
    assert PASSWORD in JSON_TEXT  # the vector really carries it in clear text
    (snap,) = read_json_dump(DATA / "keepalived.json")
    assert snap.name == "VI_1"
    assert snap.vrid == 100
    assert (snap.state_code, snap.state, snap.want_state) == (2, "MASTER", "MASTER")
    assert (snap.base_priority, snap.effective_priority) == (100, 100)
    assert snap.master_priority == 90
    assert snap.last_transition == 1795360995.380432
    assert snap.vips == ("192.0.2.170",)
    assert snap.vip_specs == ("192.0.2.170 dev eth0 scope global set",)
    assert snap.interface == "eth0"
    assert (snap.version, snap.advert_int, snap.master_advert_int) == (2, 1.0, 1.0)
    assert snap.nopreempt is False
    assert snap.auth_type == 1
    assert len(snap.auth_fingerprint) == 16
    assert snap.track_scripts == ("'/etc/keepalived/nginx_check.sh'",)
    assert snap.stats == VECTOR_STATS
    assert snap.event_state == "MASTER"


def test_password_never_leaves_the_module() -> None:
    snaps = parse_json_dump(JSON_TEXT) + parse_data_dump(DATA_TEXT)
    events = dump_events(snaps, node="node1", t=0.0)
    texts = [repr(snaps), str(snaps), repr(events)]
    texts += [repr(dataclasses.asdict(s)) for s in snaps]
    texts += [json.dumps(e.to_dict()) for e in events]
    texts += [repr(getattr(s, f.name)) for s in snaps for f in dataclasses.fields(s)]
    for text in texts:
        assert PASSWORD not in text
        assert PASSWORD.encode().hex() not in text


def test_fingerprints_compare_passwords_without_revealing_them() -> None:
    (from_json,) = parse_json_dump(JSON_TEXT)
    (from_data,) = parse_data_dump(DATA_TEXT)
    assert from_json.auth_fingerprint == from_data.auth_fingerprint
    other = json_doc()
    other[0]["data"]["auth_data"] = "otherpw1"
    assert parse_json_dump(dumped(other))[0].auth_fingerprint != from_json.auth_fingerprint
    del other[0]["data"]["auth_data"]
    other[0]["data"]["auth_type"] = 0
    assert parse_json_dump(dumped(other))[0].auth_fingerprint == ""


def test_json_optional_fields_omitted_by_keepalived() -> None:
    """keepalived omits `vips` when empty, auth fields without auth, `accept` without
    firewall support, and two auth counters when built without VRRP auth."""
    doc = json_doc()
    data = doc[0]["data"]
    for key in ("vips", "auth_type", "auth_data", "accept", "track_script", "ifp_ifname"):
        del data[key]
    data["version"] = 3
    data["adver_int"] = 0.05
    for key in ("authtype_mismatch", "auth_failure"):
        del doc[0]["stats"][key]
    (snap,) = parse_json_dump(dumped(doc))
    assert (snap.vips, snap.auth_type, snap.interface, snap.version) == ((), 0, "", 3)
    assert snap.advert_int == 0.05
    assert snap.stats is not None and snap.stats.auth_failure == 0


def test_json_bytes_with_non_utf8_password() -> None:
    raw = JSON_TEXT.encode().replace(PASSWORD.encode(), b"pw\xff\xfe1234")
    (snap,) = parse_json_dump(raw)
    assert snap.auth_fingerprint and "\udcff" not in repr(snap)


@pytest.mark.parametrize(
    ("code", "state", "event_state"),
    [(0, "INIT", "INIT"), (1, "BACKUP", "BACKUP"), (2, "MASTER", "MASTER"),
     (3, "FAULT", "FAULT"), (97, "DELETED", "STOP"), (98, "STOP", "STOP")],
)
def test_state_codes(code: int, state: str, event_state: str) -> None:
    doc = json_doc()
    doc[0]["data"]["state"] = code
    (snap,) = parse_json_dump(dumped(doc))
    assert (snap.state_code, snap.state, snap.event_state) == (code, state, event_state)


# ---------------------------------------------------------------------------------------
# Stats and data text
# ---------------------------------------------------------------------------------------


def test_stats_dump_values() -> None:
    assert read_stats_dump(DATA / "keepalived.stats") == {"VI_1": VECTOR_STATS}
    assert VECTOR_STATS.errors() == dict.fromkeys(AdvertStats.ERROR_COUNTERS[:8], 0)


def test_stats_dump_several_instances_and_auth_counters() -> None:
    second = (
        STATS_TEXT.replace("VI_1", "VI_2")
        .replace("    Failure: 0", "    Failure: 3")
        .replace("    TTL: 0", "    TTL: 4")
    )
    stats = parse_stats_dump(STATS_TEXT + second)
    assert list(stats) == ["VI_1", "VI_2"]
    assert (stats["VI_2"].auth_failure, stats["VI_2"].ip_ttl_err) == (3, 4)
    # "Invalid Type" appears under two sections: each goes to its own counter.
    typed = STATS_TEXT.replace(
        "    Invalid Type: 0\n    Advertisement", "    Invalid Type: 5\n    Advertisement"
    )
    assert parse_stats_dump(typed)["VI_1"].invalid_type_rcvd == 5
    assert parse_stats_dump(typed)["VI_1"].invalid_authtype == 0


def test_data_dump_values() -> None:
    (snap,) = read_data_dump(DATA / "keepalived.data")
    assert PASSWORD in DATA_TEXT
    assert snap.name == "VI_1"
    assert (snap.vrid, snap.state_code, snap.state, snap.want_state) == (
        100, 2, "MASTER", "MASTER"
    )
    assert (snap.base_priority, snap.effective_priority) == (100, 100)
    assert snap.last_transition == 1795360995.380432
    assert snap.vips == ("192.0.2.170",)
    assert snap.interface == "eth0"
    assert (snap.address, snap.master_address) == ("192.0.2.11", "192.0.2.11")
    assert (snap.version, snap.advert_int, snap.nopreempt, snap.auth_type) == (2, 1.0, False, 1)
    assert snap.track_scripts == ("chk_nginx weight -20",)
    assert snap.stats is None


def test_data_dump_backup_v3_instance() -> None:
    text = (
        DATA_TEXT.replace("   State = MASTER", "   State = BACKUP\n"
                          "   Master router = 192.0.2.12\n   Master priority = 120")
        .replace("   VRRP Version = 2", "   VRRP Version = 3")
        .replace("   Advert interval = 1 sec", "   Advert interval = 50 milli-sec")
        .replace("   Authentication type = SIMPLE_PASSWORD\n   Password = mypasswo\n", "")
    )
    (snap,) = parse_data_dump(text)
    assert (snap.state, snap.master_address, snap.master_priority) == (
        "BACKUP", "192.0.2.12", 120
    )
    assert (snap.version, snap.advert_int, snap.auth_type, snap.auth_fingerprint) == (
        3, 0.05, 0, ""
    )


def test_with_stats_joins_by_name() -> None:
    snaps = with_stats(parse_data_dump(DATA_TEXT), parse_stats_dump(STATS_TEXT))
    assert snaps[0].stats == VECTOR_STATS
    assert with_stats(snaps, {})[0].stats == VECTOR_STATS


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------


def test_snapshot_events() -> None:
    (snap,) = parse_json_dump(JSON_TEXT)
    assert snapshot_events(snap, node="node1", t=10.0) == [
        InstanceState(
            t=10.0, node="node1", instance="VI_1", vrid=100, state="MASTER",
            base_priority=100, effective_priority=100, interface="eth0", version=2,
            advert_int=1.0, vips=("192.0.2.170",), address="", master_address="",
        ),
        AdvertCounters(t=10.0, node="node1", instance="VI_1", sent=8, received=6),
        InstanceCounters(t=10.0, node="node1", instance="VI_1",
                         counters=snap.stats.counters()),
    ]
    assert snap.stats is not None and snap.stats.advert_sent == 8
    (from_data,) = parse_data_dump(DATA_TEXT)
    (state,) = snapshot_events(from_data, node="node1", t=10.0)  # no counters in .data
    assert isinstance(state, InstanceState)
    assert (state.address, state.master_address) == ("192.0.2.11", "192.0.2.11")


def test_error_counters_that_grew_become_packet_drops() -> None:
    (before,) = parse_json_dump(JSON_TEXT)
    assert before.stats is not None
    after = dataclasses.replace(
        before, stats=dataclasses.replace(before.stats, auth_failure=3, advert_rcvd=9)
    )
    events = dump_events([after], node="node1", t=20.0, previous=[before])
    assert events[1] == AdvertCounters(t=20.0, node="node1", instance="VI_1", sent=8, received=9)
    assert isinstance(events[2], InstanceCounters)
    assert events[2].counters["auth_failure"] == 3 and len(events[2].counters) == 14
    assert events[3:] == [
        PacketDropped(
            t=20.0, node="node1", instance="VI_1", reason="auth_failure",
            detail="3 counted by keepalived since the previous dump (3 in all)",
        )
    ]
    # Same counters again: nothing dropped. Counters reset by a restart: the new count.
    assert dump_events([after], node="node1", t=21.0, previous=[after])[3:] == []
    restarted = dataclasses.replace(
        before, stats=dataclasses.replace(before.stats, auth_failure=1)
    )
    drops = dump_events([restarted], node="node1", t=22.0, previous=[after])[3:]
    assert [(e.reason, e.detail) for e in drops if isinstance(e, PacketDropped)] == [
        ("auth_failure", "1 counted by keepalived since the previous dump (1 in all)")
    ]


def test_dump_agrees_with_the_log_of_the_same_run() -> None:
    """The JSON was written by node1 of the syslog run at 15:23:17 (pid 4240)."""
    parser = KeepalivedLogParser("node1", year=2026, tz=timezone.utc)
    when = datetime(2026, 11, 22, 15, 23, 17, tzinfo=timezone.utc).timestamp()
    events = []
    for line in (DATA / "keepalived-syslog.txt").read_text().splitlines():
        parsed = parse_line(line, year=2026, tz=timezone.utc)
        if parsed.pid in (4238, 4240) and parsed.t is not None and parsed.t <= when:
            events.extend(parser.feed(line))
    node1 = [e for e in events if isinstance(e, Transition)]
    (snap,) = parse_json_dump(JSON_TEXT)
    assert snap.stats is not None
    assert snap.state == node1[-1].new == "MASTER"
    assert abs(snap.last_transition - node1[-1].t) < 1.0
    assert snap.stats.become_master == sum(e.new == "MASTER" for e in node1)
    assert snap.stats.release_master == sum(e.old == "MASTER" for e in node1)


# ---------------------------------------------------------------------------------------
# Malformed dumps: clear errors, never a raw traceback, never the password
# ---------------------------------------------------------------------------------------


def json_with(change: Any) -> str:
    doc = json_doc()
    change(doc)
    return dumped(doc)


def _set(path: list[Any], value: Any) -> Any:
    def change(doc: Any) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _del(path: list[Any]) -> Any:
    def change(doc: Any) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"keepalived\.json: empty file"),
        ("{not json", r"not valid JSON: .* at line 1 column 2"),
        (JSON_TEXT[:200], r"not valid JSON"),
        ('{"data": {}}', r"expected an array of instances \(json_version 1\) or an object "
                         r"with 'vrrp' \(2\), got an object"),
        ('{"vrrp": {}}', r"keepalived\.json: vrrp: expected an array of instances, got an "
                         r"object"),
        ('{"vrrp": [], "track_process": 1}', r"\.track_process: expected an array"),
        ('{"vrrp": [], "track_process": [{"current_processes": 1}]}',
         r"track_process 0\.process: missing"),
        ('{"vrrp": [], "track_process": [{"process": "p", "current_processes": 1, '
         '"weight": "x"}]}', r"track_process 0 \(p\)\.weight: expected an integer"),
        ("[1]", r"instance 0: expected an object, got a number"),
        ('[{"stats": {}}]', r"instance 0: missing 'data' object"),
        ("[" * 100000 + "]" * 100000, r"not valid JSON"),
        (json_with(_del([0, "data", "iname"])), r"instance 0\.data\.iname: missing"),
        (json_with(_del([0, "data", "state"])), r"instance 0 \(VI_1\)\.data\.state: missing"),
        (json_with(_set([0, "data", "state"], "MASTER")),
         r"data\.state: expected a non-negative integer, got 'MASTER'"),
        (json_with(_set([0, "data", "state"], 7)),
         r"data\.state: unknown state code 7 \(known: 0 init, 1 backup, 2 master, 3 fault"),
        (json_with(_set([0, "data", "vrid"], True)), r"data\.vrid: expected a non-negative"),
        (json_with(_set([0, "data", "base_priority"], None)), r"data\.base_priority: is null"),
        (json_with(_set([0, "data", "last_transition"], "yesterday")),
         r"data\.last_transition: expected a number, got 'yesterday'"),
        (json_with(_set([0, "data", "vips"], "192.0.2.170")),
         r"data\.vips: expected an array of strings"),
        (json_with(_set([0, "data", "version"], 4)), r"data\.version: expected 2 or 3, got 4"),
        (json_with(_del([0, "stats", "advert_rcvd"])),
         r"instance 0 \(VI_1\)\.stats\.advert_rcvd: missing"),
        (json_with(_set([0, "stats"], [])), r"\.stats: expected an object, got an array"),
        (json_with(_set([0, "data", "auth_data"], 12345678)),
         r"data\.auth_data: expected a string$"),
        (json_with(lambda doc: doc.append(doc[0])), r"instance VI_1: appears twice"),
    ],
    ids=lambda v: v if len(v) < 30 else f"{v[:20]}..{len(v)}",
)
def test_malformed_json(text: str, message: str) -> None:
    with pytest.raises(DumpError, match=message) as info:
        parse_json_dump(text)
    assert isinstance(info.value, ValueError)
    assert PASSWORD not in str(info.value)
    # No raw JSONDecodeError/KeyError chained into the traceback.
    assert info.value.__context__ is None or info.value.__suppress_context__


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  Advertisements:\n    Received: 6\n",
         r"keepalived\.stats: line 1: expected 'VRRP Instance: NAME' before counters"),
        (STATS_TEXT.replace("Sent: 8", "Sent: eight"),
         r"line 4: Sent: expected a count, got 'eight'"),
        (STATS_TEXT.replace("    TTL: 0\n", ""), r"instance VI_1 .*missing counters: ip_ttl_err"),
        (STATS_TEXT + STATS_TEXT, r"line 20: instance VI_1 appears twice"),
        (STATS_TEXT.replace("  Became master: 2", "  Became master 2"),
         r"line 5: expected 'Label: value'"),
        ("VRRP Instance:\n", r"line 1: instance without a name"),
        ("hello\n", r"line 1: expected 'VRRP Instance: NAME'"),
    ],
    ids=lambda v: v if len(v) < 30 else f"{v[:20]}..{len(v)}",
)
def test_malformed_stats(text: str, message: str) -> None:
    with pytest.raises(DumpError, match=message):
        parse_stats_dump(text)


def test_empty_stats_dump_has_no_instances() -> None:
    assert parse_stats_dump("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"keepalived\.data: no '------< \.\.\. >------' section headers"),
        (STATS_TEXT, r"not a data dump"),
        (DATA_TEXT.replace("   State = MASTER", "   State = DANCING"),
         r"line 78 \(instance VI_1\): State: unknown state 'DANCING'"),
        (DATA_TEXT.replace("   State = MASTER\n", ""),
         r"instance VI_1 \(line 76\): missing 'State"),
        (DATA_TEXT.replace("   Priority = 100\n", ""),
         r"instance VI_1 \(line 76\): missing 'Priority = \.\.\.'"),
        (DATA_TEXT.replace("   Virtual Router ID = 100", "   Virtual Router ID = x"),
         r"Virtual Router ID: expected an integer, got 'x'"),
        (DATA_TEXT.replace("   Advert interval = 1 sec", "   Advert interval = soon"),
         r"Advert interval: expected 'N sec' or 'N milli-sec', got 'soon'"),
        (DATA_TEXT.replace("   Last transition = 1795360995.380432", "   Last transition = nan"),
         r"Last transition: expected a finite number"),
        (DATA_TEXT.replace(" VRRP Instance = VI_1", " VRRP Instance VI_1"),
         r"line 76: expected ' VRRP Instance = NAME' in VRRP Topology"),
        (DATA_TEXT.replace("------< VRRP Sockpool >------",
                           DATA_TEXT[DATA_TEXT.index(" VRRP Instance"):
                                     DATA_TEXT.index("------< VRRP Sockpool")]
                           + "------< VRRP Sockpool >------"),
         r"instance VI_1: appears twice"),
    ],
    ids=lambda v: v if len(v) < 30 else f"{v[:20]}..{len(v)}",
)
def test_malformed_data(text: str, message: str) -> None:
    with pytest.raises(DumpError, match=message) as info:
        parse_data_dump(text)
    assert PASSWORD not in str(info.value)


def test_errors_are_value_errors_with_parts() -> None:
    with pytest.raises(ValueError) as info:
        parse_json_dump("[]]")
    err = info.value
    assert isinstance(err, DumpError)
    assert (err.dump, err.where) == ("keepalived.json", "")


def test_snapshot_is_a_frozen_value() -> None:
    (snap,) = parse_json_dump(JSON_TEXT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.state = "BACKUP"  # type: ignore[misc]
    assert isinstance(snap, InstanceSnapshot)


# ---------------------------------------------------------------------------------------
# keepalived 2.4.3: json_version 1 and 2, masked passwords, auth_ext counters
# ---------------------------------------------------------------------------------------

DATA_24 = DATA / "keepalived-2.4.3"
NODES_24 = ("nginx1", "nginx2")


def dump_24(version: int, node: str, suffix: str) -> str:
    return (DATA_24 / f"dumps-json{version}-{node}.{suffix}").read_text()


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("node", NODES_24)
def test_24_every_dump_says_the_same(version: int, node: str) -> None:
    """The JSON (either version), the data dump and the stats of one node, read within a
    second: the same instances in the same states, priorities and VIPs."""
    doc = parse_json_document(dump_24(version, node, "json"))
    assert doc.version == version
    data = parse_data_dump(dump_24(version, node, "data"))
    stats = parse_stats_dump(dump_24(version, node, "stats"))
    names = [s.name for s in doc.instances]
    assert names == [s.name for s in data] == list(stats) == ["VI_1", "VI_6", "VI_2"]
    roles = {"nginx1": ("MASTER", 100), "nginx2": ("BACKUP", 90)}[node]
    for snap in (*doc.instances, *data):
        expect = roles if snap.name != "VI_2" else ("MASTER", roles[1])  # both: no peer
        assert (snap.state, snap.base_priority) == expect, snap.name
    by_name = {s.name: s for s in data}
    for snap in doc.instances:
        assert snap.vips == by_name[snap.name].vips
        assert snap.version == by_name[snap.name].version == (3 if snap.name == "VI_6" else 2)
    assert doc.instances[1].vips == ("2001:db8::170",)
    assert by_name["VI_6"].address.startswith("fe80::")  # VRRPv3 over IPv6: link-local


@pytest.mark.parametrize("version", [1, 2])
def test_24_passwords_are_masked_and_fingerprint_nothing(version: int) -> None:
    """2.3+ writes `********`: two masks are no evidence of equal passwords."""
    for node in NODES_24:
        assert "lab-pass" not in dump_24(version, node, "json") + dump_24(version, node, "data")
        assert "********" in dump_24(version, node, "json")
        for snap in parse_json_dump(dump_24(version, node, "json")) + \
                parse_data_dump(dump_24(version, node, "data")):
            assert snap.auth_fingerprint == ""
    (vi1, *_rest) = parse_json_dump(dump_24(version, "nginx1", "json"))
    assert vi1.auth_type == 1


def test_24_counters_count_what_the_peers_disagree_on() -> None:
    """VI_2's peers disagree on purpose: wrong passwords (json_version 1 run), wrong HMAC
    keys (2). Both dumps count the refused adverts under keepalived's names."""
    for node in NODES_24:
        v1 = {s.name: s.stats for s in parse_json_dump(dump_24(1, node, "json"))}
        v2 = {s.name: s.stats for s in parse_json_dump(dump_24(2, node, "json"))}
        assert v1["VI_2"] is not None and v1["VI_2"].auth_failure > 0
        assert v1["VI_2"].auth_ext_invalid_hmac == 0
        assert v2["VI_2"] is not None and v2["VI_2"].auth_ext_invalid_hmac > 0
        assert v2["VI_2"].auth_failure == 0
        text = parse_stats_dump(dump_24(2, node, "stats"))["VI_2"]
        assert text.auth_ext_invalid_hmac is not None and text.auth_ext_invalid_hmac > 0
        vi1 = v1["VI_1"]
        assert vi1 is not None
        assert vi1.advert_sent > 0 if node == "nginx1" else vi1.advert_rcvd > 0


def test_24_counters_are_twenty_and_22_has_fourteen() -> None:
    """2.4 adds the authentication extension's six counters; 2.2.7 has none of them
    (None, so no one reads a zero keepalived never counted)."""
    (old,) = parse_json_dump(JSON_TEXT)
    assert old.stats is not None and old.stats.auth_ext_missing is None
    assert len(old.stats.counters()) == 14 and len(old.stats.errors()) == 8
    assert read_stats_dump(DATA / "keepalived.stats")["VI_1"].auth_ext_replay is None
    new = parse_json_dump(dump_24(2, "nginx2", "json"))[2]
    assert new.stats is not None
    assert len(new.stats.counters()) == 20 and len(new.stats.errors()) == 14
    (_state, _advert, counters) = snapshot_events(new, node="nginx2", t=1.0)
    assert isinstance(counters, InstanceCounters)
    assert counters.counters["auth_ext_invalid_hmac"] == new.stats.auth_ext_invalid_hmac


def test_24_auth_ext_counters_that_grew_become_packet_drops() -> None:
    before = parse_json_dump(dump_24(2, "nginx2", "json"))
    after = parse_json_dump(dump_24(2, "nginx2", "json").replace(
        '"auth_ext_invalid_hmac":6', '"auth_ext_invalid_hmac":9'))
    drops = [e for e in dump_events(after, node="nginx2", t=5.0, previous=before)
             if isinstance(e, PacketDropped)]
    assert [(d.instance, d.reason, d.detail) for d in drops] == [
        ("VI_2", "auth_ext_invalid_hmac",
         "3 counted by keepalived since the previous dump (9 in all)")]


def test_24_json_versions_differ_only_in_the_wrapper() -> None:
    """`json_version 2` is `{"vrrp": [...]}` around version 1's array."""
    one = json.loads(dump_24(1, "nginx1", "json"))
    two = json.loads(dump_24(2, "nginx1", "json"))
    assert isinstance(one, list) and set(two) == {"vrrp"}
    assert [i["data"]["iname"] for i in one] == [i["data"]["iname"] for i in two["vrrp"]]
    assert set(one[0]["data"]) == set(two["vrrp"][0]["data"])
    assert parse_json_document(json.dumps(two["vrrp"])).version == 1


def test_24_track_processes_of_json_version_2() -> None:
    """`track_process` as vrrp_json.c writes it (the 2.4.3 build here has no track_process:
    its fields and their types come from the source): each becomes a TrackResult."""
    doc = json.loads(dump_24(2, "nginx1", "json"))
    doc["vrrp"][0]["data"]["track_process"] = ["tp_nginx"]
    doc["track_process"] = [
        {"process": "tp_nginx", "param_match": "none", "min_processes": 1,
         "current_processes": 0, "have_quorum": False, "weight": -20,
         "terminate_delay": 0.5, "fork_delay": 0, "fork_delay_timer_running": False,
         "terminate_delay_timer_running": True, "full_command": False},
        {"process": "tp_sshd", "parameters": "-D", "param_match": "exact",
         "min_processes": 1, "max_processes": 2, "current_processes": 1,
         "have_quorum": True, "weight": 5, "terminate_delay": 0, "fork_delay": 0,
         "fork_delay_timer_running": False, "terminate_delay_timer_running": False,
         "full_command": True},
    ]
    parsed = parse_json_document(json.dumps(doc))
    assert parsed.instances[0].track_processes == ("tp_nginx",)
    assert parsed.track_processes == (
        TrackedProcess("tp_nginx", 0, 1, None, False, -20),
        TrackedProcess("tp_sshd", 1, 1, 2, True, 5),
    )
    assert track_process_events(parsed.track_processes, node="n1", t=3.0) == [
        TrackResult(3.0, "n1", track="tp_nginx", ok=False, detail="0 running, quorum 1+"),
        TrackResult(3.0, "n1", track="tp_sshd", ok=True, detail="1 running, quorum 1-2"),
    ]


def test_24_data_dump_names_where_the_dumps_were_asked_to_go() -> None:
    """The data dump went where `state_dump_file` said; it reports the other two paths it
    read but (2.4.3, vrrp_print.c / vrrp_json.c) does not use: make_dumps.py found the
    stats and the JSON in the node's /tmp."""
    text = dump_24(2, "nginx1", "data")
    assert " state dump file /run/keepalived/nginx1/ka-state.data" in text
    assert " stats dump file /run/keepalived/nginx1/ka-stats.stats" in text
    assert " json_version 2" in text


# ---------------------------------------------------------------------------------------
# Where the dumps are
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "paths"), [
    ({}, DumpPaths()),
    ({"release": "2.4.3", "state_dump_file": "/run/ka/ka-state.data", "tmp_dir": "/var/tmp/k"},
     DumpPaths("/var/tmp/k/keepalived.json", "/run/ka/ka-state.data",
               "/var/tmp/k/keepalived.stats")),
    ({"release": "2.4.3", "state_dump_file": "/run/ka/"},  # a directory: the default name
     DumpPaths(data="/run/ka/keepalived.data")),
    ({"release": "2.4.3", "state_dump_file": "state.data"},  # relative: the tmp directory
     DumpPaths(data="/tmp/state.data")),
    ({"release": "2.2.7", "state_dump_file": "/run/ka/ka-state.data"},  # 2.2.7: no keyword
     DumpPaths()),
    ({"release": "", "state_dump_file": "/run/ka/s.data"}, DumpPaths(data="/run/ka/s.data")),
    ({"tmp_dir": "relative/dir"}, DumpPaths()),  # keepalived takes only an absolute TMPDIR
])
def test_dump_paths(kwargs: dict[str, str], paths: DumpPaths) -> None:
    assert dump_paths(**kwargs) == paths


def test_dump_paths_agree_with_the_real_2_4_3() -> None:
    """make_dumps.py's nodes: state_dump_file in their directory, the rest in /tmp."""
    text = dump_24(1, "nginx1", "data")
    state = next(line.split(" state dump file ", 1)[1] for line in text.splitlines()
                 if line.startswith(" state dump file "))
    assert dump_paths(release="2.4.3", state_dump_file=state) == DumpPaths(
        "/tmp/keepalived.json", "/run/keepalived/nginx1/ka-state.data",
        "/tmp/keepalived.stats")
