"""The message table: what each keepalived log message means, as a `KeepalivedMessage`.

Why a table: keepalived says everything in free text, and the same meaning comes in several
wordings (1.x, 2.x, and haconsole's own: its packet checks, trackers, agent). Each row is
one wording and the meaning it carries, so adding a wording is adding a row, and a reader
can go top to bottom without following code. `classify(message)` returns the meaning of
the first row whose wording matches the whole message (its prefix already removed by
shapes.parse_line), or None.

Columns of a row:
- `kind`: which fields matter (see `MessageKind`);
- `wording`: a regular expression for the whole message; its named groups fill the
  `KeepalivedMessage` fields of the same name (priorities, `old`, `new`, `status` as ints);
- `reason`, `ok`: fixed values for every line of the row (`reason` of a packet_error is
  keepalived's stats counter for the drop);
- `detail`: a template over the named groups, `{text}` being the message itself (after
  the instance prefix for instance messages). Without it, a `detail` group fills it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "INSTANCE_MESSAGES",
    "NODE_MESSAGES",
    "KeepalivedMessage",
    "MessageKind",
    "Row",
    "classify",
]

MessageKind = Literal[
    "enter_state",  # state; detail "init" for "(init)"; reason for "entering FAULT state (..)"
    "advert_timeout",
    "fast_preemption",  # haconsole: the followed master advertised lower: source, priority, ours
    "higher_priority_advert",  # master saw a better master: source, priority, ours
    "same_priority_higher_ip",  # source, priority
    "lower_priority_discarded",  # backup ignores a lower-priority master: source, priority
    "lower_priority_advert",  # master saw a lower-priority advert: source, priority, ours
    "priority_zero_received",  # backup received priority 0 (master left)
    "master_priority_zero_received",
    "priority_zero_sent",
    "priority_change",  # old, new
    "script_result",  # track, ok, detail
    "script_status",  # track, status
    "interface_state",  # interface, ok
    "process_quorum",  # track, ok
    "vips",  # ok=True setting / False removing; detail "VIPs" | "E-VIPs"
    "garp_queued",  # instance, interface, address, detail "gratuitous ARPs" | "Unsolicited ..."
    "garp_sent",  # interface, address (ARP)
    "na_sent",  # interface, address (IPv6 unsolicited neighbour advert)
    "packet_error",  # instance, reason (keepalived's counter), detail
    "sync_group",  # group, state
    "starting",
    "stopping",
    "stopped",
    "error",  # detail
]


@dataclass(frozen=True)
class KeepalivedMessage:
    """What one keepalived message says, in fields; `kind` tells which fields matter."""

    kind: MessageKind
    instance: str = ""
    state: str = ""
    source: str = ""
    priority: int | None = None
    ours: int | None = None
    old: int | None = None
    new: int | None = None
    track: str = ""
    ok: bool | None = None
    status: int | None = None
    interface: str = ""
    address: str = ""
    reason: str = ""
    detail: str = ""
    group: str = ""


_FIELDS = frozenset(f.name for f in dataclasses.fields(KeepalivedMessage)) - {"kind", "instance"}
_INT_FIELDS = frozenset({"priority", "ours", "old", "new", "status"})


@dataclass(frozen=True)
class Row:
    """One wording and its meaning (see the module docstring for the columns)."""

    kind: MessageKind
    wording: re.Pattern[str]
    reason: str = ""
    ok: bool | None = None
    detail: str = ""


def _row(
    kind: MessageKind, wording: str, *, reason: str = "", ok: bool | None = None,
    detail: str = "",
) -> Row:
    pattern = re.compile(wording)
    unknown = set(pattern.groupindex) - _FIELDS
    if unknown:  # a typo in a group name would silently drop the field
        raise ValueError(f"{wording!r}: groups {sorted(unknown)} are not message fields")
    return Row(kind, pattern, reason, ok, detail)


def _drop(reason: str, wording: str) -> Row:
    """A dropped packet; `reason` is keepalived's stats counter for it."""
    return _row("packet_error", wording, reason=reason, detail="{text}")


def _error(wording: str) -> Row:
    """Something the operator should look at; the message is the detail."""
    return _row("error", wording, detail="{text}")


