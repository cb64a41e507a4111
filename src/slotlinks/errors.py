"""The one error vocabulary of slotlinks.

Every error a service raises is a `SlotlinksError`; each carries the FHIR issue type
(`IssueType` value set, http://hl7.org/fhir/R4/valueset-issue-type.html) and the HTTP status it
maps to, so a single handler turns any of them into an OperationOutcome. Services never raise
HTTP exceptions.

    SlotlinksError            exception      500
    ├── InvalidInput          invalid        400  malformed resource, parameter or file
    ├── Unauthorized          login          401  missing or wrong credentials
    ├── Forbidden             forbidden      403  authenticated, but not allowed
    ├── NotFound              not-found      404  no such resource
    ├── Conflict              conflict       409  the change clashes with current state
    ├── TooLarge              too-long       413  input beyond a configured limit
    └── Unavailable           transient      503  a dependency did not answer in time
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "Issue",
    "NotFound",
    "SlotlinksError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "raise_invalid",
]

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, shaped like an OperationOutcome.issue."""

    diagnostics: str
    code: str = "invalid"
    severity: Severity = "error"
    expression: tuple[str, ...] = field(default=())


class SlotlinksError(Exception):
    """Base of every error slotlinks raises on purpose."""

    code: ClassVar[str] = "exception"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        expression: Sequence[str] = (),
        issues: Sequence[Issue] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expression = tuple(expression)
        self._issues = tuple(issues)

    @property
    def issues(self) -> tuple[Issue, ...]:
        """The issues to report: the explicit ones, else one built from the message."""
        if self._issues:
            return self._issues
        return (Issue(self.message, code=self.code, expression=self.expression),)


class InvalidInput(SlotlinksError):
    code = "invalid"
    status = 400


class Unauthorized(SlotlinksError):
    code = "login"
    status = 401


class Forbidden(SlotlinksError):
    code = "forbidden"
    status = 403


class NotFound(SlotlinksError):
    code = "not-found"
    status = 404


class Conflict(SlotlinksError):
    code = "conflict"
    status = 409


class TooLarge(SlotlinksError):
    code = "too-long"
    status = 413


class Unavailable(SlotlinksError):
    code = "transient"
    status = 503


def raise_invalid(errors: Sequence[Issue], what: str = "", *, issues: Sequence[Issue] | None = None) -> None:
    """Raises `InvalidInput` when there are `errors`: the message names the first one and how many more,
    prefixed by `what`; the outcome carries `issues` (default: the errors themselves)."""
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        prefix = f"{what}: " if what else ""
        raise InvalidInput(f"{prefix}{errors[0].diagnostics}{more}", issues=errors if issues is None else issues)
