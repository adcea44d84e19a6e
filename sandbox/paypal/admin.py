"""The PayPal stand-in's admin endpoints (``/paypal/{instance}/_admin/…``): captures to refund and
dispute, disputes opened and resolved, pending refunds settled, credentials and token lifetime,
webhook endpoints (with the ``webhook_id`` each is registered under). Kit: faults, request log,
clock, deliveries.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body, Request
from fastapi.responses import JSONResponse

from sandbox.kit.admin import known
from sandbox.kit.money import to_money
from sandbox.kit.payments import add_endpoints, add_state_counts
from sandbox.paypal.merchant import PayPalState, fixture, kit, send_event

add_endpoints(kit, extra=("webhook_id",))
add_state_counts(kit, refunds=lambda state: len(state.refunds), tokens=lambda state: len(state.tokens))
OUTCOMES = {"won": "RESOLVED_SELLER_FAVOUR", "lost": "RESOLVED_BUYER_FAVOUR"}


def base(request: Request, state: PayPalState) -> str:
    return str(request.base_url).rstrip("/") + f"/paypal/{state.name}"


@kit.admin.post("/config")
def config(state: PayPalState = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    with state.lock:
        for name in ("client_id", "secret", "token_ttl_s"):
            setattr(state, name, payload.get(name, getattr(state, name)))
        return {"client_id": state.client_id, "token_ttl_s": state.token_ttl_s}


@kit.admin.post("/captures")
def create_capture(request: Request, state: PayPalState = kit.state,
                   payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
    """A completed capture: ``value`` (``"100.00"``), ``currency``, ``invoice_id``, ``avs_code`` /
    ``cvv_code`` (the card processor's answers), ``refund_status`` (``PENDING``: refunds stay pending)."""
    with state.lock:
        capture = fixture.fill("capture", id=state.new_id("", 17).upper()[:17], currency=payload.get("currency", "USD"),
                               value=str(payload.get("value", "100.00")), invoice_id=payload.get("invoice_id"),
                               order_id=state.new_id("", 17).upper()[:17], now=state.stamp(), base=base(request, state))
        capture["processor_response"].update({k: payload[k] for k in ("avs_code", "cvv_code") if k in payload})
        capture["_refunded"], capture["_refund_status"] = 0, payload.get("refund_status", "COMPLETED")
        state.captures[capture["id"]] = capture
        return {"capture": capture["id"]}


@kit.admin.post("/disputes")
def open_dispute(request: Request, state: PayPalState = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """A buyer disputes ``capture``: ``reason`` (default MERCHANDISE_OR_SERVICE_NOT_RECEIVED),
    ``stage`` (CHARGEBACK), ``due_in_days`` (default 10), ``value``; sends CUSTOMER.DISPUTE.CREATED."""
    with state.lock:
        capture = known(state.captures.get(str(payload.get("capture"))), f"capture {payload.get('capture')}")
        due = (state.now() + timedelta(days=float(payload.get("due_in_days", 10)))).isoformat().replace("+00:00", "Z")
        dispute = fixture.fill("dispute", id=f"PP-D-{state.sequence + 1:05d}", now=state.stamp(), capture=capture["id"],
                               buyer_transaction=state.new_id("", 17).upper()[:17], merchant_id="SANDBOXMERCHANT",
                               reason=payload.get("reason", "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"),
                               currency=capture["amount"]["currency_code"],
                               value=str(payload.get("value", capture["amount"]["value"])),
                               stage=payload.get("stage", "CHARGEBACK"), due=due, base=base(request, state))
        state.sequence += 1
        state.disputes[dispute["dispute_id"]] = dispute
    return JSONResponse({"dispute": dispute, "webhooks": send_event(state, base(request, state), "CUSTOMER.DISPUTE.CREATED",
                                                                    dispute, "A new dispute opened")})


@kit.admin.post("/disputes/{dispute_id}/close")
def close_dispute(dispute_id: str, request: Request, state: PayPalState = kit.state,
                  payload: dict[str, Any] = Body(...)) -> JSONResponse:
    """PayPal decides: ``{"outcome": "won" | "lost"}`` → RESOLVED with ``dispute_outcome``."""
    with state.lock:
        dispute = known(state.disputes.get(dispute_id), f"dispute {dispute_id}")
        dispute.update(status="RESOLVED", update_time=state.stamp(), links=dispute["links"][:1],
                       dispute_outcome={"outcome_code": OUTCOMES["won" if payload.get("outcome") == "won" else "lost"]})
    return JSONResponse({"dispute": dispute, "webhooks": send_event(state, base(request, state), "CUSTOMER.DISPUTE.RESOLVED",
                                                                    dispute, "A dispute was resolved")})


@kit.admin.post("/refunds/{refund_id}/settle")
def settle_refund(refund_id: str, state: PayPalState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """A pending refund ends: ``{"status": "COMPLETED" | "FAILED"}``."""
    with state.lock:
        refund = known(state.refunds.get(refund_id), f"refund {refund_id}")
        refund["status"], refund["update_time"] = payload.get("status", "COMPLETED"), state.stamp()
        if refund["status"] == "FAILED":
            state.captures[refund["_capture"]]["_refunded"] -= refund["_cents"]
        return {"id": refund_id, "status": refund["status"], "amount": to_money(refund["_cents"])}
