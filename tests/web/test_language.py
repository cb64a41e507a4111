"""Both servers speak the patient's language (`web.i18n`): chosen from `?lang=`, then the remembered
cookie, then `Accept-Language`; the switch is a plain link to the same page; caches keep the languages
apart."""

from __future__ import annotations

import re

import pytest

from slotlinks.web.i18n import LANGUAGE_COOKIE, choose_language
from tests.web.conftest import DiscoveryServer, ProviderServer


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([a-z]+)">', html)
    assert match, html[:200]
    return match.group(1)


@pytest.mark.parametrize(
    ("asked", "cookie", "header", "expected"),
    [
        (None, None, None, "en"),
        (None, None, "es-MX,es;q=0.9,en;q=0.8", "es"),
        (None, None, "en-US,en;q=0.9,es;q=0.8", "en"),
        (None, None, "fr-FR, es;q=0.5", "es"),
        (None, None, "es;q=0, en;q=0.1", "en"),
        (None, None, "de, *;q=0.1", "en"),
        (None, None, "garbage;;q=zz, ,,", "en"),
        (None, "es", "en", "es"),
        ("en", "es", "es", "en"),
        ("xx", "yy", "es", "es"),
    ],
)
def test_the_language_is_chosen_strongest_first(
    asked: str | None, cookie: str | None, header: str | None, expected: str
) -> None:
    assert choose_language(asked, cookie, header) == expected


def test_accept_language_chooses_spanish_on_the_discovery_pages(discovery: DiscoveryServer) -> None:
    english = discovery.client.get("/")
    spanish = discovery.client.get("/", headers={"Accept-Language": "es-US,es;q=0.9"})
    assert _lang(english.text) == "en"
    assert "Skip to main content" in english.text
    assert _lang(spanish.text) == "es"
    assert "Ir al contenido principal" in spanish.text
    assert "Skip to main content" not in spanish.text
    assert spanish.headers["Content-Language"] == "es"
    assert "accept-language" in spanish.headers["Vary"].lower()


def test_the_switch_links_to_the_same_page_and_the_choice_is_remembered(discovery: DiscoveryServer) -> None:
    page = discovery.client.get("/search", params={"near": "02114", "service": "primary"})
    link = re.search(r'<a href="([^"]+)" lang="es" hreflang="es">Español</a>', page.text)
    assert link, "the English page links to itself in Spanish"
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/search?")
    assert "near=02114" in href
    assert href.endswith("lang=es")
    chosen = discovery.client.get(href)
    assert _lang(chosen.text) == "es"
    assert f"{LANGUAGE_COOKIE}=es" in chosen.headers["set-cookie"]
    # Later pages, with no `lang=` and an English browser, stay Spanish by the cookie.
    later = discovery.client.get("/status", headers={"Accept-Language": "en", "Cookie": f"{LANGUAGE_COOKIE}=es"})
    assert _lang(later.text) == "es"
    assert "English" in later.text


def test_the_portal_pages_speak_spanish_too(provider: ProviderServer) -> None:
    page = provider.client.get("/staff/login", headers={"Accept-Language": "es"})
    assert _lang(page.text) == "es"
    assert "Ir al contenido principal" in page.text


def test_apis_are_unchanged_by_the_language(discovery: DiscoveryServer) -> None:
    english = discovery.client.get("/api/search", params={"near": "02114"})
    spanish = discovery.client.get("/api/search", params={"near": "02114"}, headers={"Accept-Language": "es"})
    assert english.status_code == spanish.status_code == 200
    assert english.json() == spanish.json()
