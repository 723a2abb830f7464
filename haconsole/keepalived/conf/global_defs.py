"""global_defs: the keywords haconsole models, and keepalived's verdicts on the rest."""

from __future__ import annotations

from haconsole.keepalived.conf.builder import Builder, Number
from haconsole.keepalived.conf.environment import user_exists
from haconsole.keepalived.conf.findings import DEPRECATED, GENERAL_ERROR, WARNING
from haconsole.keepalived.conf.limits import INT_MAX, TIMER_HZ, UINT_MAX
from haconsole.keepalived.conf.stream import Handler, MissingParameter, arg
from haconsole.keepalived.conf.values import parse_ip, read_int, read_unsigned, true_false


def router_id(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, "routerid name missing - ignoring")
        return
    b.g.defs.router_id = " ".join(words[1:])


def notification_email_from(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, "emailfrom missing - ignoring")
        return
    if len(words) > 2 and b.env.at_least("2.3"):
        b.report(GENERAL_ERROR, f"emailfrom - ignoring extra entries '{words[2]}' ...")
        b.g.defs.notification_email_from = words[1]
        return
    b.g.defs.notification_email_from = " ".join(words[1:])


def smtp_server(b: Builder, words: list[str]) -> None:
    server = arg(words, 1)
    port = words[2] if len(words) >= 3 else "25"
    b.g.defs.smtp_server = server
    if not port.isdigit() or not 0 < int(port) < 65536:
        b.report(GENERAL_ERROR, f"Invalid smtp server {server} {port}")


def number(b: Builder, words: list[str]) -> None:
    """The keywords of NUMBERS."""
    b.store_number(NUMBERS[words[0]], arg(words, 1), b.g)


def notification_email(b: Builder, words: list[str]) -> None:
    emails = b.read_value_block(words)
    if not emails:
        b.report(GENERAL_ERROR, "Warning - empty notification_email block", "warning")
        return
    b.g.defs.notification_email.extend(emails)


def smtp_alert(b: Builder, words: list[str]) -> None:
    b.bool_word(words, f"Invalid value '{{}}' for global {words[0]} specified")


def min_garp(b: Builder, words: list[str]) -> None:
    if b.g.defs.vrrp_garp_master_repeat == 5:
        b.g.defs.vrrp_garp_master_repeat = 1
    if b.g.defs.vrrp_garp_master_delay == 5.0:
        b.g.defs.vrrp_garp_master_delay = 0.0


def strict(b: Builder, words: list[str]) -> None:
    """vrrp_strict (2.3+: `vrrp_strict no` turns it off; 2.2.7 ignores any word)."""
    value = _yes_no_23(b, words, "vrrp_strict")
    if value is not None:
        b.g.defs.vrrp_strict = value


def skip_check_adv_addr(b: Builder, words: list[str]) -> None:
    _yes_no_23(b, words, "vrrp_check_adv_addr")


def _yes_no_23(b: Builder, words: list[str], shown: str) -> bool | None:
    """A global flag: set by the bare keyword; from 2.3 on, an optional yes/no too."""
    if not b.env.at_least("2.3"):
        return True
    return b.bool_word(words, f"Invalid value '{{}}' for global {shown} specified")


# -- keywords of keepalived 2.3 and 2.4 ---------------------------------------------------


def use_symlink_paths(b: Builder, words: list[str]) -> None:
    b.bool_word(words, "Invalid value '{}' for global use_symlink_path specified")


def owner_ignore_adverts(b: Builder, words: list[str]) -> None:
    """vrrp_owner_ignore_adverts [yes|no] (keepalived prints the keyword and the word the
    other way round)."""
    if len(words) >= 2 and true_false(words[1]) is None:
        b.report(GENERAL_ERROR, f"Invalid value '{words[0]}' for global {words[1]} "
                 "specified")
        return
    b.g.owner_ignore_adverts = len(words) < 2 or bool(true_false(words[1]))


def json_version(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, f"{words[0]} requires version")
        return
    ok, value, msg = read_unsigned(words[1], 1, 2)
    if not ok:
        b.report_number(msg)
        b.report(GENERAL_ERROR, "Invalid JSON version")
        return
    b.g.defs.json_version = value


def iproute_dir(b: Builder, words: list[str]) -> None:
    """iproute_usr_dir, iproute_etc_dir: exactly one path."""
    if len(words) != 2:
        b.report(GENERAL_ERROR, f"{words[0]} requires path")


