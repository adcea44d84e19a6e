"""PayPal over its REST API with ``requests`` (the shared ``RestConnector`` plumbing): OAuth 2 client
credentials (``POST /v1/oauth2/token``, the token kept until it expires: ``connectors.oauth2``).

* Refunds: ``POST /v2/payments/captures/{capture_id}/refund`` with ``PayPal-Request-Id`` (our
  idempotency key: the same id gives back the refund it made, answered 200 instead of 201) and
  ``Prefer: return=representation`` (https://developer.paypal.com/api/payments/v2/#captures_refund,
  https://developer.paypal.com/api/rest/reference/idempotency); a pending refund is read again by
  ``GET /v2/payments/refunds/{id}``. Errors keep PayPal's ``name``, ``message`` and each detail's
  ``issue`` (``REFUND_AMOUNT_EXCEEDED``…: https://developer.paypal.com/api/rest/responses/).
* Disputes: ``CUSTOMER.DISPUTE.*`` deliveries are verified by ``POST
  /v1/notifications/verify-webhook-signature`` with the transmission headers and our webhook id
  (https://developer.paypal.com/api/webhooks/v1/#verify-webhook-signature_post); anything but
  ``SUCCESS`` is refused. Evidence goes in one ``provide-evidence`` multipart call, taken only
  while the dispute waits for the seller
  (https://developer.paypal.com/api/customer-disputes/v1/disputes-provide-evidence): PayPal has no
  draft, so staging checks the dispute takes evidence and keeps it on our side. Fields name
  evidence types: ``PROOF_OF_FULFILLMENT`` → notes, ``PROOF_OF_FULFILLMENT.tracking_number`` /
  ``.carrier_name`` → its tracking info (one entry per shipment, the carrier as PayPal's code —
  ``UPS``, ``FEDEX``, ``USPS``, ``DHL`` — else ``OTHER`` with ``carrier_name_other``:
  https://developer.paypal.com/docs/tracking/reference/carriers/),
  ``PROOF_OF_REFUND.refund_id`` → its refund ids; files (``.pdf .jpg .jpeg .gif .png``) go as parts.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

from connectors.errors import MalformedPayloadError, PermanentError, SignatureError
from connectors.http import RestConnector
from connectors.oauth2 import ClientCredentials
from connectors.payments.common import ProviderEvent, category
from connectors.payments.contract import (
    DisputeNotice,
    EvidenceReceipt,
    EvidenceSubmission,
    ProviderRefund,
    RefundOutcome,
)
from connectors.signing import header_value
from connectors.values import cents_to_money, money_cents, parse_timestamp

STATES = {"COMPLETED": "succeeded", "PENDING": "pending"}
#: Carrier names (ours, as ShipStation codes them) → PayPal's carrier codes; others go as OTHER with the name.
CARRIERS = {"ups": "UPS", "fedex": "FEDEX", "usps": "USPS", "stamps_com": "USPS", "dhl": "DHL", "dhl_express": "DHL"}
OUTCOMES = {"RESOLVED_SELLER_FAVOUR": "won", "RESOLVED_BUYER_FAVOUR": "lost", "ACCEPTED": "accepted"}
TRANSMISSION = {"auth_algo": "PAYPAL-AUTH-ALGO", "cert_url": "PAYPAL-CERT-URL", "transmission_id": "PAYPAL-TRANSMISSION-ID",
                "transmission_sig": "PAYPAL-TRANSMISSION-SIG", "transmission_time": "PAYPAL-TRANSMISSION-TIME"}


class PayPalProvider(RestConnector):
    provider = "paypal"
    platform: ClassVar[str] = "paypal"

    def build_auth(self) -> ClientCredentials:
        return ClientCredentials.over_basic_auth(f"{self.base_url}/v1/oauth2/token", self.config.credentials["client_id"],
                                                 self.config.credentials["client_secret"], platform="paypal",
                                                 timeout_s=self.config.timeout_s, clock=self.clock)

    def error_message(self, body: Any, fallback: str) -> str:
        if isinstance(body, dict) and body.get("name"):
            issues = ", ".join(str(d.get("issue")) for d in body.get("details") or [] if isinstance(d, dict))
            return f"{body['name']}: {body.get('message', '')}" + (f" ({issues})" if issues else "")
        return super().error_message(body, fallback)

    def refund(self, request: ProviderRefund) -> RefundOutcome:
        body = {"amount": {"value": cents_to_money(request.amount_cents), "currency_code": request.currency},
                "note_to_payer": request.reason[:255] or None, "invoice_id": request.metadata.get("reference")}
        response = self.request("POST", f"/v2/payments/captures/{request.payment_ref}/refund", retry=False,
                                json_body={k: v for k, v in body.items() if v}, headers={
                                    "PayPal-Request-Id": request.idempotency_key, "Prefer": "return=representation"})
        return self._outcome(self.decode(response), replayed=response.status_code == 200)

    def refund_status(self, provider_ref: str) -> RefundOutcome:
        return self._outcome(self.get_json(f"/v2/payments/refunds/{provider_ref}"))

    @staticmethod
    def _outcome(refund: dict[str, Any], replayed: bool = False) -> RefundOutcome:
        amount = refund.get("amount") or {}
        return RefundOutcome("paypal", str(refund["id"]), STATES.get(refund.get("status", ""), "failed"),  # type: ignore[arg-type]
                             money_cents(amount.get("value")), str(amount.get("currency_code") or ""), replayed,
                             str((refund.get("status_details") or {}).get("reason") or ""), refund)

    def verify_events(self, headers: dict[str, str], body: bytes) -> list[ProviderEvent]:
        try:
            event = json.loads(body)
            topic, resource = str(event["event_type"]), event["resource"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"paypal: not a webhook event ({exc})") from exc
        check = {name: header_value(headers, header) for name, header in TRANSMISSION.items()}
        if not all(check.values()) or not self.config.webhook_secret:
            raise SignatureError("paypal: transmission headers missing or no webhook id configured")
        answer = self.request("POST", "/v1/notifications/verify-webhook-signature", retry=True, json_body={
            **check, "webhook_id": self.config.webhook_secret, "webhook_event": event})
        if (self.decode(answer) or {}).get("verification_status") != "SUCCESS":
            raise SignatureError(f"paypal: verify-webhook-signature refused event {event.get('id')}")
        if not topic.startswith("CUSTOMER.DISPUTE."):
            return [ProviderEvent("paypal", str(event["id"]), topic, "other", raw=event)]
        return [ProviderEvent("paypal", str(event["id"]), topic, "dispute", raw=event,
                              dispute=self._notice(str(event["id"]), resource))]

    @staticmethod
    def _notice(event_id: str, dispute: dict[str, Any]) -> DisputeNotice:
        amount = dispute.get("dispute_amount") or {}
        outcome = OUTCOMES.get((dispute.get("dispute_outcome") or {}).get("outcome_code", ""), "open")
        captures = [t.get("seller_transaction_id") for t in dispute.get("disputed_transactions") or []]
        return DisputeNotice(
            "paypal", event_id, str(dispute["dispute_id"]), str(captures[0] if captures else ""), str(dispute["status"]),
            outcome, str(dispute.get("reason") or ""), "", category(str(dispute.get("reason") or "")),  # type: ignore[arg-type]
            money_cents(amount.get("value")), str(amount.get("currency_code") or ""),
            parse_timestamp(dispute.get("seller_response_due_date")), dispute,
            tuple(str(capture) for capture in captures[1:] if capture))

    def verify_dispute_notice(self, headers: dict[str, str], body: bytes) -> list[DisputeNotice]:
        return [event.dispute for event in self.verify_events(headers, body) if event.dispute is not None]

    def _open_for_evidence(self, dispute_ref: str) -> dict[str, Any]:
        dispute = self.get_json(f"/v1/customer/disputes/{dispute_ref}")
        return dispute if isinstance(dispute, dict) else {}

    @staticmethod
    def _evidences(fields: dict[str, str]) -> list[dict[str, Any]]:
        by_type: dict[str, dict[str, Any]] = {}
        for key, value in fields.items():
            kind, _, part = key.partition(".")
            evidence = by_type.setdefault(kind, {"evidence_type": kind})
            if part in ("tracking_number", "carrier_name"):  # one entry per shipment ("; " between them)
                info = evidence.setdefault("evidence_info", {}).setdefault("tracking_info", [])
                for index, one in enumerate(value.split("; ")):
                    info += [{} for _ in range(index + 1 - len(info))]
                    code = CARRIERS.get(one.strip().lower(), "OTHER") if part == "carrier_name" else None
                    info[index].update({part: code or one, **({"carrier_name_other": one} if code == "OTHER" else {})})
            elif part == "refund_id":
                evidence.setdefault("evidence_info", {}).setdefault("refund_ids", []).append(value)
            else:
                evidence["notes"] = value
        return list(by_type.values())

    def stage_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        dispute = self._open_for_evidence(submission.dispute_ref)
        takes = any(link.get("rel") == "provide_evidence" for link in dispute.get("links") or [])
        return EvidenceReceipt(submission.dispute_ref, False, str(dispute.get("status")),
                               "kept here: PayPal has no draft" if takes else "PayPal takes no evidence for it now")

    def submit_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        dispute = self._open_for_evidence(submission.dispute_ref)
        if any(e.get("source") == "SUBMITTED_BY_SELLER" for e in dispute.get("evidences") or []):
            return EvidenceReceipt(submission.dispute_ref, True, str(dispute.get("status")), "submitted before")
        if not any(link.get("rel") == "provide_evidence" for link in dispute.get("links") or []):
            raise PermanentError(f"paypal dispute {submission.dispute_ref} takes no evidence while "
                                 f"{dispute.get('status')}", platform="paypal")
        parts: list[tuple[str, tuple[str | None, Any, str]]] = [
            ("input", (None, json.dumps({"evidences": self._evidences(submission.fields)}), "application/json"))]
        parts += [("evidence_file", (name, content, "application/octet-stream"))
                  for name, content in submission.files.items()]
        self._send_once("POST", self.url(f"/v1/customer/disputes/{submission.dispute_ref}/provide-evidence"),
                        files=parts)
        return EvidenceReceipt(submission.dispute_ref, True, "UNDER_REVIEW", f"{len(parts) - 1} file(s) sent")
