"""Recording: every event a console sees, in a file that outlives the incident.

Why: the page arrives after the VIP flapped, and the console that watched it kept nothing.
`haconsole record` (or `--record FILE` on the console) writes what the sources publish to
an SQLite file (WAL: a killed recorder loses at most the last second, and the file can be
read while it grows); `Timeline` folds it back through the same `ClusterView`, so a
replayed view is the live one at that instant.

Modules: `codec` (events <-> JSON rows), `layout` (the file: schema, checks, errors),
`condense` (what is stored: adverts become per-second counters), `keyframes` (fold
checkpoints), `store` (`Recorder`, `Recording`), `timeline` (`Timeline`), `cli`.
"""

from haconsole.record.layout import RecordingError
from haconsole.record.store import Recorder, Recording
from haconsole.record.timeline import Mark, Timeline

__all__ = ["Mark", "Recorder", "Recording", "RecordingError", "Timeline"]
