"""`--html FILE`: one self-contained page a publisher can share (inline CSS, no scripts, no external
resources). Everything taken from the publication (URLs, ids, messages) is HTML-escaped."""

from __future__ import annotations

from html import escape

from slotlinks.conformance.runner import Report

__all__ = ["report_html"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
.passed{color:#176f2c}.failed{color:#b00020}.skipped{color:#777}.advisory{color:#9a6700}
code{background:#f4f4f4;padding:0 .2rem}ul{margin:.2rem 0;padding-left:1.2rem}
"""


def report_html(report: Report, *, strict: bool) -> str:
    """The report as one HTML document."""
    passed, failed = report.counts(strict=strict)
    read = ", ".join(f"{n} {escape(t)}" for t, n in report.resources.items()) or "no resources"
    rows = []
    for r in report.results:
        status = r.status
        css = "advisory" if status == "failed" and not r.gating(strict=strict) else status
        examples = "".join(f"<li><code>{escape(e.where)}</code>: {escape(e.message)}</li>" for e in r.examples)
        more = f"<li>... and {r.count - len(r.examples)} more</li>" if r.count > len(r.examples) else ""
        detail = f"<ul>{examples}{more}</ul>" if examples else escape(r.skip_reason or "")
        rows.append(
            f'<tr><td class="{css}">{status.upper()}</td>'
            f"<td><code>{escape(r.check.id)}</code><br>{escape(r.check.title)}</td>"
            f"<td>{escape(r.check.severity)}</td><td>{escape(r.check.section)}</td><td>{r.count}</td><td>{detail}</td></tr>"
        )
    verdict = "conformant" if not failed else "not conformant"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>SMART Scheduling Links conformance: {escape(report.target)}</title><style>{_CSS}</style></head><body>"
        f"<h1>SMART Scheduling Links conformance</h1>"
        f"<p>Target: <code>{escape(report.target)}</code> ({'live' if report.live else 'directory'}), "
        f"profile <b>{escape(report.profile)}</b>{', strict' if strict else ''}"
        f"{', sampled' if report.sampled else ''}.</p>"
        f"<p>Read {report.files} files: {read}.</p>"
        f'<p class="{"passed" if not failed else "failed"}"><b>{passed} passed, {failed} failed</b>: {verdict}.</p>'
        "<table><thead><tr><th>status</th><th>check</th><th>severity</th><th>section</th><th>count</th><th>examples</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
