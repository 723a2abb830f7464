"""The configuration model every layer shares.

keepalived.conf files (haconsole.keepalived.conf) and lab definitions (haconsole.lab)
both produce these dataclasses; the engine and the what-if simulator consume them.
Field names follow keepalived's keywords so that a reader of keepalived.conf finds them.
Times are seconds (float); priorities and VRIDs are ints as on the wire.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

AuthType = Literal["PASS", "AH"]


class ConfigError(Exception):
    """A configuration problem a person can act on: names the file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Secret:
    """A secret string (auth_pass): never shown by repr/str unless asked via .reveal()."""

    value: str

    def reveal(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True)
class VirtualAddress:
    """One `virtual_ipaddress` entry: `192.0.2.170/24 dev eth0 label eth0:1`."""

    address: IPInterface
    dev: str | None = None
    label: str | None = None
    brd: IPAddress | None = None
    scope: str | None = None

    @property
    def ip(self) -> IPAddress:
        return self.address.ip

    def __str__(self) -> str:
        return str(self.address.ip)


@dataclass
class VrrpScript:
    """A `vrrp_script` block: a check run every `interval` seconds."""

    name: str
    script: str = ""
    interval: float = 1.0
    timeout: float | None = None
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    init_fail: bool = False
    line: int = 0


@dataclass
class TrackRef:
    """A reference from an instance to a tracked object, with an optional weight override."""

    name: str
    weight: int | None = None
    reverse: bool = False


@dataclass
class VrrpInstance:
    """A `vrrp_instance` block."""

    name: str
    interface: str = ""
    virtual_router_id: int = 0
    state: Literal["MASTER", "BACKUP"] = "BACKUP"
    priority: int = 100
    advert_int: float = 1.0
    version: int = 2
    nopreempt: bool = False
    preempt_delay: float = 0.0
    auth_type: AuthType | None = None
    auth_pass: Secret | None = None
    virtual_ipaddress: list[VirtualAddress] = field(default_factory=list)
    virtual_ipaddress_excluded: list[VirtualAddress] = field(default_factory=list)
    track_script: list[TrackRef] = field(default_factory=list)
    track_interface: list[TrackRef] = field(default_factory=list)
    track_file: list[TrackRef] = field(default_factory=list)
    track_process: list[TrackRef] = field(default_factory=list)
    mcast_src_ip: IPAddress | None = None
    unicast_src_ip: IPAddress | None = None
    unicast_peer: list[IPAddress] = field(default_factory=list)
    accept: bool | None = None
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0  # re-announce the VIPs this often while MASTER (0: never)
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_repeat: int = 5
    lower_prio_no_advert: bool = False
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify_stop: str | None = None
    notify: str | None = None
    smtp_alert: bool = False
    line: int = 0
    # Added for the keepalived.conf parser (keepalived's defaults):
    file: str = ""  # the file (root or included) that defines the instance
    strict_mode: bool = False
    mcast_dst_ip: IPAddress | None = None
    down_timer_adverts: int = 3
    use_vmac: bool = False
    dont_track_primary: bool = False
    sync_group: str | None = None  # the vrrp_sync_group this instance belongs to
    auth_hmac: bool = False  # keepalived 2.4's signed adverts (the agent cannot sign them)

    @property
    def family(self) -> int:
        """4 or 6: the address family of the VIPs (keepalived: the first VIP decides)."""
        for vip in self.virtual_ipaddress:
            return vip.address.version
        return 4

    @property
    def all_vips(self) -> list[VirtualAddress]:
        return [*self.virtual_ipaddress, *self.virtual_ipaddress_excluded]


@dataclass
class VrrpSyncGroup:
    name: str
    group: list[str] = field(default_factory=list)
    notify_master: str | None = None
    notify_backup: str | None = None
    notify_fault: str | None = None
    notify: str | None = None
    line: int = 0
    track_interface: list[TrackRef] = field(default_factory=list)
    track_script: list[TrackRef] = field(default_factory=list)
    track_file: list[TrackRef] = field(default_factory=list)
    track_process: list[TrackRef] = field(default_factory=list)


@dataclass
class TrackFile:
    name: str
    file: str = ""
    weight: int = 1
    init_file: int | None = None  # init_file VALUE: create the file with VALUE if missing
    init_overwrite: bool = False  # init_file ... overwrite: write VALUE even if it exists
    line: int = 0
    reverse: bool = False


@dataclass
class TrackProcess:
    name: str
    process: str = ""
    param_match: str | None = None
    weight: int = 0
    quorum: int = 1
    delay: float = 0.0
    line: int = 0
    reverse: bool = False
    quorum_max: int | None = None  # None: no maximum


@dataclass
class GlobalDefs:
    router_id: str | None = None
    script_user: str | None = None
    enable_script_security: bool = False
    vrrp_version: int = 2
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: float = 0.0  # 0: no periodic gratuitous ARPs while MASTER
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_strict: bool = False
    notification_email: list[str] = field(default_factory=list)
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_connect_timeout: int = 30
    # Where keepalived tells what it does: the SIGUSR1 dump (2.3+) and the notify FIFOs
    # (with the scripts keepalived starts to read them), as written in the file.
    state_dump_file: str | None = None
    json_version: int = 1
    notify_fifo: str | None = None
    notify_fifo_script: str | None = None
    vrrp_notify_fifo: str | None = None
    vrrp_notify_fifo_script: str | None = None
    vrrp_notify_priority_changes: bool = False


@dataclass
class Config:
    """A whole keepalived configuration (one node)."""

    source: str = "<memory>"
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    vrrp_scripts: dict[str, VrrpScript] = field(default_factory=dict)
    vrrp_instances: list[VrrpInstance] = field(default_factory=list)
    vrrp_sync_groups: list[VrrpSyncGroup] = field(default_factory=list)
    track_files: dict[str, TrackFile] = field(default_factory=dict)
    track_processes: dict[str, TrackProcess] = field(default_factory=dict)

    def instance(self, name: str) -> VrrpInstance:
        for inst in self.vrrp_instances:
            if inst.name == name:
                return inst
        raise KeyError(name)
