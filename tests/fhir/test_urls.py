"""The one absolute http(s) URL check: what it accepts and refuses, with and without its options."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.fhir.urls import MAX_BOOKING_LINK_CHARS, http_url_parts, is_booking_link, is_http_url

ACCEPTED = [
    "http://a",
    "https://portal.example/book?slot=1#top",
    "HTTPS://Portal.Example/book",
    "https://portal.example:8443/",
    "https://portal.example:/",  # an empty port is the default one
    "http://127.0.0.1:8080/fhir/$bulk-publish",
    "http://[::1]:8080/x",
    "https://exämple.com/",
    "https://user:pw@portal.example/",
    "https://portal.example/a%20b",
    "https://portal.example/café?q=ü",
]

REFUSED = [
    ("", "empty"),
    ("portal.example/book", "no scheme"),
    ("//portal.example/book", "scheme-relative"),
    ("/relative", "relative"),
    ("javascript:alert(1)", "script"),
    ("ftp://files.example/x", "other scheme"),
    ("mailto:x@example.com", "other scheme"),
    ("data:text/html,hi", "other scheme"),
    ("https://", "no host"),
    ("http:/portal.example", "no authority"),
    ("http:portal.example", "no authority"),
    ("http://@/x", "user-info but no host"),
    ("http://user@/x", "user-info but no host"),
    ("http://:80/x", "port but no host"),
    ("http://?x", "query but no host"),
    ("http://#x", "fragment but no host"),
    (" https://portal.example/", "leading space"),
    ("https://portal.example/ ", "trailing space"),
    ("\x00https://portal.example/", "leading control character"),
    ("https://portal.example/book now", "space inside"),
    ("https://portal.example/a\tb", "tab inside"),
    ("https://portal.\nexample/", "newline inside"),
    ("https://portal.example/\r", "carriage return"),
    ("https://port al.example/", "space in the host"),
    ("http://good.example\\@evil.example/", "backslash in the authority"),
    ("https://portal.example:x/", "port not a number"),
    ("https://portal.example:65536/", "port out of range"),
    ("https://portal.example:-1/", "negative port"),
    ("http://[::1/x", "unclosed IPv6 bracket"),
    ("http://[not-an-address]/x", "bracketed non-address"),
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url: str) -> None:
    assert is_http_url(url)
    parts = http_url_parts(url)
    assert parts is not None
    assert parts.scheme in ("http", "https")
    assert parts.hostname


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused(url: str, why: str) -> None:
    assert not is_http_url(url), why
    assert http_url_parts(url) is None, why


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("https://user:pw@portal.example/", {"allow_userinfo": False}, False),
        ("https://user@portal.example/", {"allow_userinfo": False}, False),
        ("https://@portal.example/", {"allow_userinfo": False}, False),
        ("https://portal.example/a@b", {"allow_userinfo": False}, True),  # `@` in the path is not user-info
        ("https://portal.example/?q=1", {"allow_query": False}, False),
        ("https://portal.example/#top", {"allow_query": False}, True),
        ("https://portal.example/back#top", {"allow_fragment": False}, False),
        ("https://portal.example/back?k=v", {"allow_fragment": False}, True),
        ("https://portal.example/base", {"allow_query": False, "allow_fragment": False}, True),
        ("https://portal.example/base?q#f", {"allow_query": False, "allow_fragment": False}, False),
        ("ftp://portal.example/", {"allow_userinfo": True}, False),  # options never widen the rule
    ],
)
def test_options_refuse_what_a_caller_does_not_want(url: str, options: dict[str, bool], expected: bool) -> None:
    assert is_http_url(url, **options) is expected


def test_parts_are_what_urlsplit_reads_from_the_same_text() -> None:
    parts = http_url_parts("HTTPS://Portal.Example:8443/book?a=1#b")
    assert parts is not None
    assert (parts.scheme, parts.hostname, parts.port, parts.path, parts.query, parts.fragment) == (
        "https",
        "portal.example",
        8443,
        "/book",
        "a=1",
        "b",
    )


URLISH = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(["", "http://", "https://", "HTTP://", "http:", "ftp://"]),
    st.text(alphabet=st.sampled_from("ab.:@/?#[]\\ \t\n%ü1-"), max_size=30) | st.text(max_size=30),
)


@given(URLISH)
def test_never_raises_and_a_yes_has_a_host(url: str) -> None:
    parts = http_url_parts(url)
    assert (parts is not None) == is_http_url(url)
    if parts is not None:
        assert parts.hostname
        assert not any(c in url for c in " \t\r\n")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://portal.example/book?slot=1", True),
        ("https://portal.example/a@b", True),  # `@` in the path is not user-info
        ("http://user:pass@evil.example/book", False),
        ("http://bank.example@evil.example/", False),
        ("https://@portal.example/", False),
        ("javascript:alert(1)", False),
        ("https://portal.example/" + "x" * (MAX_BOOKING_LINK_CHARS - 23), True),
        ("https://portal.example/" + "x" * (MAX_BOOKING_LINK_CHARS - 22), False),
    ],
)
def test_a_booking_link_has_no_user_info_and_a_bounded_length(url: str, expected: bool) -> None:
    assert is_booking_link(url) is expected
    assert len("https://portal.example/") == 23
