"""Absolute http(s) URLs: the one check behind every "must be an absolute http(s) URL".

Specification, "Bulk Publication": a manifest's output URLs are absolute URLs of NDJSON files;
"Slot File": `booking-deep-link` is a URL the patient's browser opens. Both are FHIR `url` values
(http://hl7.org/fhir/R4/datatypes.html#url: an absolute URL; like every `uri`, `\\S*`, so no
whitespace). Our own settings (base URL, portal URL, publisher URLs, return URLs) follow the same rule.

The rule (`http_url_parts`):

1. It starts with its scheme, `http:` or `https:` in any case (RFC 3986, 3.1: schemes are
   case-insensitive), and holds no space, tab, carriage return or line feed (FHIR's `\\S*`, with
   XML Schema's `\\s`). `urlsplit` silently strips leading spaces and control characters and drops
   tabs and newlines anywhere, so without this what was judged would not be what is stored,
   published or followed.
2. `urlsplit` can read it (bracketed IPv6 hosts well formed).
3. It has a host: an authority (`//...`) with a host name, not only user-info or a port
   (`http:/x`, `http://user@/` and `http://:80/` have none).
4. No backslash in the authority: browsers read `\\` as `/` there, `urlsplit` does not, so
   `http://good.example\\@evil.example/` would be one host to us and another to a browser.
5. A port, when written, is a number from 0 to 65535.

Callers that need more add it on top: the options of `is_http_url` (no user-info for URLs we
fetch or send secrets to, no fragment for a return URL, no query for a base URL), or a look at the
parts `http_url_parts` returns when they say which rule failed. Callers that accept surrounding
whitespace from a person (a form, a command line) strip it first.

A `booking-deep-link` adds two rules of its own (`is_booking_link`), because it is stored, re-published
and handed to patients' browsers: no user-info (`http://user:pass@evil.example/` carries credentials,
and `http://bank.example@evil.example/` disguises its host as another), and at most
`MAX_BOOKING_LINK_CHARS` characters, so a stored link (and every referral that records it) has a
bounded size.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["MAX_BOOKING_LINK_CHARS", "http_url_parts", "is_booking_link", "is_http_url"]

#: The longest booking link kept, in characters: 2,048 is what browsers, servers and sitemaps have long
#: been safe with, and a portal's link (a path and a slot id or two) needs a small part of it.
MAX_BOOKING_LINK_CHARS = 2048

_PREFIXES = ("http:", "https:")
_WHITESPACE = " \t\r\n"


def http_url_parts(url: str) -> SplitResult | None:
    """The parts of `url` when it is an absolute http(s) URL with a host, else None (rules above)."""
    if not url[:6].lower().startswith(_PREFIXES) or any(c in url for c in _WHITESPACE):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (reading it checks the port: ValueError when not a number in range)
    except ValueError:
        return None
    if not parts.hostname or "\\" in parts.netloc:
        return None
    return parts


def is_http_url(
    url: str, *, allow_userinfo: bool = True, allow_query: bool = True, allow_fragment: bool = True
) -> bool:
    """True when `url` is an absolute http(s) URL with a host (module rules) and passes the options.

    `allow_userinfo=False` refuses `user[:password]@` before the host (even an empty one), for URLs
    we fetch or send a secret to; `allow_query=False` and `allow_fragment=False` refuse a non-empty
    `?query` or `#fragment`, for base URLs that paths are appended to and for return URLs.
    """
    parts = http_url_parts(url)
    return (
        parts is not None
        and (allow_userinfo or "@" not in parts.netloc)
        and (allow_query or not parts.query)
        and (allow_fragment or not parts.fragment)
    )


def is_booking_link(url: str) -> bool:
    """True when `url` may be a `booking-deep-link`: an absolute http(s) URL with a host (module rules),
    without user-info, of at most `MAX_BOOKING_LINK_CHARS` characters."""
    return len(url) <= MAX_BOOKING_LINK_CHARS and is_http_url(url, allow_userinfo=False)
