"""Referral outcomes: what happened after the hand-off (SPEC-NOTES, "UX problems" 3).

Each deep link `/go/{pk}` hands out a `booking-referral` id (deeplinks.py). The provider's portal keeps
the outcome of that referral and answers `GET {portal}/referrals/{id}` with
`Authorization: Bearer <secret>`, the secret this deployment registered with it as a source
(provider/referrals.py): `landed`, `held`, `booked`, `cancelled` or `called-off` with a `reason`, and the
final start and Location. Another source's referral and a wrong secret are the same 404.

`refresh_outcome` reads one referral's outcome and stores it in the `referral` row. The portal is the
publisher entry's `referral_portal` when set, else the origin of the booking link the referral
followed; the secret (`publisher.referral_secret`) is only ever sent to an origin the publisher's
sync may fetch from (its manifest's origin or its allowed hosts) or to its configured portal, so a
booking link elsewhere never receives it. Requests go through the guarded client (`slotlinks.net.client`)
with a short timeout and never follow redirects.

A `booked` (or `held`) outcome for a slot of capacity 1 marks that feed slot `busy`
(`busy-tentative`) in the publisher's current generation at once, so it drops out of results before
the next poll; a later cancellation or called-off hold puts back `free` on the slot it marked.

When outcomes are read: when the patient comes back (`GET /back`), when "my referrals" is shown (the
non-final ones, a few at a time), and by the sync loop (`refresh_pending`, referrals younger than a
day that are not final, and those a confirmed earlier-time offer is bound to, at any age, so that a
cancellation ends the offer: alerts/earlier.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Connection, and_, or_, select, update

from slotlinks.config import Settings
from slotlinks.discovery.ingest.partitions import slot_by_pk
from slotlinks.discovery.referrals.deeplinks import is_referral_id, link_origin
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.changes import mark_changed
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import Forbidden
from slotlinks.fhir.instant import InvalidInstant, instant_to_ms
from slotlinks.net.client import Reply, guarded_get
from slotlinks.net.guard import UrlPolicy

__all__ = [
    "FINAL_OUTCOMES",
    "OUTCOME_TIMEOUT",
    "ReferralView",
    "badge",
    "booked_locations",
    "load_referrals",
    "pending_referrals",
    "refresh_many",
    "refresh_outcome",
    "refresh_pending",
]

OUTCOME_TIMEOUT = 2.0
FINAL_OUTCOMES = frozenset({"cancelled", "called-off"})
KNOWN_OUTCOMES = frozenset({"landed", "held", "booked", "cancelled", "called-off"})
UNKNOWN = "unknown"  # the portal does not know the referral for us (wrong secret, another source)
PENDING_AGE_MS = 86_400_000
RECHECK_MS = 60_000  # the sync hook reads one referral's outcome at most once a minute
_MAX_BODY = 64 * 1024
_REASONS = {
    "taken": "time was taken",
    "ineligible": "not eligible",
    "expired": "hold expired",
    "needs-call": "the provider asks you to call",
    "released": "the time was released",
    "gone": "time is no longer offered",
}


@dataclass(frozen=True, slots=True)
class _Target:
    id: str
    publisher_id: int
    url: str  # {portal}/referrals/{id}
    secret: str


@dataclass(frozen=True, slots=True)
class _Answer:
    outcome: str
    reason: str | None = None
    start: str | None = None
    location_name: str | None = None
    location_id: str | None = None
    slot_id: str | None = None


def _portal(row: Any) -> str | None:
    """Where this referral's outcome is read, when the secret may be sent there."""
    if row.referral_portal:
        return str(row.referral_portal)  # set by an administrator: trusted as given
    origin = row.portal_origin or link_origin(row.link)
    if origin is None:
        return None
    policy = UrlPolicy.for_publisher(row.manifest_url, (row.allowed_hosts or "").split(","))
    try:
        policy.check(origin + "/", what="referral portal")
    except Forbidden:
        return None
    return str(origin)


