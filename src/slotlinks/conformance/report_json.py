"""Machine-readable reports: `--json` (every check with id, severity, section, status, count,
examples) and `--junit FILE` (JUnit XML for a publisher's CI: one testcase per check; a failed
required check, or under `--strict` a failed recommended one, is a `<failure>`; skipped checks are
`<skipped>`; other findings are written to `<system-out>`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson

from slotlinks.conformance.runner import Report

__all__ = ["report_dict", "report_json", "report_junit"]


def report_dict(report: Report, *, strict: bool) -> dict[str, Any]:
    """The report as plain data (what `--json` prints)."""
    passed, failed = report.counts(strict=strict)
    return {
        "target": report.target,
        "profile": report.profile,
        "live": report.live,
        "strict": strict,
        "sampled": report.sampled,
        "files": report.files,
        "resources": report.resources,
        "summary": {"passed": passed, "failed": failed, "exit_code": report.exit_code(strict=strict)},
        "checks": [
            {
                "id": r.check.id,
                "severity": r.check.severity,
                "section": r.check.section,
                "title": r.check.title,
                "status": r.status,
                "gating": r.gating(strict=strict),
                "count": r.count,
                "skip_reason": r.skip_reason,
                "examples": [{"where": e.where, "message": e.message} for e in r.examples],
            }
            for r in report.results
        ],
    }


def report_json(report: Report, *, strict: bool) -> bytes:
    """`--json`: the report as indented JSON."""
    return orjson.dumps(report_dict(report, strict=strict), option=orjson.OPT_INDENT_2)


def report_junit(report: Report, *, strict: bool) -> bytes:
    """`--junit FILE`: one `<testsuite>` named for the target, one `<testcase>` per check."""
    _, failed = report.counts(strict=strict)
    skipped = sum(1 for r in report.results if r.status == "skipped")
    suite = ET.Element(
        "testsuite",
        name=f"slotlinks validate {report.target}",
        tests=str(len(report.results)),
        failures=str(failed),
        skipped=str(skipped),
        errors="0",
    )
    for result in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"slotlinks.{report.profile}", name=result.check.id)
        details = "\n".join(f"{e.where}: {e.message}" for e in result.examples)
        if result.status == "skipped":
            ET.SubElement(case, "skipped", message=result.skip_reason or "")
        elif result.status == "failed" and result.gating(strict=strict):
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{result.check.title} ({result.count} found)",
                type=result.check.severity,
            )
            failure.text = details
        elif result.status == "failed":
            out = ET.SubElement(case, "system-out")
            out.text = f"{result.check.severity}: {result.count} found\n{details}"
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data
