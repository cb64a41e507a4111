"""The staff pages over HTTP on SQLite and PostgreSQL: sign-in, bookings with answers per location,
cancelling on a patient's behalf, CSRF, session expiry, rate limits, and the staff admin API."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from slotlinks.clock import FixedClock
from slotlinks.config import Settings
from slotlinks.provider.app import create_app
from slotlinks.provider.demo.generate import generate_provider
from slotlinks.provider.demo.questionnaires import neurology_questionnaire
from slotlinks.provider.portal.questionnaires import put_questionnaire
from slotlinks.provider.publication.snapshots import PublicationCache
from slotlinks.provider.schedule.slots import get_slot
from slotlinks.provider.staff.bookings import cancel_for_patient
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore, open_store
from tests.portal.conftest import PATIENT, Browser, make_slot, settings_for
from tests.provider.conftest import ADMIN_TOKEN, small_options
from tests.servers import serve

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PASSWORD = "staff-password-0123"
ANSWERS = {"q-referral": "yes", "q-diagnosis": "http://snomed.info/sct|37796009"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def store(db_url: str, clock: FixedClock) -> Iterator[ProviderStore]:
    store = open_store(db_url, clock=clock)
    generate_provider(store, small_options(locations=2, days=3))
    yield store
    store.dispose()


@dataclass
class Server:
    store: ProviderStore
    settings: Settings
    origin: str
    clock: FixedClock

    def staff(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.origin, timeout=60, **kwargs)  # type: ignore[arg-type]


MakeServer = Callable[..., Server]


@pytest.fixture
def make_server(store: ProviderStore, clock: FixedClock, tmp_path: Path) -> Iterator[MakeServer]:
    with ExitStack() as servers:

        def start(**changes: object) -> Server:
            settings = settings_for(tmp_path, **changes)
            return Server(store, settings, servers.enter_context(serve(create_app(settings, store))), clock)

        yield start


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server()


def add_staff(server: Server, username: str = "alice", password: str = PASSWORD) -> None:
    made = httpx.put(f"{server.origin}/admin/staff/{username}", json={"password": password}, headers=ADMIN)
    assert made.status_code == 200, made.text


def csrf_of(page: httpx.Response, index: int = 0) -> str:
    return str(_CSRF.findall(page.text)[index])


def sign_in(client: httpx.Client, username: str = "alice", password: str = PASSWORD, **headers: str) -> httpx.Response:
    form = client.get("/staff/login")
    assert form.status_code == 200, form.text
    data = {"csrf": csrf_of(form), "username": username, "password": password}
    return client.post("/staff/login", data=data, headers=headers)


def cancel_token(page: httpx.Response, appointment_id: str) -> str:
    found = re.search(
        rf'action="/staff/appointments/{appointment_id}/cancel">\s*<input type="hidden" name="csrf" value="([^"]+)"',
        page.text,
    )
    assert found, page.text
    return found.group(1)


def schedules_by_location(store: ProviderStore) -> dict[str, str]:
    """One schedule per location (the first by id), with the neurology questions on it."""
    chosen: dict[str, str] = {}
    with store.read() as conn:
        for row in conn.execute(select(t.schedule.c.id, t.schedule.c.location_id).order_by(t.schedule.c.id)):
            chosen.setdefault(str(row.location_id), str(row.id))
    with store.change() as change:
        for schedule_id in chosen.values():
            put_questionnaire(change, "Schedule", schedule_id, orjson.dumps(neurology_questionnaire()))
    return chosen


def book(server: Server, slot_id: str, patient: dict[str, str]) -> str:
    with Browser(server.origin) as browser:
        browser.land_and_hold(slot_id)
        done = browser.submit(action="book", **patient, **ANSWERS)
        assert "You're booked" in done.text, done.text
    with server.store.read() as conn:
        return str(conn.execute(select(t.appointment.c.id).where(t.appointment.c.slot_id == slot_id)).scalar_one())


def booked_slot(server: Server) -> tuple[str, str]:
    schedule_id = next(iter(schedules_by_location(server.store).values()))
    slot_id = make_slot(server.store, 1, schedule_id=schedule_id)
    return slot_id, book(server, slot_id, PATIENT)


def _varying(html: str) -> str:
    return re.sub(r'(nonce|value)="[^"]*"', "", html)


def assert_staff_headers(response: httpx.Response) -> None:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


def test_pages_need_a_session(server: Server) -> None:
    _, appointment_id = booked_slot(server)
    with server.staff() as client:
        page = client.get("/staff/")
        assert page.status_code == 303
        assert page.headers["location"] == "/staff/login"
        assert_staff_headers(page)
        cancelled = client.post(f"/staff/appointments/{appointment_id}/cancel", data={"csrf": "x"})
        assert cancelled.status_code == 303
        assert cancelled.headers["location"] == "/staff/login"
        for private in ("Ada", "Lovelace", "617-555", "ada@example.com", "1980-12-10", "Migraine"):
            assert private not in page.text + cancelled.text
        login = client.get("/staff/login")
        assert login.status_code == 200
        assert_staff_headers(login)
        assert "Ada" not in login.text
        # A forged session cookie is no session.
        client.cookies.set("slotlinks_staff", "forged", path="/staff/")
        assert client.get("/staff/").status_code == 303
    with server.store.read() as conn:
        assert conn.execute(select(t.appointment.c.state)).scalar_one() == "booked"


def test_an_oversized_form_is_refused_and_signs_no_one_in(server: Server) -> None:
    add_staff(server)
    with server.staff() as client:
        form = client.get("/staff/login")
        data = {"csrf": csrf_of(form), "username": "alice", "password": PASSWORD, "pad": "x" * 100_000}
        refused = client.post("/staff/login", data=data)
        assert refused.status_code == 413
        assert "slotlinks_staff" not in client.cookies
        assert client.get("/staff/").status_code == 303  # still signed out


def test_wrong_password_and_unknown_user_get_the_same_generic_error(server: Server) -> None:
    add_staff(server)
    with server.staff() as client:
        wrong = sign_in(client, password="not-the-password")
        unknown = sign_in(client, username="mallory")
        assert wrong.status_code == unknown.status_code == 401
        assert "That username and password do not match an account." in wrong.text
        # The same page either way, but for the username typed (and the per-response nonce and token).
        assert _varying(wrong.text).replace("alice", "mallory") == _varying(unknown.text)
        assert "slotlinks_staff" not in client.cookies
        ok = sign_in(client)
        assert ok.status_code == 303
        assert ok.headers["location"] == "/staff/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Max-Age=28800" in cookie
        assert "Secure" not in cookie  # the base URL is http
        assert client.get("/staff/").status_code == 200


def test_session_cookie_is_secure_when_the_base_url_is_https(make_server: MakeServer) -> None:
    server: Server = make_server(base_url="https://publisher.test/fhir")
    add_staff(server)
    with server.staff() as client:
        form = client.get("/staff/login")
        assert "Secure" in form.headers["set-cookie"]
        # httpx keeps Secure cookies off plain http: send the sign-in cookie by hand, as a proxy would.
        cookie = form.headers["set-cookie"].split(";", 1)[0]
        ok = client.post(
            "/staff/login",
            data={"csrf": csrf_of(form), "username": "alice", "password": PASSWORD},
            headers={"Cookie": cookie},
        )
        assert ok.status_code == 303
        assert "Secure" in ok.headers["set-cookie"]


def test_failed_sign_ins_are_limited_per_client_and_slowed_per_username(make_server: MakeServer) -> None:
    server: Server = make_server(login_attempts=3, behind_proxy=True, login_max_delay_seconds=0.1)
    add_staff(server)
    add_staff(server, "bob")
    with server.staff() as client:
        for _ in range(3):
            assert sign_in(client, password="wrong-wrong-wrong", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 401
        # Further attempts from that client, even with the right password or another username, wait.
        for username in ("alice", "bob"):
            limited = sign_in(client, username=username, **{"X-Forwarded-For": "192.0.2.1"})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
            assert "Too many failed sign-ins" in limited.text
        # Per username: another client may go on guessing alice's password, but slowly (see below)...
        assert sign_in(client, password="wrong-wrong-wrong", **{"X-Forwarded-For": "192.0.2.2"}).status_code == 401
        # ...while bob signs in from there; a success does not count against anyone.
    for _ in range(4):
        with server.staff() as fresh:
            assert sign_in(fresh, username="bob", **{"X-Forwarded-For": "192.0.2.2"}).status_code == 303


def from_address(server: Server, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 reaches the server): as the
    server sees it, another machine. No header claims it."""
    return server.staff(transport=httpx.HTTPTransport(local_address=address))


