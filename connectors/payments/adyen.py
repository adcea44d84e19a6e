"""Adyen through the official ``Adyen`` SDK (v16): ``ModificationsApi`` and ``DisputesApi`` whose
``baseUrl`` (the SDK's per-service endpoint setting) is moved onto the account's ``base_url`` when
one is set (the sandbox), keeping the SDK's own API version path.

* Refunds: ``POST /payments/{pspReference}/refunds`` with ``{amount, merchantAccount, reference}``
  and ``Idempotency-Key`` (https://docs.adyen.com/online-payments/refund,
  https://docs.adyen.com/development-resources/api-idempotency/). The answer only acknowledges
  (``received``): the state is ``pending`` until the REFUND notification says ``success``; Adyen
  has no call to ask, so :meth:`refund_status` stays pending.
* Notifications: each ``NotificationRequestItem`` is checked with the SDK's
  ``util.is_valid_hmac_notification`` (HMAC-SHA256 over ``pspReference, originalReference,
  merchantAccountCode, merchantReference, value, currency, eventCode, success``:
  https://docs.adyen.com/development-resources/webhooks/verify-hmac-signatures); one bad item
  refuses the delivery. The receiver answers ``[accepted]``. REFUND items give a refund's
  outcome; NOTIFICATION_OF_CHARGEBACK, CHARGEBACK, SECOND_CHARGEBACK, CHARGEBACK_REVERSED,
  PREARBITRATION_* and dispute status items give a :class:`DisputeNotice` (``defensePeriodEndsAt``:
  https://docs.adyen.com/risk-management/disputes-api/dispute-notifications/).
* Evidence (https://docs.adyen.com/risk-management/disputes-api): stage = ``supplyDefenseDocument``
  (each field a text document, each file a document named by its type code, e.g.
  ``ProofOfDelivery.pdf``); submit = the documents, then ``defendDispute`` with the submission's
  ``defense_reason`` (else the first applicable reason the documents satisfy, as
  ``retrieveApplicableDefenseReasons`` says). A ``disputeServiceResult`` that is not valid is a
  :class:`PermanentError` with Adyen's message.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import Adyen
import requests
from Adyen import util
from Adyen.exceptions import AdyenError
from Adyen.services.checkout import ModificationsApi
from Adyen.services.disputes import DisputesApi

from connectors.errors import MalformedPayloadError, PermanentError, SignatureError
from connectors.payments.common import ProviderEvent, by_status, category, from_network
from connectors.payments.contract import (
    DisputeNotice,
    EvidenceReceipt,
    EvidenceSubmission,
    ProviderRefund,
    RefundOutcome,
)
from connectors.types import ConnectorConfig

DISPUTE_EVENTS = {"NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK", "SECOND_CHARGEBACK", "CHARGEBACK_REVERSED",
                  "PREARBITRATION_WON", "PREARBITRATION_LOST", "INFORMATION_SUPPLIED", "DISPUTE_DEFENSE_PERIOD_ENDED",
                  "ISSUER_RESPONSE_TIMEFRAME_EXPIRED", "REQUEST_FOR_INFORMATION"}
OUTCOMES = {"Won": "won", "Lost": "lost", "Accepted": "accepted", "CHARGEBACK_REVERSED": "won",
            "PREARBITRATION_WON": "won", "SECOND_CHARGEBACK": "lost", "PREARBITRATION_LOST": "lost"}
CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff",
                 "tiff": "image/tiff", "html": "text/html"}


class AdyenProvider:
    provider = "adyen"

    def __init__(self, config: ConnectorConfig) -> None:
        client = Adyen.AdyenClient(xapikey=config.credentials["api_key"], http_timeout=int(config.timeout_s),
                                   platform=str(config.options.get("environment", "test")),
                                   live_endpoint_prefix=config.options.get("live_endpoint_prefix"))
        self.modifications, self.disputes = ModificationsApi(client), DisputesApi(client)
        if config.base_url:
            for api, root in ((self.modifications, "/checkout"), (self.disputes, "")):
                api.baseUrl = config.base_url.rstrip("/") + root + urlsplit(api.baseUrl).path
        self.merchant = str(config.options["merchant_account"])
        self.hmac_key = config.webhook_secret or ""

    @contextmanager
    def _classified(self, what: str, write: bool) -> Iterator[None]:
        try:
            yield
        except requests.RequestException as exc:
            raise from_network(exc, "adyen", what, write) from exc
        except AdyenError as exc:
            status = int(exc.status_code) if str(exc.status_code).isdigit() else None
            message = exc.message.get("message") if isinstance(exc.message, dict) else exc.message
            raise by_status(status, f"adyen {what} → {status} {exc.error_code}: {message}", "adyen",
                            str(exc.raw_response)) from exc

    def refund(self, request: ProviderRefund) -> RefundOutcome:
        body = {"amount": {"value": request.amount_cents, "currency": request.currency},
                "merchantAccount": self.merchant, "reference": request.metadata.get("reference", request.idempotency_key)}
        with self._classified("refund", write=True):
            result = self.modifications.refund_captured_payment(body, request.payment_ref,
                                                                idempotency_key=request.idempotency_key[:64])
        answer = result.message or {}
        return RefundOutcome("adyen", str(answer["pspReference"]), "pending", request.amount_cents, request.currency,
                             detail=f"Adyen {answer.get('status', 'received')}: outcome follows as a REFUND notification",
                             raw=answer)

    def refund_status(self, provider_ref: str) -> RefundOutcome:
        return RefundOutcome("adyen", provider_ref, "pending", 0, "",
                             detail="Adyen reports a refund's outcome only in its REFUND notification")

    def verify_events(self, headers: dict[str, str], body: bytes) -> list[ProviderEvent]:
        try:
            items = [entry["NotificationRequestItem"] for entry in json.loads(body)["notificationItems"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"adyen: not a notification ({exc})") from exc
        for item in items:
            try:
                valid = bool(self.hmac_key) and util.is_valid_hmac_notification(item, self.hmac_key)
            except (ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                raise SignatureError(f"adyen: hmacSignature of {item.get('eventCode')} {item.get('pspReference')} "
                                     "does not match")
        return [self._event(item) for item in items]

    def _event(self, item: dict[str, Any]) -> ProviderEvent:
        event_id = f"{item['pspReference']}:{item['eventCode']}:{item.get('success')}"
        amount = item.get("amount") or {}
        if item["eventCode"] == "REFUND":
            ok = str(item.get("success")) == "true"
            refund = RefundOutcome("adyen", str(item["pspReference"]), "succeeded" if ok else "failed",
                                   int(amount.get("value") or 0), str(amount.get("currency") or ""),
                                   detail=str(item.get("reason") or ""), raw=item)
            return ProviderEvent("adyen", event_id, "REFUND", "refund", refund=refund, raw=item)
        if item["eventCode"] not in DISPUTE_EVENTS:
            return ProviderEvent("adyen", event_id, str(item["eventCode"]), "other", raw=item)
        extra = item.get("additionalData") or {}
        status = str(extra.get("disputeStatus") or item["eventCode"])
        code = str(extra.get("chargebackReasonCode") or "")
        ends = extra.get("defensePeriodEndsAt")
        notice = DisputeNotice(
            "adyen", event_id, str(item["pspReference"]), str(item.get("originalReference") or ""), status,
            OUTCOMES.get(status, OUTCOMES.get(item["eventCode"], "open")), code, code, category(code),  # type: ignore[arg-type]
            int(amount.get("value") or 0), str(amount.get("currency") or ""),
            datetime.fromisoformat(str(ends).replace("Z", "+00:00")) if ends else None, item)
        return ProviderEvent("adyen", event_id, str(item["eventCode"]), "dispute", dispute=notice, raw=item)

    def verify_dispute_notice(self, headers: dict[str, str], body: bytes) -> list[DisputeNotice]:
        return [event.dispute for event in self.verify_events(headers, body) if event.dispute is not None]

    def _service(self, what: str, call: Any, request: dict[str, Any]) -> dict[str, Any]:
        with self._classified(what, write=True):
            answer = call({"disputePspReference": request.pop("dispute"), "merchantAccountCode": self.merchant,
                           **request}).message or {}
        result = answer.get("disputeServiceResult") or {}
        if not result.get("valid"):
            raise PermanentError(f"adyen {what}: {result.get('errorMessage') or 'not valid'}", platform="adyen",
                                 body=str(answer))
        return answer

    def _documents(self, submission: EvidenceSubmission) -> None:
        documents = [{"content": base64.b64encode(text.encode()).decode(), "contentType": "text/plain",
                      "defenseDocumentTypeCode": code} for code, text in submission.fields.items()]
        documents += [{"content": base64.b64encode(content).decode(), "defenseDocumentTypeCode": name.rsplit(".", 1)[0],
                       "contentType": CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/pdf")}
                      for name, content in submission.files.items()]
        if documents:  # a submission after staging may bring none: those supplied stay
            self._service("supplyDefenseDocument", self.disputes.supply_defense_document,
                          {"dispute": submission.dispute_ref, "defenseDocuments": documents})

    def stage_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        self._documents(submission)
        return EvidenceReceipt(submission.dispute_ref, False, "documents_supplied",
                               f"{len(submission.fields) + len(submission.files)} defense document(s) supplied")

    def submit_evidence(self, submission: EvidenceSubmission) -> EvidenceReceipt:
        self._documents(submission)
        reason = submission.defense_reason
        if not reason:
            reasons = self._service("retrieveApplicableDefenseReasons", self.disputes.retrieve_applicable_defense_reasons,
                                    {"dispute": submission.dispute_ref}).get("defenseReasons") or []
            reason = next((r["defenseReasonCode"] for r in reasons if r.get("satisfied")), "")
        self._service("defendDispute", self.disputes.defend_dispute,
                      {"dispute": submission.dispute_ref, "defenseReasonCode": reason})
        return EvidenceReceipt(submission.dispute_ref, True, "defended", f"defense reason {reason}")