# Messages about one instance, matched after its prefix: "(VI_1) ", "(VI_1): " (2.x) or
# "VRRP_Instance(VI_1) " (1.x). First match wins.
INSTANCE_MESSAGES: tuple[Row, ...] = (
    # -- state changes -------------------------------------------------------------------------
    _row("enter_state", r"Entering (?P<state>MASTER|BACKUP|FAULT) STATE \(init\)", detail="init"),
    _row("enter_state", r"Entering (?P<state>MASTER|BACKUP|FAULT) STATE"),
    _row("enter_state", r"(?:[Ee]ntering|Now in) (?P<state>FAULT) [Ss]tate"
                        r"(?: \((?P<reason>.*)\))?"),
    _row("enter_state", r"[Ee]ntering (?P<state>FAULT) state due to (?P<reason>script \S+)"),
    _row("advert_timeout", r"Receive advertisement timeout"),
    _row("fast_preemption", r"fast preemption: master (?P<source>\S+) advertised priority "
                            r"(?P<priority>\d+), below ours (?P<ours>\d+)"),
    # -- adverts heard -------------------------------------------------------------------------
    _row("higher_priority_advert", r"(?:Master )?[Rr]eceived advert from (?P<source>\S+) "
                                   r"with higher priority (?P<priority>\d+), ours (?P<ours>\d+)"),
    _row("higher_priority_advert",  # 1.x: no source
         r"Received advert with higher priority (?P<priority>\d+), ours (?P<ours>\d+)"),
    _row("same_priority_higher_ip", r"Master received advert from (?P<source>\S+) with same "
                                    r"priority (?P<priority>\d+) but higher IP address than ours"),
    _row("lower_priority_discarded", r"received lower priority \((?P<priority>\d+)\) advert "
                                     r"from (?P<source>\S+) - discarding"),
    _row("lower_priority_advert", r"Received advert from (?P<source>\S+) with lower priority "
                                  r"(?P<priority>\d+), ours (?P<ours>\d+)"
                                  r"(?:, forcing new election)?"),
    _row("priority_zero_received", r"Backup received priority 0 advertisement"),
    _row("master_priority_zero_received", r"Master received priority 0 message"),
    # -- what the instance does ----------------------------------------------------------------
    _row("priority_zero_sent", r"sent 0 priority"),
    _row("priority_change", r"Changing effective priority from (?P<old>\d+) to (?P<new>\d+)"),
    _row("vips", r"setting (?:protocol )?(?P<detail>E-VIPs|VIPs)\.?", ok=True),
    _row("vips", r"removing (?:protocol )?(?P<detail>E-VIPs|VIPs)\.?", ok=False),
    _row("garp_queued", r"Sending/queueing (?P<detail>gratuitous ARPs|Unsolicited Neighbour "
                        r"Adverts) on (?P<interface>\S+) for (?P<address>\S+)"),
    # -- packets dropped, keepalived's wording (vrrp_check_packet & co) ------------------------
    # 2.4 names the sender ("from SRC") and logs each kind once until the next transition.
    _drop("auth_failure", r"received an invalid passwd(?: from (?P<source>\S+?))?!?"),
    _drop("auth_failure", r"IPSEC-AH : invalid IPSEC HMAC-MD5 value.*"),
    _drop("authtype_mismatch", r"received a \d+ auth(?: from (?P<source>\S+))?, expecting \d+!?"),
    _drop("authtype_mismatch", r"Received AH header but auth type not AH"
                               r"(?: from (?P<source>\S+))?"),
    _drop("authtype_mismatch", r"No AH header but auth type is AH(?: from (?P<source>\S+))?"),
    _drop("invalid_authtype", r"Invalid auth type(?: from (?P<source>\S+))?: \d+"),
    _drop("ip_ttl_err", r"invalid TTL/HL(?: from (?P<source>\S+))?\. Received \d+ and expect \d+"),
    _drop("ip_ttl_err", r"TTL/HL \d+ not in range \d+ - \d+"),
    _drop("ip_ttl_err", r"TTL/HL \d+ from (?P<source>\S+) not in range \[\d+, \d+\]"),  # 2.4
    _drop("packet_len_err", r"vrrp packet(?: from (?P<source>\S+))? too (?:long|short), "
                            r"length \d+ and expect \d+"),
    _drop("packet_len_err", r"ip_tot_len mismatch against received length"
                            r"(?: from (?P<source>\S+))?\. \d+ and received \d+"),
    _drop("vers_err", r"wrong (?:VRRP )?version(?: from (?P<source>\S+))?\. "
                      r"Received \d+ and expect \d+"),
    _drop("advert_interval_err", r"advertisement interval mismatch(?: with (?P<source>\S+))? "
                                 r"mine=.*"),
    _drop("invalid_type_rcvd", r"Invalid packet type(?: from (?P<source>\S+))?\. "
                               r"\d+ and expect \d+"),
    _drop("addr_list_err", r"received an unexpected ip number count \d+, expected \d+!?"),
    _drop("addr_list_err", r"expected \d+ VIPs but received \d+"),
    _drop("addr_list_err", r"ip address associated with VRID \d+ not present in MASTER advert ?: "
                           r"(?P<address>\S+)"),
    _drop("addr_list_err", r"ip address associated with VRID \d+ not present in advert "
                           r"from (?P<source>\S+): (?P<address>\S+)"),  # 2.4
    _drop("chk_err", r"Invalid VRRPv[23] checksum(?: from (?P<source>\S+))?"),
    _drop("unicast_src_err", r"unicast source address (?P<source>\S+) not a unicast peer"),
    _drop("addr_list_err", r"Expected (?:un|mult)icast packet but received "
                           r"(?:un|mult)icast packet(?: from (?P<source>\S+))?"),
    # 2.4 authentication trailers (auth_hmac); the counters are 2.4's stats names.
    _drop("auth_ext_missing", r"missing authentication trailer from (?P<source>\S+)"),
    _drop("auth_ext_malformed", r"malformed authentication trailer from (?P<source>\S+)"),
    _drop("auth_ext_unknown_key", r"unknown authentication key id \d+ from (?P<source>\S+)"),
    _drop("auth_ext_invalid_hmac", r"invalid authentication HMAC from (?P<source>\S+)"),
    _drop("auth_ext_stale", r"stale authentication trailer from (?P<source>\S+), clock skew "
                            r"-?\d+ sec exceeds window \d+ sec"),
    _drop("auth_ext_replay", r"replayed authentication trailer from (?P<source>\S+)"),
    # 2.3+: an address owner (priority 255) ignores adverts for its VRID; no counter.
    _drop("owner_ignore", r"Dropping packet\(s\) from (?P<source>\S+) since we are address owner"),
    # -- packets dropped, haconsole's wording (vrrp/packet.py, a PacketError's detail) ---------
    _drop("packet_len_err", r"\d+ bytes, shorter than the 8-byte header"),
    _drop("packet_len_err", r"too (?:long|short): \d+ bytes, expected \d+ for \d+ address\(es\)"),
    _drop("vers_err", r"version \d+, expected (?:2 or 3|\d+)"),
    _drop("vers_err", r"VRRPv2 over IPv6 \(RFC 3768 is IPv4 only\)"),
    _drop("invalid_type_rcvd", r"type \d+, expected \d+"),
    _drop("chk_err", r"checksum 0x[0-9a-f]+, expected 0x[0-9a-f]+"),
    _drop("ip_ttl_err", r"TTL \d+, expected \d+(?:-\d+)?"),
    _drop("vrid_err", r"VRID \d+, expected \d+"),
    _drop("invalid_authtype", r"auth type \d+"),
    _drop("authtype_mismatch", r"auth type .+, expected .+"),
    _drop("advert_interval_err", r"interval \S+ s, expected \S+ s"),
    _drop("addr_list_err", r"\d+ address\(es\), expected \d+"),
    _drop("addr_list_err", r"(?:multicast|unicast) destination \S+ on a (?:unicast|multicast) "
                           r"instance"),
    _drop("addr_list_err", r"VIP \S+ not in the advert"),
    _drop("unicast_src_err", r"source (?P<source>\S+) is not a unicast peer"),
    # -- trouble -------------------------------------------------------------------------------
    _error(r"(?:CONFIGURATION ERROR|WARNING)\b.*"),
    # "(VI_1): send advert error 101 (...)", "(VI_1) Cant send advert to ...".
    _error(r"(?:send advert error|Cant send advert|cant do IP).*"),
    # 2.4: kept packets that still say something is wrong.
    _error(r"advertisement interval mismatch ours = .*"),  # VRRPv3: logged, not dropped
    _error(r"authentication clock skew .* approaching window .*"),
    _error(r"\S+ is still advertising as address owner, please resolve.*"),
    _error(r"cannot run notify script: .*"),  # haconsole: a notify script that is not one
)

