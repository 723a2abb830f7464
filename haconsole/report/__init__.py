"""The incident report: a pure function of an event sequence and a window.

`build_report(events, since=, until=)` -> `Report` (model.py, rules in build.py), printed by
`to_text`, `to_markdown` or `to_json` (render.py); `haconsole replay --report` is cli.py.
"""

from haconsole.report.build import ReportConfig, build_report
from haconsole.report.model import (
    CAUSE_KINDS,
    CauseKind,
    CheckFailures,
    Failover,
    InstanceReport,
    NoMaster,
    PriorityStep,
    Report,
    SplitBrain,
)
from haconsole.report.render import report_dict, to_json, to_markdown, to_text

__all__ = ["CAUSE_KINDS", "CauseKind", "CheckFailures", "Failover", "InstanceReport",
           "NoMaster", "PriorityStep", "Report", "ReportConfig", "SplitBrain", "build_report",
           "report_dict", "to_json", "to_markdown", "to_text"]
