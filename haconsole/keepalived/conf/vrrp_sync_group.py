"""vrrp_sync_group: instances that change state together."""

from __future__ import annotations

from haconsole.config import TrackRef, VrrpSyncGroup
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.state import Group, Track
from haconsole.keepalived.conf.stream import Handler
from haconsole.keepalived.conf.tracking import add_file, add_interface, add_process, add_script


def begin(b: Builder, words: list[str]) -> None:
    if len(words) != 2:
        b.report(GENERAL_ERROR, "vrrp_sync_group must have a name - skipping")
        b.s.skip_block()
        return
    if any(g.cfg.name == words[1] for g in b.groups):
        b.report(GENERAL_ERROR, f"vrrp sync group {words[1]} already defined")
        b.s.skip_block()
        return
    line = b.here
    b.groups.append(Group(VrrpSyncGroup(words[1], line=line.number), file=line.file))


def members(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is None:
        b.ignore_block(words)
        return
    if group.members is not None:
        b.report(GENERAL_ERROR, f"Group list already specified for sync group "
                 f"{group.cfg.name}")
        b.s.skip_block()
        return
    members = b.read_value_block(words)
    group.members = members or None
    if not members:
        b.report(GENERAL_ERROR, f"Warning - sync group {group.cfg.name} has empty group "
                 "block", "warning")


def track(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is None:
        b.ignore_block(words)
        return
    name = group.cfg.name
    kind = words[0]
    sink: list[Track] = []
    if kind == "track_interface":
        b.each_value(words, lambda vec: add_interface(b, name, sink, vec))
    elif kind == "track_script":
        b.each_value(words, lambda vec: add_script(b, name, sink, vec))
    elif kind == "track_file":
        b.each_value(words, lambda vec: add_file(b, name, sink, vec))
    elif kind == "track_process":
        b.each_value(words, lambda vec: add_process(b, name, sink, vec))
    else:
        b.ignore_block(words)
    refs = getattr(group.cfg, kind, None)
    if isinstance(refs, list):
        refs.extend(TrackRef(t.name, t.weight if t.explicit else None, t.reverse)
                    for t in sink)


def notify(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is None:
        return
    b.set_notify(group.cfg.name, group.notify, words, f"vrrp group {group.cfg.name}:")


def smtp_alert(b: Builder, words: list[str]) -> None:
    b.bool_word(words, "Invalid vrrp_group smtp_alert parameter {}")


def global_tracking(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is None:
        return
    b.report(GENERAL_ERROR, f"({group.cfg.name}) global_tracking is deprecated. Use "
             "track_interface/script/file on the sync group", "warning")
    group.tracking_weight = True


def tracking_weight(b: Builder, words: list[str]) -> None:
    if b.group:
        b.group.tracking_weight = True


def notify_priority_changes(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is not None:
        b.bool_word(words, f"({group.cfg.name}) Invalid value '{{}}' for sync group "
                    "notify_priority_changes specified")


KEYWORDS: dict[str, Handler] = {
    "group": members,
    "track_interface": track,
    "track_script": track,
    "track_file": track,
    "track_process": track,
    "track_bfd": track,
    "notify_backup": notify,
    "notify_master": notify,
    "notify_fault": notify,
    "notify_stop": notify,
    "notify": notify,
    "smtp_alert": smtp_alert,
    "global_tracking": global_tracking,
    "sync_group_tracking_weight": tracking_weight,
    "notify_priority_changes": notify_priority_changes,
}
