"""The language of a patient's pages: chosen per request, and the translations to speak it.

A page speaks English or Spanish (`LANGUAGES`). The choice, strongest first:
1. `?lang=es` on any page address: the visible language switch is a plain link carrying it, so it works
   without JavaScript; the answer remembers the choice in the `slotlinks_lang` cookie (a year, `Lax`);
2. that cookie;
3. the browser's `Accept-Language`, by its q-values (`es-MX;q=0.9` asks for Spanish);
4. English.

The middleware keeps the choice in a context variable for the request's task (and the worker threads
it runs sync code in), so templates, e-mail text and error pages read it with `current_language()`
and no request in hand, as the CSP nonce is read (`web.headers`).

Translations are gettext catalogues kept as `.po` text beside each package that has pages:
`<package>/locale/<language>/LC_MESSAGES/*.po`. A package may split its catalogue by area (one file
per area, so changes to different pages never touch one file); every `.po` of the folder is merged
when first needed. English is the source language: its messages are the `msgid`s themselves. A message
a catalogue lacks shows in English; `tests/web/test_catalogues.py` fails the build on any such gap.
Python code marks its messages with `gettext_for(package)` (translated when called) or `N_` (marked
where defined, translated where shown), so Babel's extractor finds them all.
"""

from __future__ import annotations

import gettext as gettext_module
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from io import BytesIO
from urllib.parse import parse_qs, parse_qsl, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "N_",
    "LanguageMiddleware",
    "choose_language",
    "current_language",
    "gettext_for",
    "install_language",
    "language_switch",
    "speaking",
    "switch_to",
    "translations",
]

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "slotlinks_lang"
_COOKIE_AGE = 365 * 24 * 3600
# What a browser writes: `es-MX`, `es;q=0.8`, `*` (RFC 9110 12.5.4); anything else is ignored.
_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")

# Each language's name in itself, for the switch ("Español" reads the same to whoever looks for it).
_NAMES = {"en": "English", "es": "Español"}

_SHARED = "slotlinks.web"  # the package of the shared partials, whose catalogue backs every other

_LANGUAGE: ContextVar[str] = ContextVar("page_language", default=DEFAULT_LANGUAGE)
# The request's own path and query (never its Host), for the switch's links back to the same page.
_PAGE: ContextVar[tuple[str, str, str, frozenset[str] | None]] = ContextVar(
    "page_address", default=("GET", "/", "", frozenset())
)


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for "marked, translated later"
    """`message` as it is: marks text defined in one place and translated where it is shown."""
    return message


def _supported(value: str | None) -> str | None:
    value = (value or "").strip().lower()[:8]
    return value if value in LANGUAGES else None


def _accepted(header: str) -> str | None:
    """The supported language the `Accept-Language` header prefers most (ties: the header's order)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header[:1000].split(",")[:30]):
        match = _RANGE.match(part)
        if not match:
            continue
        tag, weight = match.group(1).lower(), float(match.group(2) or 1)
        chosen = DEFAULT_LANGUAGE if tag == "*" else _supported(tag)
        if chosen and weight > 0 and (best is None or (-weight, position) < (best[0], best[1])):
            best = (-weight, position, chosen)
    return best[2] if best else None


def choose_language(asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page's language from `?lang=`, the remembered cookie and `Accept-Language`, in that order."""
    return _supported(asked) or _supported(cookie) or _accepted(accept_language or "") or DEFAULT_LANGUAGE


def current_language() -> str:
    """This request's language (English outside a request the middleware saw)."""
    return _LANGUAGE.get()


@contextmanager
def speaking(code: str) -> Iterator[str]:
    """Speaks `code` inside the `with` block: for text made outside a page request (an alert's
    e-mail is written in the language its patient asked in)."""
    token = _LANGUAGE.set(_supported(code) or DEFAULT_LANGUAGE)
    try:
        yield _LANGUAGE.get()
    finally:
        _LANGUAGE.reset(token)


def _header(scope: Scope, wanted: bytes) -> str:
    """The request's `wanted` header (all of its lines, comma-joined), or ""."""
    values = [value.decode("latin-1") for name, value in scope.get("headers", ()) if name == wanted]
    return ", ".join(values)


