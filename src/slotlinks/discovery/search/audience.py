"""Who a slot is for, in search (issue 13): the filters, and the plain-language badges shown before a
patient follows a link.

The columns come from ingest (ingest/audience.py); a Slot's patient status falls back on its
Schedule's (its services' eligibility) when the Slot says nothing. Without a filter every slot is
shown, and what is not published is marked ("Who can book: not stated"). A filter the patient asks
for keeps only what is known to match, so a patient who asked for "accepting new patients" or "no
referral needed" never follows a link to be turned away for that reason; the form says so:
- `new_patients`: the patient status is `newpt`;
- `no_referral`: the Schedule's services say no referral is required;
- `age`: the age range contains it, or the services state their eligibility and name no age range;
- `language`: one of the Schedule's practitioners publishes that language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import msgspec
from babel import Locale
from sqlalchemy import ColumnElement, Integer, Table, and_, bindparam, func, literal, or_

from slotlinks.fhir.audience import LANGUAGES, language_name

__all__ = [
    "AUDIENCE_PARAMETERS",
    "SlotAudience",
    "by_audience",
    "parse_language",
    "schedule_conditions",
    "schedule_values",
    "slot_audience",
    "slot_condition",
]

#: The search parameters of these filters (query.py parses them), which pages carry from the results
#: to a location's calendar.
AUDIENCE_PARAMETERS = ("new_patients", "no_referral", "age", "language")

NEW_PATIENTS = "newpt"
_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def _folded(name: str) -> str:
    """`name` lower-cased, its accents and extra spaces dropped: "Español " and "espanol" are one."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


# The languages we know by their English names and by their Spanish ones (the pages speak both).
_CODE_OF_NAME = {
    **{_folded(name): code for code, name in Locale("es").languages.items() if code in LANGUAGES},
    **{_folded(name): code for code, name in LANGUAGES.items()},
}

_PATIENT_BADGES = {
    "newpt": "New patients welcome",
    "existptonly": "Existing patients only",
    "existptfam": "Existing patients and their families only",
    "nopt": "Not accepting patients",
}
NOT_STATED = "Who can book: not stated"
REFERRAL_NOT_STATED = "Referral: not stated"


class SlotAudience(msgspec.Struct, kw_only=True):
    """Who a time is for, as its publisher says it; None (or an empty list) where it says nothing.

    `patients` is an accepting-patients code (`newpt`, `existptonly`, `existptfam`, `nopt`),
    `referral` whether a referral is needed, `min_age`/`max_age` the age range in whole years
    (inclusive), `languages` what its practitioners speak (BCP-47 primary subtags), and `badges` all
    of it in plain words, in the order a page shows them."""

    patients: str | None = None
    referral: bool | None = None
    min_age: int | None = None
    max_age: int | None = None
    languages: list[str] = []
    badges: list[str] = []


def parse_language(text: str) -> str | None:
    """A language as the patient names it (`es`, `pt-BR`, `Spanish`, `español`) as the primary subtag search
    compares, or None when it is neither a code nor a name we know."""
    code = _CODE_OF_NAME.get(_folded(text))
    if code is None and _TAG.fullmatch(text):
        code = text.split("-")[0].lower()
    return code


def slot_condition(
    sl: Table, schedule_patients: ColumnElement[Any], *, new_patients: bool
) -> list[ColumnElement[bool]]:
    """The condition on a Slot row for the patient-status filter, `schedule_patients` being its
    Schedule's status (a column, or a bound value)."""
    return [func.coalesce(sl.c.patients, schedule_patients) == NEW_PATIENTS] if new_patients else []


def schedule_conditions(s: Table, *, no_referral: bool, by_age: bool, by_language: bool) -> list[ColumnElement[bool]]:
    """The conditions on a Schedule row for the referral, age and language filters; the age and the
    language are bound parameters (`schedule_values` gives them), so a statement serves every value."""
    out: list[ColumnElement[bool]] = []
    if no_referral:
        out.append(s.c.referral.is_(False))
    if by_age:
        age = bindparam("age", type_=Integer)
        ranged = or_(s.c.min_age.is_not(None), s.c.max_age.is_not(None))
        within = and_(
            or_(s.c.min_age.is_(None), s.c.min_age <= age),
            or_(s.c.max_age.is_(None), s.c.max_age >= age),
        )
        out.append(and_(within, or_(ranged, s.c.ages_stated.is_(True))))
    if by_language:
        spoken = literal(" ") + func.coalesce(s.c.languages, "") + literal(" ")
        out.append(spoken.like(bindparam("language")))
    return out


def schedule_values(*, age: int | None, language: str | None) -> dict[str, object]:
    """The bound values of `schedule_conditions` for a search's age and language."""
    values: dict[str, object] = {}
    if age is not None:
        values["age"] = age
    if language is not None:
        values["language"] = f"% {language} %"
    return values


def _ages(low: int | None, high: int | None) -> str | None:
    if low is not None and high is not None:
        return f"Ages {low}\u2013{high}"
    if low is not None:
        return f"Ages {low} and over"
    return f"Ages {high} and under" if high is not None else None


def _spoken(codes: list[str]) -> str | None:
    # English is taken for granted on an English page; the badge names the others.
    names = [language_name(code) or code for code in codes if code != "en"]
    if not names:
        return None
    return "Speaks " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def slot_audience(patients: str | None, schedule: Any) -> SlotAudience:
    """A time's audience from its own patient status and its Schedule's row (`patients`, `referral`,
    `min_age`, `max_age`, `languages`)."""
    status = patients or schedule.patients
    referral = schedule.referral
    languages = schedule.languages.split() if schedule.languages else []
    badges = [NOT_STATED if status is None else _PATIENT_BADGES.get(status, NOT_STATED)]
    if referral is not None:
        badges.append("Referral needed" if referral else "No referral needed")
    elif status is not None:
        badges.append(REFERRAL_NOT_STATED)
    badges.extend(b for b in (_ages(schedule.min_age, schedule.max_age), _spoken(languages)) if b)
    return SlotAudience(
        patients=status,
        referral=None if referral is None else bool(referral),
        min_age=schedule.min_age,
        max_age=schedule.max_age,
        languages=languages,
        badges=badges,
    )


class _HasAudience(Protocol):
    @property
    def audience(self) -> SlotAudience: ...


_T = TypeVar("_T", bound=_HasAudience)


def by_audience(slots: Iterable[_T]) -> list[tuple[list[str], list[_T]]]:
    """`slots` grouped by their badges, each group in the order its first slot comes (for a page that
    shows who can book before the times it applies to)."""
    groups: dict[tuple[str, ...], list[_T]] = {}
    for slot in slots:
        groups.setdefault(tuple(slot.audience.badges), []).append(slot)
    return [(list(badges), members) for badges, members in groups.items()]
