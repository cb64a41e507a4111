"""The alerts' SQL: an alert row per address and criteria, and the slots each has announced.

Nothing else about the patient is kept; a row and its announcements go on unsubscribe, on expiry,
and for an alert never confirmed, `UNCONFIRMED_DAYS` after it was asked for. An earlier-time offer
(`referral_id` set, alerts/earlier.py) also goes once its booking is cancelled or called off, or its
referral is no longer kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, func, insert, or_, select, update

from slotlinks.discovery.referrals.outcomes import FINAL_OUTCOMES
from slotlinks.discovery.store import tables as t
from slotlinks.web.i18n import DEFAULT_LANGUAGE

__all__ = [
    "UNCONFIRMED_DAYS",
    "SlotKey",
    "announced",
    "confirm",
    "count_for_address",
    "count_for_app",
    "due",
    "get",
    "insert_alert",
    "purge",
    "record_sent",
    "remove",
    "remove_for_app",
]

UNCONFIRMED_DAYS = 2
#: A slot by natural key: (publisher id, its source id, its start in UTC ms).
SlotKey = tuple[int, str, int]
_A = t.alert.c
_N = t.alert_announced.c


def count_for_address(conn: Connection, email: str) -> int:
    """Alerts of `email`, confirmed or not (both count: each unconfirmed one sent a message)."""
    return int(conn.execute(select(func.count()).where(_A.email == email)).scalar_one())


def insert_alert(
    conn: Connection,
    *,
    alert_id: str,
    criteria: str,
    created_ms: int,
    expires_ms: int,
    email: str | None = None,
    app: str | None = None,
    confirmed_ms: int | None = None,
    referral_id: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> None:
    """Stores one alert, mailed to `email` or posted to `app`'s webhook (exactly one of them); it is
    due once `confirmed_ms` is set (`confirm`, or at creation for an app's alert)."""
    if (email is None) == (app is None):
        raise ValueError("an alert goes to an address or to an app, exactly one of them")
    conn.execute(
        insert(t.alert).values(
            id=alert_id,
            email=email,
            app=app,
            criteria=criteria,
            created_ms=created_ms,
            confirmed_ms=confirmed_ms,
            expires_ms=expires_ms,
            referral_id=referral_id,
            language=language,
        )
    )


def get(conn: Connection, alert_id: str) -> Row[Any] | None:
    return conn.execute(select(t.alert).where(_A.id == alert_id)).first()


def confirm(conn: Connection, alert_id: str, now_ms: int) -> None:
    """Marks the alert confirmed (once: confirming again keeps the first time)."""
    conn.execute(update(t.alert).where(_A.id == alert_id, _A.confirmed_ms.is_(None)).values(confirmed_ms=now_ms))


def remove(conn: Connection, alert_id: str) -> bool:
    """Deletes the alert and what it announced; False when there was none."""
    conn.execute(delete(t.alert_announced).where(_N.alert_id == alert_id))
    return bool(conn.execute(delete(t.alert).where(_A.id == alert_id)).rowcount)


def purge(conn: Connection, now_ms: int) -> int:
    """Deletes expired alerts, those never confirmed in time, and offers whose booking no longer stands;
    how many went."""
    unconfirmed_before = now_ms - UNCONFIRMED_DAYS * 86_400_000
    r = t.referral.c
    booking_over = exists().where(r.id == _A.referral_id, r.outcome.in_(sorted(FINAL_OUTCOMES)))
    referral_kept = exists().where(r.id == _A.referral_id)
    offer_over = _A.referral_id.is_not(None) & (booking_over | ~referral_kept)
    gone = or_(_A.expires_ms <= now_ms, _A.confirmed_ms.is_(None) & (_A.created_ms <= unconfirmed_before), offer_over)
    ids = list(conn.execute(select(_A.id).where(gone)).scalars())
    for alert_id in ids:
        remove(conn, alert_id)
    return len(ids)


def due(conn: Connection, now_ms: int, period_ms: int) -> list[Row[Any]]:
    """Confirmed, unexpired alerts whose last message is at least `period_ms` old (or never sent)."""
    query = select(t.alert).where(
        _A.confirmed_ms.is_not(None),
        _A.expires_ms > now_ms,
        or_(_A.last_sent_ms.is_(None), _A.last_sent_ms <= now_ms - period_ms),
    )
    return list(conn.execute(query.order_by(_A.created_ms)))


def announced(conn: Connection, alert_id: str) -> set[SlotKey]:
    query = select(_N.publisher_id, _N.slot_source_id, _N.start_ms).where(_N.alert_id == alert_id)
    return {(int(r.publisher_id), str(r.slot_source_id), int(r.start_ms)) for r in conn.execute(query)}


def record_sent(conn: Connection, alert_id: str, keys: Iterable[SlotKey], now_ms: int) -> None:
    """Remembers the slots a message announced and when it went."""
    rows = [
        {"alert_id": alert_id, "publisher_id": p, "slot_source_id": s, "start_ms": ms, "announced_ms": now_ms}
        for p, s, ms in keys
    ]
    if rows:
        conn.execute(insert(t.alert_announced), rows)
    conn.execute(update(t.alert).where(_A.id == alert_id).values(last_sent_ms=now_ms))


# An app's alerts (webhooks, apps.py): no address, active from creation (the app owns its user's consent).


def count_for_app(conn: Connection, app: str) -> int:
    return int(conn.execute(select(func.count()).where(_A.app == app)).scalar_one())


def remove_for_app(conn: Connection, app: str) -> int:
    """Deletes every alert of `app` and what they announced; how many went."""
    ids = list(conn.execute(select(_A.id).where(_A.app == app)).scalars())
    for alert_id in ids:
        remove(conn, alert_id)
    return len(ids)
