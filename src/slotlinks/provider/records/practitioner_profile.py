"""What a Practitioner publishes about themselves beyond name and NPI: the languages they speak
(`communication`, BCP-47 codes from `urn:ietf:bcp:47`) and, only if they choose to, their gender.

A gender the clinician chose not to publish is not kept at all: the store holds what is published.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import msgspec

from slotlinks.errors import InvalidInput
from slotlinks.fhir.audience import BCP47, LANGUAGES, language_name
from slotlinks.fhir.resources import CodeableConcept, Coding, Practitioner
from slotlinks.provider.records.resources import get_resource, put_resource
from slotlinks.provider.store.store import Change

__all__ = ["BCP47", "LANGUAGES", "Gender", "PractitionerProfile", "profile_of", "set_profile"]

Gender = Literal["male", "female", "other", "unknown"]
# A well-formed BCP-47 tag as clinicians' languages need them: a language, optional script/region parts.
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_MAX_LANGUAGES = 20


@dataclass(frozen=True, slots=True)
class PractitionerProfile:
    languages: tuple[str, ...] = ()
    gender: Gender | None = None  # None: not published


def profile_of(practitioner: Practitioner) -> PractitionerProfile:
    languages = tuple(c.code for concept in practitioner.communication for c in concept.coding[:1] if c.code)
    return PractitionerProfile(languages, practitioner.gender)


def _language(code: str) -> CodeableConcept:
    display = language_name(code)
    return CodeableConcept(coding=[Coding(system=BCP47, code=code, display=display)], text=display)


def set_profile(
    change: Change, practitioner_id: str, languages: Sequence[str], gender: str | None
) -> PractitionerProfile:
    """Replaces the Practitioner's languages and published gender (None: not published).
    InvalidInput on a malformed language code or an unknown gender."""
    if len(languages) > _MAX_LANGUAGES:
        raise InvalidInput(f"at most {_MAX_LANGUAGES} languages", expression=["languages"])
    seen: list[str] = []
    for i, code in enumerate(languages):
        if not _TAG.match(code):
            raise InvalidInput(
                f"{code!r} is not a BCP-47 language code (e.g. en, es, pt-BR)", expression=[f"languages[{i}]"]
            )
        if code.lower() not in (c.lower() for c in seen):
            seen.append(code)
    if gender is not None and gender not in get_args(Gender):
        raise InvalidInput(f"gender must be one of {', '.join(get_args(Gender))}", expression=["gender"])
    current = get_resource(change.conn, "Practitioner", practitioner_id)
    assert isinstance(current, Practitioner)
    updated = msgspec.structs.replace(
        current,
        communication=[_language(c) for c in seen],
        gender=gender,
    )
    return profile_of(put_resource(change, updated))
