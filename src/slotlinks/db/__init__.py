"""Database engines and schema migrations, one code path for SQLite and PostgreSQL.

- `engine`: Database engines for SQLite (embedded default) and PostgreSQL (scale-out), one code path for both.
- `migrate`: Schema migrations (Alembic), run by `slotlinks db upgrade` and on first use of a new database.
"""

from __future__ import annotations

from slotlinks.db.engine import make_engine, reading, stream_tuples, writing, writing_on
from slotlinks.db.migrate import upgrade

__all__ = ["make_engine", "reading", "stream_tuples", "upgrade", "writing", "writing_on"]
