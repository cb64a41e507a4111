"""Issue 16's earlier-time offers over real servers (a provider, a discovery server, an SMTP server):
a patient books through the search tool, comes back, asks on "my referrals" to be told if an earlier
time opens, and confirms. A later time opening sends nothing, nor does the booked slot itself opening
again; an earlier time opening sends exactly one message, whose link books through the portal and
whose text says the current appointment stays until the patient cancels it. Once the patient cancels
the booking, the offer ends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store import tables as t
from slotlinks.provider.schedule.slots import create_slot
from tests.discovery_alerts.conftest import PATIENT_EMAIL, World, body, link
from tests.portal.conftest import PATIENT, Browser, first_schedule
from tests.provider.conftest import ADMIN_TOKEN as PROVIDER_TOKEN

SECRET = "discovery-referral-secret-0123456789"
BOOKED = "booked-slot"  # 10:00, capacity 2: the patient's booking leaves one place in it
STAYS = "Your current appointment stays booked until you cancel it with the provider."
_BACK = re.compile(r'<a href="([^"]+)" rel="noreferrer">Back to your search</a>')
_CANCEL = re.compile(r'"([^"]*/cancel\?token=[^"]+)"')
OTHER_PATIENT = {"name": "Grace Hopper", "birthDate": "1976-12-09", "phone": "617-555-0111", "email": "g@example.com"}


def _slot(world: World, slot_id: str, start: str, end: str, capacity: int = 1) -> None:
    """A time the provider publishes from now on, in the same schedule (service) and place."""
    world.clock.advance(minutes=1)
    with world.provider.change() as change:
        create_slot(change, first_schedule(world.provider), start, end, capacity=capacity, slot_id=slot_id)


def _pk(world: World, slot_id: str) -> int:
    with world.store.read() as conn:
        query = (
            select(t.slot.c.pk)
            .join(t.publisher, t.publisher.c.generation == t.slot.c.generation)
            .where(t.slot.c.source_id == slot_id, t.slot.c.publisher_id == t.publisher.c.id)
        )
        return int(conn.execute(query).scalar_one())


def _book(world: World, browser: Browser, slot_id: str, referral: str, who: dict[str, str]) -> str:
    held = browser.land_and_hold(slot_id, source=world.settings.source_id, referral=referral)
    assert held.status_code == 200, held.text
    done = browser.submit(action="book", **who)
    assert "You're booked" in done.text, done.text
    return done.text


def _cancel_at_portal(browser: Browser, cancel_link: str) -> None:
    browser.get(cancel_link)
    done = browser.submit(token=cancel_link.split("token=")[1])
    assert "Your appointment is cancelled" in done.text, done.text


def _book_through_the_tool(world: World, patient: httpx.Client) -> tuple[str, str]:
    """Search result -> /go -> the portal -> booked -> back: the referral and the cancel link."""
    redirect = patient.get(f"/go/{_pk(world, BOOKED)}")
    assert redirect.status_code == 303, redirect.text
    referral = parse_qs(urlsplit(redirect.headers["location"]).query)["booking-referral"][0]
    with Browser(world.portal) as browser:
        page = _book(world, browser, BOOKED, referral, PATIENT)
    back, cancel = _BACK.search(page), _CANCEL.search(page)
    assert back, page
    assert cancel, page
    came_back = patient.get(back.group(1).replace("&amp;", "&"))
    assert came_back.status_code == 303
    assert came_back.headers["location"] == "/my-bookings"
    return referral, cancel.group(1).replace("&amp;", "&")


def _offers(world: World) -> list[str]:
    with world.store.read() as conn:
        return [str(v) for v in conn.execute(select(t.alert.c.referral_id)).scalars()]


@pytest.fixture
def booked(world: World) -> Iterator[tuple[httpx.Client, str, str]]:
    """The patient's browser on the discovery server after booking BOOKED through it; the referral and
    the portal's cancel link."""
    made = httpx.put(
        f"{world.portal}/admin/sources/{world.settings.source_id}",
        json={"secret": SECRET, "returnUrl": f"{world.discovery}/back"},
        headers={"Authorization": f"Bearer {PROVIDER_TOKEN}"},
    )
    assert made.status_code == 200, made.text
    registry.set_referral_secret(world.store, world.publisher_id, SECRET)
    _slot(world, BOOKED, "2026-11-25T10:00:00-05:00", "2026-11-25T10:20:00-05:00", capacity=2)
    world.sync_now()
    with httpx.Client(base_url=world.discovery, timeout=30, follow_redirects=False) as patient:
        referral, cancel = _book_through_the_tool(world, patient)
        world.sync_now()
        yield patient, referral, cancel


