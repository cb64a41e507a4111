"""The flow cookie cannot be planted (issue 12, finding 1: session fixation): the portal mints every
flow, replaces a value it did not make, moves the browser to a new flow when it places a hold, and
shows a hold or its appointment to no other browser. Over a real server on 127.0.0.1."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path

import httpx
from sqlalchemy import select

from slotlinks.clock import FixedClock
from slotlinks.provider.app import create_app
from slotlinks.provider.schedule.slots import get_slot
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import ProviderStore
from tests.portal.conftest import PATIENT, Browser, Portal, make_slot, settings_for
from tests.servers import serve

PLAIN = "slotlinks_flow"


def _set_cookies(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def _flow_in(browser: Browser) -> str:
    values = [c.value for c in browser.client.cookies.jar if c.name == PLAIN]
    assert len(values) == 1, values
    assert values[0] is not None
    return values[0]


def test_a_planted_flow_cookie_is_replaced_and_binds_nothing(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    planted = {"Cookie": f"{PLAIN}=chosen-by-an-attacker"}
    with httpx.Client(base_url=portal.origin) as client:
        landing = client.get(f"/book/{slot_id}", headers=planted)
        assert landing.status_code == 200
        cookie = _set_cookies(landing)[PLAIN]
        assert cookie.value != "chosen-by-an-attacker"
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/book"
        assert not cookie["secure"], "tests run over plain http"
        token = landing.text.split('name="csrf" value="')[1].split('"')[0]
        # The page's token belongs to the minted flow, not to the planted value.
        refused = client.post(f"/book/{slot_id}", data={"csrf": token}, headers=planted)
        assert refused.status_code == 403
    with portal.store.read() as conn:
        assert conn.execute(select(t.hold.c.id)).first() is None


def test_over_https_the_cookie_is_host_prefixed_secure_and_the_plain_name_ignored(
    store: ProviderStore, clock: FixedClock, tmp_path: Path
) -> None:
    slot_id = make_slot(store, 1)
    settings = settings_for(tmp_path, base_url="https://publisher.test/fhir")
    with serve(create_app(settings, store)) as origin, httpx.Client(base_url=origin) as client:
        landing = client.get(f"/book/{slot_id}", headers={"Host": "evil.test"})
        cookies = _set_cookies(landing)
        assert PLAIN not in cookies
        cookie = cookies["__Host-" + PLAIN]
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert cookie["httponly"] is True
        # A flow the portal minted, sent under the plain name, is not read where the prefixed one is.
        again = client.get(f"/book/{slot_id}", headers={"Cookie": f"{PLAIN}={cookie.value}"})
        assert "__Host-" + PLAIN in _set_cookies(again)


def test_whoever_planted_the_flow_cannot_reach_or_cancel_the_patients_appointment(portal: Portal) -> None:
    slot_id = make_slot(portal.store, 1)
    with Browser(portal.origin) as attacker, Browser(portal.origin) as patient:
        # The strongest planter: a flow the portal itself minted for the attacker.
        attacker.get(f"/book/{slot_id}")
        attacker_token = attacker.csrf
        planted = _flow_in(attacker)
        patient.client.cookies.set(PLAIN, planted, domain="127.0.0.1", path="/book")
        held = patient.land_and_hold(slot_id, referral="ref-victim")
        assert "holding this time for you until" in held.text
        hold_path = held.url.path
        booked = patient.submit(action="book", **PATIENT)
        assert "You're booked" in booked.text
        appointment_path = booked.url.path

        # The attacker follows the same hold URL with the planted flow.
        followed = attacker.get(hold_path)
        assert followed.status_code == 403
        assert "started in another browser" in followed.text
        assert "Choose an appointment time" in followed.text
        assert "You're booked" not in followed.text
        assert "appointment/" not in followed.text
        assert "token=" not in followed.text
        posted = attacker.client.post(hold_path, data={"csrf": attacker_token, "action": "release"})
        assert posted.status_code == 403
        assert "appointment/" not in str(posted.url)
        # Nor is the appointment reachable without its signed link.
        assert attacker.client.get(appointment_path).status_code == 404
        assert attacker.client.post(appointment_path + "/cancel", data={"csrf": attacker_token}).status_code == 403
        with portal.store.read() as conn:
            assert get_slot(conn, slot_id).booked == 1, "the patient's appointment stands"

        # The patient's own flow still works end to end, on the flow it moved to with the hold.
        assert _flow_in(patient) != planted
        assert "You're booked" in patient.get(hold_path).text
        cancel_link = next(p for p in booked.text.split('"') if "/cancel?token=" in p).replace("&amp;", "&")
        patient.get(cancel_link)
        assert "Your appointment is cancelled" in patient.submit(token=cancel_link.split("token=")[1]).text
    with portal.store.read() as conn:
        assert get_slot(conn, slot_id).booked == 0
        actions = list(conn.execute(select(t.audit_log.c.action).order_by(t.audit_log.c.id)).scalars())
    assert actions == ["hold", "book", "cancel"], "the attacker changed nothing"
