"""What the search pages say, in the patient's language: a result's times, the line that sums up a
search, and a search's mistakes in plain words with the way out.

The JSON API keeps its OperationOutcome naming the parameter (`query.parse_search`); a page says
what to do instead ("We couldn't find that ZIP code. Try a 5-digit ZIP code like 02114"), from
the same `InvalidInput` and the value the patient typed. `near` takes a 5-digit ZIP code or
`latitude,longitude` (`geo.parse_near`), and the messages say exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime

from slotlinks.discovery.search.query import MAX_AGE, MAX_TEXT, SearchRequest
from slotlinks.errors import InvalidInput
from slotlinks.web import timetext
from slotlinks.web.i18n import N_, gettext_for

__all__ = ["filter_summary", "moment_words", "outcome_words", "plain_search_error", "slot_time", "today_in"]

_ = gettext_for("slotlinks.discovery")

_ZIP = re.compile(r"\s*[0-9]{5}(?:-[0-9]{4})?\s*")
_TRUE = {"true", "1", "yes", "on"}

_SORTS = {"soonest": N_("Soonest first"), "nearest": N_("Nearest first")}


def slot_time(instant: str, zone: str | None, today: date) -> str:
    """One time of a result, as its link shows it: `Today, 9:00 AM EST`, `Tomorrow, 9:00 AM EST`,
    `Tue, Dec 8, 9:00 AM EST` (in the location's zone, `today` being the location's today)."""
    moment = timetext.in_zone(instant, zone)
    when = moment.date()
    soon = (when - today).days in (0, 1)
    day = timetext.day_words(when, today) if soon else timetext.day_short(when)
    return _("%(day)s, %(time)s", day=day, time=timetext.clock_zone(moment))


def _date_text(value: str, zone: str) -> str:
    try:
        return timetext.day_short(date.fromisoformat(value[:10]))
    except ValueError:
        return value


def filter_summary(form: Mapping[str, str], req: SearchRequest | None) -> list[str]:
    """The search's active filters, each in a few words, in the order the form asks them:
    `primary care`, `Within 25 miles of 02114`, `From Tue, Dec 8`, `Accepting new patients`..."""
    parts: list[str] = []

    def add(name: str, words: Callable[[str], str]) -> None:
        value = (form.get(name) or "").strip()
        if value:
            parts.append(words(value))

    add("service", lambda v: v)
    if req is not None and req.near is not None:
        miles = f"{req.radius_miles:.0f}" if req.radius_miles >= 1 else f"{req.radius_miles:.1f}"
        parts.append(_("Within %(miles)s miles of %(place)s", miles=miles, place=req.near.label))
    zone = req.tz if req else "UTC"
    add("from", lambda v: _("From %(day)s", day=_date_text(v, zone)))
    add("to", lambda v: _("Until %(day)s", day=_date_text(v, zone)))
    add("specialty", lambda v: v)
    add("vaccine", lambda v: _("Vaccine: %(name)s", name=v))
    add("practitioner", lambda v: _("With %(name)s", name=v))
    add("organization", lambda v: v)
    virtual = (form.get("virtual") or "").strip().lower()
    if virtual in _TRUE:
        parts.append(_("Video visits only"))
    elif virtual in {"false", "0", "no", "off"}:
        parts.append(_("In person only"))
    if (form.get("new_patients") or "").strip().lower() in _TRUE:
        parts.append(_("Accepting new patients"))
    if (form.get("no_referral") or "").strip().lower() in _TRUE:
        parts.append(_("No referral needed"))
    add("age", lambda v: _("Age %(age)s", age=v))
    add("language", lambda v: _("Speaks %(language)s", language=v))
    sort = (form.get("sort") or "").strip().lower()
    if sort in _SORTS:
        parts.append(_(_SORTS[sort]))
    return parts


def _dates(message: str) -> str:
    if "must end after" in message:
        return _("The end date is before the start date. Please choose an end date after the start date.")
    if "366 days" in message:
        return _("Please search at most one year of dates at a time.")
    if "outside the dates" in message:
        return _("Please choose a date in the coming months.")
    return _("We couldn't read that date. Please pick a date with the date field, like 2026-12-08.")


def plain_search_error(error: InvalidInput, form: Mapping[str, str]) -> tuple[str, str | None]:
    """What went wrong with a search, in plain words with the way out, and the id of the form field
    to fix (None when it is no field the form shows)."""
    # Our errors name the parameter (`age`); the framework's, where it sits (`query.age`).
    name = next((part.rpartition(".")[2] for issue in error.issues for part in issue.expression if part), "")
    value = (form.get(name) or "").strip()
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        return _("That is longer than we can search for. Please use fewer words."), name or None
    if name == "near":
        if _ZIP.fullmatch(value):
            message = _(
                "We couldn't find the ZIP code %(zip)s. Please check it, or try a nearby 5-digit ZIP code.",
                zip=value,
            )
        else:
            message = _(
                "We couldn't find that place. Please enter a 5-digit ZIP code like 02114 "
                "(or a latitude and longitude like 42.36,-71.06)."
            )
        return message, "near"
    if name == "radius":
        return _("Please choose a distance of up to 500 miles, like 25mi or 40km."), "radius"
    if name in ("from", "to"):
        return _dates(error.message), name
    if name == "age":
        return _("Please enter the patient's age in whole years, from 0 to %(most)s.", most=str(MAX_AGE)), "age"
    if name == "language":
        return _("We don't know that language. Please write its name, like Spanish, or a code like es."), "language"
    return _("Part of this search isn't one we can use. Please check the search and try again."), None


def today_in(zone: str | None, now: datetime) -> date:
    """The date it is now in `zone` (the location's today)."""
    return timetext.in_zone(now, zone).date()


_REASONS = {
    "taken": N_("Not booked: the time was taken"),
    "ineligible": N_("Not booked: not eligible"),
    "expired": N_("Not booked: the hold expired"),
    "needs-call": N_("Not booked: the provider asks you to call"),
    "released": N_("Not booked: the time was released"),
    "gone": N_("Not booked: the time is no longer offered"),
}


def outcome_words(outcome: str | None, reason: str | None) -> str:
    """A booking's state as "my bookings" badges it (`outcomes.badge`, in the page's language)."""
    if outcome == "booked":
        return _("Booked")
    if outcome == "cancelled":
        return _("Cancelled")
    if outcome == "called-off":
        return _(_REASONS[reason]) if reason in _REASONS else _("Not booked")
    if outcome == "unknown":
        return _("Outcome unknown")
    return _("In progress")


def moment_words(instant: str | None, zone: str | None) -> str:
    """`Tuesday, December 8, 9:00 AM EST`: one booking's time, whole (`timetext.moment_text`)."""
    if not instant:
        return ""
    try:
        return timetext.moment_text(timetext.in_zone(instant, zone))
    except ValueError:
        return instant
