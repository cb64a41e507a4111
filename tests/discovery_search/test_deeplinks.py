"""Deep links: parsed, query kept, source and booking-referral appended, referral recorded, only http(s)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import select

from slotlinks.config import Settings
from slotlinks.discovery.referrals.deeplinks import build_deep_link, fhir_read_url, is_bookable_link, new_referral_id
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import NOW_MS, Data, add_slot, build_app
from tests.servers import serve


def test_build_keeps_the_publishers_query_and_fragment() -> None:
    link = build_deep_link("https://portal.example/book?slot=a%20b&x=1#top", source="finder", referral="r1")
    parts = urlsplit(link)
    assert parts.query.startswith("slot=a%20b&x=1&")  # the publisher's query, byte for byte
    assert parse_qsl(parts.query) == [("slot", "a b"), ("x", "1"), ("source", "finder"), ("booking-referral", "r1")]
    assert parts.fragment == "top"
    assert build_deep_link("https://portal.example/book", source="a b&c", referral="r") == (
        "https://portal.example/book?source=a+b%26c&booking-referral=r"
    )


def test_build_replaces_a_planted_source() -> None:
    link = build_deep_link("https://p.example/b?source=evil&booking-referral=old&k=v", source="me", referral="new")
    assert parse_qsl(urlsplit(link).query) == [("k", "v"), ("source", "me"), ("booking-referral", "new")]


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "ftp://files.example/x",
        "data:text/html,hi",
        "//no-scheme.example",
        "",
        "https://",
        # Stored before ingest refused them, such links are still neither rendered nor followed.
        "http://user:pass@evil.example/book",
        "https://portal.example/book?pad=" + "x" * 4096,
    ],
)
def test_only_http_links_are_bookable(link: str) -> None:
    assert not is_bookable_link(link)
    with pytest.raises(ValueError, match="http"):
        build_deep_link(link, source="s", referral="r")


def test_referral_ids_are_unique_and_unguessable() -> None:
    ids = {new_referral_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) >= 22 for i in ids)


def test_fhir_read_url() -> None:
    assert fhir_read_url("https://h.example/fhir/$bulk-publish", "s-1") == "https://h.example/fhir/Slot/s-1"
    assert fhir_read_url("https://h.example/$bulk-publish", "s.1") == "https://h.example/Slot/s.1"
    assert fhir_read_url("https://h.example/fhir/%24bulk-publish", "s") == "https://h.example/fhir/Slot/s"
    assert fhir_read_url("https://h.example/fhir/manifest.json", "s") is None
    assert fhir_read_url("https://h.example/fhir/$bulk-publish", "..") is None
    assert fhir_read_url("https://h.example/fhir/$bulk-publish", "a/b") is None
    assert fhir_read_url("file:///etc/$bulk-publish", "s") is None


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, data: Data) -> Iterator[httpx.Client]:
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        yield client


def referrals(store: DiscoveryStore) -> list[dict[str, object]]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(t.referral)).mappings()]


def test_go_redirects_with_source_and_referral_and_records_it(
    client: httpx.Client, store: DiscoveryStore, data: Data
) -> None:
    response = client.get(f"/go/{data.slots['boston_primary']}")
    assert response.status_code == 303
    location = response.headers["location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "portal.example.org", "/book")
    query = dict(parse_qsl(parts.query))
    assert query["slot"] == "abc"
    assert query["lang"] == "en"
    assert query["source"] == "test-finder"
    (row,) = referrals(store)
    assert row["id"] == query["booking-referral"]
    assert row["link"] == location
    assert row["publisher_id"] == data.pub1
    assert row["slot_source_id"] == "bp1"
    assert row["created_ms"] == NOW_MS
    assert row["location_name"] == "Boston Downtown Clinic"
    again = client.get(f"/go/{data.slots['boston_primary']}")
    assert dict(parse_qsl(urlsplit(again.headers["location"]).query))["booking-referral"] != row["id"]


def test_javascript_and_ftp_links_are_never_followed_or_rendered(
    client: httpx.Client, store: DiscoveryStore, data: Data
) -> None:
    with store.write() as conn:
        ftp = add_slot(
            conn,
            data.pub1,
            _schedule_of(store, data.slots["boston_primary"]),
            NOW_MS + 3 * 86_400_000,
            link="ftp://x.example/f",
        )
    for pk in (data.slots["video"], ftp):
        response = client.get(f"/go/{pk}")
        assert response.status_code == 200
        assert "location" not in response.headers
        assert "javascript:" not in response.text
        assert "ftp:" not in response.text
        assert "Book by phone" in response.text
        assert 'href="tel:6175550199"' in response.text
    assert referrals(store) == []
    page = client.get("/search", params={"virtual": "true"})
    assert "Ocean State Video Visits" in page.text
    assert "javascript:" not in page.text
    api = client.get("/api/search", params={"virtual": "true"})
    assert "javascript:" not in api.text


def test_busy_in_our_data_shows_alternatives(client: httpx.Client, data: Data) -> None:
    response = client.get(f"/go/{data.slots['boston_busy']}")
    assert response.status_code == 200
    assert "This time is taken" in response.text
    assert f"/go/{data.slots['boston_primary']}" in response.text


def test_old_generation_slot_is_not_followed(client: httpx.Client, data: Data) -> None:
    response = client.get(f"/go/{data.slots['old']}")
    assert response.status_code == 404
    assert "no longer listed" in response.text


def _schedule_of(store: DiscoveryStore, slot_pk: int) -> int:
    with store.read() as conn:
        return int(conn.execute(select(t.slot.c.schedule_pk).where(t.slot.c.pk == slot_pk)).scalar_one())


def test_go_remembers_the_referral_in_a_signed_cookie(
    client: httpx.Client, store: DiscoveryStore, settings: Settings, data: Data
) -> None:
    from slotlinks.discovery.referrals.deeplinks import REFERRAL_COOKIE, cookie_key, read_referral_cookie

    first = client.get(f"/go/{data.slots['boston_primary']}")
    kept = first.cookies[REFERRAL_COOKIE]
    # The test deployment's public URL is https, so the browser would send the cookie back only over
    # https: hand it back explicitly on this plain-http test connection.
    client.cookies.clear()
    second = client.get(f"/go/{data.slots['boston_primary']}", headers={"Cookie": f"{REFERRAL_COOKIE}={kept}"})
    assert first.status_code == second.status_code == 303
    referrals = [parse_qs(urlsplit(r.headers["location"]).query)["booking-referral"][0] for r in (first, second)]
    with store.read() as conn:
        key = cookie_key(settings, conn)
    assert read_referral_cookie(key, second.cookies[REFERRAL_COOKIE]) == referrals
    flags = second.headers["set-cookie"].lower()
    assert "httponly" in flags
    assert ("secure" in flags) == settings.discovery_url.startswith("https:")


def test_go_answers_429_past_the_clients_limit_and_stores_nothing_more(
    store: DiscoveryStore, settings: Settings, data: Data
) -> None:
    settings = dataclasses.replace(settings, deeplink_attempts=3, deeplink_window_seconds=3600, behind_proxy=True)
    go = f"/go/{data.slots['boston_primary']}"
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "X-Forwarded-For": "203.0.113.7"}
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        assert [client.get(go, headers=browser).status_code for _ in range(3)] == [303, 303, 303]
        page = client.get(go, headers=browser)
        assert page.status_code == 429
        assert 0 < int(page.headers["retry-after"]) <= 3600
        assert page.headers["content-type"].startswith("text/html")
        assert "Please wait about 20 minutes" in page.text
        assert "location" not in page.headers
        # A script is answered in FHIR's terms, with the same Retry-After.
        api = client.get(go, headers={"Accept": "application/json", "X-Forwarded-For": "203.0.113.7"})
        assert api.status_code == 429
        assert int(api.headers["retry-after"]) > 0
        outcome = orjson.loads(api.content)
        assert (outcome["resourceType"], outcome["issue"][0]["code"]) == ("OperationOutcome", "throttled")
        assert len(referrals(store)) == 3
        # The limit is the client's own: another address still follows links.
        other = client.get(go, headers={**browser, "X-Forwarded-For": "198.51.100.2"})
        assert other.status_code == 303
    assert len(referrals(store)) == 4


def test_a_patient_reading_spanish_lands_on_the_portal_in_spanish() -> None:
    link = build_deep_link("https://p.example/b?k=v", source="me", referral="r", language="es")
    assert link == "https://p.example/b?k=v&source=me&booking-referral=r&lang=es"
    own = build_deep_link("https://p.example/b?lang=fr", source="me", referral="r", language="es")
    assert own == "https://p.example/b?lang=fr&source=me&booking-referral=r", "the publisher's own lang stays"
    assert "lang" not in build_deep_link("https://p.example/b", source="me", referral="r", language="en")


def test_go_tells_the_portal_the_patients_language(client: httpx.Client, data: Data) -> None:
    spanish = client.get(f"/go/{data.slots['cambridge_vax']}", headers={"Accept-Language": "es"})
    assert spanish.status_code == 303, spanish.text
    assert dict(parse_qsl(urlsplit(spanish.headers["location"]).query))["lang"] == "es"
    english = client.get(f"/go/{data.slots['cambridge_vax']}", headers={"Accept-Language": "en"})
    assert "lang" not in dict(parse_qsl(urlsplit(english.headers["location"]).query))
