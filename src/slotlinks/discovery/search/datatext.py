"""Words the search's data carries, in the page's language: the who-can-book badges (`audience`) and
how fresh a publisher's data is (`freshness.describe_age`).

The JSON API and the CLI keep them in English, as made; a page shows them through these filters.
Text no pattern here knows is shown as it is.
"""

from __future__ import annotations

import re

from babel import Locale

from slotlinks.discovery.search.audience import parse_language
from slotlinks.web.i18n import N_, current_language, gettext_for, translations

__all__ = ["audience_words", "freshness_words"]

_ = gettext_for("slotlinks.discovery")

_FIXED = {
    text: text
    for text in (
        N_("New patients welcome"),
        N_("Existing patients only"),
        N_("Existing patients and their families only"),
        N_("Not accepting patients"),
        N_("Who can book: not stated"),
        N_("Referral: not stated"),
        N_("Referral needed"),
        N_("No referral needed"),
    )
}
_AGES = re.compile(r"^Ages (\d+)\u2013(\d+)$")
_OVER = re.compile(r"^Ages (\d+) and over$")
_UNDER = re.compile(r"^Ages (\d+) and under$")
_SPEAKS = re.compile(r"^Speaks (.+)$")
_AGO = re.compile(r"^as of (\d+) (day|hour|minute)s? ago$")


def _language_name(english: str) -> str:
    code = parse_language(english)
    if code is None:
        return english
    name = Locale.parse(current_language()).languages.get(code.split("-")[0])
    return name or english


def _names(text: str) -> list[str]:
    first, _sep, last = text.rpartition(" and ")
    return [*first.split(", "), last] if first else [last]


def audience_words(badge: str) -> str:
    """A who-can-book badge (`audience.slot_audience`) in the page's language."""
    if badge in _FIXED:
        return _(_FIXED[badge])
    if match := _AGES.match(badge):
        return _("Ages %(low)s to %(high)s", low=match[1], high=match[2])
    if match := _OVER.match(badge):
        return _("Ages %(low)s and over", low=match[1])
    if match := _UNDER.match(badge):
        return _("Ages %(high)s and under", high=match[1])
    if match := _SPEAKS.match(badge):
        names = [_language_name(name) for name in _names(match[1])]
        spoken = names[0] if len(names) == 1 else _("%(some)s and %(last)s", some=", ".join(names[:-1]), last=names[-1])
        return _("Speaks %(language)s", language=spoken)
    return badge


def freshness_words(text: str) -> str:
    """`as of 3 minutes ago`, `as of just now`, `not yet synced` in the page's language."""
    if text == "as of just now":
        return _("as of just now")
    if text == "not yet synced":
        return _("not yet synced")
    if match := _AGO.match(text):
        count = int(match[1])
        catalogue = translations("slotlinks.discovery", current_language())
        if match[2] == "day":
            words = catalogue.ngettext("as of %(num)s day ago", "as of %(num)s days ago", count)
        elif match[2] == "hour":
            words = catalogue.ngettext("as of %(num)s hour ago", "as of %(num)s hours ago", count)
        else:
            words = catalogue.ngettext("as of %(num)s minute ago", "as of %(num)s minutes ago", count)
        return words % {"num": count}
    return text
