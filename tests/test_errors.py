"""The one error vocabulary: every error class is drawn in the tree at the top of `slotlinks.errors` with
its FHIR issue code and HTTP status, and each app's one handler answers a rate-limited request with 429,
`Retry-After`, and an OperationOutcome `throttled` (or, where the request was a page, the page)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import httpx
import orjson
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response

import slotlinks
import slotlinks.errors
from slotlinks.config import Settings
from slotlinks.errors import RateLimited, SlotlinksError, SlotUnavailable, Unauthorized
from slotlinks.provider.app import create_app
from slotlinks.provider.store.store import open_store
from slotlinks.web.errors import install_error_handlers
from tests.servers import serve

#: The codes of FHIR R4's IssueType value set (http://hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_TYPES = {
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired",
    "forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches", "not-found",
    "deleted", "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict", "transient",
    "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled", "informational",
}  # fmt: skip

#: The kernel's parse failures: `ValueError`s by design, named in the docstring's "Outside the tree".
KERNEL_VALUE_ERRORS = {"slotlinks.fhir.instant.InvalidInstant", "slotlinks.fhir.ids.InvalidReference"}

_TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+) +(?P<code>[a-z-]+) +(?P<status>\d{3})\b")


def _drawn_tree(doc: str) -> dict[str, tuple[str | None, str, int]]:
    """The tree drawn in `doc`: class name -> (drawn parent, code, status)."""
    lines = doc[doc.index("    SlotlinksError") :].split("\n\n", 1)[0].splitlines()
    drawn: dict[str, tuple[str | None, str, int]] = {}
    path: list[str] = []
    for line in lines:
        found = _TREE_LINE.match(line)
        assert found, f"not a line of the tree: {line!r}"
        depth = (len(found["indent"]) - 4) // 4  # the tree is indented by 4; each level adds 4
        del path[depth:]
        drawn[found["name"]] = (path[-1] if path else None, found["code"], int(found["status"]))
        path.append(found["name"])
    return drawn


def _exception_classes() -> set[type[BaseException]]:
    """Every exception class defined in any slotlinks module (but `__main__`, which runs the command)."""
    names = [info.name for info in pkgutil.walk_packages(slotlinks.__path__, prefix="slotlinks.")]
    modules = [slotlinks] + [importlib.import_module(name) for name in names if not name.endswith(".__main__")]
    return {
        value
        for module in modules
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
    }


def _misdrawn(doc: str) -> list[str]:
    """What `doc` (the errors module's docstring) gets wrong about slotlinks' error classes."""
    drawn = _drawn_tree(doc)
    classes = _exception_classes()
    ours = {cls for cls in classes if issubclass(cls, SlotlinksError)}
    problems = [f"{name} is drawn but not defined" for name in sorted(set(drawn) - {c.__name__ for c in ours})]
    for cls in sorted(ours, key=lambda c: c.__name__):
        name = cls.__name__
        if name not in drawn:
            problems.append(f"{name} is not drawn in the tree")
            continue
        parent, code, status = drawn[name]
        if cls.__module__ != "slotlinks.errors":
            problems.append(f"{name} is defined in {cls.__module__}, not in slotlinks.errors")
        if (cls.code, cls.status) != (code, status):
            problems.append(f"{name} is {cls.code} {cls.status} but drawn as {code} {status}")
        if cls.code not in ISSUE_TYPES:
            problems.append(f"{name}: {cls.code!r} is not a FHIR issue type")
        if [base.__name__ for base in cls.__bases__] != ([parent] if parent else ["Exception"]):
            problems.append(f"{name} is drawn under {parent}, but its bases are {cls.__bases__}")
    for other in classes - ours:
        qualified = f"{other.__module__}.{other.__qualname__}"
        if qualified not in KERNEL_VALUE_ERRORS:
            problems.append(f"{qualified} stands outside the tree")
        elif f"`{qualified.removeprefix('slotlinks.')}`" not in doc:
            problems.append(f"{qualified} is not named among the errors outside the tree")
    return problems


def test_every_error_class_is_drawn_in_the_tree_with_its_code_and_status() -> None:
    assert _misdrawn(slotlinks.errors.__doc__ or "") == []


def test_a_class_left_out_of_the_tree_is_noticed() -> None:
    doc = slotlinks.errors.__doc__ or ""
    without = "\n".join(line for line in doc.splitlines() if "SlotUnavailable" not in line)
    assert _misdrawn(without) == ["SlotUnavailable is not drawn in the tree"]


def _api() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fhir/Slot")
    def limited() -> None:
        raise RateLimited(42)

    @app.get("/admin/Slot")
    def unauthorized() -> None:
        raise Unauthorized("missing bearer token")

    return app


def test_a_rate_limited_api_request_answers_429_throttled_with_retry_after() -> None:
    with serve(_api()) as origin:
        limited = httpx.get(f"{origin}/fhir/Slot")
        unauthorized = httpx.get(f"{origin}/admin/Slot")
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/fhir+json"
    assert limited.headers["retry-after"] == "42"
    assert orjson.loads(limited.content) == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "throttled", "diagnostics": "too many attempts; retry after 42 s"}],
    }
    assert "www-authenticate" not in limited.headers
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    assert "retry-after" not in unauthorized.headers


async def _wait_page(_request: Request, error: SlotlinksError) -> Response:
    return HTMLResponse(f"<h1>Please wait</h1><p>{error.message}</p>", status_code=error.status)


def test_an_app_answers_the_errors_it_names_with_its_page_and_the_rest_as_outcomes() -> None:
    app = FastAPI()
    install_error_handlers(app, pages={RateLimited: _wait_page})

    @app.post("/book/{slot_id}")
    def attempt(slot_id: str) -> None:
        if slot_id == "busy":
            raise SlotUnavailable(slot_id, "taken")
        raise RateLimited(7)

    with serve(app) as origin:
        page = httpx.post(f"{origin}/book/free")
        taken = httpx.post(f"{origin}/book/busy")
    assert page.status_code == 429
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "7", "the handler adds Retry-After to the page"
    assert "Please wait" in page.text
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/fhir+json"
    assert orjson.loads(taken.content)["issue"][0]["code"] == "conflict"


def test_the_portal_answers_a_rate_limited_booking_attempt_with_its_429_page(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        base_url="http://publisher.test:8001/fhir",
        admin_token="test-admin-token-0123456789",
        portal_secret="portal-secret-for-tests-0123456789",
        booking_attempts=1,
        booking_window_seconds=600,
    )
    store = open_store(f"sqlite:///{tmp_path / 'provider.db'}")
    try:
        with serve(create_app(settings, store)) as origin, httpx.Client(base_url=origin) as client:
            first = client.post("/book/some-slot", data={"csrf": "x"})
            limited = client.post("/book/some-slot", data={"csrf": "x"})
    finally:
        store.dispose()
    assert first.status_code == 403, "the one allowed attempt reaches the route (and fails its CSRF check)"
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "600"
    assert limited.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in limited.headers["content-security-policy"]
    assert "Please wait about 10 minutes" in limited.text
