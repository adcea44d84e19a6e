"""PayPal API endpoints: the OAuth token, captures and their refunds, webhook signature
verification and dispute evidence.

* ``POST /v2/payments/captures/{id}/refund`` (https://developer.paypal.com/api/payments/v2/#captures_refund):
  optional ``{amount: {value, currency_code}, note_to_payer, invoice_id}`` (none: what is left);
  ``PayPal-Request-Id`` seen before → the refund it made, 200, nothing new; ``Prefer:
  return=representation`` answers the whole refund, else ``{id, status, links}``. More than the
  capture has left → 422 ``REFUND_AMOUNT_EXCEEDED``; unknown capture → 404 ``RESOURCE_NOT_FOUND``.
  A capture seeded with ``refund_status: "PENDING"`` answers pending refunds.
* ``POST /v1/notifications/verify-webhook-signature``
  (https://developer.paypal.com/api/webhooks/v1/#verify-webhook-signature_post) → ``SUCCESS`` only
  when the signature over the transmission id, time, the given ``webhook_id`` and the CRC32 of
  ``webhook_event`` (as sent) verifies with the cert's key.
* ``POST /v1/customer/disputes/{id}/provide-evidence`` (multipart ``input`` JSON ``{evidences:
  [{evidence_type, evidence_info?, notes?}]}`` plus files: https://developer.paypal.com/api/customer-disputes/v1/disputes-provide-evidence):
  only while ``WAITING_FOR_SELLER_RESPONSE`` (the ``provide_evidence`` link is there); files
  ``.jpg .jpeg .gif .png .pdf``, each under 10 MB, 50 MB in all; the dispute goes ``UNDER_REVIEW``.
  The issue names of these refusals are this stand-in's.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi.responses import PlainTextResponse, Response

from sandbox.kit import Call
from sandbox.kit.money import to_cents, to_money
from sandbox.paypal.merchant import (
    NOT_FOUND,
    UNPROCESSABLE,
    PayPalState,
    error_body,
    fixture,
    kit,
    public_pem,
    signature_valid,
    signed_string,
)

FILE_TYPES = (".jpg", ".jpeg", ".gif", ".png", ".pdf")
MAX_FILE, MAX_FILES = 10 * 1024 * 1024, 50 * 1024 * 1024


def base(call: Call[PayPalState]) -> str:
    return str(call.request.base_url).rstrip("/") + f"/paypal/{call.state.name}"


@kit.api.post("/v1/oauth2/token")
def token(call: Call[PayPalState] = kit.call) -> Response:
    with call.state.lock:
        value = "A21AA" + secrets.token_urlsafe(32)
        call.state.tokens[value] = call.state.unix() + call.state.token_ttl_s
    return call.reply({"scope": "https://uri.paypal.com/services/payments/refund https://uri.paypal.com/services/"
                       "disputes/update-seller", "access_token": value, "token_type": "Bearer",
                       "app_id": "APP-80W284485P519543T", "expires_in": call.state.token_ttl_s,
                       "nonce": f"{call.state.stamp()}{secrets.token_hex(8)}"})


@kit.api.get("/v2/payments/captures/{capture_id}")
def get_capture(capture_id: str, call: Call[PayPalState] = kit.call) -> Response:
    capture = call.state.captures.get(capture_id)
    return call.reply(public(capture)) if capture else call.reply(error_body(*NOT_FOUND), 404)


@kit.api.get("/v2/payments/refunds/{refund_id}")
def get_refund(refund_id: str, call: Call[PayPalState] = kit.call) -> Response:
    refund = call.state.refunds.get(refund_id)
    return call.reply(public(refund)) if refund else call.reply(error_body(*NOT_FOUND), 404)


def public(record: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else {k: v for k, v in record.items() if not k.startswith("_")}


@kit.api.post("/v2/payments/captures/{capture_id}/refund")
def refund(capture_id: str, call: Call[PayPalState] = kit.call) -> Response:
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    request_id = call.request.headers.get("PayPal-Request-Id")
    whole = "return=representation" in call.request.headers.get("Prefer", "")
    with state.lock:
        if request_id and request_id in state.by_request_id:
            found, status = state.refunds[state.by_request_id[request_id]], 200
        else:
            capture = state.captures.get(capture_id)
            if capture is None:
                return call.reply(error_body(*NOT_FOUND), 404)
            left = to_cents(capture["amount"]["value"]) - capture["_refunded"]
            asked = body.get("amount") if isinstance(body.get("amount"), dict) else {}
            if asked and asked.get("currency_code") != capture["amount"]["currency_code"]:
                return call.reply(error_body("UNPROCESSABLE_ENTITY", UNPROCESSABLE, "CURRENCY_MISMATCH",
                                             "The refund currency must match the capture's currency."), 422)
            cents = to_cents(asked["value"]) if asked else left
            if cents > left or cents <= 0:
                return call.reply(error_body("UNPROCESSABLE_ENTITY", UNPROCESSABLE, "REFUND_AMOUNT_EXCEEDED",
                                             "The refund amount must be less than or equal to the capture amount "
                                             "that has not yet been refunded."), 422)
            state.refunds_created += 1
            found = fixture.fill("refund", id=state.new_id("", 17).upper()[:17], currency=asked.get(
                "currency_code", capture["amount"]["currency_code"]), value=to_money(cents),
                status=capture["_refund_status"], note=body.get("note_to_payer"), invoice_id=body.get("invoice_id"),
                now=state.stamp(), base=base(call), capture=capture_id)
            found["_cents"], found["_capture"], status = cents, capture_id, 201
            capture["_refunded"] += cents
            state.refunds[found["id"]] = found
            if request_id:
                state.by_request_id[request_id] = found["id"]
        shown = public(found) if whole else {"id": found["id"], "status": found["status"], "links": found["links"]}
    return call.reply(shown, status)


@kit.api.get("/v1/notifications/certs/{name}")
def cert(name: str, call: Call[PayPalState] = kit.call) -> Response:
    return call.answer(PlainTextResponse(public_pem()))


@kit.api.post("/v1/notifications/verify-webhook-signature")
def verify(call: Call[PayPalState] = kit.call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    needed = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id",
              "webhook_event")
    missing = [name for name in needed if not body.get(name)]
    if missing:
        return call.reply(error_body("VALIDATION_ERROR", "Invalid request - see details", "MISSING_REQUIRED_PARAMETER",
                                     f"{missing[0]} is required"), 400)
    message = signed_string(body["transmission_id"], body["transmission_time"], body["webhook_id"],
                            json.dumps(body["webhook_event"]).encode())
    ok = body["auth_algo"] == "SHA256withRSA" and signature_valid(body["transmission_sig"], message)
    return call.reply({"verification_status": "SUCCESS" if ok else "FAILURE"})


@kit.api.get("/v1/customer/disputes/{dispute_id}")
def get_dispute(dispute_id: str, call: Call[PayPalState] = kit.call) -> Response:
    dispute = call.state.disputes.get(dispute_id)
    return call.reply(dispute) if dispute else call.reply(error_body(*NOT_FOUND), 404)


@kit.api.post("/v1/customer/disputes/{dispute_id}/provide-evidence")
async def provide_evidence(dispute_id: str, call: Call[PayPalState] = kit.call) -> Response:
    form = await call.request.form()
    files = [(value.filename or "", await value.read()) for key, value in form.multi_items() if not isinstance(value, str)]
    try:
        evidences = json.loads(str(form.get("input") or "")).get("evidences")
    except (ValueError, AttributeError):
        evidences = None
    with call.state.lock:
        dispute = call.state.disputes.get(dispute_id)
        if dispute is None:
            return call.reply(error_body(*NOT_FOUND), 404)
        refusal = evidence_refusal(call.state, dispute, evidences, files)
        if refusal:
            return call.reply(error_body("UNPROCESSABLE_ENTITY", UNPROCESSABLE, *refusal), 422)
        dispute["evidences"] += [{**e, "source": "SUBMITTED_BY_SELLER", "date": call.state.stamp(),
                                  "documents": [{"name": name} for name, _content in files]} for e in evidences or []]
        dispute["status"], dispute["update_time"] = "UNDER_REVIEW", call.state.stamp()
        dispute["links"] = [link for link in dispute["links"] if link["rel"] != "provide_evidence"]
    return call.reply({"links": [{"href": f"{base(call)}/v1/customer/disputes/{dispute_id}", "rel": "self",
                                  "method": "GET"}]})


def evidence_refusal(state: PayPalState, dispute: dict[str, Any], evidences: Any,
                     files: list[tuple[str, bytes]]) -> tuple[str, str] | None:
    if dispute["status"] != "WAITING_FOR_SELLER_RESPONSE":
        return "ACTION_NOT_ALLOWED_IN_CURRENT_STATUS", f"Evidence cannot be provided while the dispute is {dispute['status']}."
    if dispute["seller_response_due_date"] < state.stamp():
        return "RESPONSE_DUE_DATE_PASSED", "The seller response due date has passed."
    if not isinstance(evidences, list) or not evidences or not all(
            isinstance(e, dict) and isinstance(e.get("evidence_type"), str) for e in evidences):
        return "INVALID_EVIDENCE", "input must carry evidences, each with an evidence_type."
    if any(not name.lower().endswith(FILE_TYPES) or len(content) >= MAX_FILE for name, content in files) \
            or sum(len(content) for _name, content in files) > MAX_FILES:
        return "INVALID_FILE", "Files must be .jpg, .jpeg, .gif, .png or .pdf, under 10 MB each and 50 MB in all."
    return None
