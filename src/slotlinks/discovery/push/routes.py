"""The notification endpoint: `POST /push/{publisher id}`, where publishers deliver what they push.

Each subscription names its own endpoint and secret (manager.py); a notification must carry that
secret as `Authorization: Bearer <secret>`. Answers: 200 when accepted (applied, or already applied),
401 for a missing or wrong secret, 404 when no subscription to that publisher is live here, 400 for a
body that is not a notification, 413 for one over `MAX_NOTIFICATION_BYTES`; errors as OperationOutcome.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from slotlinks.discovery.push.manager import PushManager
from slotlinks.web.bodies import read_body

__all__ = ["MAX_NOTIFICATION_BYTES", "push_router"]

#: A notification carries the changes of a short window; a larger one is refused, and a gap follows.
MAX_NOTIFICATION_BYTES = 16 * 1024 * 1024


def push_router(manager: PushManager) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/push/{publisher_id}")
    async def notification(publisher_id: int, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        await manager.authenticate(publisher_id, authorization)  # before reading a stranger's body
        body = await read_body(request, MAX_NOTIFICATION_BYTES)
        await manager.receive(publisher_id, authorization, body)
        return Response(status_code=200)

    return router