# Messages about the node, not one instance: matched against the whole message.
NODE_MESSAGES: tuple[Row, ...] = (
    # -- tracked objects -----------------------------------------------------------------------
    _row("script_result", r"VRRP_Script\((?P<track>[^)]+)\) "
                          r"(?P<detail>succeeded(?: \(.*\))?)", ok=True),
    _row("script_result", r"VRRP_Script\((?P<track>[^)]+)\) "
                          r"(?P<detail>(?:failed|timed_out)(?: \(.*\))?)", ok=False),
    _row("script_result", r"VRRP_Script\((?P<track>[^)]+)\) considered (?P<detail>successful) "
                          r"on reload", ok=True),
    _row("script_result", r"VRRP_Script\((?P<track>[^)]+)\) considered (?P<detail>unsuccessful) "
                          r"on reload", ok=False),
    _row("script_status", r"Script `(?P<track>[^`]+)` now returning (?P<status>-?0+)",
         ok=True, detail="now returning {status}"),
    _row("script_status", r"Script `(?P<track>[^`]+)` now returning (?P<status>-?\d+)",
         ok=False, detail="now returning {status}"),
    # A link is a tracked object named after its interface: both groups get the name.
    _row("interface_state", r"(?:Netlink|Linkbeat|Kernel) reports "
                            r"(?P<interface>(?P<track>\S+)) up", ok=True, detail="{text}"),
    _row("interface_state", r"(?:Netlink|Linkbeat|Kernel) reports "
                            r"(?P<interface>(?P<track>\S+)) down", ok=False, detail="{text}"),
    _row("process_quorum", r"Quorum gained for tracked process (?P<track>.+)",
         ok=True, detail="quorum gained"),
    _row("process_quorum", r"Quorum lost for tracked process (?P<track>.+)",
         ok=False, detail="quorum lost"),
    # -- announcements -------------------------------------------------------------------------
    _row("garp_sent", r"Sending gratuitous ARP on (?P<interface>\S+) for (?P<address>\S+)"),
    _row("na_sent", r"Sending unsolicited Neighbour Advert on (?P<interface>\S+) "
                    r"for (?P<address>\S+)"),
    # -- groups and the daemon -----------------------------------------------------------------
    _row("sync_group", r"VRRP_Group\((?P<group>[^)]+)\):? Syncing (?:instances|\S+) to "
                       r"(?P<state>MASTER|BACKUP|FAULT) state"),
    _row("starting", r"Starting Keepalived\b.*", detail="{text}"),
    _row("starting", r"Starting haconsole agent .*", detail="{text}"),
    _row("stopping", r"Stopping", detail="{text}"),
    _row("stopped", r"Stopped(?: - used.*| Keepalived.*)?", detail="{text}"),
    _row("stopped", r"Stopped haconsole agent", detail="{text}"),
    # -- trouble -------------------------------------------------------------------------------
    _error(r"(?:Error \d+|ERROR|Backstop thread invoked|Cant send advert|cant open)\b.*"),
    # keepalived's parent on a child's death (lib/scheduler.c), and a late scheduler (2.4).
    _error(r"\S+ child process\(\d+\) died: (?:Respawning|Exiting)"),
    _error(r"(?:pid \d+|\S+) exited (?:due to signal \d+ .*|due to segmentation fault.*|"
           r"with permanent error .*|with status \d+)"),
    _error(r"VRRP thread timer expired \S+ seconds ago"),
    _error(r"Invalid number .* read from .* - ignoring"),  # a track_file's content
    _error(r"Cannot initialise track file .* - it is not a regular file"),
    # haconsole's own wording: trackers, notify scripts, reloads, sockets.
    _error(r"VRRP_Script\([^)]+\) could not run: .*"),
    _error(r"Unable to initialise track file .*"),
    _error(r"Unable to monitor track file .* - polling every .*"),
    _error(r"Track file .*: lost the watch on .* - polling every .*"),
    _error(r"cannot run notify script .*"),
    _error(r"notify script .* timed out after .* s: killed"),
    _error(r"Reload failed, keeping the running configuration: .*"),
    _error(r"Reload could not start the new configuration: .*"),
    _error(r"control command \S+ failed"),
    _error(r"VRRP send on \S+ to \S+ failed: .*"),
    _error(r"VRRP receive on \S+ failed: .*"),
    _error(r"cannot prepare announcements for \S+ on \S+: .*"),
    _error(r"cannot announce \S+ on \S+: .*"),
)

