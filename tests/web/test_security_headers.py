"""Every response of both servers carries the security headers, and every page the one strict policy
whose nonce its inline style and script carry (issue 12, finding 5). The routes are enumerated from the
apps themselves, so a page added later is checked too; error pages are asked for on purpose."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from starlette.routing import BaseRoute, Route

from tests.web.conftest import ADMIN_TOKEN, DiscoveryServer, ProviderServer, Server

_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_POLICY = re.compile(
    r"default-src 'none'; style-src 'nonce-(?P<nonce>[A-Za-z0-9_-]{16,})'; script-src 'nonce-(?P=nonce)'; "
    r"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_INLINE = re.compile(r"<(style|script)\b([^>]*)>", re.IGNORECASE)


def _get_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps an included router whole, with the prefix it was given
            yield from _get_routes(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, Route) and "GET" in (route.methods or set()):
            yield prefix + route.path


def _get_paths(server: Server, values: dict[str, str]) -> list[str]:
    """Every GET route of the app, its path parameters filled in from `values` (else a value no
    resource has, which asks for the route's not-found answer)."""
    paths = {
        _PARAM.sub(lambda m: values.get(m.group(1), "no-such-thing"), path) for path in _get_routes(server.app.routes)
    }
    assert len(paths) > 10, paths
    return sorted(paths)


def _check(response: httpx.Response) -> str | None:
    """Asserts the headers every response carries and, on a page, that its inline style and script
    carry the policy's nonce; returns the page's HTML (None for other responses)."""
    where = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    assert response.headers.get("x-frame-options") == "DENY", where
    policy = _POLICY.fullmatch(response.headers.get("content-security-policy", ""))
    assert policy, (where, response.headers.get("content-security-policy"))
    if not response.headers.get("content-type", "").startswith("text/html"):
        return None
    for tag, attributes in _INLINE.findall(response.text):
        assert f'nonce="{policy["nonce"]}"' in attributes, (where, tag, attributes)
    assert " style=" not in response.text, f"{where}: an inline style attribute, which the policy blocks"
    return response.text


def _visit(server: Server, paths: list[str], **kwargs: Any) -> dict[str, int]:
    """The pages among `paths` (path -> status), every response checked."""
    pages = {}
    for path in paths:
        response = server.client.get(path, **kwargs)
        if _check(response) is not None:
            pages[path] = response.status_code
    return pages


def test_every_discovery_response_and_page_carries_the_headers(discovery: DiscoveryServer) -> None:
    data = discovery.data
    values = {"pk": str(data.boston), "slot_pk": str(data.slots["boston_primary"]), "publisher_id": str(data.pub1)}
    pages = _visit(discovery, _get_paths(discovery, values))
    pages.update(
        _visit(
            discovery,
            [
                "/search?near=02114",
                "/search?near=02114&to=9999-12-31",  # the search page's own error
                "/locations/abc",  # the pages' error page (400)
                f"/locations/{2**40}",  # a location no publisher has (404)
                f"/go/{data.slots['boston_busy']}",  # "this time is taken"
                "/back?booking-referral=nothing",  # a redirect
            ],
        )
    )
    for page in ("/", "/search?near=02114", f"/locations/{data.boston}", "/status", "/my-bookings"):
        assert pages.get(page) == 200, (page, pages)
    assert {pages["/locations/abc"], pages[f"/locations/{2**40}"], pages["/search?near=02114&to=9999-12-31"]} == {
        400,
        404,
    }
    # The admin API and the aggregate, authorised, answer as well as refuse with the headers.
    _visit(discovery, ["/admin/publishers", "/aggregate/$bulk-publish", "/api/search?near=02114", "/fhir/Slot"])
    _visit(discovery, ["/admin/publishers"], headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def test_every_provider_response_and_page_carries_the_headers(provider: ProviderServer) -> None:
    free = provider.client.get("/fhir/Slot", params={"status": "free", "_count": "1"}).json()
    slot_id = free["entry"][0]["resource"]["id"]
    paths = _get_paths(provider, {"slot_id": slot_id})
    pages = _visit(provider, paths)
    _visit(provider, paths, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    pages.update(_visit(provider, ["/book/no-such-slot", "/book/hold/no-such-hold", "/staff/"]))
    assert pages.get(f"/book/{slot_id}") == 200, pages
    assert pages.get("/staff/login") == 200, pages
    assert any(status >= 400 for status in pages.values()), f"no error page was checked: {pages}"
