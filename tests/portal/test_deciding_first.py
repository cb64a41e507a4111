"""The deciding questions first (issue 13), over HTTP on SQLite and PostgreSQL: an ineligible patient
is stopped before any field for a name, a date of birth or contact details is ever sent; an eligible
one goes on, on the same hold, to the details; an age rule asks the date of birth first and once;
a repeated first step lands on the same hold; the deep link's query pre-answers nothing."""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import func, select

from slotlinks.provider.demo.questionnaires import neurology_questionnaire
from slotlinks.provider.portal.eligibility import ELIGIBILITY_RULE
from slotlinks.provider.portal.questionnaires import put_questionnaire
from slotlinks.provider.records.audience import Audience, with_audience
from slotlinks.provider.store import tables as t
from tests.portal.conftest import PATIENT, Browser, Portal, first_schedule, make_slot

IDENTITY = re.compile(r'<input[^>]* name="(name|phone|email|birthDate[-a-z]*)"')
CONTACT = re.compile(r'<input[^>]* name="(name|phone|email)"')
MIGRAINE = "http://snomed.info/sct|37796009"
DETAILS = {k: v for k, v in PATIENT.items() if k != "birthDate"}


def _asking(portal: Portal, questionnaire: dict[str, Any]) -> str:
    """A fresh slot whose schedule asks `questionnaire`."""
    schedule_id = first_schedule(portal.store)
    with portal.store.change() as change:
        put_questionnaire(change, "Schedule", schedule_id, orjson.dumps(questionnaire))
    return make_slot(portal.store, 1, schedule_id=schedule_id)


def _holds(portal: Portal) -> list[str]:
    with portal.store.read() as conn:
        return list(conn.execute(select(t.hold.c.state).order_by(t.hold.c.created_ms)).scalars())


def _appointments(portal: Portal) -> list[dict[str, Any]]:
    with portal.store.read() as conn:
        return [orjson.loads(r) for r in conn.execute(select(t.appointment.c.resource)).scalars()]


def _outcome(portal: Portal, referral: str) -> tuple[str, str | None]:
    with portal.store.read() as conn:
        row = conn.execute(select(t.referral.c.outcome, t.referral.c.reason).where(t.referral.c.id == referral)).one()
    return row.outcome, row.reason


def _rule(item: str, *requirements: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": ELIGIBILITY_RULE,
        "extension": [
            {"url": "item", "valueString": item},
            *requirements,
            {"url": "unmet", "valueCode": "not-eligible"},
            {"url": "message", "valueString": "Please see a clinician in person first."},
        ],
    }


