"""The admin API's services: one store transaction per call over the records layer (`records`,
`schedule.slots`, `schedule.rules`, `importer`, `store.settings`) and the portal's questionnaires.

Routes (`routes`, `booking_routes`) only read the request, call one function here and send what it
returns; bodies are decoded, and answers shaped, by `wire`. FHIR resources go in and out as FHIR JSON
(spec "Location File", "Schedule File", "Slot File"; 2026 IG PractitionerRole, HealthcareService,
Practitioner); availability rules, closures and settings are plain JSON with camelCase fields.
"""

from __future__ import annotations

from typing import Any

import msgspec

from slotlinks.clock import now_ms as clock_ms
from slotlinks.config import Settings
from slotlinks.errors import Conflict, InvalidInput, NotFound
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.resources import Practitioner, Resource
from slotlinks.provider.admin.wire import (
    Page,
    audience_json,
    closure_json,
    decode_audience,
    decode_closure,
    decode_new_slot,
    decode_profile,
    decode_resource,
    decode_rule,
    decode_settings,
    decode_status,
    profile_json,
    regen_json,
    rule_json,
)
from slotlinks.provider.portal.questionnaires import delete_questionnaire, put_questionnaire, read_questionnaire
from slotlinks.provider.records import importer
from slotlinks.provider.records import resources as records
from slotlinks.provider.records.audience import owner_audience
from slotlinks.provider.records.audience_store import set_audience
from slotlinks.provider.records.practitioner_profile import profile_of, set_profile
from slotlinks.provider.schedule import rules as ruleset
from slotlinks.provider.schedule import slots
from slotlinks.provider.store.settings import provider_settings, set_portal_url, set_provider_name
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "audience",
    "create_resource",
    "create_slot",
    "deactivate_resource",
    "delete_closure",
    "delete_rule",
    "import_file",
    "list_closures",
    "list_rules",
    "patch_slot",
    "practitioner_profile",
    "put_resource",
    "questionnaire",
    "read_resource",
    "read_settings",
    "regenerate_all",
    "remove_questionnaire",
    "save_audience",
    "save_closure",
    "save_practitioner_profile",
    "save_questionnaire",
    "save_rule",
    "searchset",
    "slot_bytes",
    "write_settings",
]


# --- resources -------------------------------------------------------------------------------------


def searchset(*, store: ProviderStore, rtype: str, page: Page, base_url: str) -> bytes:
    """A FHIR `searchset` Bundle of one page of stored resources, with self/next links."""
    with store.read() as conn:
        total = records.count_resources(conn, rtype, active_only=page.active_only)
        found = records.list_resources(conn, rtype, active_only=page.active_only, limit=page.count, offset=page.offset)
    base = base_url.rstrip("/")
    query = f"_count={page.count}" + ("&active=true" if page.active_only else "")
    links = [{"relation": "self", "url": f"{base}/{rtype}?{query}&_offset={page.offset}"}]
    if page.offset + page.count < total and page.count:
        links.append({"relation": "next", "url": f"{base}/{rtype}?{query}&_offset={page.offset + page.count}"})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [{"fullUrl": f"{base}/{rtype}/{r.id}", "resource": r, "search": {"mode": "match"}} for r in found],
    }
    return msgspec.json.encode(bundle)


def read_resource(*, store: ProviderStore, rtype: str, rid: str) -> Resource:
    with store.read() as conn:
        return records.get_resource(conn, rtype, rid)


def create_resource(*, store: ProviderStore, settings: Settings, rtype: str, body: bytes) -> Resource:
    """POST: the id comes from the body; an existing id is a Conflict."""
    resource = decode_resource(body, rtype)
    with store.change() as change:
        try:
            records.get_resource(change.conn, rtype, resource.id)
        except NotFound:
            return records.put_resource(change, resource, horizon_days=settings.horizon_days)
        # Raised inside the transaction, so it rolls back and the data set's version does not move.
        raise Conflict(f"{rtype}/{resource.id} already exists; use PUT to replace it", expression=[f"{rtype}.id"])


