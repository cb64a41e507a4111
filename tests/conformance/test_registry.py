"""Every check is declared once, next to its logic, and nothing can name a check that is not declared."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import slotlinks.conformance
from slotlinks.conformance import CHECKS, Check, checks_for
from slotlinks.conformance.checks import manifest, slots, vaccine_2021
from slotlinks.conformance.registry import UnregisteredCheck, check, registered
from slotlinks.conformance.results import Results

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(slotlinks.conformance.__file__).parent
#: What a check id looks like: `group.name`, lower case with dashes (`practitioner-role.npi`).
CHECK_ID = re.compile(r"[a-z][a-z-]*\.[a-z][a-z-]*")
#: Strings shaped like ids that are file names, not checks (`slots.ndjson`, `report.html`).
FILE_SUFFIXES = ("ndjson", "json", "xml", "html")
GROUPS = frozenset(c.id.split(".", 1)[0] for c in CHECKS.values())
#: A misspelt id, built so that the scan below does not find it in this file.
MISSPELT = "slot." + "bookng-link-url"


def named_check_ids(source: str) -> set[str]:
    """Every string literal in `source` that names a check: id-shaped, in a known group, not a file name."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CHECK_ID.fullmatch(node.value):
            group, name = node.value.split(".", 1)
            if group in GROUPS and name not in FILE_SUFFIXES:
                found.add(node.value)
    return found


def _sources() -> list[Path]:
    """The checker's own modules, and every test module that imports it."""
    tests = [
        path
        for path in (ROOT / "tests").rglob("*.py")
        if "slotlinks.conformance" in path.read_text(encoding="utf-8") or path.parent.name == "conformance"
    ]
    return sorted(PACKAGE.rglob("*.py")) + sorted(tests)


def test_every_check_id_named_in_the_checker_and_its_tests_is_registered() -> None:
    unknown = {
        f"{path.relative_to(ROOT)}: {check_id}"
        for path in _sources()
        for check_id in named_check_ids(path.read_text(encoding="utf-8"))
        if check_id not in CHECKS
    }
    assert not unknown


def test_the_id_scan_finds_a_misspelt_check() -> None:
    source = f'assert "slot.booking-link-url" in failed\nassert "{MISSPELT}" not in failed\nx = "slots.ndjson"'
    found = named_check_ids(source)
    assert found == {"slot.booking-link-url", MISSPELT}
    assert found - set(CHECKS) == {MISSPELT}


def test_every_registered_check_is_reported_once() -> None:
    for module in pkgutil.walk_packages([str(PACKAGE)], "slotlinks.conformance."):
        importlib.import_module(module.name)  # a check declared in any module registers on import
    assert list(registered()) != list(CHECKS)  # declared by module, reported in REPORT_ORDER
    assert sorted(registered()) == sorted(CHECKS)
    assert all(registered()[check_id] is declared for check_id, declared in CHECKS.items())


def test_each_profile_runs_its_own_checks_in_report_order() -> None:
    order = list(CHECKS)
    for profile in ("general", "vaccine"):
        ids = [c.id for c in checks_for(profile)]
        assert ids == [i for i in order if i in ids]
    assert "location.vtrcks" in {c.id for c in checks_for("vaccine")} - {c.id for c in checks_for("general")}
    assert "practitioner-role.npi" in {c.id for c in checks_for("general")} - {c.id for c in checks_for("vaccine")}


def test_fail_with_an_unregistered_check_raises() -> None:
    results = Results(checks_for("general"))
    with pytest.raises(UnregisteredCheck, match=MISSPELT):
        results.fail(Check(MISSPELT, "required", "Slot File", "typo"), "slots.ndjson:1", "javascript: link")
    # Only the declared object names a check: a look-alike with a registered id is refused too.
    look_alike = Check(**{f: getattr(slots.status.check, f) for f in Check.__dataclass_fields__})
    assert look_alike == slots.status.check
    with pytest.raises(UnregisteredCheck):
        results.fail(look_alike, "slots.ndjson:1", "status")
    with pytest.raises(UnregisteredCheck):
        results.skip(look_alike, "reason")
    with pytest.raises(UnregisteredCheck):
        Results([look_alike])


def test_fail_for_a_check_outside_the_profile_is_dropped() -> None:
    results = Results(checks_for("general"))
    results.fail(vaccine_2021.booking_phone.check, "slots.ndjson:1", "Slot/a has no booking-phone")
    assert "slot.booking-phone" not in results.by_id
    assert all(r.count == 0 for r in results.results())


def test_a_checker_records_under_its_own_check() -> None:
    results = Results(checks_for("general"))
    manifest.request_url(results, {"request": "relative/$bulk-publish"})
    found = {r.check.id: [(e.where, e.message) for e in r.examples] for r in results.results() if r.count}
    assert found == {
        "manifest.request-url": [("$bulk-publish", "`request` 'relative/$bulk-publish' is not an absolute http(s) URL")]
    }


def test_a_check_id_cannot_be_declared_twice() -> None:
    def logic(fail: object) -> None: ...

    with pytest.raises(ValueError, match="declared twice"):
        check("slot.status", "required", "Slot File", "again")(logic)
    assert registered()["slot.status"] is slots.status.check
