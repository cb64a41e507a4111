"""Who a slot is for, in search (issue 13): each filter keeps only what the publisher says matches,
nothing is left out without one, and the JSON, the CLI, the results page and the location calendar
say it in plain words before the link."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import update
from typer.testing import CliRunner

from slotlinks.config import Settings
from slotlinks.discovery.search.cli import search_command
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import (
    BOSTON,
    HOUR,
    NOW_MS,
    add_location,
    add_publisher,
    add_schedule,
    add_slot,
    build_app,
)
from tests.servers import serve

WINDOW = {"from": "2026-11-24", "to": "2026-12-31"}

# Schedule name -> (its columns, its slots: start offset in hours -> the Slot's own patient status).
SCHEDULES: dict[str, tuple[dict[str, Any], dict[int, str | None]]] = {
    "open": (
        {"patients": "newpt", "referral": False, "ages_stated": True, "languages": "en es"},
        {1: None, 2: "existptonly"},  # the first says nothing (the service's "newpt" holds), the second differs
    ),
    "existing": ({"patients": "existptonly", "referral": False, "ages_stated": True, "languages": "en"}, {3: None}),
    "referral": ({"patients": "newpt", "referral": True, "ages_stated": True}, {4: "newpt"}),
    "kids": (
        {"patients": "newpt", "referral": False, "min_age": 0, "max_age": 17, "ages_stated": True, "languages": "pt"},
        {5: None},
    ),
    "silent": ({"ages_stated": False}, {6: None}),  # a publisher that says nothing about who may book
}


@pytest.fixture
def slots(store: DiscoveryStore) -> dict[int, str]:
    """Slot pk -> '<schedule>-<hour>'."""
    out: dict[int, str] = {}
    with store.write() as conn:
        pub = add_publisher(conn, "Elm Health", "http://127.0.0.1:9/r4/$bulk-publish", last_success_ms=NOW_MS)
        loc = add_location(conn, pub, "Elm Street Clinic", BOSTON)
        for name, (columns, times) in SCHEDULES.items():
            pk = add_schedule(conn, pub, loc, f"primary care {name}")
            conn.execute(update(t.schedule).where(t.schedule.c.pk == pk).values(**columns))
            for hour, patients in times.items():
                slot = add_slot(conn, pub, pk, NOW_MS + hour * HOUR)
                conn.execute(update(t.slot).where(t.slot.c.pk == slot).values(patients=patients))
                out[slot] = f"{name}-{hour}"
    return out


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, slots: dict[int, str]) -> Iterator[httpx.Client]:
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        yield client


def _found(client: httpx.Client, slots: dict[int, str], **filters: str) -> dict[str, dict[str, Any]]:
    response = client.get("/api/search", params={"near": "02114", "per_location": "50", **WINDOW, **filters})
    assert response.status_code == 200, response.text
    return {slots[s["pk"]]: s["audience"] for loc in response.json()["locations"] for s in loc["slots"]}


ALL = {"open-1", "open-2", "existing-3", "referral-4", "kids-5", "silent-6"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ALL),
        ({"new_patients": "true"}, {"open-1", "referral-4", "kids-5"}),
        ({"new_patients": "false"}, ALL),
        ({"no_referral": "true"}, {"open-1", "open-2", "existing-3", "kids-5"}),
        ({"age": "40"}, {"open-1", "open-2", "existing-3", "referral-4"}),
        ({"age": "0"}, {"open-1", "open-2", "existing-3", "referral-4", "kids-5"}),
        ({"age": "17"}, {"open-1", "open-2", "existing-3", "referral-4", "kids-5"}),
        ({"language": "Spanish"}, {"open-1", "open-2"}),
        ({"language": "pt-BR"}, {"kids-5"}),
        ({"language": "en"}, {"open-1", "open-2", "existing-3"}),
        ({"new_patients": "true", "no_referral": "true", "age": "30"}, {"open-1"}),
    ],
)
def test_each_filter_keeps_only_what_is_said_to_match(
    client: httpx.Client, slots: dict[int, str], filters: dict[str, str], expected: set[str]
) -> None:
    assert set(_found(client, slots, **filters)) == expected


def test_each_time_says_who_may_book_it(client: httpx.Client, slots: dict[int, str]) -> None:
    found = _found(client, slots)
    assert found["open-1"] == {
        "patients": "newpt",
        "referral": False,
        "min_age": None,
        "max_age": None,
        "languages": ["en", "es"],
        "badges": ["New patients welcome", "No referral needed", "Speaks Spanish"],
    }
    assert found["open-2"]["badges"][0] == "Existing patients only"  # the Slot's own word wins
    assert found["referral-4"]["badges"] == ["New patients welcome", "Referral needed"]
    assert found["kids-5"]["badges"] == [
        "New patients welcome",
        "No referral needed",
        "Ages 0\u201317",
        "Speaks Portuguese",
    ]
    assert found["silent-6"] == {
        "patients": None,
        "referral": None,
        "min_age": None,
        "max_age": None,
        "languages": [],
        "badges": ["Who can book: not stated"],
    }


def _badges_before_links(html: str) -> list[tuple[list[str], list[str]]]:
    """Each list of badges on a page with the /go/ links that follow it before the next list."""
    out: list[tuple[list[str], list[str]]] = []
    for part in html.split('<ul class="who"')[1:]:
        badges = re.findall(r'<li class="badge[^"]*">([^<]+)</li>', part.split("</ul>")[0])
        out.append((badges, re.findall(r'href="/go/(\d+)[?"]', part)))
    return out


def test_the_results_page_shows_badges_before_the_times(client: httpx.Client, slots: dict[int, str]) -> None:
    response = client.get("/search", params={"near": "02114", "per_location": "50", **WINDOW})
    assert response.status_code == 200
    groups = {tuple(badges): {slots[int(pk)] for pk in links} for badges, links in _badges_before_links(response.text)}
    assert groups[("Who can book: not stated",)] == {"silent-6"}
    assert groups[("New patients welcome", "No referral needed", "Speaks Spanish")] == {"open-1"}
    assert groups[("Existing patients only", "No referral needed", "Speaks Spanish")] == {"open-2"}
    assert 'class="badge badge-unknown">Who can book: not stated' in response.text
    # The form offers the filters and says what they leave out.
    for label in ("Accepting new patients", "No referral needed", "Patient's age (years)", "Language the clinician"):
        assert label in response.text
    assert "times that do not say are left out" in response.text


def test_the_filters_carry_to_the_location_calendar(client: httpx.Client, slots: dict[int, str]) -> None:
    response = client.get("/search", params={"near": "02114", "new_patients": "true", "no_referral": "true", **WINDOW})
    link = re.search(r'<h3><a href="(/locations/\d+\?[^"]+)"', response.text)
    assert link is not None
    calendar = client.get(link.group(1).replace("&amp;", "&"))
    assert calendar.status_code == 200
    shown = {slots[int(pk)] for pk in re.findall(r'href="/go/(\d+)"', calendar.text)}
    assert shown == {"open-1", "kids-5"}
    # Two sets of badges, each before the times it applies to.
    groups = {tuple(badges): {slots[int(pk)] for pk in links} for badges, links in _badges_before_links(calendar.text)}
    assert groups[("New patients welcome", "No referral needed", "Ages 0\u201317", "Speaks Portuguese")] == {"kids-5"}
    assert {"open-1"} in groups.values()
    assert "new_patients=true" in calendar.text  # the week links keep the filters


def test_a_location_calendar_with_one_audience_lists_it_once(client: httpx.Client, slots: dict[int, str]) -> None:
    response = client.get("/search", params={"near": "02114", "language": "pt", **WINDOW})
    link = re.search(r'<h3><a href="(/locations/\d+\?[^"]+)"', response.text)
    assert link is not None
    calendar = client.get(link.group(1).replace("&amp;", "&"))
    groups = _badges_before_links(calendar.text)
    assert [(badges, {slots[int(pk)] for pk in links}) for badges, links in groups] == [
        (["New patients welcome", "No referral needed", "Ages 0\u201317", "Speaks Portuguese"], {"kids-5"})
    ]


def test_a_bad_filter_on_the_calendar_is_a_page_in_plain_words(client: httpx.Client, slots: dict[int, str]) -> None:
    response = client.get("/search", params={"near": "02114", **WINDOW})
    link = re.search(r'<h3><a href="/locations/(\d+)[?"]', response.text)
    assert link is not None
    calendar = client.get(f"/locations/{link.group(1)}", params={"age": "old"})
    assert calendar.status_code == 400
    assert calendar.headers["content-type"].startswith("text/html")
    assert "age" in calendar.text


def test_the_cli_filters_and_shows_who_may_book(store: DiscoveryStore, slots: dict[int, str], db_url: str) -> None:
    app = typer.Typer()
    app.command("search")(search_command)
    app.command("noop")(lambda: None)
    base = ["search", "--db", db_url, "--near", "02114", "--from", WINDOW["from"], "--to", WINDOW["to"]]
    result = CliRunner().invoke(app, [*base, "--new-patients", "--no-referral", "--language", "Portuguese", "--json"])
    assert result.exit_code == 0, result.output
    found = [slots[s["pk"]] for loc in json.loads(result.stdout) for s in loc["slots"]]
    assert found == ["kids-5"]
    table = CliRunner().invoke(app, base, env={"COLUMNS": "300"})  # wide enough that no cell wraps
    assert table.exit_code == 0, table.output
    assert "Existing patients only, No referral needed, Speaks Spanish" in table.stdout  # the first 5 times
    bad = CliRunner().invoke(app, [*base, "--age", "200"])
    assert bad.exit_code == 2
    assert "age" in bad.output
