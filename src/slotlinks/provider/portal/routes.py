"""The booking portal's pages: deep link → hold → questions → book, or call off (2026 IG "Find, Hold,
Book"; SPEC-NOTES "Deep links" and the three UX problems).

    GET  /book/{slot}?source=&booking-referral=   landing: what, who, where, when (local), contact
    POST /book/{slot}                             "Continue": places the hold → /book/hold/{hold}
    GET  /book/hold/{hold}                        questions and patient details, hold countdown
    POST /book/hold/{hold}                        book (or release); ineligible / needs-a-call pages
    GET  /book/appointment/{id}?token=            confirmation (what, when, where, .ics, cancel link)
    GET  /book/appointment/{id}/appointment.ics?token=
    GET|POST /book/appointment/{id}/cancel?token= confirm, then cancel (frees the slot)

A GET changes no booking state; the landing records the referral as `landed` in the outcome log
(`referrals.outcome_log`). `source` and `booking-referral` ride along in hidden fields and on the hold.
Every form carries a CSRF token bound to the browser's flow cookie and to what the form acts on
(`csrf`); every page is sent with a nonce CSP, no framing and no referrer. Routes only parse, call a
service and render; a slot that cannot be had is always the "no longer available" page, never an error.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, params
from jinja2 import Environment
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from slotlinks.clock import now_ms
from slotlinks.config import Settings
from slotlinks.errors import NotFound
from slotlinks.provider.portal import csrf
from slotlinks.provider.portal.booking import AppointmentRecord, book, cancel, get_appointment, validate_patient
from slotlinks.provider.portal.eligibility import decide, parse_rules
from slotlinks.provider.portal.holds import Hold, SlotUnavailable, get_hold, place_hold, release_hold
from slotlinks.provider.portal.ics import appointment_ics
from slotlinks.provider.portal.questionnaires import (
    Questionnaire,
    option_key,
    option_label,
    parse_answers,
    questionnaire_for_schedule,
    response_resource,
)
from slotlinks.provider.portal.referrals import clean_handle, outcome_log, record_outcome, return_link
from slotlinks.provider.portal.slotinfo import SlotView, alternatives, is_bookable, slot_view
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.settings import BOOKING_PATH
from slotlinks.provider.store.store import ProviderStore
from slotlinks.web.bodies import read_form
from slotlinks.web.templating import page_templates

__all__ = ["portal_router"]


def _time(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def _day(moment: datetime) -> str:
    return f"{moment:%A, %B} {moment.day}, {moment.year}"


def make_templates() -> Environment:
    env = page_templates("slotlinks.provider")
    env.filters["time"] = _time
    env.filters["day"] = _day
    env.globals["option_key"] = option_key
    env.globals["option_label"] = option_label
    return env


def portal_router(
    settings: Settings, store: ProviderStore, *, attempt_limit: Sequence[params.Depends] = ()
) -> APIRouter:
    """The portal's pages; `attempt_limit` guards the booking attempts (the hold and book POSTs)."""
    router = APIRouter(include_in_schema=False)
    env = make_templates()
    clock = store.clock
    ttl = timedelta(minutes=settings.hold_minutes)
    secret_cache: list[bytes] = []

    def secret() -> bytes:
        if not secret_cache:
            secret_cache.append(csrf.portal_secret(settings, store))
        return secret_cache[0]

    def page(
        request: Request, template: str, status: int = 200, *, flow: str | None = None, **context: Any
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        cookie = request.cookies.get(csrf.FLOW_COOKIE)
        flow = flow or cookie or csrf.new_flow()
        context.setdefault("csrf_for", lambda purpose: csrf.csrf_token(secret(), flow, purpose))
        context.setdefault("back", None)
        html = env.get_template(template).render(nonce=nonce, **context)
        response = Response(html, status_code=status, media_type="text/html; charset=utf-8")
        response.headers.update(csrf.page_headers(nonce))
        if cookie != flow:
            response.set_cookie(
                csrf.FLOW_COOKIE,
                flow,
                path="/book",
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response

    def handles(values: Mapping[str, str]) -> tuple[str | None, str | None]:
        return clean_handle(values.get("source"), 64), clean_handle(values.get("booking-referral"))

    def link_query(source: str | None, referral: str | None) -> str:
        pairs = [(k, v) for k, v in (("source", source), ("booking-referral", referral)) if v]
        return "?" + urlencode(pairs) if pairs else ""

    def unavailable(
        request: Request, slot_id: str, status: int, source: str | None, referral: str | None, reason: str = "taken"
    ) -> Response:
        at_ms = now_ms(clock)
        with store.read() as conn:
            view = slot_view(conn, slot_id)
            others = alternatives(conn, view, at_ms) if view is not None else []
            back = return_link(conn, source, referral)
        return page(
            request,
            "unavailable.html",
            status,
            slot=view,
            others=others,
            query=link_query(source, referral),
            reason=reason,
            back=back,
            book_path=BOOKING_PATH,
        )

    # --- landing ---------------------------------------------------------------------------------

    @router.get(BOOKING_PATH + "{slot_id}")
    def landing(slot_id: str, request: Request) -> Response:
        source, referral = handles(request.query_params)
        at_ms = now_ms(clock)
        with store.read() as conn:
            view = slot_view(conn, slot_id)
            free = view is not None and is_bookable(conn, slot_id, at_ms)
        if referral:
            with outcome_log(store) as conn:
                record_outcome(
                    conn,
                    source=source,
                    referral=referral,
                    outcome="landed",
                    at_ms=at_ms,
                    slot_id=slot_id if view else None,
                )
        if view is None:
            return unavailable(request, slot_id, 404, source, referral, "gone")
        if not free:
            return unavailable(request, slot_id, 200, source, referral)
        return page(
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
        source, referral = handles(form)
        cookie = request.cookies.get(csrf.FLOW_COOKIE)
        if not csrf.check_csrf(secret(), cookie, f"land:{slot_id}", form.get("csrf")):
            return page(request, "expired_form.html", 403, again=BOOKING_PATH + slot_id + link_query(source, referral))
        assert cookie is not None
        try:
            hold = await run_in_threadpool(
                place_hold,
                store=store,
                clock=clock,
                slot_id=slot_id,
                ttl=ttl,
                token=csrf.flow_hash(cookie),
                referral=referral,
                source=source,
            )
        except SlotUnavailable as refused:
            return await run_in_threadpool(unavailable, request, slot_id, 409, source, referral, refused.reason)
        return RedirectResponse(f"{BOOKING_PATH}hold/{hold.id}", status_code=303)

    # --- the hold: questions and details ---------------------------------------------------------

    def own_hold(request: Request, hold_id: str) -> Hold | None:
        cookie = request.cookies.get(csrf.FLOW_COOKIE)
        if not cookie:
            return None
        with store.read() as conn:
            try:
                hold = get_hold(conn, hold_id)
            except NotFound:
                return None
        return hold if secrets.compare_digest(hold.token, csrf.flow_hash(cookie)) else None

    def hold_page(
        request: Request,
        hold: Hold,
        status: int = 200,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        with store.read() as conn:
            view = slot_view(conn, hold.slot_id)
            questionnaire = questionnaire_for_schedule(conn, view.schedule_id) if view else None
        if view is None:
            return unavailable(request, hold.slot_id, 409, hold.source, hold.referral, "gone")
        expires = datetime.fromtimestamp(hold.expires_ms / 1000, view.start.tzinfo)
        return page(
            request,
            "hold.html",
            status,
            slot=view,
            hold=hold,
            expires=expires,
            expires_iso=datetime.fromtimestamp(hold.expires_ms / 1000, UTC).isoformat(),
            questions=[i for i in questionnaire.item if not i.is_birth_date] if questionnaire else [],
            questionnaire=questionnaire,
            values=values or {},
            errors=errors or {},
            purpose=f"hold:{hold.id}",
            action=f"{BOOKING_PATH}hold/{hold.id}",
        )

    def appointment_url(record_id: str) -> str:
        return f"{BOOKING_PATH}appointment/{record_id}?token={csrf.sign(secret(), 'appointment:' + record_id)}"

    def lapsed(request: Request, hold: Hold) -> Response:
        if hold.state == "booked":
            with store.read() as conn:
                appointment_id = conn.execute(
                    select(t.appointment.c.id).where(t.appointment.c.hold_id == hold.id)
                ).scalar_one()
            return RedirectResponse(appointment_url(appointment_id), status_code=303)
        again = BOOKING_PATH + hold.slot_id + link_query(hold.source, hold.referral)
        return page(request, "expired_form.html", 410, again=again, hold_expired=True)

    @router.get(BOOKING_PATH + "hold/{hold_id}")
    def show_hold(hold_id: str, request: Request) -> Response:
        hold = own_hold(request, hold_id)
        if hold is None:
            return page(request, "expired_form.html", 404, again=None)
        if not hold.live(now_ms(clock)):
            return lapsed(request, hold)
        return hold_page(request, hold)

    @router.post(BOOKING_PATH + "hold/{hold_id}", dependencies=attempt_limit)
    async def submit_hold(hold_id: str, request: Request) -> Response:
        form = await read_form(request)
        hold = await run_in_threadpool(own_hold, request, hold_id)
        cookie = request.cookies.get(csrf.FLOW_COOKIE)
        if hold is None or not csrf.check_csrf(secret(), cookie, f"hold:{hold_id}", form.get("csrf")):
            return page(request, "expired_form.html", 403, again=None)
        if hold.state == "booked":
            return await run_in_threadpool(lapsed, request, hold)
        if form.get("action") == "release":
            await run_in_threadpool(
                release_hold, store=store, clock=clock, hold_id=hold_id, token=hold.token, reason="released"
            )
            return await run_in_threadpool(outcome_page, request, hold, "released", ())
        return await run_in_threadpool(finish, request, hold, form)

    def finish(request: Request, hold: Hold, form: Mapping[str, str]) -> Response:
        today = clock().date()
        with store.read() as conn:
            view = slot_view(conn, hold.slot_id)
            questionnaire = questionnaire_for_schedule(conn, view.schedule_id) if view else None
        if view is None:
            return unavailable(request, hold.slot_id, 409, hold.source, hold.referral, "gone")
        checked = validate_patient(form, today=today)
        birth = checked.patient.birth_date if checked.patient else _maybe_date(form.get("birthDate"))
        parsed = parse_answers(questionnaire, form, birth) if questionnaire else None
        errors = dict(checked.errors)
        if parsed is not None:
            errors.update({f"q-{k}": v for k, v in parsed.errors.items()})
        if errors or checked.patient is None:
            return hold_page(request, hold, 422, values=form, errors=errors)
        response = None
        if questionnaire is not None and parsed is not None:
            decision = decide(parse_rules(questionnaire), parsed.answers, view.start.date())
            if decision.outcome != "eligible":
                reason = "ineligible" if decision.outcome == "not-eligible" else "needs-call"
                release_hold(store=store, clock=clock, hold_id=hold.id, token=hold.token, reason=reason)
                return outcome_page(request, hold, decision.outcome, decision.messages)
            response = _response(questionnaire, parsed.answers, clock)
        try:
            record = book(
                store=store, clock=clock, hold_id=hold.id, token=hold.token, patient=checked.patient, response=response
            )
        except SlotUnavailable as refused:
            with outcome_log(store) as conn:
                record_outcome(
                    conn,
                    source=hold.source,
                    referral=hold.referral,
                    outcome="called-off",
                    reason=refused.reason,
                    at_ms=now_ms(clock),
                    only_if_hold=hold.id,
                )
            return unavailable(request, hold.slot_id, 409, hold.source, hold.referral, refused.reason)
        return RedirectResponse(appointment_url(record.id), status_code=303)

    def outcome_page(request: Request, hold: Hold, outcome: str, messages: tuple[str, ...]) -> Response:
        with store.read() as conn:
            view = slot_view(conn, hold.slot_id)
            back = return_link(conn, hold.source, hold.referral)
        return page(request, "called_off.html", slot=view, outcome=outcome, messages=messages, back=back)

    # --- the appointment -------------------------------------------------------------------------

    def appointment_for(appointment_id: str, token: str | None) -> tuple[AppointmentRecord, SlotView, str | None]:
        if not csrf.verify(secret(), "appointment:" + appointment_id, token):
            raise NotFound("no such appointment")
        with store.read() as conn:
            record = get_appointment(conn, appointment_id)
            view = slot_view(conn, record.slot_id)
            hold = get_hold(conn, record.hold_id)
            back = return_link(conn, hold.source, hold.referral)
        if view is None:
            raise NotFound("no such appointment")
        return record, view, back

    def not_found(request: Request) -> Response:
        return page(request, "expired_form.html", 404, again=None)

    @router.get(BOOKING_PATH + "appointment/{appointment_id}")
    def confirmation(appointment_id: str, request: Request) -> Response:
        token = request.query_params.get("token")
        try:
            record, view, back = appointment_for(appointment_id, token)
        except NotFound:
            return not_found(request)
        base = f"{BOOKING_PATH}appointment/{appointment_id}"
        return page(
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
            record, view, _ = appointment_for(appointment_id, request.query_params.get("token"))
        except NotFound:
            return not_found(request)
        where = ", ".join([view.location_name, *view.address])
        who = f" with {view.practitioner}" if view.practitioner else ""
        body = appointment_ics(
            uid=f"{record.id}@slotlinks",
            start=view.start,
            end=view.end,
            summary=f"{view.service}{who}",
            location=where,
            description=f"Questions or changes: call {view.phone}" if view.phone else "",
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
            return not_found(request)
        return page(
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
        cookie = request.cookies.get(csrf.FLOW_COOKIE)
        if not csrf.check_csrf(secret(), cookie, f"cancel:{appointment_id}", form.get("csrf")):
            return page(request, "expired_form.html", 403, again=None)
        try:
            await run_in_threadpool(appointment_for, appointment_id, token)
        except NotFound:
            return not_found(request)
        await run_in_threadpool(cancel, store=store, clock=clock, appointment_id=appointment_id)
        record, view, back = await run_in_threadpool(appointment_for, appointment_id, token)
        return page(
            request, "cancel.html", slot=view, record=record, token=token, back=back, done=True, purpose="", action=""
        )

    return router


def _maybe_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _response(questionnaire: Questionnaire, answers: Mapping[str, Any], clock: Any) -> dict[str, Any]:
    authored = clock().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return response_resource(questionnaire, answers, authored=authored, response_id="answers")