def test_an_ineligible_patient_is_stopped_before_giving_any_personal_data(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser:
        first = browser.land_and_hold(slot_id, referral="ref-stop")
        assert first.status_code == 200
        assert "A few questions first" in first.text
        assert "Do you have a referral" in first.text
        assert IDENTITY.search(first.text) is None, "no identity field before the deciding answers"
        stopped = browser.submit(action="screen", **{"q-referral": "no"})
        assert "We can't book this appointment online" in stopped.text
        assert "Neurology visits need a referral" in stopped.text
        assert "tel:" in stopped.text, "the way forward: call the clinic"
        assert IDENTITY.search(stopped.text) is None
    assert _holds(portal) == ["released"]
    assert _appointments(portal) == []
    assert _outcome(portal, "ref-stop") == ("called-off", "ineligible")


def test_the_first_step_wants_its_answers_and_still_asks_nothing_personal(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        again = browser.submit(action="screen", **PATIENT)
        assert again.status_code == 422
        assert 'id="q-referral-error"' in again.text
        assert "A few questions first" in again.text
        assert IDENTITY.search(again.text) is None
        # Yes to the referral enables the diagnosis question, which is deciding too (needs a call).
        missing = browser.submit(action="screen", **{"q-referral": "yes"})
        assert missing.status_code == 422
        assert 'id="q-diagnosis-error"' in missing.text
        assert 'value="yes" checked' in missing.text
    assert _holds(portal) == ["active"]


def test_an_eligible_patient_goes_on_to_the_details_on_the_same_hold_and_books(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser:
        first = browser.land_and_hold(slot_id, referral="ref-go")
        hold_path = first.url.path
        details = browser.submit(action="screen", **{"q-referral": "yes", "q-diagnosis": MIGRAINE})
        assert details.status_code == 200, details.text
        assert details.url.path == hold_path
        assert "Almost done" in details.text
        assert CONTACT.search(details.text) is not None
        assert 'id="birthDate-month"' in details.text, "no age rule: the date of birth is asked with the details"
        # The deciding answers are not asked again: shown, and carried in the form.
        assert 'type="radio" name="q-referral"' not in details.text
        assert '<input type="hidden" name="q-referral" value="yes">' in details.text
        assert "<dd>Migraine</dd>" in details.text
        assert 'name="q-notes"' in details.text, "the other questions come with the details"
        assert _holds(portal) == ["active"]
        done = browser.submit(action="book", **PATIENT, **{"q-notes": "Worse in the mornings"})
        assert "You're booked" in done.text
    assert _outcome(portal, "ref-go") == ("booked", None)
    with portal.store.read() as conn:
        response = orjson.loads(conn.execute(select(t.appointment.c.questionnaire_response)).scalar_one())
    answers = {i["linkId"]: i["answer"][0] for i in response["item"]}
    assert answers["referral"] == {"valueBoolean": True}
    assert answers["diagnosis"]["valueCoding"]["code"] == "37796009"
    assert answers["notes"] == {"valueString": "Worse in the mornings"}


def test_a_changed_carried_answer_is_decided_again_and_cannot_book(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        browser.submit(action="screen", **{"q-referral": "yes", "q-diagnosis": MIGRAINE})
        page = browser.submit(action="book", **PATIENT, **{"q-referral": "no", "q-diagnosis": MIGRAINE})
        assert "We can't book this appointment online" in page.text
    assert _appointments(portal) == []
    assert _holds(portal) == ["released"]


def test_change_my_answers_goes_back_to_the_first_step_as_answered(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        browser.submit(action="screen", **{"q-referral": "yes", "q-diagnosis": MIGRAINE})
        back = browser.submit(action="change", **{"q-referral": "yes", "q-diagnosis": MIGRAINE})
        assert "A few questions first" in back.text
        assert 'value="yes" checked' in back.text
        assert f'value="{MIGRAINE}" checked' in back.text
        assert IDENTITY.search(back.text) is None
    assert _holds(portal) == ["active"]


def test_the_deciding_questions_come_from_the_rules_coded_or_not(portal: Portal) -> None:
    # A provider's own rule on an uncoded question, enabled by another question: both come first;
    # a question no rule reads waits for the details.
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Before your visit",
        "item": [
            {"linkId": "pets", "type": "string", "text": "Do you have pets at home?"},
            {"linkId": "travel", "type": "boolean", "required": True, "text": "Have you travelled abroad lately?"},
            {
                "linkId": "fever",
                "type": "boolean",
                "required": True,
                "text": "Have you had a fever since?",
                "enableWhen": [{"question": "travel", "operator": "=", "answerBoolean": True}],
            },
        ],
        "extension": [_rule("fever", {"url": "equals", "valueBoolean": False})],
    }
    slot_id = _asking(portal, questionnaire)
    with Browser(portal.origin) as browser:
        first = browser.land_and_hold(slot_id)
        assert 'name="q-travel"' in first.text
        assert 'name="q-fever"' in first.text
        assert 'name="q-pets"' not in first.text
        details = browser.submit(action="screen", **{"q-travel": "no"})
        assert "Almost done" in details.text
        assert 'name="q-pets"' in details.text
        assert 'name="q-fever"' not in details.text, "switched off by the first answers: not carried"
        with Browser(portal.origin) as other:
            other.land_and_hold(make_slot(portal.store, 1, "other-slot", first_schedule(portal.store)))
            stopped = other.submit(action="screen", **{"q-travel": "yes", "q-fever": "yes"})
            assert "Please see a clinician in person first." in stopped.text


def _paediatrics() -> dict[str, Any]:
    return with_audience(None, Audience(min_age=0, max_age=17))


def test_an_age_rule_asks_the_date_of_birth_first_and_only_once(portal: Portal) -> None:
    slot_id = _asking(portal, _paediatrics())
    with Browser(portal.origin) as adult:
        first = adult.land_and_hold(slot_id, referral="ref-adult")
        assert 'id="birthDate-month"' in first.text
        assert CONTACT.search(first.text) is None
        wrong = adult.submit(action="screen", birthDate="2030-01-01")
        assert wrong.status_code == 422
        assert 'id="birthDate-error"' in wrong.text
        stopped = adult.submit(action="screen", birthDate="1980-12-10")
        assert "This service is for patients aged 0 to 17." in stopped.text
        assert IDENTITY.search(stopped.text) is None
    assert _outcome(portal, "ref-adult") == ("called-off", "ineligible")
    with Browser(portal.origin) as parent:
        # Seventeen on the visit day (November 25, 2026): eligible.
        parent.land_and_hold(slot_id)
        details = parent.submit(action="screen", birthDate="2008-11-26")
        assert "Almost done" in details.text
        assert 'id="birthDate-month"' not in details.text, "asked once"
        assert '<input type="hidden" name="birthDate" value="2008-11-26">' in details.text
        assert "November 26, 2008" in details.text
        done = parent.submit(action="book", name="Sam Lovelace", phone="617-555-0101")
        assert "You're booked" in done.text
    (appointment,) = _appointments(portal)
    assert appointment["contained"][0]["birthDate"] == "2008-11-26"


def test_the_deep_link_query_pre_answers_nothing(portal: Portal) -> None:
    slot_id = _asking(portal, with_audience(neurology_questionnaire(), Audience(referral=True, max_age=17)))
    query = {"referral": "yes", "q-referral": "yes", "birthDate": "2015-01-01", "age": "7", "no-referral": "true"}
    with Browser(portal.origin) as browser:
        landing = browser.get(f"/book/{slot_id}", source="finder", **query)
        assert "2015-01-01" not in landing.text  # the language switch carries only the flow's own names
        first = browser.submit(source="finder")
        assert "A few questions first" in first.text
        assert " checked" not in first.text
        assert 'id="birthDate-year" name="birthDate-year" type="text" inputmode="numeric" maxlength="4"' in first.text
        assert 'value="2015"' not in first.text
        # A first step that leaves them out is asked again, whatever the link said.
        again = browser.submit(action="screen")
        assert again.status_code == 422
        assert 'id="q-referral-error"' in again.text
        assert 'id="birthDate-error"' in again.text


def test_a_repeated_first_step_lands_on_the_same_hold(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    answers = {"action": "screen", "q-referral": "yes", "q-diagnosis": MIGRAINE}
    with Browser(portal.origin) as browser:
        browser.land_and_hold(slot_id)
        data = {"csrf": browser.csrf, **answers}
        pages = [browser.client.post(browser.action, data=data) for _ in range(2)]
        assert [p.status_code for p in pages] == [200, 200]
        assert all("Almost done" in p.text for p in pages)
        assert _holds(portal) == ["active"]
        browser.page = pages[1]
        done = browser.submit(action="book", **PATIENT)
        assert "You're booked" in done.text
    assert len(_appointments(portal)) == 1
    # An ineligible first step sent twice: the same answer both times, one release.
    with Browser(portal.origin) as other:
        other.land_and_hold(make_slot(portal.store, 1, "second-slot", first_schedule(portal.store)))
        data = {"csrf": other.csrf, "action": "screen", "q-referral": "no"}
        twice = [other.client.post(other.action, data=data) for _ in range(2)]
        assert all("We can't book this appointment online" in p.text for p in twice)
    with portal.store.read() as conn:
        query = select(func.count()).select_from(t.audit_log).where(t.audit_log.c.action == "release")
        assert conn.execute(query).scalar_one() == 1


def test_the_first_step_checks_csrf_and_the_browser(portal: Portal) -> None:
    slot_id = _asking(portal, neurology_questionnaire())
    with Browser(portal.origin) as browser, Browser(portal.origin) as attacker:
        landing = browser.get(f"/book/{slot_id}")
        landing_token = browser.csrf
        browser.page = landing
        held = browser.submit()
        hold_path = held.url.path
        no = {"action": "screen", "q-referral": "no"}
        assert browser.client.post(hold_path, data=no).status_code == 403
        assert browser.client.post(hold_path, data={"csrf": "forged", **no}).status_code == 403
        assert browser.client.post(hold_path, data={"csrf": landing_token, **no}).status_code == 403
        attacker.get(f"/book/{slot_id}")
        refused = attacker.client.post(hold_path, data={"csrf": browser.csrf, **no})
        assert refused.status_code == 403
        assert "We can't book" not in refused.text
    assert _holds(portal) == ["active"], "a refused form releases nothing"