def _target(conn: Connection, referral_id: str) -> _Target | None:
    r, p = t.referral, t.publisher
    row = conn.execute(
        select(
            r.c.id,
            r.c.link,
            r.c.portal_origin,
            p.c.id.label("publisher_id"),
            p.c.url.label("manifest_url"),
            p.c.allowed_hosts,
            p.c.referral_secret,
            p.c.referral_portal,
        )
        .join(p, p.c.id == r.c.publisher_id)
        .where(r.c.id == referral_id)
    ).first()
    if row is None or not row.referral_secret:
        return None
    portal = _portal(row)
    if portal is None:
        return None
    url = f"{portal.rstrip('/')}/referrals/{quote(row.id, safe='')}"
    return _Target(id=row.id, publisher_id=int(row.publisher_id), url=url, secret=str(row.referral_secret))


def _text(value: Any, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _parse(body: bytes, referral_id: str) -> _Answer | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("bookingReferral") not in (None, referral_id):
        return None
    outcome = data.get("outcome")
    if outcome not in KNOWN_OUTCOMES:
        return None
    start = _text(data.get("start"), 64)
    if start is not None:
        try:
            instant_to_ms(start)
        except InvalidInstant:
            start = None
    location: dict[str, Any] = data["location"] if isinstance(data.get("location"), dict) else {}
    reference = _text(location.get("reference"), 300) or ""
    slot: dict[str, Any] = data["slot"] if isinstance(data.get("slot"), dict) else {}
    slot_reference = _text(slot.get("reference"), 300) or ""
    return _Answer(
        outcome=str(outcome),
        reason=_text(data.get("reason"), 64),
        start=start,
        location_name=_text(location.get("display"), 300),
        location_id=reference.removeprefix("Location/") if reference.startswith("Location/") else None,
        slot_id=slot_reference.removeprefix("Slot/") if slot_reference.startswith("Slot/") else None,
    )


async def _fetch(target: _Target, settings: Settings, timeout: float) -> _Answer | None:
    """The portal's answer: an outcome, `unknown` (it does not know the referral for us), or None
    (unreachable, slow, refused by the guard, or an answer we cannot read: nothing changes)."""
    reply = await guarded_get(
        target.url,
        max_bytes=_MAX_BODY,
        timeout=timeout,
        allow_private_networks=settings.allow_private_networks,
        headers={"Authorization": f"Bearer {target.secret}", "Accept": "application/json"},
    )
    if not isinstance(reply, Reply):
        return None
    if reply.status in (401, 403, 404):
        return _Answer(outcome=UNKNOWN)
    if reply.status != 200:
        return None
    return _parse(reply.body, target.id)


def _current_slot(conn: Connection, publisher_id: int, source_id: str, start_ms: int) -> Any:
    sl, p = t.slot, t.publisher
    return conn.execute(
        select(sl.c.pk, sl.c.status, sl.c.capacity, sl.c.resource)
        .join(p, and_(p.c.id == sl.c.publisher_id, p.c.generation == sl.c.generation))
        .where(sl.c.publisher_id == publisher_id, sl.c.source_id == source_id, sl.c.start_ms == start_ms)
    ).first()


def _set_slot_status(conn: Connection, pk: int, resource: str, status: str, now_ms: int) -> None:
    try:
        data = orjson.loads(resource)
        if isinstance(data, dict):
            data["status"] = status
            resource = orjson.dumps(data).decode()
    except orjson.JSONDecodeError:
        pass
    change = update(t.slot).values(status=status, resource=resource, updated_ms=now_ms).returning(t.slot.c.publisher_id)
    changed = slot_by_pk(conn, change, pk)
    if changed is not None:
        mark_changed(conn, changed.publisher_id, now_ms)


def _apply(conn: Connection, referral_id: str, answer: _Answer | None, now_ms: int) -> str | None:
    """Stores the answer and keeps the local slot status in step; returns the stored outcome."""
    r = t.referral
    row = conn.execute(select(r).where(r.c.id == referral_id)).first()
    if row is None:
        return None
    if answer is None:
        conn.execute(update(r).where(r.c.id == referral_id).values(outcome_checked_ms=now_ms))
        return row.outcome  # type: ignore[no-any-return]
    values: dict[str, Any] = {"outcome": answer.outcome, "outcome_checked_ms": now_ms}
    if answer.outcome != UNKNOWN:
        values.update(outcome_detail=answer.reason, outcome_start=answer.start, outcome_location=answer.location_name)
        if answer.location_id:
            values["location_source_id"] = answer.location_id
    wanted = {"booked": "busy", "held": "busy-tentative"}.get(answer.outcome)
    if row.local_status and row.marked_slot_pk is not None and answer.outcome in FINAL_OUTCOMES:
        # Our mark is undone only where it still stands (a newer publication is authoritative).
        marked = slot_by_pk(conn, select(t.slot.c.pk, t.slot.c.status, t.slot.c.resource), row.marked_slot_pk)
        if marked is not None and marked.status == row.local_status:
            _set_slot_status(conn, int(marked.pk), marked.resource, "free", now_ms)
        values.update(local_status=None, marked_slot_pk=None)
    elif wanted is not None and row.publisher_id is not None:
        source_id, start_ms = row.slot_source_id, int(row.slot_start_ms)
        if answer.slot_id and answer.start:
            source_id, start_ms = answer.slot_id, instant_to_ms(answer.start)
        slot = _current_slot(conn, int(row.publisher_id), source_id, start_ms)
        if slot is not None and int(slot.capacity) == 1 and slot.status in ("free", "busy-tentative"):
            if slot.status != wanted:
                _set_slot_status(conn, int(slot.pk), slot.resource, wanted, now_ms)
            values.update(local_status=wanted, marked_slot_pk=int(slot.pk))
    conn.execute(update(r).where(r.c.id == referral_id).values(**values))
    return answer.outcome


async def refresh_outcome(
    store: DiscoveryStore, settings: Settings, referral_id: str, *, timeout: float = OUTCOME_TIMEOUT
) -> str | None:
    """Reads one referral's outcome from its publisher's portal and stores it; returns the outcome now
    stored (None when the referral is unknown here or was never reported; `unknown` when the portal
    does not know it for us). Without a stored secret for the publisher nothing is fetched."""
    if not is_referral_id(referral_id):
        return None

    def load() -> tuple[_Target | None, str | None]:
        with store.read() as conn:
            current = conn.execute(select(t.referral.c.outcome).where(t.referral.c.id == referral_id)).first()
            if current is None:
                return None, None
            return _target(conn, referral_id), current.outcome

    target, current = await asyncio.to_thread(load)
    if target is None:
        return current
    answer = await _fetch(target, settings, timeout)

    def save() -> str | None:
        with store.write() as conn:
            return _apply(conn, referral_id, answer, store.now_ms())

    return await asyncio.to_thread(save)


async def refresh_many(
    store: DiscoveryStore, settings: Settings, referral_ids: list[str], *, concurrency: int = 4
) -> int:
    """Refreshes these referrals, a few at a time; returns how many were asked about."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(referral_id: str) -> None:
        async with gate:
            await refresh_outcome(store, settings, referral_id)

    await asyncio.gather(*(one(r) for r in referral_ids))
    return len(referral_ids)


def pending_referrals(conn: Connection, *, now_ms: int, limit: int) -> list[str]:
    """Referrals younger than a day (or bound to a confirmed earlier-time offer) whose outcome is not
    final, of publishers we hold a secret for, not checked in the last minute; the least recently
    checked first."""
    r, p, a = t.referral, t.publisher, t.alert
    offers = select(a.c.referral_id).where(a.c.referral_id.is_not(None), a.c.confirmed_ms.is_not(None))
    query = (
        select(r.c.id)
        .join(p, p.c.id == r.c.publisher_id)
        .where(
            or_(r.c.created_ms >= now_ms - PENDING_AGE_MS, r.c.id.in_(offers)),
            or_(r.c.outcome.is_(None), r.c.outcome.not_in(sorted(FINAL_OUTCOMES))),
            p.c.referral_secret.is_not(None),
            or_(r.c.outcome_checked_ms.is_(None), r.c.outcome_checked_ms < now_ms - RECHECK_MS),
        )
        .order_by(r.c.outcome_checked_ms.is_not(None), r.c.outcome_checked_ms, r.c.created_ms)
        .limit(limit)
    )
    return [str(v) for v in conn.execute(query).scalars()]


async def refresh_pending(store: DiscoveryStore, settings: Settings, *, limit: int) -> int:
    """The sync loop's hook: reads the outcomes of up to `limit` pending referrals (see
    `pending_referrals`); returns how many were asked about."""

    def load() -> list[str]:
        with store.read() as conn:
            return pending_referrals(conn, now_ms=store.now_ms(), limit=limit)

    ids = await asyncio.to_thread(load)
    return await refresh_many(store, settings, ids) if ids else 0


# --- what the pages show ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralView:
    """One referral as "my referrals" shows it."""

    id: str
    outcome: str | None
    badge: str
    final: bool
    start: str | None  # the final start when booked, else the time the link was for (local offset)
    location: str | None
    publisher: str | None
    created_ms: int
    location_pk: int | None
    reason: str | None = None  # why a called-off referral was not booked (the portal's code)
    service: str | None = None
    practitioner: str | None = None
    tz: str | None = None  # the location's time zone, when it is still in current data


def badge(outcome: str | None, reason: str | None) -> str:
    """The words of a referral's badge."""
    if outcome == "booked":
        return "Booked"
    if outcome == "cancelled":
        return "Cancelled"
    if outcome == "called-off":
        return f"Not booked: {_REASONS.get(reason or '', 'not completed')}"
    if outcome == UNKNOWN:
        return "Outcome unknown"
    return "In progress"


