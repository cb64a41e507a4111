"""Geography for search: ZIP centroids, great-circle distances, bounding boxes, radii.

The Slot Discovery Client "finds slots across publishers, helps weigh distance vs wait" (SPEC-NOTES,
Roles). Where a patient is comes from a ZIP code (its centroid, from the offline `zipcodes` data, which
also gives the patient's IANA time zone) or from a latitude/longitude pair. Distances are great-circle
(haversine) on a sphere of the Earth's mean radius; a latitude/longitude bounding box lets SQL narrow
candidates by index (`ix_feed_location_lat_lon`) before the exact distance is computed in Python.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import zipcodes

__all__ = [
    "EARTH_RADIUS_MILES",
    "KM_PER_MILE",
    "BBox",
    "Point",
    "bounding_box",
    "haversine_miles",
    "parse_near",
    "parse_radius",
    "zip_centroid",
    "zip_point",
]

EARTH_RADIUS_MILES = 3958.7613
KM_PER_MILE = 1.609344
MAX_RADIUS_MILES = 500.0

_ZIP_RE = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")
_LATLON_RE = re.compile(r"\s*([+-]?[0-9]+(?:\.[0-9]+)?)\s*,\s*([+-]?[0-9]+(?:\.[0-9]+)?)\s*")
_RADIUS_RE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(mi|miles?|km|kilomet(?:er|re)s?)?\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Point:
    """A position in degrees; `tz` is the IANA time zone when known (ZIP codes carry one)."""

    lat: float
    lon: float
    tz: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class BBox:
    """A latitude/longitude box that contains every point within some distance of a centre."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float
    wraps: bool = False  # crosses the antimeridian: longitude outside [max_lon, min_lon] instead


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in miles between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(center: Point, miles: float) -> BBox:
    """A box containing every point within `miles` of `center` (slightly larger, never smaller).

    Latitude spans `miles / R` radians either side. The longitude half-width is taken at the box's
    pole-ward edge, where a degree of longitude is shortest; near a pole the box spans every longitude.
    """
    dlat = math.degrees(miles / EARTH_RADIUS_MILES)
    min_lat, max_lat = center.lat - dlat, center.lat + dlat
    edge = max(abs(min_lat), abs(max_lat))
    if edge >= 89.9:
        return BBox(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)
    ratio = math.sin(miles / EARTH_RADIUS_MILES) / math.cos(math.radians(edge))
    dlon = 180.0 if ratio >= 1 else math.degrees(math.asin(ratio))
    # Half a per-cent of margin: the exact distance check follows, so a slightly larger box is free.
    dlon *= 1.005
    min_lon, max_lon = center.lon - dlon, center.lon + dlon
    if dlon >= 180.0:
        return BBox(min_lat, max_lat, -180.0, 180.0)
    if min_lon < -180.0:
        return BBox(min_lat, max_lat, min_lon + 360.0, max_lon, wraps=True)
    if max_lon > 180.0:
        return BBox(min_lat, max_lat, min_lon, max_lon - 360.0, wraps=True)
    return BBox(min_lat, max_lat, min_lon, max_lon)


_Centroid = tuple[float, float, str | None]


@cache
def _zip_table() -> dict[str, _Centroid]:
    """Every ZIP code's centroid and time zone, read from the package's compiled table once per
    process (about 0.2 s, 11 MB), two-digit prefix by two-digit prefix: its own look-up of one code
    scans the whole table (0.5 ms, a tenth of a search's time when the code was new to the
    process), and its `list_all` holds all 42,000 records as Python dicts at once (88 MB)."""
    table: dict[str, _Centroid] = {}
    zones: dict[str, str] = {}  # one string per zone, shared by its codes
    for prefix in range(100):
        records: list[dict[str, Any]] = zipcodes.similar_to(f"{prefix:02d}")  # type: ignore[no-untyped-call]
        for record in records:
            try:
                lat, lon = float(record["lat"]), float(record["long"])
            except (KeyError, TypeError, ValueError):
                continue
            zone = record.get("timezone") or None
            table.setdefault(str(record["zip_code"]), (lat, lon, zones.setdefault(zone, zone) if zone else None))
    return table


def zip_point(five: str) -> _Centroid | None:
    """(latitude, longitude, IANA time zone) of the centroid of a five-digit ZIP code, or None when
    unknown."""
    return _zip_table().get(five)


def zip_centroid(code: str) -> Point | None:
    """The centroid and time zone of a US ZIP code (`02114` or `02114-1234`), or None if unknown."""
    if not _ZIP_RE.fullmatch(code.strip()):
        return None
    five = code.strip()[:5]
    found = zip_point(five)
    if found is None:
        return None
    return Point(found[0], found[1], found[2], label=five)


def parse_near(text: str) -> Point:
    """A ZIP code or `lat,lon` in degrees. Raises ValueError saying what is wrong."""
    text = text.strip()
    if _ZIP_RE.fullmatch(text):
        point = zip_centroid(text)
        if point is None:
            raise ValueError(f"unknown ZIP code {text!r}")
        return point
    m = _LATLON_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is neither a 5-digit ZIP code nor 'latitude,longitude'")
    lat, lon = float(m.group(1)), float(m.group(2))
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is out of range (-90..90)")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} is out of range (-180..180)")
    return Point(lat, lon, None, label=f"{lat:.4f},{lon:.4f}")


def parse_radius(text: str) -> float:
    """A radius in miles from `25mi`, `40km` or a bare number (miles). Raises ValueError."""
    m = _RADIUS_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a radius: write e.g. 25mi, 40km or 25")
    value = float(m.group(1))
    unit = (m.group(2) or "mi").lower()
    miles = value / KM_PER_MILE if unit.startswith("k") else value
    if not 0.0 < miles <= MAX_RADIUS_MILES:
        raise ValueError(f"radius must be more than 0 and at most {MAX_RADIUS_MILES:g} miles")
    return miles
