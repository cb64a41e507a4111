"""A Schedule's patient-facing service name as a column: `feed_schedule.service_name`.

Each search read the Resource of every Schedule it showed and parsed its JSON for the name (its first
serviceType's text, else that type's first display): a statement and a tenth of a search's Python at
10 million slots. Ingest now derives it with the other search keys (ingest/descriptive.py
`service_name`); the Schedules stored before are filled in here, by the same rule.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BATCH = 1000


def _name(resource: str | bytes) -> str | None:
    try:
        concepts = orjson.loads(resource).get("serviceType") or []
    except (orjson.JSONDecodeError, AttributeError):
        return None
    for concept in concepts if isinstance(concepts, list) else []:
        if not isinstance(concept, dict):
            continue
        codings = concept.get("coding") or []
        displays = [c.get("display") for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []
        name = concept.get("text") or next((d for d in displays if isinstance(d, str) and d), None)
        if isinstance(name, str) and name:
            return name
    return None


def upgrade() -> None:
    with op.batch_alter_table("feed_schedule") as batch:
        batch.add_column(sa.Column("service_name", sa.Text(), nullable=True))
    conn = op.get_bind()
    schedule = sa.table("feed_schedule", sa.column("pk", sa.Integer), sa.column("resource", sa.Text))
    named = sa.table("feed_schedule", sa.column("pk", sa.Integer), sa.column("service_name", sa.Text))
    after = 0
    while True:
        rows = conn.execute(
            sa.select(schedule.c.pk, schedule.c.resource)
            .where(schedule.c.pk > after)
            .order_by(schedule.c.pk)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        after = int(rows[-1].pk)
        names: list[dict[str, Any]] = [
            {"b_pk": row.pk, "name": name} for row in rows if (name := _name(row.resource)) is not None
        ]
        if names:
            conn.execute(
                sa.update(named).where(named.c.pk == sa.bindparam("b_pk")).values(service_name=sa.bindparam("name")),
                names,
            )


def downgrade() -> None:
    with op.batch_alter_table("feed_schedule") as batch:
        batch.drop_column("service_name")
