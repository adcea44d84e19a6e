"""The Stripe stand-in's admin endpoints (``/stripe/{instance}/_admin/…``): charges to refund and
dispute, disputes opened and closed as the card network decides, pending refunds settled, the
secret key, webhook endpoints and counts. The kit adds faults, the request log, the clock and the
webhook deliveries (docs/sandbox-payments.md lists them all).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.admin import known
from sandbox.kit.payments import add_endpoints, add_state_counts
from sandbox.stripe.account import StripeState, fixture, kit, send_event

add_endpoints(kit)
add_state_counts(kit, refunds=lambda state: len(state.refunds), disputes=lambda state: len(state.disputes))


@kit.admin.post("/config")
def config(state: StripeState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        state.key = payload.get("api_key", state.key)
        return {"api_key": state.key}


@kit.admin.post("/charges")
def create_charge(state: StripeState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """A captured card charge and its PaymentIntent: ``amount`` (cents), ``currency``, ``email``,
    ``name``, ``checks`` (AVS/CVC results), ``customer_ip`` (kept in ``metadata``, where merchants
    record it), ``billing_address`` / ``shipping_address``, ``refund_status`` (``pending``: its
    refunds stay pending until settled), ``payment_intent: false`` (a charge made through the
    older Charges API: no PaymentIntent, so its dispute names the charge only)."""
    with state.lock:
        intent = state.new_id("pi_") if payload.get("payment_intent", True) else None
        charge = fixture.fill("charge", id=state.new_id("ch_"), amount=int(payload.get("amount", 10000)),
                              balance_transaction=state.new_id("txn_"), email=payload.get("email", "ana@example.com"),
                              name=payload.get("name", "Ana Lima"), created=state.unix(),
                              currency=str(payload.get("currency", "usd")).lower(),
                              payment_intent=intent, payment_method=state.new_id("pm_"))
        charge["payment_method_details"]["card"]["checks"].update(payload.get("checks") or {})
        charge["metadata"] = {"customer_ip": payload.get("customer_ip", "203.0.113.7"), **payload.get("metadata", {})}
        charge["billing_details"]["address"].update(payload.get("billing_address") or {})
        charge["shipping"]["address"].update(payload.get("shipping_address") or {})
        charge["_refund_status"] = payload.get("refund_status", "succeeded")
        state.charges[charge["id"]] = charge
        state.intents.update({intent: charge["id"]} if intent else {})
        return {"charge": charge["id"], "payment_intent": charge["payment_intent"]}


@kit.admin.post("/disputes")
def open_dispute(state: StripeState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """The cardholder disputes ``charge``: ``reason`` (default ``product_not_received``),
    ``network_reason_code``, ``amount``, ``due_in_days`` (default 7); sends ``charge.dispute.created``."""
    with state.lock:
        charge = known(state.charges.get(str(payload.get("charge"))), f"charge {payload.get('charge')}")
        due = state.now() + timedelta(days=float(payload.get("due_in_days", 7)))
        dispute = fixture.fill("dispute", id=state.new_id("dp_"), amount=int(payload.get("amount", charge["amount"])),
                               charge=charge["id"], created=state.unix(), currency=charge["currency"],
                               due_by=int(due.timestamp()), payment_intent=charge["payment_intent"],
                               reason=payload.get("reason", "product_not_received"),
                               network_reason_code=payload.get("network_reason_code", "13.1"))
        state.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
    return JSONResponse({"dispute": dispute, "webhooks": send_event(state, "charge.dispute.created", dispute)})


@kit.admin.post("/disputes/{dispute_id}/close")
def close_dispute(dispute_id: str, state: StripeState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """The issuer decides: ``{"outcome": "won" | "lost"}``; sends ``charge.dispute.closed``."""
    with state.lock:
        dispute = known(state.disputes.get(dispute_id), f"dispute {dispute_id}")
        dispute["status"] = "won" if payload.get("outcome") == "won" else "lost"
    return JSONResponse({"dispute": dispute, "webhooks": send_event(state, "charge.dispute.closed", dispute)})


@kit.admin.post("/refunds/{refund_id}/settle")
def settle_refund(refund_id: str, state: StripeState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """A pending refund ends: ``{"status": "succeeded" | "failed"}``; sends ``refund.updated``."""
    with state.lock:
        refund = known(state.refunds.get(refund_id), f"refund {refund_id}")
        refund["status"] = payload.get("status", "succeeded")
        if refund["status"] == "failed":
            refund["failure_reason"] = payload.get("failure_reason", "expired_or_canceled_card")
            state.charges[refund["charge"]]["amount_refunded"] -= refund["amount"]
    return JSONResponse({"refund": refund, "webhooks": send_event(state, "refund.updated", refund)})
