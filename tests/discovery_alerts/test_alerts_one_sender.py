"""Two discovery servers on one database (behind a load balancer) send an alert's news once: only the
server holding the alerts' singleton makes passes (`db.singleton`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from slotlinks.discovery.app import create_app
from tests.discovery_alerts.conftest import World
from tests.servers import serve_with_origin


def test_a_second_server_on_the_same_database_does_not_send_the_news_again(world: World) -> None:
    cancel_link = world.book()
    world.sync_now()
    world.clock.advance(minutes=1)
    assert world.ask(to="2026-11-25").status_code == 202
    world.confirm(world.inbox.wait_for(1)[0])

    # A second server whose worker looks every 50 ms, so it would race the first to any news.
    eager = replace(world.settings, extra={"alert_tick_seconds": 0.05})

    def make_second(origin: str) -> Any:
        return create_app(replace(eager, discovery_url=world.discovery), world.store, background_sync=False)

    with serve_with_origin(make_second):
        time.sleep(0.3)  # both workers are running
        world.clock.advance(minutes=1)
        world.cancel(cancel_link)
        world.sync_now()
        news = world.inbox.wait_for(2, timeout=10)[1]
        assert world.inbox.settle(2.0) == 2, "the news went once"
    assert news["Subject"].startswith("1 new appointment time:")
