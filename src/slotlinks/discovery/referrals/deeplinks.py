"""Deep links: from a search result to the publisher's booking portal, with a stale-slot check.

Spec, "Deep links": the portal owns the URL in `booking-deep-link`; the client appends `source` (who
referred: settings.source_id) and `booking-referral` (a handle for this one referral), parsing the URL
since it may already carry a query. Each referral is recorded (`referral` table) so the outcome can be
matched later (SPEC-NOTES, "UX problems" 3).

Stale slots (SPEC-NOTES, "UX problems" 2): just before redirecting, when the publisher offers FHIR
read (its manifest URL minus `$bulk-publish`, plus `/Slot/{id}`), the slot is re-read with a short
timeout. When the publisher answers that the slot is no longer free, the patient sees the next free
times at the same location and nearby instead of a dead end; when it cannot be reached in time, has no
FHIR read, or answers anything else, the redirect proceeds. The re-read goes only to http(s) URLs on
the manifest's own origin and, unless settings.allow_private_networks, never to private, loopback or
link-local addresses (the guarded client, `slotlinks.net.client`, checks the resolved addresses
before connecting).

Only http(s) booking links are ever rendered or followed.

Patients have no account: the browser keeps the ids of its referrals in a signed cookie
(`slotlinks_referrals`: the ids joined by `.`, then an HMAC-SHA256 over them; HttpOnly, SameSite=Lax),
which `/my-referrals` and the result pages read (outcomes.py). A cookie whose signature does not match
is ignored as a whole. The key is `settings.extra["referral_cookie_secret"]` when given (16+
characters), else the random one migration 0002 stored in `discovery_setting`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

import msgspec
import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response

from slotlinks.config import Settings
from slotlinks.discovery.geo import Point
from slotlinks.discovery.ingest.partitions import of_generation, partitioned, slot_by_pk
from slotlinks.discovery.search.execute import LocationResult, local_instant, search, service_names, zone_named
from slotlinks.discovery.search.query import DEFAULT_DAYS, DEFAULT_RADIUS_MILES, SearchRequest
from slotlinks.discovery.store import tables as t
from slotlinks.fhir.ids import is_valid_id
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.fhir.urls import http_url_parts, is_booking_link
from slotlinks.net.client import Reply, guarded_get
from slotlinks.web.i18n import DEFAULT_LANGUAGE

__all__ = [
    "MAX_COOKIE_REFERRALS",
    "REFERRAL_COOKIE",
    "REREAD_TIMEOUT",
    "SlotTarget",
    "add_referral_cookie",
    "alternatives",
    "build_deep_link",
    "cookie_key",
    "fhir_read_url",
    "is_bookable_link",
    "is_known_referral",
    "is_referral_id",
    "link_origin",
    "load_slot",
    "new_referral_id",
    "prune_referrals",
    "read_referral_cookie",
    "record_referral",
    "referral_search",
    "sign_referrals",
    "still_free",
]

REREAD_TIMEOUT = 1.5
_OURS = {"source", "booking-referral"}
_MAX_BODY = 256 * 1024
REFERRAL_COOKIE = "slotlinks_referrals"
COOKIE_SECRET_SETTING = "referral_cookie_secret"  # noqa: S105  (a setting key, not a secret)
MAX_COOKIE_REFERRALS = 20  # the newest are kept; the cookie stays well under 1 KB
COOKIE_MAX_AGE = 90 * 86_400
_REFERRAL_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def is_bookable_link(url: str | None) -> bool:
    """True only for links the kernel's booking-link rule accepts (absolute http(s) URLs with a host, no
    user-info, not over-long): nothing else is rendered or followed, whatever an older load stored."""
    return url is not None and is_booking_link(url.strip())


def new_referral_id() -> str:
    """A new unique, unguessable `booking-referral` value (128 random bits)."""
    return secrets.token_urlsafe(16)


def is_referral_id(value: str | None) -> bool:
    """True for a value shaped like our referral ids (`new_referral_id`): 16-64 URL-safe characters."""
    return bool(value) and _REFERRAL_ID.match(value or "") is not None


def link_origin(url: str | None) -> str | None:
    """`scheme://host[:port]` of an http(s) URL (where a portal's `/referrals/{id}` lives), else None."""
    if not url or not is_bookable_link(url):
        return None
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.rsplit("@", 1)[-1].lower(), "", "", ""))


