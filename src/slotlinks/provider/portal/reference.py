"""Booking references: the short code a patient reads on the confirmation, the cancel page and the
calendar file, and can say on the phone ("K7QM 4ZP2"), in place of the appointment's internal id.

Eight characters from an alphabet without look-alikes (no 0/O, 1/I/L), about 8.5e11 codes: drawn
at random and checked unused inside the booking's own write transaction, whose first statement
serializes writers, so two bookings never share one (the unique index is the last word).
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select

from slotlinks.provider.store import tables as t

__all__ = ["REFERENCE_ALPHABET", "looks_like_reference", "new_reference", "spaced"]

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_LENGTH = 8


def new_reference(conn: Connection) -> str:
    """A reference no appointment has yet."""
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(_LENGTH))
        taken = conn.execute(select(t.appointment.c.id).where(t.appointment.c.reference == reference)).first()
        if taken is None:
            return reference


def looks_like_reference(text: str) -> bool:
    return len(text) == _LENGTH and all(ch in REFERENCE_ALPHABET for ch in text)


def spaced(reference: str) -> str:
    """`K7QM 4ZP2`: two groups of four, easier to read out than eight in a row."""
    return f"{reference[:4]} {reference[4:]}" if len(reference) == _LENGTH else reference
