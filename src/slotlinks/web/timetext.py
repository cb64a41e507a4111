"""Times as a patient reads them, written one way on every page and message of both servers.

A time is 12-hour in the language of the page ("1:05 PM", "1:05 p. m."), in the zone of the place
the appointment is at, followed by that zone's abbreviation where a page shows times of one place
("1:05 PM EST"); the zone is named in words once per page ("Times are Eastern Time"). A day is
written in words ("Tuesday, December 8"), or as "Today" and "Tomorrow" where that helps. Every
function takes a zone-aware moment already in the place's zone (`in_zone`) and reads the language
from the request (`web.i18n`).
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_time, get_timezone_name

from slotlinks.web.i18n import current_language, gettext_for

__all__ = ["clock", "clock_zone", "day", "day_short", "day_words", "in_zone", "moment_text", "zone_words"]

_ = gettext_for("slotlinks.web")


def in_zone(instant: str | datetime, zone: str | None) -> datetime:
    """`instant` (ISO 8601 text or an aware datetime) in the zone `zone` names; in its own offset
    when the zone is missing or unknown."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if zone:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return moment.astimezone(ZoneInfo(zone))
    return moment


def clock(moment: datetime) -> str:
    """`1:05 PM` (English), `1:05 p. m.` (Spanish)."""
    return format_time(moment, "h:mm a", locale=current_language())


def _abbreviation(moment: datetime) -> str:
    name = moment.tzname() or ""
    # A bare offset ("-05") says less than the UTC form patients know from their phones.
    return name if name[:1].isalpha() else moment.strftime("UTC%:z")


def clock_zone(moment: datetime) -> str:
    """`1:05 PM EST`: the time with its zone's abbreviation."""
    return f"{clock(moment)} {_abbreviation(moment)}"


# CLDR has no "weekday, day and month, all in full" skeleton for Spanish (it abbreviates the weekday):
# the patterns of our languages, written out.
_DAY_PATTERNS = {"en": "EEEE, MMMM d", "es": "EEEE, d 'de' MMMM"}


def day(moment: datetime | date) -> str:
    """`Tuesday, December 8` / `martes, 8 de diciembre`."""
    language = current_language()
    pattern = _DAY_PATTERNS.get(language)
    if pattern is None:
        return format_skeleton("MMMMEEEEd", moment, locale=language)
    return format_date(moment, pattern, locale=language)


def day_short(moment: datetime | date) -> str:
    """`Tue, Dec 8` / `mar, 8 dic`."""
    return format_skeleton("MMMEd", moment, locale=current_language())


def day_words(moment: datetime | date, today: date) -> str:
    """ "Today", "Tomorrow", else the day in words (`day`)."""
    when = moment.date() if isinstance(moment, datetime) else moment
    if when == today:
        return _("Today")
    if (when - today).days == 1:
        return _("Tomorrow")
    return day(when)


def moment_text(moment: datetime) -> str:
    """`Tuesday, December 8, 1:05 PM EST`: one appointment time, whole, where it stands alone (an
    e-mail, a confirmation)."""
    return _("%(day)s, %(time)s", day=day(moment), time=clock_zone(moment))


def zone_words(moment: datetime) -> str:
    """The zone in words, for the one line a page names it in: `Eastern Time` / `hora oriental`;
    its abbreviation where the language has no name for it."""
    name = get_timezone_name(moment, "long", locale=current_language(), zone_variant="generic")
    return _abbreviation(moment) if name.startswith("GMT") else name
