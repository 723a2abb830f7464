"""Trackers from a parsed `Config`: the one place that turns vrrp_script, track_process,
track_interface and track_file definitions into running trackers.

Why one place: the agent, the in-process lab and the tests must build the same tracker
for the same definition (same interval, timeout, rise/fall, quorum, init_file rules);
only *how a check is probed* differs, so that is the one thing a caller may swap
(`probe=`: the lab probes a simulated nginx instead of running `pidof nginx`).

Each tracker is keyed by its whole definition (kind, name, every setting but the line
number), so a reload keeps a running tracker whose definition did not change and
replaces one whose definition did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from haconsole.config import Config, TrackRef, VrrpInstance, VrrpScript
from haconsole.engine.files import FileTracker
from haconsole.engine.node import Tracker
from haconsole.engine.process import ProcessTracker
from haconsole.engine.scripts import script_probe
from haconsole.engine.trackers import CheckTracker, Probe

#: (script definition, user it runs as) -> the probe a CheckTracker runs.
ProbeFor = Callable[[VrrpScript, str | None], Probe]


def subprocess_probe(script: VrrpScript, user: str | None) -> Probe:
    """keepalived's probe: the script's command as a subprocess (ScriptError for an
    unknown user or an empty command, raised now rather than at the first run)."""
    return script_probe(script.script, user=user)


def with_primary_tracking(config: Config) -> Config:
    """keepalived tracks each instance's own interface (down -> FAULT) unless told not
    to; the core only knows explicit track_interface, so add the implicit one."""
    instances: list[VrrpInstance] = []
    for inst in config.vrrp_instances:
        names = {ref.name for ref in inst.track_interface}
        if inst.interface and inst.interface not in names:
            inst = dataclasses.replace(
                inst, track_interface=[*inst.track_interface, TrackRef(inst.interface)]
            )
        instances.append(inst)
    return dataclasses.replace(config, vrrp_instances=instances)


def _used(config: Config) -> dict[str, set[str]]:
    """The names of every tracked object some instance references, by kind."""
    used: dict[str, set[str]] = {"script": set(), "process": set(), "link": set(),
                                 "file": set()}
    for inst in config.vrrp_instances:
        used["script"].update(ref.name for ref in inst.track_script)
        used["process"].update(ref.name for ref in inst.track_process)
        used["link"].update(ref.name for ref in inst.track_interface)
        used["file"].update(ref.name for ref in inst.track_file)
    return used


def build_trackers(config: Config, *, reload: bool = False,
                   probe: ProbeFor = subprocess_probe) -> dict[str, Tracker]:
    """One tracker per tracked object the instances reference, keyed by its definition.

    On a reload, track_file's `init_file ... overwrite` does not rewrite the file
    (keepalived's rule). Raises ScriptError when a script cannot be run (unknown user).
    """
    from haconsole.engine.links import LinkTracker  # netlink: imported only when used

    used = _used(config)
    trackers: dict[str, Tracker] = {}
    default_user = config.global_defs.script_user
    for name in sorted(used["script"]):
        script = config.vrrp_scripts.get(name)
        if script is None or not script.script:
            continue
        run_as = script.user or default_user
        key = repr(("script", dataclasses.replace(script, line=0), run_as))
        trackers[key] = CheckTracker(
            name, probe(script, run_as), interval=script.interval, timeout=script.timeout,
            rise=script.rise, fall=script.fall, init_fail=script.init_fail,
        )
    for name in sorted(used["process"]):
        proc = config.track_processes.get(name)
        if proc is None:
            continue
        key = repr(("process", dataclasses.replace(proc, line=0)))
        trackers[key] = ProcessTracker(name, proc.process or name, quorum=proc.quorum,
                                       delay=proc.delay)
    for name in sorted(used["link"]):
        trackers[repr(("link", name))] = LinkTracker(name)
    for name in sorted(used["file"]):
        tfile = config.track_files.get(name)
        if tfile is None or not tfile.file:
            continue
        key = repr(("file", dataclasses.replace(tfile, line=0)))
        trackers[key] = FileTracker(name, tfile.file, init_value=tfile.init_file,
                                    overwrite=tfile.init_overwrite and not reload)
    return trackers
