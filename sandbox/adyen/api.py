"""Adyen API endpoints: Checkout refunds and the Disputes API.

* ``POST /checkout/v{n}/payments/{paymentPspReference}/refunds`` (https://docs.adyen.com/online-payments/refund):
  ``{amount: {value, currency}, merchantAccount, reference}`` → 201 ``{merchantAccount,
  paymentPspReference, pspReference, reference, status: "received", amount}``, an acknowledgement
  only: the outcome is the REFUND notification (``_admin/notifications/refunds`` sends them, or
  ``auto_notify``). A wrong merchant account → 403 ``901 Invalid Merchant Account``; no amount or
  another currency than the payment's → 422 ``137 Invalid amount specified``; an unknown payment →
  422 ``167 Original pspReference required for this operation`` (this stand-in's choice).
* Disputes API (https://docs.adyen.com/risk-management/disputes-api): ``retrieveApplicableDefenseReasons``,
  ``supplyDefenseDocument`` (base64 ``content``, ``contentType``, ``defenseDocumentTypeCode``
  among the dispute's reasons' types), ``defendDispute`` (a reason whose required documents were
  supplied; the dispute becomes ``Pending``), ``acceptDispute``. Each answers
  ``{"disputeServiceResult": {"valid": …, "errorMessage"?}}``; the defence reasons offered are this
  stand-in's sample table (``fixtures/defense_reasons.json``) by the reason code's category.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.adyen.company import AdyenState, error_body, idempotent, kit, notify, process_refunds
from sandbox.kit import Call

CONTENT_TYPES = ("application/pdf", "image/jpeg", "image/tiff", "text/html", "text/plain")


@kit.api.post("/checkout/{version}/payments/{payment_psp}/refunds")
def refund(version: str, payment_psp: str, call: Call[AdyenState] = kit.call) -> Response:
    state, body = call.state, call.body if isinstance(call.body, dict) else {}

    def create() -> Any:
        if body.get("merchantAccount") != state.merchant:
            return JSONResponse(error_body(403, "901", "Invalid Merchant Account", "security"), status_code=403)
        payment = state.payments.get(payment_psp)
        if payment is None:
            return JSONResponse(error_body(422, "167", "Original pspReference required for this operation"), 422)
        amount = body.get("amount") if isinstance(body.get("amount"), dict) else {}
        if not isinstance(amount.get("value"), int) or amount["value"] <= 0 \
                or amount.get("currency") != payment["amount"]["currency"]:
            return JSONResponse(error_body(422, "137", "Invalid amount specified"), status_code=422)
        state.refunds_created += 1
        record = {"merchantAccount": state.merchant, "paymentPspReference": payment_psp, "pspReference": state.psp(),
                  "reference": str(body.get("reference") or ""), "status": "received", "amount": amount}
        state.refunds[record["pspReference"]] = record
        return {k: v for k, v in record.items() if k != "outcome"}

    answer = idempotent(call, 201, create)
    if state.auto_notify:
        with state.lock:
            items = process_refunds(state)
        for one in items:
            notify(state, one)
    return answer


def result(call: Call[AdyenState], error: str | None = None, **extra: Any) -> Response:
    return call.reply({**extra, "disputeServiceResult": {"valid": error is None,
                                                         **({"errorMessage": error} if error else {})}})


def dispute_for(call: Call[AdyenState]) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    body = call.body if isinstance(call.body, dict) else {}
    if body.get("merchantAccountCode") != call.state.merchant:
        return body, None, "Invalid merchant account"
    dispute = call.state.disputes.get(str(body.get("disputePspReference")))
    return body, dispute, None if dispute is not None else "Dispute not found"


DISPUTE_PATH = "/ca/services/DisputeService/v30"


@kit.api.post(f"{DISPUTE_PATH}/retrieveApplicableDefenseReasons")
def defense_reasons(call: Call[AdyenState] = kit.call) -> Response:
    with call.state.lock:
        _body, dispute, error = dispute_for(call)
        reasons = [{**reason, "satisfied": satisfied(dispute, reason)} for reason in dispute["_reasons"]] if dispute else []
    return result(call, error, defenseReasons=reasons)


def satisfied(dispute: dict[str, Any], reason: dict[str, Any]) -> bool:
    return all(doc["defenseDocumentTypeCode"] in dispute["_documents"] for doc in reason["defenseDocumentTypes"]
               if doc["requirementLevel"] == "Required")


def open_for_defence(dispute: dict[str, Any]) -> str | None:
    return None if dispute["disputeStatus"] == "Undefended" and dispute["defendable"] else \
        f"Dispute is {dispute['disputeStatus']} and cannot be defended"


@kit.api.post(f"{DISPUTE_PATH}/supplyDefenseDocument")
def supply_document(call: Call[AdyenState] = kit.call) -> Response:
    with call.state.lock:
        body, dispute, error = dispute_for(call)
        error = error or open_for_defence(dispute)  # type: ignore[arg-type]
        documents = body.get("defenseDocuments") if isinstance(body.get("defenseDocuments"), list) else []
        known = {doc["defenseDocumentTypeCode"] for reason in (dispute or {}).get("_reasons", [])
                 for doc in reason["defenseDocumentTypes"]}
        for document in documents if error is None else []:
            code = document.get("defenseDocumentTypeCode")
            try:
                content = base64.b64decode(document.get("content") or "", validate=True)
            except (binascii.Error, ValueError):
                content = b""
            if code not in known or document.get("contentType") not in CONTENT_TYPES or not content:
                error = f"Invalid defense document {code!r}: unknown type, unsupported content type or empty content"
                break
        if error is None and not documents:
            error = "No defense documents supplied"
        if error is None:
            dispute["_documents"].update({d["defenseDocumentTypeCode"]: len(d["content"]) for d in documents})
    return result(call, error)


@kit.api.post(f"{DISPUTE_PATH}/defendDispute")
def defend(call: Call[AdyenState] = kit.call) -> Response:
    with call.state.lock:
        body, dispute, error = dispute_for(call)
        error = error or open_for_defence(dispute)  # type: ignore[arg-type]
        reason = next((r for r in (dispute or {}).get("_reasons", [])
                       if r["defenseReasonCode"] == body.get("defenseReasonCode")), None)
        if error is None and reason is None:
            error = f"Defense reason {body.get('defenseReasonCode')!r} is not applicable"
        elif error is None and not satisfied(dispute, reason):  # type: ignore[arg-type]
            error = "Required defense documents are missing"
        if error is None:
            dispute.update(disputeStatus="Pending", defenseReasonCode=body["defenseReasonCode"])  # type: ignore[union-attr]
    return result(call, error)


@kit.api.post(f"{DISPUTE_PATH}/acceptDispute")
def accept(call: Call[AdyenState] = kit.call) -> Response:
    with call.state.lock:
        _body, dispute, error = dispute_for(call)
        error = error or open_for_defence(dispute)  # type: ignore[arg-type]
        if error is None:
            dispute["disputeStatus"] = "Accepted"  # type: ignore[index]
    return result(call, error)
