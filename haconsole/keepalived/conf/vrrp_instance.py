"""vrrp_instance: the keywords of an instance except addresses and track_* blocks."""

from __future__ import annotations

import os

from haconsole.config import VrrpInstance
from haconsole.keepalived.conf import addresses, tracking
from haconsole.keepalived.conf.builder import Builder, Number, set_path
from haconsole.keepalived.conf.findings import DEPRECATED, GENERAL_ERROR, SECURITY_ERROR
from haconsole.keepalived.conf.limits import (
    INT_MAX,
    TIMER_HZ,
    TIMER_MAX_SEC,
    UINT_MAX,
    VRRP_PRIO_DFL,
    VRRP_PRIO_OWNER,
    WHITESPACE,
)
from haconsole.keepalived.conf.state import HmacAuth, Inst
from haconsole.keepalived.conf.stream import Handler, arg
from haconsole.keepalived.conf.values import ifname_fits, parse_ip, read_int, read_unsigned


def begin(b: Builder, words: list[str]) -> None:
    if len(words) != 2:
        b.report(GENERAL_ERROR, "vrrp_instance must have a name")
        b.s.skip_block()
        return
    if words[1] in b.instance_names:
        b.report(GENERAL_ERROR, f"vrrp instance {words[1]} already defined")
        b.s.skip_block()
        return
    line = b.here
    cfg = VrrpInstance(words[1], line=line.number, file=line.file)
    cfg.garp_master_delay = b.g.defs.vrrp_garp_master_delay
    cfg.garp_master_repeat = b.g.defs.vrrp_garp_master_repeat
    cfg.garp_master_refresh = b.g.defs.vrrp_garp_master_refresh
    cfg.garp_master_refresh_repeat = b.g.defs.vrrp_garp_master_refresh_repeat
    b.instances.append(Inst(cfg, line.file, down_timer_adverts=b.g.down_timer_adverts))
    b.instance_names.add(words[1])


def end(b: Builder) -> None:
    inst = b.inst
    if inst is None:
        return
    if inst.unicast_configured and (inst.vmac or inst.ipvlan):
        if inst.ifp is None:
            b.report(GENERAL_ERROR, f"({inst.name}): Cannot use VMAC/ipvlan with unicast"
                     " and no interface - clearing use_vmac")
            inst.vmac = inst.ipvlan = False
        elif not inst.vmac_xmit_base:
            b.report(GENERAL_ERROR, f"({inst.name}) unicast with use_vmac requires "
                     "vmac_xmit_base - setting")
            inst.vmac_xmit_base = True
    if not inst.cfg.unicast_peer and inst.ttl != -1:
        b.report(GENERAL_ERROR, f"({inst.name}): Cannot use unicast_ttl without unicast"
                 " peers - resetting")
        inst.ttl = -1


def number(b: Builder, words: list[str]) -> None:
    """The keywords of NUMBERS."""
    inst, text = b.inst, arg(words, 1)
    if inst is not None:
        b.store_number(NUMBERS[words[0]], text, inst, inst.name)


def flag(b: Builder, words: list[str]) -> None:
    """The keywords of FLAGS."""
    if b.inst:
        path, value = FLAGS[words[0]]
        set_path(b.inst, path, value)


def state(b: Builder, words: list[str]) -> None:
    inst, word = b.inst, arg(words, 1)
    if inst is None:
        return
    if word == "MASTER":
        inst.wantstate = "MASTER"
    elif word == "BACKUP":
        if inst.wantstate == "MASTER":
            b.report(GENERAL_ERROR, f"({inst.name}) state previously set as MASTER - "
                     "ignoring BACKUP")
        else:
            inst.wantstate = "BACKUP"
    else:
        b.report(GENERAL_ERROR,
                 f"({inst.name}) unknown state '{word}', defaulting to BACKUP")
        inst.wantstate = "BACKUP"


