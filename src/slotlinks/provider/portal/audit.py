"""The portal's audit log: one row per hold, booking and cancellation (and refused or released hold),
written inside the transaction that makes the change it records."""

from __future__ import annotations

from sqlalchemy import Connection

from slotlinks.provider.store import tables as t

__all__ = ["audit"]


def audit(
    conn: Connection,
    *,
    at_ms: int,
    action: str,
    slot_id: str | None = None,
    hold_id: str | None = None,
    appointment_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Appends one entry (`action` e.g. `hold`, `hold-refused`, `book`, `cancel`, `release`, `expire`).
    Never patient-identifying: ids and reasons only."""
    conn.execute(
        t.audit_log.insert().values(
            at_ms=at_ms,
            action=action,
            slot_id=slot_id,
            hold_id=hold_id,
            appointment_id=appointment_id,
            detail=detail,
        )
    )
