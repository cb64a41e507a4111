"""Importing FHIR NDJSON into the provider store (spec "Location File", "Schedule File", "Slot File";
2026 IG PractitionerRole, HealthcareService, Practitioner), for the admin API's `$import`.

`import_ndjson` is all-or-nothing: every line is decoded and checked first, every bad line reported
in one `InvalidInput` (one issue per problem, `line N: <path>`), and nothing is written unless all of
them are good. Descriptive resources are written through `records` (same checks, stamps and knock-on
effects as the admin API); Slots are kept as hand-made slots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update

from slotlinks.errors import InvalidInput, Issue
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.instant import instant_to_ms
from slotlinks.fhir.ndjson import DEFAULT_MAX_LINE_BYTES, LineError, LineSplitter, decode_line
from slotlinks.fhir.resources import RESOURCE_DECODER, Resource, Slot
from slotlinks.fhir.validate import validate_resource
from slotlinks.provider.records.references import missing_reference_issues, reference_target
from slotlinks.provider.records.resources import error_issues, write_resource
from slotlinks.provider.schedule.regenerate import DEFAULT_HORIZON_DAYS, regenerate_schedules
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change
from slotlinks.publishing.outputs import TYPE_ORDER

__all__ = ["MAX_IMPORT_ISSUES", "import_ndjson"]

#: At most this many issues are reported for one import.
MAX_IMPORT_ISSUES = 1000


def _line_issue(line: int, issue: Issue) -> Issue:
    where = issue.expression[0] if issue.expression else "$"
    return Issue(
        f"line {line}: {issue.diagnostics}",
        code=issue.code,
        severity=issue.severity,
        expression=(f"line {line}: {where}",),
    )


def _decode_lines(
    source: bytes | Iterable[bytes], max_line_bytes: int
) -> tuple[list[tuple[int, Resource]], list[Issue]]:
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    chunks: Iterable[bytes] = [source] if isinstance(source, bytes) else source
    decoded: list[tuple[int, Resource]] = []
    issues: list[Issue] = []

    def take(batch: list[tuple[int, bytes] | LineError]) -> None:
        for item in batch:
            if isinstance(item, LineError):
                issues.append(Issue(str(item), expression=(f"line {item.line}: {item.path}",)))
                continue
            line = item[0]
            result = decode_line(RESOURCE_DECODER, line, item[1])
            if isinstance(result, LineError):
                issues.append(Issue(str(result), expression=(f"line {line}: {result.path}",)))
                continue
            problems = error_issues(validate_resource(result))
            issues.extend(_line_issue(line, p) for p in problems)
            if not problems:
                decoded.append((line, result))

    for chunk in chunks:
        take(splitter.feed(chunk))
    take(splitter.finish())
    return decoded, issues


def _slot_row(change: Change, slot: Slot) -> dict[str, Any]:
    target = reference_target(slot.schedule)
    assert target is not None  # checked with the references
    capacity = ext.slot_capacity(slot)
    status = slot.status
    active = status != "entered-in-error"
    if status in ("busy-tentative", "entered-in-error"):
        status = "busy"
    if capacity is not None and capacity < 1:
        status, capacity = "busy", 1
    return {
        "id": slot.id,
        "schedule_id": target[1],
        "start": slot.start,
        "end": slot.end,
        "start_ms": instant_to_ms(slot.start),
        "end_ms": instant_to_ms(slot.end),
        "status": status,
        "capacity": capacity or 1,
        "rule_id": None,
        "active": active,
        "last_updated": change.stamp_ms,
    }


def _write_slots(change: Change, slots: Sequence[Slot]) -> None:
    conn = change.conn
    for i in range(0, len(slots), 1000):
        rows = [_slot_row(change, s) for s in slots[i : i + 1000]]
        ids = [r["id"] for r in rows]
        existing = set(conn.execute(select(t.slot.c.id).where(t.slot.c.id.in_(ids))).scalars())
        new = [{**r, "booked": 0} for r in rows if r["id"] not in existing]
        if new:
            conn.execute(t.slot.insert(), new)
        for row in rows:
            if row["id"] in existing:
                values = {k: v for k, v in row.items() if k != "id"}
                conn.execute(update(t.slot).where(t.slot.c.id == row["id"]).values(**values))


def import_ndjson(
    change: Change,
    lines: bytes | Iterable[bytes],
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dict[str, int]:
    """Imports FHIR NDJSON (Locations, Practitioners, HealthcareServices, PractitionerRoles, Schedules,
    Slots, in any order and mix) all or nothing; returns how many of each type were written.

    Raises one `InvalidInput` with an issue per problem (`line 3: $.start`, `line 5: Schedule.actor[0]`)
    before anything is written. References may point at resources earlier or later in the same file.
    Slots are kept as hand-made slots (regeneration never touches them).
    """
    decoded, issues = _decode_lines(lines, max_line_bytes)
    seen: dict[tuple[str, str], int] = {}
    known: dict[str, set[str]] = {}
    unique: list[tuple[int, Resource]] = []
    for line, resource in decoded:
        key = (type(resource).__name__, resource.id)
        if key in seen:
            issues.append(
                Issue(
                    f"line {line}: {key[0]}/{key[1]} appears again (first on line {seen[key]})",
                    expression=(f"line {line}: $.id",),
                )
            )
            continue
        seen[key] = line
        known.setdefault(key[0], set()).add(key[1])
        unique.append((line, resource))
    ref_issues = missing_reference_issues(change.conn, [r for _, r in unique], known)
    for (line, _), found in zip(unique, ref_issues, strict=True):
        issues.extend(_line_issue(line, i) for i in found)
    if issues:
        bad_lines = len({i.expression[0].split(":")[0] for i in issues if i.expression})
        shown = sorted(issues, key=lambda i: _line_number(i))[:MAX_IMPORT_ISSUES]
        raise InvalidInput(f"{bad_lines} line(s) of the import are invalid; nothing was imported", issues=shown)
    counts = dict.fromkeys(TYPE_ORDER, 0)
    regen: set[str] = set()
    slots: list[Slot] = []
    for _, resource in sorted(unique, key=lambda item: TYPE_ORDER[type(item[1]).__name__]):
        rtype = type(resource).__name__
        counts[rtype] += 1
        if isinstance(resource, Slot):
            slots.append(resource)
            continue
        try:
            _, more = write_resource(change, resource)
        except InvalidInput as exc:
            line = seen[(rtype, resource.id)]
            raise InvalidInput(
                f"line {line}: {exc.message}; nothing was imported",
                issues=[_line_issue(line, i) for i in exc.issues],
            ) from None
        regen |= more
    _write_slots(change, slots)
    regenerate_schedules(change, regen, horizon_days)
    return counts


def _line_number(issue: Issue) -> int:
    head = issue.expression[0] if issue.expression else ""
    match = re.match(r"line (\d+)", head)
    return int(match.group(1)) if match else 0