def put_resource(
    *, store: ProviderStore, settings: Settings, rtype: str, rid: str, body: bytes
) -> tuple[Resource, bool]:
    """PUT: create or replace; returns the stored resource and whether it was created."""
    resource = decode_resource(body, rtype, rid)
    with store.change() as change:
        try:
            records.get_resource(change.conn, rtype, rid)
            created = False
        except NotFound:
            created = True
        return records.put_resource(change, resource, horizon_days=settings.horizon_days), created


def deactivate_resource(*, store: ProviderStore, settings: Settings, rtype: str, rid: str) -> Resource:
    with store.change() as change:
        return records.deactivate(change, rtype, rid, horizon_days=settings.horizon_days)


# --- slots -----------------------------------------------------------------------------------------


def slot_bytes(*, store: ProviderStore, slot_id: str) -> bytes:
    """The Slot as the publication renders it."""
    with store.read() as conn:
        portal = provider_settings(store, conn).portal_url
        now_ms = clock_ms(store.clock)
        return slots.slot_json(conn, slot_id, portal_url=portal, now_ms=now_ms)


def create_slot(*, store: ProviderStore, body: bytes) -> tuple[str, bytes]:
    """A slot made by hand from a FHIR Slot (id optional; capacity from slot-capacity)."""
    slot, given_id = decode_new_slot(body)
    schedule = slot.schedule.reference or ""
    schedule_id = schedule.rsplit("/", 1)[-1]
    capacity = ext.slot_capacity(slot)
    with store.change() as change:
        made = slots.create_slot(
            change,
            schedule_id,
            slot.start,
            slot.end,
            slot.status,
            1 if capacity is None else capacity,
            slot_id=given_id,
        )
    return made.id, slot_bytes(store=store, slot_id=made.id)


def patch_slot(*, store: ProviderStore, slot_id: str, body: bytes) -> bytes:
    status = decode_status(body)
    with store.change() as change:
        slots.set_slot_status(change, slot_id, status)
    return slot_bytes(store=store, slot_id=slot_id)


# --- rules and closures ----------------------------------------------------------------------------


