"""One error handler per app: every error leaves the server as an OperationOutcome with its status, or as
the app's page for it.

ARCHITECTURE.md, "HTTP and pages": FHIR endpoints answer failures with an OperationOutcome
(http://hl7.org/fhir/R4/operationoutcome.html), served as `application/fhir+json`. Each app factory calls
`install_error_handlers` once; the one function it installs answers our errors and the framework's own:

- a `SlotlinksError` (the tree in `slotlinks.errors`): its `status`, its issues;
- a request FastAPI could not validate: 400 `invalid`, one issue per field;
- an unknown path: 404 `not-found`; any other refusal of the framework (405, ...): its status, code `exception`,
  and its headers; a 405's `Allow` names every method the path takes (RFC 9110, section 15.5.6).

An app may answer some of its errors with a page instead (`pages`): the provider's polite 429 page for the
booking attempts its portal limits. Routes raise those errors only where a page is the right answer. A
router of pages answers every error of its routes with a page instead (`page_route`): what a browser asked
for (a date out of range, a malformed id in the path) is never answered with JSON. The handler adds the
headers an error calls for, on the outcome and on a page alike: `Retry-After` for `RateLimited` (RFC 9110,
section 10.2.3) and `WWW-Authenticate: Bearer` for a 401 (RFC 6750, section 3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from slotlinks.errors import InvalidInput, Issue, NotFound, RateLimited, SlotlinksError
from slotlinks.fhir.outcome import outcome_bytes

__all__ = [
    "FHIR_JSON",
    "ErrorPage",
    "FhirResponse",
    "error_headers",
    "install_error_handlers",
    "outcome_response",
    "page_route",
]

FHIR_JSON = "application/fhir+json"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class FhirResponse(JSONResponse):
    """A FHIR JSON body, given encoded or to encode. As a route's `response_class` it is what the OpenAPI
    document names: a JSON document served as `application/fhir+json`."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


#: Renders the page an app answers an error with (its status and body; the handler adds `error_headers`).
ErrorPage = Callable[[Request, SlotlinksError], Awaitable[Response]]


def outcome_response(
    error: SlotlinksError, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """`error` as an OperationOutcome response, with the error's status unless `status` is given."""
    return Response(
        outcome_bytes(error),
        status_code=error.status if status is None else status,
        media_type=FHIR_JSON,
        headers=headers,
    )


def error_headers(error: SlotlinksError) -> dict[str, str]:
    """The response headers `error` calls for: when to try again, or how to authenticate."""
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after)}
    if error.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    return {}


def _framework_error(exc: Exception) -> tuple[SlotlinksError, int | None]:
    """The framework's exception as one of ours, with the status to answer when it is not the error's own."""
    if isinstance(exc, RequestValidationError):
        issues = [
            Issue(
                str(err.get("msg", "invalid value")),
                expression=(".".join(str(p) for p in err.get("loc", ()) if p not in {"query", "body"}),),
            )
            for err in exc.errors()
        ]
        return InvalidInput("invalid request", issues=issues), None
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return NotFound("no such endpoint or resource"), None
    return SlotlinksError(str(exc.detail)), exc.status_code


def _allowed(request: Request) -> str:
    """The `Allow` of a 405: every method some route of the app takes at this path. The framework names
    only the first route it found there, and a resource's methods are often several routes."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    )


def install_error_handlers(app: FastAPI, *, pages: Mapping[type[SlotlinksError], ErrorPage] | None = None) -> None:
    """Installs `app`'s one error handler: our errors and the framework's become OperationOutcomes, except
    the errors `pages` names (and their subclasses), which answer with that page."""
    page_for = dict(pages or {})

    def page(error: SlotlinksError) -> ErrorPage | None:
        # The most specific error class named wins, as with the framework's own handler lookup.
        for kind in type(error).__mro__:
            if issubclass(kind, SlotlinksError) and kind in page_for:
                return page_for[kind]
        return None

    async def on_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, SlotlinksError):
            error, status = _framework_error(exc)
            headers = dict(exc.headers or {}) if isinstance(exc, StarletteHTTPException) else {}
            if status == 405:
                headers["Allow"] = _allowed(request)
            return outcome_response(error, status=status, headers=headers)
        render = page(exc)
        response = await render(request, exc) if render else outcome_response(exc)
        for name, value in error_headers(exc).items():
            response.headers.setdefault(name, value)
        return response

    for kind in (SlotlinksError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(kind, on_error)


async def _page_answer(render: ErrorPage, request: Request, error: SlotlinksError) -> Response:
    response = await render(request, error)
    for name, value in error_headers(error).items():
        response.headers.setdefault(name, value)
    return response


def page_route(render: ErrorPage) -> type[APIRoute]:
    """A route class for a router of pages: an error of ours or the framework's (a path or query value
    it could not read) raised by one of its routes is answered with `render`'s page and the headers the
    error calls for, never with an OperationOutcome."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except SlotlinksError as exc:
                    return await _page_answer(render, request, exc)
                except RequestValidationError as exc:
                    return await _page_answer(render, request, _framework_error(exc)[0])

            return answer

    return PageRoute
