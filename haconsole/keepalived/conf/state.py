"""What one pass builds: the model objects next to keepalived's internal flags.

keepalived keeps more per instance than haconsole's model (deduced family, wanted state,
whether the interface exists...); the completion checks need them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from haconsole.config import (
    GlobalDefs,
    IPAddress,
    VirtualAddress,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
)

MCAST4 = ipaddress.IPv4Address("224.0.0.18")
MCAST6 = ipaddress.IPv6Address("ff02::12")


@dataclass
class Globals:
    """global_defs as the vrrp process inherits it from the parent's reading."""

    defs: GlobalDefs = field(default_factory=GlobalDefs)
    dynamic_interfaces: bool = False
    nftables: bool = False
    mcast4: IPAddress = MCAST4
    mcast6: IPAddress = MCAST6
    garp_lower_prio_rep: int | None = None
    garp_lower_prio_delay: float | None = None
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3
    owner_ignore_adverts: bool = False  # 2.3+


@dataclass
class Script:
    cfg: VrrpScript
    args: list[str] = field(default_factory=list)
    user_set: bool = False
    remove: bool = False
    file: str = ""


@dataclass
class Track:
    name: str
    weight: int
    reverse: bool = False
    explicit: bool = False
    line: int = 0


@dataclass
class Inst:
    """A vrrp_instance while it is read: keepalived's internal flags next to the model."""

    cfg: VrrpInstance
    file: str
    # deduced or defaulted when keepalived completes the instance
    family: int = 0
    version: int = 0
    base_priority: int = 0
    wantstate: str = "INIT"
    strict_mode: bool | None = None
    accept: bool | None = None
    # where it speaks: interface, addresses, unicast
    ifp: str | None = None
    ifp_exists: bool = False
    vips: list[VirtualAddress] = field(default_factory=list)
    evips: list[VirtualAddress] = field(default_factory=list)
    mcast_dst: IPAddress | None = None
    saddr_from_config: bool = False
    unicast_configured: bool = False
    fault_no_peer: bool = False
    ttl: int = -1
    vmac: bool = False
    vmac_xmit_base: bool = False
    ipvlan: bool = False
    ipvlan_family: int = 0
    # timers and adverts
    adver_int_us: int = 0
    nopreempt: bool = False
    preempt_delay_us: int = 0
    down_timer_adverts: int = 3
    garp_lower_prio_rep: int | None = None
    garp_lower_prio_delay: float | None = None
    lower_prio_no_advert: bool | None = None
    higher_prio_send_advert: bool | None = None
    auth_type: str | None = None
    auth_data: str = ""
    auth_hmac: HmacAuth | None = None  # 2.4+
    # keepalived 2.3+
    allow_no_vips: bool = False
    owner_ignore_adverts: bool | None = None
    highest_other_priority: int = 0
    # scripts it runs, trackers it follows (named after their keywords), its sync group
    notify: dict[str, list[str]] = field(default_factory=dict)
    track_interface: list[Track] = field(default_factory=list)
    track_script: list[Track] = field(default_factory=list)
    track_file: list[Track] = field(default_factory=list)
    track_process: list[Track] = field(default_factory=list)
    sync: str | None = None
    sync_tracking_weight: bool = False

    @property
    def name(self) -> str:
        return self.cfg.name


@dataclass
class HmacAuth:
    """keepalived 2.4's auth_hmac block: key ids, the one used to sign, the mode."""

    keys: set[int] = field(default_factory=set)
    active_key: int = 0
    mode: str = "enforce"


@dataclass
class Group:
    cfg: VrrpSyncGroup
    members: list[str] | None = None
    tracking_weight: bool = False
    notify: dict[str, list[str]] = field(default_factory=dict)
    file: str = ""
