"""The booked appointment's pages, for the patient who booked it (no account; UX problem 1).

    GET      /book/appointment/{ref}?token=                    confirmation: what, when, where, .ics, cancel link
    GET      /book/appointment/{ref}/appointment.ics?token=    the appointment as an iCalendar file (RFC 5545)
    GET|POST /book/appointment/{ref}/cancel?token=             confirm, then cancel (frees the slot)

`{ref}` is the booking reference the patient reads (`reference`), or the internal id in links sent before
references existed, which keep working. Each link carries `HMAC(secret, appointment:<ref>)`
(`csrf.sign`): a wrong or missing token is the same friendly 404 as an unknown appointment. The
cancellation form also carries a CSRF token bound to the browser's flow. Mounted by
`routes.portal_router`, whose page frame (`responses.PortalPages`) it shares.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from slotlinks.errors import NotFound
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.booking import AppointmentRecord, cancel, find_appointment
from slotlinks.provider.portal.holds import get_hold
from slotlinks.provider.portal.ics import appointment_ics
from slotlinks.provider.portal.reference import spaced
from slotlinks.provider.portal.referrals import return_link
from slotlinks.provider.portal.responses import PortalPages
from slotlinks.provider.portal.slotinfo import SlotView, slot_view
from slotlinks.provider.store.settings import BOOKING_PATH
from slotlinks.web.bodies import read_form
from slotlinks.web.i18n import gettext_for

__all__ = ["appointment_router"]

_ = gettext_for("slotlinks.provider")


def appointment_router(pages: PortalPages) -> APIRouter:
    """The appointment's confirmation, calendar file and cancellation pages, over `pages.store`."""
    router = APIRouter(include_in_schema=False)
    store = pages.store
    clock = store.clock

    def appointment_for(appointment_id: str, token: str | None) -> tuple[AppointmentRecord, SlotView, str | None]:
        if not csrf.verify(pages.secret(), "appointment:" + appointment_id, token):
            raise NotFound("no such appointment")
        with store.read() as conn:
            record = find_appointment(conn, appointment_id)
            view = slot_view(conn, record.slot_id)
            hold = get_hold(conn, record.hold_id)
            back = return_link(conn, hold.source, hold.referral)
        if view is None:
            raise NotFound("no such appointment")
        return record, view, back

    @router.get(BOOKING_PATH + "appointment/{appointment_id}")
    def confirmation(appointment_id: str, request: Request) -> Response:
        token = request.query_params.get("token")
        try:
            record, view, back = appointment_for(appointment_id, token)
        except NotFound:
            return pages.expired_form(request, 404)
        base = f"{BOOKING_PATH}appointment/{appointment_id}"
        return pages.page(
            request,
            "confirmed.html",
            slot=view,
            record=record,
            back=back,
            ics_url=f"{base}/appointment.ics?token={token}",
            cancel_url=f"{base}/cancel?token={token}",
        )

    @router.get(BOOKING_PATH + "appointment/{appointment_id}/appointment.ics")
    def calendar(appointment_id: str, request: Request) -> Response:
        try:
            record, view, _back = appointment_for(appointment_id, request.query_params.get("token"))
        except NotFound:
            return pages.expired_form(request, 404)
        where = ", ".join([view.location_name, *view.address])
        summary = (
            _("%(service)s with %(practitioner)s", service=view.service, practitioner=view.practitioner)
            if view.practitioner
            else view.service
        )
        lines = [_("Booking reference: %(reference)s", reference=spaced(record.reference))] if record.reference else []
        if view.phone:
            lines.append(_("Questions or changes: call %(phone)s", phone=view.phone))
        body = appointment_ics(
            uid=f"{record.id}@slotlinks",
            start=view.start,
            end=view.end,
            summary=summary,
            location=where,
            description="\n".join(lines),
            stamp=clock(),
            cancelled=record.state == "cancelled",
        )
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="appointment.ics"',
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @router.get(BOOKING_PATH + "appointment/{appointment_id}/cancel")
    def confirm_cancel(appointment_id: str, request: Request) -> Response:
        token = request.query_params.get("token")
        try:
            record, view, back = appointment_for(appointment_id, token)
        except NotFound:
            return pages.expired_form(request, 404)
        return pages.page(
            request,
            "cancel.html",
            slot=view,
            record=record,
            token=token,
            back=back,
            done=False,
            purpose=f"cancel:{appointment_id}",
            action=f"{BOOKING_PATH}appointment/{appointment_id}/cancel",
        )

    @router.post(BOOKING_PATH + "appointment/{appointment_id}/cancel")
    async def do_cancel(appointment_id: str, request: Request) -> Response:
        form = await read_form(request)
        token = form.get("token")
        cookie = pages.flows.current(request)
        if not csrf.check_csrf(pages.secret(), cookie, f"cancel:{appointment_id}", form.get("csrf")):
            return pages.expired_form(request, 403)
        try:
            record, _view, _back = await run_in_threadpool(appointment_for, appointment_id, token)
        except NotFound:
            return pages.expired_form(request, 404)
        await run_in_threadpool(cancel, store=store, clock=clock, appointment_id=record.id)
        record, view, back = await run_in_threadpool(appointment_for, appointment_id, token)
        return pages.page(
            request, "cancel.html", slot=view, record=record, token=token, back=back, done=True, purpose="", action=""
        )

    return router
