"""The earlier-time offers' SQL on SQLite and PostgreSQL: an offer goes once its booking is cancelled
or called off or its referral is no longer kept, and stays while the booking stands; the sync loop
keeps reading the outcome of a referral a confirmed offer is bound to, however old it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select, update

from slotlinks.clock import FixedClock
from slotlinks.discovery.alerts import store as alerts
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.referrals.outcomes import pending_referrals
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore, open_store

DAY = 86_400_000


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[DiscoveryStore]:
    s = open_store(db_url, clock=clock)
    yield s
    s.dispose()


def _offer(store: DiscoveryStore, referral_id: str, *, outcome: str | None, age_days: int = 0) -> None:
    """A booked referral handed out `age_days` ago (of a publisher we hold a secret for) and a
    confirmed offer bound to it."""
    now = store.now_ms()
    with store.read() as conn:
        publisher = conn.execute(select(t.publisher.c.id)).scalar()
    if publisher is None:
        publisher = registry.add_publisher(store, url="https://p.example/fhir/$bulk-publish", name="P").id
        registry.set_referral_secret(store, publisher, "s" * 32)
    with store.write() as conn:
        conn.execute(
            insert(t.referral).values(
                id=referral_id,
                publisher_id=publisher,
                slot_source_id="slot-1",
                slot_start_ms=now + 7 * DAY,
                link="https://p.example/book/slot-1",
                created_ms=now - age_days * DAY,
                outcome=outcome,
            )
        )
        alert_id = f"offer-{referral_id}"
        alerts.insert_alert(
            conn,
            alert_id=alert_id,
            email="a@example.com",
            criteria="{}",
            created_ms=now,
            expires_ms=now + 7 * DAY,
            referral_id=referral_id,
        )
        alerts.confirm(conn, alert_id, now)


def _left(store: DiscoveryStore) -> list[str]:
    with store.write() as conn:
        alerts.purge(conn, store.now_ms())
        return sorted(str(v) for v in conn.execute(select(t.alert.c.referral_id)).scalars())


def test_an_offer_goes_with_its_booking(store: DiscoveryStore) -> None:
    for referral, outcome in (("standing", "booked"), ("cancelled", "cancelled"), ("called-off", "called-off")):
        _offer(store, referral, outcome=outcome)
    _offer(store, "pruned", outcome="booked")
    with store.write() as conn:
        conn.execute(t.referral.delete().where(t.referral.c.id == "pruned"))
    assert _left(store) == ["standing"]
    with store.write() as conn:
        conn.execute(update(t.referral).where(t.referral.c.id == "standing").values(outcome="cancelled"))
    assert _left(store) == []


def test_the_outcome_of_an_old_booking_with_an_offer_is_still_read(store: DiscoveryStore) -> None:
    _offer(store, "old-with-offer", outcome="booked", age_days=10)
    _offer(store, "recent", outcome="booked")
    now = store.now_ms()
    with store.write() as conn:
        conn.execute(
            insert(t.referral).values(
                id="old-without",
                publisher_id=conn.execute(select(t.publisher.c.id)).scalar_one(),
                slot_source_id="slot-2",
                slot_start_ms=now + DAY,
                link="https://p.example/book/slot-2",
                created_ms=now - 10 * DAY,
                outcome="booked",
            )
        )
    with store.read() as conn:
        assert sorted(pending_referrals(conn, now_ms=now, limit=10)) == ["old-with-offer", "recent"]
