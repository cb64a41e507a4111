"""Links in FHIR answers come from the configured base URL, never from the request (issue 12, finding 8):
a forged `Host` must not make either server hand clients links to another site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.web.conftest import ADMIN_TOKEN, DISCOVERY_URL, PROVIDER_BASE, DiscoveryServer, ProviderServer

EVIL = {"Host": "evil.example"}


def _urls(body: Any) -> Iterator[str]:
    """Every link, `fullUrl` and implementation URL in a Bundle or CapabilityStatement."""
    for link in body.get("link", []):
        yield link["url"]
    for entry in body.get("entry", []):
        yield entry["fullUrl"]
    if "implementation" in body:
        yield body["implementation"]["url"]


def _only_configured(answer: Any, base: str) -> list[str]:
    assert answer.status_code in (200, 201), answer.text
    assert "evil.example" not in answer.text
    assert "evil.example" not in str(answer.headers)
    urls = list(_urls(answer.json()))
    assert urls
    assert all(url.startswith(base + "/") or url == base for url in urls), urls
    return urls


def test_provider_fhir_links_ignore_a_forged_host(provider: ProviderServer) -> None:
    for path in ("/fhir/metadata", "/fhir/Slot?_count=2", "/fhir/Location?_count=1"):
        urls = _only_configured(provider.client.get(path, headers=EVIL), PROVIDER_BASE)
        assert "/metadata" in path or any("_cursor=" in url for url in urls), urls  # a `next` link was checked


def test_discovery_fhir_links_ignore_a_forged_host(discovery: DiscoveryServer) -> None:
    for path in ("/fhir/metadata", "/fhir/Slot?_count=2", "/fhir/Location?_count=1"):
        urls = _only_configured(discovery.client.get(path, headers=EVIL), DISCOVERY_URL + "/fhir")
        assert "/metadata" in path or any("_cursor=" in url for url in urls), urls


def test_admin_links_ignore_a_forged_host(provider: ProviderServer) -> None:
    headers = {**EVIL, "Authorization": f"Bearer {ADMIN_TOKEN}"}
    admin = "https://provider.example/admin"
    listed = provider.client.get("/admin/Location?_count=1", headers=headers)
    assert any(url.endswith("_offset=1") for url in _only_configured(listed, admin))  # the `next` link
    body = {"resourceType": "Location", "id": "host-check", "name": "Host Check", "address": {"postalCode": "02114"}}
    made = provider.client.put("/admin/Location/host-check", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == f"{admin}/Location/host-check"
