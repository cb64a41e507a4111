"""FHIR JSON's own rules, on each line's JSON as published (before any decoder forgives it).

FHIR R4 "JSON Representation of Resources": no element is `null` and no string, array or object is
empty (both profiles: a feed with `"code": null` inside a coding fails `--profile vaccine` as well);
under `--profile general`, every element is one its type defines, an element that repeats is an
array and one that does not is not, and each primitive has its type's JSON type and format (FHIR R4
"Data Types"). Findings name the JSON path (`$.extension[0].valueCoding.code`). The element table is
`conformance.elements`; an element of a type it does not know is walked for nulls and empties only.
"""

from __future__ import annotations

from typing import Any

from slotlinks.conformance.elements import CHECKED_TYPES, ELEMENTS, PRIMITIVES, Element, primitive_problem
from slotlinks.conformance.registry import BOTH_PROFILES, ONLY_GENERAL, Checker, Fail, Failures, check

__all__ = ["JsonRules", "element_shape", "known_elements", "no_empty", "no_null", "primitive_format"]

_SECTION = "FHIR R4 JSON Representation"


def _declare(
    id: str, title: str, section: str = _SECTION, profiles: frozenset[str] = BOTH_PROFILES
) -> Checker[[str, str], None]:
    """A check whose findings the walk below makes; its own logic only passes one on."""

    def logic(fail: Fail, where: str, message: str) -> None:
        fail(where, message)

    return check(id, "required", section, title, profiles=profiles)(logic)


no_null = _declare("json.no-null", "No element is `null`")
no_empty = _declare("json.no-empty", "No string, array or object is empty")
known_elements = _declare("json.known-elements", "Every element is one its FHIR type defines", profiles=ONLY_GENERAL)
element_shape = _declare(
    "json.element-shape",
    "Repeating elements are arrays, others are not; complex elements are objects",
    profiles=ONLY_GENERAL,
)
primitive_format = _declare(
    "json.primitive-format",
    "Primitive values have their type's JSON type and format (id, instant, dateTime, date, code, uri...)",
    section="FHIR R4 Data Types",
    profiles=ONLY_GENERAL,
)


class JsonRules:
    """The walk over one line's JSON; `check` reports into the run's results (failers bound once)."""

    def __init__(self, results: Failures) -> None:
        self._null = results.failer(no_null.check)
        self._empty = results.failer(no_empty.check)
        self._unknown = results.failer(known_elements.check)
        self._shape = results.failer(element_shape.check)
        self._format = results.failer(primitive_format.check)
        self._where = ""

    def check(self, where: str, raw: dict[str, Any], rtype: str) -> None:
        """Every rule on a resource of type `rtype` (its `resourceType` already checked)."""
        self._where = where
        try:
            self._object(raw, rtype, "$")
        except RecursionError:  # nesting deeper than a resource's elements go; never a crash
            self._shape(where, "$ nests too deeply to be checked element by element")

    def _object(self, obj: dict[str, Any], ftype: str, path: str) -> None:
        if not obj:
            self._empty(self._where, f"{path} is an empty object")
            return
        elements = ELEMENTS.get(ftype)
        if elements is None:
            self._opaque(obj, path)
            return
        for name, value in obj.items():
            sub = f"{path}.{name}"
            element = elements.get(name)
            if element is not None:
                self._value(value, element, sub)
            elif name[:1] == "_" and (base := elements.get(name[1:])) is not None and base.type in PRIMITIVES:
                self._companion(value, base.repeats, sub)
            elif name == "resourceType" and ftype in CHECKED_TYPES:
                continue
            else:
                self._unknown(self._where, f"{sub}: {ftype} has no element `{name}`")
                self._opaque(value, sub)

    def _value(self, value: Any, element: Element, path: str) -> None:
        if isinstance(value, list):
            if not element.repeats:
                self._shape(self._where, f"{path} is an array, but does not repeat")
            elif not value:
                self._empty(self._where, f"{path} is an empty array")
            for i, item in enumerate(value):
                self._item(item, element.type, f"{path}[{i}]")
            return
        if element.repeats and value is not None:
            self._shape(self._where, f"{path} repeats, so it is an array")
        self._item(value, element.type, path)

    def _item(self, value: Any, ftype: str, path: str) -> None:
        if value is None:
            self._null(self._where, f"{path} is null")
        elif ftype in PRIMITIVES:
            if isinstance(value, dict | list):
                self._shape(self._where, f"{path} is a JSON {'object' if isinstance(value, dict) else 'array'}")
                self._opaque(value, path)
            elif value == "":
                self._empty(self._where, f"{path} is an empty string")
            elif (problem := primitive_problem(ftype, value)) is not None:
                self._format(self._where, f"{path} {problem}")
        elif isinstance(value, dict):
            if ftype == "Resource":  # `contained`: walked as its own type when it is one we know
                contained = value.get("resourceType")
                ftype = contained if isinstance(contained, str) and contained in CHECKED_TYPES else "?"
            self._object(value, ftype, path)
        else:
            self._shape(self._where, f"{path} is not a JSON object ({ftype})")
            if value == "":
                self._empty(self._where, f"{path} is an empty string")

    def _companion(self, value: Any, repeats: bool, path: str) -> None:
        """A primitive's `_name` sibling: its id and extensions (nulls keep an array's places)."""
        if repeats and isinstance(value, list):
            if not value:
                self._empty(self._where, f"{path} is an empty array")
            for i, item in enumerate(value):
                if item is not None:
                    self._item(item, "Element", f"{path}[{i}]")
        else:
            self._item(value, "Element", path)

    def _opaque(self, value: Any, path: str) -> None:
        """Nulls and empties inside JSON whose elements are not known."""
        if value is None:
            self._null(self._where, f"{path} is null")
        elif isinstance(value, dict):
            if not value:
                self._empty(self._where, f"{path} is an empty object")
            for name, item in value.items():
                self._opaque(item, f"{path}.{name}")
        elif isinstance(value, list):
            if not value:
                self._empty(self._where, f"{path} is an empty array")
            for i, item in enumerate(value):
                self._opaque(item, f"{path}[{i}]")
        elif value == "":
            self._empty(self._where, f"{path} is an empty string")
