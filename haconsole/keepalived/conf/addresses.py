"""vrrp_instance addresses: VIPs, unicast peers, source and multicast addresses."""

from __future__ import annotations

import ipaddress

from haconsole.config import IPAddress, VirtualAddress
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR, INVALID_NUMBER
from haconsole.keepalived.conf.limits import IFNAMSIZ, UINT_MAX
from haconsole.keepalived.conf.state import Inst
from haconsole.keepalived.conf.stream import arg
from haconsole.keepalived.conf.values import ifname_fits, is_ipv4, parse_ip, read_unsigned


def src_ip(b: Builder, words: list[str]) -> None:
    inst, text = b.inst, arg(words, 1)
    if inst is None:
        return
    if words[0] == "unicast_src_ip":
        inst.unicast_configured = True
    addr = parse_ip(text)
    if addr is None:
        b.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] "
                 f"malformed src address[{text}]. Skipping...")
        return
    inst.saddr_from_config = True
    if not inst.family:
        inst.family = addr.version
    elif addr.version != inst.family:
        b.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] and "
                 f"src address[{text}] MUST be of the same family !!! Skipping...")
        inst.saddr_from_config = False
        return
    if words[0] == "unicast_src_ip":
        inst.cfg.unicast_src_ip = addr
    else:
        inst.cfg.mcast_src_ip = addr


def mcast_dst_ip(b: Builder, words: list[str]) -> None:
    inst, text = b.inst, arg(words, 1)
    if inst is None:
        return
    addr = parse_ip(text)
    if addr is None:
        b.report(GENERAL_ERROR, f"({inst.name}) malformed mcast dest address {text}. "
                 "Skipping...")
        return
    if not inst.family:
        inst.family = addr.version
    elif addr.version != inst.family:
        b.report(GENERAL_ERROR, f"({inst.name}) mcast dest address {text} MUST match "
                 "VRRP instance family. Skipping...")
        addr = None
    if addr is not None and not _mcast_ok(addr):
        local = " link-local" if addr.version == 6 else ""
        b.report(GENERAL_ERROR, f"({inst.name}) mcast_dst_ip {text} not{local} "
                 "multicast. Skipping...")
        addr = None
    inst.mcast_dst = addr


def unicast_peer(b: Builder, words: list[str]) -> None:
    inst = b.inst_for_block(words)
    if inst is not None:
        inst.unicast_configured = True
        b.each_value(words, lambda vec: _peer(b, inst, vec))


def _peer(b: Builder, inst: Inst, vec: list[str]) -> None:
    addr = parse_ip(vec[0])
    if addr is None:
        b.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] "
                 f"malformed unicast peer address[{vec[0]}]. Skipping...")
        return
    if not inst.family:
        inst.family = addr.version
    elif addr.version != inst.family:
        b.report(GENERAL_ERROR, f"Configuration error: VRRP instance[{inst.name}] and "
                 f"unicast peer address[{vec[0]}] MUST be of the same family !!! "
                 "Skipping...")
        return
    min_ttl, max_ttl = 0, 255
    # keepalived 2.3+ names the peer in these complaints
    who = f"({inst.name}) {vec[0]} -" if b.env.at_least("2.3") else f"({inst.name})"
    for i in range(1, len(vec), 2):
        if i + 1 >= len(vec):
            b.report(GENERAL_ERROR, f"{who} {vec[i]} is missing a value")
            break
        ok, ttl, msg = read_unsigned(vec[i + 1], 0, 255)
        if not ok:
            b.report_number(msg)
            continue
        if vec[i] == "min_ttl":
            min_ttl = ttl
        elif vec[i] == "max_ttl":
            max_ttl = ttl
        else:
            b.report(GENERAL_ERROR, f"{who} unknown unicast_peer option {vec[i]}")
            break
    if min_ttl > max_ttl:
        b.report(GENERAL_ERROR, f"{who} min_ttl {min_ttl} > max_ttl {max_ttl} - "
                 "all packets will be discarded")
    inst.cfg.unicast_peer.append(addr)


def virtual_ipaddress(b: Builder, words: list[str]) -> None:
    """virtual_ipaddress and virtual_ipaddress_excluded."""
    inst = b.inst_for_block(words)
    if inst is not None:
        excluded = words[0] == "virtual_ipaddress_excluded"
        b.each_value(words, lambda vec: _vip(b, inst, vec, excluded))


def _vip(b: Builder, inst: Inst, vec: list[str], excluded: bool) -> None:
    vip = _ipaddress(b, vec)
    if vip is None:
        return
    if excluded:
        inst.evips.append(vip)
        return
    family = vip.address.version
    if not inst.family:
        inst.family = family
    elif family != inst.family:
        b.report(GENERAL_ERROR, f"({inst.name}): address family must match VRRP "
                 f"instance [{vec[0]}] - ignoring")
        return
    inst.vips.append(vip)


def _ipaddress(b: Builder, vec: list[str]) -> VirtualAddress | None:
    """alloc_ipaddress(): `ADDR[/len] [dev X] [brd B] [scope S] [label L] ...`."""
    address, msgs = _vip_address(vec[0])
    for level, msg in msgs:
        b.report(level, msg)
    if address is None:
        return None
    return _ipaddress_options(b, address, vec)


