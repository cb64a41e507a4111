"""The alerts' two messages, as plain text e-mail: "please confirm" and "times opened".

Every message carries the alert's unsubscribe link in its body and as RFC 8058 one-click
unsubscribe headers (`List-Unsubscribe` with that https/http URL, `List-Unsubscribe-Post:
List-Unsubscribe=One-Click`), and says when the alert ends. `Auto-Submitted: auto-generated`
(RFC 3834) keeps vacation responders from answering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.alerts.store import UNCONFIRMED_DAYS

__all__ = ["compose", "confirmation_message", "describe", "end_date", "matches_message"]


def describe(criteria: Mapping[str, str]) -> str:
    """The alert's search in words: "primary care within 10mi of 02114, from 2026-11-25 to 2026-11-30"."""
    what = criteria.get("service") or criteria.get("specialty") or criteria.get("vaccine") or "appointments"
    words = [what]
    if criteria.get("vaccine") and what != criteria["vaccine"]:
        words.append(f"(vaccine {criteria['vaccine']})")
    if criteria.get("near"):
        words.append(f"within {criteria.get('radius') or '25mi'} of {criteria['near']}")
    if criteria.get("virtual") == "true":
        words.append("by video")
    elif criteria.get("virtual") == "false":
        words.append("in person")
    for name, label in (("practitioner", "with"), ("organization", "at"), ("publisher", "from")):
        if criteria.get(name):
            words.append(f"{label} {criteria[name]}")
    if criteria.get("from"):
        words.append(f"from {criteria['from']}")
    if criteria.get("to"):
        words.append(f"until {criteria['to']}")
    return " ".join(words)


def end_date(expires_ms: int, tz: str) -> str:
    """The alert's last day, as a date a person reads ("December 24, 2026")."""
    try:
        zone = ZoneInfo(tz)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    moment = datetime.fromtimestamp(expires_ms / 1000, UTC).astimezone(zone)
    return f"{moment:%B} {moment.day}, {moment.year}"


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
    body = (
        f"Someone, we hope you, asked {site} to e-mail this address when an appointment time opens for\n"
        f"{describe(criteria)}.\n\n"
        f"To start the alert, open this link and press Confirm:\n{confirm}\n\n"
        "If you did not ask for this, ignore this message: nothing more will be sent, and the request\n"
        f"is deleted within {UNCONFIRMED_DAYS} days.\n\n"
        f"Once confirmed, the alert ends on {ends}.\n"
        f"To cancel it now: {unsubscribe}\n"
    )
    return compose(
        sender=sender, to=to, subject="Please confirm your appointment alert", body=body, unsubscribe=unsubscribe
    )


def _line(number: int, match: Match) -> str:
    where = ", ".join(part for part in (match.location, match.place) if part)
    if match.distance_miles is not None:
        where += f" ({match.distance_miles:.1f} miles)"
    lines = [f"{number}. {match.when} at {where}"]
    if match.service:
        lines.append(f"   {match.service}")
    lines.append(f"   Book: {match.link}")
    return "\n".join(lines)


def matches_message(
    *,
    sender: str,
    to: str,
    criteria: Mapping[str, str],
    matches: Sequence[Match],
    unsubscribe: str,
    ends: str,
    period_minutes: int,
) -> EmailMessage:
    """One message with the best new times of one alert."""
    count = len(matches)
    times = "time" if count == 1 else "times"
    cadence = f"at most one message every {period_minutes} minutes, and " if period_minutes >= 1 else ""
    body = (
        f"{count} new open {times} matching your alert for {describe(criteria)}:\n\n"
        + "\n\n".join(_line(i, m) for i, m in enumerate(matches, start=1))
        + "\n\nTimes go quickly. If one is taken when you follow its link, the page offers others.\n"
        f"You get {cadence}never the same time twice.\n\n"
        f"This alert ends on {ends}.\n"
        f"To stop these messages now: {unsubscribe}\n"
    )
    subject = f"{count} new appointment {times}: {describe(criteria)}"[:150]
    return compose(sender=sender, to=to, subject=subject, body=body, unsubscribe=unsubscribe)
