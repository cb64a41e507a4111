"""The four output formats and the exit status, through the Typer command."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.conformance.conftest import BOOKING, slot, write_feed

runner = CliRunner()


def _broken(tmp_path: Path) -> Path:
    """One required failure (a javascript: link, with markup in it) and one recommended (offset)."""
    slots = [
        slot(extension=[{"url": BOOKING, "valueUrl": "javascript:alert('<script>x</script>')"}]),
        slot(id="s2", start="2026-06-01T06:00:00-07:00", end="2026-06-01T06:20:00-07:00"),
    ]
    return write_feed(tmp_path / "feed", slots=slots)


def test_text_report_last_line_and_exit_codes(cli_app: typer.Typer, tmp_path: Path) -> None:
    clean = write_feed(tmp_path / "clean")
    result = runner.invoke(cli_app, ["validate", str(clean), "--strict"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip("\n").splitlines()[-1] == "81 passed, 0 failed"

    broken = _broken(tmp_path)
    result = runner.invoke(cli_app, ["validate", str(broken)])
    assert result.exit_code == 1
    lines = result.output.rstrip("\n").splitlines()
    assert lines[-1] == "76 passed, 1 failed"
    assert "slot.booking-link-url" in result.output
    assert "slots.ndjson:1" in result.output
    strict = runner.invoke(cli_app, ["validate", str(broken), "--strict"])
    assert strict.output.rstrip("\n").splitlines()[-1] == "79 passed, 2 failed"


def test_recommended_failure_exits_zero_unless_strict(cli_app: typer.Typer, tmp_path: Path) -> None:
    feed = write_feed(
        tmp_path / "feed", slots=[slot(start="2026-06-01T06:00:00-07:00", end="2026-06-01T06:20:00-07:00")]
    )
    assert runner.invoke(cli_app, ["validate", str(feed)]).exit_code == 0
    assert runner.invoke(cli_app, ["validate", str(feed), "--strict"]).exit_code == 1


def test_json_report(cli_app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(cli_app, ["validate", str(_broken(tmp_path)), "--json", "--profile", "vaccine"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["profile"] == "vaccine"
    assert doc["summary"]["exit_code"] == 1
    checks = {c["id"]: c for c in doc["checks"]}
    link = checks["slot.booking-link-url"]
    assert link["severity"] == "required"
    assert link["status"] == "failed"
    assert link["count"] == 1
    assert link["section"] == "Deep Links hosted by Provider Booking Portal"
    assert link["examples"][0]["where"] == "slots.ndjson:1"
    assert checks["http.since"]["status"] == "skipped"
    assert {"id", "severity", "section", "status", "count", "examples"} <= set(link)


def test_junit_report(cli_app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    runner.invoke(cli_app, ["validate", str(_broken(tmp_path)), "--junit", str(out)])
    suite = ET.parse(out).getroot()
    assert suite.tag == "testsuite"
    assert suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["slot.booking-link-url"].find("failure") is not None
    assert cases["slot.offset-plausible"].find("failure") is None  # recommended: advisory without --strict
    assert cases["http.since"].find("skipped") is not None
    runner.invoke(cli_app, ["validate", str(_broken(tmp_path)), "--junit", str(out), "--strict"])
    strict = {c.get("name"): c for c in ET.parse(out).getroot().iter("testcase")}
    assert strict["slot.offset-plausible"].find("failure") is not None


def test_html_report_is_one_escaped_file(cli_app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    runner.invoke(cli_app, ["validate", str(_broken(tmp_path)), "--html", str(out)])
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "src=" not in page
    assert "<link" not in page
    assert "slot.booking-link-url" in page
    assert "1 failed" in page


def test_live_target_through_the_cli(cli_app: typer.Typer, corpus_urls: dict[str, str]) -> None:
    result = runner.invoke(cli_app, ["validate", corpus_urls["walgreens"], "--profile", "vaccine", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["live"] is True
    assert {c["id"] for c in doc["checks"] if c["status"] == "failed"} == {
        "manifest.state-extension",
        "manifest.output-extension-keys",
        "http.cache-control",
        "slot.narrow-window",
        "slot.longer-than-day",
        "location.vtrcks-pin-format",
    }


def test_progress_bar_follows_every_file(tmp_path: Path) -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from slotlinks.conformance import run_validation
    from slotlinks.conformance.cli_validate import RichProgress

    feed = write_feed(tmp_path / "feed")
    with Progress(console=Console(file=io.StringIO())) as bar:
        progress = RichProgress(bar)
        report = run_validation(str(feed), progress=progress)
        assert progress.task is None
        assert bar.tasks == []
    assert report.files == 3
