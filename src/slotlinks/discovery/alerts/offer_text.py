"""The earlier-time offer's words, in one place and in full sentences, in the alert's language:
its confirmation message, its news' words (`messages.news_message` lays them out), and what its
pages say. The form on "my referrals" is `_earlier_offer.html`.

Every message says plainly that the current appointment stays booked until the patient cancels it
with the provider: following a link books another time, it cancels nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage

from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.alerts.messages import News, compose
from slotlinks.discovery.alerts.store import UNCONFIRMED_DAYS
from slotlinks.web.i18n import N_, gettext_for
from slotlinks.web.timetext import in_zone, moment_text

__all__ = [
    "ALREADY_ASKED",
    "NOT_BOOKED",
    "NOT_YOURS",
    "NO_LONGER_PUBLISHED",
    "SENT_HEADING",
    "STAYS",
    "TIME_PASSED",
    "earlier_news",
    "offer_confirmation_message",
    "offer_sent",
]

_ = gettext_for("slotlinks.discovery")

# Marked here, translated where shown (the pages' error handler translates an error's message).
STAYS = N_("Your current appointment stays booked until you cancel it with the provider.")
NOT_YOURS = N_("We cannot find this booking among the bookings of this browser. Please open My bookings and try again.")
NOT_BOOKED = N_("Only a booked appointment can have an earlier-time offer.")
TIME_PASSED = N_("This appointment's time has passed, so there is no earlier time to look for.")
NO_LONGER_PUBLISHED = N_(
    "The provider no longer publishes this appointment's place or service, so we cannot look for an earlier time."
)
ALREADY_ASKED = N_(
    "You already asked for earlier times for this appointment. Every message has a link to stop the offer."
)
SENT_HEADING = N_("Check your e-mail")


def _place(criteria: Mapping[str, str]) -> str:
    return criteria.get("place") or _("the same place")


def _booked(criteria: Mapping[str, str]) -> str:
    booked = criteria.get("booked")
    return moment_text(in_zone(booked, criteria.get("tz") or "UTC")) if booked else _("your booked time")


def offer_sent(email: str, ends: str) -> str:
    """What the page says once the offer's confirmation is sent."""
    return (
        _(
            "We sent a message to %(email)s. Open its link and press Confirm to start the offer; until then nothing "
            "else is sent. The offer ends on %(ends)s at the latest.",
            email=email,
            ends=ends,
        )
        + " "
        + _(STAYS)
    )


def offer_confirmation_message(
    *, sender: str, to: str, criteria: Mapping[str, str], site: str, confirm: str, unsubscribe: str, ends: str
) -> EmailMessage:
    """The only message an unconfirmed offer ever sends (double opt-in)."""
    body = _(
        "Someone, we hope you, asked %(site)s to e-mail this address if an earlier time opens at\n"
        "%(place)s for the same service as the appointment booked for %(booked)s.\n\n"
        "To start the offer, open this link and press Confirm:\n%(confirm)s\n\n"
        "If you did not ask for this, ignore this message: nothing more will be sent, and the request\n"
        "is deleted within %(days)s days.\n\n"
        "%(stays)s\n\n"
        "Once confirmed, the offer ends on %(ends)s at the latest, or when the appointment is cancelled.\n"
        "To cancel it now: %(unsubscribe)s\n",
        site=site,
        place=_place(criteria),
        booked=_booked(criteria),
        confirm=confirm,
        days=UNCONFIRMED_DAYS,
        stays=_(STAYS),
        ends=ends,
        unsubscribe=unsubscribe,
    )
    subject = _("Please confirm: tell me if an earlier time opens")
    return compose(sender=sender, to=to, subject=subject, body=body, unsubscribe=unsubscribe)


def _when(number: int, match: Match) -> str:
    return f"{number}. {match.when}"


def earlier_news(*, criteria: Mapping[str, str], count: int, ends: str) -> News:
    """The words of an offer's message with `count` earliest new times before the booked one."""
    place = _place(criteria)
    opened = (
        _("An earlier time opened at %(place)s", place=place)
        if count == 1
        else _("%(count)s earlier times opened at %(place)s", count=count, place=place)
    )
    return News(
        subject=opened,
        opening=_("%(opened)s, before your appointment on %(booked)s:", opened=opened, booked=_booked(criteria)),
        heading=_when,
        ends_line=_("This offer ends on %(ends)s at the latest, or when the appointment is cancelled.", ends=ends),
        aside=_(STAYS) + " " + _("Booking a time above does not cancel it for you."),
    )
