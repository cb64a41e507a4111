"""Referral outcomes: the answer to UX problem 3 ("the search tool does not learn whether the booking
succeeded, nor its final time and place"; SPEC-NOTES "Deep links": the portal may keep
`booking-referral` so the client can later learn the outcome).

Each referral (`source` + `booking-referral` from the deep link) has one outcome: `landed`, `held`,
`booked`, `cancelled` or `called-off` with a `reason` (`taken`, `ineligible`, `needs-call`,
`expired`, `released`), and the start, end and Location of the last slot it concerned. Never anything
that identifies the patient.

Sources (discovery clients) register through the admin API with a secret (kept as its SHA-256; it
must be 16+ characters, so a fast hash is enough) and a return URL. `GET /referrals/{id}` answers only
the source whose secret is presented: another source's referral and a wrong secret are the same 404.

The outcome log is not booking state and not published: a landing (a GET) and a refused hold write it
through `outcome_log`, a plain write transaction that does not bump the data-set version (which would
re-encode the publication for every visitor). Outcomes that go with a hold, booking or cancellation
are written inside that change's own transaction; a booking that finds its slot taken records its
called-off outcome in the attempt's own transaction too (`booking_store`), without a data-set bump.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import msgspec
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from slotlinks.db.engine import writing
from slotlinks.errors import InvalidInput, NotFound
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.urls import is_http_url
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore

__all__ = [
    "OUTCOMES",
    "clean_handle",
    "outcome_log",
    "put_source",
    "read_source",
    "record_landing",
    "record_outcome",
    "referral_status",
    "return_link",
    "source_for_secret",
]

OUTCOMES = ("landed", "held", "booked", "cancelled", "called-off")
_HANDLE = re.compile(r"^[A-Za-z0-9\-._~]{1,128}$")
MIN_SECRET_LENGTH = 16


def clean_handle(value: str | None, limit: int = 128) -> str | None:
    """`source` / `booking-referral` as kept: URL-safe and short, else dropped (never an error)."""
    if value and len(value) <= limit and _HANDLE.match(value):
        return value
    return None


@contextmanager
def outcome_log(store: ProviderStore) -> Iterator[Connection]:
    """A write transaction for the outcome log and audit rows only (no data-set bump)."""
    with writing(store.engine) as conn:
        yield conn


def _slot_place(conn: Connection, slot_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(t.slot.c.start, t.slot.c.end, t.schedule.c.location_id)
        .join(t.schedule, t.schedule.c.id == t.slot.c.schedule_id)
        .where(t.slot.c.id == slot_id)
    ).first()
    if row is None:
        return {"slot_id": slot_id}
    return {"slot_id": slot_id, "start": row.start, "end": row.end, "location_id": row.location_id}


def record_outcome(
    conn: Connection,
    *,
    source: str | None,
    referral: str | None,
    outcome: str,
    at_ms: int,
    reason: str | None = None,
    slot_id: str | None = None,
    hold_id: str | None = None,
    only_if_hold: str | None = None,
) -> None:
    """Sets a referral's outcome (inside the caller's write transaction). A `landed` never replaces
    a later outcome, a booking is replaced only by a cancellation or another booking, and with
    `only_if_hold` nothing changes unless the referral still concerns that hold."""
    if not referral:
        return
    source = source or ""
    r = t.referral.c
    values: dict[str, Any] = {"outcome": outcome, "reason": reason, "updated_ms": at_ms}
    if slot_id is not None:
        values.update(_slot_place(conn, slot_id))
    if hold_id is not None:
        values["hold_id"] = hold_id
    current = conn.execute(select(r.outcome, r.hold_id).where(r.source == source, r.id == referral)).first()
    if current is None:
        try:
            with conn.begin_nested():
                conn.execute(t.referral.insert().values(source=source, id=referral, created_ms=at_ms, **values))
            return
        except IntegrityError:  # a concurrent landing made it first
            current = conn.execute(select(r.outcome, r.hold_id).where(r.source == source, r.id == referral)).one()
    if outcome == "landed" and current.outcome != "landed":
        return
    if current.outcome == "booked" and outcome not in ("cancelled", "booked"):
        return
    if only_if_hold is not None and current.hold_id != only_if_hold:
        return
    conn.execute(update(t.referral).where(r.source == source, r.id == referral).values(**values))


def record_landing(
    *, store: ProviderStore, source: str | None, referral: str | None, slot_id: str | None, at_ms: int
) -> None:
    """A patient followed a deep link: the referral's `landed` outcome (`slot_id` None when the slot is
    gone), through `outcome_log`, since a landing is a GET and changes no booking state."""
    if not referral:
        return
    with outcome_log(store) as conn:
        record_outcome(conn, source=source, referral=referral, outcome="landed", at_ms=at_ms, slot_id=slot_id)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _SourceBody(msgspec.Struct, forbid_unknown_fields=True):
    secret: str
    returnUrl: str  # noqa: N815  (the API's JSON name)


def put_source(*, store: ProviderStore, source: str, body: bytes) -> dict[str, str]:
    """Registers (or updates) a referring source: `{"secret", "returnUrl"}`; the secret is kept hashed."""
    if clean_handle(source, 64) is None:
        raise InvalidInput(f"source {source!r} must be 1-64 URL-safe characters", expression=["source"])
    try:
        parsed = msgspec.json.decode(body, type=_SourceBody)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"invalid source: {exc}") from exc
    if len(parsed.secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(f"secret must be at least {MIN_SECRET_LENGTH} characters", expression=["secret"])
    if not is_http_url(parsed.returnUrl, allow_fragment=False):
        raise InvalidInput("returnUrl must be an absolute http(s) URL without a fragment", expression=["returnUrl"])
    digest = _secret_hash(parsed.secret)
    s = t.referral_source.c
    with store.change() as change:
        clash = change.conn.execute(select(s.source).where(s.secret_hash == digest, s.source != source)).first()
        if clash is not None:
            raise InvalidInput("that secret is already in use; choose a new random one", expression=["secret"])
        values = {"secret_hash": digest, "return_url": parsed.returnUrl, "last_updated": change.stamp_ms}
        if change.conn.execute(select(s.source).where(s.source == source)).first() is None:
            change.conn.execute(t.referral_source.insert().values(source=source, **values))
        else:
            change.conn.execute(update(t.referral_source).where(s.source == source).values(**values))
    return {"source": source, "returnUrl": parsed.returnUrl}


def read_source(*, store: ProviderStore, source: str) -> dict[str, str]:
    with store.read() as conn:
        row = conn.execute(select(t.referral_source).where(t.referral_source.c.source == source)).first()
    if row is None:
        raise NotFound(f"no source {source!r}")
    return {"source": row.source, "returnUrl": row.return_url}


def return_link(conn: Connection, source: str | None, referral: str | None) -> str | None:
    """ "Back to your search": the source's registered return URL (never one from the query string)
    carrying the referral id; None for an unregistered source."""
    if not source:
        return None
    url = conn.execute(
        select(t.referral_source.c.return_url).where(t.referral_source.c.source == source)
    ).scalar_one_or_none()
    if url is None:
        return None
    if not referral:
        return str(url)
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'booking-referral': referral})}"


def source_for_secret(conn: Connection, authorization: str | None) -> str | None:
    """The registered source whose secret is the `Authorization: Bearer` token, else None. Looked up
    by the secret's SHA-256, so no comparison of secrets leaks their characters through its timing."""
    scheme, _, secret = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    source = conn.execute(
        select(t.referral_source.c.source).where(t.referral_source.c.secret_hash == _secret_hash(secret.strip()))
    ).scalar_one_or_none()
    return None if source is None else str(source)


