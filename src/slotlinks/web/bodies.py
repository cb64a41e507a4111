"""Reading request bodies with a size limit, for the admin API (FHIR JSON, NDJSON) and the portal's
and staff pages' forms. A body over its limit is refused as soon as it is known to be: from its
declared Content-Length, else while it streams in, so an endless upload never fills memory."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from slotlinks.errors import TooLarge
from slotlinks.fhir.ndjson import DEFAULT_MAX_LINE_BYTES

__all__ = ["MAX_BODY_BYTES", "MAX_FORM_BYTES", "read_body", "read_form"]

#: One resource, rule or settings object; imports have their own limit (`settings.max_import_bytes`).
MAX_BODY_BYTES = DEFAULT_MAX_LINE_BYTES
#: A page's form: a few fields and answers, never files.
MAX_FORM_BYTES = 64 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is {declared} bytes; this endpoint takes at most {limit}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"the body is over {limit} bytes, the most this endpoint takes")
    return bytes(data)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (no multipart: our forms carry no files)."""
    body = await read_body(request, MAX_FORM_BYTES)
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
