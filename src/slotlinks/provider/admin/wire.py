"""The admin API's wire format: the bearer token, request bodies decoded by the kernel (so every error
names its field), the paging parameters, and the plain JSON it answers with.

FHIR resources go in as FHIR JSON and are checked by `fhir.validate` (spec "Location File", "Schedule
File", "Slot File"; 2026 IG PractitionerRole, HealthcareService, Practitioner); availability rules,
closures, a slot's status and the settings are plain JSON with camelCase fields, refused with the
path of the first field that is wrong. Nothing here reads or writes the store (`api` does).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import orjson

from slotlinks.config import Settings
from slotlinks.errors import InvalidInput, Unauthorized
from slotlinks.fhir.ndjson import split_error_path
from slotlinks.fhir.resources import Resource, Slot
from slotlinks.fhir.validate import decode_and_validate
from slotlinks.provider.records.audience import Audience, Patients
from slotlinks.provider.records.practitioner_profile import Gender, PractitionerProfile
from slotlinks.provider.schedule.regenerate import RegenStats
from slotlinks.provider.schedule.rules import ClosureRecord, ClosureSpec, RuleRecord, RuleSpec

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "Page",
    "audience_json",
    "closure_json",
    "decode_audience",
    "decode_closure",
    "decode_new_slot",
    "decode_profile",
    "decode_resource",
    "decode_rule",
    "decode_settings",
    "decode_status",
    "json_bytes",
    "parse_page",
    "profile_json",
    "regen_json",
    "require_token",
    "rule_json",
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
    """A plain JSON answer's body."""
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


class _AudienceBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    patients: Patients = "all"
    referralRequired: bool = False  # noqa: N815
    minAge: int | None = None  # noqa: N815
    maxAge: int | None = None  # noqa: N815


class _ProfileBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    languages: list[str] = []
    gender: Gender | None = None


def decode_audience(body: bytes) -> Audience:
    """`{"patients", "referralRequired", "minAge", "maxAge"}`; an absent field is the open default."""
    b = _decode_json(body, _AudienceBody)
    return Audience(b.patients, b.referralRequired, b.minAge, b.maxAge)


def audience_json(audience: Audience) -> dict[str, Any]:
    return {
        "patients": audience.patients,
        "referralRequired": audience.referral,
        "minAge": audience.min_age,
        "maxAge": audience.max_age,
    }


def decode_profile(body: bytes) -> tuple[list[str], Gender | None]:
    """`{"languages": [BCP-47 codes], "gender": ...}`; no gender: none is published."""
    b = _decode_json(body, _ProfileBody)
    return b.languages, b.gender


def profile_json(profile: PractitionerProfile) -> dict[str, Any]:
    return {"languages": list(profile.languages), "gender": profile.gender}


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


# --- paging ----------------------------------------------------------------------------------------


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


# --- slots -----------------------------------------------------------------------------------------


def decode_new_slot(body: bytes) -> tuple[Slot, str | None]:
    """A FHIR Slot made by hand, and the id it was given (None: the store makes one)."""
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
