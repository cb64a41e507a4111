"""The URL and address policy for every outbound request (the SSRF guard).

- `guard`: Which URLs the sync engine may fetch, and a transport that refuses forbidden addresses (SSRF guard).
"""

from __future__ import annotations

from slotlinks.net.guard import GuardedTransport, UrlPolicy, check_address, resolve_checked

__all__ = ["GuardedTransport", "UrlPolicy", "check_address", "resolve_checked"]
