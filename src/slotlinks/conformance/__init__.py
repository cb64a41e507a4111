"""The publisher conformance checker: `slotlinks validate MANIFEST_URL|DIR`.

Checks a live SMART Scheduling Links publisher or a static export against the Inferno test kit's
checks and what the kit cannot test (Accept headers, references, ids, offsets, caching), under the
2021 vaccine profiles or the 2026 draft (`general`). See `checks.CHECKS` for every check.
"""

from __future__ import annotations

from slotlinks.conformance.checks import CHECKS, Check, CheckResult, Example, checks_for
from slotlinks.conformance.report_html import report_html
from slotlinks.conformance.report_json import report_dict, report_json, report_junit
from slotlinks.conformance.report_text import render_text, summary_line
from slotlinks.conformance.runner import Progress, Report, run_validation

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "Example",
    "Progress",
    "Report",
    "checks_for",
    "render_text",
    "report_dict",
    "report_html",
    "report_json",
    "report_junit",
    "run_validation",
    "summary_line",
]
