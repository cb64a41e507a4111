"""Which URLs the sync engine may fetch, and a transport that refuses forbidden addresses (SSRF guard).

Specification, "Bulk Publication": output URLs are absolute URLs of NDJSON files. A discovery client
fetches whatever a manifest names, so a hostile or compromised publisher could point it at internal
services. The rules here:

1. Every URL fetched (manifest, outputs, every redirect hop) is `http` or `https` with a host.
2. Its host is the manifest's host, or one of the hosts the publisher's registry entry allows
   (`allowed_hosts`); output URLs must additionally share the manifest's scheme and port unless
   their host is explicitly allowed.
3. The host is resolved *by us*, every address is checked, and the connection goes to the checked
   address (so DNS cannot answer differently between check and connect). Private (RFC 1918, ULA),
   link-local, multicast, reserved and unspecified addresses are always refused; loopback only
   unless `allow_private_networks` is set (demo and tests run publishers on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from slotlinks.errors import AddressRefused, UrlRefused
from slotlinks.fhir.urls import http_url_parts

__all__ = ["GuardedTransport", "UrlPolicy", "check_address", "resolve_checked"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """What one publisher's sync may fetch: its manifest origin plus explicitly allowed hosts."""

    manifest_url: str
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def for_publisher(cls, manifest_url: str, allowed_hosts: Iterable[str]) -> UrlPolicy:
        hosts = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        return cls(manifest_url, hosts)

    def check(self, url: str, *, what: str = "URL") -> str:
        """Return `url` if it may be fetched, else raise `UrlRefused` saying why."""
        parts = http_url_parts(url)
        if parts is None:
            raise UrlRefused(f"{what} {url!r} is not an absolute http(s) URL")
        origin = _origin(url)
        if parts.username or parts.password:
            raise UrlRefused(f"{what} {url!r} carries credentials")
        if origin == _origin(self.manifest_url) or origin[1] in self.allowed_hosts:
            return url
        raise UrlRefused(
            f"{what} {url!r} is not on the manifest's origin and its host is not among the publisher's allowed hosts"
        )


def check_address(address: IPAddress, *, allow_private_networks: bool) -> None:
    """Raise `AddressRefused` for an address a publisher must not be fetched from.

    Link-local (cloud metadata services live there), multicast, reserved and unspecified addresses are
    always refused. Loopback and private ranges (RFC 1918, unique-local, carrier-grade NAT) only when the
    deployment allows private networks (`--allow-private-networks`: a demo, tests, or an intranet).
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Loopback first: IPv6's ::1 also lies in a reserved block.
    if not address.is_loopback and (
        address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved
    ):
        raise AddressRefused(f"address {address} is link-local, multicast, reserved or unspecified; refused")
    if address.is_loopback or address.is_private or not address.is_global:
        if allow_private_networks:
            return
        kind = "loopback" if address.is_loopback else "in a private range"
        raise AddressRefused(f"address {address} is {kind}; refused (private networks are not allowed)")


async def resolve_checked(host: str, port: int, *, allow_private_networks: bool) -> IPAddress:
    """Resolve `host`, check every address it has, and return the first (to connect to)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, allow_private_networks=allow_private_networks)
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"cannot resolve host {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise AddressRefused(f"host {host!r} has no address")
    for address in addresses:
        check_address(address, allow_private_networks=allow_private_networks)
    return addresses[0]


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that resolves and checks each request's host, then connects to that address.

    The request keeps its `Host` header, and TLS keeps the name for SNI and certificate checks, so
    pinning the address changes nothing a server sees. Redirects are not followed here (the fetcher
    follows them itself, checking each hop through this same transport).
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, allow_private_networks: bool) -> None:
        self._inner = inner
        self._allow = allow_private_networks

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise UrlRefused(f"URL {str(url)!r} is not an absolute http(s) URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await resolve_checked(url.host, port, allow_private_networks=self._allow)
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        request.url = url.copy_with(host=str(address))
        try:
            return await self._inner.handle_async_request(request)
        finally:
            request.url = url

    async def aclose(self) -> None:
        await self._inner.aclose()
