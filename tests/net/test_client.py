"""The guarded HTTP client against a real server on 127.0.0.1: size limit, no redirects, the address guard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from slotlinks.net.client import GuardedClient, NoReply, Reply, guarded_get
from tests.servers import serve

LIMIT = 1000


@dataclass
class Seen:
    """What the test server was asked, so a test can tell that nothing reached it."""

    paths: list[str] = field(default_factory=list)
    accept: list[str] = field(default_factory=list)


def _app(seen: Seen) -> Starlette:
    async def sized(request: Request) -> Response:
        seen.paths.append(request.url.path)
        seen.accept.append(request.headers.get("accept", ""))
        return Response(b"x" * int(request.path_params["size"]), media_type="application/octet-stream")

    async def moved(request: Request) -> Response:
        seen.paths.append(request.url.path)
        return RedirectResponse("/bytes/10", status_code=302)

    async def missing(request: Request) -> Response:
        seen.paths.append(request.url.path)
        return Response(b"n" * (LIMIT * 10), status_code=404)

    async def slow(request: Request) -> Response:
        seen.paths.append(request.url.path)
        await asyncio.sleep(3)
        return Response(b"late")

    return Starlette(
        routes=[
            Route("/bytes/{size:int}", sized),
            Route("/moved", moved),
            Route("/missing", missing),
            Route("/slow", slow),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    with serve(_app(seen)) as origin:
        yield origin, seen


def _get(url: str, *, allow_private: bool = True, timeout: float = 5.0) -> Reply | NoReply:
    return asyncio.run(
        guarded_get(
            url,
            max_bytes=LIMIT,
            timeout=timeout,
            allow_private_networks=allow_private,
            headers={"Accept": "application/fhir+json"},
        )
    )


def test_a_body_up_to_the_limit_comes_back_whole(server: tuple[str, Seen]) -> None:
    origin, seen = server
    reply = _get(f"{origin}/bytes/{LIMIT}")
    assert isinstance(reply, Reply)
    assert (reply.status, reply.body) == (200, b"x" * LIMIT)
    assert reply.headers["content-type"] == "application/octet-stream"
    assert seen.accept[-1] == "application/fhir+json"


def test_a_body_past_the_limit_is_too_large(server: tuple[str, Seen]) -> None:
    origin, _ = server
    reply = _get(f"{origin}/bytes/{LIMIT + 1}")
    assert isinstance(reply, NoReply)
    assert reply.reason == "too-large"
    assert str(LIMIT) in reply.detail


def test_a_redirect_is_returned_not_followed(server: tuple[str, Seen]) -> None:
    origin, seen = server
    before = len(seen.paths)
    reply = _get(f"{origin}/moved")
    assert isinstance(reply, Reply)
    assert (reply.status, reply.headers["location"], reply.body) == (302, "/bytes/10", b"")
    assert seen.paths[before:] == ["/moved"]


def test_the_body_of_an_error_is_not_read(server: tuple[str, Seen]) -> None:
    origin, _ = server
    reply = _get(f"{origin}/missing")
    assert isinstance(reply, Reply)
    assert (reply.status, reply.body) == (404, b"")


def test_loopback_is_refused_unless_private_networks_are_allowed(server: tuple[str, Seen]) -> None:
    origin, seen = server
    before = len(seen.paths)
    for url in (f"{origin}/bytes/1", origin.replace("127.0.0.1", "localhost") + "/bytes/1"):
        reply = _get(url, allow_private=False)
        assert isinstance(reply, NoReply)
        assert reply.reason == "refused"
        assert "loopback" in reply.detail
    assert seen.paths[before:] == []  # nothing reached the server


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///x", "http://[::1/x"])
def test_urls_that_are_not_http_are_refused(url: str) -> None:
    reply = _get(url)
    assert isinstance(reply, NoReply)
    assert reply.reason == "refused"


def test_the_deadline_bounds_the_whole_exchange(server: tuple[str, Seen]) -> None:
    origin, _ = server
    reply = _get(f"{origin}/slow", timeout=0.3)
    assert isinstance(reply, NoReply)
    assert reply.reason == "failed"


def test_an_unreachable_port_fails() -> None:
    from tests.servers import free_port

    reply = _get(f"http://127.0.0.1:{free_port()}/x")
    assert isinstance(reply, NoReply)
    assert reply.reason == "failed"


def test_one_client_serves_several_requests(server: tuple[str, Seen]) -> None:
    origin, _ = server

    async def both() -> list[Reply | NoReply]:
        async with GuardedClient(allow_private_networks=True, timeout=5.0) as client:
            return [await client.get(f"{origin}/bytes/{n}", max_bytes=LIMIT) for n in (1, 2)]

    replies = asyncio.run(both())
    assert [r.body for r in replies if isinstance(r, Reply)] == [b"x", b"xx"]