def test_an_earlier_time_is_offered_once_and_a_later_one_or_the_booked_slot_never(
    world: World, booked: tuple[httpx.Client, str, str]
) -> None:
    patient, referral, cancel = booked
    mine = patient.get("/my-bookings")
    assert mine.status_code == 200
    assert "Tell me if an earlier time opens" in mine.text
    assert f'name="referral" value="{referral}"' in mine.text

    asked = patient.post("/alerts/earlier", data={"referral": referral, "email": PATIENT_EMAIL})
    assert asked.status_code == 202, asked.text
    assert "Check your e-mail" in asked.text
    assert STAYS in asked.text
    (confirmation,) = world.inbox.wait_for(1)
    assert confirmation["Subject"] == "Please confirm: tell me if an earlier time opens"
    assert "Wednesday, November 25, 10:00 AM EST" in body(confirmation)
    assert confirmation["List-Unsubscribe"] == f"<{link(confirmation, '/unsubscribe?token=')}>"
    world.confirm(confirmation)
    assert _offers(world) == [referral]
    # Asking again for the same booking makes no second offer.
    again = patient.post("/alerts/earlier", data={"referral": referral, "email": PATIENT_EMAIL})
    assert again.status_code == 409, again.text

    # A later time opening is no earlier-time offer.
    _slot(world, "later-slot", "2026-11-25T11:00:00-05:00", "2026-11-25T11:20:00-05:00")
    world.sync_now()
    assert world.inbox.settle() == 1

    # The booked slot itself opening again (another patient books its last place, then cancels) is not
    # earlier than the booking: never offered.
    with Browser(world.portal) as other:
        page = _book(world, other, BOOKED, "other-patient", OTHER_PATIENT)
        other_cancel = _CANCEL.search(page)
        assert other_cancel, page
        world.sync_now()
        world.clock.advance(minutes=1)
        _cancel_at_portal(other, other_cancel.group(1).replace("&amp;", "&"))
    world.sync_now()
    assert world.inbox.settle() == 1

    # An earlier time opening: exactly one message, with that time only.
    _slot(world, "earlier-slot", "2026-11-25T09:40:00-05:00", "2026-11-25T09:55:00-05:00")
    world.sync_now()
    news = world.inbox.wait_for(2)[1]
    assert world.inbox.settle() == 2, "exactly one message"
    assert news["To"] == PATIENT_EMAIL
    assert news["Subject"].startswith("An earlier time opened at ")
    text = body(news)
    assert "before your appointment on Wednesday, November 25, 10:00 AM EST" in text
    assert "Wednesday, November 25, 9:40 AM EST" in text
    assert STAYS in " ".join(text.split())
    links = [word for word in text.split() if "/go/" in word]
    assert links == [f"{world.discovery}/go/{_pk(world, 'earlier-slot')}"]
    assert news["List-Unsubscribe"] == f"<{link(news, '/unsubscribe?token=')}>"
    followed = httpx.get(links[0], timeout=30, follow_redirects=False)
    assert followed.status_code == 303, followed.text
    target = urlsplit(followed.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == world.portal
    assert target.path.endswith("/earlier-slot")
    assert "booking-referral=" in target.query
    landed = httpx.get(followed.headers["location"], timeout=30)
    assert "Continue with this time" in landed.text

    # The patient cancels the booking: once the outcome is read, the offer is gone and offers nothing.
    with Browser(world.portal) as browser:
        _cancel_at_portal(browser, cancel)
    assert "Cancelled" in patient.get("/my-bookings").text
    world.clock.advance(minutes=20)  # past the period: the offer would be due
    _slot(world, "earliest-slot", "2026-11-25T08:00:00-05:00", "2026-11-25T08:20:00-05:00")
    world.sync_now()
    assert world.worker().send_due() == 0
    assert world.inbox.settle(0.5) == 2
    assert _offers(world) == []


def test_only_this_browsers_booked_referral_can_have_an_offer(
    world: World, booked: tuple[httpx.Client, str, str]
) -> None:
    _patient, referral, _cancel = booked
    with httpx.Client(base_url=world.discovery, timeout=30) as stranger:
        refused = stranger.post("/alerts/earlier", data={"referral": referral, "email": PATIENT_EMAIL})
    assert refused.status_code == 400, refused.text
    assert "We cannot find this booking among the bookings of this browser." in refused.text
    assert world.inbox.settle(0.5) == 0
    assert _offers(world) == []
