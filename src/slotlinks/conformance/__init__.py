"""The publisher conformance checker: `slotlinks validate MANIFEST_URL|DIR`.

Checks a live SMART Scheduling Links publisher or a static export against the Inferno test kit's
checks and what the kit cannot test (Accept headers, references, ids, offsets, caching), under the
2021 vaccine profiles or the 2026 draft (`general`: its six profiles element by element), and FHIR
JSON's own rules (no null or empty values under both). Each check is declared with `@check` (or
`@resource_check`) on the function that performs it; `CHECKS` lists them all in report order.

| module | holds |
|---|---|
| `registry.py` | `Check` (id, severity, section, title, profiles, live-only); `@check`, `@resource_check` |
| `checks/` | every check, one module per thing checked (see its docstring); `CHECKS`, `checks_for` |
| `profiles.py` | the `general` (2026 draft) and `vaccine` (2021) profiles: Slot statuses, output types |
| `elements.py` | FHIR R4's elements of the six resources and their datatypes; primitive formats |
| `zones.py` | US state → IANA time zones, and whether an offset is plausible for them |
| `source.py` | where a publication is read from: a live publisher (HTTP) or an export directory |
| `facts.py` | what a resource check is given: the resource's facts, and what earlier files published |
| `stream.py` | the single streaming pass over the output files, line by line |
| `results.py` | what a run found, check by check; `fail` refuses an unregistered check |
| `runner.py` | `run_validation`: manifest, HTTP, files, then whole-publication checks; the `Report` |
| `report_text.py`, `report_json.py`, `report_html.py` | the terminal, `--json`, `--junit` and `--html` reports |
| `cli_validate.py` | the `slotlinks validate` command |
"""

from __future__ import annotations

from slotlinks.conformance.checks import CHECKS, checks_for
from slotlinks.conformance.registry import Check
from slotlinks.conformance.report_html import report_html
from slotlinks.conformance.report_json import report_dict, report_json, report_junit
from slotlinks.conformance.report_text import render_text, summary_line
from slotlinks.conformance.results import CheckResult, Example
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
