"""References between the descriptive resources we keep, and the check that each one points at something we hold.

Specification, "Schedule File": a Schedule's `actor` references its Location (2026 IG: or its
PractitionerRole, HealthcareService); "Slot File": a Slot's `schedule` its Schedule. The provider store
refuses a resource that points at a Location, Practitioner, PractitionerRole, HealthcareService or
Schedule it does not hold (or that the same import does not bring).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, select

from slotlinks.errors import Issue
from slotlinks.fhir.ids import InvalidReference, parse_reference
from slotlinks.fhir.resources import HealthcareService, Location, PractitionerRole, Reference, Resource, Schedule, Slot
from slotlinks.provider.store import tables as t

__all__ = ["missing_reference_issues", "reference_target", "references_of"]


def references_of(resource: Resource) -> Iterator[tuple[str, Reference]]:
    """(expression, reference) for every reference to a type we store."""
    name = type(resource).__name__
    if isinstance(resource, Schedule):
        for i, ref in enumerate(resource.actor):
            yield f"{name}.actor[{i}]", ref
    elif isinstance(resource, Slot):
        yield f"{name}.schedule", resource.schedule
    elif isinstance(resource, PractitionerRole):
        if resource.practitioner is not None:
            yield f"{name}.practitioner", resource.practitioner
        for i, ref in enumerate(resource.location):
            yield f"{name}.location[{i}]", ref
        for i, ref in enumerate(resource.healthcareService):
            yield f"{name}.healthcareService[{i}]", ref
    elif isinstance(resource, HealthcareService):
        for i, ref in enumerate(resource.location):
            yield f"{name}.location[{i}]", ref
    elif isinstance(resource, Location) and resource.partOf is not None:
        yield f"{name}.partOf", resource.partOf


def reference_target(ref: Reference) -> tuple[str, str] | None:
    """`(type, id)` of a literal reference to a type we keep; None for any other (or an unreadable) one."""
    if ref.reference is None:
        return None
    try:
        parsed = parse_reference(ref.reference)
    except InvalidReference:
        return None  # validate_resource reports the shape
    if parsed.type not in t.RESOURCE_TABLES:
        return None
    return parsed.type, parsed.id


def _existing_ids(conn: Connection, rtype: str, ids: Iterable[str]) -> set[str]:
    table = t.RESOURCE_TABLES[rtype]
    wanted = sorted(set(ids))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars())
    return found


def missing_reference_issues(
    conn: Connection, resources: Sequence[Resource], known: Mapping[str, set[str]] | None = None
) -> list[list[Issue]]:
    """For each resource, an issue per reference to a Location, Practitioner, PractitionerRole,
    HealthcareService or Schedule that is neither in the store nor in `known`."""
    wanted: dict[str, set[str]] = {}
    for resource in resources:
        for _, ref in references_of(resource):
            target = reference_target(ref)
            if target is not None:
                wanted.setdefault(target[0], set()).add(target[1])
    present = {rtype: _existing_ids(conn, rtype, ids) for rtype, ids in wanted.items()}
    if known:
        for rtype, ids in known.items():
            present.setdefault(rtype, set()).update(ids)
    out: list[list[Issue]] = []
    for resource in resources:
        issues = []
        for expression, ref in references_of(resource):
            target = reference_target(ref)
            if target is not None and target[1] not in present.get(target[0], set()):
                issues.append(
                    Issue(
                        f"{expression} points at {target[0]}/{target[1]}, which does not exist here",
                        expression=(expression,),
                    )
                )
        out.append(issues)
    return out