def dump_file(b: Builder, words: list[str]) -> None:
    """state_dump_file, stats_dump_file, json_dump_file: where SIGUSR1/2 and SIGJSON write
    (keepalived 2.4.3 only uses state_dump_file, for SIGUSR1's: the one modelled)."""
    if len(words) != 2 or not words[1]:
        b.report(GENERAL_ERROR, f"{words[0]} requires a non-empty path")
        return
    if words[0] == "state_dump_file":
        b.g.defs.state_dump_file = words[1]


def notify_fifo(b: Builder, words: list[str]) -> None:
    """notify_fifo, vrrp_notify_fifo (a path, then optional user and group) and their
    *_script (the command keepalived starts to read the FIFO): as written."""
    if len(words) < 2:
        b.report(GENERAL_ERROR, NEED_VALUE[words[0]])
        return
    setattr(b.g.defs, words[0], words[1])


def notify_priority_changes(b: Builder, words: list[str]) -> None:
    """vrrp_notify_priority_changes [true|false]: priority changes on the notify FIFOs."""
    if len(words) >= 2 and true_false(words[1]) is None:
        b.report(GENERAL_ERROR, f"Invalid value '{words[1]}' for global "
                 f"{words[0]} specified")
        return
    b.g.defs.vrrp_notify_priority_changes = len(words) < 2 or bool(true_false(words[1]))


def delay_after_boot(b: Builder, words: list[str]) -> None:
    ok, _ = b.decimal(arg(words, 1), TIMER_HZ // 1000, UINT_MAX)
    if not ok:
        b.report(GENERAL_ERROR, f"vrrp_delay_after_boot '{words[1]}' is invalid")


def dbus_no_interface_name(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, "dbus_no_interface_name missing - ignoring")


def script_user(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, "No script username specified")
        return
    b.g.defs.script_user = words[1]
    if not user_exists(words[1], b.env):
        b.report(GENERAL_ERROR, "Error setting global script uid/gid")


def script_security(b: Builder, words: list[str]) -> None:
    b.g.defs.enable_script_security = True


def mcast_group4(b: Builder, words: list[str]) -> None:
    _mcast_group(b, words, 4)


def mcast_group6(b: Builder, words: list[str]) -> None:
    _mcast_group(b, words, 6)


def _mcast_group(b: Builder, words: list[str], family: int) -> None:
    text = arg(words, 1)
    addr = parse_ip(text)
    key = words[0]
    if addr is None:
        b.report(GENERAL_ERROR, f"Can't parse {key} [{text}]. Skipping")
    elif addr.version != family:
        b.report(GENERAL_ERROR, f"{key} [{text}] is not IPv{family}. Skipping")
    elif not addr.is_multicast:
        b.report(GENERAL_ERROR, f"{key} [{text}] is not multicast. Skipping")
    else:
        if family == 6 and (addr.packed[1] & 0x0F) != 2:
            b.report(WARNING, f"{key} [{text}] should be link-local multicast.")
        if family == 4:
            b.g.mcast4 = addr
        else:
            b.g.mcast6 = addr


def dynamic_interfaces(b: Builder, words: list[str]) -> None:
    b.g.dynamic_interfaces = True
    if len(words) >= 2 and words[1] != "allow_if_changes":
        b.report(GENERAL_ERROR, f"Unknown dynamic_interfaces option '{words[1]}'")


def iptables(b: Builder, words: list[str]) -> None:
    b.report(GENERAL_ERROR, "iptables not supported, using nftables instead. Please "
             "replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
    b.g.nftables = True


def nftables(b: Builder, words: list[str]) -> None:
    if b.g.nftables:
        b.report(GENERAL_ERROR, "nftables already specified - ignoring")
        return
    b.g.nftables = True


def prio_advert(b: Builder, words: list[str]) -> None:
    """vrrp_lower_prio_no_advert, vrrp_higher_prio_send_advert: yes/no, yes when alone."""
    value = b.bool_word(words, f"Invalid value for {words[0]} specified", quote=False)
    if value is None:
        return
    if words[0] == "vrrp_lower_prio_no_advert":
        b.g.lower_prio_no_advert = value
    else:
        b.g.higher_prio_send_advert = value


def default_interface(b: Builder, words: list[str]) -> None:
    if len(words) < 2:
        b.report(GENERAL_ERROR, "default_interface requires interface name")


# Keywords taking one number: keepalived's range, where the value goes, its complaints.
NUMBERS: dict[str, Number] = {
    "smtp_connect_timeout": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "smtp_connect_timeout '{text}' must be in "
        "[0, {hi}] - ignoring", "defs.smtp_connect_timeout",
        zero="smtp_conect_timeout must be greater than 0, setting to 1"),
    "vrrp_version": Number(read_int, 2, 3, "VRRP Error: Version must be either 2 or 3",
                           "defs.vrrp_version"),
    "vrrp_garp_master_delay": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "vrrp_garp_master_delay '{text}' invalid - "
        "ignoring", "defs.vrrp_garp_master_delay", seconds=True),
    "vrrp_garp_master_repeat": Number(
        read_unsigned, 0, UINT_MAX, "vrrp_garp_master_repeat '{text}' invalid - ignoring",
        "defs.vrrp_garp_master_repeat",
        zero="vrrp_garp_master_repeat must be greater than 0, setting to 1"),
    "vrrp_garp_master_refresh": Number(
        read_unsigned, 0, UINT_MAX, "Invalid vrrp_garp_master_refresh '{text}' - ignoring",
        "defs.vrrp_garp_master_refresh", default=0, seconds=True),
    "vrrp_garp_master_refresh_repeat": Number(
        read_unsigned, 0, UINT_MAX, "vrrp_garp_master_refresh_repeat '{text}' invalid - "
        "ignoring", "defs.vrrp_garp_master_refresh_repeat",
        zero="vrrp_garp_master_refresh_repeat must be greater than 0, setting to 1"),
    "vrrp_garp_lower_prio_delay": Number(
        read_unsigned, 0, UINT_MAX // TIMER_HZ, "vrrp_garp_lower_prio_delay '{text}' invalid - "
        "ignoring", "garp_lower_prio_delay", seconds=True),
    "vrrp_garp_lower_prio_repeat": Number(
        read_unsigned, 0, INT_MAX, "Invalid vrrp_garp_lower_prio_repeat '{text}'",
        "garp_lower_prio_rep"),
    "vrrp_down_timer_adverts": Number(
        read_unsigned, 1, 100, "Invalid vrrp_down_timer_adverts [1:100] '{text}'",
        "down_timer_adverts"),
}

