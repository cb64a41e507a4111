"""The publisher registry: which `$bulk-publish` endpoints are followed, and how fresh each one is.

- `freshness`: How fresh each publisher's data is, and the publisher status page's figures.
- `registry`: The publisher registry: which `$bulk-publish` endpoints this discovery client polls.
- `routes`: The discovery admin API for publishers, under `/admin/publishers` (token-authenticated).

Routes and commands (the modules named routes, pages or cli) are wired by the app factory and the CLI,
which import them by module path; what is listed below is the capability's surface for the rest of slotlinks.
"""

from __future__ import annotations

from slotlinks.discovery.publishers import registry
from slotlinks.discovery.publishers.freshness import describe_age, publisher_statuses
from slotlinks.discovery.publishers.registry import add_publisher, list_publishers

__all__ = ["add_publisher", "describe_age", "list_publishers", "publisher_statuses", "registry"]
