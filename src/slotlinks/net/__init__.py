"""The URL and address policy for every outbound request (the SSRF guard).

- `guard`: Which URLs the sync engine may fetch, and a transport that refuses forbidden addresses (SSRF guard).
"""

from __future__ import annotations

from slotlinks.net.guard import AddressRefused, GuardedTransport, UrlPolicy, UrlRefused, check_address, resolve_checked

__all__ = ["AddressRefused", "GuardedTransport", "UrlPolicy", "UrlRefused", "check_address", "resolve_checked"]
