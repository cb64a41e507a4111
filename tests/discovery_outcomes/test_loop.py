"""The whole referral loop over real servers: search, deep link, hold and book on the provider's
portal, back to the discovery server, "Booked" with the final time on "my referrals", and the slot
gone from the results at once (before the next poll). A wrong secret learns nothing; a tampered
cookie is ignored."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from slotlinks.discovery.publishers import registry
from slotlinks.discovery.referrals.deeplinks import REFERRAL_COOKIE
from slotlinks.discovery.store import tables as t
from tests.discovery_outcomes.conftest import SECRET, SLOT_ID, SOURCE, Loop
from tests.portal.conftest import PATIENT, Browser

_BACK = re.compile(r'<a href="([^"]+)" rel="noreferrer">Back to your search</a>')


def _slot_pk(loop: Loop) -> int:
    with loop.store.read() as conn:
        pk = conn.execute(
            select(t.slot.c.pk).where(t.slot.c.publisher_id == loop.publisher_id, t.slot.c.source_id == SLOT_ID)
        ).scalar_one()
    return int(pk)


def _search_pks(loop: Loop) -> set[int]:
    found = httpx.get(
        f"{loop.discovery}/api/search",
        params={"from": "2026-11-25", "to": "2026-11-25", "per_location": "50", "limit": "200"},
        timeout=30,
    )
    assert found.status_code == 200, found.text
    return {slot["pk"] for loc in found.json()["locations"] for slot in loc["slots"]}


def _follow_and_book(loop: Loop, patient: httpx.Client) -> tuple[str, str]:
    """Follows the slot's deep link and books it on the portal; returns (referral, back link)."""
    redirect = patient.get(f"/go/{_slot_pk(loop)}")
    assert redirect.status_code == 303, redirect.text
    target = urlsplit(redirect.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == loop.portal
    query = parse_qs(target.query)
    assert query["source"] == [SOURCE]
    referral = query["booking-referral"][0]
    with Browser(loop.portal) as browser:
        held = browser.land_and_hold(target.path.rsplit("/", 1)[-1], source=SOURCE, referral=referral)
        assert held.status_code == 200, held.text
        done = browser.submit(action="book", **PATIENT)
        assert done.status_code == 200, done.text
        found = _BACK.search(done.text)
        assert found, done.text
    return referral, found.group(1).replace("&amp;", "&")


def _client(loop: Loop) -> httpx.Client:
    return httpx.Client(base_url=loop.discovery, timeout=30, follow_redirects=False)


def test_booked_referral_shows_and_slot_drops_out_at_once(loop: Loop) -> None:
    loop.register_source()
    registry.set_referral_secret(loop.store, loop.publisher_id, SECRET)
    pk = _slot_pk(loop)
    assert pk in _search_pks(loop)
    with _client(loop) as patient:
        referral, back = _follow_and_book(loop, patient)
        assert back == f"{loop.discovery}/back?booking-referral={referral}"

        came_back = patient.get(back)
        assert came_back.status_code == 303
        assert came_back.headers["location"] == "/my-bookings"  # the deep link came from no search
        cookie = came_back.headers["set-cookie"]
        assert cookie.startswith(f"{REFERRAL_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()

        mine = patient.get("/my-bookings")
        assert mine.status_code == 200
        assert "Booked" in mine.text
        assert re.search(r"Wed\w*, November 25, 10:00 AM EST", mine.text)  # the final time, the location's zone
        for private in ("Ada", "Lovelace", "617-555", "ada@example.com"):
            assert private not in mine.text

        # Gone from the results at once: the publication has not been polled again.
        assert pk not in _search_pks(loop)
        with loop.store.read() as conn:
            row = conn.execute(select(t.referral).where(t.referral.c.id == referral)).one()
            status = conn.execute(select(t.slot.c.status).where(t.slot.c.pk == pk)).scalar_one()
        assert (row.outcome, row.outcome_start, status) == ("booked", "2026-11-25T10:00:00-05:00", "busy")

        # The location page shows this browser's booking there; another browser sees no badge.
        assert row.location_source_id
        with loop.store.read() as conn:
            loc_pk = conn.execute(
                select(t.location.c.pk).where(t.location.c.source_id == row.location_source_id)
            ).scalar_one()
        page = patient.get(f"/locations/{loc_pk}")
        assert page.status_code == 200
        assert 'class="badge badge-booked">Booked</strong>' in page.text
        assert "You have an appointment here: Wednesday, November 25, 10:00 AM" in page.text
        results = patient.get("/search", params={"from": "2026-11-25", "to": "2026-11-25"})
        assert results.status_code == 200
        assert re.search(r"You have an appointment here: (Tomorrow|Wed, Nov 25), 10:00 AM EST", results.text)
    with _client(loop) as stranger:
        assert "You have an appointment here" not in stranger.get(f"/locations/{loc_pk}").text
        assert "No bookings from this browser yet" in stranger.get("/my-bookings").text


def test_wrong_secret_learns_nothing(loop: Loop) -> None:
    loop.register_source()
    registry.set_referral_secret(loop.store, loop.publisher_id, "not-the-registered-secret-0123")
    pk = _slot_pk(loop)
    with _client(loop) as patient:
        _referral, back = _follow_and_book(loop, patient)
        assert patient.get(back).status_code == 303
        mine = patient.get("/my-bookings")
        assert "Outcome unknown" in mine.text
        assert "Booked" not in mine.text
        assert "10:00 AM at" not in mine.text
    with loop.store.read() as conn:
        row = conn.execute(select(t.referral).where(t.referral.c.slot_pk == pk)).one()
        status = conn.execute(select(t.slot.c.status).where(t.slot.c.pk == pk)).scalar_one()
    assert (row.outcome, row.outcome_start, row.outcome_location, row.local_status) == ("unknown", None, None, None)
    assert status == "free"  # nothing marked locally; the next poll tells the truth


def test_tampered_cookie_is_ignored(loop: Loop) -> None:
    loop.register_source()
    registry.set_referral_secret(loop.store, loop.publisher_id, SECRET)
    with _client(loop) as patient:
        referral, back = _follow_and_book(loop, patient)
        patient.get(back)
        value = patient.cookies[REFERRAL_COOKIE]
        assert referral in value
    payload, _, signature = value.rpartition("~")
    forged: list[dict[str, Any]] = [
        {REFERRAL_COOKIE: payload + "~" + signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")},
        {REFERRAL_COOKIE: payload + ".AAAAAAAAAAAAAAAAAAAAAA~" + signature},
        {REFERRAL_COOKIE: payload},
        {REFERRAL_COOKIE: "~"},
    ]
    for cookies in forged:
        with httpx.Client(base_url=loop.discovery, timeout=30, cookies=cookies) as other:
            page = other.get("/my-bookings")
            assert page.status_code == 200
            assert "No bookings from this browser yet" in page.text, cookies
            assert referral not in page.text


def test_back_with_an_unknown_referral_sets_nothing(loop: Loop) -> None:
    with _client(loop) as patient:
        for query in ("?booking-referral=AAAAAAAAAAAAAAAAAAAAAA", "?booking-referral=<script>", ""):
            answer = patient.get("/back" + query)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/my-bookings"
            assert "set-cookie" not in answer.headers
