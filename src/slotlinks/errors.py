"""The one error vocabulary of slotlinks.

Every error slotlinks raises on purpose is a `SlotlinksError`; each carries the FHIR issue type
(`IssueType` value set, http://hl7.org/fhir/R4/valueset-issue-type.html) and the HTTP status it
maps to, so the one handler of each app (`web.errors`) turns any of them into an OperationOutcome,
or into the app's page for it. Services never raise HTTP exceptions. A capability's own error is a
subclass here, under the error whose status it answers with:

    SlotlinksError                exception  500
    ├── UnregisteredCheck         exception  500  a conformance finding for a check no `@check` declared (our bug)
    ├── InvalidInput              invalid    400  malformed resource, parameter or file
    ├── Unauthorized              login      401  missing or wrong credentials
    ├── Forbidden                 forbidden  403  authenticated, but not allowed
    │   ├── UrlRefused            forbidden  403  a URL the fetch policy does not allow (scheme, host, origin)
    │   └── AddressRefused        forbidden  403  a host that resolves to an address the network guard refuses
    ├── NotFound                  not-found  404  no such resource
    ├── Conflict                  conflict   409  the change clashes with current state
    │   ├── SlotUnavailable       conflict   409  a slot that can no longer be held or booked
    │   └── LeaseLost             lock-error 409  a sync worker's lease on a publisher passed to another worker
    ├── TooLarge                  too-long   413  input beyond a configured limit
    ├── RateLimited               throttled  429  too many attempts; carries the Retry-After seconds
    └── Unavailable               transient  503  a dependency did not answer in time
        ├── FetchError            transient  503  a publisher download that could not be completed
        │   └── HttpStatusError   transient  503  a publisher answered with an unexpected HTTP status
        └── SourceError           transient  503  a publication file the validator could not open

Outside the tree, on purpose: the FHIR kernel's parsers raise `ValueError`s (`fhir.instant.InvalidInstant`,
`fhir.ids.InvalidReference`), as `datetime.fromisoformat` does. Callers turn them into an `InvalidInput`
or an `Issue` that names the field; the formatters raise the same errors for programming mistakes (a naive
datetime), which must stay server errors rather than read as the client's bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

__all__ = [
    "AddressRefused",
    "Conflict",
    "FetchError",
    "Forbidden",
    "HttpStatusError",
    "InvalidInput",
    "Issue",
    "LeaseLost",
    "NotFound",
    "RateLimited",
    "SlotUnavailable",
    "SlotlinksError",
    "SourceError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "UnregisteredCheck",
    "UrlRefused",
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


class UnregisteredCheck(SlotlinksError):
    """A conformance failure, skip or run named a check that no `@check` declared: a bug in slotlinks,
    raised at once so that a misspelt check cannot pass unnoticed."""


class InvalidInput(SlotlinksError):
    """A malformed resource, parameter or file."""

    code = "invalid"
    status = 400


class Unauthorized(SlotlinksError):
    """Missing or wrong credentials (the handler adds `WWW-Authenticate: Bearer`)."""

    code = "login"
    status = 401


class Forbidden(SlotlinksError):
    """Authenticated, or no authentication needed, but not allowed."""

    code = "forbidden"
    status = 403


class UrlRefused(Forbidden):
    """A URL the fetch policy does not allow (scheme, host or origin); see `net.guard`."""


class AddressRefused(Forbidden):
    """A host that resolves to an address the network guard refuses; raised before any connection."""


class NotFound(SlotlinksError):
    """No such resource."""

    code = "not-found"
    status = 404


class Conflict(SlotlinksError):
    """The change clashes with the current state."""

    code = "conflict"
    status = 409


class SlotUnavailable(Conflict):
    """The slot cannot be held or booked (2026 IG, "Find, Hold, Book"): `reason` is `gone`, `past`,
    `taken` (busy, full or held by someone else) or `expired` (the patient's own hold ran out and the
    slot was taken meanwhile)."""

    def __init__(self, slot_id: str, reason: str) -> None:
        super().__init__(f"Slot/{slot_id} is no longer available ({reason})")
        self.slot_id = slot_id
        self.reason = reason


class LeaseLost(Conflict):
    """A sync worker no longer holds its lease on the publisher it is loading (it lapsed and another
    worker claimed it): the worker must leave that publisher's data and state alone."""

    code = "lock-error"

    def __init__(self, publisher_id: int) -> None:
        super().__init__(f"the sync lease on publisher {publisher_id} passed to another worker")
        self.publisher_id = publisher_id


class TooLarge(SlotlinksError):
    """Input beyond a configured limit."""

    code = "too-long"
    status = 413


class RateLimited(SlotlinksError):
    """Too many attempts: try again in `retry_after` seconds (whole seconds, at least 1), which the
    handler sends as `Retry-After` (RFC 9110, section 10.2.3)."""

    code = "throttled"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class Unavailable(SlotlinksError):
    """A dependency did not answer, or not in time."""

    code = "transient"
    status = 503


class FetchError(Unavailable):
    """A download that could not be completed (network, protocol, truncation, encoding)."""


class HttpStatusError(FetchError):
    """The server answered with a status other than 200 (or 304 where allowed)."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"{url} answered HTTP {status}")
        self.url = url
        self.status_code = status


class SourceError(Unavailable):
    """A publication file the validator could not open: missing, HTTP error, connection failure."""


def raise_invalid(errors: Sequence[Issue], what: str = "", *, issues: Sequence[Issue] | None = None) -> None:
    """Raises `InvalidInput` when there are `errors`: the message names the first one and how many more,
    prefixed by `what`; the outcome carries `issues` (default: the errors themselves)."""
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        prefix = f"{what}: " if what else ""
        raise InvalidInput(f"{prefix}{errors[0].diagnostics}{more}", issues=errors if issues is None else issues)
