"""The ShipStation stand-in's declarations: an account's labels and scans, both APIs' auth and rate
limits, the shapes each API answers in, and SHIP_NOTIFY delivery.

Labels are kept once, in the V1 "shipment" shape; the V2 label, V2 shipment and tracking answers are
views of the same rows, so a label made through the admin is seen alike by either API. V1 times are
Pacific wall-clock text with a seven-digit fraction, as the V1 API answers; V2 times are UTC ``Z``.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.auth import basic_credentials
from sandbox.kit.limits import Window, WindowLimit, whole_seconds
from sandbox.kit.webhooks import post, send, subscribers

PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_V2_KEY = "ss_sandbox_key", "ss_sandbox_secret", "ss_v2_sandbox_key"
#: ``POST /webhooks/subscribe`` events (https://docs.shipstation.com/apis/shipstation-v1/docs/models/webhook).
EVENTS = ("ORDER_NOTIFY", "ITEM_ORDER_NOTIFY", "SHIP_NOTIFY", "ITEM_SHIP_NOTIFY", "FULFILLMENT_SHIPPED",
          "FULFILLMENT_REJECTED")
#: An admin scan → V2 tracking ``(status_code, status_detail_code, description, event_code)``.
SCANS = {"accepted": ("AC", "PICKED_UP", "Picked up by carrier", "PU"),
         "in_transit": ("IT", "IN_TRANSIT", "In transit, arrived at facility", "AR"),
         "out_for_delivery": ("IT", "OUT_FOR_DELIVERY", "Out for delivery", "OD"),
         "delivered": ("DE", "DELIVERED", "Delivered, front door", "DL"),
         "exception": ("EX", "DELIVERY_EXCEPTION", "Delivery exception: address not found", "EX"),
         "returned": ("EX", "RETURNED_TO_SENDER", "Returned to sender", "RS")}


@dataclass
class AccountState(KitState):
    api_key: str = DEFAULT_KEY
    api_secret: str = DEFAULT_SECRET
    v2_key: str = DEFAULT_V2_KEY
    v1_window: Window = field(default_factory=lambda: Window(40))
    v2_window: Window = field(default_factory=lambda: Window(200))
    shipments: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: tracking number → its scans, oldest first, in the V2 event shape.
    scans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    batches: dict[int, list[int]] = field(default_factory=dict)
    #: Return labels bought with ``POST /v2/labels`` (``is_return_label``), in the V2 label shape.
    return_labels: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 72_000_000


def v1_time(when: datetime) -> str:
    return when.astimezone(PACIFIC).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def v2_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_time(text: str, zone: Any = PACIFIC) -> datetime:
    """A filter's date-time; without an offset it is the API's own zone (V1: Pacific)."""
    when = datetime.fromisoformat(text.strip().replace(" ", "T").replace("Z", "+00:00")[:26])
    return when if when.tzinfo else when.replace(tzinfo=zone)


def created(row: dict[str, Any]) -> datetime:
    return read_time(row["createDate"])


def v1_error(message: str) -> dict[str, Any]:
    """V1 answers ASP.NET-style bodies (the shape is our assumption: the V1 docs show none)."""
    return {"Message": message}


def v2_error(code: str, message: str, kind: str = "validation") -> dict[str, Any]:
    """V2 errors: ``{request_id, errors: [{error_source, error_type, error_code, message}]}``
    (https://docs.shipstation.com/apis/shipengine/docs/reference/errors)."""
    return {"request_id": str(uuid.uuid4()), "errors": [{"error_source": "shipstation", "error_type": kind,
                                                         "error_code": code, "message": message}]}


def is_v2(call: Call[Any]) -> bool:
    return "/v2/" in call.request.url.path


def check_auth(call: Call[AccountState]) -> JSONResponse | None:
    """V2: the ``API-Key`` header; V1: HTTP Basic key:secret."""
    if is_v2(call):
        if call.request.headers.get("API-Key") == call.state.v2_key:
            return None
        return JSONResponse(v2_error("unauthorized", "The API key is invalid.", "security"), status_code=401)
    if basic_credentials(call.request) == (call.state.api_key, call.state.api_secret):
        return None
    return JSONResponse(v1_error("Authorization has been denied for this request."), status_code=401)


def v1_headers(window: Window, remaining: int, left: float) -> dict[str, str]:
    return {"X-Rate-Limit-Limit": str(window.limit), "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(whole_seconds(left))}


V1_LIMIT = WindowLimit(lambda: v1_error("Too Many Requests"), v1_headers, None, "v1_window")
V2_LIMIT = WindowLimit(lambda: v2_error("rate_limit_exceeded", "You have exceeded the rate limit.", "system"),
                       attr="v2_window")


class Limits:
    """V1: ``X-Rate-Limit-*`` on every answer, 429 past the window; V2: 429 with ``Retry-After``."""

    def check(self, call: Call[AccountState]) -> dict[str, str]:
        return (V2_LIMIT if is_v2(call) else V1_LIMIT).check(call)


def v1_view(row: dict[str, Any], items: bool) -> dict[str, Any]:
    return {**row, "shipmentItems": row["shipmentItems"] if items else None}


def label_view(state: AccountState, row: dict[str, Any]) -> dict[str, Any]:
    scans = state.scans.get(row["trackingNumber"], [])
    last = scans[-1]["status_code"] if scans else "UN"
    return {"label_id": f"se-{row['shipmentId']}", "status": "voided" if row["voided"] else "completed",
            "shipment_id": f"se-s{row['shipmentId']}", "ship_date": f"{row['shipDate']}T00:00:00Z",
            "created_at": v2_time(created(row)), "tracking_number": row["trackingNumber"],
            "is_return_label": False, "carrier_code": row["carrierCode"], "service_code": row["serviceCode"],
            "voided": row["voided"], "tracking_status": {"DE": "delivered", "EX": "error", "UN": "unknown"}
            .get(last, "in_transit")}


def shipment_view(row: dict[str, Any]) -> dict[str, Any]:
    """A V2 shipment (a V1 order, here the part one label carries)."""
    return {"shipment_id": f"se-s{row['shipmentId']}", "shipment_number": row["orderNumber"],
            "shipment_status": "label_purchased", "created_at": v2_time(created(row)),
            "items": [{"name": i["name"], "sku": i["sku"], "quantity": i["quantity"],
                       "external_order_item_id": i["lineItemKey"]} for i in row["shipmentItems"]]}


def tracking_view(state: AccountState, number: str, carrier: str) -> dict[str, Any]:
    events = list(reversed(state.scans.get(number, [])))  # newest first, as the API lists them
    latest = events[0] if events else {"status_code": "UN", "status_detail_code": None, "description": "Unknown"}
    return {"tracking_number": number, "carrier_code": carrier, "status_code": latest["status_code"],
            "status_detail_code": latest["status_detail_code"], "status_description": latest["description"],
            "exception_description": latest["description"] if latest["status_code"] == "EX" else None,
            "actual_delivery_date": latest.get("occurred_at") if latest["status_code"] == "DE" else None,
            "events": events}


def notify(state: AccountState, base: str, batch: int) -> list[dict[str, Any]]:
    """POST ``{resource_url, resource_type}`` to every SHIP_NOTIFY / ITEM_SHIP_NOTIFY subscriber."""
    records = []
    for event in ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"):
        resource = f"{base}/shipments?batchId={batch}&includeShipmentItems=False"
        body = json.dumps({"resource_url": resource, "resource_type": event}).encode()
        for hook in subscribers(state, event):
            records.append(send(state, hook, event, body, {"Content-Type": "application/json"}, batch=batch))
    return records


def age(state: AccountState, row: dict[str, Any], days: float) -> None:
    """Everything about the label happened ``days`` earlier: creation, ship date, every scan."""
    shift = timedelta(days=days)
    row["createDate"] = v1_time(created(row) - shift)
    row["shipDate"] = (datetime.fromisoformat(row["shipDate"]) - shift).date().isoformat()
    for scan in state.scans.get(row["trackingNumber"], []):
        scan["occurred_at"] = v2_time(read_time(scan["occurred_at"]) - shift)


kit: StandIn[AccountState] = StandIn(
    "shipstation", "", AccountState, auth=check_auth, error_body=lambda status: v1_error("An error has occurred."),
    limit=Limits(), webhook_admin=True, redeliver=post)