# --- the browser's referral cookie ---------------------------------------------------------------


def cookie_key(settings: Settings, conn: Connection) -> bytes:
    """The referral cookie's HMAC key: from settings (`extra["referral_cookie_secret"]`) or stored."""
    configured = settings.extra.get(COOKIE_SECRET_SETTING)
    if isinstance(configured, str) and len(configured) >= 16:
        return configured.encode()
    stored = conn.execute(
        select(t.discovery_setting.c.value).where(t.discovery_setting.c.key == COOKIE_SECRET_SETTING)
    ).scalar_one_or_none()
    if not stored:
        raise RuntimeError("the discovery database has no referral cookie secret (migration 0002 makes one)")
    return str(stored).encode()


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, b"referrals:" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_referrals(key: bytes, referrals: list[str]) -> str:
    """The cookie value for these referral ids (newest last; at most MAX_COOKIE_REFERRALS kept)."""
    payload = ".".join(r for r in referrals[-MAX_COOKIE_REFERRALS:] if is_referral_id(r))
    return f"{payload}~{_signature(key, payload)}"


def read_referral_cookie(key: bytes, value: str | None) -> list[str]:
    """The referral ids in a cookie value, or [] when it is missing, malformed or its signature is wrong."""
    if not value or len(value) > 4096 or "~" not in value:
        return []
    payload, _, signature = value.rpartition("~")
    if not hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
        return []
    ids = [r for r in payload.split(".") if r]
    return ids if all(is_referral_id(r) for r in ids) else []


