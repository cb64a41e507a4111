"""The booking portal's pages: deep link → hold → questions → book, or call off (2026 IG "Find, Hold,
Book"; SPEC-NOTES "Deep links" and the three UX problems).

    GET  /book/{slot}?source=&booking-referral=   landing: what, who, where, when (local), contact
    POST /book/{slot}                             "Continue": places the hold → /book/hold/{hold}
    GET  /book/hold/{hold}                        questions and patient details, hold countdown
    POST /book/hold/{hold}                        book (or release); ineligible / needs-a-call pages
    GET  /book/appointment/{id}...                the appointment's pages (`appointment_routes`)

A GET changes no booking state; the landing records the referral as `landed` in the outcome log
(`referrals.record_landing`). `source` and `booking-referral` ride along in hidden fields and on the
hold. Every form carries a CSRF token bound to the browser's flow cookie and to what the form acts on
(`csrf`). Placing a hold moves the browser to a fresh flow that the hold belongs to (`flows`): a hold,
and the appointment made from it, is shown only to that browser; any other gets a page that says so
(`PortalPages.other_browser`); a repeated "Continue", or a return to the landing, from the browser
that holds the slot lands on its hold. Every page is sent with a nonce CSP, no framing and no referrer
(`responses`). Routes only parse, call a service (`holds.place_hold`, `submission.submit_booking`,
...) and render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, params
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.errors import NotFound, SlotUnavailable
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.appointment_routes import appointment_router
from slotlinks.provider.portal.booking import appointment_for_hold
from slotlinks.provider.portal.booking_store import SqlBookingStore
from slotlinks.provider.portal.holds import Hold, get_hold, held_by, place_hold, release_hold
from slotlinks.provider.portal.patient import with_birth_date
from slotlinks.provider.portal.questionnaires import questionnaire_for_schedule
from slotlinks.provider.portal.referrals import clean_handle, record_landing
from slotlinks.provider.portal.responses import PortalPages, link_query
from slotlinks.provider.portal.screening import BIRTH_FIELD, Screened, deciding_items, first_fields, screen, summary
from slotlinks.provider.portal.slotinfo import is_bookable, slot_view
from slotlinks.provider.portal.submission import Booked, CalledOff, Invalid, submit_booking
from slotlinks.provider.store.settings import BOOKING_PATH
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.bodies import read_form

__all__ = ["portal_router"]


def _handles(values: Mapping[str, str]) -> tuple[str | None, str | None]:
    return clean_handle(values.get("source"), 64), clean_handle(values.get("booking-referral"))


def portal_router(
    settings: Settings, store: ProviderStore, *, attempt_limit: Sequence[params.Depends] = ()
) -> APIRouter:
    """The portal's pages; `attempt_limit` guards the booking attempts (the hold and book POSTs)."""
    router = APIRouter(include_in_schema=False)
    pages = PortalPages(settings, store)
    bookings = SqlBookingStore(store)
    clock = store.clock
    ttl = timedelta(minutes=settings.hold_minutes)

    # --- landing ---------------------------------------------------------------------------------

    @router.get(BOOKING_PATH + "{slot_id}")
    def landing(slot_id: str, request: Request) -> Response:
        source, referral = _handles(request.query_params)
        at_ms = now_ms(clock)
        flow = pages.flows.current(request)
        with store.read() as conn:
            mine = held_by(conn, slot_id, csrf.flow_hash(flow), at_ms) if flow else None
            view = slot_view(conn, slot_id)
            free = view is not None and is_bookable(conn, slot_id, at_ms)
        if mine is not None:  # back to the landing while holding it: the hold, not "taken"
            return RedirectResponse(f"{BOOKING_PATH}hold/{mine.id}", status_code=303)
        record_landing(store=store, source=source, referral=referral, slot_id=slot_id if view else None, at_ms=at_ms)
        if view is None:
            return pages.unavailable(request, slot_id, 404, source, referral, "gone")
        if not free:
            return pages.unavailable(request, slot_id, 200, source, referral)
        return pages.page(
            request,
            "landing.html",
            slot=view,
            source=source or "",
            referral=referral or "",
            action=BOOKING_PATH + slot_id,
            purpose=f"land:{slot_id}",
            hold_minutes=settings.hold_minutes,
            notice=request.query_params.get("notice"),
        )

    @router.post(BOOKING_PATH + "{slot_id}", dependencies=attempt_limit)
    async def continue_booking(slot_id: str, request: Request) -> Response:
        form = await read_form(request)
        source, referral = _handles(form)
        # The hold goes to a new flow, never to the one the landing page was sent to (`flows`).
        flow = pages.flows.continuing(request, f"land:{slot_id}", form.get("csrf"))
        if flow is None:
            return pages.expired_form(request, 403, BOOKING_PATH + slot_id + link_query(source, referral))
        try:
            hold = await run_in_threadpool(
                place_hold,
                store=store,
                clock=clock,
                slot_id=slot_id,
                ttl=ttl,
                token=csrf.flow_hash(flow),
                referral=referral,
                source=source,
            )
        except SlotUnavailable as refused:
            return await run_in_threadpool(pages.unavailable, request, slot_id, 409, source, referral, refused.reason)
        response = RedirectResponse(f"{BOOKING_PATH}hold/{hold.id}", status_code=303)
        pages.flows.set(response, flow)
        return response

    # --- the hold: questions and details ---------------------------------------------------------

    def find_hold(hold_id: str) -> Hold | None:
        with store.read() as conn:
            try:
                return get_hold(conn, hold_id)
            except NotFound:
                return None

    def hold_page(
        request: Request,
        hold: Hold,
        status: int = 200,
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        screened: bool = False,
    ) -> Response:
        """The hold's form: the deciding questions alone (`screening`), or, once they are answered
        (`screened`) or when there are none, the patient's details and the other questions."""
        values, errors = values or {}, errors or {}
        with store.read() as conn:
            view = slot_view(conn, hold.slot_id)
            questionnaire = questionnaire_for_schedule(conn, view.schedule_id) if view else None
        if view is None:
            return pages.unavailable(request, hold.slot_id, 409, hold.source, hold.referral, "gone")
        first = deciding_items(questionnaire)
        fields = first_fields(questionnaire)
        details = not first or (screened and not errors.keys() & fields)
        asked = {i.linkId for i in first}
        carried = {k: values[k] for k in sorted(fields) if values.get(k)} if details else {}
        if details:
            questions = [i for i in questionnaire.item if i.linkId not in asked] if questionnaire else []
        else:
            questions, errors = first, {k: v for k, v in errors.items() if k in fields}
        expires = datetime.fromtimestamp(hold.expires_ms / 1000, view.start.tzinfo)
        return pages.page(
            request,
            "hold.html" if details else "screen.html",
            status,
            slot=view,
            hold=hold,
            expires=expires,
            expires_iso=datetime.fromtimestamp(hold.expires_ms / 1000, UTC).isoformat(),
            questions=[i for i in questions if not i.is_birth_date],
            questionnaire=questionnaire,
            # Asked once: in the first step when an age rule reads it, else with the patient's details.
            ask_birth=BIRTH_FIELD not in carried if details else BIRTH_FIELD in fields,
            carried=carried,
            answered=summary(questionnaire, carried),
            values=values,
            errors=errors,
            purpose=f"hold:{hold.id}",
            action=f"{BOOKING_PATH}hold/{hold.id}",
        )

    def lapsed(request: Request, hold: Hold) -> Response:
        if hold.state == "booked":
            with store.read() as conn:
                record = appointment_for_hold(conn, hold.id)
            return RedirectResponse(pages.appointment_url(record.key), status_code=303)
        again = BOOKING_PATH + hold.slot_id + link_query(hold.source, hold.referral)
        return pages.expired_form(request, 410, again, hold_expired=True)

    @router.get(BOOKING_PATH + "hold/{hold_id}")
    def show_hold(hold_id: str, request: Request) -> Response:
        hold = find_hold(hold_id)
        if hold is None:
            return pages.expired_form(request, 404)
        if not pages.flows.owns(request, hold.token):
            return pages.other_browser(request, hold)
        if not hold.live(now_ms(clock)):
            return lapsed(request, hold)
        return hold_page(request, hold)

    @router.post(BOOKING_PATH + "hold/{hold_id}", dependencies=attempt_limit)
    async def submit_hold(hold_id: str, request: Request) -> Response:
        form = with_birth_date(await read_form(request))
        hold = await run_in_threadpool(find_hold, hold_id)
        if hold is None:
            return pages.expired_form(request, 403)
        if not pages.flows.owns(request, hold.token):
            return await run_in_threadpool(pages.other_browser, request, hold)
        if not csrf.check_csrf(pages.secret(), pages.flows.current(request), f"hold:{hold_id}", form.get("csrf")):
            return pages.expired_form(request, 403)
        if hold.state == "booked":
            return await run_in_threadpool(lapsed, request, hold)
        action = form.get("action")
        if action == "release":
            await run_in_threadpool(
                release_hold, store=store, clock=clock, hold_id=hold_id, token=hold.token, reason="released"
            )
            return await run_in_threadpool(pages.called_off, request, hold, "released", ())
        if action == "screen":
            return await run_in_threadpool(check_first, request, hold, form)
        if action == "change":  # back to the deciding questions, as answered
            return await run_in_threadpool(hold_page, request, hold, values=form)
        return await run_in_threadpool(finish, request, hold, form)

    def check_first(request: Request, hold: Hold, form: Mapping[str, str]) -> Response:
        result = screen(store=bookings, clock=clock, hold_id=hold.id, token=hold.token, form=form)
        match result:
            case Screened(carried):
                # A hold released meanwhile (say, from another tab) cannot go on to the details.
                if hold.state != "active":
                    return lapsed(request, hold)
                return hold_page(request, hold, values=carried, screened=True)
            case Invalid(errors):
                return hold_page(request, hold, 422, values=form, errors=errors)
            case CalledOff(outcome, messages):
                return pages.called_off(request, hold, outcome, messages)
            case _:
                return pages.unavailable(request, hold.slot_id, 409, hold.source, hold.referral, result.reason)

    def finish(request: Request, hold: Hold, form: Mapping[str, str]) -> Response:
        result = submit_booking(store=bookings, clock=clock, hold_id=hold.id, token=hold.token, form=form)
        match result:
            case Booked(record):
                return RedirectResponse(pages.appointment_url(record.key), status_code=303)
            case Invalid(errors):
                return hold_page(request, hold, 422, values=form, errors=errors, screened=True)
            case CalledOff(outcome, messages):
                return pages.called_off(request, hold, outcome, messages)
            case _:
                return pages.unavailable(request, hold.slot_id, 409, hold.source, hold.referral, result.reason)

    router.include_router(appointment_router(pages))
    return router