def _cookie_value(scope: Scope) -> str | None:
    for part in _header(scope, b"cookie").replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key == LANGUAGE_COOKIE:
            return value
    return None


class LanguageMiddleware:
    """ASGI middleware: sets the request's language, and remembers a `?lang=` choice in a cookie."""

    def __init__(self, app: ASGIApp, *, secure: bool = False, keep: frozenset[str] | None = None) -> None:
        self.app = app
        self.secure = secure
        self.keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = _supported((query.get("lang") or [""])[0])
        chosen = choose_language(asked, _cookie_value(scope), _header(scope, b"accept-language"))
        token = _LANGUAGE.set(chosen)
        page = _PAGE.set(
            (scope.get("method", "GET"), scope.get("path", "/"), scope.get("query_string", b"").decode(), self.keep)
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if asked:
                    secure = "; Secure" if self.secure else ""
                    headers.append(
                        "Set-Cookie",
                        f"{LANGUAGE_COOKIE}={asked}; Max-Age={_COOKIE_AGE}; Path=/; SameSite=Lax{secure}",
                    )
                # The same address answers in either language: caches must keep them apart.
                headers.add_vary_header("Accept-Language")
                headers.add_vary_header("Cookie")
                headers.setdefault("Content-Language", chosen)
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _LANGUAGE.reset(token)
            _PAGE.reset(page)


def language_switch() -> list[tuple[str, str, str]]:
    """The switch's links, `(code, name, href)` for each language but the current one: the same page
    (address, and the query names the app keeps) with `lang=` set. An answer to a form post links to
    its address without the form (a GET there shows the page afresh, or the way back)."""
    method, path, query, keep = _PAGE.get()
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if key != "lang" and (keep is None or key in keep)
    ]
    if method not in ("GET", "HEAD"):
        pairs = []
    return [
        (code, _NAMES[code], f"{path}?{urlencode([*pairs, ('lang', code)])}")
        for code in LANGUAGES
        if code != current_language()
    ]


def switch_to(path: str, query: str = "") -> None:
    """Points this request's language switch at another page of ours (`path`, `query` without `?`):
    for a page whose own address is an action (`/go/{id}` opens a booking link), whose switch must
    lead to the page the patient came from instead of doing the action again."""
    _PAGE.set(("GET", path, query, None))


def install_language(app: FastAPI, *, secure: bool = False, keep: frozenset[str] | None = None) -> None:
    """Adds `LanguageMiddleware` to `app`; `secure` marks the remembered choice's cookie `Secure`
    (the server's configured address is https); `keep` names the query parameters the switch's links
    carry over (None: all), so a page never echoes what its address should not have carried."""
    app.add_middleware(LanguageMiddleware, secure=secure, keep=keep)


@cache
def translations(package: str, code: str) -> gettext_module.NullTranslations:
    """`package`'s catalogue for language `code`: every `.po` of its folder, merged; none for English.
    What the shared partials and `timetext` say is translated once, in the shared catalogue
    (`slotlinks.web`), which backs every other."""
    own = _catalogue(package, code)
    if package != _SHARED:
        own.add_fallback(translations(_SHARED, code))
    return own


def _catalogue(package: str, code: str) -> gettext_module.NullTranslations:
    merged: gettext_module.NullTranslations = gettext_module.NullTranslations()
    if code == DEFAULT_LANGUAGE:
        return merged
    folder = resources.files(package).joinpath("locale", code, "LC_MESSAGES")
    if not folder.is_dir():
        return merged
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".po"):
            with entry.open("rb") as text:
                catalog = read_po(text, locale=code)
            binary = BytesIO()
            write_mo(binary, catalog)  # fuzzy entries are left out: English shows until they are checked
            binary.seek(0)
            part = Translations(binary)
            if isinstance(merged, Translations):
                merged.merge(part)
            else:
                merged = part
    return merged


def gettext_for(package: str) -> Callable[..., str]:
    """`_` for Python code in `package`: `_("Hello %(name)s", name=...)` in the request's language.
    Named values are filled in after translation, so a translation may reorder them."""

    def _(message: str, **values: object) -> str:
        text = translations(package, current_language()).gettext(message)
        return text % values if values else text

    return _
