"""`slotlinks validate MANIFEST_URL|DIR`: the publisher conformance checker on the command line.

Exit status 0 only when no required check fails (`--strict`: no recommended one either); the
terminal report's last line is `N passed, M failed`. The lead wires `validate_command` into
`slotlinks.cli` as `slotlinks validate`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from slotlinks.conformance.report_html import report_html
from slotlinks.conformance.report_json import report_json, report_junit
from slotlinks.conformance.report_text import render_text
from slotlinks.conformance.runner import run_validation

__all__ = ["ProfileChoice", "RichProgress", "validate_command"]


class ProfileChoice(StrEnum):
    general = "general"
    vaccine = "vaccine"


class RichProgress:
    """A Rich progress bar per file (bytes read), for full streaming on a TTY."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: int | None = None

    def start_file(self, name: str, total: int | None) -> None:
        self.task = int(self.progress.add_task(name, total=total))

    def advance(self, nbytes: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, nbytes)  # type: ignore[arg-type]

    def end_file(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)  # type: ignore[arg-type]
            self.task = None


def validate_command(
    target: Annotated[str, typer.Argument(help="Manifest URL (…/$bulk-publish) or an export directory.")],
    profile: Annotated[
        ProfileChoice, typer.Option("--profile", help="general: the 2026 IG draft; vaccine: the 2021 profiles.")
    ] = ProfileChoice.general,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on recommended (SHOULD) checks too.")] = False,
    max_lines: Annotated[
        int | None, typer.Option("--max-lines", min=1, help="Check only the first N lines of each file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of text.")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write a JUnit XML report here.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")] = None,
) -> None:
    """Check a SMART Scheduling Links publisher (live URL or static export) for conformance."""
    console = Console()
    if console.is_terminal and not as_json:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            report = run_validation(target, profile=profile.value, max_lines=max_lines, progress=RichProgress(bar))
    else:
        report = run_validation(target, profile=profile.value, max_lines=max_lines)
    if junit is not None:
        junit.write_bytes(report_junit(report, strict=strict))
    if html is not None:
        html.write_text(report_html(report, strict=strict), encoding="utf-8")
    if as_json:
        sys.stdout.buffer.write(report_json(report, strict=strict) + b"\n")
        sys.stdout.flush()
    else:
        render_text(report, console, strict=strict)
    raise typer.Exit(report.exit_code(strict=strict))