def add_referral_cookie(
    response: Response, *, key: bytes, current: str | None, referral: str, secure: bool
) -> list[str]:
    """Adds `referral` to the browser's signed referral list (keeping a valid current one) on `response`."""
    ids = [r for r in read_referral_cookie(key, current) if r != referral]
    ids.append(referral)
    ids = ids[-MAX_COOKIE_REFERRALS:]
    response.set_cookie(
        REFERRAL_COOKIE,
        sign_referrals(key, ids),
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return ids


def build_deep_link(booking_link: str, *, source: str, referral: str, language: str | None = None) -> str:
    """The booking link with `source` and `booking-referral` appended (spec "Deep links"), and `lang`
    when the patient reads another language than English, so a portal that speaks it (ours does)
    greets them in it; portals that do not simply ignore it (a `lang` the publisher wrote is theirs,
    and stays alone).

    The publisher's own query parameters are kept exactly as written; any `source` or
    `booking-referral` already there is replaced by ours. Raises ValueError for non-http(s) links.
    """
    if not is_bookable_link(booking_link):
        raise ValueError("only http(s) booking links can be followed")
    parts = urlsplit(booking_link.strip())
    kept = [piece for piece in parts.query.split("&") if piece and unquote_plus(piece.split("=", 1)[0]) not in _OURS]
    ours = [("source", source), ("booking-referral", referral)]
    publishers = {unquote_plus(piece.split("=", 1)[0]) for piece in kept}
    if language and language != DEFAULT_LANGUAGE and "lang" not in publishers:
        ours.append(("lang", language))
    kept.append(urlencode(ours))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


@dataclass(frozen=True, slots=True)
class SlotTarget:
    """A slot a deep link points at, with what the redirect and the stale check need."""

    pk: int
    source_id: str
    start_ms: int
    status: str
    capacity: int
    booking_link: str | None
    booking_phone: str | None
    publisher_id: int
    publisher_name: str
    manifest_url: str
    schedule_codes: str
    location_pk: int | None
    location_name: str | None
    latitude: float | None
    longitude: float | None
    tz: str | None
    location_source_id: str | None = None
    service: str | None = None  # what the time is for, as the results name it
    practitioner: str | None = None


def _target_query() -> Any:
    sl, sc, loc, p = t.slot, t.schedule, t.location, t.publisher
    return (
        select(
            sl.c.pk,
            sl.c.source_id,
            sl.c.start_ms,
            sl.c.status,
            sl.c.capacity,
            sl.c.booking_link,
            sl.c.booking_phone,
            sl.c.publisher_id,
            sl.c.generation,
            p.c.generation.label("current_generation"),
            p.c.name.label("publisher_name"),
            p.c.url.label("manifest_url"),
            sc.c.codes,
            sc.c.pk.label("schedule_pk"),
            sc.c.service_text,
            sc.c.practitioner_display,
            loc.c.pk.label("location_pk"),
            loc.c.source_id.label("location_source_id"),
            loc.c.name.label("location_name"),
            loc.c.latitude,
            loc.c.longitude,
            loc.c.tz,
        )
        .join(p, p.c.id == sl.c.publisher_id)
        .outerjoin(sc, sc.c.pk == sl.c.schedule_pk)
        .outerjoin(loc, loc.c.pk == sc.c.location_pk)
    )


def load_slot(conn: Connection, slot_pk: int) -> SlotTarget | None:
    """The visible slot `slot_pk`, or None. A slot of an older generation (the page that linked it
    was rendered before a refresh) resolves to the current generation's slot with the same source id
    and start, when there is one."""
    sl = t.slot
    found = slot_by_pk(conn, _target_query(), slot_pk)
    if found is None:
        return None
    row = found._mapping
    if row["generation"] != row["current_generation"]:
        current = (
            conn.execute(
                _target_query().where(
                    of_generation(sl, row["publisher_id"], row["current_generation"], by_partition=partitioned(conn)),
                    sl.c.source_id == row["source_id"],
                    sl.c.start_ms == row["start_ms"],
                )
            )
            .mappings()
            .first()
        )
        if current is None:
            return None
        row = current
    service = None
    if row["schedule_pk"] is not None:
        service = service_names(conn, [int(row["schedule_pk"])]).get(int(row["schedule_pk"]))
    return SlotTarget(
        pk=int(row["pk"]),
        source_id=row["source_id"],
        start_ms=int(row["start_ms"]),
        status=row["status"],
        capacity=int(row["capacity"]),
        booking_link=row["booking_link"],
        booking_phone=row["booking_phone"],
        publisher_id=int(row["publisher_id"]),
        publisher_name=row["publisher_name"],
        manifest_url=row["manifest_url"],
        schedule_codes=row["codes"] or "",
        location_pk=row["location_pk"],
        location_name=row["location_name"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        tz=row["tz"],
        location_source_id=row["location_source_id"],
        service=service or row["service_text"] or None,
        practitioner=row["practitioner_display"] or None,
    )


def record_referral(
    conn: Connection, target: SlotTarget, *, referral: str, link: str, now_ms: int, search_query: str | None = None
) -> None:
    """One `referral` row per deep link handed out: slot, publisher, time, service and clinician, the
    final link, where its outcome can be read (the booking link's origin), and the search whose
    results listed it (`search_query`, a query string of search parameters), for the way back."""
    conn.execute(
        t.referral.insert().values(
            id=referral,
            publisher_id=target.publisher_id,
            slot_source_id=target.source_id,
            slot_start_ms=target.start_ms,
            location_name=target.location_name,
            link=link,
            created_ms=now_ms,
            slot_pk=target.pk,
            slot_start=local_instant(target.start_ms, zone_named(target.tz)),
            portal_origin=link_origin(link),
            location_source_id=target.location_source_id,
            service=target.service,
            practitioner=target.practitioner,
            search_query=search_query or None,
        )
    )


def prune_referrals(conn: Connection, *, created_before_ms: int) -> int:
    """Delete the referrals handed out before `created_before_ms` (the retention the settings give);
    answers how many went. Every `/go` stores one, so only this keeps the table's size bounded."""
    result = conn.execute(t.referral.delete().where(t.referral.c.created_ms < created_before_ms))
    return int(result.rowcount or 0)


def is_known_referral(conn: Connection, referral: str) -> bool:
    """Whether `referral` is one of the deep links this server handed out (`record_referral`)."""
    return conn.execute(select(t.referral.c.id).where(t.referral.c.id == referral)).first() is not None


def referral_search(conn: Connection, referral: str) -> str | None:
    """The search whose results listed `referral`'s time (a query string of search parameters), or
    None when the referral is not ours or came from no search."""
    query = select(t.referral.c.search_query).where(t.referral.c.id == referral)
    found = conn.execute(query).scalar_one_or_none()
    return str(found) if found else None


def fhir_read_url(manifest_url: str, slot_id: str) -> str | None:
    """`<manifest URL minus $bulk-publish>/Slot/<id>`, or None when that cannot be built safely."""
    if not is_valid_id(slot_id) or slot_id in {".", ".."}:
        return None
    parts = http_url_parts(manifest_url)
    if parts is None:
        return None
    path = parts.path
    for suffix in ("$bulk-publish", "%24bulk-publish"):
        if path.endswith(suffix):
            base = path[: -len(suffix)].rstrip("/")
            return urlunsplit((parts.scheme, parts.netloc, f"{base}/Slot/{quote(slot_id, safe='')}", "", ""))
    return None


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


async def still_free(target: SlotTarget, *, settings: Settings, timeout: float = REREAD_TIMEOUT) -> bool | None:
    """Re-read the slot from the publisher's FHIR API: False when it answers that the slot is taken,
    True when it is still free, None when unknown (no FHIR read, unreachable, slow, or refused)."""
    url = fhir_read_url(target.manifest_url, target.source_id)
    if url is None or not _same_origin(url, target.manifest_url):
        return None
    return await _reread(url, target, settings, timeout)


async def _reread(url: str, target: SlotTarget, settings: Settings, timeout: float) -> bool | None:
    reply = await guarded_get(
        url,
        max_bytes=_MAX_BODY,
        timeout=timeout,
        allow_private_networks=settings.allow_private_networks,
        headers={"Accept": "application/fhir+json"},
    )
    if not isinstance(reply, Reply) or reply.status != 200:
        return None  # refused by the guard, unreachable, slow, too large, or no answer about the slot
    try:
        data = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("resourceType") != "Slot" or data.get("id") != target.source_id:
        return None
    # Feeds reuse one id for different slots: an answer about another start says nothing about ours.
    start = data.get("start")
    if isinstance(start, str):
        try:
            if instant_to_ms(start) != target.start_ms:
                return None
        except InvalidInstant:
            return None
    status = data.get("status")
    if not isinstance(status, str):
        return None
    return status == "free"


def alternatives(
    conn: Connection, target: SlotTarget, *, now_ms: int, link_base: str, per_location: int = 5
) -> tuple[list[LocationResult], list[LocationResult]]:
    """The next free times of the same service (schedules with the same codes) at the same location,
    and at up to five others nearby, for the page shown instead of a stale slot: never that slot
    itself, which our data may still hold as free when its publisher has just said it is taken."""
    window = SearchRequest(
        start_ms=now_ms,
        end_ms=now_ms + DEFAULT_DAYS * 86_400_000,
        tz=target.tz or "UTC",
        per_location=per_location,
        sort="soonest",
    )
    same: list[LocationResult] = []
    if target.location_pk is not None:
        here = window.with_changes(only_location_pk=target.location_pk, schedule_codes=target.schedule_codes)
        same = _without(search(conn, here, now_ms=now_ms, link_base=link_base), target)
    nearby: list[LocationResult] = []
    if target.latitude is not None and target.longitude is not None:
        near = window.with_changes(
            near=Point(target.latitude, target.longitude, target.tz),
            radius_miles=DEFAULT_RADIUS_MILES,
            schedule_codes=target.schedule_codes,
            sort="best",
            limit=6,
        )
        found = search(conn, near, now_ms=now_ms, link_base=link_base)
        nearby = [r for r in found if r.pk != target.location_pk][:5]
    return same, nearby


def _without(results: list[LocationResult], target: SlotTarget) -> list[LocationResult]:
    """`results` without the slot `target` (and the locations left with no time)."""
    kept = []
    for result in results:
        slots = [slot for slot in result.slots if slot.pk != target.pk]
        if slots:
            kept.append(msgspec.structs.replace(result, slots=slots))
    return kept