_INSTANCE_PREFIX = re.compile(r"(?:VRRP_Instance)?\((?P<instance>[^()\s]+)\):? (?P<rest>.*)")


def classify(message: str) -> KeepalivedMessage | None:
    """Recognise one keepalived message (no prefix); None when it is not one we know."""
    text = message.strip()
    prefixed = _INSTANCE_PREFIX.fullmatch(text)
    if prefixed:
        return _first_match(INSTANCE_MESSAGES, prefixed["rest"], prefixed["instance"])
    return _first_match(NODE_MESSAGES, text, "")


def _first_match(rows: tuple[Row, ...], text: str, instance: str) -> KeepalivedMessage | None:
    for row in rows:
        m = row.wording.fullmatch(text)
        if m:
            return _meaning(row, m, text, instance)
    return None


def _meaning(row: Row, m: re.Match[str], text: str, instance: str) -> KeepalivedMessage:
    groups: dict[str, Any] = {  # str, or int for the numeric fields
        name: int(value) if name in _INT_FIELDS else value
        for name, value in m.groupdict().items()
        if value is not None
    }
    if row.detail:
        groups["detail"] = row.detail.format(text=text, **groups)
    if row.reason:
        groups["reason"] = row.reason
    return KeepalivedMessage(row.kind, instance=instance, ok=row.ok, **groups)
