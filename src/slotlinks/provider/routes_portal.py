"""The booking portal's entry point. For now the deep link's target names the slot it was given;
the booking flow itself (hold, questions, book) lands here next."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import HTMLResponse

from slotlinks.config import Settings
from slotlinks.errors import NotFound
from slotlinks.provider import tables as t
from slotlinks.provider.publication import BOOKING_PATH
from slotlinks.provider.store import ProviderStore

__all__ = ["portal_router"]


def portal_router(settings: Settings, store: ProviderStore) -> APIRouter:
    router = APIRouter()

    @router.get(BOOKING_PATH + "{slot_id}", response_class=HTMLResponse, include_in_schema=False)
    def booking_page(slot_id: str) -> HTMLResponse:
        with store.read() as conn:
            row = conn.execute(
                select(t.slot.c.id, t.slot.c.start, t.slot.c.end, t.location.c.name)
                .join(t.schedule, t.schedule.c.id == t.slot.c.schedule_id)
                .outerjoin(t.location, t.location.c.id == t.schedule.c.location_id)
                .where(t.slot.c.id == slot_id)
            ).first()
        if row is None:
            raise NotFound(f"no slot {slot_id!r}")
        place = escape(row.name or "")
        body = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>Slot {escape(row.id)}</title></head><body>"
            f"<h1>Appointment slot {escape(row.id)}</h1>"
            f"<p>{escape(row.start)} to {escape(row.end)}{' at ' + place if place else ''}.</p>"
            "<p>Online booking opens here soon; until then, please call the number listed with this slot.</p>"
            "</body></html>"
        )
        return HTMLResponse(body, headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store"})

    return router
