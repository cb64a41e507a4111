"""What every server-rendered page and HTTP API shares: error handlers, templating, request bodies, rate limits.

- `bodies`: Reading request bodies with a size limit, for the admin API (FHIR JSON, NDJSON) and the portal's and
  staff pages' forms. A body over its limit is refused as soon as it is known to be: from its declared
  Content-Length, else while it streams in, so an endless upload never fills memory.
- `errors`: One error handler per app: every error leaves the server as an OperationOutcome with its status, or as
  the app's page for it.
- `headers`: The security headers of both servers, from one middleware: nosniff and no referrer on every response,
  one strict nonce Content-Security-Policy and no framing on every page.
- `paths`: Path parameters read alike by every route that takes them: a row's pk, bounded before the store is asked.
- `ratelimit`: Rate limits: small in-process token buckets keyed by client (or username).
- `templating`: The Jinja2 set-up every server-rendered page shares (the portal, the staff pages, the discovery
  client): autoescaping on for every template and undefined names as errors, so a page can neither emit unescaped
  input nor silently render a missing value; and the `tel` filter for `tel:` links. Every value a page prints is
  cleared of bidirectional controls and invisible characters (`visible_text`).
"""

from __future__ import annotations

from slotlinks.web.bodies import MAX_BODY_BYTES, read_body, read_form
from slotlinks.web.errors import FHIR_JSON, install_error_handlers
from slotlinks.web.headers import csp_nonce, install_security_headers
from slotlinks.web.paths import RowPk
from slotlinks.web.ratelimit import RateLimiter, client_key
from slotlinks.web.templating import page_templates

__all__ = [
    "FHIR_JSON",
    "MAX_BODY_BYTES",
    "RateLimiter",
    "RowPk",
    "client_key",
    "csp_nonce",
    "install_error_handlers",
    "install_security_headers",
    "page_templates",
    "read_body",
    "read_form",
]
