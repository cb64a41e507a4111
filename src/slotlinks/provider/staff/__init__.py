"""The staff pages: sign-in, today's and upcoming bookings, cancelling on a patient's behalf.

- `auth`: Staff accounts and sessions: who may open the staff pages.
- `bookings`: What staff see and do: today's and upcoming bookings, and cancelling on a patient's behalf.
- `routes`: The staff side of the portal, its admin API, and the limit on patients' booking attempts.

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.provider.staff.auth import (
    delete_staff_user,
    hash_password,
    put_staff_user,
    session_user,
    sign_in,
    sign_out,
    verify_password,
)
from slotlinks.provider.staff.bookings import cancel_for_patient

__all__ = [
    "cancel_for_patient",
    "delete_staff_user",
    "hash_password",
    "put_staff_user",
    "session_user",
    "sign_in",
    "sign_out",
    "verify_password",
]
