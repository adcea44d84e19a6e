"""Loop Returns' Return webhook: verified by its signature and read into a return request.

Public docs this follows:

* https://docs.loopreturns.com/reference/setting-up-webhooks and
  https://docs.loopreturns.com/reference/hmac-calculation — ``X-Loop-Signature`` is the base64
  HMAC-SHA256 of the raw body keyed by the webhook secret Loop gives.
* https://docs.loopreturns.com/webhook-reference/topics/return — the Return topic: ``topic``
  (``return``), ``trigger`` (``return.created``, ``return.updated``, ``return.closed``), ``id``
  (Loop's return id), ``state``, ``order_name`` (the Shopify order name), ``provider_order_id``,
  ``customer`` (email), ``currency``, ``line_items``.

Each line item is read for ``sku``, ``quantity`` (1 when absent: Loop lists one row per unit) and
its reason (``parent_return_reason`` or ``return_reason``) — these line fields are read leniently.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Mapping

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.values import json_object

HEADER = "x-loop-signature"


@dataclass(frozen=True)
class LoopReturn:
    return_id: str
    trigger: str
    state: str
    order_name: str
    provider_order_id: str | None
    customer: str | None
    lines: dict[str, int]
    reason: str


def verify(secret: str | None, headers: Mapping[str, str], body: bytes) -> None:
    if not secret:
        raise SignatureError("no Loop webhook secret is configured")
    given = {k.lower(): v for k, v in headers.items()}.get(HEADER, "")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not given or not hmac.compare_digest(given.strip(), expected):
        raise SignatureError("X-Loop-Signature does not match")


def _reason(item: Mapping[str, Any]) -> str:
    raw = item.get("parent_return_reason") or item.get("return_reason") or item.get("reason") or "return"
    text = str(raw.get("name") if isinstance(raw, Mapping) else raw).strip().lower()
    return "_".join(text.replace("-", " ").split())[:64] or "return"


def parse(body: bytes) -> LoopReturn:
    payload = json_object(body)
    if payload.get("topic") not in (None, "return") or payload.get("id") in (None, ""):
        raise MalformedPayloadError("not a Loop return webhook (topic return with an id)")
    lines: dict[str, int] = {}
    reasons = []
    for item in payload.get("line_items") or []:
        if not isinstance(item, Mapping) or not item.get("sku"):
            continue
        lines[str(item["sku"])] = lines.get(str(item["sku"]), 0) + int(item.get("quantity") or 1)
        reasons.append(_reason(item))
    trigger = str(payload.get("trigger") or "return.created")
    return LoopReturn(str(payload["id"]), trigger if "." in trigger else f"return.{trigger}",
                      str(payload.get("state") or ""), str(payload.get("order_name") or "").lstrip("#"),
                      str(payload["provider_order_id"]) if payload.get("provider_order_id") else None,
                      payload.get("customer") if isinstance(payload.get("customer"), str) else None,
                      lines, reasons[0] if reasons else "return")
