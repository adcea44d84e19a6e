"""Twilio Programmable Messaging stand-in: ``/twilio/2010-04-01/Accounts/{sid}/Messages.json``.

Follows the public Message resource docs: Basic ``AccountSid:AuthToken`` auth, form fields
``To``/``From``|``MessagingServiceSid``/``Body``/``StatusCallback``, a 201 JSON message with an
``SM…`` sid, and Twilio's error JSON ``{code, message, more_info, status}``. Admin endpoints emit
signed status callbacks and inbound messages.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from sandbox.kit.faults import retry_headers
from sandbox.messaging import (
    Fault,
    MessagingState,
    accept,
    basic_credentials,
    deliver,
    finish,
    receive,
    state,
    utc_now,
)

PROVIDER = "twilio"
API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}


def num_segments(body: str) -> int:
    """SMS segments: GSM-7 is 160 septets alone or 153 per part; anything else is UCS-2, 70 or 67."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


def error(status: int, code: int, message: str, retry_after: str | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                         "status": status}, status_code=status, headers=retry_headers(retry_after))


def fault_response(fault: Fault) -> JSONResponse:
    code = fault.code or (20429 if fault.status == 429 else 20500)
    default = "Too Many Requests" if fault.status == 429 else "Internal Server Error"
    return error(fault.status, code, fault.body or default, fault.retry_after)


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _authenticated(st: MessagingState, request: Request, account_sid: str) -> bool:
    credentials = basic_credentials(request)
    if credentials is None:
        return False
    user, password = credentials
    token = st.credentials.twilio_accounts.get(user)
    return user == account_sid and token is not None and hmac.compare_digest(token, password)


def _validate(st: MessagingState, form: dict[str, Any]) -> JSONResponse | None:
    to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
    body, media = form.get("Body"), form.get("MediaUrl")
    if not to:
        return error(400, 21604, "A 'To' phone number is required.")
    if not isinstance(to, str) or not E164.match(to):
        return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not sender and not service:
        return error(400, 21603, "A 'From' phone number is required.")
    if not body and not media:
        return error(400, 21602, "Message body is required.")
    if isinstance(body, str) and len(body) > 1600:
        return error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if to in st.credentials.twilio_unsubscribed:
        return error(400, 21610, "Attempt to send to unsubscribed recipient")
    return None