def interface(b: Builder, words: list[str]) -> None:
    inst, name = b.inst, arg(words, 1)
    if inst is None:
        return
    if not ifname_fits(name):
        b.report(GENERAL_ERROR, f"Interface name '{name}' too long - ignoring")
        return
    usable, exists = b.interface(name)
    inst.ifp, inst.ifp_exists = (name, exists) if usable else (None, False)
    inst.cfg.interface = name
    if not usable:
        b.report(GENERAL_ERROR, f"WARNING - interface {name} for vrrp_instance "
                 f"{inst.name} doesn't exist")
    elif name == "lo":
        b.report(GENERAL_ERROR, f"({inst.name}) cannot use a loopback interface (lo) "
                 "for vrrp - ignoring")
        inst.ifp = None


def advert_int(b: Builder, words: list[str]) -> None:
    inst, text = b.inst, arg(words, 1)
    if inst is None:
        return
    ok, value = b.decimal(text, TIMER_HZ // 100, 255 * TIMER_HZ)
    if not ok or value <= 0:
        b.report(GENERAL_ERROR, f"({inst.name}) Advert interval ({text}) not valid! Must"
                 " be > 0 - ignoring")
        return
    inst.adver_int_us = value


def version(b: Builder, words: list[str]) -> None:
    inst, text = b.inst, arg(words, 1)
    if inst is None or (value := b.number(_VERSION, text, inst.name)) is None:
        return
    if (inst.version and inst.version != value) or (value == 2 and inst.family == 6):
        b.report(GENERAL_ERROR, f"({inst.name}) vrrp_version {value} conflicts with "
                 f"configured or deduced version {inst.version}; ignoring.")
        return
    inst.version = value


def native_ipv6(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    if inst.family == 4:
        b.report(GENERAL_ERROR, f"({inst.name}) Cannot specify native_ipv6 with IPv4 "
                 "addresses")
        return
    inst.family = 6
    inst.version = 3


def preempt_delay(b: Builder, words: list[str]) -> None:
    inst, text = b.inst, arg(words, 1)
    if inst is not None:
        ok, value = b.decimal(text, 0, TIMER_MAX_SEC * TIMER_HZ)
        if not ok:
            b.report(GENERAL_ERROR, f"({inst.name}) Preempt_delay not valid! must be "
                     f"between 0-{TIMER_MAX_SEC}")
        inst.preempt_delay_us = value if ok else 0


def unicast_flag(b: Builder, words: list[str]) -> None:
    if b.inst:
        b.inst.unicast_configured = True
        if words[0] == "unicast_fault_no_peer":
            b.inst.fault_no_peer = True


def old_unicast_checksum(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    inst.unicast_configured = True
    if len(words) >= 2 and words[1] != "never":
        b.report(GENERAL_ERROR, f"({inst.name}) Unknown old_unicast_chksum mode "
                 f"{words[1]} - ignoring")


def notify(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    b.set_notify(inst.name, inst.notify, words, f"({inst.name})")


def notify_deleted(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    if "notify_deleted" in inst.notify:
        shown = words[1] if len(words) > 1 else ""
        b.report(GENERAL_ERROR, f"({inst.name}) notify_deleted already specified - "
                 f"ignoring {shown}")
        return
    inst.notify["notify_deleted"] = (b.notify_script(words) or []) if len(words) > 1 else []


def smtp_alert(b: Builder, words: list[str]) -> None:
    inst = b.inst
    value = b.bool_word(words, "Invalid vrrp_instance smtp_alert parameter {}")
    if inst is not None and value is not None:
        inst.cfg.smtp_alert = value


def flag_option(b: Builder, words: list[str]) -> None:
    """lower_prio_no_advert, higher_prio_send_advert, strict_mode,
    skip_check_adv_addr: yes/no, yes when alone."""
    inst = b.inst
    if inst is None:
        return
    value = b.bool_word(words, f"({inst.name}) invalid {words[0]} {{}} specified")
    if value is None:
        return
    if words[0] == "lower_prio_no_advert":
        inst.lower_prio_no_advert = value
    elif words[0] == "higher_prio_send_advert":
        inst.higher_prio_send_advert = value
    elif words[0] == "strict_mode":
        inst.strict_mode = value


def notify_priority_changes(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is not None:
        b.bool_word(words, f"({inst.name}) Invalid value '{{}}' for "
                    "notify_priority_changes specified")


def linkbeat_use_polling(b: Builder, words: list[str]) -> None:
    if b.inst:
        b.report(GENERAL_ERROR, f"({b.inst.name}) 'linkbeat_use_polling' in vrrp "
                 "instance deprecated - use linkbeat_interfaces block", "warning")


def lvs_sync_daemon_interface(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    b.report(GENERAL_ERROR, f"({inst.name}) Specifying lvs_sync_daemon_interface against"
             " a vrrp is deprecated.", "warning")
    pad = " " * max(len(inst.name) - 2, 0)
    b.report(GENERAL_ERROR, f"      {pad}Please use global lvs_sync_daemon", "warning")
    arg(words, 1)


def kernel_rx_buf_size(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    if len(words) == 2:
        ok, _, msg = read_unsigned(words[1], 0, UINT_MAX)
        if ok:
            return
        b.report_number(msg)
    b.report(GENERAL_ERROR, f"({inst.name}) invalid kernel_rx_buf_size specified")


def use_vmac(b: Builder, words: list[str]) -> None:
    if not b.inst:
        return
    b.inst.vmac = True
    b.inst.cfg.use_vmac = True
    for word in words[1:3]:
        if ":" not in word and not _dev_name_valid(word):
            b.report(GENERAL_ERROR, f"VMAC interface name '{word}' too long or invalid "
                     "characters - ignoring")


def vrf(b: Builder, words: list[str]) -> None:
    inst, name = b.inst, arg(words, 1)
    if inst is None:
        return
    if not ifname_fits(name):
        b.report(GENERAL_ERROR, f"({inst.name}) VRF interface name '{name}' too long - "
                 "ignoring")
    elif inst.ifp is not None:
        b.report(GENERAL_ERROR, f"({inst.name}) Cannot specify VRF interface and "
                 "interface - ignoring")
    elif not b.interface(name)[0]:
        b.report(GENERAL_ERROR, f"({inst.name}) WARNING - VRF interface {name} doesn't "
                 "exist")


def garp_extra_if(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    key = words[0]
    if key == "vmac_garp_intvl":
        b.report(DEPRECATED, 'Keyword "vmac_garp_intvl" is deprecated - please use '
                 '"garp_extra_if"')
    have_time = False
    for word in words[1:]:
        if word == "all":
            continue
        ok, _, msg = read_unsigned(word, 0, 86400)
        if not ok:
            b.report_number(msg)
            b.report(GENERAL_ERROR, f"({inst.name}): {key} '{word}' invalid - ignoring")
            return
        have_time = True
    if not have_time:
        b.report(GENERAL_ERROR, f"({inst.name}): {key} specified without time - "
                 "ignoring")


def use_ipvlan(b: Builder, words: list[str]) -> None:
    if b.inst:
        b.inst.ipvlan = True
        addrs = [a for a in map(parse_ip, words[1:]) if a is not None]
        b.inst.ipvlan_family = addrs[0].version if addrs else 0


def auth_type(b: Builder, words: list[str]) -> None:
    inst, word = b.inst, arg(words, 1)
    if inst is None:
        return
    if word in ("AH", "PASS"):
        inst.auth_type = word
    else:
        b.report(GENERAL_ERROR, f"({inst.name}) unknown authentication type '{word}'")


def auth_pass(b: Builder, words: list[str]) -> None:
    inst, word = b.inst, arg(words, 1)
    if inst is None:
        return
    raw = word.encode("utf-8", "surrogateescape")
    if len(raw) > 8:
        b.report(GENERAL_ERROR, "Truncating auth_pass to 8 characters", "warning")
        raw = raw[:8]
    inst.auth_data = raw.split(b"\0")[0].decode("utf-8", "surrogateescape")


# -- keywords of keepalived 2.3 and 2.4 ---------------------------------------------------


def no_virtual_ipaddress(b: Builder, words: list[str]) -> None:
    if b.inst:
        b.inst.allow_no_vips = True


def v3_checksum_as_v2(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is not None:
        b.bool_word(words, f"({inst.name}) invalid v3_checksum_as_v2 {{}} specified")


def timer_expired_backup(b: Builder, words: list[str]) -> None:
    """timer_expired_backup [HIGHEST_OTHER_PRIORITY] (alias thread_timer_expired)."""
    inst = b.inst
    if inst is None:
        return
    if words[0] == "thread_timer_expired":
        b.report(GENERAL_ERROR, f"({inst.name}) thread_timer_expired - please replace with "
                 "keyword 'timer_expired_backup'")
    other = VRRP_PRIO_OWNER - 1
    if len(words) >= 2:
        ok, other, msg = read_unsigned(words[1], 1, VRRP_PRIO_OWNER - 1)
        if not ok:
            b.report_number(msg)
            b.report(GENERAL_ERROR, f"({inst.name}) timer_expired_backup "
                     "highest_other_priority not valid! must be between 1 & "
                     f"{VRRP_PRIO_OWNER - 1}")
            return
    inst.highest_other_priority = other


def owner_ignore_adverts(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        return
    value = b.bool_word(words, f"({inst.name}) invalid {words[0]} {{}} specified")
    if value is not None:
        inst.owner_ignore_adverts = value


def auth_hmac(b: Builder, words: list[str]) -> None:
    """auth_hmac { key ID VALUE; active_key ID; ... }: keepalived 2.4's HMAC trailer."""
    inst = b.inst
    if inst is not None and inst.auth_hmac is None:
        inst.auth_hmac = HmacAuth()


HMAC_KEY_MIN, HMAC_KEY_MAX = 32, 64
HMAC_WINDOW_MIN, HMAC_WINDOW_MAX = 1, 300


def hmac_key(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None or inst.auth_hmac is None:
        return
    name = inst.name
    if len(words) < 3:
        b.report(GENERAL_ERROR, f"({name}) auth_hmac key needs an id and a value")
        return
    ok, key_id, msg = read_unsigned(words[1], 1, 255)
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"({name}) auth_hmac key id '{words[1]}' must be between 1 "
                 "and 255")
        return
    value = words[2]
    length = _hmac_key_file(b, name, value[5:]) if value.startswith("file:") \
        else _hmac_key_length(value)
    if length is None or not HMAC_KEY_MIN <= length <= HMAC_KEY_MAX:
        b.report(GENERAL_ERROR, f"({name}) auth_hmac key {key_id} length {length or 0} not "
                 f"in range [{HMAC_KEY_MIN}, {HMAC_KEY_MAX}]")
    elif key_id in inst.auth_hmac.keys:
        b.report(GENERAL_ERROR, f"({name}) duplicate auth_hmac key id {key_id}")
    else:
        inst.auth_hmac.keys.add(key_id)


def _hmac_key_length(value: str) -> int | None:
    """The key's length in bytes: `hex:` digits (None if not hex), else the text."""
    if not value.startswith("hex:"):
        return len(value.encode("utf-8", "surrogateescape"))
    digits = value[4:].replace(" ", "")
    if not digits or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return None
    return (len(digits) + 1) // 2


def _hmac_key_file(b: Builder, name: str, path: str) -> int | None:
    """A key kept in a file: judged only when checking on the node (Environment)."""
    if not b.env.check_scripts:
        return HMAC_KEY_MIN
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            data = f.read(4 + HMAC_KEY_MAX * 2 + 8)
    except OSError:
        b.report(GENERAL_ERROR, f"({name}) auth_hmac key file '{path}' cannot be opened")
        return None
    if st.st_mode & 0o077:
        b.report(SECURITY_ERROR, f"({name}) auth_hmac key file '{path}' is readable by group "
                 "or others")
    if len(data) >= 4 + HMAC_KEY_MAX * 2 + 7:
        b.report(GENERAL_ERROR, f"({name}) auth_hmac key file '{path}' is too large")
        return None
    return _hmac_key_length(data.rstrip(b"\r\n").decode("utf-8", "surrogateescape"))


def hmac_active_key(b: Builder, words: list[str]) -> None:
    _hmac_number(b, words, 1, 255, "active_key '{}' must be between 1 and 255", "active_key")


def hmac_time_window(b: Builder, words: list[str]) -> None:
    _hmac_number(b, words, HMAC_WINDOW_MIN, HMAC_WINDOW_MAX, "time_window '{}' must be "
                 f"between {HMAC_WINDOW_MIN} and {HMAC_WINDOW_MAX} seconds", "")


def _hmac_number(b: Builder, words: list[str], lo: int, hi: int, message: str,
                 store: str) -> None:
    inst = b.inst
    if inst is None or inst.auth_hmac is None:
        return
    text = arg(words, 1)
    ok, value, msg = read_unsigned(text, lo, hi)
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, f"({inst.name}) auth_hmac " + message.format(text))
    elif store:
        inst.auth_hmac.active_key = value


def hmac_choice(b: Builder, words: list[str]) -> None:
    """anti_replay time|monotonic, mode enforce|permissive|receive-only."""
    text = arg(words, 1)
    inst = b.inst
    if inst is None or inst.auth_hmac is None:
        return
    allowed, shown = _HMAC_CHOICES[words[0]]
    if text not in allowed:
        b.report(GENERAL_ERROR, f"({inst.name}) auth_hmac {words[0]} '{text}' must be "
                 f"{shown}")
    elif words[0] == "mode":
        inst.auth_hmac.mode = text


_HMAC_CHOICES = {
    "anti_replay": (("time", "monotonic"), "time or monotonic"),
    "mode": (("enforce", "permissive", "receive-only"),
             "enforce, permissive or receive-only"),
}


def _dev_name_valid(name: str) -> bool:
    """The kernel's dev_valid_name(): what a VMAC interface may be called."""
    return (bool(name) and ifname_fits(name) and name not in (".", "..")
            and not any(c in name for c in "/:" + WHITESPACE))


# Keywords taking one number: keepalived's range, where the value goes, its complaints.
NUMBERS: dict[str, Number] = {
    "virtual_router_id": Number(
        read_unsigned, 1, 255, "({name}): VRID '{text}' not valid - must be between 1 & 255",
        "cfg.virtual_router_id"),
    "priority": Number(
        read_unsigned, 1, VRRP_PRIO_OWNER, "({name}) Priority not valid! must be between 1 & "
        "{hi}. Using default {default}", "base_priority", default=VRRP_PRIO_DFL),
    "unicast_ttl": Number(
        read_unsigned, 0, 255, "({name}): TTL '{text}' not valid - must be between 0 & 255",
        "ttl"),
    "garp_master_delay": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "({name}): garp_master_delay '{text}' invalid "
        "- ignoring", "cfg.garp_master_delay", seconds=True),
    "garp_lower_prio_delay": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "({name}): garp_lower_prio_delay '{text}' "
        "invalid - ignoring", "garp_lower_prio_delay", seconds=True),
    "garp_master_repeat": Number(
        read_unsigned, 0, UINT_MAX, "({name}): garp_master_repeat '{text}' invalid - ignoring",
        "cfg.garp_master_repeat",
        zero="({name}): garp_master_repeat must be greater than 0, setting to 1"),
    "garp_master_refresh_repeat": Number(
        read_unsigned, 0, UINT_MAX, "({name}): garp_master_refresh_repeat '{text}' invalid - "
        "ignoring", "cfg.garp_master_refresh_repeat",
        zero="({name}): garp_master_refresh_repeat must be greater than 0, setting to 1"),
    "garp_master_refresh": Number(
        read_unsigned, 0, UINT_MAX, "({name}): Invalid garp_master_refresh '{text}' - "
        "ignoring", "cfg.garp_master_refresh", default=0, seconds=True),
    "garp_lower_prio_repeat": Number(
        read_unsigned, 0, INT_MAX, "({name}): Invalid garp_lower_prio_repeat '{text}'",
        "garp_lower_prio_rep"),
    "down_timer_adverts": Number(
        read_unsigned, 1, 100, "({name}): Invalid down_timer_adverts [1:100] '{text}'",
        "down_timer_adverts"),
    "debug": Number(
        read_unsigned, 0, 4, "({name}) Debug value '{text}' not valid; must be between 0-4"),
}

# Keywords that set one flag of the instance: where, and to what.
FLAGS: dict[str, tuple[str, bool]] = {
    "nopreempt": ("nopreempt", True),
    "preempt": ("nopreempt", False),
    "accept": ("accept", True),
    "no_accept": ("accept", False),
    "vmac_xmit_base": ("vmac_xmit_base", True),
    "dont_track_primary": ("cfg.dont_track_primary", True),
}

_VERSION = Number(read_int, 2, 3, "({name}): Version must be either 2 or 3")

# Keywords of later releases: the first version (of those we judge like) that knows them.
SINCE: dict[str, str] = dict.fromkeys((
    "no_virtual_ipaddress", "v3_checksum_as_v2", "timer_expired_backup",
    "thread_timer_expired", "owner_ignore_adverts"), "2.3")
# The build feature each keyword needs (keepalived's #ifdef around its install_keyword).
FEATURES: dict[str, str] = {
    **dict.fromkeys(("use_vmac", "use_vmac_addr", "vmac_xmit_base", "garp_extra_if",
                     "vmac_garp_intvl"), "VRRP_VMAC"),
    "old_unicast_checksum": "OLD_CHKSUM_COMPAT",
    "no_accept": "FIREWALL",
    "lvs_sync_daemon_interface": "LVS",
    "track_bfd": "BFD",
}

KEYWORDS: dict[str, Handler] = {
    "no_virtual_ipaddress": no_virtual_ipaddress,
    "v3_checksum_as_v2": v3_checksum_as_v2,
    "timer_expired_backup": timer_expired_backup,
    "thread_timer_expired": timer_expired_backup,
    "owner_ignore_adverts": owner_ignore_adverts,
    "use_vmac": use_vmac,
    "use_vmac_addr": Builder.accept,
    "use_ipvlan": use_ipvlan,
    "unicast_peer": addresses.unicast_peer,
    "unicast_fault_no_peer": unicast_flag,
    "check_unicast_src": unicast_flag,
    "old_unicast_checksum": old_unicast_checksum,
    "native_ipv6": native_ipv6,
    "state": state,
    "interface": interface,
    "vrf": vrf,
    "track_interface": tracking.track,
    "track_script": tracking.track,
    "track_file": tracking.track,
    "track_process": tracking.track,
    "track_bfd": Builder.ignore_block,
    "mcast_src_ip": addresses.src_ip,
    "unicast_src_ip": addresses.src_ip,
    "mcast_dst_ip": addresses.mcast_dst_ip,
    "track_src_ip": Builder.accept,
    "version": version,
    "advert_int": advert_int,
    "virtual_ipaddress": addresses.virtual_ipaddress,
    "virtual_ipaddress_excluded": addresses.virtual_ipaddress,
    "promote_secondaries": Builder.accept,
    "linkbeat_use_polling": linkbeat_use_polling,
    "virtual_routes": Builder.ignore_block,
    "virtual_rules": Builder.ignore_block,
    "skip_check_adv_addr": flag_option,
    "strict_mode": flag_option,
    "preempt_delay": preempt_delay,
    "notify_backup": notify,
    "notify_master": notify,
    "notify_fault": notify,
    "notify_stop": notify,
    "notify_deleted": notify_deleted,
    "notify": notify,
    "notify_master_rx_lower_pri": notify,
    "smtp_alert": smtp_alert,
    "notify_priority_changes": notify_priority_changes,
    "lvs_sync_daemon_interface": lvs_sync_daemon_interface,
    "garp_extra_if": garp_extra_if,
    "vmac_garp_intvl": garp_extra_if,
    "lower_prio_no_advert": flag_option,
    "higher_prio_send_advert": flag_option,
    "kernel_rx_buf_size": kernel_rx_buf_size,
    **dict.fromkeys(NUMBERS, number),
    **dict.fromkeys(FLAGS, flag),
}
AUTHENTICATION: dict[str, Handler] = {"auth_type": auth_type, "auth_pass": auth_pass}
AUTH_HMAC: dict[str, Handler] = {
    "key": hmac_key, "active_key": hmac_active_key, "time_window": hmac_time_window,
    "anti_replay": hmac_choice, "mode": hmac_choice,
}
