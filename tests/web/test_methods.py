"""What schemathesis found (issue 12, "Also"), pinned: a 405 names every method its path takes, and
routes that share a path prefix do not answer for each other."""

from __future__ import annotations

from tests.web.conftest import ADMIN_TOKEN, DiscoveryServer, ProviderServer

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_405_names_every_method_of_the_path(provider: ProviderServer, discovery: DiscoveryServer) -> None:
    for client, path, allowed in (
        (provider.client, "/admin/settings", "GET, PUT"),
        (provider.client, "/admin/Schedule/sch-1/rules/rule-1", "PUT, DELETE"),
        (provider.client, "/admin/Location/loc-1", "GET, PUT, DELETE"),
        (discovery.client, "/admin/publishers/1", "GET, DELETE"),
        (discovery.client, "/api/search", "GET"),
    ):
        answer = client.request("TRACE", path, headers=ADMIN)
        assert answer.status_code == 405, (path, answer.text)
        assert answer.headers.get("allow") == allowed, path
        assert answer.json()["resourceType"] == "OperationOutcome"


def test_admin_paths_are_not_read_as_a_resource_type_or_id(
    provider: ProviderServer, discovery: DiscoveryServer
) -> None:
    # `/admin/settings` is not a resource type, nor `$import` a publisher id: each path is its own route.
    assert provider.client.post("/admin/settings", headers=ADMIN, json={}).status_code == 405
    assert provider.client.delete("/admin/Slot/some-slot", headers=ADMIN).status_code == 405
    imported = discovery.client.get("/admin/publishers/$import", headers=ADMIN)
    assert imported.status_code == 405
    assert imported.headers["allow"] == "POST"
    huge = discovery.client.get(f"/admin/publishers/{10**22}", headers=ADMIN)
    assert huge.status_code == 400, huge.text