ACCEPTED = frozenset("""
process_names process_name vrrp_process_name checker_process_name lvs_process_name
bfd_process_name smtp_helo_name startup_script startup_script_timeout shutdown_script
shutdown_script_timeout max_auto_priority min_auto_priority_delay checker_log_all_failures
no_email_faults disable_local_igmp lvs_timeouts lvs_flush lvs_flush_on_stop
lvs_flush_onstop lvs_sync_daemon
vrrp_garp_interval vrrp_gna_interval vrrp_garp_extra_if vrrp_vmac_garp_intvl
nftables_priority nftables_ifindex nftables_ipvs nftables_ipvs_priority
nftables_ipvs_start_fwmark nftables_counters vrrp_check_unicast_src
vrrp_priority vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime
vrrp_rlimit_rtime fifo_write_vrrp_states_on_reload lvs_notify_fifo
lvs_notify_fifo_script checker_priority checker_no_swap checker_rt_priority
checker_cpu_affinity checker_rlimit_rttime checker_rlimit_rtime bfd_priority bfd_no_swap
bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime snmp_socket enable_traps
enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3
enable_snmp_checker enable_dbus dbus_service_name vrrp_netlink_cmd_rcv_bufs
vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs
vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs process_monitor_rcv_bufs_force
lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs
lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails vrrp_rx_bufs_policy
vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids vmac_prefix vmac_addr_prefix
umask random_seed reload_check_config reload_time_file reload_repeat reload_file
include_check config_save_dir tmp_config_directory data_use_instance
""".split())  # noqa: SIM905 - a word list reads better than 100 quoted strings

