"""The admin API's audience settings: who may book a Schedule's or HealthcareService's slots.

They are kept nowhere but in the questionnaire the portal asks (`audience`): setting them rewrites its
deciding questions, then republishes what changed (`resources.refresh_audience`). A Schedule without a
questionnaire of its own asks its service's; setting its audience starts from a copy of that one, so
nothing the service asked is lost.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from sqlalchemy import select

from slotlinks.errors import InvalidInput, NotFound
from slotlinks.provider.portal.questionnaires import put_questionnaire, questionnaire_for_schedule
from slotlinks.provider.records.audience import Audience, owner_audience, with_audience
from slotlinks.provider.records.resources import refresh_audience
from slotlinks.provider.store import tables as t
from slotlinks.provider.store.store import Change

__all__ = ["MAX_AGE", "check_audience", "set_audience"]

#: The oldest age (in whole years) a range may name.
MAX_AGE = 130


def check_audience(audience: Audience) -> Audience:
    """InvalidInput unless the ages are whole years from 0 to `MAX_AGE`, the lower first."""
    for name, value in (("minAge", audience.min_age), ("maxAge", audience.max_age)):
        if value is not None and not 0 <= value <= MAX_AGE:
            raise InvalidInput(f"{name} must be a whole number of years from 0 to {MAX_AGE}", expression=[name])
    if audience.min_age is not None and audience.max_age is not None and audience.min_age > audience.max_age:
        raise InvalidInput("minAge must not be greater than maxAge", expression=["minAge"])
    return audience


def _starting_point(change: Change, owner_type: str, owner_id: str) -> dict[str, Any] | None:
    owner = f"{owner_type}/{owner_id}"
    text = change.conn.execute(select(t.questionnaire.c.resource).where(t.questionnaire.c.owner == owner)).scalar()
    if text is not None:
        return dict(orjson.loads(text))
    if owner_type == "Schedule":
        asked = questionnaire_for_schedule(change.conn, owner_id)
        if asked is not None:
            copy: dict[str, Any] = msgspec.to_builtins(asked)
            copy.pop("id", None)  # its own id, given by put_questionnaire
            return copy
    return None


def set_audience(change: Change, owner_type: str, owner_id: str, audience: Audience) -> Audience:
    """Sets who may book the owner's slots; returns the audience as the portal now applies it."""
    table = t.RESOURCE_TABLES.get(owner_type)
    if owner_type not in ("Schedule", "HealthcareService") or table is None:
        raise NotFound(f"an audience belongs to a Schedule or a HealthcareService, not {owner_type!r}")
    if change.conn.execute(select(table.c.id).where(table.c.id == owner_id)).first() is None:
        raise NotFound(f"no {owner_type} with id {owner_id!r}", expression=[f"{owner_type}.id"])
    check_audience(audience)
    questionnaire = with_audience(_starting_point(change, owner_type, owner_id), audience)
    put_questionnaire(change, owner_type, owner_id, orjson.dumps(questionnaire))
    refresh_audience(change, owner_type, owner_id)
    return owner_audience(change.conn, owner_type, owner_id)
