"""The Adyen stand-in's admin endpoints (``/adyen/{instance}/_admin/…``): payments to refund and
dispute, REFUND notifications sent on demand, disputes opened and closed by the scheme, the API
key, merchant account, HMAC key and webhook endpoints. Kit: faults, request log, deliveries.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.adyen.company import AdyenState, fixture, item, kit, notify, process_refunds
from sandbox.kit.admin import known
from sandbox.kit.payments import add_endpoints, add_state_counts

add_endpoints(kit)
add_state_counts(kit, refunds=lambda state: len(state.refunds), disputes=lambda state: len(state.disputes))
#: Reason codes by category (Visa, Mastercard), to pick the sample defence reasons.
CATEGORIES = {"13.1": "not_received", "4855": "not_received", "13.3": "not_as_described", "4853": "not_as_described",
              "10.4": "fraud", "4837": "fraud", "4863": "fraud"}
OUTCOMES = {"won": ("CHARGEBACK_REVERSED", "Won"), "lost": ("CHARGEBACK", "Lost")}


@kit.admin.post("/config")
def config(state: AdyenState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        for name in ("api_key", "merchant", "hmac_key", "auto_notify"):
            setattr(state, name, payload.get(name, getattr(state, name)))
        return {"api_key": state.api_key, "merchant": state.merchant, "auto_notify": state.auto_notify}


@kit.admin.post("/payments")
def create_payment(state: AdyenState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """An authorised and captured card payment: ``value`` (minor units), ``currency``,
    ``reference``, ``shopper_ip``, ``email``, ``additional_data`` (AVS/CVC results, addresses)."""
    with state.lock:
        payment = fixture.fill("payment", psp=state.psp(), reference=payload.get("reference", "order-1"),
                               value=int(payload.get("value", 10000)), currency=payload.get("currency", "USD"),
                               shopper_ip=payload.get("shopper_ip", "203.0.113.7"),
                               email=payload.get("email", "ana@example.com"))
        payment["additionalData"].update(payload.get("additional_data") or {})
        state.payments[payment["pspReference"]] = payment
        return payment


@kit.admin.get("/state/payments/{psp}")
def state_payment(psp: str, state: AdyenState = kit.state) -> dict[str, Any]:
    with state.lock:
        payment = known(state.payments.get(psp), f"payment {psp}")
        return {**payment, "refunded": state.refunded(psp),
                "refunds": [r for r in state.refunds.values() if r["paymentPspReference"] == psp]}


@kit.admin.post("/notifications/refunds")
def send_refund_notifications(state: AdyenState = kit.state) -> JSONResponse:
    """Decide every received refund and send its REFUND notification (success or not)."""
    with state.lock:
        items = process_refunds(state)
    return JSONResponse({"webhooks": [record for one in items for record in notify(state, one)]})


@kit.admin.post("/disputes")
def open_dispute(state: AdyenState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """A chargeback on ``payment``: ``reason_code`` (default Visa ``13.1``), ``scheme`` (``visa``),
    ``defense_days`` (default 7), ``amount``; sends NOTIFICATION_OF_CHARGEBACK."""
    with state.lock:
        payment = known(state.payments.get(str(payload.get("payment"))), f"payment {payload.get('payment')}")
        code = str(payload.get("reason_code", "13.1"))
        ends = state.now() + timedelta(days=float(payload.get("defense_days", 7)))
        dispute = {"pspReference": state.psp(), "payment": payment["pspReference"], "reasonCode": code,
                   "scheme": payload.get("scheme", "visa"), "disputeStatus": "Undefended", "defendable": True,
                   "defensePeriodEndsAt": ends.isoformat(), "arn": f"7461{state.sequence:019d}"[:23],
                   "amount": {"value": int(payload.get("amount", payment["amount"]["value"])),
                              "currency": payment["amount"]["currency"]}, "_documents": {},
                   "_reasons": fixture("defense_reasons")[CATEGORIES.get(code, "general")]}
        state.disputes[dispute["pspReference"]] = dispute
        one = dispute_item(state, dispute, "NOTIFICATION_OF_CHARGEBACK")
    return JSONResponse({"dispute": public(dispute), "webhooks": notify(state, one)})


@kit.admin.post("/disputes/{psp}/close")
def close_dispute(psp: str, state: AdyenState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """The scheme decides: ``{"outcome": "won" | "lost"}`` → CHARGEBACK_REVERSED (Won) or CHARGEBACK (Lost)."""
    with state.lock:
        dispute = known(state.disputes.get(psp), f"dispute {psp}")
        event, dispute["disputeStatus"] = OUTCOMES["won" if payload.get("outcome") == "won" else "lost"]
        one = dispute_item(state, dispute, event)
    return JSONResponse({"dispute": public(dispute), "webhooks": notify(state, one)})


def dispute_item(state: AdyenState, dispute: dict[str, Any], event: str) -> dict[str, Any]:
    payment = state.payments[dispute["payment"]]
    return item(state, event, dispute["pspReference"], payment["pspReference"], payment["merchantReference"],
                dispute["amount"], defensePeriodEndsAt=dispute["defensePeriodEndsAt"],
                disputeStatus=dispute["disputeStatus"], chargebackReasonCode=dispute["reasonCode"],
                chargebackSchemeCode=dispute["scheme"], defendable=str(dispute["defendable"]).lower(),
                arn=dispute["arn"])


def public(dispute: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dispute.items() if not k.startswith("_")}

