"""The alerts' two messages, as plain text e-mail: "please confirm" and "times opened", in the
language the alert was asked in (the caller speaks it: `web.i18n.speaking`).

Every message carries the alert's unsubscribe link in its body and as RFC 8058 one-click
unsubscribe headers (`List-Unsubscribe` with that https/http URL, `List-Unsubscribe-Post:
List-Unsubscribe=One-Click`), and says when the alert ends. `Auto-Submitted: auto-generated`
(RFC 3834) keeps vacation responders from answering.

Every message with news, an alert's or an earlier-time offer's (whose words are in offer_text.py),
is laid out by `news_message`: the kind's `News` says what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal

from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.alerts.store import UNCONFIRMED_DAYS
from slotlinks.web.i18n import current_language, gettext_for

__all__ = ["News", "alert_news", "compose", "confirmation_message", "describe", "end_date", "news_message"]

_ = gettext_for("slotlinks.discovery")


def describe(criteria: Mapping[str, str]) -> str:
    """The alert's search in words: "primary care within 10mi of 02114, from 2026-11-25 until 2026-11-30"."""
    what = criteria.get("service") or criteria.get("specialty") or criteria.get("vaccine") or _("appointments")
    words = [what]
    if criteria.get("vaccine") and what != criteria["vaccine"]:
        words.append(_("(vaccine %(vaccine)s)", vaccine=criteria["vaccine"]))
    if criteria.get("near"):
        words.append(
            _("within %(radius)s of %(place)s", radius=criteria.get("radius") or "25mi", place=criteria["near"])
        )
    if criteria.get("virtual") == "true":
        words.append(_("by video"))
    elif criteria.get("virtual") == "false":
        words.append(_("in person"))
    if criteria.get("practitioner"):
        words.append(_("with %(name)s", name=criteria["practitioner"]))
    if criteria.get("organization"):
        words.append(_("at %(name)s", name=criteria["organization"]))
    if criteria.get("publisher"):
        words.append(_("from %(name)s", name=criteria["publisher"]))
    if criteria.get("from"):
        words.append(_("from %(date)s", date=criteria["from"]))
    if criteria.get("to"):
        words.append(_("until %(date)s", date=criteria["to"]))
    return " ".join(words)


def end_date(expires_ms: int, tz: str) -> str:
    """The alert's last day, as a date a person reads ("December 24, 2026", "24 de diciembre de 2026")."""
    try:
        zone = ZoneInfo(tz)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    moment = datetime.fromtimestamp(expires_ms / 1000, UTC).astimezone(zone)
    return format_date(moment, "long", locale=current_language())


def compose(*, sender: str, to: str, subject: str, body: str, unsubscribe: str) -> EmailMessage:
    """An alert's message with the headers every one carries (the module docstring)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    return message


def confirmation_message(
    *, sender: str, to: str, criteria: Mapping[str, str], site: str, confirm: str, unsubscribe: str, ends: str
) -> EmailMessage:
    """The only message an unconfirmed alert ever sends (double opt-in)."""
    body = _(
        "Someone, we hope you, asked %(site)s to e-mail this address when an appointment time opens for\n"
        "%(search)s.\n\n"
        "To start the alert, open this link and press Confirm:\n%(confirm)s\n\n"
        "If you did not ask for this, ignore this message: nothing more will be sent, and the request\n"
        "is deleted within %(days)s days.\n\n"
        "Once confirmed, the alert ends on %(ends)s.\n"
        "To cancel it now: %(unsubscribe)s\n",
        site=site,
        search=describe(criteria),
        confirm=confirm,
        days=UNCONFIRMED_DAYS,
        ends=ends,
        unsubscribe=unsubscribe,
    )
    subject = _("Please confirm your appointment alert")
    return compose(sender=sender, to=to, subject=subject, body=body, unsubscribe=unsubscribe)


def _where(number: int, match: Match) -> str:
    where = ", ".join(part for part in (match.location, match.place) if part)
    if match.distance_miles is not None:
        where += " " + _(
            "(%(miles)s miles)", miles=format_decimal(round(match.distance_miles, 1), locale=current_language())
        )
    return _("%(number)s. %(when)s at %(where)s", number=number, when=match.when, where=where)


def _closing(*, ends_line: str, unsubscribe: str, period_minutes: int) -> str:
    """The lines that close every message with news: times go quickly, how often the patient hears
    from it, when it ends (`ends_line`), and the link to stop it."""
    if period_minutes >= 1:
        cadence = _(
            "You get at most one message every %(minutes)s minutes, and never the same time twice.",
            minutes=period_minutes,
        )
    else:
        cadence = _("You never get the same time twice.")
    times_go = _("Times go quickly. If one is taken when you follow its link, the page offers others.")
    stop = _("To stop these messages now: %(link)s", link=unsubscribe)
    return f"{times_go}\n{cadence}\n\n{ends_line}\n{stop}\n"


@dataclass(frozen=True, slots=True)
class News:
    """What one kind of message with news says in its own words (an alert's, an earlier-time
    offer's); `news_message` lays them out around the times, the same for every kind."""

    subject: str
    opening: str
    #: Each time's first line, from its number in the message; its service and link follow.
    heading: Callable[[int, Match], str]
    ends_line: str
    #: A paragraph between the times and the closing lines, if the kind has one.
    aside: str = ""


def news_message(
    *, sender: str, to: str, news: News, matches: Sequence[Match], unsubscribe: str, period_minutes: int
) -> EmailMessage:
    """One message with `matches`, the new times of one alert, in the words of `news`."""
    entries = []
    for number, match in enumerate(matches, start=1):
        lines = [news.heading(number, match)]
        if match.service:
            lines.append(f"   {match.service}")
        lines.append("   " + _("Book: %(link)s", link=match.link))
        entries.append("\n".join(lines))
    aside = f"{news.aside}\n\n" if news.aside else ""
    ending = _closing(ends_line=news.ends_line, unsubscribe=unsubscribe, period_minutes=period_minutes)
    body = news.opening + "\n\n" + "\n\n".join(entries) + "\n\n" + aside + ending
    return compose(sender=sender, to=to, subject=news.subject[:150], body=body, unsubscribe=unsubscribe)


def alert_news(*, criteria: Mapping[str, str], count: int, ends: str) -> News:
    """The words of an alert's message with `count` new times (`ends`: its last day, `end_date`)."""
    search = describe(criteria)
    if count == 1:
        opening = _("1 new open time matching your alert for %(search)s:", search=search)
        subject = _("1 new appointment time: %(search)s", search=search)
    else:
        opening = _("%(count)s new open times matching your alert for %(search)s:", count=count, search=search)
        subject = _("%(count)s new appointment times: %(search)s", count=count, search=search)
    return News(
        subject=subject, opening=opening, heading=_where, ends_line=_("This alert ends on %(ends)s.", ends=ends)
    )
