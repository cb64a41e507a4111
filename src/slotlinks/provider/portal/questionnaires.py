"""Pre-booking questionnaires: the provider's questions, asked once, on the portal (UX problem 1).

Each Schedule or HealthcareService may have a FHIR R4 Questionnaire (admin API:
`GET|PUT|DELETE /admin/{Schedule|HealthcareService}/{id}/questionnaire`). A slot is asked its
Schedule's questionnaire, else that of the first HealthcareService among the Schedule's actors.
Only `status: active` questionnaires are asked.

Supported: item types `boolean`, `choice` (answerOption valueCoding or valueString), `string`,
`date`, `integer` and `display`; `required`; `enableWhen` (operators exists, =, !=, >, <, >=, <=
against an earlier item) with `enableBehavior` all|any. An item coded LOINC 21112-8 ("Birth date")
is not asked: the booking form's date of birth answers it. Eligibility rules live in an extension
(see `eligibility`). Answers become a QuestionnaireResponse, kept with the Appointment.
"""

# ruff: noqa: N815  (FHIR field names)
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import msgspec
import orjson
from sqlalchemy import Connection, delete, select, update

from slotlinks.errors import InvalidInput, NotFound
from slotlinks.fhir.ids import is_valid_id
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change
from slotlinks.web.i18n import current_language, gettext_for

_ = gettext_for("slotlinks.provider")

__all__ = [
    "BIRTH_DATE",
    "TRANSLATION",
    "Answer",
    "Item",
    "Questionnaire",
    "delete_questionnaire",
    "enabled",
    "parse_answers",
    "parse_questionnaire",
    "put_questionnaire",
    "questionnaire_for_schedule",
    "read_questionnaire",
    "response_resource",
    "translated",
]

LOINC = "http://loinc.org"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
BIRTH_DATE = "21112-8"
OWNER_TYPES = ("Schedule", "HealthcareService")
ItemType = Literal["boolean", "choice", "string", "date", "integer", "display"]


class QExtension(msgspec.Struct, kw_only=True, omit_defaults=True):
    url: str
    extension: list[QExtension] = []
    valueString: str | None = None
    valueCode: str | None = None
    valueInteger: int | None = None
    valueBoolean: bool | None = None
    valueCoding: QCoding | None = None
    valueString_: Element | None = msgspec.field(default=None, name="_valueString")


