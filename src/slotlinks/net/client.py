"""The guarded HTTP client: every request we send to a publisher or portal goes out through it.

Every connection goes through `GuardedTransport` (guard.py): the host is resolved by us and each
address checked before connecting, so a hostile URL cannot reach private, loopback or link-local
services unless the deployment allows private networks. Besides that, the client:

- never follows a redirect (a 3xx is returned as it is; a caller that follows one checks the next
  hop itself and asks again, through this same transport);
- takes no proxy from the environment: every request goes through our own transport (and
  `trust_env=False` keeps httpx from reading other environment settings);
- always has timeouts, and `get` and `post` a deadline for the whole exchange;
- reads at most `max_bytes` of a body and gives up past it, so a huge answer cannot fill memory.

`get` answers with a `Reply` (status, headers, and the body of a 2xx answer) or a `NoReply` saying
why there is none: `refused` (the URL or address policy said no; nothing was sent), `too-large` or
`failed` (timeout, connection or protocol error); `post` (notifications to subscribers) likewise,
without reading the body. `stream` hands over the response unread, for
callers that parse while downloading.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import httpx

from slotlinks.errors import AddressRefused, UrlRefused
from slotlinks.net.guard import GuardedTransport

__all__ = ["GuardedClient", "NoReply", "Reply", "direct_transport", "guarded_get"]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for the process: building one reads the whole CA bundle (a good part
    of a second), and httpx would otherwise build one for every client."""
    return httpx.create_ssl_context()


def direct_transport() -> httpx.AsyncHTTPTransport:
    """The transport under the guard: no retries (a failed fetch is reported, not repeated), shared TLS context."""
    return httpx.AsyncHTTPTransport(retries=0, verify=_tls_context())


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answered: its status and headers, and for a 2xx status its whole body."""

    status: int
    headers: httpx.Headers
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class NoReply:
    """Why there is no answer to use: `refused` (nothing was sent), `too-large` or `failed`; `detail` says more."""

    reason: Literal["refused", "too-large", "failed"]
    detail: str


class GuardedClient:
    """An httpx client whose every request goes through the address guard, never follows redirects
    and ignores the environment's proxy settings. Use it as an async context manager, or `aclose` it.

    `timeout` applies to each phase (connect, each read, each write, waiting for a pooled
    connection); `headers` are sent with every request (e.g. a User-Agent).
    """

    def __init__(
        self,
        *,
        allow_private_networks: bool,
        timeout: float | httpx.Timeout,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        guarded = GuardedTransport(transport or direct_transport(), allow_private_networks=allow_private_networks)
        self._client = httpx.AsyncClient(
            transport=guarded, timeout=timeout, follow_redirects=False, trust_env=False, headers=headers
        )

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def stream(self, url: str, *, headers: Mapping[str, str] | None = None) -> AsyncIterator[httpx.Response]:
        """GET `url` and yield the response with its body unread; closed on leaving the block.

        Raises what the guard raises (`UrlRefused`, `AddressRefused`: before anything is sent),
        `httpx.InvalidURL` for a URL httpx cannot read, and `httpx.HTTPError` for network failures.
        """
        request = self._client.build_request("GET", url, headers=dict(headers or {}))
        response = await self._client.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def get(
        self, url: str, *, max_bytes: int, headers: Mapping[str, str] | None = None, deadline: float | None = None
    ) -> Reply | NoReply:
        """GET `url`: its status and headers, and for a 2xx status its body of at most `max_bytes`.

        The body of any other status is not read (its size does not matter). `deadline`, in seconds,
        bounds the whole exchange from connecting to the last byte. Never raises for what the server
        or the network does: failures come back as a `NoReply`.
        """
        try:
            async with asyncio.timeout(deadline), self.stream(url, headers=headers) as response:
                if not response.is_success:
                    return Reply(response.status_code, response.headers)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        return NoReply("too-large", f"{url}: more than {max_bytes} bytes; reading stopped")
                return Reply(response.status_code, response.headers, bytes(body))
        except (UrlRefused, AddressRefused, httpx.InvalidURL) as exc:
            return NoReply("refused", str(exc))
        except TimeoutError:
            return NoReply("failed", f"{url}: no complete answer within {deadline} s")
        except (httpx.HTTPError, OSError, ValueError) as exc:  # ValueError: e.g. a header httpx cannot encode
            return NoReply("failed", f"{url}: {type(exc).__name__}: {exc}")

    async def post(
        self, url: str, *, content: bytes, headers: Mapping[str, str] | None = None, deadline: float | None = None
    ) -> Reply | NoReply:
        """POST `content` to `url`: the answer's status and headers (its body is not read, whatever
        its size). `deadline`, in seconds, bounds the whole exchange and is also how long the answer
        may take to begin (a subscriber's own timeout may well exceed the client's per-phase one);
        like `get`, never raises for what the server or the network does."""
        timeout = self._client.timeout if deadline is None else httpx.Timeout(deadline)
        try:
            async with asyncio.timeout(deadline):
                request = self._client.build_request(
                    "POST", url, content=content, headers=dict(headers or {}), timeout=timeout
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()
                return Reply(response.status_code, response.headers)
        except (UrlRefused, AddressRefused, httpx.InvalidURL) as exc:
            return NoReply("refused", str(exc))
        except TimeoutError:
            return NoReply("failed", f"{url}: no answer within {deadline} s")
        except (httpx.HTTPError, OSError, ValueError) as exc:  # ValueError: e.g. a header httpx cannot encode
            return NoReply("failed", f"{url}: {type(exc).__name__}: {exc}")


async def guarded_get(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private_networks: bool,
    headers: Mapping[str, str] | None = None,
) -> Reply | NoReply:
    """One guarded GET on a client of its own (see `GuardedClient.get`); `timeout` bounds the whole
    exchange as well as each phase of it."""
    async with GuardedClient(allow_private_networks=allow_private_networks, timeout=timeout) as client:
        return await client.get(url, max_bytes=max_bytes, headers=headers, deadline=timeout)
