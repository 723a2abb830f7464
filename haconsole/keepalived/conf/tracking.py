"""track_interface/track_script/track_file/track_process blocks of vrrp_instance and
vrrp_sync_group: references to trackers, with the weights they lend."""

from __future__ import annotations

from collections.abc import Iterable

from haconsole.config import TrackRef
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.state import Track
from haconsole.keepalived.conf.values import read_int


def track(b: Builder, words: list[str]) -> None:
    """A track_* block of a vrrp_instance: its lines go to the instance's list of that name."""
    inst = b.inst_for_block(words)
    if inst is not None:
        tracks = getattr(inst, words[0])
        b.each_value(words, lambda vec: add(b, words[0], inst.name, tracks, vec))


def add(b: Builder, keyword: str, owner: str, tracks: list[Track], vec: list[str]) -> None:
    """One line of a track_* block (keyword) of `owner`, added to `tracks` if keepalived
    accepts it."""
    if keyword == "track_interface":
        add_interface(b, owner, tracks, vec)
    else:
        add_tracker(b, keyword.removeprefix("track_"), owner, tracks, vec)


def refs(tracks: Iterable[Track]) -> list[TrackRef]:
    """The model's references: a weight only where the line gave one."""
    return [TrackRef(t.name, t.weight if t.explicit else None, t.reverse) for t in tracks]


def add_interface(b: Builder, owner: str, tracks: list[Track], vec: list[str]) -> None:
    """`IFNAME [weight W [reverse]]`: keepalived's own reader for interfaces (its wording
    differs from the other trackers', and it knows no `noreverse`)."""
    name = vec[0]
    usable, _ = b.interface(name)
    if not usable:
        b.report(GENERAL_ERROR, f"({owner}) tracked interface {name} doesn't exist")
        return
    if any(t.name == name for t in tracks):
        b.report(GENERAL_ERROR, f"({owner}) duplicate track_interface {name} - ignoring")
        return
    weight, reverse = 0, False
    if len(vec) >= 2:
        if vec[1] != "weight":
            b.report(GENERAL_ERROR, f"({owner}) unknown track_interface {name} option "
                     f"{vec[1]} - ignoring")
            return
        if len(vec) == 2:
            b.report(GENERAL_ERROR, f"({owner}) weight without value specified for "
                     f"track_interface {name} - ignoring")
            return
        weight = _weight(b, owner, name, vec[2], "interface", 0)
        if len(vec) >= 4:
            if vec[3] == "reverse":
                reverse = True
            else:
                b.report(GENERAL_ERROR, f"({owner}) unknown track_interace {name} weight"
                         f" option {vec[3]} - ignoring")
    tracks.append(Track(name, weight, reverse, len(vec) >= 3, b.here.number))


def add_tracker(b: Builder, kind: str, owner: str, tracks: list[Track], vec: list[str]) -> None:
    """`NAME [weight W [reverse|noreverse]]` naming a vrrp_script, track_file or
    vrrp_track_process (kind script, file or process): its own weight and reverse unless
    the line overrides them."""
    name = vec[0]
    defined = _defined(b, kind, name)
    if defined is None:
        b.report(GENERAL_ERROR, f"({owner}) track {kind} {name} not found, ignoring...")
        return
    if any(t.name == name for t in tracks):
        b.report(GENERAL_ERROR, f"({owner}) duplicate track_{kind} {name} - ignoring")
        return
    weight, reverse = defined
    if len(vec) >= 2 and not _weight_option(b, owner, name, vec, kind):
        return
    if len(vec) >= 3:
        weight = _weight(b, owner, name, vec[2], kind, weight)
    if len(vec) >= 4 and vec[3] in ("reverse", "noreverse"):
        reverse = vec[3] == "reverse"
    elif len(vec) >= 4:
        # keepalived's track_file reader words this differently and drops the line
        spelled = "track file" if kind == "file" else f"track_{kind}"
        b.report(GENERAL_ERROR, f"({owner}) unknown {spelled} {name} weight option {vec[3]} - "
                 "ignoring")
        if kind == "file":
            return
    tracks.append(Track(name, weight, reverse, len(vec) >= 3, b.here.number))


def _defined(b: Builder, kind: str, name: str) -> tuple[int, bool] | None:
    """The weight and reverse the named tracker was defined with (None: it was not)."""
    if kind == "script":
        found = [(s.cfg.weight, s.cfg.weight_reverse) for s in b.scripts
                 if s.cfg.name == name and not s.remove]
    else:
        trackers = b.track_files if kind == "file" else b.processes
        found = [(t.weight, t.reverse) for t in trackers if t.name == name]
    return found[0] if found else None


def _weight_option(b: Builder, owner: str, name: str, vec: list[str], kind: str) -> bool:
    if vec[1] != "weight":
        b.report(GENERAL_ERROR, f"({owner}) unknown track {kind} option {vec[1]} - "
                 "ignoring")
        return False
    if len(vec) == 2:
        b.report(GENERAL_ERROR, f"({owner}) weight without value specified for track "
                 f"{kind} {name} - ignoring")
        return False
    return True


def _weight(b: Builder, owner: str, name: str, text: str, kind: str, default: int) -> int:
    ok, weight, msg = read_int(text, -254, 254)
    if not ok:
        b.report_number(msg)
        if kind == "interface":
            b.report(GENERAL_ERROR, f"({owner}) weight {text} for {name} must be between"
                     " [-253..253] inclusive. Ignoring...")
        elif kind == "script":
            b.report(GENERAL_ERROR, f"({owner}) track script {name}: weight must be "
                     "between [-253..253] inclusive, ignoring...")
        else:
            b.report(GENERAL_ERROR, f"({owner}) weight for track {kind} {name} must be "
                     "in [-254..254] inclusive. Ignoring...")
        return default
    if kind in ("interface", "script") and weight in (-254, 254):
        b.report(GENERAL_ERROR, f"({owner}) weight for {name} cannot be +/-254. "
                 "Setting to +/-253")
        weight = 253 if weight > 0 else -253
    return weight
