"""FHIR REST read/search over a store (ARCHITECTURE.md, `fhirapi/`; http://hl7.org/fhir/R4/search.html).

A search is parsed once into a typed `SearchRequest` (`request.py`, one module per parameter type),
run by `execute.run_search` against a `FhirStore`, and rendered as a `searchset` Bundle.
"""

from __future__ import annotations

from slotlinks.fhirapi.bundle import search_bundle
from slotlinks.fhirapi.capability import capability_statement
from slotlinks.fhirapi.execute import SearchResult, run_search
from slotlinks.fhirapi.request import Criterion, SearchRequest, parse_search
from slotlinks.fhirapi.routes import fhir_router
from slotlinks.fhirapi.store import DESCRIPTIVE_TYPES, FhirStore, Key, SlotQuery

__all__ = [
    "DESCRIPTIVE_TYPES",
    "Criterion",
    "FhirStore",
    "Key",
    "SearchRequest",
    "SearchResult",
    "SlotQuery",
    "capability_statement",
    "fhir_router",
    "parse_search",
    "run_search",
    "search_bundle",
]