# Keywords haconsole accepts without modelling, and what keepalived says when the value
# is missing: FATAL_MISSING (it exits, "missing a parameter") or its message.
FATAL_MISSING = ""
NEED_VALUE: dict[str, str] = {
    **dict.fromkeys((
        "bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name",
        "checker_rlimit_rtime", "checker_rlimit_rttime", "config_save_dir", "lvs_process_name",
        "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_priority",
        "process_name", "random_seed", "umask", "vmac_addr_prefix", "vmac_prefix",
        "vrrp_garp_interval",
        "vrrp_gna_interval", "vrrp_process_name", "vrrp_rlimit_rtime", "vrrp_rlimit_rttime",
        "vrrp_startup_delay", "child_wait_time"), FATAL_MISSING),
    "bfd_cpu_affinity": "No bfd cpu_id set specified",
    "bfd_priority": "No bfd process priority specified",
    "bfd_rt_priority": "No bfd process real-time priority specified",
    "checker_cpu_affinity": "No checker cpu_id set specified",
    "checker_priority": "No checker process priority specified",
    "checker_rt_priority": "No checker process real-time priority specified",
    "vrrp_cpu_affinity": "No vrrp cpu_id set specified",
    "vrrp_priority": "No vrrp process priority specified",
    "vrrp_rt_priority": "No vrrp process real-time priority specified",
    "dbus_service_name": "dbus_service_name missing - ignoring",
    "lvs_netlink_cmd_rcv_bufs": "lvs_netlink_cmd_rcv_bufs size missing",
    "lvs_netlink_monitor_rcv_bufs": "lvs_netlink_monitor_rcv_bufs size missing",
    "vrrp_netlink_cmd_rcv_bufs": "vrrp_netlink_cmd_rcv_bufs size missing",
    "vrrp_netlink_monitor_rcv_bufs": "vrrp_netlink_monitor_rcv_bufs size missing",
    "process_monitor_rcv_bufs": "process_monitor_rcv_bufs size missing",
    "lvs_notify_fifo": "No lvs_notify_fifo name specified",
    "lvs_notify_fifo_script": "No lvs_notify_fifo_script specified",
    "notify_fifo": "No notify_fifo name specified",
    "notify_fifo_script": "No notify_fifo_script specified",
    "vrrp_notify_fifo": "No vrrp_notify_fifo name specified",
    "vrrp_notify_fifo_script": "No vrrp_notify_fifo_script specified",
    "lvs_sync_daemon": "lvs_sync_daemon requires interface",
    "lvs_timeouts": "lvs_timeouts requires at least one option",
    "min_auto_priority_delay": "min_auto_priority_delay requires delay time",
    "reload_time_file": "reload_time_file invalid",
    "shutdown_script": "shutdown script missing",
    "shutdown_script_timeout": "shutdown_script_timeout requires value",
    "startup_script": "startup script missing",
    "startup_script_timeout": "startup_script_timeout requires value",
    "snmp_socket": "SNMP error : snmp socket name missing",
    "tmp_config_directory": "tmp_config_directory missing directory name",
    "vrrp_garp_extra_if": "vrrp_garp_extra_if specified without time - ignoring",
    "vrrp_vmac_garp_intvl": "vrrp_vmac_garp_intvl specified without time - ignoring",
    "vrrp_rx_bufs_multiplier": "Invalid vrrp_rx_bufs_multiplier",
    "vrrp_rx_bufs_policy": "vrrp_rx_bufs_policy missing",
    "instance": "instance name missing - ignoring",
    "net_namespace": "net_namespace name missing - ignoring",
}
_DEPRECATED = {
    "vrrp_vmac_garp_intvl": "vrrp_garp_extra_if", "vmac_garp_intvl": "garp_extra_if",
}


def accepting(keyword: str, missing: str | None) -> Handler:
    """A handler for a keyword haconsole does not model: keepalived's verdict when its value
    is missing (a message, or an exit), and its deprecation notice."""

    def handler(builder: Builder, words: list[str]) -> None:
        if keyword in _DEPRECATED:
            builder.report(DEPRECATED, f'Keyword "{keyword}" is deprecated - please use '
                           f'"{_DEPRECATED[keyword]}"')
        if missing is None or len(words) >= 2:
            return
        if missing == FATAL_MISSING:
            raise MissingParameter(words, 1)
        inst = builder.inst
        builder.report(GENERAL_ERROR, missing.format(name=inst.name if inst else ""))

    return handler


