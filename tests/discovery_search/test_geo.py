"""Geography: haversine distances, ZIP centroids, bounding boxes, radii."""

from __future__ import annotations

import pytest
import zipcodes
from hypothesis import given
from hypothesis import strategies as st

from slotlinks.discovery.geo import Point, bounding_box, haversine_miles, parse_near, parse_radius, zip_centroid


def test_haversine_known_distances() -> None:
    assert haversine_miles(42.3601, -71.0589, 42.3601, -71.0589) == 0
    boston_nyc = haversine_miles(42.3601, -71.0589, 40.7128, -74.0060)
    assert 188 < boston_nyc < 192
    # A quarter of the Earth's circumference along the equator.
    assert haversine_miles(0, 0, 0, 90) == pytest.approx(6218.4, rel=1e-3)
    assert haversine_miles(1, 2, 3, 4) == pytest.approx(haversine_miles(3, 4, 1, 2))


def test_zip_centroid() -> None:
    point = zip_centroid("02114")
    assert point is not None
    assert point.lat == pytest.approx(42.3611)
    assert point.lon == pytest.approx(-71.0682)
    assert point.tz == "America/New_York"
    assert zip_centroid("02114-1234") == point
    assert zip_centroid("00000") is None
    assert zip_centroid("abcde") is None


def test_zip_centroids_are_the_packages_own_for_every_code_in_a_sample_across_the_range() -> None:
    # Read once per process by prefix (geo._zip_table); the package's look-up of one code is the truth.
    for n in range(0, 100_000, 61):
        five = f"{n:05d}"
        found = zipcodes.matching(five)  # type: ignore[no-untyped-call]
        point = zip_centroid(five)
        if not found:
            assert point is None, five
            continue
        assert point is not None, five
        assert (point.lat, point.lon) == (float(found[0]["lat"]), float(found[0]["long"])), five
        assert point.tz == (found[0]["timezone"] or None), five


def test_parse_near_and_radius() -> None:
    assert parse_near(" 42.36, -71.06 ") == Point(42.36, -71.06, None, label="42.3600,-71.0600")
    assert parse_near("02114").tz == "America/New_York"
    for bad in ("00000", "91,0", "0,181", "Boston", ""):
        with pytest.raises(ValueError, match=r"."):
            parse_near(bad)
    assert parse_radius("25mi") == 25
    assert parse_radius("25") == 25
    assert parse_radius("40km") == pytest.approx(24.85, abs=0.01)
    assert parse_radius("10 KM") == pytest.approx(6.21, abs=0.01)
    for bad in ("-5mi", "0", "25 parsecs", "", "1000mi"):
        with pytest.raises(ValueError, match=r"."):
            parse_radius(bad)


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-180, 180),
    miles=st.floats(0.5, 500),
    bearing_lat=st.floats(-1, 1),
    bearing_lon=st.floats(-1, 1),
)
def test_bbox_contains_every_point_within_radius(
    lat: float, lon: float, miles: float, bearing_lat: float, bearing_lon: float
) -> None:
    center = Point(lat, lon)
    box = bounding_box(center, miles)
    # A candidate point somewhere around the centre; when within the radius it must be in the box.
    plat = max(-90.0, min(90.0, lat + bearing_lat * miles / 69.0))
    plon = lon + bearing_lon * miles / 20.0
    plon = (plon + 180.0) % 360.0 - 180.0
    if haversine_miles(lat, lon, plat, plon) > miles:
        return
    assert box.min_lat <= plat <= box.max_lat
    if box.wraps:
        assert plon >= box.min_lon or plon <= box.max_lon
    else:
        assert box.min_lon <= plon <= box.max_lon
