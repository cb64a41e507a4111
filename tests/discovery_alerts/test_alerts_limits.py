"""Alerts' limits over real servers: one message per period, unsubscribing by the link and by RFC 8058's
POST, expiry, the per-client rate limit and the per-address cap, bad input and a mail server that is
down (nothing kept), and the results page's form."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from slotlinks.discovery.alerts import AlertWorker, SmtpMailer
from slotlinks.discovery.alerts.criteria import parse_alert
from slotlinks.discovery.alerts.links import alert_key
from slotlinks.discovery.alerts.service import create_alert
from slotlinks.discovery.store import tables as t
from slotlinks.errors import Conflict, Unavailable
from tests.discovery_alerts.conftest import PATIENT_EMAIL, World, body, link
from tests.portal.conftest import make_slot
from tests.servers import free_port


def _alerts(world: World) -> int:
    with world.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.alert)).scalar_one())


def _confirmed_with_news(world: World) -> str:
    """A confirmed alert that has sent one message about a freed time; its cancel link is spent."""
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    assert world.ask().status_code == 202
    world.confirm(world.inbox.wait_for(1)[0])
    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()
    return link(world.inbox.wait_for(2)[1], "/unsubscribe?token=")


def test_at_most_one_message_per_period(world: World) -> None:
    _confirmed_with_news(world)
    # A new time is published 5 minutes later: within the 15-minute period, nothing is sent.
    world.clock.advance(minutes=5)
    make_slot(world.provider, 1, slot_id="new-slot")
    world.sync_now()
    assert world.inbox.settle() == 2
    assert world.worker().send_due() == 0
    # Once the period is over, the next pass sends it (and only it).
    world.clock.advance(minutes=10)
    assert world.worker().send_due() == 1
    later = world.inbox.wait_for(3)[2]
    assert "1 new open time matching" in body(later)
    assert world.worker().send_due() == 0


def test_unsubscribe_by_link_deletes_the_alert_and_stops_messages(world: World) -> None:
    unsubscribe = _confirmed_with_news(world)
    page = httpx.get(unsubscribe, timeout=30)
    assert page.status_code == 200
    assert "Alert cancelled" in page.text
    assert _alerts(world) == 0
    with world.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.alert_announced)).scalar_one() == 0
    world.clock.advance(minutes=30)
    make_slot(world.provider, 1, slot_id="new-slot")
    world.sync_now()
    assert world.inbox.settle() == 2
    # Following the link again is harmless; a forged token is refused.
    assert httpx.get(unsubscribe, timeout=30).status_code == 200
    assert httpx.get(unsubscribe[:-4] + "AAAA", timeout=30).status_code == 404


def test_unsubscribe_by_one_click_post(world: World) -> None:
    assert world.ask().status_code == 202
    confirmation = world.inbox.wait_for(1)[0]
    url = confirmation["List-Unsubscribe"].strip("<>")
    posted = httpx.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200, posted.text
    assert _alerts(world) == 0


def test_alert_expires_after_its_days(world: World) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    assert world.ask().status_code == 202
    world.confirm(world.inbox.wait_for(1)[0])
    world.clock.advance(days=30, minutes=1)
    world.cancel(cancel_link)
    assert world.worker().send_due() == 0
    assert _alerts(world) == 0, "an expired alert is deleted"
    assert len(world.inbox.messages) == 1


def test_creation_is_rate_limited_per_client(world: World) -> None:
    for i in range(3):  # the fixture allows 3 per window
        assert world.ask(email=f"p{i}@example.com").status_code == 202
    refused = world.ask(email="p9@example.com")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["issue"][0]["code"] == "throttled"
    page = httpx.post(f"{world.discovery}/alerts", data={"email": "q@example.com", "near": "02114"}, timeout=30)
    assert page.status_code == 429
    assert "Please wait a moment" in page.text
    assert _alerts(world) == 3


def test_at_most_a_few_alerts_per_address(world: World) -> None:
    settings = replace(world.settings, alert_attempts=100, alerts_per_address=2)
    with world.store.read() as conn:
        key = alert_key(settings, conn)
    request = parse_alert({"email": PATIENT_EMAIL, "near": world.near()}, now=world.clock())
    mailer = SmtpMailer(settings.smtp_url)
    for _ in range(2):
        create_alert(store=world.store, settings=settings, mailer=mailer, key=key, request=request)
    with pytest.raises(Conflict, match="already has the most alerts one address may have"):
        create_alert(store=world.store, settings=settings, mailer=mailer, key=key, request=request)
    assert _alerts(world) == 2


@pytest.mark.parametrize("alert_attempts", [50])
def test_bad_input_is_refused_naming_the_parameter(world: World) -> None:
    cases = {
        "email": {"email": "not an address"},
        "near": {"near": ""},
        "radius": {"radius": "far"},
        "to": {"to": "2026-11-01"},
        "colour": {"colour": "red"},
    }
    for name, changes in cases.items():
        refused = world.ask(**changes)
        assert refused.status_code == 400, (name, refused.text)
        assert refused.headers["content-type"].startswith("application/fhir+json")
        assert refused.json()["issue"][0]["expression"] == [name], refused.text
    assert httpx.post(f"{world.discovery}/api/alerts", content=b"[1]", timeout=30).status_code == 400
    assert httpx.post(f"{world.discovery}/api/alerts", content=b"{", timeout=30).status_code == 400
    page = httpx.post(f"{world.discovery}/alerts", data={"email": "nope", "near": "02114"}, timeout=30)
    assert page.status_code == 400
    assert "Please check the alert" in page.text
    assert "Please enter your e-mail address, like name@example.com." in page.text
    assert _alerts(world) == 0
    assert world.inbox.settle(0.2) == 0


def test_a_mail_server_that_is_down_keeps_nothing(world: World) -> None:
    down = replace(world.settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    with world.store.read() as conn:
        key = alert_key(down, conn)
    request = parse_alert({"email": PATIENT_EMAIL, "near": world.near()}, now=world.clock())
    with pytest.raises(Unavailable, match="did not take the message"):
        create_alert(store=world.store, settings=down, mailer=SmtpMailer(down.smtp_url), key=key, request=request)
    assert _alerts(world) == 0
    assert AlertWorker(world.store, down, SmtpMailer(down.smtp_url)).send_due() == 0


def test_results_page_offers_the_alert_form_prominently_when_nothing_matches(world: World) -> None:
    empty = httpx.get(f"{world.discovery}/search", params={"near": world.near(), "service": "no-such-care"}, timeout=30)
    assert empty.status_code == 200
    assert "No open times found" in empty.text
    assert "Get an e-mail when a time opens" in empty.text
    assert '<input type="hidden" name="service" value="no-such-care">' in empty.text
    asked = httpx.post(
        f"{world.discovery}/alerts",
        data={"email": PATIENT_EMAIL, "near": world.near(), "service": "no-such-care", "sort": "best"},
        timeout=30,
    )
    assert asked.status_code == 202, asked.text
    assert "Check your e-mail" in asked.text
    assert "no-such-care" in body(world.inbox.wait_for(1)[0])