def _ipaddress_options(b: Builder, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
                       vec: list[str]) -> VirtualAddress | None:
    opts: dict[str, str] = {}
    brd_sign = ""
    i = 1
    while i < len(vec):
        key = vec[i]
        if key in ("dev", "scope", "broadcast", "brd", "label", "peer", "preferred_lft"):
            if i + 1 >= len(vec):
                b.report(GENERAL_ERROR, f"No {key} parameter specified for {vec[0]}")
                return None
            value = vec[i + 1]
            i += 1
            if not _ip_option(b, address, vec[0], key, value, opts):
                return None
            if key in ("broadcast", "brd") and value in ("+", "-"):
                brd_sign = value
        elif key not in ("home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin",
                         "no_track", "use_vmac"):
            b.report(GENERAL_ERROR, f"Unknown configuration entry '{key}' for ip address"
                     " - ignoring")
        i += 1
    brd = _broadcast(b, address, opts.get("brd"), brd_sign)
    if address.version == 6:
        if opts.get("scope") not in (None, "global", "0"):
            b.report(GENERAL_ERROR, f"Cannot specify scope for IPv6 addresses ({vec[0]})"
                     " - ignoring scope")
        opts.pop("scope", None)
        if "label" in opts:
            b.report(GENERAL_ERROR, f"Cannot specify label for IPv6 addresses ({vec[0]})"
                     " - ignoring label")
            opts.pop("label")
    return VirtualAddress(address, opts.get("dev"), opts.get("label"), brd,
                          opts.get("scope"))


def _ip_option(b: Builder, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
               shown: str, key: str, value: str, opts: dict[str, str]) -> bool:
    """One `key value` pair of a VIP line; False drops the address."""
    if key == "dev":
        if "dev" in opts:
            b.report(GENERAL_ERROR, f"Cannot specify ipaddress device more than once "
                     f"for {shown}")
            return False
        usable, _ = b.interface(value)
        if not usable:
            b.report(GENERAL_ERROR, f"WARNING - interface {value} for ip address {shown}"
                     " doesn't exist")
            return False
        opts["dev"] = value
    elif key == "scope":
        if value in ("global", "nowhere", "host", "link", "site") or (
                value.isdigit() and int(value) < 256):
            opts["scope"] = value
        else:
            b.report(GENERAL_ERROR, f"Invalid scope '{value}' specified for {shown} - "
                     "ignoring")
    elif key in ("broadcast", "brd"):
        if address.version == 6:
            b.report(GENERAL_ERROR, f"VRRP is trying to assign a broadcast {key} to the "
                     f"IPv6 address {shown} !!?? WTF... skipping VIP...")
            return False
        if value not in ("+", "-") and not is_ipv4(value):
            b.report(GENERAL_ERROR, f"VRRP is trying to assign invalid broadcast {value}."
                     " skipping VIP...")
            return False
        opts["brd"] = value
    elif key == "label":
        if not ifname_fits(value):
            b.report(GENERAL_ERROR, f"Address label {value} is longer than maximum "
                     f"length {IFNAMSIZ - 1} - removing address")
            return False
        opts["label"] = value
    elif key == "preferred_lft" and value != "forever":
        ok, _, msg = read_unsigned(value, 0, UINT_MAX)
        if not ok:
            b.report_number(msg)
            b.report(GENERAL_ERROR, f"preferred_lft {value} is invalid")
    return True


def _broadcast(b: Builder, address: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
               brd: str | None, sign: str) -> IPAddress | None:
    if brd is None:
        return None
    if not sign:
        return parse_ip(brd)
    if address.network.prefixlen > 30:
        b.report(GENERAL_ERROR, f"Address prefix length {address.network.prefixlen} too"
                 " long for broadcast")
        return None
    net = address.network
    return net.broadcast_address if sign == "+" else net.network_address


def _mcast_ok(addr: IPAddress) -> bool:
    """IN_MULTICAST for IPv4, IN6_IS_ADDR_MC_LINKLOCAL for IPv6."""
    if addr.version == 4:
        return addr.is_multicast
    packed = addr.packed
    return packed[0] == 0xFF and (packed[1] & 0x0F) == 2


def _vip_address(
    text: str,
) -> tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface | None, list[tuple[str, str]]]:
    """parse_ipaddress(): the address and prefix of a VIP, with keepalived's complaints."""
    msgs: list[tuple[str, str]] = []
    version = 6 if ":" in text else 4
    prefix = 128 if version == 6 else 32
    addr_text = text
    slash = text.find("/")
    if slash >= 0:
        addr_text = text[:slash]
        ok, value, msg = read_unsigned(text[slash + 1 :], 0, prefix)
        if ok:
            prefix = value
        else:
            if msg:
                msgs.append((INVALID_NUMBER, msg))
            msgs.append((GENERAL_ERROR, f"Invalid address prefix len {text[slash + 1:]} for "
                         f"address {text} - using {prefix}"))
    try:
        if "%" in addr_text:
            raise ValueError(addr_text)
        addr = ipaddress.ip_address(addr_text)
        if addr.version != version:
            raise ValueError(addr_text)
    except ValueError:
        msgs.append((GENERAL_ERROR, f"VRRP parsed invalid IP {text}. skipping IP..."))
        return None, msgs
    return ipaddress.ip_interface(f"{addr}/{prefix}"), msgs
