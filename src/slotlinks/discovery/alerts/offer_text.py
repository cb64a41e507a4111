"""The earlier-time offer's words, in one place and in full sentences (for the translation to come):
its two messages, and what its pages say. The form on "my referrals" is `_earlier_offer.html`.

Every message says plainly that the current appointment stays booked until the patient cancels it
with the provider: following a link books another time, it cancels nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage

from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.alerts.messages import compose
from slotlinks.discovery.alerts.store import UNCONFIRMED_DAYS
from slotlinks.discovery.search.calendar import spoken_time

__all__ = [
    "ALREADY_ASKED",
    "NOT_BOOKED",
    "NOT_YOURS",
    "NO_LONGER_PUBLISHED",
    "SENT_HEADING",
    "STAYS",
    "TIME_PASSED",
    "earlier_message",
    "offer_confirmation_message",
    "offer_sent",
]

STAYS = "Your current appointment stays booked until you cancel it with the provider."
NOT_YOURS = "We cannot find this booking among the referrals of this browser. Please open My referrals and try again."
NOT_BOOKED = "Only a booked appointment can have an earlier-time offer."
TIME_PASSED = "This appointment's time has passed, so there is no earlier time to look for."
NO_LONGER_PUBLISHED = (
    "The provider no longer publishes this appointment's place or service, so we cannot look for an earlier time."
)
ALREADY_ASKED = "You already asked for earlier times for this appointment. Every message has a link to stop the offer."
SENT_HEADING = "Check your e-mail"


def _place(criteria: Mapping[str, str]) -> str:
    return criteria.get("place") or "the same place"


def _booked(criteria: Mapping[str, str]) -> str:
    booked = criteria.get("booked")
    return spoken_time(booked, criteria.get("tz") or "UTC") if booked else "your booked time"


def offer_sent(email: str, ends: str) -> str:
    """What the page says once the offer's confirmation is sent."""
    return (
        f"We sent a message to {email}. Open its link and press Confirm to start the offer; until then nothing "
        f"else is sent. The offer ends on {ends} at the latest. {STAYS}"
    )


def offer_confirmation_message(
    *, sender: str, to: str, criteria: Mapping[str, str], site: str, confirm: str, unsubscribe: str, ends: str
) -> EmailMessage:
    """The only message an unconfirmed offer ever sends (double opt-in)."""
    body = (
        f"Someone, we hope you, asked {site} to e-mail this address if an earlier time opens at\n"
        f"{_place(criteria)} for the same service as the appointment booked for {_booked(criteria)}.\n\n"
        f"To start the offer, open this link and press Confirm:\n{confirm}\n\n"
        "If you did not ask for this, ignore this message: nothing more will be sent, and the request\n"
        f"is deleted within {UNCONFIRMED_DAYS} days.\n\n"
        f"{STAYS}\n\n"
        f"Once confirmed, the offer ends on {ends} at the latest, or when the appointment is cancelled.\n"
        f"To cancel it now: {unsubscribe}\n"
    )
    return compose(
        sender=sender,
        to=to,
        subject="Please confirm: tell me if an earlier time opens",
        body=body,
        unsubscribe=unsubscribe,
    )


def _line(number: int, match: Match) -> str:
    lines = [f"{number}. {match.when}"]
    if match.service:
        lines.append(f"   {match.service}")
    lines.append(f"   Book: {match.link}")
    return "\n".join(lines)


def earlier_message(
    *,
    sender: str,
    to: str,
    criteria: Mapping[str, str],
    matches: Sequence[Match],
    unsubscribe: str,
    ends: str,
    period_minutes: int,
) -> EmailMessage:
    """One message with the earliest new times before the booked one."""
    count = len(matches)
    place = _place(criteria)
    opened = "An earlier time opened" if count == 1 else f"{count} earlier times opened"
    cadence = f"at most one message every {period_minutes} minutes, and " if period_minutes >= 1 else ""
    body = (
        f"{opened} at {place}, before your appointment on {_booked(criteria)}:\n\n"
        + "\n\n".join(_line(i, m) for i, m in enumerate(matches, start=1))
        + f"\n\n{STAYS} Booking a time above does not cancel it for you.\n\n"
        "Times go quickly. If one is taken when you follow its link, the page offers others.\n"
        f"You get {cadence}never the same time twice.\n\n"
        f"This offer ends on {ends} at the latest, or when the appointment is cancelled.\n"
        f"To stop these messages now: {unsubscribe}\n"
    )
    subject = f"{opened} at {place}"[:150]
    return compose(sender=sender, to=to, subject=subject, body=body, unsubscribe=unsubscribe)
