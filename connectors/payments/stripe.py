"""Stripe through the official ``stripe`` SDK (v16), a ``StripeClient`` whose ``api`` and ``files``
base addresses are the account's ``base_url`` when one is set (the sandbox), Stripe's otherwise.

* Refunds: ``POST /v1/refunds`` with ``payment_intent`` (``pi_…``) or ``charge`` (``ch_…``),
  ``amount``, ``reason`` (duplicate, fraudulent or requested_by_customer; ours is kept in
  ``metadata``) and ``metadata``, sent with the SDK's ``idempotency_key`` option
  (https://docs.stripe.com/api/refunds/create, https://docs.stripe.com/idempotency). A replayed
  answer carries ``Idempotent-Replayed: true``; the same key with other parameters is Stripe's
  400 ``idempotency_error``, a :class:`PermanentError`. The SDK's own retries are off: the task
  retries, with the same key.
* Disputes: ``Stripe-Signature`` checked by ``stripe.Webhook.construct_event`` with a 300 s
  tolerance (https://docs.stripe.com/webhooks#verify-events); ``charge.dispute.*`` events become
  :class:`DisputeNotice` (due date ``evidence_details.due_by``), ``refund.updated`` a refund's
  outcome. Evidence: ``POST /v1/disputes/{id}`` with ``evidence[…]`` and ``submit=false`` to stage,
  ``submit=true`` to submit (https://docs.stripe.com/api/disputes/update); files are uploaded first
  (``purpose=dispute_evidence``, https://docs.stripe.com/api/files/create) and named by their field
  (``receipt.pdf`` → ``evidence[receipt]``; other names → ``uncategorized_file``). A dispute
  already submitted is not submitted again.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import stripe

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.payments.common import ProviderEvent, by_status, category, from_network
from connectors.payments.contract import (
    DisputeNotice,
    EvidenceReceipt,
    EvidenceSubmission,
    ProviderRefund,
    RefundOutcome,
)
from connectors.signing import header_value
from connectors.types import ConnectorConfig

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
STATES = {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending"}
OUTCOMES = {"won": "won", "warning_closed": "won", "lost": "lost"}
FILE_FIELDS = {"cancellation_policy", "customer_communication", "customer_signature", "duplicate_charge_documentation",
               "receipt", "refund_policy", "service_documentation", "shipping_documentation", "uncategorized_file"}
TOLERANCE_S = 300


class StripeProvider:
    provider = "stripe"

    def __init__(self, config: ConnectorConfig) -> None:
        base = config.base_url.rstrip("/") or None
        self.client = stripe.StripeClient(
            config.credentials["secret_key"], base_addresses={"api": base, "files": base} if base else None,
            max_network_retries=0, http_client=stripe.RequestsClient(timeout=config.timeout_s))
        self.webhook_secret = config.webhook_secret or ""

    @contextmanager
    def _classified(self, what: str, write: bool) -> Iterator[None]:
        try:
            yield
        except stripe.APIConnectionError as exc:
            raise from_network(exc, "stripe", what, write) from exc
        except stripe.StripeError as exc:
            body = json.dumps(exc.json_body) if exc.json_body else str(exc)
            body_json: dict[str, Any] = exc.json_body if isinstance(exc.json_body, dict) else {}
            kind = body_json.get("error", {}).get("type", "")
            raise by_status(exc.http_status, f"stripe {what} → {exc.http_status} {kind}: {exc.user_message or exc}",
                            "stripe", body) from exc

    def refund(self, request: ProviderRefund) -> RefundOutcome:
        target = "charge" if request.payment_ref.startswith("ch_") else "payment_intent"
        reason = request.reason if request.reason in REASONS else "requested_by_customer"
        params: Any = {target: request.payment_ref, "amount": request.amount_cents, "reason": reason,
                                  "metadata": {**request.metadata, **({"reason": request.reason[:500]}
                                                                      if request.reason not in REASONS else {})}}
        with self._classified("refund", write=True):
            refund = self.client.v1.refunds.create(params, {"idempotency_key": request.idempotency_key})
        headers = refund.last_response.headers if refund.last_response else {}
        return self._outcome(refund, replayed=header_value(headers, "Idempotent-Replayed") == "true")

    def refund_status(self, provider_ref: str) -> RefundOutcome:
        with self._classified("refund status", write=False):
            return self._outcome(self.client.v1.refunds.retrieve(provider_ref))

    def _outcome(self, refund: Any, replayed: bool = False) -> RefundOutcome:
        data = refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)
        return RefundOutcome("stripe", data["id"], STATES.get(data.get("status") or "", "failed"),  # type: ignore[arg-type]
                             int(data["amount"]), str(data["currency"]).upper(), replayed,
                             str(data.get("failure_reason") or ""), data)

    def verify_events(self, headers: dict[str, str], body: bytes) -> list[ProviderEvent]:
        signature = header_value(headers, "Stripe-Signature")
        if not signature or not self.webhook_secret:
            raise SignatureError("Stripe-Signature missing or no endpoint secret configured")
        try:
            event = stripe.Webhook.construct_event(body, signature, self.webhook_secret, tolerance=TOLERANCE_S)
        except stripe.SignatureVerificationError as exc:
            raise SignatureError(f"stripe: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise MalformedPayloadError(f"stripe: {exc}") from exc
        data = event.to_dict()
        obj, topic = data["data"]["object"], str(data["type"])
        if topic.startswith("charge.dispute."):
            return [ProviderEvent("stripe", data["id"], topic, "dispute", dispute=self._notice(data["id"], obj), raw=data)]
        if obj.get("object") == "refund":
            return [ProviderEvent("stripe", data["id"], topic, "refund", refund=self._outcome(obj), raw=data)]
        return [ProviderEvent("stripe", data["id"], topic, "other", raw=data)]

    def verify_dispute_notice(self, headers: dict[str, str], body: bytes) -> list[DisputeNotice]:
        return [event.dispute for event in self.verify_events(headers, body) if event.dispute is not None]

    @staticmethod
    def _notice(event_id: str, dispute: dict[str, Any]) -> DisputeNotice:
        """The dispute names both its ``charge`` and, for a PaymentIntent payment, its
        ``payment_intent`` (null for a charge made through the older Charges API; either may come
        expanded): https://docs.stripe.com/api/disputes/object. An order may carry either id, so
        both go with the notice, the PaymentIntent first (an expanded one by its ``id``)."""
        due = (dispute.get("evidence_details") or {}).get("due_by")
        reason, network = str(dispute.get("reason") or ""), str(dispute.get("network_reason_code") or "")
        refs = [str(v["id"] if isinstance(v, dict) else v)
                for v in (dispute.get("payment_intent"), dispute.get("charge")) if v]
        return DisputeNotice(
            "stripe", event_id, dispute["id"], refs[0] if refs else "",
            str(dispute["status"]), OUTCOMES.get(dispute["status"], "open"), reason, network,  # type: ignore[arg-type]
            category(reason, network), int(dispute["amount"]), str(dispute["currency"]).upper(),
            datetime.fromtimestamp(int(due), timezone.utc) if due else None, dispute, tuple(refs[1:]))

    def _update(self, submission: EvidenceSubmission, submit: bool) -> EvidenceReceipt:
        evidence: dict[str, str] = dict(submission.fields)
        with self._classified("dispute evidence", write=True):
            if submit:
                current = self.client.v1.disputes.retrieve(submission.dispute_ref)
                if current.evidence_details.submission_count > 0:
                    return EvidenceReceipt(submission.dispute_ref, True, current.status, "submitted before")
            for name, content in submission.files.items():
                field = name.rsplit(".", 1)[0]
                upload = io.BytesIO(content)
                upload.name = name
                stored = self.client.v1.files.create({"file": upload, "purpose": "dispute_evidence"})
                evidence[field if field in FILE_FIELDS else "uncategorized_file"] = stored.id
            update: Any = {"evidence": evidence, "submit": submit}
            dispute = self.client.v1.disputes.update(submission.dispute_ref, update)
        return EvidenceReceipt(submission.dispute_ref, submit, dispute.status,
                               f"{len(evidence)} evidence field(s); submissions {dispute.evidence_details.submission_count}")

    def stage_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        return self._update(submission, submit=False)

    def submit_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        return self._update(submission, submit=True)
