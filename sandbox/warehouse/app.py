"""The warehouse stand-in's declarations: its state, record renderings, webhook delivery, the kit.

A stock row is one item at one location; every change stamps ``updated_at`` with the instance's
clock (``_admin/clock`` moves or freezes it). Webhooks carry ``{"event", "data": [rows]}`` signed
with each subscription's secret as ``sha256=<hex>`` (GitHub's scheme,
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import BearerToken, Bucket, KitState, LeakyBucket, NumberedPages, StandIn, post, send, subscribers

DEFAULT_TOKEN = "wh_sandbox_token"
RETRY_AFTER_S = "1"


def error(kind: str, message: str) -> dict[str, str]:
    return {"error": kind, "message": message}


def ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class WarehouseState(KitState):
    """One ``{instance}``: items at locations, orders, the writes received, the rate-limit bucket."""

    token: str = DEFAULT_TOKEN
    locations: list[str] = field(default_factory=lambda: ["main"])
    item_ids: dict[str, str] = field(default_factory=dict)
    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    bucket: Bucket = field(default_factory=lambda: Bucket(size=1000, leak_rate=1000))

    def item_id(self, sku: str) -> str:
        return self.item_ids.setdefault(sku, f"itm_{len(self.item_ids) + 1:05d}")

    def set_row(self, sku: str, location: str, available: int, on_hand: int | None = None,
                name: str | None = None) -> dict[str, Any]:
        """Set one item's figures at one location and stamp the change."""
        item_id = self.item_id(sku)
        row = self.rows.get((item_id, location)) or {"item_id": item_id, "sku": sku, "name": name or sku,
                                                      "location": {"code": location}}
        row["quantity"] = {"available": int(available), "on_hand": int(available if on_hand is None else on_hand)}
        row["updated_at"] = ts(self.now())
        self.rows[(item_id, location)] = row
        return row

    def sorted_rows(self, since: datetime | None) -> list[dict[str, Any]]:
        """Rows changed at or after ``since``, oldest change first (ties by item and location)."""
        rows = [r for r in self.rows.values() if since is None or _parse(r["updated_at"]) >= since]
        return sorted(rows, key=lambda r: (r["updated_at"], r["item_id"], r["location"]["code"]))


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def since_of(text: str | None) -> datetime | None:
    """``updated_since`` as an aware time (naive means UTC); ValueError when it is not ISO-8601."""
    if not text:
        return None
    value = _parse(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(state: WarehouseState, event: str, data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST ``{"event", "data"}`` to every subscription of ``event``, signed with its secret."""
    delivered = []
    for hook in subscribers(state, event):
        body = json.dumps({"event": event, "data": data}).encode()
        delivery = str(uuid.uuid4())
        headers = {"Content-Type": "application/json", "X-Warehouse-Topic": event,
                   "X-Warehouse-Delivery": delivery, "X-Warehouse-Signature": sign(hook["secret"], body)}
        delivered.append(send(state, hook, event, body, headers, event_id=delivery))
    return delivered


kit: StandIn[WarehouseState] = StandIn(
    "warehouse", "/api/v1", WarehouseState,
    auth=BearerToken(lambda: JSONResponse(error("unauthorized", "missing or invalid bearer token"), status_code=401)),
    error_body=lambda status: error("server_error", f"injected {status}"),
    limit=LeakyBucket("X-RateLimit-Used", RETRY_AFTER_S, lambda: error("rate_limited", "too many requests")),
    clock_view=lambda now: {"now": ts(now)}, webhook_admin=True, redeliver=post)
pages = NumberedPages(lambda params: error("invalid_paging", ", ".join(sorted(params))), max_per_page=200,
                      default_per_page=50, total_header="X-Total-Count", pages_header="X-Total-Pages")
