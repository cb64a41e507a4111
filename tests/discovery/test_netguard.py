"""The URL policy and address guard (no traffic leaves 127.0.0.1)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from slotlinks.errors import AddressRefused, UrlRefused
from slotlinks.net.guard import UrlPolicy, check_address, resolve_checked


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "0.0.0.0", "224.0.0.1", "fe80::1", "::ffff:169.254.169.254", "240.0.0.1"],
)
def test_always_refused_addresses(address: str) -> None:
    with pytest.raises(AddressRefused):
        check_address(ipaddress.ip_address(address), allow_private_networks=True)


def test_private_and_loopback_only_when_allowed() -> None:
    for address in ("127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "::ffff:10.0.0.1"):
        check_address(ipaddress.ip_address(address), allow_private_networks=True)
        with pytest.raises(AddressRefused):
            check_address(ipaddress.ip_address(address), allow_private_networks=False)
    check_address(ipaddress.ip_address("8.8.8.8"), allow_private_networks=False)


def test_resolve_checked_literals_and_localhost() -> None:
    assert str(asyncio.run(resolve_checked("127.0.0.1", 80, allow_private_networks=True))) == "127.0.0.1"
    with pytest.raises(AddressRefused):
        asyncio.run(resolve_checked("[::1]", 80, allow_private_networks=False))
    with pytest.raises(AddressRefused):
        asyncio.run(resolve_checked("localhost", 80, allow_private_networks=False))


def test_url_policy() -> None:
    policy = UrlPolicy.for_publisher("https://pub.example.org/fhir/$bulk-publish", ["CDN.example.net"])
    assert policy.check("https://pub.example.org/fhir/a.ndjson")
    assert policy.check("https://pub.example.org:443/other")
    assert policy.check("http://cdn.example.net:8080/x.ndjson")
    for url in (
        "http://pub.example.org/a",
        "https://pub.example.org:8443/a",
        "https://evil.org/a",
        "file:///etc/passwd",
        "https://user:pw@pub.example.org/a",
        "/relative",
    ):
        with pytest.raises(UrlRefused):
            policy.check(url)


@pytest.mark.parametrize("url", ["https://pub.example.org:x/a", "https://pub.example.org:70000/a", "http://[::1/a"])
def test_url_policy_refuses_unreadable_urls_instead_of_raising_value_error(url: str) -> None:
    policy = UrlPolicy.for_publisher("https://pub.example.org/fhir/$bulk-publish", [])
    with pytest.raises(UrlRefused, match="not an absolute http"):
        policy.check(url)
