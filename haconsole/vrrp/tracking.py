"""Tracked objects and their weights, as keepalived applies them to a VRRP instance.

Why one module: the weight rules (which weight wins, reverse, a weight-0 failure meaning
FAULT, a tracked file's value * weight) decide where the VIP goes; the core, the engine's
trackers and the config checker must resolve them the same way.

- A check (vrrp_script, track_interface, track_process) reports ok / failed: a negative
  weight applies while it fails, a positive one while it succeeds (`reverse` swaps the
  two); weight 0 means a failure puts the instance in FAULT, and one that has not
  reported yet holds the instance in INIT. A check that has not reported applies nothing.
- A tracked file (track_file) reports an integer: it adds value * weight (negated when
  reversed), clamped to -254..253, where -254 means FAULT; with weight 0, a non-zero
  value (zero when reversed) means FAULT.
"""

from __future__ import annotations

from dataclasses import dataclass

from haconsole.config import Config, TrackRef, VrrpInstance

FILE_FAULT = -254  # keepalived: a tracked file's status at or below this means FAULT


@dataclass(frozen=True)
class TrackSpec:
    """A tracked object as the instance sees it: a name, a weight and how it reports.

    `kind` "check" reports ok / failed (scripts, interfaces, processes); "value" reports
    an integer (track_file), which keepalived multiplies by the weight.
    """

    name: str
    weight: int
    reverse: bool = False
    initially_failed: bool = False
    kind: str = "check"


@dataclass
class Track:
    """A TrackSpec with its last report: the weight it applies now, FAULT, INIT hold."""

    spec: TrackSpec
    ok: bool | None  # None: not reported yet (keepalived's script init state)
    value: int | None = None  # kind "value": the last integer read (None: not yet)

    def _file_status(self) -> int:
        """keepalived's status of a tracked file: value * weight (negated when reversed),
        clamped to -254..253; with weight 0, FAULT when the value is non-zero (zero when
        reversed). A status of -254 means FAULT whatever the weight."""
        value = self.value or 0
        if self.spec.weight == 0:
            return FILE_FAULT if (value != 0) != self.spec.reverse else 0
        status = value * self.spec.weight * (-1 if self.spec.reverse else 1)
        return min(max(status, FILE_FAULT), 253)

    @property
    def applied(self) -> int:
        """The weight this track adds to the base priority now."""
        if self.spec.kind == "value":
            if self.value is None:
                return 0
            status = self._file_status()
            return 0 if status == FILE_FAULT else status
        if self.ok is None or self.spec.weight == 0:
            return 0
        ok = self.ok != self.spec.reverse
        w = self.spec.weight
        return w if (w > 0 and ok) or (w < 0 and not ok) else 0

    @property
    def faulted(self) -> bool:
        """This track puts the instance in FAULT now."""
        if self.spec.kind == "value":
            return self.value is not None and self._file_status() == FILE_FAULT
        return self.spec.weight == 0 and self.ok is not None and (self.ok == self.spec.reverse)

    @property
    def pending(self) -> bool:
        """A weight-0 track that has not reported yet: the instance waits in INIT."""
        if self.spec.kind == "value":
            return self.spec.weight == 0 and self.value is None
        return self.spec.weight == 0 and self.ok is None


def script_spec(config: Config, ref: TrackRef) -> TrackSpec:
    """track_script: the reference's weight overrides the vrrp_script's; the script's
    weight_reverse applies too; init_fail starts it failed."""
    script = config.vrrp_scripts.get(ref.name)
    weight = ref.weight if ref.weight is not None else (script.weight if script else 0)
    reverse = ref.reverse or (script.weight_reverse if script else False)
    return TrackSpec(ref.name, weight, reverse, bool(script and script.init_fail))


def interface_spec(ref: TrackRef) -> TrackSpec:
    """track_interface: weight 0 (link down -> FAULT) unless the reference gives one."""
    return TrackSpec(ref.name, ref.weight or 0, ref.reverse)


def process_spec(config: Config, ref: TrackRef) -> TrackSpec:
    """track_process: the reference's weight, else the track_process block's, else 0."""
    proc = config.track_processes.get(ref.name)
    weight = ref.weight if ref.weight is not None else (proc.weight if proc else 0)
    return TrackSpec(ref.name, weight, ref.reverse)


def file_spec(config: Config, ref: TrackRef) -> TrackSpec:
    """track_file: the reference's weight, else the track_file block's weight and
    reverse; 1 without a block (no tracker then reports, so it applies nothing)."""
    tfile = config.track_files.get(ref.name)
    weight = ref.weight if ref.weight is not None else (tfile.weight if tfile else 1)
    reverse = ref.reverse or (tfile.reverse if tfile and ref.weight is None else False)
    return TrackSpec(ref.name, weight, reverse, kind="value")


def track_specs(config: Config, inst: VrrpInstance) -> list[TrackSpec]:
    """Every track_* reference of an instance as a TrackSpec, with keepalived's weights."""
    return [
        *(script_spec(config, ref) for ref in inst.track_script),
        *(interface_spec(ref) for ref in inst.track_interface),
        *(process_spec(config, ref) for ref in inst.track_process),
        *(file_spec(config, ref) for ref in inst.track_file),
    ]