class Element(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The extensions of a primitive value (FHIR's `_text`, `_display`...), where its translations live."""

    extension: list[QExtension] = []


class QCoding(msgspec.Struct, kw_only=True, omit_defaults=True):
    system: str | None = None
    code: str | None = None
    display: str | None = None
    display_: Element | None = msgspec.field(default=None, name="_display")


def translated(text: str | None, element: Element | None) -> str | None:
    """`text` in the page's language: the content of the FHIR translation extension whose `lang` is
    that language (`es`, `es-MX`), else `text` as written."""
    language = current_language()
    for ext in element.extension if element is not None else ():
        if ext.url != TRANSLATION:
            continue
        parts = {part.url: part.valueCode or part.valueString for part in ext.extension}
        if (parts.get("lang") or "").split("-")[0].lower() == language and parts.get("content"):
            return parts["content"]
    return text


class AnswerOption(msgspec.Struct, kw_only=True, omit_defaults=True):
    valueCoding: QCoding | None = None
    valueString: str | None = None
    valueInteger: int | None = None
    valueString_: Element | None = msgspec.field(default=None, name="_valueString")


class EnableWhen(msgspec.Struct, kw_only=True, omit_defaults=True):
    question: str
    operator: Literal["exists", "=", "!=", ">", "<", ">=", "<="]
    answerBoolean: bool | None = None
    answerString: str | None = None
    answerInteger: int | None = None
    answerDate: str | None = None
    answerCoding: QCoding | None = None


class Item(msgspec.Struct, kw_only=True, omit_defaults=True):
    linkId: str
    type: ItemType
    text: str | None = None
    text_: Element | None = msgspec.field(default=None, name="_text")
    code: list[QCoding] = []
    required: bool = False
    enableWhen: list[EnableWhen] = []
    enableBehavior: Literal["all", "any"] | None = None
    answerOption: list[AnswerOption] = []

    @property
    def is_birth_date(self) -> bool:
        return self.type == "date" and any(c.code == BIRTH_DATE for c in self.code)

    @property
    def shown_text(self) -> str:
        """The question in the page's language (its translation when it has one)."""
        return translated(self.text, self.text_) or self.linkId


class Questionnaire(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="resourceType", tag=True):
    id: str | None = None
    url: str | None = None
    title: str | None = None
    title_: Element | None = msgspec.field(default=None, name="_title")
    status: Literal["draft", "active", "retired", "unknown"]
    item: list[Item] = []
    extension: list[QExtension] = []

    @property
    def shown_title(self) -> str | None:
        """The title in the page's language (its translation when it has one)."""
        return translated(self.title, self.title_)


# An answer as kept: bool, str, int, date or a coding (for choice items).
Answer = bool | str | int | date | QCoding


def _option_value(option: AnswerOption) -> Answer | None:
    if option.valueCoding is not None:
        return option.valueCoding
    if option.valueString is not None:
        return option.valueString
    return option.valueInteger


def _option_key(option: AnswerOption) -> str:
    value = _option_value(option)
    if isinstance(value, QCoding):
        return f"{value.system or ''}|{value.code or ''}"
    return str(value)


def option_label(option: AnswerOption) -> str:
    """The answer as the page shows it, in its language when the questionnaire translates it."""
    value = _option_value(option)
    if isinstance(value, QCoding):
        return translated(value.display, value.display_) or value.code or ""
    if isinstance(value, str):
        return translated(value, option.valueString_) or value
    return str(value)


def option_key(option: AnswerOption) -> str:
    return _option_key(option)


def parse_questionnaire(body: bytes) -> Questionnaire:
    """Decodes and checks a Questionnaire (items, enableWhen targets, eligibility rules)."""
    from slotlinks.provider.portal.eligibility import parse_rules

    try:
        questionnaire = msgspec.json.decode(body, type=Questionnaire)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"invalid Questionnaire: {exc}") from exc
    seen: dict[str, Item] = {}
    for i, item in enumerate(questionnaire.item):
        where = f"Questionnaire.item[{i}]"
        if not item.linkId or item.linkId in seen:
            raise InvalidInput(f"{where}.linkId must be present and unique", expression=[f"{where}.linkId"])
        if item.type == "choice" and not item.answerOption:
            raise InvalidInput(f"{where} is a choice without answerOption", expression=[f"{where}.answerOption"])
        for j, cond in enumerate(item.enableWhen):
            if cond.question not in seen:
                raise InvalidInput(
                    f"{where}.enableWhen[{j}] refers to {cond.question!r}, which is not an earlier item",
                    expression=[f"{where}.enableWhen[{j}].question"],
                )
        seen[item.linkId] = item
    parse_rules(questionnaire)  # raises InvalidInput on a malformed rule
    return questionnaire


def _owner(owner_type: str, owner_id: str) -> str:
    if owner_type not in OWNER_TYPES:
        raise NotFound(f"questionnaires belong to a Schedule or a HealthcareService, not {owner_type!r}")
    if not is_valid_id(owner_id):
        raise InvalidInput(f"id {owner_id!r} is not a valid FHIR id")
    return f"{owner_type}/{owner_id}"


def put_questionnaire(change: Change, owner_type: str, owner_id: str, body: bytes) -> dict[str, Any]:
    """Creates or replaces the owner's questionnaire; returns it as stored."""
    owner = _owner(owner_type, owner_id)
    table = t.RESOURCE_TABLES[owner_type]
    if change.conn.execute(select(table.c.id).where(table.c.id == owner_id)).first() is None:
        raise NotFound(f"no {owner}")
    questionnaire = parse_questionnaire(body)
    if questionnaire.id is None:
        questionnaire = msgspec.structs.replace(questionnaire, id=f"{owner_type.lower()}-{owner_id}"[:64])
    text = msgspec.json.encode(questionnaire).decode()
    q = t.questionnaire.c
    if change.conn.execute(select(q.owner).where(q.owner == owner)).first() is None:
        change.conn.execute(t.questionnaire.insert().values(owner=owner, resource=text, last_updated=change.stamp_ms))
    else:
        change.conn.execute(
            update(t.questionnaire).where(q.owner == owner).values(resource=text, last_updated=change.stamp_ms)
        )
    result: dict[str, Any] = orjson.loads(text)
    return result


def read_questionnaire(conn: Connection, owner_type: str, owner_id: str) -> dict[str, Any]:
    owner = _owner(owner_type, owner_id)
    text = conn.execute(select(t.questionnaire.c.resource).where(t.questionnaire.c.owner == owner)).scalar()
    if text is None:
        raise NotFound(f"{owner} has no questionnaire")
    result: dict[str, Any] = orjson.loads(text)
    return result


def delete_questionnaire(change: Change, owner_type: str, owner_id: str) -> None:
    owner = _owner(owner_type, owner_id)
    change.conn.execute(delete(t.questionnaire).where(t.questionnaire.c.owner == owner))


def questionnaire_for_schedule(conn: Connection, schedule_id: str) -> Questionnaire | None:
    """The active questionnaire a slot of this schedule asks (the Schedule's, else its service's)."""
    owners = [f"Schedule/{schedule_id}"]
    resource = conn.execute(select(t.schedule.c.resource).where(t.schedule.c.id == schedule_id)).scalar()
    if resource:
        for actor in orjson.loads(resource).get("actor", []):
            reference = actor.get("reference") or ""
            if reference.startswith("HealthcareService/"):
                owners.append(reference)
    q = t.questionnaire.c
    rows = {row.owner: row.resource for row in conn.execute(select(q.owner, q.resource).where(q.owner.in_(owners)))}
    for owner in owners:
        if owner in rows:
            questionnaire = msgspec.json.decode(rows[owner], type=Questionnaire)
            if questionnaire.status == "active":
                return questionnaire
    return None


# --- answers ---------------------------------------------------------------------------------------


def _compare(answer: Answer, cond: EnableWhen) -> bool:
    if cond.operator == "exists":
        return cond.answerBoolean is not False
    expected: Any
    if cond.answerCoding is not None:
        if not isinstance(answer, QCoding):
            return False
        same = answer.code == cond.answerCoding.code and (
            cond.answerCoding.system is None or answer.system == cond.answerCoding.system
        )
        return same if cond.operator == "=" else (not same if cond.operator == "!=" else False)
    if cond.answerBoolean is not None:
        expected = cond.answerBoolean
    elif cond.answerInteger is not None:
        expected = cond.answerInteger
    elif cond.answerDate is not None:
        expected = date.fromisoformat(cond.answerDate)
    else:
        expected = cond.answerString
    if isinstance(answer, QCoding):
        answer = answer.code or ""
    try:
        match cond.operator:
            case "=":
                return bool(answer == expected)
            case "!=":
                return bool(answer != expected)
            case ">":
                return bool(answer > expected)
            case "<":
                return bool(answer < expected)
            case ">=":
                return bool(answer >= expected)
            case _:
                return bool(answer <= expected)
    except TypeError:
        return False


def enabled(item: Item, answers: Mapping[str, Answer]) -> bool:
    """`enableWhen` of one item against the answers so far (unanswered: only `exists false` holds)."""
    if not item.enableWhen:
        return True
    results = []
    for cond in item.enableWhen:
        answer = answers.get(cond.question)
        if answer is None:
            results.append(cond.operator == "exists" and cond.answerBoolean is False)
        else:
            results.append(_compare(answer, cond))
    return any(results) if item.enableBehavior == "any" else all(results)


@dataclass(slots=True)
class ParsedAnswers:
    answers: dict[str, Answer] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse_answers(questionnaire: Questionnaire, form: Mapping[str, str], birth_date: date | None) -> ParsedAnswers:
    """Reads the form fields `q-<linkId>`; disabled items are dropped, required ones checked."""
    out = ParsedAnswers()
    for item in questionnaire.item:
        if item.type == "display":
            continue
        if not enabled(item, out.answers):
            continue
        if item.is_birth_date:
            if birth_date is not None:
                out.answers[item.linkId] = birth_date
            continue
        raw = (form.get(f"q-{item.linkId}") or "").strip()
        if not raw:
            if item.required:
                out.errors[item.linkId] = _("Please answer this question.")
            continue
        value: Answer | None = None
        match item.type:
            case "boolean":
                value = {"yes": True, "no": False}.get(raw)
            case "integer":
                value = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 10 else None
            case "date":
                try:
                    value = date.fromisoformat(raw)
                except ValueError:
                    value = None
            case "string":
                value = raw[:500]
            case "choice":
                for option in item.answerOption:
                    if _option_key(option) == raw:
                        value = _option_value(option)
        if value is None:
            out.errors[item.linkId] = {
                "integer": _("Please enter a whole number."),
                "date": _("Please enter a date as YYYY-MM-DD."),
            }.get(item.type) or _("Please choose one of the answers.")
            continue
        out.answers[item.linkId] = value
    return out


def _answer_json(value: Answer) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, date):
        return {"valueDate": value.isoformat()}
    if isinstance(value, QCoding):
        return {"valueCoding": msgspec.to_builtins(value)}
    return {"valueString": value}


def response_resource(
    questionnaire: Questionnaire, answers: Mapping[str, Answer], *, authored: str, response_id: str
) -> dict[str, Any]:
    """The answers as a FHIR QuestionnaireResponse (subject: the Appointment's contained patient)."""
    items = []
    for item in questionnaire.item:
        if item.linkId in answers:
            entry: dict[str, Any] = {"linkId": item.linkId, "answer": [_answer_json(answers[item.linkId])]}
            if item.text:
                entry["text"] = item.text
            items.append(entry)
    canonical = questionnaire.url or f"Questionnaire/{questionnaire.id}"
    return {
        "resourceType": "QuestionnaireResponse",
        "id": response_id,
        "questionnaire": canonical,
        "status": "completed",
        "subject": {"reference": "#patient"},
        "authored": authored,
        "item": items,
    }
