"""Run every check of a profile over one publication: the manifest, its HTTP behaviour, each file.

Specification, "Manifest File": the manifest is read first (`checks.manifest`), then, for a live
publisher, how it is served (`checks.http`), then each output file in dependency order (places and
roles, then Schedules, then Slots) through the single streaming pass (`stream.FilePass`), and last
the checks that need the whole publication. With `max_lines`, each file is sampled: checks that need
a whole file (final newline, references into a sampled type) are then skipped rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from slotlinks.conformance.checks import checks_for, lines, manifest, vaccine_2021
from slotlinks.conformance.checks.http import check_manifest_http
from slotlinks.conformance.profiles import PROFILES, Profile
from slotlinks.conformance.results import CheckResult, Results
from slotlinks.conformance.source import DirectorySource, LiveSource, is_live, open_source
from slotlinks.conformance.stream import FilePass, Progress

__all__ = ["Progress", "Report", "run_validation"]

_ORDER = ("Location", "HealthcareService", "PractitionerRole", "Practitioner", "Schedule", "Slot")


@dataclass(slots=True)
class Report:
    """The outcome of one run: every check's result, and what was read."""

    target: str
    profile: str
    live: bool
    results: list[CheckResult]
    resources: dict[str, int] = field(default_factory=dict)
    files: int = 0
    sampled: bool = False

    def counts(self, *, strict: bool) -> tuple[int, int]:
        """(passed, failed) among the checks that decide the exit status."""
        gating = [r for r in self.results if r.gating(strict=strict) and r.status != "skipped"]
        failed = sum(1 for r in gating if r.status == "failed")
        return len(gating) - failed, failed

    def exit_code(self, *, strict: bool) -> int:
        """0 when no required check (and, with `strict`, no recommended one) failed; else 1."""
        return 1 if self.counts(strict=strict)[1] else 0


def _run(source: LiveSource | DirectorySource, results: Results, files: FilePass, profile: Profile) -> None:
    if isinstance(source, LiveSource):
        manifest.url_ends_bulk_publish(results, source.url)
    else:
        for result in results.results():
            if result.check.live_only:
                results.skip(result.check, "live publishers only")
    fetched = source.manifest()
    doc = manifest.download(results, source.label, fetched)
    if doc is None:
        done = (manifest.url_ends_bulk_publish.check, manifest.download.check)
        results.skip_all_but(done, "the manifest could not be read")
        return
    outputs, transaction_time = (
        manifest.check_manifest(results, doc, profile, live=source.live) if isinstance(doc, dict) else ([], None)
    )
    if isinstance(source, LiveSource):
        check_manifest_http(results, source, fetched, transaction_time)
    rank = {t: i for i, t in enumerate(_ORDER)}
    for output in sorted(outputs, key=lambda o: (rank.get(o.type, len(_ORDER)), o.index)):
        files.read_file(output)
    vaccine_2021.vtrcks(results, files.counts["Location"], files.published.vtrcks_seen)
    for check in sorted(files.published.unverified, key=lambda c: c.id):
        results.skip(check, "some referenced files were only sampled (--max-lines)")
    if files.sampled:
        results.skip(lines.final_newline.check, "files were only sampled (--max-lines)")


def run_validation(
    target: str,
    *,
    profile: str = "general",
    max_lines: int | None = None,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
) -> Report:
    """Check a publisher (manifest URL) or a static export (directory) against a profile.

    Network access is only what `target` and the manifest's URLs name; pass `client` to control it.
    """
    chosen = PROFILES[profile]
    # Building a client reads the CA bundle (tens of ms): a directory, which needs none, skips it.
    own = client is None and is_live(target)
    http = httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=True) if own else client
    try:
        source = open_source(target, http)
        results = Results(checks_for(chosen.name))
        files = FilePass(source, chosen, results, max_lines, progress)
        _run(source, results, files, chosen)
    finally:
        if own and http is not None:
            http.close()
    return Report(
        target=source.label,
        profile=chosen.name,
        live=source.live,
        results=results.results(),
        resources=dict(files.counts),
        files=files.files,
        sampled=files.sampled,
    )
