"""The `/admin/publishers` API: Bearer token required, CRUD, import and sync-now over real HTTP."""

from __future__ import annotations

import dataclasses

import httpx
import orjson
from fastapi import FastAPI

from slotlinks.config import Settings
from slotlinks.discovery.publishers.routes import publishers_router
from slotlinks.discovery.store.store import DiscoveryStore
from slotlinks.discovery.sync import SyncEngine
from slotlinks.web.errors import install_error_handlers
from tests.discovery.conftest import ADMIN_TOKEN
from tests.discovery.test_registry import CVS_ENTRY
from tests.servers import serve

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _app(settings: Settings, store: DiscoveryStore) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(publishers_router(settings, store, sync_engine=SyncEngine(store, settings)))
    return app


def test_token_required(store: DiscoveryStore, settings: Settings) -> None:
    with serve(_app(settings, store)) as origin:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": ADMIN_TOKEN}):
            r = httpx.get(f"{origin}/admin/publishers", headers=headers)
            assert r.status_code == 401
            assert r.json()["resourceType"] == "OperationOutcome"
            assert r.json()["issue"][0]["code"] == "login"
    disabled = dataclasses.replace(settings, admin_token="")
    with serve(_app(disabled, store)) as origin:
        assert httpx.get(f"{origin}/admin/publishers", headers=AUTH).status_code == 401


def test_crud_import_and_sync(store: DiscoveryStore, settings: Settings, corpus: dict[str, str]) -> None:
    with serve(_app(settings, store)) as origin, httpx.Client(base_url=origin, headers=AUTH, timeout=30) as http:
        r = http.post("/admin/publishers", json={"url": corpus["walgreens"], "name": "Walgreens", "states": ["AK"]})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert r.json()["states"] == ["AK"]
        assert http.post("/admin/publishers", json={"url": corpus["walgreens"], "name": "x"}).status_code == 409
        assert http.post("/admin/publishers", json={"name": "x"}).status_code == 400
        r = http.post("/admin/publishers/$import", content=orjson.dumps(CVS_ENTRY))
        assert len(r.json()["added"]) == 1
        cvs_id = r.json()["added"][0]["id"]
        assert http.post(f"/admin/publishers/{cvs_id}/pause").json()["paused"] is True
        runs = http.post("/admin/publishers/$sync").json()
        assert [(run["publisher"], run["outcome"]) for run in runs] == [(pid, "full")]
        listed = {p["id"]: p for p in http.get("/admin/publishers").json()}
        assert listed[pid]["counts"] == {"Location": 1, "Schedule": 1, "Slot": 1}
        assert listed[pid]["lastSuccessMs"] is not None
        assert http.post(f"/admin/publishers/{cvs_id}/resume").json()["paused"] is False
        assert http.delete(f"/admin/publishers/{cvs_id}").status_code == 204
        assert http.get(f"/admin/publishers/{cvs_id}").status_code == 404
        assert http.post("/admin/publishers/999/pause").status_code == 404