def test_strangers_trickling_wrong_passwords_from_many_addresses_do_not_lock_the_user_out(
    make_server: MakeServer,
) -> None:
    server: Server = make_server(login_attempts=3, login_max_delay_seconds=0.1)
    add_staff(server)
    attackers = [from_address(server, f"127.0.0.{10 + n}") for n in range(6)]
    try:
        for _round in range(2):  # each address stays under its own limit of 3 failures
            answers = {sign_in(attacker, password="guess-guess-guess").status_code for attacker in attackers}
            # Twelve failures on alice, and the trickle goes on: alice, at her desk, still gets in.
            with from_address(server, "127.0.0.2") as alice:
                started = time.monotonic()
                signed_in = sign_in(alice)
                assert signed_in.status_code == 303, signed_in.text
                assert time.monotonic() - started >= 0.1, "an account under attack is slowed, for everyone"
                assert alice.get("/staff/").status_code == 200
            assert answers == {401}, "the strangers are slowed, not refused: nothing tells them apart from alice"
        # Each address is still held to its own limit: a third failure, then a wait.
        assert sign_in(attackers[0], password="guess-guess-guess").status_code == 401
        assert sign_in(attackers[0], password="guess-guess-guess").status_code == 429
    finally:
        for attacker in attackers:
            attacker.close()


