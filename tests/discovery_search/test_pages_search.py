"""The search pages at consumer grade, over HTTP (issue 15): mistakes in plain words with the way out
(the JSON API keeps its OperationOutcome), suggestions from the services in the data, a summary of
the search, the search carried by the results' links and back from the portal, "my bookings", the
/go fallback pages, and all of it in Spanish."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from slotlinks.config import Settings
from slotlinks.discovery.store import tables as t
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.web.i18n import install_language
from tests.discovery_search.conftest import Data, add_schedule, build_app
from tests.english import english_words
from tests.servers import serve

SPANISH = {"Accept-Language": "es-US,es;q=0.9"}


@pytest.fixture
def settings() -> Settings:
    # Plain http, so the test client sends back the referral cookie ("my bookings").
    return Settings(source_id="test-finder", discovery_url="http://find.example", allow_private_networks=True)


@pytest.fixture
def client(settings: Settings, store: DiscoveryStore, data: Data) -> Iterator[httpx.Client]:
    app = build_app(settings, store)
    install_language(app)
    with serve(app) as origin, httpx.Client(base_url=origin, timeout=10) as client:
        yield client


def _text(html: str) -> str:
    """The page's visible words: no tags, styles or the datalist's service names (publishers' data)."""
    html = re.sub(r"<(style|datalist)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def _spoken(html: str) -> set[str]:
    """English words left on a page, the fixture's own data (names, services) taken out."""
    text = _text(html)
    for data in ("Boston Downtown Clinic", "Commonwealth Health", "Ocean State", "primary care", "dermatology"):
        text = text.replace(data, " ")
    return english_words(text)


@pytest.mark.parametrize(
    ("near", "plain"),
    [
        ("abcde", "We couldn't find that place. Please enter a 5-digit ZIP code like 02114"),
        ("00000", "We couldn't find the ZIP code 00000. Please check it"),
    ],
)
def test_a_place_we_cannot_read_is_said_plainly_with_the_way_out(client: httpx.Client, near: str, plain: str) -> None:
    page = client.get("/search", params={"near": near, "service": "primary care"})
    assert page.status_code == 400
    assert plain in unescape(page.text)
    assert "parameter" not in page.text
    assert "neither" not in page.text
    assert 'id="near" name="near" value="' + near + '"' in page.text  # kept, to correct
    assert 'aria-invalid="true"' in page.text
    # The JSON API keeps its OperationOutcome naming the parameter.
    api = client.get("/api/search", params={"near": near})
    assert api.status_code == 400
    assert api.json()["resourceType"] == "OperationOutcome"
    assert "near" in api.text


def test_a_filter_to_fix_opens_the_filters(client: httpx.Client) -> None:
    page = client.get("/search", params={"near": "02114", "age": "two hundred"})
    assert page.status_code == 400
    assert "Please enter the patient&#39;s age in whole years, from 0 to 130." in page.text
    assert '<details class="filters" open>' in page.text


def test_a_language_may_be_named_in_spanish(client: httpx.Client) -> None:
    page = client.get("/search", params={"near": "02114", "language": "Español"}, headers=SPANISH)
    assert page.status_code == 200
    assert "Habla Español" in page.text
    wrong = client.get("/search", params={"near": "02114", "language": "klingon"}, headers=SPANISH)
    assert wrong.status_code == 400
    assert "No conocemos ese idioma." in wrong.text


def test_the_service_field_suggests_the_services_in_the_data(client: httpx.Client) -> None:
    page = client.get("/").text
    assert 'list="service-names"' in page
    listed = re.findall(r'<option value="([^"]+)"></option>', page.split('<datalist id="service-names">')[1])
    assert "primary care" in listed
    assert "dermatology" in listed
    assert listed == sorted(listed, key=str.casefold)
    assert len(listed) == len(set(listed))


def test_the_suggestions_are_read_again_only_when_a_publishers_data_changes(
    client: httpx.Client, store: DiscoveryStore, data: Data
) -> None:
    def listed() -> list[str]:
        page = client.get("/").text.split('<datalist id="service-names">')[1].split("</datalist>")[0]
        return re.findall(r'<option value="([^"]+)">', page)

    assert "sleep medicine" not in listed()
    with store.write() as conn:  # written into the current generation, as no sync would: the cache holds
        add_schedule(conn, data.pub1, data.boston, "sleep medicine")
    assert "sleep medicine" not in listed()
    with store.write() as conn:  # a new generation of the publisher's data: read again
        conn.execute(update(t.publisher).where(t.publisher.c.id == data.pub1).values(generation=2))
        conn.execute(update(t.schedule).where(t.schedule.c.publisher_id == data.pub1).values(generation=2))
    assert "sleep medicine" in listed()


def test_a_service_we_do_not_have_lists_those_we_do(client: httpx.Client) -> None:
    page = client.get("/search", params={"near": "02114", "service": "zzzz"})
    assert page.status_code == 200
    text = unescape(page.text)
    assert "No open times found" in text
    assert "We have no service called “zzzz”." in text
    links = re.findall(r'<ul class="suggest">(.*?)</ul>', page.text, flags=re.S)[0]
    assert 'href="/search?near=02114&amp;service=primary+care"' in links
    # A typo finds its service.
    typo = client.get("/search", params={"near": "02114", "service": "dermatolgy"}).text
    suggested = re.findall(r'<ul class="suggest">(.*?)</ul>', typo, flags=re.S)[0]
    assert ">dermatology</a>" in suggested


def test_the_summary_line_names_the_search(client: httpx.Client) -> None:
    page = client.get(
        "/search",
        params={"near": "02114", "radius": "10mi", "service": "primary care", "new_patients": "true", "sort": "best"},
    )
    summary = re.search(r'<p class="summary">(.*?)</p>', page.text, flags=re.S)
    assert summary
    words = " ".join(_text(summary.group(1)).split())
    assert words == "Your search: primary care · Within 10 miles of 02114 · Accepting new patients"
    assert "Filters (2 on)" in page.text  # the distance and the who-can-book box; "best" is no filter


def test_no_line_starts_with_a_stray_dot_without_a_zip_code(client: httpx.Client) -> None:
    page = client.get("/search", params={"service": "primary care", "to": "2026-12-31"}).text
    metas = [_text(m).strip() for m in re.findall(r'<p class="meta">(.*?)</p>', page, flags=re.S)]
    assert metas
    assert not [m for m in metas if m.startswith("·") or m.endswith("·") or "·  ·" in m]


def test_results_carry_the_search_to_the_location_page_and_to_go(client: httpx.Client, data: Data) -> None:
    search = {"near": "02114", "radius": "1mi", "service": "primary care", "new_patients": "", "to": "2026-12-31"}
    page = client.get("/search", params=search).text
    assert f'href="/locations/{data.boston}?service=primary+care&amp;to=2026-12-31"' in page
    carried = "near=02114&amp;radius=1mi&amp;service=primary+care&amp;to=2026-12-31"
    assert f'href="/go/{data.slots["boston_primary"]}?{carried}"' in page


def test_back_from_the_portal_returns_to_the_results(client: httpx.Client, data: Data) -> None:
    search = "near=02114&radius=1mi&service=primary+care"
    followed = client.get(f"/go/{data.slots['boston_primary']}?{search}&evil=1")
    assert followed.status_code == 303
    referral = parse_qs(urlsplit(followed.headers["location"]).query)["booking-referral"][0]
    back = client.get("/back", params={"booking-referral": referral})
    assert back.status_code == 303
    assert back.headers["location"] == f"/search?{search}"  # the search only: nothing else is echoed
    results = client.get(back.headers["location"])
    assert "Appointments near 02114" in results.text
    # A referral of no search, or not ours, leads to "my bookings".
    plain = client.get(f"/go/{data.slots['boston_primary']}")
    other = parse_qs(urlsplit(plain.headers["location"]).query)["booking-referral"][0]
    assert client.get("/back", params={"booking-referral": other}).headers["location"] == "/my-bookings"
    assert client.get("/back", params={"booking-referral": "x" * 20}).headers["location"] == "/my-bookings"


def test_my_bookings_names_service_clinician_place_and_time(client: httpx.Client, data: Data) -> None:
    followed = client.get(f"/go/{data.slots['boston_primary']}?near=02114")
    assert followed.status_code == 303
    page = client.get("/my-bookings")
    assert page.status_code == 200
    entry = _text(page.text.split('<ol class="referrals">')[1].split("</ol>")[0])
    words = " ".join(entry.split())
    assert "primary care" in words
    assert "With Dr. Alice Smith" in words
    assert "Where Boston Downtown Clinic" in words
    assert re.search(r"Time chosen Thu\w*, November 26, 9:00 AM EST", words), words
    assert "In progress" in words
    old = client.get("/my-referrals")
    assert old.status_code == 301
    assert old.headers["location"] == "/my-bookings"
    assert ">My bookings</a>" in client.get("/").text


def test_the_go_pages_speak_plainly_and_lead_back_to_the_search(client: httpx.Client, data: Data) -> None:
    gone = client.get("/go/999999?near=02114&service=primary+care")
    assert gone.status_code == 404
    assert "The provider no longer offers this appointment time." in gone.text
    assert 'href="/search?near=02114&amp;service=primary+care">Back to your search</a>' in gone.text
    taken = client.get(f"/go/{data.slots['boston_busy']}?near=02114")
    assert "Someone else has booked this time." in taken.text
    assert f'href="/go/{data.slots["boston_primary"]}?near=02114"' in taken.text  # the next times carry it on
    spanish = client.get(f"/go/{data.slots['boston_busy']}?near=02114", headers=SPANISH)
    assert "Otra persona reservó este horario." in spanish.text
    assert "Volver a su búsqueda" in spanish.text
    assert not _spoken(spanish.text)


def test_too_many_links_is_a_page_in_plain_words(store: DiscoveryStore, data: Data) -> None:
    settings = Settings(
        source_id="test-finder", discovery_url="http://find.example", allow_private_networks=True, deeplink_attempts=1
    )
    app = build_app(settings, store)
    install_language(app)
    headers = {"Accept": "text/html", **SPANISH}
    with serve(app) as origin, httpx.Client(base_url=origin, timeout=10, headers=headers) as client:
        client.get(f"/go/{data.slots['boston_busy']}")
        page = client.get(f"/go/{data.slots['boston_busy']}?near=02114")
    assert page.status_code == 429
    assert "Retry-After" in page.headers
    assert "Por favor, espere unos 10 minutos y vuelva a elegir el horario." in page.text  # the window, 600 s
    assert 'href="/search?near=02114">Volver a su búsqueda</a>' in page.text
    assert not _spoken(page.text)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?near=02114&radius=10mi",
        "/search?near=02114&service=zzzz",
        "/search?near=abcde",
        "/search?service=primary+care&new_patients=true&age=40&language=es&sort=soonest&to=2026-12-31",
        "/my-bookings",
        "/status",
        "/locations/99999",
    ],
)
def test_the_search_pages_speak_spanish(client: httpx.Client, path: str) -> None:
    page = client.get(path, headers=SPANISH)
    assert '<html lang="es">' in page.text
    assert not _spoken(page.text), (path, _spoken(page.text))


def test_spanish_times_and_words(client: httpx.Client) -> None:
    page = unescape(client.get("/search", params={"near": "02114", "radius": "10mi"}, headers=SPANISH).text)
    assert "jue, 26 nov, 9:00 a.\u202fm. EST" in page  # Babel's narrow space inside "a. m."
    assert "Citas cerca de 02114" in page
    assert "actualizado hace 3 minutos" in page
    assert "(5 lugares libres)" in page