def _resource(account_sid: str, sid: str, form: dict[str, Any], status: str) -> dict[str, Any]:
    now = format_datetime(utc_now(), usegmt=True).replace("GMT", "+0000")
    body = str(form.get("Body") or "")
    return {
        "account_sid": account_sid, "api_version": API_VERSION, "body": body, "date_created": now,
        "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
        "error_message": None, "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0", "num_segments": str(num_segments(body)), "price": None, "price_unit": "USD",
        "sid": sid, "status": status, "subresource_uris": {
            "media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        "to": form.get("To"), "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
    }


class StatusCallbackIn(BaseModel):
    message_sid: str
    status: str = "delivered"
    error_code: str | None = None
    url: str | None = None


class InboundIn(BaseModel):
    url: str
    from_: str = Field(alias="from")
    to: str
    body: str
    account_sid: str | None = None
    messaging_service_sid: str | None = None

    model_config = {"populate_by_name": True}


def install(app: FastAPI) -> None:
    state(app)
    router = APIRouter()

    @router.post("/twilio/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def create_message(request: Request, account_sid: str) -> Response:
        st, record, failed = await receive(request, PROVIDER, fault_response)
        if failed:
            return failed
        if not _authenticated(st, request, account_sid):
            return finish(record, JSONResponse({
                "code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.", "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}, status_code=401))
        form = record["body"] if isinstance(record["body"], dict) else {}
        invalid = _validate(st, form)
        if invalid:
            return finish(record, invalid)
        sid = "SM" + secrets.token_hex(16)
        resource = _resource(account_sid, sid, form, "accepted" if form.get("MessagingServiceSid") else "queued")
        st.add_message({
            "provider": PROVIDER, "kind": "sms", "id": sid, "to": [form["To"]],
            "from": form.get("From") or form.get("MessagingServiceSid"), "body": resource["body"],
            "num_segments": int(resource["num_segments"]), "status": resource["status"],
            "status_callback": form.get("StatusCallback"), "account_sid": account_sid, "resource": resource})
        return await accept(st, record, PROVIDER, JSONResponse(resource, status_code=201))

    @router.get("/twilio/2010-04-01/Accounts/{account_sid}/Messages.json")
    def list_messages(request: Request, account_sid: str) -> Response:
        """The account's messages, newest first, filtered by ``To`` / ``From``, in pages of
        ``PageSize`` (1..1000) with Twilio's page envelope (``messages``, ``next_page_uri`` …)."""
        st = state(request.app)
        if not _authenticated(st, request, account_sid):
            return JSONResponse({"code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.",
                                 "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003",
                                 "status": 401}, status_code=401)
        query = request.query_params
        try:
            size, page = int(query.get("PageSize", "50")), int(query.get("Page", "0"))
        except ValueError:
            return JSONResponse({"code": 20001, "message": "Invalid paging parameter", "status": 400}, status_code=400)
        size = max(1, min(size, 1000))
        with st.lock:
            found = [m["resource"] for m in reversed(st.messages)
                     if m["provider"] == PROVIDER and m.get("account_sid") == account_sid
                     and (not query.get("To") or m["to"][0] == query["To"])
                     and (not query.get("From") or m["from"] == query["From"])]
        chunk = found[page * size:(page + 1) * size]
        base = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"

        def uri(number: int) -> str:
            params = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}
            return f"{base}?{urlencode({**params, 'PageSize': size, 'Page': number})}"

        more = (page + 1) * size < len(found)
        return JSONResponse({"messages": chunk, "start": page * size, "end": page * size + max(len(chunk) - 1, 0),
                             "page": page, "page_size": size, "uri": uri(page), "first_page_uri": uri(0),
                             "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if more else None,
                             "previous_page_uri": uri(page - 1) if page > 0 else None})

    @router.post("/_sandbox/messaging/twilio/status-callback")
    def emit_status(request: Request, emit: StatusCallbackIn) -> dict[str, Any]:
        """POSTs a signed status callback for a recorded message (to its StatusCallback by default)."""
        st = state(request.app)
        message = st.find_message(PROVIDER, emit.message_sid)
        if message is None:
            raise HTTPException(404, f"no recorded twilio message {emit.message_sid}")
        url = emit.url or message.get("status_callback")
        if not url:
            raise HTTPException(400, "the message has no StatusCallback; pass url")
        params = {"AccountSid": message["account_sid"], "ApiVersion": API_VERSION, "From": str(message["from"]),
                  "To": message["to"][0], "MessageSid": emit.message_sid, "SmsSid": emit.message_sid,
                  "MessageStatus": emit.status, "SmsStatus": emit.status}
        if emit.error_code:
            params["ErrorCode"] = emit.error_code
        message["status"] = emit.status
        token = st.credentials.twilio_accounts[message["account_sid"]]
        headers = {"X-Twilio-Signature": signature(token, url, params),
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        return {**deliver(url, headers=headers, data=params), "params": params}

    @router.post("/_sandbox/messaging/twilio/inbound")
    def emit_inbound(request: Request, emit: InboundIn) -> dict[str, Any]:
        """POSTs a signed inbound SMS (a customer's reply); STOP words unsubscribe the sender."""
        st = state(request.app)
        account_sid = emit.account_sid or next(iter(st.credentials.twilio_accounts))
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": account_sid,
                  "From": emit.from_, "To": emit.to, "Body": emit.body, "NumMedia": "0", "NumSegments": "1",
                  "ApiVersion": API_VERSION}
        if emit.messaging_service_sid:
            params["MessagingServiceSid"] = emit.messaging_service_sid
        if emit.body.strip().upper() in STOP_WORDS:
            with st.lock:
                if emit.from_ not in st.credentials.twilio_unsubscribed:
                    st.credentials.twilio_unsubscribed.append(emit.from_)
        token = st.credentials.twilio_accounts[account_sid]
        headers = {"X-Twilio-Signature": signature(token, emit.url, params)}
        return {**deliver(emit.url, headers=headers, data=params), "params": params}

    app.include_router(router)
