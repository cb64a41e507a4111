"""A Schedule's patient-facing service name is derived at ingest (`feed_schedule.service_name`), and
migration 0018 fills it in for the Schedules stored before, by the same rule: the first serviceType
that names one, by its text, else its first display."""

from __future__ import annotations

import msgspec
import orjson
from sqlalchemy import create_engine, select, text

from slotlinks.db.engine import normalize_url
from slotlinks.db.migrate import upgrade
from slotlinks.discovery.ingest.descriptive import Lookups, schedule_row
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import open_store
from slotlinks.fhir.resources import Schedule

SCHEDULES: dict[str, tuple[dict[str, object], str | None]] = {
    "text": ({"serviceType": [{"text": "Flu shot", "coding": [{"display": "Influenza"}]}]}, "Flu shot"),
    "display": ({"serviceType": [{"coding": [{"code": "57"}, {"display": "Immunization"}]}]}, "Immunization"),
    "second-type": ({"serviceType": [{"coding": [{"code": "57"}]}, {"text": "Dermatology"}]}, "Dermatology"),
    "none": ({"serviceType": [{"coding": [{"code": "57"}]}]}, None),
    "no-types": ({}, None),
}


def _resource(source_id: str, extra: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "Schedule", "id": source_id, "actor": [{"reference": "Location/l1"}], **extra}


def test_ingest_derives_the_name_a_patient_reads() -> None:
    for source_id, (extra, expected) in SCHEDULES.items():
        schedule = msgspec.json.decode(orjson.dumps(_resource(source_id, extra)), type=Schedule)
        assert schedule_row(schedule, Lookups.empty())["service_name"] == expected, source_id


def test_migration_0018_names_the_schedules_stored_before(db_url: str) -> None:
    engine = create_engine(normalize_url(db_url))
    try:
        upgrade(engine, "discovery", revision="0017")
        with engine.begin() as conn:
            pid = conn.execute(
                text(
                    "INSERT INTO publisher (url, name, states, allowed_hosts, paused, created_ms, generation, "
                    "next_poll_ms, failures) VALUES ('http://p.test/', 'p', '', '', false, 0, 1, 0, 0) RETURNING id"
                )
            ).scalar_one()
            for source_id, (extra, _) in SCHEDULES.items():
                conn.execute(
                    text(
                        "INSERT INTO feed_schedule (publisher_id, generation, source_id, resource, updated_ms, "
                        "service_text, codes, practitioner_text, virtual) "
                        "VALUES (:pid, 1, :id, :resource, 0, '', '', '', false)"
                    ),
                    {"pid": pid, "id": source_id, "resource": orjson.dumps(_resource(source_id, extra)).decode()},
                )
    finally:
        engine.dispose()
    store = open_store(db_url)  # migrates to the head
    try:
        with store.read() as conn:
            s = t.schedule.c
            names = {str(i): name for i, name in conn.execute(select(s.source_id, s.service_name))}
        assert names == {source_id: expected for source_id, (_, expected) in SCHEDULES.items()}
    finally:
        store.dispose()
