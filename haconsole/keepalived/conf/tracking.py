"""track_interface/track_script/track_file/track_process blocks of vrrp_instance and
vrrp_sync_group: references to trackers, with their weights."""

from __future__ import annotations

from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.state import Track
from haconsole.keepalived.conf.values import read_int


def track_interface(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        b.ignore_block(words)
        return
    b.each_value(words, lambda vec: add_interface(b, inst.name, inst.track_if, vec))


def add_interface(b: Builder, owner: str, tracks: list[Track], vec: list[str]) -> None:
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


def track_script(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        b.ignore_block(words)
        return
    b.each_value(words, lambda vec: add_script(b, inst.name, inst.track_script, vec))


def add_script(b: Builder, owner: str, tracks: list[Track], vec: list[str]) -> None:
    name = vec[0]
    script = next((s for s in b.scripts if s.cfg.name == name and not s.remove), None)
    if script is None:
        b.report(GENERAL_ERROR, f"({owner}) track script {name} not found, ignoring...")
        return
    if any(t.name == name for t in tracks):
        b.report(GENERAL_ERROR, f"({owner}) duplicate track_script {name} - ignoring")
        return
    weight, reverse = script.cfg.weight, script.cfg.weight_reverse
    if len(vec) >= 2 and not _weight_option(b, owner, name, vec, "script"):
        return
    if len(vec) >= 3:
        weight = _weight(b, owner, name, vec[2], "script", weight)
        reverse = _reverse(b, owner, name, vec, "track_script", reverse)
    tracks.append(Track(name, weight, reverse, len(vec) >= 3, b.here.number))


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


def _reverse(b: Builder, owner: str, name: str, vec: list[str], kind: str, reverse: bool) -> bool:
    if len(vec) < 4:
        return reverse
    if vec[3] in ("reverse", "noreverse"):
        return vec[3] == "reverse"
    b.report(GENERAL_ERROR, f"({owner}) unknown {kind} {name} weight option {vec[3]} - "
             "ignoring")
    return reverse


def track_file(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        b.ignore_block(words)
        return
    b.each_value(words, lambda vec: add_file(b, inst.name, inst.track_file, vec))


def add_file(b: Builder, owner: str, tracks: list[Track], vec: list[str]) -> None:
    name = vec[0]
    tfile = next((t for t in b.track_files if t.name == name), None)
    if tfile is None:
        b.report(GENERAL_ERROR, f"({owner}) track file {name} not found, ignoring...")
        return
    if any(t.name == name for t in tracks):
        b.report(GENERAL_ERROR, f"({owner}) duplicate track_file {name} - ignoring")
        return
    weight, reverse = tfile.weight, tfile.reverse
    if len(vec) >= 2:
        if vec[1] != "weight":
            b.report(GENERAL_ERROR, f"({owner}) unknown track file option {vec[1]} - "
                     "ignoring")
            return
        if len(vec) == 2:
            b.report(GENERAL_ERROR, f"({owner}) weight without value specified for "
                     f"track file {name} - ignoring")
            return
        weight = _weight(b, owner, name, vec[2], "file", weight)
        if len(vec) >= 4:
            if vec[3] not in ("reverse", "noreverse"):
                b.report(GENERAL_ERROR, f"({owner}) unknown track file {name} weight "
                         f"option {vec[3]} - ignoring")
                return
            reverse = vec[3] == "reverse"
    tracks.append(Track(name, weight, reverse, len(vec) >= 3, b.here.number))


def track_process(b: Builder, words: list[str]) -> None:
    inst = b.inst
    if inst is None:
        b.ignore_block(words)
        return
    b.each_value(words, lambda vec: add_process(b, inst.name, inst.track_process,
                                                vec))


def add_process(b: Builder, owner: str, tracks: list[Track], vec: list[str]) -> None:
    name = vec[0]
    proc = next((p for p in b.processes if p.name == name), None)
    if proc is None:
        b.report(GENERAL_ERROR, f"({owner}) track process {name} not found, ignoring...")
        return
    if any(t.name == name for t in tracks):
        b.report(GENERAL_ERROR, f"({owner}) duplicate track_process {name} - ignoring")
        return
    weight, reverse = proc.weight, proc.reverse
    if len(vec) >= 2 and not _weight_option(b, owner, name, vec, "process"):
        return
    if len(vec) >= 3:
        weight = _weight(b, owner, name, vec[2], "process", weight)
        reverse = _reverse(b, owner, name, vec, "track_process", reverse)
    tracks.append(Track(name, weight, reverse, len(vec) >= 3, b.here.number))
