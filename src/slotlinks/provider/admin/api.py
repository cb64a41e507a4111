"""The staff/admin API's services: the bearer-token check, request bodies decoded by the kernel (so every
error names its field), and one store transaction per call over the records layer (`records`, `slots`,
`ruleset`, `importer`, `provider_settings`).

Routes (`routes_admin`) only read the request, call one function here and send what it returns. FHIR
resources go in and out as FHIR JSON (spec "Location File", "Schedule File", "Slot File"; 2026 IG
PractitionerRole, HealthcareService, Practitioner); availability rules, closures and settings are plain
JSON with camelCase fields.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import orjson

from slotlinks.clock import now_ms as clock_ms
from slotlinks.config import Settings
from slotlinks.errors import Conflict, InvalidInput, NotFound, Unauthorized
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.ndjson import split_error_path
from slotlinks.fhir.resources import Resource, Slot
from slotlinks.fhir.validate import decode_and_validate
from slotlinks.provider.records import importer
from slotlinks.provider.records import resources as records
from slotlinks.provider.schedule import rules as ruleset
from slotlinks.provider.schedule import slots
from slotlinks.provider.schedule.regenerate import RegenStats
from slotlinks.provider.schedule.rules import ClosureRecord, ClosureSpec, RuleRecord, RuleSpec
from slotlinks.provider.store.settings import provider_settings, set_portal_url, set_provider_name
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "Page",
    "closure_json",
    "create_resource",
    "create_slot",
    "deactivate_resource",
    "decode_closure",
    "decode_resource",
    "decode_rule",
    "decode_settings",
    "decode_status",
    "delete_closure",
    "delete_rule",
    "import_file",
    "json_bytes",
    "list_closures",
    "list_rules",
    "parse_page",
    "patch_slot",
    "put_resource",
    "read_resource",
    "read_settings",
    "regen_json",
    "regenerate_all",
    "require_token",
    "rule_json",
    "save_closure",
    "save_rule",
    "searchset",
    "slot_bytes",
    "write_settings",
]

DEFAULT_COUNT = 100
MAX_COUNT = 1000

T = TypeVar("T")


def require_token(settings: Settings, authorization: str | None) -> None:
    """Accepts `Authorization: Bearer <settings.admin_token>` (compared in constant time); anything
    else, or an admin API without a configured token, is `Unauthorized`."""
    if not settings.admin_enabled:
        raise Unauthorized("the admin API is disabled: no admin token (16+ characters) is configured")
    scheme, _, token = (authorization or "").strip().partition(" ")
    given = token.strip().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given, settings.admin_token.encode()):
        raise Unauthorized("a valid admin token is required: Authorization: Bearer <token>")


def json_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


# --- bodies ----------------------------------------------------------------------------------------


class _RuleBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str | None = None
    weekdays: str
    start: str
    end: str
    slotMinutes: int  # noqa: N815
    capacity: int = 1
    validFrom: str | None = None  # noqa: N815
    validTo: str | None = None  # noqa: N815
    active: bool | None = None  # as read back; ignored


class _ClosureBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str | None = None
    day: str
    start: str | None = None
    end: str | None = None
    reason: str = ""
    active: bool | None = None


class _StatusBody(msgspec.Struct, forbid_unknown_fields=True):
    status: str


class _SettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    portalUrl: str | None = None  # noqa: N815
    name: str | None = None


def _decode_json(body: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        path, message = split_error_path(str(exc))
        field = path[2:] if path.startswith("$.") else path
        raise InvalidInput(message, expression=[field]) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None


def decode_rule(body: bytes) -> tuple[str | None, RuleSpec]:
    b = _decode_json(body, _RuleBody)
    return b.id, RuleSpec(b.weekdays, b.start, b.end, b.slotMinutes, b.capacity, b.validFrom, b.validTo)


def decode_closure(body: bytes) -> tuple[str | None, ClosureSpec]:
    b = _decode_json(body, _ClosureBody)
    return b.id, ClosureSpec(b.day, b.start, b.end, b.reason)


def decode_status(body: bytes) -> str:
    return _decode_json(body, _StatusBody).status


def decode_settings(body: bytes) -> tuple[str | None, str | None]:
    b = _decode_json(body, _SettingsBody)
    return b.portalUrl, b.name


def decode_resource(body: bytes, rtype: str, rid: str | None = None) -> Resource:
    """A FHIR resource of type `rtype` (and id `rid`, when given), validated by the kernel."""
    resource = decode_and_validate(body)
    found = type(resource).__name__
    if found != rtype:
        raise InvalidInput(f"the body is a {found}, but this address takes a {rtype}", expression=["resourceType"])
    if rid is not None and resource.id != rid:
        raise InvalidInput(
            f"the body's id {resource.id!r} does not match the address's id {rid!r}", expression=[f"{rtype}.id"]
        )
    return resource


def rule_json(rule: RuleRecord) -> dict[str, Any]:
    return {
        "id": rule.id,
        "schedule": f"Schedule/{rule.schedule_id}",
        "weekdays": rule.weekdays,
        "start": rule.start,
        "end": rule.end,
        "slotMinutes": rule.slot_minutes,
        "capacity": rule.capacity,
        "validFrom": rule.valid_from,
        "validTo": rule.valid_to,
        "active": rule.active,
    }


def closure_json(closure: ClosureRecord) -> dict[str, Any]:
    return {
        "id": closure.id,
        "schedule": f"Schedule/{closure.schedule_id}",
        "day": closure.day,
        "start": closure.start,
        "end": closure.end,
        "reason": closure.reason,
        "active": closure.active,
    }


def regen_json(stats: RegenStats) -> dict[str, int]:
    return {"added": stats.added, "updated": stats.updated, "removed": stats.removed, "keptBooked": stats.kept_booked}


# --- resources -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    active_only: bool
    count: int
    offset: int


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {raw!r}", expression=[name])
    return int(raw)


def parse_page(params: Mapping[str, str]) -> Page:
    """`active=true|false`, `_count` (1..1000, default 100) and `_offset`."""
    active = params.get("active")
    if active not in (None, "", "true", "false"):
        raise InvalidInput(f"active must be true or false, got {active!r}", expression=["active"])
    return Page(
        active_only=active == "true",
        count=_int_param(params, "_count", DEFAULT_COUNT, 0, MAX_COUNT),
        offset=_int_param(params, "_offset", 0, 0, 10**9),
    )


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


def _decode_new_slot(body: bytes) -> tuple[Slot, str | None]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a FHIR Slot object", expression=["Slot"])
    given = data.get("id")
    if given is None:
        data = {**data, "id": "new"}  # the store makes the id; the kernel requires one
    slot = decode_resource(orjson.dumps(data), "Slot")
    assert isinstance(slot, Slot)
    return slot, slot.id if given is not None else None


def slot_bytes(*, store: ProviderStore, slot_id: str) -> bytes:
    """The Slot as the publication renders it."""
    with store.read() as conn:
        portal = provider_settings(store, conn).portal_url
        now_ms = clock_ms(store.clock)
        return slots.slot_json(conn, slot_id, portal_url=portal, now_ms=now_ms)


def create_slot(*, store: ProviderStore, body: bytes) -> tuple[str, bytes]:
    """A slot made by hand from a FHIR Slot (id optional; capacity from slot-capacity)."""
    slot, given_id = _decode_new_slot(body)
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
