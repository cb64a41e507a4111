"""Times as patients read them, one way on every page (`web.timetext`), in English and Spanish."""

from __future__ import annotations

from datetime import date

import pytest

from slotlinks.web.i18n import speaking
from slotlinks.web.timetext import clock, clock_zone, day, day_short, day_words, in_zone, moment_text, zone_words

AFTERNOON = "2026-12-08T18:05:00Z"  # 1:05 PM in Boston, 10:05 AM in Los Angeles


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ("1:05 PM", "1:05 PM EST", "Tuesday, December 8", "Tue, Dec 8", "Eastern Time")),
        ("es", ("1:05 p. m.", "1:05 p. m. EST", "martes, 8 de diciembre", "mar, 8 dic", "hora oriental")),
    ],
)
def test_a_time_in_the_places_zone_and_the_pages_language(language: str, expected: tuple[str, ...]) -> None:
    moment = in_zone(AFTERNOON, "America/New_York")
    with speaking(language):
        got = (clock(moment), clock_zone(moment), day(moment), day_short(moment), zone_words(moment))
    # CLDR separates "p. m." with no-break spaces of two widths; compared here as plain spaces.
    assert [" ".join(text.replace("\u202f", " ").split()) for text in got] == list(expected)


def test_the_zone_is_the_locations_not_the_instants() -> None:
    with speaking("en"):
        assert clock_zone(in_zone(AFTERNOON, "America/Los_Angeles")) == "10:05 AM PST"
        assert clock_zone(in_zone("2026-12-08T13:05:00-05:00", None)) == "1:05 PM UTC-05:00"
        assert clock_zone(in_zone(AFTERNOON, "Not/AZone")) == "6:05 PM UTC"


def test_today_and_tomorrow_in_words() -> None:
    moment = in_zone(AFTERNOON, "America/New_York")
    with speaking("es"):
        assert day_words(moment, date(2026, 12, 8)) == "Hoy"
        assert day_words(moment, date(2026, 12, 7)) == "Mañana"
        assert day_words(moment, date(2026, 12, 1)) == "martes, 8 de diciembre"
    with speaking("en"):
        assert moment_text(moment) == "Tuesday, December 8, 1:05 PM EST"
