"""The publisher registry: add, list, pause, resume, remove, and publisher-repository import."""

from __future__ import annotations

import orjson
import pytest

from slotlinks.discovery.publishers import registry
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.errors import Conflict, InvalidInput, NotFound

CVS_ENTRY = {
    "@context": "https://schema.org/",
    "@type": "Service",
    "_brokenName!": "CVS Health",
    "serviceType": "https://github.com/smart-on-fhir/smart-scheduling-links",
    "url": "https://www.cvs.com/immunizations/inventory/data",
    "provider": {"@type": "Organization", "name": "CVS Health"},
}
EXAMPLE_ENTRY = {
    "@type": "Service",
    "name": "SMART Example Slot Publisher",
    "serviceType": "https://github.com/smart-on-fhir/smart-scheduling-links",
    "url": "https://raw.githubusercontent.com/smart-on-fhir/smart-scheduling-links/master/examples/$bulk-publish",
}


def test_add_list_pause_remove(store: DiscoveryStore) -> None:
    info = registry.add_publisher(
        store,
        url="https://example.org/fhir/$bulk-publish",
        name="Ex",
        states="ma, ri",
        allowed_hosts=["CDN.example.org"],
    )
    assert (info.states, info.allowed_hosts, info.paused) == (["MA", "RI"], ["cdn.example.org"], False)
    assert info.slots == 0
    assert info.last_outcome is None
    with pytest.raises(Conflict):
        registry.add_publisher(store, url="https://example.org/fhir/$bulk-publish", name="again")
    assert registry.set_paused(store, info.id, True).paused
    assert not registry.set_paused(store, info.id, False).paused
    assert [p.id for p in registry.list_publishers(store)] == [info.id]
    registry.remove_publisher(store, info.id)
    assert registry.list_publishers(store) == []
    with pytest.raises(NotFound):
        registry.remove_publisher(store, info.id)


@pytest.mark.parametrize("url", ["ftp://example.org/$bulk-publish", "/relative/$bulk-publish", "https://u:p@x.org/"])
def test_add_refuses_bad_urls(store: DiscoveryStore, url: str) -> None:
    with pytest.raises(InvalidInput):
        registry.add_publisher(store, url=url, name="x")


def test_import_repository(store: DiscoveryStore) -> None:
    other = {**EXAMPLE_ENTRY, "serviceType": "https://example.org/other", "url": "https://o.org/$bulk-publish"}
    result = registry.import_repository(store, orjson.dumps([CVS_ENTRY, EXAMPLE_ENTRY, other, 7]))
    assert [(p.name, p.url) for p in result.added] == [
        ("CVS Health", "https://www.cvs.com/immunizations/inventory/data/$bulk-publish"),
        ("SMART Example Slot Publisher", EXAMPLE_ENTRY["url"]),
    ]
    assert len(result.skipped) == 2
    again = registry.import_repository(store, orjson.dumps(CVS_ENTRY))
    assert again.added == []
    assert "already registered" in again.skipped[0]
    with pytest.raises(InvalidInput):
        registry.import_repository(store, b"{not json")
