"""FHIR over HTTP, shared by both servers: errors become OperationOutcome with the error's status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from slotlinks.errors import InvalidInput, Issue, NotFound, SlotlinksError
from slotlinks.fhir.outcome import outcome_bytes

__all__ = ["FHIR_JSON", "install_error_handlers", "outcome_response"]

FHIR_JSON = "application/fhir+json"


def outcome_response(error: SlotlinksError, *, headers: dict[str, str] | None = None) -> Response:
    return Response(outcome_bytes(error), status_code=error.status, media_type=FHIR_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, leaves the server as an OperationOutcome."""

    async def on_slotlinks_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SlotlinksError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return outcome_response(exc, headers=headers)

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        issues = [
            Issue(
                str(err.get("msg", "invalid value")),
                expression=(".".join(str(p) for p in err.get("loc", ()) if p not in {"query", "body"}),),
            )
            for err in exc.errors()
        ]
        return outcome_response(InvalidInput("invalid request", issues=issues))

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return outcome_response(NotFound("no such endpoint or resource"))
        error = SlotlinksError(str(exc.detail))
        response = outcome_response(error)
        response.status_code = exc.status_code
        return response

    app.add_exception_handler(SlotlinksError, on_slotlinks_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