def test_one_address_hammering_is_refused_whatever_it_claims_to_forward(make_server: MakeServer) -> None:
    server: Server = make_server(login_attempts=3, login_max_delay_seconds=0.1)
    add_staff(server)
    add_staff(server, "bob")
    # Not behind a proxy: X-Forwarded-For is anyone's to write, so it names no client.
    with from_address(server, "127.0.0.30") as hammer:
        for n in range(3):
            forged = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert sign_in(hammer, password="guess-guess-guess", **forged).status_code == 401
        for username in ("alice", "bob"):
            limited = sign_in(hammer, username=username, **{"X-Forwarded-For": "198.51.100.99"})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
            assert "Too many failed sign-ins from your connection" in limited.text
    with from_address(server, "127.0.0.31") as alice:
        assert sign_in(alice).status_code == 303


def test_bookings_are_listed_with_answers_per_location(server: Server) -> None:
    add_staff(server)
    by_location = schedules_by_location(server.store)
    (first_location, first_schedule), (second_location, second_schedule) = sorted(by_location.items())[:2]
    first_slot = make_slot(server.store, 1, slot_id="slot-a", schedule_id=first_schedule)
    second_slot = make_slot(server.store, 1, slot_id="slot-b", schedule_id=second_schedule)
    book(server, first_slot, PATIENT)
    other = {"name": "Grace Hopper", "birthDate": "1966-12-09", "phone": "401-555-0199", "email": ""}
    book(server, second_slot, other)
    with server.store.read() as conn:
        names = {r[0]: r[1] for r in conn.execute(select(t.location.c.id, t.location.c.name))}
    with server.staff(follow_redirects=True) as client:
        sign_in(client)
        page = client.get("/staff/")
        assert page.status_code == 200
        assert_staff_headers(page)
        text = page.text
        assert "Signed in as alice" in text
        for name in (names[first_location], names[second_location]):
            assert f"<h2>{name}</h2>" in text
        for expected in (
            "Ada Lovelace",
            "1980-12-10",
            "617-555-0100",
            "ada@example.com",
            "Grace Hopper",
            "401-555-0199",
        ):
            assert expected in text
        assert "Do you have a referral for this visit" in text  # the deciding question, asked first
        assert "<strong>Yes</strong>" in text
        assert "<strong>Migraine</strong>" in text
        assert "10:00 AM to 10:20 AM EST" in text  # local time at the location
        assert "November 25" in text
        # The booking reference the patient reads on the phone, beside each booking.
        with server.store.read() as conn:
            references = list(conn.execute(select(t.appointment.c.reference)).scalars())
        for reference in references:
            assert f"Reference {reference[:4]} {reference[4:]}" in text
        # Filters: one location; a day with nothing booked.
        one = client.get("/staff/", params={"location": second_location})
        assert "Grace Hopper" in one.text
        assert "Ada Lovelace" not in one.text
        that_day = client.get("/staff/", params={"day": "2026-11-25"})
        assert "Grace Hopper" in that_day.text
        assert "Ada Lovelace" in that_day.text
        empty = client.get("/staff/", params={"day": "2026-11-26"})
        assert "No bookings." in empty.text
        assert "Ada" not in empty.text
        assert "YYYY-MM-DD" in client.get("/staff/", params={"day": "tomorrow"}).text
        # Past bookings drop off once their local day is over.
        server.clock.advance(days=2)
        assert "Ada Lovelace" not in client.get("/staff/").text


