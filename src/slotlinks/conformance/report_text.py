"""The terminal report: checks grouped by outcome, with counts and the first examples (file:line).

The last line is exactly `N passed, M failed`, counting the checks that decide the exit status
(required ones, plus recommended ones under `--strict`), so CI logs can be grepped for it.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slotlinks.conformance.results import CheckResult
from slotlinks.conformance.runner import Report

__all__ = ["render_text", "summary_line"]

_STYLE = {"required": "bold red", "recommended": "yellow", "info": "cyan"}
_MARK = {"passed": "[green]PASS[/]", "failed": "[red]FAIL[/]", "skipped": "[dim]SKIP[/]"}


def summary_line(report: Report, *, strict: bool) -> str:
    """`N passed, M failed` over the gating checks."""
    passed, failed = report.counts(strict=strict)
    return f"{passed} passed, {failed} failed"


def _label(result: CheckResult, strict: bool) -> str:
    severity = result.check.severity
    if result.status == "failed" and not result.gating(strict=strict):
        return _MARK["failed"].replace("red", "yellow" if severity == "recommended" else "cyan")
    return _MARK[result.status]


def render_text(report: Report, console: Console, *, strict: bool, examples: int = 3) -> None:
    """Print the report: a header, failures with examples, a table of every check, the summary line."""
    read = ", ".join(f"{n} {t}" for t, n in report.resources.items()) or "no resources"
    mode = "live" if report.live else "directory"
    sampled = " (sampled)" if report.sampled else ""
    console.print(f"[bold]slotlinks validate[/] {escape(report.target)} ({mode}, profile {report.profile}{sampled})")
    console.print(f"Read {report.files} files: {escape(read)}")
    failed = [r for r in report.results if r.status == "failed"]
    for result in failed:
        check = result.check
        console.print()
        console.print(
            f"{_label(result, strict)} [{_STYLE[check.severity]}]{check.severity}[/] [bold]{check.id}[/] "
            f"({result.count}x) {escape(check.title)}  [dim]§ {escape(check.section)}[/]"
        )
        for example in result.examples[:examples]:
            console.print(f"    {escape(example.where)}: {escape(example.message)}", soft_wrap=True)
        if result.count > examples:
            console.print(f"    [dim]... and {result.count - examples} more[/]")
    table = Table(title="Checks", show_lines=False, expand=False)
    # Sections are shown with each failure above (and in --json/--html); the table stays narrow.
    table.add_column("", no_wrap=True, min_width=4)
    table.add_column("check", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("count / note", overflow="fold", min_width=8)
    for result in report.results:
        note = escape(result.skip_reason) if result.skip_reason else str(result.count or "")
        table.add_row(_label(result, strict), result.check.id, result.check.severity, note)
    console.print()
    console.print(table)
    console.print(summary_line(report, strict=strict), markup=False, highlight=False)
