"""The server's CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html), built from the
same parameter tables the parser uses, so it lists exactly what is supported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slotlinks.fhirapi.params import PARAMS
from slotlinks.fhirapi.request import INCLUDES, REVINCLUDES

__all__ = ["capability_statement"]

_SEARCH_PARAM_BASE = "http://hl7.org/fhir/SearchParameter/"


def capability_statement(
    base: str,
    *,
    software: str = "slotlinks",
    date: str = "2026-01-01",
    extra_resources: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A `capabilities` statement for a read + search-type server at `base`; `extra_resources` are
    further `rest.resource` entries the server's other routers serve (e.g. Subscription)."""
    resources = []
    for rtype, params in PARAMS.items():
        resources.append(
            {
                "type": rtype,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchInclude": [i for i, (source, _) in INCLUDES.items() if source == rtype],
                "searchRevInclude": [i for i, (target, _) in REVINCLUDES.items() if target == rtype],
                "searchParam": [
                    {
                        "name": p.name,
                        "definition": f"{_SEARCH_PARAM_BASE}{rtype}-{p.name.lstrip('_')}"
                        if not p.name.startswith("_")
                        else f"{_SEARCH_PARAM_BASE}Resource{p.name}",
                        "type": p.type,
                        "documentation": p.doc,
                    }
                    for p in params.values()
                ],
            }
        )
    for entry in resources:
        for key in ("searchInclude", "searchRevInclude"):
            if not entry[key]:
                del entry[key]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "kind": "instance",
        "software": {"name": software},
        "implementation": {"description": "SMART Scheduling Links FHIR read/search", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources + [dict(extra) for extra in extra_resources],
                "searchParam": [
                    {"name": "_count", "type": "number"},
                    {"name": "_sort", "type": "string"},
                    {"name": "_elements", "type": "string"},
                    {"name": "_summary", "type": "token", "documentation": "count or false"},
                    {"name": "_total", "type": "token", "documentation": "none, estimate or accurate"},
                ],
            }
        ],
    }
