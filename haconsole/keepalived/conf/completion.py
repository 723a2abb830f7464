"""vrrp_complete_init(): keepalived's checks once the whole config is read.

These verdicts carry no line number (keepalived prints none) and stop at the first
instance keepalived cannot run.
"""

from __future__ import annotations

from collections.abc import Callable

from haconsole.config import IPAddress
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.environment import (
    SC_EXECUTABLE,
    SC_INHIBIT,
    SC_INSECURE,
    SC_ISSCRIPT,
    SC_NOTFOUND,
    SC_SYSTEM,
    script_flags,
)
from haconsole.keepalived.conf.findings import (
    DEFAULT_SEVERITY,
    DEPRECATED,
    GENERAL_ERROR,
    SECURITY_ERROR,
    WARNING,
    Finding,
    Severity,
)
from haconsole.keepalived.conf.limits import TIMER_HZ, VRRP_PRIO_DFL, VRRP_PRIO_OWNER
from haconsole.keepalived.conf.state import Group, Inst, Script

# VRRP version -> the advert interval's unit (in microseconds), how many units fit in the
# packet's field, and keepalived's words when the interval is too long or not whole units.
_ADVERT_UNITS = {
    2: (TIMER_HZ, 256, "Must be less than 256s. Setting to 255s", "must be an integer. rounding"),
    3: (TIMER_HZ // 100, 4096, "Must be less than 40.96s. Setting to 40.95s",
        "must be in units of 10ms - rounding"),
}