# The build feature each keyword needs (keepalived's #ifdef around its install_keyword);
# "A+B" needs both. Without it keepalived calls the keyword unknown.
FEATURES: dict[str, str] = {
    **dict.fromkeys("""checker_process_name lvs_process_name smtp_alert_checker
        checker_log_all_failures lvs_timeouts lvs_flush lvs_flush_on_stop lvs_flush_onstop
        lvs_sync_daemon lvs_notify_fifo lvs_notify_fifo_script checker_priority
        checker_no_swap checker_rt_priority checker_cpu_affinity checker_rlimit_rttime
        checker_rlimit_rtime lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
        lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force rs_init_notifies
        no_checker_emails""".split(), "LVS"),  # noqa: SIM905
    **dict.fromkeys(("nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark"),
                    "LVS+NFTABLES"),
    **dict.fromkeys("""bfd_process_name bfd_priority bfd_no_swap bfd_rt_priority
        bfd_cpu_affinity bfd_rlimit_rttime bfd_rlimit_rtime""".split(), "BFD"),  # noqa: SIM905
    "vrrp_iptables": "FIREWALL",
    **dict.fromkeys(("nftables", "nftables_priority", "nftables_ifindex",
                     "nftables_counters"), "NFTABLES"),
    "snmp_socket": "SNMP", "enable_traps": "SNMP",
    "enable_snmp_vrrp": "SNMP_VRRP", "enable_snmp_keepalived": "SNMP_VRRP",
    "enable_snmp_rfc": "SNMP_RFC", "enable_snmp_rfcv2": "SNMP_RFCV2",
    "enable_snmp_rfcv3": "SNMP_RFCV3", "enable_snmp_checker": "SNMP_CHECKER",
    "snmp_vs_stats_update_interval": "SNMP_CHECKER",
    "snmp_rs_stats_update_interval": "SNMP_CHECKER",
    **dict.fromkeys(("enable_dbus", "dbus_service_name", "dbus_no_interface_name"), "DBUS"),
    "json_version": "JSON",
    **dict.fromkeys(("vrrp_garp_extra_if", "vrrp_vmac_garp_intvl", "vmac_prefix",
                     "vmac_addr_prefix"), "VRRP_VMAC"),
}

# Keywords of later releases: the first version (of those we judge like) that knows them.
SINCE: dict[str, str] = {
    **dict.fromkeys("""dbus_no_interface_name iproute_etc_dir iproute_usr_dir json_dump_file
        json_version snmp_rs_stats_update_interval snmp_vs_stats_update_interval
        state_dump_file stats_dump_file use_symlink_paths v3_checksum_as_v2
        vrrp_owner_ignore_adverts""".split(), "2.3"),  # noqa: SIM905
    "vrrp_delay_after_boot": "2.4",
}

KEYWORDS: dict[str, Handler] = {
    "use_symlink_paths": use_symlink_paths,
    "vrrp_owner_ignore_adverts": owner_ignore_adverts,
    "v3_checksum_as_v2": Builder.accept,
    "json_version": json_version,
    "iproute_usr_dir": iproute_dir,
    "iproute_etc_dir": iproute_dir,
    "state_dump_file": dump_file,
    "stats_dump_file": dump_file,
    "json_dump_file": dump_file,
    "notify_fifo": notify_fifo,
    "notify_fifo_script": notify_fifo,
    "vrrp_notify_fifo": notify_fifo,
    "vrrp_notify_fifo_script": notify_fifo,
    "vrrp_notify_priority_changes": notify_priority_changes,
    "vrrp_delay_after_boot": delay_after_boot,
    "dbus_no_interface_name": dbus_no_interface_name,
    "snmp_vs_stats_update_interval": Builder.accept,
    "snmp_rs_stats_update_interval": Builder.accept,
    "vrrp_skip_check_adv_addr": skip_check_adv_addr,
    "router_id": router_id,
    "notification_email_from": notification_email_from,
    "smtp_server": smtp_server,
    "notification_email": notification_email,
    "smtp_alert": smtp_alert,
    "smtp_alert_vrrp": smtp_alert,
    "smtp_alert_checker": smtp_alert,
    "vrrp_min_garp": min_garp,
    "vrrp_strict": strict,
    "script_user": script_user,
    "enable_script_security": script_security,
    "vrrp_mcast_group4": mcast_group4,
    "vrrp_mcast_group6": mcast_group6,
    "dynamic_interfaces": dynamic_interfaces,
    "vrrp_iptables": iptables,
    "nftables": nftables,
    "vrrp_lower_prio_no_advert": prio_advert,
    "vrrp_higher_prio_send_advert": prio_advert,
    "default_interface": default_interface,
    **dict.fromkeys(NUMBERS, number),
}
