"""The patient's details on the booking form: a name, a date of birth, and a phone number and/or an
email address, checked field by field (UX problem 1: booking with no account).

A pure decision, with no store: `validate_patient` answers the patient, or a message per field that
is wrong for the form to show beside it. The details become the Appointment's contained Patient
(`booking`) and are shown only to staff and on the patient's own confirmation page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from slotlinks.web.i18n import gettext_for

__all__ = ["BIRTH_PARTS", "Patient", "PatientForm", "check_birth_date", "validate_patient", "with_birth_date"]

_ = gettext_for("slotlinks.provider")

#: The date of birth is asked as three labelled numbers (month, day, year), the way a US patient
#: writes it and the same in every browser; `birthDate` (YYYY-MM-DD) is what the server reads.
BIRTH_PARTS = ("birthDate-month", "birthDate-day", "birthDate-year")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^[0-9+()\-. ]+$")


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient as they gave themselves: at least one of `phone` and `email` is set."""

    name: str
    birth_date: date
    phone: str | None
    email: str | None


@dataclass(slots=True)
class PatientForm:
    """The form's reading: the patient when every field is right, else the messages per field."""

    patient: Patient | None = None
    errors: dict[str, str] = field(default_factory=dict)


def with_birth_date(form: Mapping[str, str]) -> dict[str, str]:
    """The form with `birthDate` (YYYY-MM-DD) made from its three parts when the patient typed them,
    and the parts filled from `birthDate` when only it came (carried from the first step), so the
    page shows the date as given either way. Parts that make no date give a `birthDate` that is none."""
    fields = dict(form)
    month, day, year = ((fields.get(name) or "").strip() for name in BIRTH_PARTS)
    if month or day or year:
        if month.isdigit() and day.isdigit() and year.isdigit() and len(year) == 4:
            fields["birthDate"] = f"{year}-{int(month):02d}-{int(day):02d}"
        else:
            fields["birthDate"] = f"{year}-{month}-{day}"
    else:
        try:
            given = date.fromisoformat((fields.get("birthDate") or "").strip())
        except ValueError:
            return fields
        fields.update(zip(BIRTH_PARTS, (str(given.month), str(given.day), str(given.year)), strict=True))
    return fields


def check_birth_date(raw: str | None, *, today: date) -> tuple[date | None, str | None]:
    """The form's date of birth, or the message to show beside it (also asked alone, first, when an
    eligibility rule reads the patient's age: `screening`)."""
    try:
        birth = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None, _("Please enter your date of birth as month, day and year, like 4 28 1985.")
    if birth > today:
        return None, _("Please check your date of birth: it cannot be in the future.")
    if birth < date(today.year - 130, 1, 1):
        return None, _("Please check the year of your date of birth.")
    return birth, None


def validate_patient(form: Mapping[str, str], *, today: date) -> PatientForm:
    """The booking form's patient fields, with a message per field that is wrong."""
    errors: dict[str, str] = {}
    name = " ".join((form.get("name") or "").split())
    if not name:
        errors["name"] = _("Please enter your full name.")
    elif len(name) > 200:
        errors["name"] = _("Please shorten your name to 200 characters.")
    birth, birth_error = check_birth_date(form.get("birthDate"), today=today)
    if birth_error is not None:
        errors["birthDate"] = birth_error
    phone = (form.get("phone") or "").strip() or None
    email = (form.get("email") or "").strip() or None
    if phone is not None:
        digits = re.sub(r"\D", "", phone)
        if not _PHONE_CHARS.match(phone) or not 7 <= len(digits) <= 15:
            errors["phone"] = _("Please enter a phone number with 7 to 15 digits.")
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        errors["email"] = _("Please enter an email address like name@example.com.")
    if phone is None and email is None:
        errors["phone"] = _("Please give a phone number or an email address so we can reach you.")
    if errors or birth is None:
        return PatientForm(None, errors)
    return PatientForm(Patient(name, birth, phone, email), {})
