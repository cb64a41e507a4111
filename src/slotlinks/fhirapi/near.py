"""Location proximity search, `near=lat|long|distance|units` (R4 Location search parameters,
http://hl7.org/fhir/R4/location.html#search, "near"): Locations whose `position` lies within the
distance of the point. Units are UCUM: `km` (default), `m`, `[mi_us]`/`mi_us`, `[mi_i]`/`mi`.
Distances are great-circle (haversine) on a sphere of the Earth's mean radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from slotlinks.fhirapi.params import invalid

__all__ = ["DEFAULT_DISTANCE_KM", "Near", "distance_km", "parse_near", "position_of"]

EARTH_RADIUS_KM = 6371.0088
#: Used when a `near` value gives no distance (the spec leaves the default to the server).
DEFAULT_DISTANCE_KM = 50.0

_UNITS_KM = {
    "km": 1.0,
    "m": 0.001,
    "mi_us": 1.609347219,
    "[mi_us]": 1.609347219,
    "mi": 1.609344,
    "[mi_i]": 1.609344,
}


@dataclass(frozen=True, slots=True)
class Near:
    """A point and a radius in kilometres."""

    latitude: float
    longitude: float
    radius_km: float

    def distance(self, resource: dict[str, Any]) -> float | None:
        """Kilometres from the point to the Location's position, None if it has none."""
        pos = position_of(resource)
        return None if pos is None else distance_km(self.latitude, self.longitude, *pos)

    def within(self, resource: dict[str, Any]) -> bool:
        d = self.distance(resource)
        return d is not None and d <= self.radius_km


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def position_of(resource: dict[str, Any]) -> tuple[float, float] | None:
    pos = resource.get("position")
    if not isinstance(pos, dict):
        return None
    lat, lon = pos.get("latitude"), pos.get("longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return float(lat), float(lon)
    return None


def _number(param: str, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise invalid(param, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise invalid(param, f"{what} {text!r} is not a finite number")
    return value


def parse_near(param: str, text: str) -> Near:
    """Parses `lat|long[|distance[|units]]`."""
    parts = text.split("|")
    if len(parts) < 2 or len(parts) > 4:
        raise invalid(param, f"{text!r} is not lat|long|distance|units")
    lat = _number(param, "latitude", parts[0])
    lon = _number(param, "longitude", parts[1])
    if not -90 <= lat <= 90:
        raise invalid(param, f"latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise invalid(param, f"longitude {lon} is outside -180..180")
    radius = DEFAULT_DISTANCE_KM
    if len(parts) >= 3 and parts[2]:
        distance = _number(param, "distance", parts[2])
        if distance < 0:
            raise invalid(param, f"distance {distance} is negative")
        unit = parts[3] if len(parts) == 4 and parts[3] else "km"
        factor = _UNITS_KM.get(unit)
        if factor is None:
            raise invalid(param, f"unit {unit!r} is not one of {', '.join(_UNITS_KM)}")
        radius = distance * factor
    return Near(lat, lon, radius)
