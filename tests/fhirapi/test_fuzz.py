"""Malformed search parameters thrown at a real server: always a Bundle or a 400 OperationOutcome,
never a 500 (hypothesis)."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slotlinks.fhirapi.params import PARAMS
from tests.fhirapi.conftest import FhirServer

_NAMES = sorted(
    {name for params in PARAMS.values() for name in params}
    | {"_count", "_sort", "_include", "_revinclude", "_elements", "_summary", "_total", "_cursor"}
    | {"schedule.actor", "schedule.actor:Location.near", "actor:Location.near", "name:exact", "name:contains"}
    | {"start:missing", "schedule:Schedule", "schedule.specialty"}
)
_PIECES = st.sampled_from(
    ["ge", "sa", "2026", "-11", "-30", "T10:00", ":00", "Z", "+05:00", "|", ",", "\\", "-", "km", "mi_us", "42.3"]
)
_VALUES = st.one_of(
    st.text(max_size=30),
    st.lists(_PIECES, max_size=8).map("".join),
    st.from_regex(r"(eq|ne|gt|lt|ge|le|sa|eb)?[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2})?)?)?", fullmatch=True),
    # The ends of the calendar (issue 12, finding 7): a range a day or an offset away from overflowing.
    st.tuples(
        st.sampled_from(["", "ge", "le", "sa", "eb"]),
        st.sampled_from(["0001-01-01", "0001-01", "0001", "9999-12-31", "9999-12", "9999"]),
        st.sampled_from(["", "T00:00:00-12:00", "T23:59:59+14:00", "T12:00:00Z"]),
    ).map("".join),
)


def test_no_500_on_malformed_searches(fhir_server: FhirServer) -> None:
    types = sorted(PARAMS)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        rtype=st.sampled_from(types),
        pairs=st.lists(st.tuples(st.sampled_from(_NAMES), _VALUES), max_size=4),
        strict=st.booleans(),
    )
    def check(rtype: str, pairs: list[tuple[str, str]], strict: bool) -> None:
        headers = {"Prefer": "handling=strict"} if strict else {}
        try:
            response = fhir_server.client.get(f"/{rtype}", params=pairs, headers=headers)
        except httpx.InvalidURL:
            return
        assert response.status_code in (200, 400), (rtype, pairs, response.text)
        body = response.json()
        assert body["resourceType"] == ("Bundle" if response.status_code == 200 else "OperationOutcome")

    check()
