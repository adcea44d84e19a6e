"""Stripe API endpoints: refunds, charges, payment intents' charges, disputes and evidence files.

* ``POST /v1/refunds`` (https://docs.stripe.com/api/refunds/create): ``charge`` or
  ``payment_intent``, ``amount`` (minor units; omitted: what is left), ``reason`` ∈ duplicate,
  fraudulent, requested_by_customer, ``metadata[…]``. More than the charge has left →
  ``amount_too_large`` ("Refund amount ($X) is greater than unrefunded amount on charge ($Y)"),
  nothing left → ``charge_already_refunded``. A charge seeded with ``refund_status: "pending"``
  answers pending refunds (``_admin/refunds/{id}/settle`` settles them).
* ``POST /v1/disputes/{id}`` (https://docs.stripe.com/api/disputes/update): ``evidence[…]`` (the
  documented fields; file fields take a ``file_…`` id uploaded with purpose ``dispute_evidence``),
  ``submit`` (false stages, true submits: ``submission_count`` + 1, ``needs_response`` →
  ``under_review``), ``metadata[…]``; ``evidence_details.has_evidence`` once any is given.
  Refused: a closed dispute, one past ``due_by`` and a second submission (wording is this
  stand-in's; Stripe says one submission is typical). ``POST /v1/disputes/{id}/close`` accepts it (lost).
* ``POST /v1/files`` (multipart ``file``, ``purpose``: https://docs.stripe.com/api/files/create).
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from sandbox.kit import Call
from sandbox.kit.money import to_money
from sandbox.stripe.account import Refused, StripeState, answer, fixture, invalid, kit, missing, read, send_event

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
FILE_FIELDS = {"cancellation_policy", "customer_communication", "customer_signature", "duplicate_charge_documentation",
               "receipt", "refund_policy", "service_documentation", "shipping_documentation", "uncategorized_file"}
#: The combined characters of all text evidence fields Stripe accepts.
EVIDENCE_CHARACTERS = 150_000
CLOSED = ("won", "lost", "warning_closed", "prevented")


@kit.api.post("/refunds")
def create_refund(call: Call[StripeState] = kit.call) -> Response:
    def create(params: dict[str, Any]) -> tuple[int, Any]:
        state = call.state
        charge = state.charge_for(params)
        if params.get("reason") and params["reason"] not in REASONS:
            raise invalid(f"Invalid reason: must be one of {', '.join(REASONS)}", "reason")
        left = charge["amount"] - charge["amount_refunded"]
        try:
            amount = int(params.get("amount") or left)
        except ValueError:
            raise invalid("Invalid integer: " + str(params.get("amount")), "amount") from None
        if left <= 0:
            raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded", saved=True)
        if amount > left or amount <= 0:
            raise invalid(f"Refund amount (${to_money(amount)}) is greater than unrefunded amount on charge "
                          f"(${to_money(left)})", "amount", "amount_too_large", saved=True)
        state.refunds_created += 1
        refund = fixture.fill("refund", id=state.new_id("re_"), amount=amount, charge=charge["id"],
                              balance_transaction=state.new_id("txn_"), created=state.unix(),
                              currency=charge["currency"], metadata=params.get("metadata") or {},
                              payment_intent=charge["payment_intent"], reason=params.get("reason"),
                              status=charge.get("_refund_status", "succeeded"))
        state.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return 200, refund
    return answer(call, create)


@kit.api.get("/refunds/{refund_id}")
def get_refund(refund_id: str, call: Call[StripeState] = kit.call) -> Response:
    return read(call, lambda state: state.refunds.get(refund_id), f"refund: '{refund_id}'")


@kit.api.get("/charges/{charge_id}")
def get_charge(charge_id: str, call: Call[StripeState] = kit.call) -> Response:
    return read(call, lambda state: public(state.charges.get(charge_id)), f"charge: '{charge_id}'")


@kit.api.get("/disputes/{dispute_id}")
def get_dispute(dispute_id: str, call: Call[StripeState] = kit.call) -> Response:
    return read(call, lambda state: state.disputes.get(dispute_id), f"dispute: '{dispute_id}'")


def public(record: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if record is None else {k: v for k, v in record.items() if not k.startswith("_")}


def open_dispute(state: StripeState, dispute_id: str) -> dict[str, Any]:
    dispute = state.disputes.get(dispute_id)
    if dispute is None:
        raise missing(f"dispute: '{dispute_id}'")
    if dispute["status"] in CLOSED:
        raise invalid("This dispute is already closed.", saved=True)
    if state.unix() > dispute["evidence_details"]["due_by"]:
        raise invalid("The evidence due date for this dispute has passed.", saved=True)
    return dispute


@kit.api.post("/disputes/{dispute_id}")
def update_dispute(dispute_id: str, call: Call[StripeState] = kit.call) -> Response:
    def update(params: dict[str, Any]) -> tuple[int, Any]:
        state = call.state
        dispute = open_dispute(state, dispute_id)
        evidence = params.get("evidence") or {}
        for name, value in evidence.items():
            if name not in dispute["evidence"]:
                raise invalid(f"Received unknown parameter: evidence[{name}]", f"evidence[{name}]")
            if name in FILE_FIELDS and value and state.files.get(value, {}).get("purpose") != "dispute_evidence":
                raise invalid(f"No such file upload: '{value}'", f"evidence[{name}]")
        texts = {**dispute["evidence"], **evidence}
        if sum(len(str(v)) for k, v in texts.items() if v and k not in FILE_FIELDS) > EVIDENCE_CHARACTERS:
            raise invalid(f"The combined evidence text exceeds {EVIDENCE_CHARACTERS} characters.", "evidence")
        submit = str(params.get("submit", "true")).lower() == "true"
        details = dispute["evidence_details"]
        if submit and details["submission_count"] > 0:
            raise invalid("Evidence has already been submitted for this dispute.", saved=True)
        dispute["evidence"].update({k: v or None for k, v in evidence.items()})
        dispute["metadata"].update(params.get("metadata") or {})
        details["has_evidence"] = details["has_evidence"] or any(evidence.values())
        if submit:
            details["submission_count"] += 1
            dispute["status"] = {"warning_needs_response": "warning_under_review"}.get(dispute["status"], "under_review")
        return 200, dispute
    return answer(call, update)


@kit.api.post("/disputes/{dispute_id}/close")
def close_dispute(dispute_id: str, call: Call[StripeState] = kit.call) -> Response:
    def close(params: dict[str, Any]) -> tuple[int, Any]:
        dispute = open_dispute(call.state, dispute_id)
        dispute["status"] = "lost"
        return 200, dispute
    return answer(call, close)


@kit.api.post("/files")
async def upload_file(call: Call[StripeState] = kit.call) -> Response:
    form = await call.request.form()
    upload, purpose = form.get("file"), str(form.get("purpose") or "")
    if upload is None or isinstance(upload, str):
        return call.reply(invalid("Missing required param: file.", "file").body, 400)
    content = await upload.read()
    with call.state.lock:
        record = {"id": call.state.new_id("file_"), "object": "file", "purpose": purpose, "size": len(content),
                  "filename": upload.filename, "type": (upload.filename or "").rsplit(".", 1)[-1],
                  "created": call.state.unix()}
        call.state.files[record["id"]] = record
    return call.reply(record)


__all__ = ["Refused", "close_dispute", "create_refund", "update_dispute", "send_event"]
