"""The one error vocabulary: every error class is drawn in the tree at the top of `slotlinks.errors` with
its FHIR issue code and HTTP status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import slotlinks
import slotlinks.errors
from slotlinks.errors import SlotlinksError

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
