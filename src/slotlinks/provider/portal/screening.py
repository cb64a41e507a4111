"""The deciding questions first (issue 13): a patient learns whether the visit can be booked online
before typing a name, a date of birth or contact details.

The deciding questions are the items an eligibility rule reads (`eligibility.parse_rules`), coded or
not, with the earlier items their `enableWhen` depends on (without those, whether a deciding item is
asked at all could not be told). They are derived from the rules, so a provider's own rule, on any
question, moves that question forward too. The first step asks only them; the use case `screen`
reads and decides them on the server and releases the hold when the answers rule online booking out.
An eligible patient's answers ride along in the second step's form, where `submission.submit_booking`
reads and decides the whole form again: a changed hidden answer can never book.

Age: when a rule reads the birth-date item (LOINC 21112-8, answered by the booking form's date of
birth), the first step asks the date of birth, not an age: the rule is about the age on the visit
day, which a number of years cannot tell near a birthday, and the booking needs the date anyway. The
second step shows it as given, with a way back to change it, and does not ask it again.

Nothing is pre-answered from the deep link's query. A search tool's filter ("no referral needed",
"accepting new patients") says which slots the patient asked for, not whether they hold a referral
or are a patient here, which only the patient can declare; an age in the link cannot be checked
against anything, and a date of birth in a URL would end up in histories and logs. The only age the
portal can verify is the one computed from the date of birth the patient gives in the first step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import msgspec
from babel.dates import format_date

from slotlinks.clock import Clock, now_ms
from slotlinks.provider.portal.booking_store import BookingStore
from slotlinks.provider.portal.eligibility import decide, parse_rules
from slotlinks.provider.portal.patient import check_birth_date
from slotlinks.provider.portal.questionnaires import Item, Questionnaire, option_key, option_label, parse_answers
from slotlinks.provider.portal.submission import CalledOff, Invalid, NotBookable, held_slot
from slotlinks.web.i18n import current_language, gettext_for

__all__ = ["BIRTH_FIELD", "Screened", "ScreeningResult", "deciding_items", "first_fields", "screen", "summary"]

BIRTH_FIELD = "birthDate"

_ = gettext_for("slotlinks.provider")


@dataclass(frozen=True, slots=True)
class Screened:
    """The deciding answers allow online booking: the first step's fields, to carry to the second."""

    carried: Mapping[str, str]


ScreeningResult = Screened | Invalid | CalledOff | NotBookable


def deciding_items(questionnaire: Questionnaire | None) -> list[Item]:
    """The items the first step asks, in the questionnaire's order (none: one step, as before)."""
    if questionnaire is None:
        return []
    by_id = {item.linkId: item for item in questionnaire.item}
    wanted: set[str] = set()
    todo = [rule.item for rule in parse_rules(questionnaire)]
    while todo:
        link_id = todo.pop()
        if link_id in wanted or link_id not in by_id:
            continue
        wanted.add(link_id)
        todo.extend(cond.question for cond in by_id[link_id].enableWhen)
    return [item for item in questionnaire.item if item.linkId in wanted]


def _field(item: Item) -> str:
    return BIRTH_FIELD if item.is_birth_date else f"q-{item.linkId}"


def first_fields(questionnaire: Questionnaire | None) -> set[str]:
    """The form fields the first step asks (`q-<linkId>`, and `birthDate` for an age rule)."""
    return {_field(item) for item in deciding_items(questionnaire)}


def _label(item: Item, raw: str) -> str:
    if item.type == "boolean":
        return {"yes": _("Yes"), "no": _("No")}.get(raw, raw)
    if item.type == "choice":
        return next((option_label(o) for o in item.answerOption if option_key(o) == raw), raw)
    if item.type == "date":
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return raw
        return format_date(day, "long", locale=current_language())
    return raw


def summary(questionnaire: Questionnaire | None, carried: Mapping[str, str]) -> list[tuple[str, str]]:
    """The first step's answers in words, (question, answer), for the second step to show."""
    pairs = []
    for item in deciding_items(questionnaire):
        raw = carried.get(_field(item))
        if raw:
            pairs.append((item.shown_text, _label(item, raw)))
    return pairs


def screen(
    *,
    store: BookingStore,
    clock: Clock,
    hold_id: str,
    token: str,
    form: Mapping[str, str],
    today: date | None = None,
) -> ScreeningResult:
    """Decides the first step's answers on hold `hold_id`: `Screened` with the fields to carry,
    `Invalid` with a message per field, or `CalledOff` with the hold released (deciding again on a
    hold already released, as a repeated submission does, shows the same decision and writes nothing).

    `token` is the hash of the browser's flow the hold was placed with (`NotFound` for any other)."""
    at_ms = now_ms(clock)
    today = clock().date() if today is None else today
    with store.unit() as unit:
        hold, view = held_slot(unit, hold_id, token)
        if view is None:
            return NotBookable("gone")
        questionnaire = unit.questionnaire(view.schedule_id)
        items = deciding_items(questionnaire)
        if questionnaire is None or not items:
            return Screened({})
        errors: dict[str, str] = {}
        birth: date | None = None
        if any(item.is_birth_date for item in items):
            birth, message = check_birth_date(form.get(BIRTH_FIELD), today=today)
            if message is not None:
                errors[BIRTH_FIELD] = message
        parsed = parse_answers(msgspec.structs.replace(questionnaire, item=items), form, birth)
        errors.update({f"q-{k}": v for k, v in parsed.errors.items()})
        if errors:
            return Invalid(errors)
        decision = decide(parse_rules(questionnaire), parsed.answers, view.start.date())
        if decision.outcome != "eligible":
            reason = "ineligible" if decision.outcome == "not-eligible" else "needs-call"
            unit.release(hold_id=hold.id, token=hold.token, reason=reason, at_ms=at_ms)
            unit.commit()
            return CalledOff(decision.outcome, decision.messages)
        # Only what was asked and answered rides along: an answer to a question its conditions
        # switched off is no answer.
        carried = {
            _field(item): birth.isoformat() if item.is_birth_date and birth else (form.get(_field(item)) or "").strip()
            for item in items
            if item.linkId in parsed.answers
        }
        return Screened(carried)
