"""Slack incoming-webhook stand-in: ``POST /slack/services/T…/B…/…``.

The URL path is the secret (unknown paths answer ``404 no_service``); the body is JSON
``{text, blocks}``; success is ``200`` with the plain-text body ``ok``; errors are plain-text codes
(``invalid_payload``, ``no_text`` …) as Slack's incoming-webhook error changelog lists them.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from sandbox.kit.faults import retry_headers
from sandbox.messaging import Fault, accept, finish, receive, state

PROVIDER = "slack"


def error(status: int, code: str, retry_after: str | None = None) -> PlainTextResponse:
    return PlainTextResponse(code, status_code=status, headers=retry_headers(retry_after))


def fault_response(fault: Fault) -> PlainTextResponse:
    default = "rate_limited" if fault.status == 429 else "rollup_error"
    return error(fault.status, fault.body or default, fault.retry_after)


def install(app: FastAPI) -> None:
    state(app)
    router = APIRouter()

    @router.post("/slack/services/{hook:path}")
    async def incoming_webhook(request: Request, hook: str) -> Response:
        st, record, failed = await receive(request, PROVIDER, fault_response)
        if failed:
            return failed
        if hook not in st.credentials.slack_webhooks:
            return finish(record, error(404, "no_service"))
        body = record["body"]
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return finish(record, error(400, "invalid_payload"))
        if not isinstance(body, dict):
            return finish(record, error(400, "invalid_payload"))
        blocks = body.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            return finish(record, error(400, "invalid_blocks"))
        if not body.get("text") and not blocks:
            return finish(record, error(400, "no_text"))
        st.add_message({"provider": PROVIDER, "kind": "slack", "id": f"slack-{record['seq']}", "to": [hook],
                        "webhook": hook, "text": body.get("text"), "blocks": blocks, "status": "ok"})
        return await accept(st, record, PROVIDER, PlainTextResponse("ok"))

    app.include_router(router)
