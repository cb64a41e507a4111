"""Syncing the recorded real-world feeds (tests/data/realworld) over HTTP: counts match each README,
quirks are accepted with warnings, references resolve, and an unchanged re-poll stores nothing."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from slotlinks.config import Settings
from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery.conftest import held, sync

README_COUNTS = {
    "cvs": (1, 1, 2),
    "smart-examples": (10, 10, 300),
    "walgreens": (1, 1, 1),
}


def _add_all(store: DiscoveryStore, corpus: dict[str, str]) -> dict[str, int]:
    return {name: registry.add_publisher(store, url=url, name=name).id for name, url in corpus.items()}


def test_corpora_sync_with_readme_counts(store: DiscoveryStore, settings: Settings, corpus: dict[str, str]) -> None:
    ids = _add_all(store, corpus)
    results = sync(store, settings)
    for name, pid in ids.items():
        result = results[pid]
        assert result.outcome == "full", (name, result.error)
        assert result.bad_line_count == 0, (name, result.bad_lines)
        counts = held(store, pid)
        assert (counts["Location"], counts["Schedule"], counts["Slot"]) == README_COUNTS[name]
        assert result.counts.added == sum(README_COUNTS[name])
    # CVS: slot-capacity given as a string, accepted and counted as a warning.
    assert results[ids["cvs"]].warnings["integer-as-string"] == 2
    with store.read() as conn:
        caps = sorted(conn.execute(select(t.slot.c.capacity).where(t.slot.c.publisher_id == ids["cvs"])).scalars())
        run = conn.execute(select(t.sync_run).where(t.sync_run.c.publisher_id == ids["cvs"])).one()
    assert caps == [0, 1]
    assert orjson.loads(run.warning_kinds) == {"integer-as-string": 2}
    assert run.outcome == "full"
    assert orjson.loads(run.http_statuses)[corpus["cvs"]] == 200
    # Walgreens: an extra manifest extension key is fine, no warning needed.
    assert results[ids["walgreens"]].error is None


def test_references_and_derived_columns(store: DiscoveryStore, settings: Settings, corpus: dict[str, str]) -> None:
    ids = _add_all(store, corpus)
    sync(store, settings)
    with store.read() as conn:
        assert conn.execute(select(t.slot.c.pk).where(t.slot.c.schedule_pk.is_(None))).first() is None
        assert conn.execute(select(t.schedule.c.pk).where(t.schedule.c.location_pk.is_(None))).first() is None
        cvs = conn.execute(select(t.location).where(t.location.c.publisher_id == ids["cvs"])).one()
        sched = conn.execute(select(t.schedule).where(t.schedule.c.publisher_id == ids["cvs"])).one()
        link = conn.execute(select(t.slot.c.booking_link).where(t.slot.c.publisher_id == ids["cvs"])).scalars().first()
    # No position in the CVS feed: the ZIP centroid of 22306 and its time zone stand in.
    assert not cvs.positioned
    assert cvs.latitude is not None
    assert abs(cvs.latitude - 38.76) < 0.1
    assert cvs.tz == "America/New_York"
    assert cvs.phone == "888-607-4287"
    assert "immunization" in sched.service_text
    assert "http://terminology.hl7.org/CodeSystem/service-type|57" in sched.codes.split()
    assert link is not None
    assert link.startswith("https://www.cvs.com/")


def test_unchanged_repoll_is_not_modified(store: DiscoveryStore, settings: Settings, corpus: dict[str, str]) -> None:
    ids = _add_all(store, corpus)
    sync(store, settings)
    with store.read() as conn:
        before = conn.execute(select(t.slot.c.pk, t.slot.c.updated_ms).order_by(t.slot.c.pk)).all()
        generations = dict(conn.execute(select(t.publisher.c.id, t.publisher.c.generation)).all())
    again = sync(store, settings)
    for pid in ids.values():
        assert again[pid].outcome == "not-modified"
        assert (again[pid].counts.added, again[pid].counts.changed, again[pid].counts.removed) == (0, 0, 0)
    with store.read() as conn:
        after = conn.execute(select(t.slot.c.pk, t.slot.c.updated_ms).order_by(t.slot.c.pk)).all()
        assert dict(conn.execute(select(t.publisher.c.id, t.publisher.c.generation)).all()) == generations
        outcomes = conn.execute(select(t.sync_run.c.outcome).order_by(t.sync_run.c.id)).scalars().all()
    assert before == after
    assert outcomes[-3:] == ["not-modified"] * 3


def test_state_filter_skips_outputs(store: DiscoveryStore, settings: Settings, corpus: dict[str, str]) -> None:
    pid = registry.add_publisher(store, url=corpus["smart-examples"], name="x", states="RI").id
    result = sync(store, settings)[pid]
    assert result.outcome == "full"
    # Slot files are all marked MA; Location and Schedule outputs have no state hint, so they are read.
    assert held(store, pid)["Slot"] == 0
    assert held(store, pid)["Location"] == 10
