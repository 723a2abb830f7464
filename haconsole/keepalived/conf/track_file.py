"""track_file (vrrp_track_file): a file tracker definition."""

from __future__ import annotations

from haconsole.config import TrackFile
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.findings import GENERAL_ERROR
from haconsole.keepalived.conf.limits import INT_MAX, INT_MIN, WHITESPACE
from haconsole.keepalived.conf.stream import Handler, arg
from haconsole.keepalived.conf.values import read_int


def begin(b: Builder, words: list[str]) -> None:
    name = arg(words, 1)
    b.cur_track_file = TrackFile(name, line=b.here.number)


def path(b: Builder, words: list[str]) -> None:
    tfile = b.cur_track_file
    if len(words) < 2:
        b.report(GENERAL_ERROR, "track file file name missing")
        return
    if tfile is None:
        return
    if tfile.file:
        b.report(GENERAL_ERROR, f"File already set for track file {tfile.name} - "
                 f"ignoring {words[1]}")
        return
    tfile.file = " ".join(words[1:])


def weight(b: Builder, words: list[str]) -> None:
    """`weight W [reverse]`: an invalid W leaves the weight at 1."""
    if b.cur_track_file is not None:
        b.tracker_weight(words, b.cur_track_file, "track file", "track_file", unset=1, invalid=1)


def init_file(b: Builder, words: list[str]) -> None:
    tfile = b.cur_track_file
    if tfile is None:
        return
    tfile.init_file = 0
    for word in words[1:]:
        stripped = word.lstrip(WHITESPACE)
        if stripped[:1].isdigit() or stripped[:1] == "-":
            ok, value, msg = read_int(word, INT_MIN, INT_MAX)
            if not ok:
                b.report_number(msg)
                b.report(GENERAL_ERROR, f"Track file {tfile.name} init value {stripped} "
                         "is invalid")
                value = 0
            elif not -254 <= value <= 254:
                b.report(GENERAL_ERROR, f"Track file {tfile.name} init value {value} is "
                         "outside sensible range [-254, 254]")
            tfile.init_file = value
        elif stripped == "overwrite":
            tfile.init_overwrite = True
        else:
            b.report(GENERAL_ERROR, f"Unknown track file init option {stripped}")


def end(b: Builder) -> None:
    tfile = b.cur_track_file
    if tfile is None:
        return
    b.cur_track_file = None
    if not tfile.file:
        b.report(GENERAL_ERROR, f"No file set for track_file {tfile.name} - ignoring")
        return
    b.track_files.append(tfile)


KEYWORDS: dict[str, Handler] = {
    "file": path,
    "weight": weight,
    "init_file": init_file,
}
