"""The recorded real feeds report exactly their READMEs' non-conformances (--profile vaccine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from slotlinks.conformance import Report, run_validation
from tests.conformance.conftest import EXPECTED


def failed(report: Report) -> dict[str, int]:
    return {r.check.id: r.count for r in report.results if r.status == "failed"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_directory_reports_exactly_the_readme(name: str, staged_corpus: Callable[[str], Path]) -> None:
    report = run_validation(str(staged_corpus(name)), profile="vaccine")
    assert failed(report) == EXPECTED[name]
    assert {r.check.id for r in report.results if r.status == "skipped"} == {
        "http.accept-manifest",
        "http.accept-files",
        "http.cache-control",
        "http.conditional",
        "http.since",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_live_reports_the_readme_plus_the_servers_missing_cache_control(name: str, corpus_urls: dict[str, str]) -> None:
    report = run_validation(corpus_urls[name], profile="vaccine")
    found = failed(report)
    # serve_corpus.py (Python's http.server) sends no Cache-Control: that is the test server's, not the corpus's.
    assert found.pop("http.cache-control") >= 1
    assert found == EXPECTED[name]
    assert not [r for r in report.results if r.status == "skipped"]
    assert report.exit_code(strict=False) == (1 if name == "cvs" else 0)


def test_examples_point_at_file_and_line(staged_corpus: Callable[[str], Path]) -> None:
    report = run_validation(str(staged_corpus("cvs")), profile="vaccine")
    by_id = {r.check.id: r for r in report.results}
    capacity = by_id["extension.value-type"].examples[0]
    assert capacity.where == "slot.ndjson:1"
    assert "slot-capacity `valueInteger` is not a JSON integer" in capacity.message
    service = by_id["schedule.vaccine-service-type"].examples[0]
    assert service.where == "schedule.ndjson:1"
    assert "covid19-immunization coding's system is not" in service.message
    assert by_id["manifest.state-extension"].examples[0].where == "$bulk-publish output[0]"
    walgreens = run_validation(str(staged_corpus("walgreens")), profile="vaccine")
    keys = next(r for r in walgreens.results if r.check.id == "manifest.output-extension-keys")
    assert keys.examples[0].where == "$bulk-publish output[2]"
    assert "currentAsOf" in keys.examples[0].message


def test_sampling_reads_at_most_n_lines_per_file(staged_corpus: Callable[[str], Path]) -> None:
    report = run_validation(str(staged_corpus("smart-examples")), profile="vaccine", max_lines=3)
    assert report.sampled
    assert report.resources == {"Location": 3, "Schedule": 3, "Slot": 15}
    by_id = {r.check.id: r for r in report.results}
    assert by_id["ndjson.final-newline"].status == "skipped"
    assert by_id["slot.narrow-window"].count == 15


def test_general_profile_on_the_vaccine_corpus(staged_corpus: Callable[[str], Path]) -> None:
    # No VTrckS, no vaccine profile checks: the 2026 draft accepts these Schedules and Locations.
    report = run_validation(str(staged_corpus("smart-examples")), profile="general")
    assert failed(report) == {"manifest.state-extension": 2, "slot.narrow-window": 300, "ndjson.final-newline": 7}
