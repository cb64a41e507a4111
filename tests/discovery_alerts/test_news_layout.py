"""An alert's news and an earlier-time offer's share one layout (`messages.news_message`): each kind
keeps its own words where it puts them, and neither borrows the other's. No servers: the messages
are built directly."""

from __future__ import annotations

from email.message import EmailMessage

from slotlinks.discovery.alerts.matcher import Match
from slotlinks.discovery.alerts.messages import News, alert_news, news_message
from slotlinks.discovery.alerts.offer_text import STAYS, earlier_news
from tests.discovery_alerts.conftest import body

MATCHES = [
    Match((1, "a", 1), "Clinic A", "Boston", 3.46, "Mon 9:00", "https://f.example/go/1", "Flu shot"),
    Match((1, "b", 2), "Clinic B", "", None, "Tue 10:00", "https://f.example/go/2", None),
]
UNSUBSCRIBE = "https://f.example/alerts/1/unsubscribe?token=t"


def _message(news: News) -> EmailMessage:
    return news_message(
        sender="alerts@f.example",
        to="p@f.example",
        news=news,
        matches=MATCHES,
        unsubscribe=UNSUBSCRIBE,
        period_minutes=5,
    )


def test_each_kind_lists_its_times_in_its_own_words_and_only_the_offer_says_the_booking_stays() -> None:
    alert = _message(alert_news(criteria={"service": "flu"}, count=2, ends="December 24, 2026"))
    offer = _message(earlier_news(criteria={"place": "Clinic A"}, count=2, ends="December 24, 2026"))

    alert_parts, offer_parts = body(alert).split("\n\n"), body(offer).split("\n\n")
    assert alert_parts[0].startswith("2 new open times matching your alert for flu")
    assert alert_parts[1:3] == [
        "1. Mon 9:00 at Clinic A, Boston (3.5 miles)\n   Flu shot\n   Book: https://f.example/go/1",
        "2. Tue 10:00 at Clinic B\n   Book: https://f.example/go/2",
    ]
    assert offer_parts[0].startswith("2 earlier times opened at Clinic A, before your appointment on")
    assert offer_parts[1:3] == [
        "1. Mon 9:00\n   Flu shot\n   Book: https://f.example/go/1",
        "2. Tue 10:00\n   Book: https://f.example/go/2",
    ]
    assert offer_parts[3].startswith(STAYS)  # between the times and the closing lines
    assert STAYS not in body(alert)
    assert alert_parts[3] == offer_parts[4]  # the same closing lines
    assert alert_parts[4].startswith("This alert ends on December 24, 2026.")
    assert offer_parts[5].startswith("This offer ends on December 24, 2026 at the latest")
    assert (len(alert_parts), len(offer_parts)) == (5, 6)
    assert offer["Subject"] == "2 earlier times opened at Clinic A"
    assert alert["Subject"] == "2 new appointment times: flu"


def test_a_long_search_is_cut_from_the_subject_not_from_the_body() -> None:
    service = "a very long service name " * 10
    message = _message(alert_news(criteria={"service": service}, count=1, ends="December 24, 2026"))
    assert len(message["Subject"]) == 150
    assert service in body(message)
