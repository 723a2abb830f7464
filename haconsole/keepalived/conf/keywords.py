"""keepalived's root keyword table, which process handles each section, and the passes.

Each block's own keywords live in the module named after it (global_defs.py,
vrrp_instance.py, ...); this module puts the blocks together under the root keywords.
"""

from __future__ import annotations

from collections.abc import Callable

from haconsole.keepalived.conf import (
    global_defs,
    track_file,
    vrrp_instance,
    vrrp_script,
    vrrp_sync_group,
    vrrp_track_process,
)
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import FATAL, GENERAL_ERROR
from haconsole.keepalived.conf.global_defs import ACCEPTED, FATAL_MISSING, NEED_VALUE, accepting
from haconsole.keepalived.conf.limits import TIMER_HZ
from haconsole.keepalived.conf.stream import Handler, Kw

# -- root keywords of the vrrp process that are not blocks of their own ------------------


def linkbeat_interfaces(b: Builder, words: list[str]) -> None:
    _interface_lines(b, words, "linkbeat interface", _linkbeat_options)


def up_down_delays(b: Builder, words: list[str]) -> None:
    """interface_up_down_delays."""
    _interface_lines(b, words, "up/down delay", _delays)


def _interface_lines(b: Builder, words: list[str], what: str,
                     rest: Callable[[Builder, list[str]], None]) -> None:
    """A value block of `IFNAME ...` lines: the interface must exist (if_get_by_ifname with
    dynamic_interfaces, no "non-existent" flag), then `rest` judges the line."""
    known = b.env.interfaces
    for vec in b.s.value_lines(words):
        if known is None or vec[0] in known or b.g.dynamic_interfaces:
            rest(b, vec)
        else:
            b.report(FATAL, f"unknown interface {vec[0]} specified for {what}")


def _linkbeat_options(b: Builder, vec: list[str]) -> None:
    if len(vec) > 1 and (vec[1] not in ("MII", "ETHTOOL", "IOCTL") or len(vec) > 2):
        b.report(GENERAL_ERROR, f"extra characters {vec[1]} in linkbeat interface")


def _delays(b: Builder, vec: list[str]) -> None:
    for text in vec[1:3]:
        b.decimal(text, 0, 255 * TIMER_HZ)


UNSUPPORTED_SECTIONS = {
    "virtual_server": "lvs", "virtual_server_group": "lvs", "SSL": "lvs", "bfd_instance": "bfd",
}
_SECTION_FEATURE = {"lvs": "LVS", "bfd": "BFD"}


def table(handlers: dict[str, Handler], since: dict[str, str] | None = None,
          features: dict[str, str] | None = None) -> dict[str, Kw]:
    """Keywords -> Kw, each with the version and build feature it needs (if any)."""
    since, features = since or {}, features or {}
    return {name: Kw(handler, since=since.get(name, ""), feature=features.get(name, ""))
            for name, handler in handlers.items()}


def _root_table() -> dict[str, Kw]:
    """keepalived's root keywords with the section (process) that handles each."""
    global_sub = table(global_defs.KEYWORDS, global_defs.SINCE, global_defs.FEATURES)
    global_sub.update({name: Kw(accepting(name, NEED_VALUE.get(name)),
                                feature=global_defs.FEATURES.get(name, ""))
                       for name in ACCEPTED})
    instance_sub = table(vrrp_instance.KEYWORDS, vrrp_instance.SINCE, vrrp_instance.FEATURES)
    instance_sub["authentication"] = Kw(None, table(vrrp_instance.AUTHENTICATION),
                                        feature="VRRP_AUTH")
    instance_sub["auth_hmac"] = Kw(vrrp_instance.auth_hmac, table(vrrp_instance.AUTH_HMAC),
                                   since="2.4", feature="VRRP_AUTH")
    garp_sub = {name: Kw(accepting(name, FATAL_MISSING))
                for name in ("garp_interval", "gna_interval", "interface")}
    garp_sub["interfaces"] = Kw(Builder.ignore_block)
    root: dict[str, Kw] = {
        "global_defs": Kw(None, global_sub, section="global"),
        "vrrp_instance": Kw(vrrp_instance.begin, instance_sub, vrrp_instance.end, "vrrp"),
        "vrrp_script": Kw(vrrp_script.begin, table(vrrp_script.KEYWORDS), vrrp_script.end,
                          "vrrp"),
        "vrrp_sync_group": Kw(vrrp_sync_group.begin,
                              table(vrrp_sync_group.KEYWORDS,
                                    features={"track_bfd": "BFD"}),
                              vrrp_sync_group.end, "vrrp"),
        "vrrp_track_process": Kw(vrrp_track_process.begin, table(vrrp_track_process.KEYWORDS),
                                 vrrp_track_process.end, "vrrp"),
        "track_group": Kw(Builder.accept, {"group": Kw(Builder.ignore_block)},
                          section="vrrp"),
        "garp_group": Kw(Builder.accept, garp_sub, section="vrrp"),
    }
    for name in ("static_ipaddress", "static_routes", "static_rules"):
        root[name] = Kw(Builder.ignore_block, section="vrrp")
    root["linkbeat_interfaces"] = Kw(linkbeat_interfaces, section="vrrp")
    root["interface_up_down_delays"] = Kw(up_down_delays, section="vrrp")
    for name in ("track_file", "vrrp_track_file"):
        root[name] = Kw(track_file.begin, table(track_file.KEYWORDS), track_file.end,
                        "track_file")
    for name in ("linkbeat_use_polling", "net_namespace", "net_namespace_ipvs",
                 "namespace_with_ipsets", "use_pid_dir", "instance", "child_wait_time"):
        root[name] = Kw(accepting(name, NEED_VALUE.get(name)), section="global")
    for name, section in UNSUPPORTED_SECTIONS.items():
        root[name] = Kw(None, section=section, feature=_SECTION_FEATURE[section])
    return root


ROOT = _root_table()

# keepalived -t: the parent reads global_defs, then the checker, vrrp and bfd processes
# each read the whole file with their own sections active.
PASSES: tuple[tuple[str, frozenset[str]], ...] = (
    ("parent", frozenset({"global"})),
    ("checker", frozenset({"track_file"})),
    ("vrrp", frozenset({"vrrp", "track_file"})),
    ("bfd", frozenset()),
)
# The passes keepalived runs only when built with a feature (the checker process is LVS's).
PASS_FEATURE = {"checker": "LVS", "bfd": "BFD"}