def list_rules(*, store: ProviderStore, schedule_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [rule_json(r) for r in ruleset.list_rules(conn, schedule_id)]


def save_rule(
    *, store: ProviderStore, settings: Settings, schedule_id: str, body: bytes, rule_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """POST (no `rule_id`: create, id from the body or made up) or PUT (create or replace)."""
    body_id, spec = decode_rule(body)
    if rule_id is not None and body_id not in (None, rule_id):
        raise InvalidInput(f"the body's id {body_id!r} does not match the address's id {rule_id!r}", expression=["id"])
    with store.change() as change:
        if rule_id is None:
            made = ruleset.create_rule(change, schedule_id, spec, rule_id=body_id, horizon_days=settings.horizon_days)
            return rule_json(made), True
        existed = any(r.id == rule_id for r in ruleset.list_rules(change.conn, schedule_id, active_only=False))
        made = ruleset.put_rule(change, schedule_id, spec, rule_id=rule_id, horizon_days=settings.horizon_days)
        return rule_json(made), not existed


def delete_rule(*, store: ProviderStore, settings: Settings, schedule_id: str, rule_id: str) -> dict[str, Any]:
    with store.change() as change:
        return rule_json(ruleset.deactivate_rule(change, schedule_id, rule_id, horizon_days=settings.horizon_days))


def list_closures(*, store: ProviderStore, schedule_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [closure_json(c) for c in ruleset.list_closures(conn, schedule_id)]


def save_closure(
    *, store: ProviderStore, settings: Settings, schedule_id: str, body: bytes, closure_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    body_id, spec = decode_closure(body)
    if closure_id is not None and body_id not in (None, closure_id):
        raise InvalidInput(
            f"the body's id {body_id!r} does not match the address's id {closure_id!r}", expression=["id"]
        )
    with store.change() as change:
        if closure_id is None:
            made = ruleset.create_closure(
                change, schedule_id, spec, closure_id=body_id, horizon_days=settings.horizon_days
            )
            return closure_json(made), True
        existed = any(c.id == closure_id for c in ruleset.list_closures(change.conn, schedule_id, active_only=False))
        made = ruleset.put_closure(change, schedule_id, spec, closure_id=closure_id, horizon_days=settings.horizon_days)
        return closure_json(made), not existed


def delete_closure(*, store: ProviderStore, settings: Settings, schedule_id: str, closure_id: str) -> dict[str, Any]:
    with store.change() as change:
        return closure_json(
            ruleset.deactivate_closure(change, schedule_id, closure_id, horizon_days=settings.horizon_days)
        )


# --- import, settings, regeneration ----------------------------------------------------------------


def import_file(*, store: ProviderStore, settings: Settings, body: bytes) -> dict[str, Any]:
    """All-or-nothing NDJSON import; counts per type written."""
    with store.change() as change:
        counts = importer.import_ndjson(change, body, horizon_days=settings.horizon_days)
    return {"imported": counts, "total": sum(counts.values())}


def read_settings(*, store: ProviderStore) -> dict[str, str]:
    with store.read() as conn:
        current = provider_settings(store, conn)
    return {"portalUrl": current.portal_url, "name": current.name}


def write_settings(*, store: ProviderStore, body: bytes) -> dict[str, str]:
    portal_url, name = decode_settings(body)
    with store.change() as change:
        if portal_url is not None:
            set_portal_url(change, portal_url, store=store)
        if name is not None:
            set_provider_name(change, name, store=store)
    return read_settings(store=store)


def regenerate_all(*, store: ProviderStore, settings: Settings) -> dict[str, int]:
    with store.change() as change:
        return regen_json(ruleset.regenerate_all(change, horizon_days=settings.horizon_days))


# --- questionnaires --------------------------------------------------------------------------------


def questionnaire(*, store: ProviderStore, owner_type: str, owner_id: str) -> dict[str, Any]:
    """The Questionnaire kept for a Schedule or HealthcareService (`NotFound` when it has none)."""
    with store.read() as conn:
        return read_questionnaire(conn, owner_type, owner_id)


def save_questionnaire(*, store: ProviderStore, owner_type: str, owner_id: str, body: bytes) -> dict[str, Any]:
    """Creates or replaces the owner's Questionnaire, checked with its eligibility rules; returns it as kept."""
    with store.change() as change:
        kept = put_questionnaire(change, owner_type, owner_id, body)
        records.refresh_audience(change, owner_type, owner_id)
        return kept


def remove_questionnaire(*, store: ProviderStore, owner_type: str, owner_id: str) -> None:
    """Forgets the owner's Questionnaire: its slots are booked without questions."""
    with store.change() as change:
        delete_questionnaire(change, owner_type, owner_id)
        records.refresh_audience(change, owner_type, owner_id)


# --- who may book, and what clinicians publish about themselves ------------------------------------


def audience(*, store: ProviderStore, owner_type: str, owner_id: str) -> dict[str, Any]:
    """Who may book the owner's slots, as its questionnaire decides (`records.audience`)."""
    with store.read() as conn:
        records.get_resource(conn, owner_type, owner_id)  # NotFound for an unknown owner
        return audience_json(owner_audience(conn, owner_type, owner_id))


def save_audience(*, store: ProviderStore, owner_type: str, owner_id: str, body: bytes) -> dict[str, Any]:
    """Sets who may book: rewrites the deciding questions of the questionnaire and republishes."""
    wanted = decode_audience(body)
    with store.change() as change:
        return audience_json(set_audience(change, owner_type, owner_id, wanted))


def practitioner_profile(*, store: ProviderStore, practitioner_id: str) -> dict[str, Any]:
    with store.read() as conn:
        found = records.get_resource(conn, "Practitioner", practitioner_id)
    assert isinstance(found, Practitioner)
    return profile_json(profile_of(found))


def save_practitioner_profile(*, store: ProviderStore, practitioner_id: str, body: bytes) -> dict[str, Any]:
    languages, gender = decode_profile(body)
    with store.change() as change:
        return profile_json(set_profile(change, practitioner_id, languages, gender))
