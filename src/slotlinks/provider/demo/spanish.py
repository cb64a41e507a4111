"""Spanish for the demo's questionnaires, so a patient who reads Spanish meets no English question.

Each text a patient sees (the title, each question, each answer, each rule's message) gets FHIR's
translation extension (`http://hl7.org/fhir/StructureDefinition/translation`, `lang` `es`) on its
`_text`, `_display`, `_valueString` or `_title`, which the portal shows on Spanish pages
(`portal.questionnaires.translated`). Applied to the questionnaires as stored, whoever wrote them
(the demo's own, and those `records.audience_store` writes for who can book), so one table covers both.
Demo content, not a clinical translation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select, update

from slotlinks.provider.portal.questionnaires import TRANSLATION
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = ["in_spanish", "spanish_text", "translate_stored_questionnaires"]

_WORDS = {
    "Before your visit": "Antes de su consulta",
    "Before your neurology visit": "Antes de su consulta de neurología",
    "Before your flu vaccine": "Antes de su vacuna contra la gripe",
    "Before your covid-19 vaccine": "Antes de su vacuna contra el COVID-19",
    "Which condition is the visit for?": "¿Por qué afección es la consulta?",
    "Anything else the clinician should know? (optional)": "¿Algo más que el profesional deba saber? (opcional)",
    "Migraine": "Migraña",
    "Epilepsy": "Epilepsia",
    "Multiple sclerosis": "Esclerosis múltiple",
    "Parkinson's disease": "Enfermedad de Parkinson",
    "Peripheral neuropathy": "Neuropatía periférica",
    "Something else": "Otra cosa",
    "For other conditions, our scheduling team will find the right specialist for you.": (
        "Para otras afecciones, nuestro equipo de citas le ayudará a encontrar el especialista adecuado."
    ),
    "Neurology visits need a referral. Your primary care clinician can send one.": (
        "Las consultas de neurología requieren una remisión. Su médico de atención primaria puede enviarla."
    ),
    "Date of birth": "Fecha de nacimiento",
    "Which dose of this vaccine will this be for you this season? (1 for the first)": (
        "¿Qué dosis de esta vacuna será para usted esta temporada? (1 si es la primera)"
    ),
    "Have you ever had a severe allergic reaction to a vaccine?": (
        "¿Alguna vez tuvo una reacción alérgica grave a una vacuna?"
    ),
    "After a severe reaction, a pharmacist should talk with you before your visit.": (
        "Después de una reacción grave, un farmacéutico debe hablar con usted antes de su visita."
    ),
    "Are you already a patient here?": "¿Ya es paciente de esta clínica?",
    "No, I would be a new patient": "No, sería un paciente nuevo",
    "Yes, I am a patient here": "Sí, soy paciente aquí",
    "No, but a member of my family is": "No, pero un familiar mío sí lo es",
    "These appointments are for new patients. Existing patients can book a follow-up visit.": (
        "Estas citas son para pacientes nuevos. Los pacientes actuales pueden reservar una consulta de seguimiento."
    ),
    "These appointments are for patients we already care for.": "Estas citas son para pacientes que ya atendemos.",
    "These appointments are for our patients and members of their families.": (
        "Estas citas son para nuestros pacientes y sus familiares."
    ),
    "These appointments are not open for booking online. Please call us.": (
        "Estas citas no se pueden reservar en línea. Por favor, llámenos."
    ),
    "Do you have a referral for this visit from your clinician?": (
        "¿Tiene una remisión de su médico para esta consulta?"
    ),
    "This visit needs a referral. Your primary care clinician can send one.": (
        "Esta consulta requiere una remisión. Su médico de atención primaria puede enviarla."
    ),
}

_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Children under (\d+) are vaccinated by appointment with a nurse; please call us\."),
        lambda m: f"Los niños menores de {m[1]} años se vacunan con cita con una enfermera; por favor, llámenos.",
    ),
    (
        re.compile(r"This vaccine is given as at most (\d+) doses per season\."),
        lambda m: f"Esta vacuna se aplica en un máximo de {m[1]} dosis por temporada.",
    ),
    (
        re.compile(r"This service is for patients aged (\d+) to (\d+)\."),
        lambda m: f"Este servicio es para pacientes de {m[1]} a {m[2]} años.",
    ),
    (
        re.compile(r"This service is for patients aged (\d+) and over\."),
        lambda m: f"Este servicio es para pacientes de {m[1]} años o más.",
    ),
    (
        re.compile(r"This service is for patients aged (\d+) and under\."),
        lambda m: f"Este servicio es para pacientes de {m[1]} años o menos.",
    ),
]


def spanish_text(text: str) -> str | None:
    """The demo's Spanish for one of its texts, or None when it has none."""
    if text in _WORDS:
        return _WORDS[text]
    for pattern, words in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return words(match)
    return None


def _with_translation(node: dict[str, Any], key: str) -> None:
    text = node.get(key)
    spanish = spanish_text(text) if isinstance(text, str) else None
    if spanish is None:
        return
    extension = {
        "url": TRANSLATION,
        "extension": [{"url": "lang", "valueCode": "es"}, {"url": "content", "valueString": spanish}],
    }
    node[f"_{key}"] = {"extension": [extension]}


def in_spanish(questionnaire: dict[str, Any]) -> dict[str, Any]:
    """`questionnaire` (FHIR JSON) with Spanish translations on every text the demo has Spanish for."""
    _with_translation(questionnaire, "title")
    for item in questionnaire.get("item", []):
        _with_translation(item, "text")
        for option in item.get("answerOption", []):
            _with_translation(option, "valueString")
            if isinstance(option.get("valueCoding"), dict):
                _with_translation(option["valueCoding"], "display")
    for rule in questionnaire.get("extension", []):
        for part in rule.get("extension", []):
            if part.get("url") == "message":
                _with_translation(part, "valueString")
    return questionnaire


def translate_stored_questionnaires(change: Change) -> int:
    """Adds the Spanish to every stored questionnaire; returns how many changed."""
    q = t.questionnaire.c
    changed = 0
    for row in change.conn.execute(select(q.owner, q.resource)).all():
        resource = in_spanish(orjson.loads(row.resource))
        text = orjson.dumps(resource).decode()
        if text != row.resource:
            change.conn.execute(
                update(t.questionnaire).where(q.owner == row.owner).values(resource=text, last_updated=change.stamp_ms)
            )
            changed += 1
    return changed