def _location_pks(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, str | None]]:
    """Current-generation feed Location pks and time zones for (publisher id, Location source id) pairs."""
    if not keys:
        return {}
    loc, p = t.location, t.publisher
    rows = conn.execute(
        select(loc.c.pk, loc.c.publisher_id, loc.c.source_id, loc.c.tz)
        .join(p, and_(p.c.id == loc.c.publisher_id, p.c.generation == loc.c.generation))
        .where(or_(*(and_(loc.c.publisher_id == pid, loc.c.source_id == sid) for pid, sid in keys)))
    )
    return {(int(row.publisher_id), str(row.source_id)): (int(row.pk), row.tz) for row in rows}


def load_referrals(conn: Connection, referral_ids: list[str]) -> list[ReferralView]:
    """These referrals, newest first (ids not stored here are skipped)."""
    if not referral_ids:
        return []
    r, p = t.referral, t.publisher
    rows = list(
        conn.execute(
            select(r, p.c.name.label("publisher_name"))
            .outerjoin(p, p.c.id == r.c.publisher_id)
            .where(r.c.id.in_(referral_ids))
            .order_by(r.c.created_ms.desc())
        )
    )
    keys = {(int(row.publisher_id), str(row.location_source_id)) for row in rows if row.publisher_id is not None}
    pks = _location_pks(conn, {k for k in keys if k[1] != "None"})
    views = []
    for row in rows:
        booked = row.outcome == "booked"
        key = (int(row.publisher_id), str(row.location_source_id)) if row.publisher_id is not None else None
        place = pks.get(key) if key else None
        views.append(
            ReferralView(
                id=row.id,
                outcome=row.outcome,
                badge=badge(row.outcome, row.outcome_detail),
                final=row.outcome in FINAL_OUTCOMES,
                start=(row.outcome_start if booked and row.outcome_start else row.slot_start),
                location=(row.outcome_location if booked and row.outcome_location else row.location_name),
                publisher=row.publisher_name,
                created_ms=int(row.created_ms),
                location_pk=place[0] if place else None,
                tz=place[1] if place else None,
                reason=row.outcome_detail,
                service=row.service,
                practitioner=row.practitioner,
            )
        )
    return views


def booked_locations(conn: Connection, referral_ids: list[str]) -> dict[int, list[str]]:
    """Feed Location pk -> the booked start times (local offset) of these referrals there."""
    booked: dict[int, list[str]] = {}
    for view in load_referrals(conn, referral_ids):
        if view.outcome == "booked" and view.location_pk is not None:
            booked.setdefault(view.location_pk, []).append(view.start or "")
    return booked
