"""Every conformance check, each declared (`@check`, `@resource_check`) on the function that performs it.

Grouped by what they check:

| module | checks |
|---|---|
| `manifest.py` | the `$bulk-publish` manifest document: URL, JSON types, `transactionTime`, outputs |
| `http.py` | a live publisher's HTTP: `Accept` headers, `Cache-Control`, validators, `_since` (live only) |
| `lines.py` | files and NDJSON lines: downloadable, one JSON object per line, `resourceType`, final newline |
| `resources.py` | every resource, both profiles: valid FHIR R4, unique ids, typed SMART extensions |
| `references.py` | references across files: Slot → Schedule, Schedule → actors |
| `slots.py` | every Slot, both profiles: status, start before end, booking link URL, length, offsets |
| `vaccine_2021.py` | the 2021 vaccine profiles (`--profile vaccine`): Location, Schedule and Slot rules |
| `general_2026.py` | the 2026 IG draft (`--profile general`): virtual services, NPIs |
| `profiles_2026.py` | the 2026 IG draft's six profiles as tables: each cardinality and binding one check |
| `json_rules.py` | FHIR JSON: no null or empty values (both profiles); known elements, shapes, primitive formats |

`REPORT_ORDER` is the order reports list them in; importing this package registers them all.
"""

from __future__ import annotations

from slotlinks.conformance.checks import (
    general_2026,
    http,
    json_rules,
    lines,
    manifest,
    profiles_2026,
    references,
    resources,
    slots,
    vaccine_2021,
)
from slotlinks.conformance.registry import Check, registered

__all__ = ["CHECKS", "REPORT_ORDER", "checks_for"]

#: Every check, in the order reports list them (grouped for the reader, not by module).
REPORT_ORDER: tuple[Check, ...] = tuple(
    checker.check
    for checker in (
        manifest.url_ends_bulk_publish,
        manifest.download,
        manifest.structure,
        manifest.transaction_time,
        manifest.request_url,
        manifest.output_url_absolute,
        manifest.output_types,
        manifest.unknown_output_type,
        manifest.state_extension,
        manifest.output_extension_keys,
        http.accept_manifest,
        http.accept_files,
        http.cache_control,
        http.conditional,
        http.since,
        lines.file_download,
        lines.json_object,
        lines.resource_type,
        lines.final_newline,
        resources.fhir_valid,
        resources.id_unique,
        resources.extension_value_type,
        json_rules.no_null,
        json_rules.no_empty,
        json_rules.known_elements,
        json_rules.element_shape,
        json_rules.primitive_format,
        slots.status,
        slots.start_before_end,
        references.slot_schedule_resolves,
        references.schedule_actors_resolve,
        slots.booking_link_url,
        slots.narrow_window,
        slots.longer_than_day,
        slots.local_offset,
        vaccine_2021.vaccine_location,
        vaccine_2021.phone_and_url,
        vaccine_2021.vtrcks,
        vaccine_2021.vtrcks_pin_format,
        vaccine_2021.vaccine_actor,
        vaccine_2021.vaccine_service_type,
        vaccine_2021.vaccine_product,
        vaccine_2021.vaccine_product_repeat,
        vaccine_2021.long_without_capacity,
        vaccine_2021.booking_link,
        vaccine_2021.booking_phone,
        general_2026.virtual_service,
        general_2026.npi,
    )
) + tuple(rule.check for rules in profiles_2026.RULES.values() for rule in rules)

if sorted(c.id for c in REPORT_ORDER) != sorted(registered()):
    # A check declared but not placed in the report order (or placed twice) would never be reported.
    raise RuntimeError("REPORT_ORDER must list every registered check exactly once")

#: Every check, by id, in report order.
CHECKS: dict[str, Check] = {c.id: c for c in REPORT_ORDER}


def checks_for(profile: str) -> list[Check]:
    """The checks a profile runs, in report order."""
    return [c for c in REPORT_ORDER if profile in c.profiles]
