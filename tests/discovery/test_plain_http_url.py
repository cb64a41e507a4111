"""The ingest fast path's URL test never says yes where the kernel's booking-link rule says no."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.discovery.ingest.fastslot import plain_http_url
from slotlinks.fhir.urls import MAX_BOOKING_LINK_CHARS, is_booking_link, is_http_url

URLISH = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(["http://", "https://", "http:/", "HTTP://"]),
    st.text(alphabet=st.sampled_from("ab.:@/?#[]\\ \t\r\n\x0b%ü1-"), max_size=24),
)


@given(URLISH)
def test_a_plain_url_is_a_booking_link(value: str) -> None:
    if plain_http_url(value):
        assert is_booking_link(value)


@pytest.mark.parametrize(
    "value",
    [
        "http://@/x",
        "http://a@/x",
        "http://:80/x",
        "http://a:x/",
        "http://a:99999/",
        "https://a b/",
        "https://a.example/book now",
        "http://good.example\\@evil.example/",
        "http://?x",
    ],
)
def test_urls_the_rule_refuses_are_not_plain(value: str) -> None:
    assert not is_http_url(value)
    assert not plain_http_url(value)


@pytest.mark.parametrize(
    "value",
    [
        "http://user:pass@evil.example/book",
        "https://bank.example@evil.example/",
        "https://portal.example/" + "x" * MAX_BOOKING_LINK_CHARS,
    ],
)
def test_links_the_booking_rule_refuses_are_not_plain(value: str) -> None:
    assert not is_booking_link(value)
    assert not plain_http_url(value)


@pytest.mark.parametrize(
    "value",
    [
        "https://www.cvs.com/immunizations/covid-19-vaccine?cid=oc_vacfnd_cvd",
        "http://a/",
        "https://a.example",
        # A portal on its own port is everyday too: declining it sent every Slot down the slow route.
        "http://127.0.0.1:9/portal/book/sch-00071-202612081300",
        "https://book.example.org:8443/book/x",
    ],
)
def test_everyday_links_are_plain(value: str) -> None:
    assert plain_http_url(value)
    assert is_http_url(value)


@pytest.mark.parametrize("value", ["http://a:99999/", "http://a:x/", "http://:80/x"])
def test_a_bad_port_or_a_port_without_host_is_not_plain(value: str) -> None:
    assert not plain_http_url(value)
    assert not is_http_url(value)
