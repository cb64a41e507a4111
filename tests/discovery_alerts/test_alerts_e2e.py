"""Issue 16's alerts over real servers: a provider, a discovery server and an SMTP server (aiosmtpd).
A confirmed alert gets exactly one message when a cancellation at the provider frees a matching time
and a sync picks it up, with a /go link that leads to the provider's booking page; unconfirmed alerts
get nothing but their confirmation."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from slotlinks.discovery.store import tables as t
from tests.discovery_alerts.conftest import PATIENT_EMAIL, SLOT_ID, World, body, link


def test_confirmation_is_the_only_message_until_confirmed(world: World) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    asked = world.ask()
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "confirmation-sent"
    (confirmation,) = world.inbox.wait_for(1)
    assert confirmation["To"] == PATIENT_EMAIL
    assert confirmation["From"] == "alerts@finder.example.org"
    assert confirmation["Subject"] == "Please confirm your appointment alert"
    text = body(confirmation)
    assert f"{world.discovery}/alerts/" in link(confirmation, "/confirm?token=")
    unsubscribe = link(confirmation, "/unsubscribe?token=")
    assert confirmation["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert confirmation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "the alert ends on December 24, 2026" in text  # 30 days, said in the message

    # Unconfirmed: the freed time is not announced, now or on a later pass.
    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()
    assert world.inbox.settle() == 1
    assert world.worker().send_due() == 0
    assert len(world.inbox.messages) == 1


def test_a_cancellation_at_the_provider_sends_exactly_one_message_with_working_links(world: World) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    assert world.ask(to="2026-11-25").status_code == 202
    world.confirm(world.inbox.wait_for(1)[0])

    world.clock.advance(minutes=1)
    world.cancel(cancel_link)
    world.sync_now()  # the poll that learns of it wakes the alert worker
    news = world.inbox.wait_for(2, timeout=10)[1]
    assert world.inbox.settle() == 2, "exactly one message"
    assert news["To"] == PATIENT_EMAIL
    assert news["Subject"].startswith("1 new appointment time:")
    text = body(news)
    assert "Wednesday, November 25, 10:00 AM EST" in text  # in the location's zone
    assert "This alert ends on December 24, 2026" in text
    unsubscribe = link(news, "/unsubscribe?token=")
    assert news["List-Unsubscribe"] == f"<{unsubscribe}>"
    go = link(news, "/go/")
    assert go.startswith(f"{world.discovery}/go/")
    with world.store.read() as conn:
        pk = conn.execute(select(t.slot.c.pk).where(t.slot.c.source_id == SLOT_ID)).scalar_one()
    assert go == f"{world.discovery}/go/{pk}"
    followed = httpx.get(go, timeout=30, follow_redirects=False)
    assert followed.status_code == 303, followed.text
    target = urlsplit(followed.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == world.portal
    assert re.search(r"booking-referral=", target.query)
    landed = httpx.get(followed.headers["location"], timeout=30)
    assert landed.status_code == 200
    assert "Continue with this time" in landed.text

    # Announced once: another pass, and another sync, find nothing new.
    world.sync_now()
    world.clock.advance(minutes=20)
    assert world.worker().send_due() == 0
    assert world.inbox.settle(0.5) == 2
