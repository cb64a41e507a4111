"""The records layer on real SQLite and PostgreSQL: derived columns, references, cascades, slots, rules,
closures, all-or-nothing import and settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Row, Table, select, update

from slotlinks.clock import FixedClock
from slotlinks.errors import Conflict, InvalidInput, NotFound
from slotlinks.fhir import extensions as ext
from slotlinks.fhir.instant import ms_to_instant
from slotlinks.fhir.resources import (
    Address,
    ContactPoint,
    Extension,
    HealthcareService,
    Location,
    Position,
    Practitioner,
    PractitionerRole,
    Reference,
    Schedule,
    decode_resource,
    encode_resource,
)
from slotlinks.provider.publication.render import iter_lines, slot_json
from slotlinks.provider.records import importer
from slotlinks.provider.records import resources as records
from slotlinks.provider.schedule import rules as ruleset
from slotlinks.provider.schedule.rules import ClosureSpec, RuleSpec
from slotlinks.provider.schedule.slots import create_slot, get_slot, set_slot_status
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.settings import (
    PORTAL_URL_SETTING,
    ProviderSettings,
    provider_settings,
    set_portal_url,
    set_provider_name,
)
from slotlinks.provider.store.store import ProviderStore, open_store

# Monday 1 June 2026, 06:00 in Boston: far from any DST change.
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
HORIZON = 7


@pytest.fixture
def store(db_url: str) -> Iterator[ProviderStore]:
    store = open_store(db_url, clock=FixedClock(NOW))
    yield store
    store.dispose()


def boston(
    loc_id: str = "loc-1", *, phone: str = "(617) 555-0100", zip_code: str = "02114", state: str = "MA"
) -> Location:
    return Location(
        id=loc_id,
        name="Boston Clinic",
        telecom=[ContactPoint(system="url", value="https://x.example"), ContactPoint(system="phone", value=phone)],
        address=Address(line=["1 Main St"], city="Boston", state=state, postalCode=zip_code),
        position=Position(latitude=42.36, longitude=-71.06),
    )


def schedule(sched_id: str = "sch-1", *actors: str) -> Schedule:
    return Schedule(id=sched_id, actor=[Reference(reference=a) for a in (actors or ("Location/loc-1",))])


def nine_to_ten(minutes: int = 30) -> RuleSpec:
    return RuleSpec(weekdays="mon-fri", start="09:00", end="10:00", slot_minutes=minutes)


def row(store: ProviderStore, table: Table, rid: str) -> Row[Any]:
    with store.read() as conn:
        return conn.execute(select(table).where(table.c.id == rid)).one()


def slots(store: ProviderStore, schedule_id: str = "sch-1", *, active: bool = True) -> list[Row[Any]]:
    with store.read() as conn:
        query = select(t.slot).where(t.slot.c.schedule_id == schedule_id, t.slot.c.active.is_(active))
        return list(conn.execute(query.order_by(t.slot.c.start_ms)))


def test_location_columns_are_derived(store: ProviderStore) -> None:
    with store.change() as change:
        stored = records.put_resource(change, boston())
    assert stored.meta is not None
    assert stored.meta.lastUpdated is not None
    loc = row(store, t.location, "loc-1")
    assert (loc.state, loc.postal_code, loc.tz, loc.phone) == ("MA", "02114", "America/New_York", "(617) 555-0100")
    assert (loc.latitude, loc.longitude, loc.active) == (42.36, -71.06, True)
    assert decode_resource(loc.resource).meta == stored.meta
    assert loc.last_updated == int(datetime.fromisoformat(stored.meta.lastUpdated).timestamp() * 1000)


def test_timezone_extension_wins_and_a_time_zone_is_required(store: ProviderStore) -> None:
    virtual = Location(
        id="virt",
        name="Video",
        address=Address(state="CA"),
        extension=[Extension(url=ext.TIMEZONE, valueCode="America/Los_Angeles")],
    )
    with store.change() as change:
        records.put_resource(change, virtual)
    assert row(store, t.location, "virt").tz == "America/Los_Angeles"
    with pytest.raises(InvalidInput, match="time zone") as info, store.change() as change:
        records.put_resource(change, Location(id="nowhere", name="?", address=Address(state="MA")))
    assert info.value.issues[0].expression == ("Location.extension",)


def test_missing_references_are_reported_with_their_path(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
    with pytest.raises(InvalidInput) as info, store.change() as change:
        records.put_resource(change, schedule("sch-1", "Location/loc-1", "PractitionerRole/ghost"))
    assert [i.expression for i in info.value.issues] == [("Schedule.actor[1]",)]
    with pytest.raises(InvalidInput) as info, store.change() as change:
        records.put_resource(
            change,
            PractitionerRole(
                id="r",
                practitioner=Reference(reference="Practitioner/nobody"),
                location=[Reference(reference="Location/x")],
            ),
        )
    assert {i.expression[0] for i in info.value.issues} == {
        "PractitionerRole.practitioner",
        "PractitionerRole.location[0]",
    }
    with store.read() as conn:
        assert records.count_resources(conn, "Schedule") == 0


def test_schedule_location_comes_from_its_role_or_service(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, boston("loc-2", zip_code="94103", state="CA"))
        records.put_resource(change, Practitioner(id="p"))
        records.put_resource(
            change,
            PractitionerRole(
                id="r",
                practitioner=Reference(reference="Practitioner/p"),
                location=[Reference(reference="Location/loc-1")],
            ),
        )
        records.put_resource(
            change, HealthcareService(id="h", name="Flu", location=[Reference(reference="Location/loc-2")])
        )
        records.put_resource(change, schedule("by-role", "PractitionerRole/r"))
        records.put_resource(change, schedule("by-service", "HealthcareService/h"))
    assert (row(store, t.schedule, "by-role").location_id, row(store, t.schedule, "by-role").state) == ("loc-1", "MA")
    assert (row(store, t.schedule, "by-service").location_id, row(store, t.schedule, "by-service").state) == (
        "loc-2",
        "CA",
    )
    # The role moves: its schedule follows, is re-stamped, and its slots move to the new time zone.
    with store.change() as change:
        ruleset.create_rule(change, "by-role", nine_to_ten(), rule_id="rr")
    assert slots(store, "by-role")[0].start == "2026-06-01T09:00:00-04:00"
    with store.change() as change:
        records.put_resource(change, PractitionerRole(id="r", location=[Reference(reference="Location/loc-2")]))
        stamp = change.stamp_ms
    moved = row(store, t.schedule, "by-role")
    assert (moved.location_id, moved.state, moved.last_updated) == ("loc-2", "CA", stamp)
    assert slots(store, "by-role")[0].start == "2026-06-01T09:00:00-07:00"


def test_location_state_and_phone_changes_restamp_schedules_and_slots(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        ruleset.create_rule(change, "sch-1", nine_to_ten())
    with store.change() as change:
        records.put_resource(change, boston(phone="(617) 555-0199"))
        stamp = change.stamp_ms
    assert {s.last_updated for s in slots(store)} == {stamp}
    assert row(store, t.schedule, "sch-1").last_updated < stamp  # same state: schedule untouched
    moved = Location(id="loc-1", name="Clinic", address=Address(state="RI", postalCode="02903"))
    with store.change() as change:
        records.put_resource(change, moved)
        stamp = change.stamp_ms
    sched = row(store, t.schedule, "sch-1")
    assert (sched.state, sched.last_updated) == ("RI", stamp)
    assert decode_resource(sched.resource).meta.lastUpdated == ms_to_instant(stamp)  # type: ignore[union-attr]
    assert {s.last_updated for s in slots(store)} == {stamp}


def test_rules_generate_local_slots_and_closures_remove_a_day(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        rule = ruleset.create_rule(change, "sch-1", nine_to_ten(20), rule_id="weekday", horizon_days=HORIZON)
    assert (rule.weekdays, rule.start, rule.end, rule.slot_minutes) == ("mon-fri", "09:00", "10:00", 20)
    made = slots(store)
    assert len(made) == 5 * 3
    assert (made[0].start, made[0].end) == ("2026-06-01T09:00:00-04:00", "2026-06-01T09:20:00-04:00")
    with store.change() as change:
        ruleset.create_closure(change, "sch-1", ClosureSpec(day="2026-06-02", reason="training"), horizon_days=HORIZON)
    assert not [s for s in slots(store) if s.start.startswith("2026-06-02")]
    assert len([s for s in slots(store, active=False) if s.start.startswith("2026-06-02")]) == 3
    with pytest.raises(Conflict), store.change() as change:
        ruleset.create_rule(change, "sch-1", nine_to_ten(), rule_id="weekday")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (RuleSpec("fri-mon", "09:00", "10:00", 30), "weekdays"),
        (RuleSpec("mon", "9am", "10:00", 30), "start"),
        (RuleSpec("mon", "10:00", "09:00", 30), "end"),
        (RuleSpec("mon", "09:00", "10:00", 90), "slotMinutes"),
        (RuleSpec("mon", "09:00", "10:00", 30, capacity=0), "capacity"),
        (RuleSpec("mon", "09:00", "10:00", 30, valid_from="2026-13-01"), "validFrom"),
    ],
)
def test_rule_errors_name_the_field(store: ProviderStore, spec: RuleSpec, field: str) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
    with pytest.raises(InvalidInput) as info, store.change() as change:
        ruleset.create_rule(change, "sch-1", spec)
    assert info.value.issues[0].expression == (field,)


def test_deactivating_a_schedule_ends_its_rules_but_keeps_booked_slots(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        ruleset.create_rule(change, "sch-1", nine_to_ten(), horizon_days=HORIZON)
    booked_id = slots(store)[0].id
    with store.change() as change:
        change.conn.execute(update(t.slot).where(t.slot.c.id == booked_id).values(booked=1))
    with store.change() as change:
        gone = records.deactivate(change, "Schedule", "sch-1", horizon_days=HORIZON)
    assert isinstance(gone, Schedule)
    assert gone.active is False
    assert [s.id for s in slots(store)] == [booked_id]
    with store.read() as conn:
        assert ruleset.list_rules(conn, "sch-1") == []
        assert records.count_resources(conn, "Schedule", active_only=True) == 0
    with store.change() as change:
        loc = records.deactivate(change, "Location", "loc-1")
    assert isinstance(loc, Location)
    assert loc.status == "inactive"


def test_hand_slots_and_status_overrides(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        made = create_slot(change, "sch-1", "2026-06-03T13:00:00-04:00", "2026-06-03T13:30:00-04:00", "free", 2)
    assert made.rule_id is None
    assert made.start_ms == int(datetime(2026, 6, 3, 17, 0, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(InvalidInput) as info, store.change() as change:
        create_slot(change, "sch-1", "2026-06-03T13:30:00-04:00", "2026-06-03T13:00:00-04:00")
    assert info.value.issues[0].expression == ("Slot.end",)
    with pytest.raises(InvalidInput) as info, store.change() as change:
        create_slot(change, "sch-1", "2026-06-03T13:30:00", "2026-06-03T14:00:00-04:00")
    assert info.value.issues[0].expression == ("Slot.start",)
    with pytest.raises(InvalidInput) as info, store.change() as change:
        create_slot(change, "nope", "2026-06-03T13:00:00Z", "2026-06-03T14:00:00Z")
    assert info.value.issues[0].expression == ("Slot.schedule",)
    with store.change() as change:
        set_slot_status(change, made.id, "busy")
        change.conn.execute(update(t.slot).where(t.slot.c.id == made.id).values(booked=2))
    with pytest.raises(Conflict, match="overbook"), store.change() as change:
        set_slot_status(change, made.id, "free")
    with pytest.raises(InvalidInput), store.change() as change:
        set_slot_status(change, made.id, "busy-tentative")
    with pytest.raises(NotFound), store.read() as conn:
        get_slot(conn, "missing")


def test_slot_json_is_the_published_line(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        set_portal_url(change, "https://portal.example.org/", store=store)
        made = create_slot(change, "sch-1", "2026-06-03T13:00:00-04:00", "2026-06-03T13:30:00-04:00", "free", 3)
    with store.read() as conn:
        rendered = slot_json(conn, made.id, portal_url="https://portal.example.org")
        published = [
            line.encode() for kind, _, _, line in iter_lines(conn, "https://portal.example.org") if kind == "Slot"
        ]
    assert published == [rendered + b"\n"]
    slot = orjson.loads(rendered)
    assert slot["extension"][0]["valueUrl"] == f"https://portal.example.org/book/{made.id}"
    assert {"url": ext.BOOKING_PHONE, "valueString": "(617) 555-0100"} in slot["extension"]
    assert {"url": ext.SLOT_CAPACITY, "valueInteger": 3} in slot["extension"]


def test_import_is_all_or_nothing_with_line_numbers(store: ProviderStore) -> None:
    good_slot = {
        "resourceType": "Slot", "id": "s1", "schedule": {"reference": "Schedule/sch-1"}, "status": "free",
        "start": "2026-06-03T09:00:00-04:00", "end": "2026-06-03T09:30:00-04:00",
    }  # fmt: skip
    lines = [
        orjson.dumps(good_slot),  # refers forward to line 2's Schedule
        orjson.dumps(orjson.loads(encode_resource(schedule()))),
        orjson.dumps({**good_slot, "id": "s2", "start": "2026-06-03T09:00:00"}),
        b"{not json",
        orjson.dumps({**good_slot, "id": "s3", "schedule": {"reference": "Schedule/ghost"}}),
        encode_resource(boston()),
        encode_resource(schedule()),
    ]
    with pytest.raises(InvalidInput) as info, store.change() as change:
        importer.import_ndjson(change, b"\n".join(lines))
    where = [i.expression[0] for i in info.value.issues]
    assert where == ["line 3: $.start", "line 4: $", "line 5: Slot.schedule", "line 7: $.id"]
    assert info.value.issues[0].diagnostics.startswith("line 3")
    with store.read() as conn:
        assert records.count_resources(conn, "Location") == 0
    with store.change() as change:
        counts = importer.import_ndjson(change, b"\n".join([lines[0], lines[1], lines[5]]) + b"\n\n")
    assert counts == {
        "Location": 1,
        "Practitioner": 0,
        "HealthcareService": 0,
        "PractitionerRole": 0,
        "Schedule": 1,
        "Slot": 1,
    }
    assert row(store, t.schedule, "sch-1").location_id == "loc-1"
    assert row(store, t.slot, "s1").rule_id is None


def test_portal_url_setting_stamps_active_slots(store: ProviderStore) -> None:
    with store.change() as change:
        records.put_resource(change, boston())
        records.put_resource(change, schedule())
        ruleset.create_rule(change, "sch-1", nine_to_ten(), horizon_days=HORIZON)
    with store.change() as change:
        assert set_portal_url(change, "https://book.example.org/", store=store) == "https://book.example.org"
        stamp = change.stamp_ms
    assert {s.last_updated for s in slots(store)} == {stamp}
    assert store.get_setting(PORTAL_URL_SETTING) == "https://book.example.org"
    for bad in ("book.example.org", "ftp://x.example", "https://x.example/?a=1"):
        with pytest.raises(InvalidInput) as info, store.change() as change:
            set_portal_url(change, bad, store=store)
        assert info.value.issues[0].expression == ("portalUrl",)
    with store.change() as change:
        set_provider_name(change, "Example Health", store=store)
    with store.read() as conn:
        assert provider_settings(store, conn) == ProviderSettings("https://book.example.org", "Example Health")