def _published_status(store: ProviderStore, tmp_path: Path, slot_id: str) -> str:
    cache = PublicationCache(store, "http://publisher.test/fhir", tmp_path / "cache")
    for path in cache.current().directory.glob("slots-*.ndjson"):
        for line in path.read_bytes().splitlines():
            slot = orjson.loads(line)
            if slot["id"] == slot_id:
                return str(slot["status"])
    raise AssertionError(f"{slot_id} not published")


def test_cancel_on_behalf_frees_the_slot_and_is_audited(server: Server, tmp_path: Path) -> None:
    add_staff(server)
    slot_id, appointment_id = booked_slot(server)
    assert _published_status(server.store, tmp_path, slot_id) == "busy"
    with server.staff() as client:
        sign_in(client)
        page = client.get("/staff/")
        assert "Ada Lovelace" in page.text
        done = client.post(
            f"/staff/appointments/{appointment_id}/cancel", data={"csrf": cancel_token(page, appointment_id)}
        )
        assert done.status_code == 303
        assert_staff_headers(done)
        after = client.get(done.headers["location"])
        assert "The appointment was cancelled" in after.text
        assert "Ada Lovelace" not in after.text
    with server.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0
        state = conn.execute(select(t.appointment.c.state, t.appointment.c.resource)).one()
        log = conn.execute(
            select(t.audit_log.c.action, t.audit_log.c.appointment_id, t.audit_log.c.detail).order_by(t.audit_log.c.id)
        ).all()
    assert state.state == "cancelled"
    assert orjson.loads(state.resource)["status"] == "cancelled"
    assert [row.action for row in log] == ["hold", "book", "staff-sign-in", "cancel-by-staff"]
    assert (log[-1].appointment_id, log[-1].detail) == (appointment_id, "staff:alice")
    again = cancel_for_patient(store=server.store, clock=server.clock, appointment_id=appointment_id, username="bob")
    assert again.state == "cancelled"
    with server.store.read() as conn:  # cancelling again changes nothing, so nothing more is logged
        assert conn.execute(select(func.count()).select_from(t.audit_log)).scalar_one() == len(log)
    assert all("Ada" not in (row.detail or "") for row in log)
    assert _published_status(server.store, tmp_path, slot_id) == "free"
    with Browser(server.origin) as browser:
        assert "holding this time" in browser.land_and_hold(slot_id).text


