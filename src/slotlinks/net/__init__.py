"""The guarded HTTP client and the URL and address policy for every outbound request (the SSRF guard).

- `client`: The guarded HTTP client: no redirects followed, no environment proxies, timeouts, bounded bodies.
- `guard`: Which URLs the sync engine may fetch, and a transport that refuses forbidden addresses (SSRF guard).

Whether a text is an absolute http(s) URL at all is the kernel's `slotlinks.fhir.urls`; this package
imports nothing of ours but `slotlinks.errors` (where `UrlRefused` and `AddressRefused` live).
"""

from __future__ import annotations

from slotlinks.net.client import GuardedClient, NoReply, Reply, guarded_get
from slotlinks.net.guard import GuardedTransport, UrlPolicy, check_address, resolve_checked

__all__ = [
    "GuardedClient",
    "GuardedTransport",
    "NoReply",
    "Reply",
    "UrlPolicy",
    "check_address",
    "guarded_get",
    "resolve_checked",
]
