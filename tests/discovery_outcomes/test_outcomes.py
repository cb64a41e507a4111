"""`refresh_outcome` against a scripted portal: held and booked mark the slot, a cancellation frees
it again, the secret goes only to the publisher's own origin, the sync hook picks young unfinished
referrals; the admin route and CLI that store a publisher's referral secret."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import orjson
from sqlalchemy import select, update
from typer.testing import CliRunner

from slotlinks.config import Settings
from slotlinks.discovery.aggregate.cache import data_state
from slotlinks.discovery.app import create_app
from slotlinks.discovery.cli import publishers_app
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.referrals.deeplinks import load_slot, record_referral
from slotlinks.discovery.referrals.outcomes import pending_referrals, refresh_outcome, refresh_pending
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery.conftest import ADMIN_TOKEN, RawServer, response, sync
from tests.servers import serve

SECRET = "scripted-portal-secret-0123456789"
LOC = {"resourceType": "Location", "id": "loc1", "name": "Clinic", "address": {"city": "Boston", "state": "MA"}}
SCH = {"resourceType": "Schedule", "id": "sch1", "actor": [{"reference": "Location/loc1"}]}


def _feed(raw: RawServer, *, link_origin: str | None = None, capacity: int = 1) -> str:
    slot = {
        "resourceType": "Slot",
        "id": "slot1",
        "schedule": {"reference": "Schedule/sch1"},
        "status": "free",
        "start": "2026-11-25T15:00:00Z",
        "end": "2026-11-25T15:20:00Z",
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link",
                "valueUrl": f"{link_origin or raw.origin}/book/slot1",
            },
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity",
                "valueInteger": capacity,
            },
        ],
    }
    for name, resource in (("loc", LOC), ("sch", SCH), ("slot", slot)):
        raw.file(f"/{name}.ndjson", [orjson.dumps(resource)])
    return raw.manifest(
        "/fhir/$bulk-publish",
        [("Location", "/loc.ndjson"), ("Schedule", "/sch.ndjson"), ("Slot", "/slot.ndjson")],
    )


def _setup(store: DiscoveryStore, settings: Settings, raw: RawServer, **feed: object) -> tuple[int, int, str]:
    info = registry.add_publisher(store, url=_feed(raw, **feed), name="Scripted")  # type: ignore[arg-type]
    assert sync(store, settings)[info.id].outcome == "full"
    registry.set_referral_secret(store, info.id, SECRET)
    with store.write() as conn:
        pk = conn.execute(select(t.slot.c.pk).where(t.slot.c.source_id == "slot1")).scalar_one()
        target = load_slot(conn, int(pk))
        assert target is not None
        assert target.booking_link
        record_referral(conn, target, referral="ref-0123456789abcdef", link=target.booking_link, now_ms=store.now_ms())
    return info.id, int(pk), "ref-0123456789abcdef"


def _answer(raw: RawServer, referral: str, body: dict[str, object], status: int = 200) -> None:
    raw.routes[f"/referrals/{referral}"] = response(status, orjson.dumps(body), {"Content-Type": "application/json"})


def _status(store: DiscoveryStore, pk: int) -> str:
    with store.read() as conn:
        return str(conn.execute(select(t.slot.c.status).where(t.slot.c.pk == pk)).scalar_one())


def _version(store: DiscoveryStore) -> str:
    """The data version the aggregate and the FHIR API rebuild on."""
    with store.read() as conn:
        return data_state(conn).digest


def _refresh(store: DiscoveryStore, settings: Settings, referral: str) -> str | None:
    return asyncio.run(refresh_outcome(store, settings, referral))


def test_held_booked_cancelled_keep_the_slot_in_step(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    _pid, pk, ref = _setup(store, settings, raw)
    base = {"bookingReferral": ref, "source": "slotlinks", "slot": {"reference": "Slot/slot1"}}
    place = {"start": "2026-11-25T10:00:00-05:00", "location": {"reference": "Location/loc1", "display": "Clinic"}}
    loaded = _version(store)
    _answer(raw, ref, {**base, "outcome": "held", **place})
    assert _refresh(store, settings, ref) == "held"
    assert _status(store, pk) == "busy-tentative"
    held = _version(store)
    assert held != loaded, "a slot marked by an outcome is a new data version for the aggregate"
    target, headers = raw.requests[-1]
    assert target == f"/referrals/{ref}"
    assert headers["authorization"] == f"Bearer {SECRET}"

    _answer(raw, ref, {**base, "outcome": "booked", **place})
    assert _refresh(store, settings, ref) == "booked"
    assert _status(store, pk) == "busy"
    with store.read() as conn:
        resource = orjson.loads(conn.execute(select(t.slot.c.resource).where(t.slot.c.pk == pk)).scalar_one())
    assert resource["status"] == "busy"  # the aggregate re-publishes what searches see

    booked = _version(store)
    assert booked != held

    # The portal is down for a moment: nothing changes.
    raw.routes[f"/referrals/{ref}"] = response(503, b"")
    assert _refresh(store, settings, ref) == "booked"
    assert _status(store, pk) == "busy"
    assert _version(store) == booked

    _answer(raw, ref, {**base, "outcome": "cancelled", **place})
    assert _refresh(store, settings, ref) == "cancelled"
    assert _status(store, pk) == "free"
    with store.read() as conn:
        row = conn.execute(select(t.referral).where(t.referral.c.id == ref)).one()
    assert (row.local_status, row.marked_slot_pk, row.outcome_location) == (None, None, "Clinic")


def test_expired_hold_frees_the_slot_and_capacity_over_one_is_not_marked(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    _pid, pk, ref = _setup(store, settings, raw, capacity=3)
    _answer(raw, ref, {"bookingReferral": ref, "outcome": "booked", "start": "2026-11-25T10:00:00-05:00"})
    assert _refresh(store, settings, ref) == "booked"
    assert _status(store, pk) == "free"  # two more openings remain


def test_secret_is_only_sent_to_the_publishers_origin(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    # Booking links on another origin: the outcome is not read there (the secret would leak).
    _pid, pk, ref = _setup(store, settings, raw, link_origin="http://localhost:9")
    assert _refresh(store, settings, ref) is None
    assert not any(target.startswith("/referrals/") for target, _ in raw.requests)
    # An administrator may name the portal explicitly.
    registry.set_referral_secret(store, _pid, SECRET, portal=raw.origin)
    _answer(raw, ref, {"bookingReferral": ref, "outcome": "called-off", "reason": "ineligible"})
    assert _refresh(store, settings, ref) == "called-off"
    assert _status(store, pk) == "free"


def test_wrong_answer_shapes_change_nothing(store: DiscoveryStore, settings: Settings, raw: RawServer) -> None:
    _pid, pk, ref = _setup(store, settings, raw)
    for body in ({"outcome": "teleported"}, {"bookingReferral": "someone-else", "outcome": "booked"}):
        _answer(raw, ref, body)
        assert _refresh(store, settings, ref) is None
    raw.routes[f"/referrals/{ref}"] = response(200, b"not json")
    assert _refresh(store, settings, ref) is None
    _answer(raw, ref, {}, status=404)
    assert _refresh(store, settings, ref) == "unknown"
    assert _status(store, pk) == "free"


def test_refresh_pending_picks_young_unfinished_referrals(
    store: DiscoveryStore, settings: Settings, raw: RawServer
) -> None:
    _pid, pk, ref = _setup(store, settings, raw)
    now = store.now_ms()
    with store.read() as conn:
        assert pending_referrals(conn, now_ms=now, limit=10) == [ref]
    _answer(raw, ref, {"bookingReferral": ref, "outcome": "booked", "slot": {"reference": "Slot/slot1"}})
    assert asyncio.run(refresh_pending(store, settings, limit=10)) == 1
    assert _status(store, pk) == "busy"
    with store.read() as conn:
        assert pending_referrals(conn, now_ms=now, limit=10) == []  # checked within the minute
        assert pending_referrals(conn, now_ms=now + 120_000, limit=10) == [ref]  # booked can still be cancelled
        assert pending_referrals(conn, now_ms=now + 2 * 86_400_000, limit=10) == []  # older than a day
    with store.write() as conn:
        conn.execute(update(t.referral).values(outcome="cancelled"))
    with store.read() as conn:
        assert pending_referrals(conn, now_ms=now + 120_000, limit=10) == []  # final


def test_admin_route_and_cli_store_the_secret(store: DiscoveryStore, settings: Settings, db_url: str) -> None:
    info = registry.add_publisher(store, url="https://publisher.example/fhir/$bulk-publish", name="P")
    app = create_app(replace(settings, admin_token=ADMIN_TOKEN), store, background_sync=False)
    with serve(app) as origin:
        url = f"{origin}/admin/publishers/{info.id}/referral-secret"
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.put(url, json={"secret": SECRET}).status_code == 401
        assert httpx.put(url, json={"secret": "short"}, headers=auth).status_code == 400
        assert httpx.put(url, json={"secret": SECRET, "portal": "ftp://x"}, headers=auth).status_code == 400
        assert (
            httpx.put(
                f"{origin}/admin/publishers/999/referral-secret", json={"secret": SECRET}, headers=auth
            ).status_code
            == 404
        )
        done = httpx.put(url, json={"secret": SECRET, "portal": "https://portal.example/"}, headers=auth)
        assert done.status_code == 200, done.text
        assert done.json()["referralSecretSet"] is True
        assert done.json()["referralPortal"] == "https://portal.example"
        assert SECRET not in done.text
        assert SECRET not in httpx.get(f"{origin}/admin/publishers", headers=auth).text
    runner = CliRunner()
    env = {"SLOTLINKS_DISCOVERY_DB": db_url}
    result = runner.invoke(publishers_app, ["set-secret", str(info.id), "cli-secret-0123456789abcdef"], env=env)
    assert result.exit_code == 0, result.output
    assert "referral secret stored" in result.output
    with store.read() as conn:
        stored = conn.execute(select(t.publisher.c.referral_secret).where(t.publisher.c.id == info.id)).scalar_one()
    assert stored == "cli-secret-0123456789abcdef"
    assert runner.invoke(publishers_app, ["set-secret", "999", "cli-secret-0123456789abcdef"], env=env).exit_code == 1
    assert runner.invoke(publishers_app, ["set-secret", str(info.id), "short"], env=env).exit_code == 1
