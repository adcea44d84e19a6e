"""SendGrid stand-in: ``POST /sendgrid/v3/mail/send`` per the v3 Mail Send reference.

Bearer API-key auth, JSON body with required ``personalizations`` and ``from``, ``202`` with an
empty body and ``X-Message-Id``, errors as ``{"errors": [{message, field, help}]}``. An admin
endpoint emits Signed Event Webhook posts (ECDSA P-256 over ``timestamp + body``) whose public
key is at ``GET /_sandbox/messaging/config`` (``sendgrid_public_key``).
"""
from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from sandbox.kit.faults import retry_headers
from sandbox.messaging import Fault, MessagingState, accept, deliver, finish, receive, state

PROVIDER = "sendgrid"
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


def error(status: int, message: str, field: str | None = None, help_anchor: str | None = None,
          retry_after: str | None = None) -> JSONResponse:
    item = {"message": message, "field": field, "help": f"{HELP}#{help_anchor}" if help_anchor else None}
    return JSONResponse({"errors": [item]}, status_code=status, headers=retry_headers(retry_after))


def fault_response(fault: Fault) -> JSONResponse:
    default = "too many requests" if fault.status == 429 else "internal server error"
    response = error(fault.status, fault.body or default, retry_after=fault.retry_after)
    if fault.status == 429:
        response.headers["X-RateLimit-Limit"] = "600"
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = str(int(time.time()) + int(float(fault.retry_after or 1)))
    return response


def _auth_error(st: MessagingState, request: Request) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    if not header:
        return error(401, "authorization required")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip(), st.credentials.sendgrid_api_key):
        return error(401, "The provided authorization grant is invalid, expired, or revoked")
    return None


def _validate(body: Any) -> JSONResponse | None:
    if not isinstance(body, dict):
        return error(400, "Bad Request")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return error(400, "The personalizations field is required and must have at least one personalization.",
                     "personalizations", "-Personalizations-Errors")
    for p in personalizations:
        if not isinstance(p, dict) or not p.get("to") or not all(isinstance(t, dict) and t.get("email")
                                                                 for t in p["to"]):
            return error(400, "The to array is required for all personalization objects, and must have at "
                              "least one email object with a valid email address.", "personalizations.0.to",
                         "message.personalizations.to")
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        return error(400, "The from object must be provided for every email send. It is an object that requires "
                          "an email parameter, but may also contain a name parameter.", "from", "message.from")
    template = str(body.get("template_id") or "")
    if not template and not body.get("subject") and not all(p.get("subject") for p in personalizations):
        return error(400, "The subject is required. You can get around this requirement if you use a template "
                          "with a subject defined or if every personalization has a subject defined.",
                     "subject", "message.subject")
    if not template and not body.get("content"):
        return error(400, "Unless a valid template_id is provided, the content parameter is required. There must "
                          "be at least one defined content block.", "content", "message.content")
    return None


def _content(body: dict[str, Any], kind: str) -> str | None:
    for block in body.get("content") or []:
        if isinstance(block, dict) and block.get("type") == kind:
            return str(block.get("value") or "")
    return None


class EventIn(BaseModel):
    message_id: str
    url: str
    event: str = "delivered"
    email: str | None = None
    reason: str | None = None


def install(app: FastAPI) -> None:
    state(app)
    router = APIRouter()

    @router.post("/sendgrid/v3/mail/send")
    async def send(request: Request) -> Response:
        st, record, failed = await receive(request, PROVIDER, fault_response)
        if failed:
            return failed
        denied = _auth_error(st, request)
        if denied:
            return finish(record, denied)
        body = record["body"]
        invalid = _validate(body)
        if invalid:
            return finish(record, invalid)
        message_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")[:22]
        recipients = [t["email"] for p in body["personalizations"] for t in p["to"]]
        st.add_message({
            "provider": PROVIDER, "kind": "email", "id": message_id, "to": recipients,
            "from": body["from"]["email"], "subject": body.get("subject") or body["personalizations"][0].get("subject"),
            "text": _content(body, "text/plain"), "html": _content(body, "text/html"),
            "tags": body.get("categories") or [], "headers": body.get("headers") or {},
            "variables": body.get("custom_args") or {},
            "attachments": [{"filename": a.get("filename"), "content_type": a.get("type"),
                             "size": len(base64.b64decode(a.get("content") or ""))}
                            for a in body.get("attachments") or []],
            "status": "processed"})
        accepted = Response(status_code=202, headers={"X-Message-Id": message_id})
        return await accept(st, record, PROVIDER, accepted)

    @router.get("/sendgrid/v3/scopes")
    async def scopes(request: Request) -> Response:
        """The API key's permissions (``GET /v3/scopes``): a full-access key lists ``mail.send``."""
        st = state(request.app)
        denied = _auth_error(st, request)
        return denied or JSONResponse({"scopes": ["mail.send", "mail.batch.read", "scopes.read"]})

    @router.post("/_sandbox/messaging/sendgrid/events")
    def emit_event(request: Request, emit: EventIn) -> dict[str, Any]:
        """POSTs a signed Event Webhook batch (one event) for a recorded message."""
        st = state(request.app)
        message = st.find_message(PROVIDER, emit.message_id)
        if message is None:
            raise HTTPException(404, f"no recorded sendgrid message {emit.message_id}")
        event: dict[str, Any] = {
            "email": emit.email or message["to"][0], "timestamp": int(time.time()), "event": emit.event,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": f"{emit.message_id}.filterdrecv-{secrets.token_hex(4)}-1-0",
            "smtp-id": f"<{emit.message_id}@sandbox>", **message.get("variables", {}),
        }
        if emit.reason:
            event["reason"] = emit.reason
        message["status"] = emit.event
        raw = json.dumps([event]).encode()
        timestamp = str(int(time.time()))
        signature = st.sendgrid_private_key.sign(timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
        headers = {"Content-Type": "application/json",
                   "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                   "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}
        return {**deliver(emit.url, headers=headers, content=raw), "events": [event]}

    app.include_router(router)