def referral_status(*, store: ProviderStore, at_ms: int, authorization: str | None, referral: str) -> dict[str, Any]:
    """The outcome JSON of one referral, for the source whose secret is the bearer token."""
    missing = NotFound(f"no referral {referral!r} for this source")
    with store.read() as conn:
        source = source_for_secret(conn, authorization)
        if source is None:
            raise missing
        r = t.referral.c
        row = conn.execute(select(t.referral).where(r.source == source, r.id == referral)).first()
        if row is None:
            raise missing
        outcome, reason = row.outcome, row.reason
        if outcome == "held" and row.hold_id:
            hold = conn.execute(select(t.hold.c.state, t.hold.c.expires_ms).where(t.hold.c.id == row.hold_id)).first()
            if hold is not None and (hold.state == "expired" or int(hold.expires_ms) <= at_ms):
                outcome, reason = "called-off", "expired"
        location = None
        if row.location_id:
            loc = conn.execute(
                select(t.location.c.name, t.location.c.resource).where(t.location.c.id == row.location_id)
            ).first()
            location = {"reference": f"Location/{row.location_id}"}
            if loc is not None:
                location["display"] = loc.name
    body: dict[str, Any] = {
        "bookingReferral": row.id,
        "source": source,
        "outcome": outcome,
        "updated": ms_to_instant(int(row.updated_ms)),
    }
    if reason:
        body["reason"] = reason
    if row.slot_id:
        body["slot"] = {"reference": f"Slot/{row.slot_id}"}
    if row.start:
        body["start"] = row.start
        body["end"] = row.end
    if location:
        body["location"] = location
    return body
