"""The Jinja2 set-up every server-rendered page shares (the portal, the staff pages, the discovery
client): autoescaping on for every template and undefined names as errors, so a page can neither
emit unescaped input nor silently render a missing value; and the `tel` filter for `tel:` links.

Every value a page prints also passes `visible_text` (the environment's `finalize`): publishers'
names, addresses and service text may carry bidirectional overrides and invisible characters that
make a page show other than what it holds (`Clinic<U+202E>fdp.exe` reads as "Clinicexe.pdf", a
zero-width space hides a look-alike name). The stored and re-published data keeps them as
published; only what a page shows is neutralised. The JSON search API returns the data as
published, like the aggregate: it is data for programs, whose own display is theirs to make safe.
"""

from __future__ import annotations

import re

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from slotlinks.web import timetext
from slotlinks.web.i18n import current_language, language_switch, translations

__all__ = ["page_templates", "tel_digits", "visible_text"]

_NOT_DIALLED = re.compile(r"[^0-9+]")

# Unicode's bidirectional controls (embeddings, overrides, isolates and the marks) and the invisible
# format characters (zero-width space, joiners, word joiner, invisible operators, the byte-order mark,
# interlinear annotation marks), each mapped to nothing.
_INVISIBLE = dict.fromkeys(
    [
        0x061C,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFC),
    ]
)


def tel_digits(phone: object) -> str:
    """A phone number as a `tel:` URL takes it: ASCII digits and `+` only."""
    return _NOT_DIALLED.sub("", str(phone))


def visible_text(value: object) -> object:
    """`value` without bidirectional controls and invisible characters when it is text; anything else
    as it is. Already-escaped markup stays markup (`Markup.translate`): removing characters cannot
    make a tag of it."""
    if not isinstance(value, str) or value.isascii():
        return value
    return value.translate(_INVISIBLE)


def page_templates(package: str) -> Environment:
    """The environment for the templates in `package`'s `templates` folder, speaking the request's
    language (`web.i18n`): `{% trans %}` and `_()` read `package`'s catalogue; the time filters
    are `web.timetext`'s; `page_lang()` is the `<html lang>`, `language_switch()` the switch's links."""
    env = Environment(
        # The package's own templates, then the partials every server shares (the language switch).
        loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("slotlinks.web", "templates")]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible_text,
        extensions=["jinja2.ext.i18n"],
    )

    def gettext(message: str) -> str:
        return translations(package, current_language()).gettext(message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return translations(package, current_language()).ngettext(singular, plural, n)

    # `{% trans %}` blocks are extracted and looked up with their whitespace folded, so a template's
    # line breaks never split a message from its translation.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["tel"] = tel_digits
    env.filters.update(
        clock=timetext.clock,
        clock_zone=timetext.clock_zone,
        day=timetext.day,
        day_short=timetext.day_short,
        zone_words=timetext.zone_words,
        moment_text=timetext.moment_text,
    )
    env.globals.update(page_lang=current_language, language_switch=language_switch)
    return env