def test_csrf_is_checked_on_staff_forms(server: Server) -> None:
    add_staff(server)
    add_staff(server, "bob")
    _, appointment_id = booked_slot(server)
    with server.staff() as client, server.staff() as other:
        client.get("/staff/login")
        no_token = client.post("/staff/login", data={"username": "alice", "password": PASSWORD})
        assert no_token.status_code == 403
        assert "slotlinks_staff" not in client.cookies
        # Another browser's sign-in token does not work without that browser's cookie.
        other_form = other.get("/staff/login")
        stolen = client.post(
            "/staff/login", data={"csrf": csrf_of(other_form), "username": "alice", "password": PASSWORD}
        )
        assert stolen.status_code == 403
        assert sign_in(client).status_code == 303
        assert sign_in(other, "bob").status_code == 303
        mine = client.get("/staff/")
        theirs = other.get("/staff/")
        path = f"/staff/appointments/{appointment_id}/cancel"
        assert client.post(path, data={}).status_code == 403
        assert client.post(path, data={"csrf": "forged"}).status_code == 403
        assert client.post(path, data={"csrf": cancel_token(theirs, appointment_id)}).status_code == 403
        assert client.post(path, data={"csrf": csrf_of(mine, 0)}).status_code == 403  # the sign-out token
        assert client.post("/staff/logout", data={}).status_code == 403
        assert client.get("/staff/").status_code == 200, "a refused sign-out leaves the session"
        with server.store.read() as conn:
            assert conn.execute(select(t.appointment.c.state)).scalar_one() == "booked"
        out = client.post("/staff/logout", data={"csrf": csrf_of(mine, 0)})
        assert out.status_code == 303
        assert out.headers["location"] == "/staff/login"
        assert client.get("/staff/").status_code == 303


def test_sessions_expire_after_eight_hours(server: Server) -> None:
    add_staff(server)
    with server.staff() as client:
        assert sign_in(client).status_code == 303
        token = client.cookies["slotlinks_staff"]
        server.clock.advance(hours=7, minutes=59)
        assert client.get("/staff/").status_code == 200
        server.clock.advance(minutes=2)
        expired = client.get("/staff/")
        assert expired.status_code == 303
        assert expired.headers["location"] == "/staff/login"
    with server.store.read() as conn:
        stored = conn.execute(select(t.staff_session.c.token_hash)).scalars().all()
    assert token not in stored


def test_booking_attempts_are_rate_limited_per_client(make_server: MakeServer) -> None:
    server: Server = make_server(booking_attempts=3, booking_window_seconds=600)
    slot_id = make_slot(server.store, 1)
    with Browser(server.origin) as browser:
        started = time.monotonic()
        held = browser.land_and_hold(slot_id)  # attempt 1
        assert "holding this time" in held.text
        action = browser.action
        for _ in range(2):  # attempts 2 and 3: the form comes back with its errors
            assert browser.submit(action="book", name="").status_code == 422
        limited = browser.submit(action="book", **PATIENT)
        assert limited.status_code == 429
        # One attempt per 200 s: the next one 200 s after the first, less the seconds spent since.
        spent = math.ceil(time.monotonic() - started)
        assert 200 - spent <= int(limited.headers["retry-after"]) <= 200
        assert "Please wait about 4 minutes" in limited.text
        assert "frame-ancestors 'none'" in limited.headers["content-security-policy"]
        assert browser.client.post(action, data={"csrf": "x"}).status_code == 429
        # Pages that are not booking attempts still answer.
        assert browser.get(f"/book/{slot_id}").status_code == 200
    with server.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0


def test_staff_admin_api(server: Server) -> None:
    url = f"{server.origin}/admin/staff/alice"
    assert httpx.put(url, json={"password": PASSWORD}).status_code == 401
    assert httpx.put(url, json={"password": "short"}, headers=ADMIN).status_code == 400
    assert httpx.put(url, json={"pass": PASSWORD}, headers=ADMIN).status_code == 400
    assert (
        httpx.put(f"{server.origin}/admin/staff/bad%20name", json={"password": PASSWORD}, headers=ADMIN).status_code
        == 400
    )
    made = httpx.put(url, json={"password": PASSWORD}, headers=ADMIN)
    assert made.status_code == 200
    assert made.json()["username"] == "alice"
    assert "scrypt" not in made.text
    assert PASSWORD not in made.text
    with server.staff() as client:
        assert sign_in(client).status_code == 303
        assert httpx.delete(url).status_code == 401
        assert httpx.delete(url, headers=ADMIN).status_code == 204
        assert client.get("/staff/").status_code == 303, "removing an account ends its sessions"
        assert sign_in(client).status_code == 401
    assert httpx.delete(url, headers=ADMIN).status_code == 404
    # Setting the password again brings the account back.
    assert httpx.put(url, json={"password": PASSWORD + "x"}, headers=ADMIN).status_code == 200
    with server.staff() as client:
        assert sign_in(client, password=PASSWORD + "x").status_code == 303
