"""vrrp_sync_group: instances that change state together."""

from __future__ import annotations

from haconsole.config import VrrpSyncGroup
from haconsole.keepalived.conf import tracking
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.state import Group, Track
from haconsole.keepalived.conf.stream import Handler


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


def end(b: Builder) -> None:
    """keepalived 2.3+ drops a group without a `group` block as soon as it is read."""
    group = b.group
    if group is None or group.members is not None or not b.env.at_least("2.3"):
        return
    b.report(GENERAL_ERROR, f"Sync group {group.cfg.name} has no members - removing")
    b.groups.pop()


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
    """A track_* block of a sync group: its references go straight into the model."""
    group = b.group
    if group is None:
        b.ignore_block(words)
        return
    tracks: list[Track] = []
    b.each_value(words, lambda vec: tracking.add(b, words[0], group.cfg.name, tracks, vec))
    getattr(group.cfg, words[0]).extend(tracking.refs(tracks))


def notify(b: Builder, words: list[str]) -> None:
    group = b.group
    if group is None:
        return
    b.set_notify(group.cfg.name, group.notify, words, f"vrrp group {group.cfg.name}:")


def smtp_alert(b: Builder, words: list[str]) -> None:
    b.bool_word(words, "Invalid vrrp_group smtp_alert parameter {}")


def tracking_weight(b: Builder, words: list[str]) -> None:
    if b.group:
        b.group.tracking_weight = True


def global_tracking(b: Builder, words: list[str]) -> None:
    """The deprecated spelling of sync_group_tracking_weight."""
    if b.group:
        b.report(GENERAL_ERROR, f"({b.group.cfg.name}) global_tracking is deprecated. Use "
                 "track_interface/script/file on the sync group", "warning")
        tracking_weight(b, words)


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
    "track_bfd": Builder.ignore_block,
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
