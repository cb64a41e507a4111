"""A double-clicked "Continue" lands on the patient's own hold, never on "no longer available"
(issue 12, finding 10), while every other browser still finds the slot taken. Over a real server."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from slotlinks.provider.store import tables as t
from tests.portal.conftest import Browser, Portal, make_slot

PLAIN = "slotlinks_flow"


def _post(origin: str, path: str, flow: str, token: str) -> httpx.Response:
    # A client of its own per request, so each POST carries exactly the cookie given: the second
    # click of a double click leaves before the first answer's cookie has arrived.
    with httpx.Client(base_url=origin) as client:
        return client.post(path, data={"csrf": token}, headers={"Cookie": f"{PLAIN}={flow}"})


def _holds(portal: Portal, slot_id: str) -> int:
    with portal.store.read() as conn:
        query = select(func.count()).select_from(t.hold).where(t.hold.c.slot_id == slot_id)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("capacity", [1, 2])
def test_a_double_clicked_continue_lands_on_the_same_hold(portal: Portal, capacity: int) -> None:
    slot_id = make_slot(portal.store, capacity)
    with Browser(portal.origin) as patient, Browser(portal.origin) as other:
        patient.get(f"/book/{slot_id}")
        other.get(f"/book/{slot_id}")
        token = patient.csrf
        landing_flow = next(c.value for c in patient.client.cookies.jar if c.name == PLAIN)
        assert landing_flow is not None
        first = _post(portal.origin, f"/book/{slot_id}", landing_flow, token)
        second = _post(portal.origin, f"/book/{slot_id}", landing_flow, token)
        assert (first.status_code, second.status_code) == (303, 303), second.text
        assert second.headers["location"] == first.headers["location"]
        hold_flow = first.cookies[PLAIN]
        assert second.cookies[PLAIN] == hold_flow
        # A third click that left after the first answer's cookie arrived lands there too.
        third = _post(portal.origin, f"/book/{slot_id}", hold_flow, token)
        assert (third.status_code, third.headers["location"]) == (303, first.headers["location"])
        assert _holds(portal, slot_id) == 1, "one hold, one unit of the slot"

        with httpx.Client(base_url=portal.origin, cookies={PLAIN: hold_flow}) as client:
            page = client.get(first.headers["location"])
            assert "holding this time for you until" in page.text
            # Back to the landing page: the hold, not "taken".
            back = client.get(f"/book/{slot_id}", follow_redirects=True)
            assert back.url.path == first.headers["location"]
            assert "holding this time for you until" in back.text

        # Another browser's Continue still sees the patient's unit as held.
        late = other.submit()
        if capacity == 1:
            assert late.status_code == 409
            assert "This time is no longer available" in late.text
            assert _holds(portal, slot_id) == 1
        else:
            assert "holding this time for you until" in late.text
            assert _holds(portal, slot_id) == 2
            assert other.get(f"/book/{slot_id}").url.path == late.url.path
            with Browser(portal.origin) as third_browser:
                assert "This time is no longer available" in third_browser.land_and_hold(slot_id).text
