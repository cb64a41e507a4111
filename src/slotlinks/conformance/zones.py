"""Is a Slot's offset plausible for where its Location is?

Specification, "Slot File": timestamps SHALL carry an accurate offset, which SHOULD be the Location's
local offset or UTC (`Z`). Our rule: `Z` and `+00:00` are always accepted (the spec allows UTC and a
zero offset is UTC, whatever the publisher meant); any other offset must be one that a time zone of
the Location has at that instant. The Location's zones come from its FHIR `timezone` extension when
present, else from its `address.state` through the table below (every IANA zone that covers part of
the state or territory, so a border county never draws a false alarm). Unknown states are not judged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["STATE_ZONES", "offset_plausible", "zones_for"]

_ET = ("America/New_York",)
_CT = ("America/Chicago",)
_MT = ("America/Denver",)
_PT = ("America/Los_Angeles",)

#: US state / territory code -> the IANA zones used somewhere in it.
STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": _CT,
    "AK": (
        "America/Anchorage",
        "America/Juneau",
        "America/Sitka",
        "America/Metlakatla",
        "America/Yakutat",
        "America/Nome",
        "America/Adak",
    ),
    "AZ": ("America/Phoenix", *_MT),
    "AR": _CT,
    "CA": _PT,
    "CO": _MT,
    "CT": _ET,
    "DE": _ET,
    "DC": _ET,
    "FL": (*_ET, *_CT),
    "GA": _ET,
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", *_PT),
    "IL": _CT,
    "IN": (
        "America/Indiana/Indianapolis",
        "America/Indiana/Knox",
        "America/Indiana/Marengo",
        "America/Indiana/Petersburg",
        "America/Indiana/Tell_City",
        "America/Indiana/Vevay",
        "America/Indiana/Vincennes",
        "America/Indiana/Winamac",
        *_CT,
    ),
    "IA": _CT,
    "KS": (*_CT, *_MT),
    "KY": (*_ET, "America/Kentucky/Louisville", "America/Kentucky/Monticello", *_CT),
    "LA": _CT,
    "ME": _ET,
    "MD": _ET,
    "MA": _ET,
    "MI": ("America/Detroit", "America/Menominee"),
    "MN": _CT,
    "MS": _CT,
    "MO": _CT,
    "MT": _MT,
    "NE": (*_CT, *_MT),
    "NV": (*_PT, *_MT),
    "NH": _ET,
    "NJ": _ET,
    "NM": _MT,
    "NY": _ET,
    "NC": _ET,
    "ND": (*_CT, *_MT, "America/North_Dakota/Center", "America/North_Dakota/New_Salem", "America/North_Dakota/Beulah"),
    "OH": _ET,
    "OK": _CT,
    "OR": (*_PT, "America/Boise"),
    "PA": _ET,
    "RI": _ET,
    "SC": _ET,
    "SD": (*_CT, *_MT),
    "TN": (*_CT, *_ET),
    "TX": (*_CT, *_MT),
    "UT": _MT,
    "VT": _ET,
    "VA": _ET,
    "WA": _PT,
    "WV": _ET,
    "WI": _CT,
    "WY": _MT,
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",),
    "AS": ("Pacific/Pago_Pago",),
}


_UTC = timedelta(0)


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_for(state: str | None, timezone: str | None) -> tuple[str, ...]:
    """The zones a Location may use: its timezone extension, else its state's; empty when unknown."""
    if timezone and _zone(timezone) is not None:
        return (timezone,)
    if state:
        return STATE_ZONES.get(state.strip().upper(), ())
    return ()


def offset_plausible(instant: datetime, zones: tuple[str, ...]) -> bool:
    """True when `instant`'s written offset is zero (UTC) or one of `zones` has it at that moment.

    With no zones to compare against, nothing can be proved wrong: True.
    """
    offset = instant.utcoffset()
    if offset is None or offset == _UTC or not zones:
        return True
    for name in zones:
        zone = _zone(name)
        if zone is not None and instant.astimezone(zone).utcoffset() == offset:
            return True
    return False
