"""Reports are byte-for-byte what they were: every format, for a recorded corpus and for a feed broken
in many ways at once, against files in `golden/`; and every check keeps its id, severity, section,
title, profiles and place in the report (`golden/checks.json`).

The files hold what the checker printed when they were written: a difference is a change users see.
To accept an intended change, call this module's `write_golden()` and review the diff.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from slotlinks.conformance import CHECKS, Report, render_text, report_html, report_json, report_junit, run_validation
from tests.conformance.conftest import BOOKING, location, schedule, slot, write_feed

GOLDEN = Path(__file__).parent / "golden"


def many_broken(directory: Path) -> Path:
    """A feed failing most resource and line checks of both profiles."""
    feed = write_feed(
        directory,
        locations=[
            location(identifier=[], telecom=[{"system": "phone"}]),
            location(id="virtual", address=None, virtualService=[{}, {"addressUrl": "ftp://x"}]),
            location(id="pin", identifier=[{"system": "https://cdc.gov/vaccines/programs/vtrcks", "value": "a pin"}]),
        ],
        schedules=[
            schedule(),
            schedule(id="elsewhere", actor=[{"reference": "Location/elsewhere"}], serviceType=[]),
        ],
        slots=[
            slot(),
            slot(),
            slot(id="tentative", status="busy-tentative", extension=[]),
            slot(id="long", start="2026-06-01T09:00:00-04:00", end="2026-06-03T09:00:00-04:00"),
            slot(id="js", extension=[{"url": BOOKING, "valueUrl": "javascript:alert('<b>')"}]),
            slot(id="west", start="2026-06-01T06:00:00-07:00", end="2026-06-01T06:20:00-07:00"),
            slot(id="backwards", start="2026-06-01T10:00:00-04:00", end="2026-06-01T09:00:00-04:00"),
            slot(id="dangling", schedule={"reference": "Schedule/nope"}),
        ],
    )
    with (feed / "slots.ndjson").open("a") as fp:
        fp.write("{not json\n[1]\n")
        fp.write('{"resourceType":"Location","id":"x"}\n')
        fp.write('{"resourceType":"Slot","id":"s2","schedule":{"reference":"Schedule/sch-1"},"status":"free"}\n')
        fp.write('{"resourceType":"Slot","id":"s3","status":"weird","schedule":{"reference":"Schedule/sch-1"},')
        fp.write('"start":"2026-06-01T09:00:00Z","end":"2026-06-01T09:10:00Z"}\n')
        fp.write('{"resourceType":"Slot","id":"s4","schedule":{"reference":"Schedule/sch-1"},"status":"free",')
        fp.write('"start":"2026-06-01T09:00:00Z","end":"2026-06-01T09:10:00Z",')
        fp.write('"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity",')
        fp.write('"valueInteger":"5"}]}')
    return feed


def rendered(report: Report, *, strict: bool) -> dict[str, bytes]:
    """Every output format of one report (the terminal one without colour, 120 columns wide)."""
    text = io.StringIO()
    render_text(report, Console(file=text, width=120, color_system=None), strict=strict)
    return {
        "txt": text.getvalue().encode(),
        "json": report_json(report, strict=strict),
        "xml": report_junit(report, strict=strict),
        "html": report_html(report, strict=strict).encode(),
    }


#: case -> (profile, max_lines, strict); "cvs" reads the recorded corpus, the others `many_broken`.
CASES: dict[str, tuple[str, int | None, bool]] = {
    "cvs-vaccine": ("vaccine", None, False),
    "broken-vaccine-strict": ("vaccine", None, True),
    "broken-general": ("general", None, False),
    "broken-general-sampled": ("general", 2, False),
}


def run_case(case: str, tmp_path: Path, stage: Callable[[str], Path]) -> dict[str, bytes]:
    profile, max_lines, strict = CASES[case]
    target = stage("cvs") if case.startswith("cvs") else many_broken(tmp_path / "broken")
    report = run_validation(str(target), profile=profile, max_lines=max_lines)
    # The target is a temporary directory: name it the same in every run.
    return rendered(replace(report, target="<TARGET>"), strict=strict)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reports_are_unchanged(case: str, tmp_path: Path, staged_corpus: Callable[[str], Path]) -> None:
    for kind, data in run_case(case, tmp_path, staged_corpus).items():
        expected = (GOLDEN / f"{case}.{kind}").read_bytes()
        assert data == expected, f"{case}.{kind}"


def test_checks_keep_their_ids_severities_sections_titles_and_order() -> None:
    expected = json.loads((GOLDEN / "checks.json").read_text(encoding="utf-8"))
    actual = [
        {
            "id": c.id,
            "severity": c.severity,
            "section": c.section,
            "title": c.title,
            "profiles": sorted(c.profiles),
            "live_only": c.live_only,
        }
        for c in CHECKS.values()
    ]
    assert actual == expected


def write_golden(tmp_path: Path, stage: Callable[[str], Path]) -> None:
    """Rewrite `golden/` from the current code (for an intended change; review the diff)."""
    for case in CASES:
        for kind, data in run_case(case, tmp_path / case, stage).items():
            (GOLDEN / f"{case}.{kind}").write_bytes(data)
