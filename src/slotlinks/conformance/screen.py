"""A fast path for FHIR JSON's rules: a strict msgspec decoder per resource type, built from the
element table, that accepts a line only when the walk in `checks/json_rules.py` would find nothing.

Its contract: it may decline a clean line (the walk then runs and finds nothing), never accept one
the walk would reject. So it knows no `_name` companions, `contained` resources or value types the
table leaves opaque (a line with one takes the walk), refuses every null, empty string and empty
array, and leaves empty objects, which a struct of optional fields would accept, to a byte search
before it. tests/conformance/test_json_rules.py holds it to that contract on every broken case.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import msgspec

from slotlinks.conformance.elements import CHECKED_TYPES, ELEMENTS, FORMATS, PRIMITIVES

__all__ = ["clean"]

_EMPTY_OBJECT = re.compile(rb"\{\s*\}")
_PREFIX = "_Screen_"


def _anchored(pattern: str) -> str:
    # msgspec searches rather than full-matches, and `$` alone would accept a trailing newline.
    return f"^(?:{pattern})$(?!\\n)"


def _primitive(ftype: str) -> Any:
    if ftype == "boolean":
        return bool
    if ftype == "decimal":
        return float
    if ftype in ("integer", "positiveInt", "unsignedInt"):
        least = {"positiveInt": 1, "unsignedInt": 0}.get(ftype)
        return int if least is None else Annotated[int, msgspec.Meta(ge=least)]
    pattern = FORMATS.get(ftype)
    if pattern is None:
        return Annotated[str, msgspec.Meta(min_length=1)]
    return Annotated[str, msgspec.Meta(min_length=1, pattern=_anchored(pattern.pattern))]


def _field_type(ftype: str, repeats: bool) -> Any:
    if ftype in ELEMENTS:
        item: Any = f"{_PREFIX}{ftype.replace('.', '_')}"  # resolved in this module once all exist
    else:
        item = _primitive(ftype)
    return Annotated[list[item], msgspec.Meta(min_length=1)] if repeats else item


def _build() -> dict[str, msgspec.json.Decoder[Any]]:
    module = sys.modules[__name__]
    for ftype, elements in ELEMENTS.items():
        fields: list[tuple[str, Any, Any]] = [
            (name, _field_type(e.type, e.repeats), None)
            for name, e in elements.items()
            if e.type in ELEMENTS or e.type in PRIMITIVES
        ]
        if ftype in CHECKED_TYPES:
            fields.append(("resourceType", str, None))
        name = f"{_PREFIX}{ftype.replace('.', '_')}"
        struct = msgspec.defstruct(name, fields, kw_only=True, forbid_unknown_fields=True, module=__name__)
        setattr(module, name, struct)
    return {t: msgspec.json.Decoder(getattr(module, f"{_PREFIX}{t}")) for t in CHECKED_TYPES}


_DECODERS = _build()


def clean(rtype: str, data: bytes) -> bool:
    """True when the line certainly has no null, empty value, unknown element, wrong shape or bad
    primitive; False when the walk must look."""
    if _EMPTY_OBJECT.search(data):
        return False
    try:
        _DECODERS[rtype].decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return False
    return True
