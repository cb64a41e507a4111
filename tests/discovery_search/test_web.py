"""The web pages render: headings, labels, landmarks, tel: links, and every user string escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import orjson
import pytest
from sqlalchemy import insert, select, update

from slotlinks.config import Settings
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from tests.discovery_search.conftest import NOW_MS, Data, add_location, add_schedule, add_slot, build_app
from tests.servers import serve

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, data: Data) -> Iterator[httpx.Client]:
    with serve(build_app(settings, store)) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        yield client


def assert_page(response: httpx.Response, heading: str, status: int = 200) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert re.search(r"<h1>[^<]*" + re.escape(heading), html), html[:2000]
    for landmark in ("<header>", "<nav", "<main", "<footer>"):
        assert landmark in html
    return html


def test_home_has_a_labelled_form(client: httpx.Client) -> None:
    html = assert_page(client.get("/"), "Find an appointment")
    for field in (
        "near",
        "radius",
        "service",
        "specialty",
        "vaccine",
        "practitioner",
        "organization",
        "virtual",
        "from",
        "to",
        "sort",
    ):
        assert f'<label for="{field}">' in html
        assert f'id="{field}"' in html
    assert 'action="/search"' in html
    assert 'method="get"' in html


def test_results_page(client: httpx.Client, data: Data) -> None:
    html = assert_page(client.get("/search", params={"near": "02114", "radius": "10mi"}), "Appointments near 02114")
    assert "<h2" in html
    assert "Boston Downtown Clinic" in html
    assert "as of 3 minutes ago" in html
    assert "Commonwealth Health" in html
    assert 'href="tel:6175550199"' in html
    # Each time carries the search on to /go (the way back to these results).
    assert f'href="/go/{data.slots["boston_primary"]}?near=02114&amp;radius=10mi"' in html
    assert "Thu, Nov 26, 9:00 AM EST" in html  # local time, with its zone
    assert "(5 openings)" in html  # the Cambridge vaccine slot's capacity
    assert f'href="/locations/{data.boston}"' in html


def test_times_of_different_services_say_which(client: httpx.Client, data: Data) -> None:
    window = {"near": "02114", "radius": "1mi", "to": "2026-12-31", "per_location": "10"}
    boston = client.get("/search", params=window).text
    derm = f'href="/go/{data.slots["boston_derm"]}?'
    assert derm in boston
    button = boston[boston.index(derm) :].split("</a>", 1)[0]
    assert "· dermatology · Dr. Bob Jones" in button
    # One service, one clinician: the times need no such words.
    only = client.get("/search", params={**window, "service": "dermatology"}).text
    assert "· dermatology" not in only[only.index(derm) :].split("</a>", 1)[0]


def test_times_with_different_clinicians_name_only_the_clinician(
    client: httpx.Client, store: DiscoveryStore, data: Data
) -> None:
    with store.write() as conn:
        place = add_location(conn, data.pub1, "Springfield Family Medicine", (42.1015, -72.5898), city="Springfield")
        for who, hour in (("Dr. Carla Diaz", 15), ("Dr. Dan Evans", 16)):
            schedule = add_schedule(conn, data.pub1, place, "family medicine", practitioner_display=who)
            add_slot(conn, data.pub1, schedule, NOW_MS + 2 * 86_400_000 + hour * 3_600_000)
    html = client.get("/search", params={"near": "01103", "radius": "5mi", "to": "2026-12-31"}).text
    buttons = re.findall(r'<a href="/go/[0-9]+\?[^"]*" rel="nofollow">(.*?)</a>', html)
    assert len(buttons) == 2
    assert ["Dr. Carla Diaz" in b for b in buttons] == [True, False]
    assert ["Dr. Dan Evans" in b for b in buttons] == [False, True]
    assert not any("family medicine" in b for b in buttons)


def test_results_page_starts_at_now(client: httpx.Client, data: Data) -> None:
    html = client.get("/search", params={"near": "02114", "from": "2026-11-01", "to": "2026-11-27"}).text
    assert "Boston Downtown Clinic" in html  # now (fixture clock) to the 27th


def test_user_strings_are_escaped(client: httpx.Client, store: DiscoveryStore, data: Data) -> None:
    bad = client.get("/search", params={"near": EVIL})
    html = assert_page(bad, "Appointments", 400)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    html = client.get("/search", params={"near": "02114", "service": EVIL}).text
    assert "<script>alert" not in html
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in html
    with store.write() as conn:
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub2).values(name=EVIL, last_error=EVIL))
        pk = add_location(conn, data.pub2, EVIL, (42.36, -71.06), city=EVIL, phone='1"><b>')
        schedule = add_schedule(conn, data.pub2, pk, EVIL.lower())
        add_slot(conn, data.pub2, schedule, NOW_MS + 3_600_000, phone=None)
    for path in ("/search?near=02114", f"/locations/{pk}", "/status"):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;" in html, path
        assert '"><b>' not in html, path


def test_bidi_controls_and_invisible_characters_are_not_shown(
    client: httpx.Client, store: DiscoveryStore, data: Data
) -> None:
    # Shown as published, the name would read "Clinic gpj.exe" and the city hide a zero-width space.
    name = "Clinic \u202eexe.jpg\u202c"
    service = {"serviceType": [{"text": "Flu\u200b shot\u2066\u2069"}]}
    with store.write() as conn:
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub2).values(name="Health\ufeff\u200fCo"))
        pk = add_location(conn, data.pub2, name, (42.36, -71.06), city="Bos\u200bton\u2060")
        schedule = add_schedule(conn, data.pub2, pk, "flu shot")
        # As ingest stores it: the resource, and the service's name as a patient reads it.
        values = {"resource": orjson.dumps(service).decode(), "service_name": "Flu\u200b shot\u2066\u2069"}
        conn.execute(update(t.schedule).where(t.schedule.c.pk == schedule).values(**values))
        add_slot(conn, data.pub2, schedule, NOW_MS + 3_600_000)
        add_slot(conn, data.pub2, add_schedule(conn, data.pub2, pk, "other"), NOW_MS + 7_200_000)
    for path in ("/search?near=02114", f"/locations/{pk}"):
        html = client.get(path).text
        assert not re.search("[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]", html), path
        assert "Clinic exe.jpg" in html, path
        assert "Boston" in html, path
        assert "HealthCo" in html, path
    assert "Flu shot" in client.get("/search?near=02114").text
    with store.read() as conn:  # the data stays as published
        stored = conn.execute(select(t.location.c.name).where(t.location.c.pk == pk)).scalar_one()
    assert stored == name


def test_location_calendar(client: httpx.Client, data: Data) -> None:
    html = assert_page(client.get(f"/locations/{data.boston}", params={"from": "2026-11-26"}), "Boston Downtown Clinic")
    assert "<table" not in html  # days as rows: nothing wider than a phone
    assert "Open times from Thursday, November 26 to Wednesday, December 2. Times are Eastern Time." in html
    assert '<h2 id="service-1">dermatology</h2>' in html
    assert '<h2 id="service-2">primary care</h2>' in html
    assert "<h3>Dr. Alice Smith</h3>" in html
    assert '<h4 class="day">Thursday, November 26</h4>' in html
    assert f'href="/go/{data.slots["boston_primary"]}"' in html
    assert "Next week" in html
    assert_page(client.get("/locations/99999"), "Location not found", 404)
    assert client.get(f"/locations/{data.old_location}").status_code == 404
    assert client.get(f"/locations/{data.boston}", params={"from": "tuesday"}).status_code == 400


def _times(html: str) -> dict[int, str]:
    """Each /go/ link of a page with its whole text (tags dropped): one time per link."""
    links = re.findall(r'<a href="/go/(\d+)"[^>]*>(.*?)</a>', html, flags=re.S)
    return {int(pk): re.sub(r"<[^>]+>", "", text) for pk, text in links}


def test_a_service_search_keeps_its_service_on_the_location_page(client: httpx.Client, data: Data) -> None:
    # The results link with the search's own filters (the contract between the two pages).
    html = client.get(f"/locations/{data.boston}", params={"service": "primary care", "from": "2026-11-26"}).text
    primary = {data.slots["boston_primary"], data.slots["boston_primary2"]}
    assert set(_times(html)) == primary  # dermatology's time on the same days is left out
    assert "dermatology" not in html
    assert "Service: primary care" in html
    assert f'<a href="/locations/{data.boston}">See every open time at this place</a>' in html
    # The week links keep the service.
    assert re.search(r'href="/locations/\d+\?from=2026-12-03&amp;service=primary\+care"', html)
    # Without the query, every service's times are there again.
    assert data.slots["boston_derm"] in _times(client.get(f"/locations/{data.boston}").text)


def test_the_location_page_keeps_the_clinician_and_the_end_date(client: httpx.Client, data: Data) -> None:
    html = client.get(f"/locations/{data.boston}", params={"practitioner": "jones", "from": "2026-11-26"}).text
    assert set(_times(html)) == {data.slots["boston_derm"]}
    assert "Clinician: jones" in html
    # A search that ends on the 26th: that day's times only, and no week after it to go to.
    html = client.get(f"/locations/{data.boston}", params={"from": "2026-11-26", "to": "2026-11-26"}).text
    assert set(_times(html)) == {data.slots["boston_primary"], data.slots["boston_primary2"]}
    assert "Next week" not in html
    assert "Previous week" in html  # the 19th's week still holds today


def test_each_time_is_its_own_link_named_by_what_it_shows(client: httpx.Client, data: Data) -> None:
    html = client.get(f"/locations/{data.boston}", params={"from": "2026-11-26"}).text
    times = _times(html)
    assert times[data.slots["boston_primary"]] == "Thursday, November 26, 9:00 AM EST, primary care, Dr. Alice Smith"
    assert times[data.slots["boston_primary2"]] == "Thursday, November 26, 10:00 AM EST, primary care, Dr. Alice Smith"
    assert times[data.slots["boston_derm"]] == "Sunday, November 29, 9:00 AM EST, dermatology, Dr. Bob Jones"
    assert len(set(times.values())) == len(times)  # no two links sound the same
    assert 'aria-label="Book' not in html  # the name is the link's own text, visible time included
    for pk in times:
        visible = r"\d{1,2}:\d\d [AP]M EST"
        assert re.search(rf'<a href="/go/{pk}" rel="nofollow"><span class="vh">[^<]+</span>{visible}<', html)


def test_status_page(client: httpx.Client, store: DiscoveryStore, data: Data) -> None:
    with store.write() as conn:
        conn.execute(
            insert(t.sync_run).values(
                publisher_id=data.pub1, started_ms=NOW_MS - 180_000, duration_ms=420, outcome="full",
                http_statuses="{}", added=9, changed=0, removed=1, bad_lines=3, warnings=2,
            )
        )  # fmt: skip
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub2).values(last_error="HTTP 503", failures=2))
    html = assert_page(client.get("/status"), "Publisher status")
    assert "<h2" in html
    assert "Commonwealth Health" in html
    assert "full at 2026-11-24T13:57:00.000Z, 420 ms: 9 added, 0 changed, 1 removed" in html
    assert "<dt>Bad lines</dt><dd>3</dd>" in html
    assert "<dt>Warnings</dt><dd>2</dd>" in html
    assert "HTTP 503 (2 failures in a row)" in html
    assert "3 locations, 4 schedules, 8 slots" in html  # publisher 1, generation 1 only
