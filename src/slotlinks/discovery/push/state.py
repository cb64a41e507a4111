"""The push state of each publisher in the discovery store (`publisher_push`, one row per publisher).

No row means the publisher was never considered for push (no source secret, paused, or not yet
synced): its state shows as `none`. A row in state `none` says why (`error`) and when to look at the
publisher's metadata again (`next_attempt_ms`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select, update

from slotlinks.discovery.store import tables as t
from slotlinks.fhir.manifest import MANIFEST_NAME

__all__ = [
    "PUSH_STATES",
    "candidates",
    "fhir_base_of",
    "hash_secret",
    "load",
    "secret_matches",
    "start",
    "update_row",
]

PUSH_STATES = ("none", "requested", "active", "error")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(token: str, secret_hash: str | None) -> bool:
    """Whether bearer `token` is the secret whose hash is stored (compared in constant time)."""
    return secret_hash is not None and hmac.compare_digest(hash_secret(token).encode(), secret_hash.encode())


def fhir_base_of(manifest_url: str) -> str | None:
    """The FHIR base of a publisher: its manifest URL without `/$bulk-publish` (None when it has no such end)."""
    suffix = "/" + MANIFEST_NAME
    return manifest_url[: -len(suffix)] if manifest_url.endswith(suffix) else None


def candidates(conn: Connection) -> list[Row[Any]]:
    """Publishers push could serve (unpaused, synced at least once, a source secret stored), with their
    push row's columns (None when there is none yet). Rows of other publishers are returned too when
    their subscription is live, so the caller can take it down."""
    p, s = t.publisher, t.publisher_push
    query = (
        select(
            p.c.id,
            p.c.url,
            p.c.states,
            p.c.allowed_hosts,
            p.c.paused,
            p.c.generation,
            p.c.referral_secret,
            s.c.status,
            s.c.remote_id,
            s.c.heartbeat_seconds,
            s.c.created_ms,
            s.c.last_notification_ms,
            s.c.next_attempt_ms,
            s.c.failures,
        )
        .outerjoin(s, s.c.publisher_id == p.c.id)
        .where(
            (and_(p.c.paused.is_(False), p.c.generation > 0, p.c.referral_secret.is_not(None)))
            | s.c.status.in_(("requested", "active"))
        )
        .order_by(p.c.id)
    )
    return list(conn.execute(query))


def load(conn: Connection, publisher_id: int, *, for_update: bool = False) -> Row[Any] | None:
    query = select(t.publisher_push).where(t.publisher_push.c.publisher_id == publisher_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).first()


def start(conn: Connection, publisher_id: int, **values: Any) -> None:
    """Replace the publisher's row with a fresh one (`values` fill its columns; counters start at 0)."""
    s = t.publisher_push
    conn.execute(delete(s).where(s.c.publisher_id == publisher_id))
    defaults = {"events_seen": 0, "failures": 0, "next_attempt_ms": 0, "heartbeat_seconds": 0, "payload": ""}
    conn.execute(insert(s).values(publisher_id=publisher_id, **{**defaults, **values}))


def update_row(conn: Connection, publisher_id: int, **values: Any) -> int:
    s = t.publisher_push
    return int(conn.execute(update(s).where(s.c.publisher_id == publisher_id).values(**values)).rowcount or 0)