class Completion:
    """vrrp_complete_init() in config-test mode: defaults, consistency, first failure stops."""

    def __init__(self, b: Builder, sink: Callable[[Finding], None], root_file: str) -> None:
        self.b = b
        self.g = b.g
        self.sink = sink
        self.root_file = root_file
        self.stopped = False

    def say(self, level: str, message: str, where: Inst | Group | Script | None = None,
            severity: Severity | None = None) -> None:
        if self.stopped:
            return
        if isinstance(where, (Inst, Group, Script)):
            file, line = where.file, where.cfg.line
        else:
            file, line = self.root_file, 0
        sev = severity or DEFAULT_SEVERITY.get(level, "error")
        self.sink(Finding(file, line, sev, message, "keepalived", level, ka_line=False))

    def stop(self) -> None:
        self.stopped = True

    def run(self) -> None:
        b = self.b
        if b.instances:
            self.security()
        for inst in b.instances:
            if not self.min_cfg(inst):
                self.stop()
                break
        self.sync_groups()
        for inst in b.instances:
            if not self.instance(inst):
                self.stop()
        self.vrid_conflicts()

    # -- scripts --------------------------------------------------------------------------
    def security(self) -> None:
        env, secure = self.b.env, self.g.defs.enable_script_security
        flags = 0
        insecure: set[str] = set()
        for script in self.b.scripts:
            f = script_flags(script.args, env, secure)
            flags |= f
            name = script.cfg.name
            if f & SC_INHIBIT:
                self.say(GENERAL_ERROR, f"Disabling track script {name} due to insecure",
                         script)
                insecure.add(name)
            elif f & SC_NOTFOUND:
                self.say(GENERAL_ERROR, f"Disabling track script {name} since not "
                         "found/accessible", script)
                insecure.add(name)
            elif not f & (SC_EXECUTABLE | SC_SYSTEM):
                insecure.add(name)
        holders: list[dict[str, list[str]]] = [i.notify for i in self.b.instances]
        holders += [g.notify for g in self.b.groups]
        for notify in holders:
            for key, args in list(notify.items()):
                f = script_flags(args, env, secure)
                flags |= f
                if f & (SC_INHIBIT | SC_NOTFOUND) or not f & SC_EXECUTABLE:
                    del notify[key]
        for inst in self.b.instances:
            inst.track_script = [t for t in inst.track_script if t.name not in insecure]
        self.b.scripts = [s for s in self.b.scripts if s.cfg.name not in insecure]
        if not secure and flags & SC_ISSCRIPT:
            extra = " There are insecure scripts." if flags & SC_INSECURE else ""
            first = self.b.scripts[0] if self.b.scripts else self.b.instances[0]
            self.say(SECURITY_ERROR, "SECURITY VIOLATION - scripts are being executed but "
                     f"script_security not enabled.{extra}", first)

    # -- instances ------------------------------------------------------------------------
    def min_cfg(self, inst: Inst) -> bool:
        if inst.cfg.virtual_router_id == 0:
            self.say(GENERAL_ERROR, f"({inst.name}) the virtual router id must be set", inst)
            return False
        if inst.ifp is None:
            self.say(GENERAL_ERROR, f"({inst.name}) Unknown interface!", inst)
            return False
        return True

    def sync_groups(self) -> None:
        for group in self.b.groups:
            if group.members is None:
                self.say(GENERAL_ERROR, f"Sync group {group.cfg.name} has no virtual router(s)."
                         " removing", group)
                continue
            self.set_group(group)

    def set_group(self, group: Group) -> None:
        name = group.cfg.name
        state = "INIT"
        members: list[str] = []
        for member in group.members or []:
            inst = next((i for i in self.b.instances if i.name == member), None)
            if inst is None:
                self.say(GENERAL_ERROR, f"Virtual router {member} specified in sync group "
                         f"{name} doesn't exist - ignoring", group)
                continue
            if inst.sync is not None:
                self.say(GENERAL_ERROR, f"Virtual router {member} cannot exist in more than one"
                         f" sync group; ignoring {name}", group)
                continue
            inst.sync = name
            inst.sync_tracking_weight = group.tracking_weight
            members.append(member)
            if state == "MASTER" and inst.wantstate == "BACKUP":
                self.say(GENERAL_ERROR, f"Sync group {name} has some member(s) as address owner"
                         " and some not as address owner. This won't work.", group)
            if state != "BACKUP":
                owner = inst.wantstate == "MASTER" and inst.base_priority == VRRP_PRIO_OWNER
                state = "MASTER" if owner else "BACKUP"
        group.cfg.group = members
        if not members:
            self.say(GENERAL_ERROR, f"Sync group {name}, no matching virtual router found in "
                     "group declaration - removing", group)
        elif len(members) == 1:
            self.say(GENERAL_ERROR, f"Sync group {name} has only 1 virtual router(s) - this "
                     "probably isn't what you want", group, "warning")

    def instance(self, inst: Inst) -> bool:
        """vrrp_complete_instance(): False when keepalived gives up on the config."""
        strict = self.g.defs.vrrp_strict if inst.strict_mode is None else inst.strict_mode
        inst.strict_mode = strict
        self.family_and_version(inst, strict)
        newer = self.b.env.at_least("2.3")
        if not newer and not inst.vips and (inst.version == 3 or strict):
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is "
                     "required", inst)
            return False
        if not newer and not inst.vips:
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is sensible",
                     inst, "warning")
        self.priority_and_state(inst, strict)
        self.authentication(inst, strict)
        self.auth_hmac(inst, strict)
        self.unicast(inst)
        self.vip_count(inst)
        self.preemption(inst, strict)
        self.accept_and_strict(inst, strict)
        self.owner_ignore_adverts(inst, strict)
        self.advert_interval(inst)
        self.own_interface(inst)
        self.vmac(inst)
        if newer:
            if not self.vips_23(inst, strict):
                return False
        elif not inst.vips and (inst.version == 3 or inst.family == 6 or strict):
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is "
                     "required", inst)
            return False
        self.tracking_weights(inst)
        return True

    def vips_23(self, inst: Inst, strict: bool) -> bool:
        """keepalived 2.3+: no VIP is fine with no_virtual_ipaddress (not in strict mode),
        and only VRRPv3 or strict mode require one (IPv6 VRRPv2 no longer does)."""
        if inst.allow_no_vips and strict:
            self.say(WARNING, f"({inst.name}) no_virtual_ipaddress and strict mode "
                     "incompatible, clearing no_virtual_ipaddress", inst)
            inst.allow_no_vips = False
        if inst.allow_no_vips or inst.vips:
            return True
        if inst.version == 3 or strict:
            self.say(GENERAL_ERROR, f"({inst.name}) No VIP specified; at least one is "
                     "required", inst)
            return False
        self.say(WARNING, f"({inst.name}) No VIP specified; at least one is sensible", inst)
        return True

    def auth_hmac(self, inst: Inst, strict: bool) -> None:
        """keepalived 2.4: the HMAC trailer replaces PASS/AH and needs its active key."""
        hmac = inst.auth_hmac
        if hmac is None:
            return
        if inst.auth_type is not None:
            self.say(GENERAL_ERROR, f"({inst.name}) auth_hmac cannot be combined with "
                     "authentication, dropping legacy auth", inst)
            inst.auth_type = None
        if hmac.active_key not in hmac.keys:
            self.say(GENERAL_ERROR, f"({inst.name}) auth_hmac active_key {hmac.active_key} is "
                     "not defined, disabling extension", inst)
            inst.auth_hmac = None
        elif strict and hmac.mode != "enforce":
            self.say(GENERAL_ERROR, f"({inst.name}) strict mode requires auth_hmac mode "
                     "enforce", inst)
            hmac.mode = "enforce"
        inst.cfg.auth_hmac = inst.auth_hmac is not None

    def owner_ignore_adverts(self, inst: Inst, strict: bool) -> None:
        """keepalived 2.3+: only the address owner may ignore adverts."""
        if not self.b.env.at_least("2.3"):
            return
        owner = inst.base_priority == VRRP_PRIO_OWNER
        if inst.owner_ignore_adverts is True and not owner:
            self.say(GENERAL_ERROR, f"({inst.name}) ignoring owner_ignore_adverts since "
                     f"priority is not {VRRP_PRIO_OWNER}", inst)
            inst.owner_ignore_adverts = False
        elif inst.owner_ignore_adverts is None:
            inst.owner_ignore_adverts = owner and (strict or self.g.owner_ignore_adverts)
        elif owner and not inst.owner_ignore_adverts:
            # keepalived says this whenever the owner has `owner_ignore_adverts no`
            self.say(GENERAL_ERROR, f"({inst.name}) strict_mode with priority "
                     f"{VRRP_PRIO_OWNER} requires owner_ignore_adverts", inst)
            inst.owner_ignore_adverts = True

    def family_and_version(self, inst: Inst, strict: bool) -> None:
        if inst.family == 6:
            if inst.version == 2 and strict:
                self.say(GENERAL_ERROR, f"({inst.name}) cannot use IPv6 with VRRP version 2; "
                         "setting version 3", inst)
                inst.version = 3
            elif not inst.version:
                inst.version = 3
        if not inst.family:
            inst.family = 4
        if not inst.version:
            inst.version = 3 if inst.family == 6 else self.g.defs.vrrp_version

    def priority_and_state(self, inst: Inst, strict: bool) -> None:
        if inst.base_priority == 0:
            inst.base_priority = VRRP_PRIO_OWNER if inst.wantstate == "MASTER" else VRRP_PRIO_DFL
        owner = inst.base_priority == VRRP_PRIO_OWNER
        if inst.wantstate == "INIT":
            inst.wantstate = "MASTER" if owner else "BACKUP"
        elif strict and (inst.wantstate == "MASTER") != owner:
            self.say(GENERAL_ERROR, f"({inst.name}) State MASTER must match being address "
                     "owner", inst)
            inst.wantstate = "MASTER" if owner else "BACKUP"

    def authentication(self, inst: Inst, strict: bool) -> None:
        if inst.auth_type is None:
            return
        name = inst.name
        if strict:
            self.say(GENERAL_ERROR, f"({name}) Strict mode does not support authentication. "
                     "Ignoring.", inst)
            inst.auth_type = None
        elif inst.version == 3:
            self.say(GENERAL_ERROR, f"({name}) VRRP version 3 does not support authentication."
                     " Ignoring.", inst)
            inst.auth_type = None
        elif not inst.auth_data:
            self.say(GENERAL_ERROR, f"({name}) Authentication specified but no password given."
                     " Ignoring", inst)
            inst.auth_type = None
        elif inst.family == 6 and inst.auth_type == "AH":
            self.say(GENERAL_ERROR, f"({name}) Cannot use AH authentication with IPv6. "
                     "ignoring", inst)
            inst.auth_type = None
        elif (inst.auth_type == "AH" and inst.wantstate == "MASTER"
              and inst.base_priority != VRRP_PRIO_OWNER):
            self.say(GENERAL_ERROR, f"({name}) Initial state master is incompatible with AH "
                     "authentication - clearing", inst)
            inst.wantstate = "BACKUP"

    def unicast(self, inst: Inst) -> None:
        if inst.unicast_configured and not inst.cfg.unicast_peer and not inst.fault_no_peer:
            self.say(DEPRECATED, f"({inst.name}) A unicast keyword has been specified without "
                     "any unicast peers. Defaulting to multicast. This usage is deprecated - "
                     "please update your configuration.", inst)
        if inst.cfg.unicast_peer and inst.mcast_dst is not None:
            self.say(GENERAL_ERROR, f"({inst.name}) multicast destination specified with "
                     "unicast - ignoring", inst)
            inst.mcast_dst = None

    def vip_count(self, inst: Inst) -> None:
        if inst.family == 4:
            header = 14 + 20 + 8 + (8 + (24 if inst.auth_type == "AH" else 0)
                                    if inst.version == 2 else 0)
            most = (1500 - header) // 4
        else:
            most = (1500 - (14 + 40 + 8)) // 16
        most = min(most, 255)
        if inst.vips and len(inst.vips) > most:
            self.say(GENERAL_ERROR, f"({inst.name}) Number of VIPs ({len(inst.vips)}) exceeds "
                     f"maximum/space available in packet (max {most} addresses) - excess "
                     "moved to eVIPs", inst)
            inst.evips = inst.vips[most:] + inst.evips
            inst.vips = inst.vips[:most]

    def preemption(self, inst: Inst, strict: bool) -> None:
        name = inst.name
        if inst.base_priority == VRRP_PRIO_OWNER and inst.nopreempt:
            self.say(GENERAL_ERROR, f"({name}) nopreempt is incompatible with priority "
                     f"{VRRP_PRIO_OWNER}. resetting nopreempt", inst, "warning")
            inst.nopreempt = False
        if inst.wantstate == "MASTER":
            if inst.nopreempt:
                self.say(GENERAL_ERROR, f"({name}) Warning - nopreempt will not work with "
                         "initial state MASTER - clearing", inst, "warning")
                inst.nopreempt = False
            if inst.preempt_delay_us:
                self.say(GENERAL_ERROR, f"({name}) Warning - preempt delay will not work with "
                         "initial state MASTER - clearing", inst, "warning")
                inst.preempt_delay_us = 0
        if inst.preempt_delay_us:
            if strict:
                self.say(GENERAL_ERROR, f"({name}) preempt_delay is incompatible with strict "
                         "mode - resetting", inst, "warning")
                inst.preempt_delay_us = 0
            if inst.nopreempt:
                self.say(GENERAL_ERROR, f"({name}) preempt_delay is incompatible with "
                         "nopreempt mode - resetting", inst, "warning")
                inst.preempt_delay_us = 0
        if inst.down_timer_adverts != 3 and strict:
            self.say(GENERAL_ERROR, f"({name}) down_timer_adverts is incompatible with strict "
                     "mode - resetting", inst, "warning")
            inst.down_timer_adverts = 3
        if inst.highest_other_priority and not inst.nopreempt:
            self.say(GENERAL_ERROR, f"({name}) expired_timer_backup requires nopreempt - "
                     "resetting", inst, "warning")
            inst.highest_other_priority = 0

    def accept_and_strict(self, inst: Inst, strict: bool) -> None:
        name = inst.name
        owner = inst.base_priority == VRRP_PRIO_OWNER
        if inst.accept is None:
            inst.accept = True if owner else not strict
        # the warning is only compiled in with a firewall (nftables or iptables)
        if (inst.accept and not owner and strict and inst.version == 2
                and self.b.env.has("FIREWALL")):
            self.say(GENERAL_ERROR, f"({name}) warning - accept mode for VRRP version 2 does "
                     "not comply with RFC3768 - resetting", inst, "warning")
            inst.accept = False
        if inst.garp_lower_prio_rep is None:
            inst.garp_lower_prio_rep = 0 if strict else self.garp_lower_prio_rep()
        elif strict and inst.garp_lower_prio_rep:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no repeat garps. resetting",
                     inst, "warning")
            inst.garp_lower_prio_rep = 0
        if inst.garp_lower_prio_delay is None:
            inst.garp_lower_prio_delay = 0.0 if strict else self.garp_lower_prio_delay()
        elif strict and inst.garp_lower_prio_delay:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no repeat garp delay. "
                     "resetting", inst, "warning")
            inst.garp_lower_prio_delay = 0.0
        if inst.lower_prio_no_advert is None:
            inst.lower_prio_no_advert = True if strict else self.g.lower_prio_no_advert
        elif strict and not inst.lower_prio_no_advert:
            self.say(GENERAL_ERROR, f"({name}) Strict mode requires no lower priority advert. "
                     "resetting", inst, "warning")
            inst.lower_prio_no_advert = True
        if inst.higher_prio_send_advert is None:
            inst.higher_prio_send_advert = False if strict else self.g.higher_prio_send_advert
        elif strict and inst.higher_prio_send_advert:
            self.say(GENERAL_ERROR, f"({name}) strict mode requires higher_prio_send_advert to "
                     "be clear. resetting", inst, "warning")
            inst.higher_prio_send_advert = False

    def garp_lower_prio_rep(self) -> int:
        rep = self.g.garp_lower_prio_rep
        return self.g.defs.vrrp_garp_master_repeat if rep is None else rep

    def garp_lower_prio_delay(self) -> float:
        delay = self.g.garp_lower_prio_delay
        return self.g.defs.vrrp_garp_master_delay if delay is None else delay

    def advert_interval(self, inst: Inst) -> None:
        """VRRPv2 counts the interval in seconds, VRRPv3 in centiseconds (_ADVERT_UNITS)."""
        if not inst.adver_int_us:
            inst.adver_int_us = TIMER_HZ
        value = inst.adver_int_us
        version = 2 if inst.version == 2 else 3
        unit, most, out_of_range, rounding = _ADVERT_UNITS[version]
        shown = f"({inst.name}) VRRPv{version} advertisement interval"
        if value >= most * unit:
            self.say(GENERAL_ERROR, f"{shown} {value / TIMER_HZ:.2f}s is out of range. "
                     f"{out_of_range}", inst)
            inst.adver_int_us = (most - 1) * unit
        elif value % unit:
            self.say(GENERAL_ERROR, f"{shown} {value / TIMER_HZ:f}s {rounding}", inst, "warning")
            value += unit // 2
            inst.adver_int_us = max(value - value % unit, unit)

    def vmac(self, inst: Inst) -> None:
        name = inst.name
        if inst.ipvlan and inst.family == 4 and not inst.ipvlan_family:
            self.say(GENERAL_ERROR, f"({name}) IPv4 ipvlan requires a source ip address to be "
                     "configured. setting instance to fault state", inst)
        elif inst.ipvlan and inst.ipvlan_family and inst.ipvlan_family != inst.family:
            self.say(GENERAL_ERROR, f"({name}) IPv4 ipvlan address family does not match "
                     "instance. setting instance to fault state", inst)
        if inst.vmac_xmit_base and not inst.vmac:
            self.say(GENERAL_ERROR, f"({name}) vmac_xmit_base is only valid with a vmac", inst)

    def own_interface(self, inst: Inst) -> None:
        kept = []
        for track in inst.track_interface:
            if track.name == inst.ifp:
                self.say(GENERAL_ERROR, f"({inst.name}) Ignoring track_interface {track.name} "
                         "since own interface", inst, "warning")
            else:
                kept.append(track)
        inst.track_interface = kept

    def tracking_weights(self, inst: Inst) -> None:
        """Weights are ignored in a sync group (unless sync_group_tracking_weight) and for
        the address owner."""
        in_group = inst.sync is not None and not inst.sync_tracking_weight
        if not in_group and inst.base_priority != VRRP_PRIO_OWNER:
            return
        reason = "SYNC group" if in_group else "address owner"
        reason_ = "SYNC group" if in_group else "address_owner"
        name = inst.name
        for track in inst.track_interface:
            if track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring {track.name} tracked interface "
                         f"{'weight ' if in_group else ''}due to {reason}", inst, "warning")
                track.weight = 0 if in_group else track.weight
        if not in_group:
            inst.track_interface = [t for t in inst.track_interface if not t.weight]
        for track in list(inst.track_script):
            if track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring tracked script {track.name} with "
                         f"weights due to {reason_}", inst, "warning")
                inst.track_script.remove(track)
        for track in list(inst.track_file):
            if track.weight == 1:
                self.say(GENERAL_ERROR, f"({name}) ignoring weight from tracked file "
                         f"{track.name} due to {reason_}. specify weight 0", inst, "warning")
                track.weight = 0
            elif track.weight:
                self.say(GENERAL_ERROR, f"({name}) ignoring tracked file {track.name} with "
                         f"weight {track.weight} due to {reason_}", inst, "warning")
                inst.track_file.remove(track)

    # -- VRID conflicts ------------------------------------------------------------------------
    def vrid_conflicts(self) -> None:
        same: dict[tuple[int, int], list[Inst]] = {}
        for inst in self.b.instances:
            if inst.cfg.virtual_router_id:
                same.setdefault((inst.family, inst.cfg.virtual_router_id), []).append(inst)
        for insts in same.values():
            self.vrid_clash(insts)

    def vrid_clash(self, insts: list[Inst]) -> None:
        for n, a in enumerate(insts):
            for b in insts[n + 1 :]:
                if bool(a.cfg.unicast_peer) != bool(b.cfg.unicast_peer):
                    continue
                if a.cfg.unicast_peer:
                    self.unicast_conflict(a, b)
                    continue
                if a.ifp != b.ifp or self.mcast(a) != self.mcast(b) or not a.ifp_exists:
                    continue
                self.say(GENERAL_ERROR, f"{a.name} and {b.name} both use VRID "
                         f"{a.cfg.virtual_router_id} with IPv{a.family} on interface {a.ifp}", a)

    def unicast_conflict(self, a: Inst, b: Inst) -> None:
        if a.ifp and b.ifp and a.ifp != b.ifp:
            return
        src_a, src_b = a.cfg.unicast_src_ip or a.cfg.mcast_src_ip, (
            b.cfg.unicast_src_ip or b.cfg.mcast_src_ip)
        if src_a is None or src_b is None or src_a != src_b:
            return
        if set(a.cfg.unicast_peer) & set(b.cfg.unicast_peer):
            self.say(GENERAL_ERROR, f"({a.name}) duplicate VRID conflict with {b.name} VRID "
                     f"{a.cfg.virtual_router_id}", a)

    def mcast(self, inst: Inst) -> IPAddress:
        if inst.mcast_dst is not None:
            return inst.mcast_dst
        return self.g.mcast4 if inst.family == 4 else self.g.mcast6
