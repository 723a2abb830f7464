"""Read a million keepalived log lines into events (`read_history`), and report on them.

The target is < 10 s for 1 000 000 lines: `haconsole replay` of a day of syslog from a
busy pair must open at once. The lines are the real incident of tests/data/incident/
(a keepalived 2.2.7 pair: check failure, crash, clean stop, split brain), repeated back
to back until the files hold N lines, in keepalived's console form (one file per node)
or as one RFC 3164 syslog file with another program's line after every keepalived one.

    .venv/bin/python benchmarks/logs.py [--lines 1000000] [--form console|syslog|both]
        [--repeat 1] [--report]

`bench_log_history()` returns the figures as a dict (benchmarks/record.py calls it).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from haconsole.keepalived.log.history import read_history  # noqa: E402
from haconsole.keepalived.log.writer import format_console_time  # noqa: E402

INCIDENT = REPO / "tests" / "data" / "incident"
NODES = ("nginx1", "nginx2")
_NOISE = "CRON[{pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"


def _incident() -> list[tuple[float, str, str]]:
    """(t, node, message) of the captured incident, keepalived's lines only."""
    out = []
    for node in NODES:
        for line in (INCIDENT / f"keepalived-{node}.log").read_text().splitlines():
            head, sep, message = line.partition(" 2026: ")
            if not sep:
                continue
            t = datetime.strptime(head + " 2026", "%a %b %d %H:%M:%S %Y").timestamp()
            out.append((t, node, message))
    out.sort(key=lambda x: x[0])
    return out


def generate(directory: Path, lines: int, form: str) -> list[tuple[str, str]]:
    """Files holding `lines` keepalived lines in `form`; (name, path) pairs to read."""
    base = _incident()
    span = base[-1][0] - base[0][0] + 5.0
    start = base[0][0]
    per_node: dict[str, list[str]] = {node: [] for node in NODES}
    merged: list[str] = []
    written = 0
    copy = 0
    while written < lines:
        shift = copy * span
        for t, node, message in base:
            if written >= lines:
                break
            when = t - start + shift + 1.7e9
            if form == "console":
                per_node[node].append(f"{format_console_time(when)}: {message}")
            else:
                stamp = datetime.fromtimestamp(when).strftime("%b %e %H:%M:%S")
                merged.append(f"{stamp} {node} Keepalived_vrrp[{4000 + copy % 1000}]: "
                              f"{message}")
                merged.append(f"{stamp} {node} {_NOISE.format(pid=copy)}")
            written += 1
        copy += 1
    if form == "console":
        files = []
        for node, text in per_node.items():
            path = directory / f"{node}.log"
            path.write_text("\n".join(text) + "\n")
            files.append((node, str(path)))
        return files
    path = directory / "syslog"
    path.write_text("\n".join(merged) + "\n")
    last = datetime.fromtimestamp(1.7e9 + copy * span).timestamp()
    os.utime(path, (last, last))
    return [("", str(path))]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_log_history(lines: int = 1_000_000, form: str = "console",
                      report: bool = False) -> dict[str, float]:
    """Figures for reading `lines` keepalived lines in `form`: seconds (wall and CPU),
    lines per second, events, peak RSS (MiB); with `report`, the report's seconds too."""
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp), lines, form)
        paths = [(name, path) if name else path for name, path in files]
        gc.collect()
        start, cpu = time.perf_counter(), _cpu()
        history = read_history(paths)
        seconds = time.perf_counter() - start
        figures = {
            "lines": float(history.lines),
            "seconds": seconds,
            "cpu_seconds": _cpu() - cpu,  # what a busy shared machine does not inflate
            "lines_per_s": history.lines / seconds if seconds else 0.0,
            "events": float(len(history.events)),
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if report:
            from haconsole.report import build_report

            start = time.perf_counter()
            built = build_report(history.events)
            figures["report_seconds"] = time.perf_counter() - start
            figures["failovers"] = float(sum(len(r.failovers) for r in built.instances))
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--form", choices=("console", "syslog", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="time the report too")
    args = parser.parse_args()
    forms = ("console", "syslog") if args.form == "both" else (args.form,)
    for form in forms:
        for _ in range(args.repeat):
            f = bench_log_history(args.lines, form, report=args.report)
            extra = (f", report {f['report_seconds']:.2f} s ({f['failovers']:.0f} failovers)"
                     if "report_seconds" in f else "")
            print(f"{form:8} {f['lines']:>9.0f} keepalived lines in {f['seconds']:.2f} s "
                  f"(CPU {f['cpu_seconds']:.2f} s; {f['lines_per_s']:,.0f} lines/s), "
                  f"{f['events']:,.0f} events, "
                  f"peak RSS {f['max_rss_mib']:.0f} MiB{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
