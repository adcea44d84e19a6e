"""Processing stored webhooks: parse each with its store's connector and apply it, in one batch.

Events are applied in arrival order within a batch; stock figures carry the platform's own
timestamp, so an older update that arrives late does not overwrite a newer one (see
``domain.stock``). An event naming a SKU or location we do not know is quarantined and alerted,
never dropped: an operator can add the SKU to the configuration and re-drive it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connectors.base import Connector
from connectors.errors import MalformedPayloadError
from domain.clock import utcnow
from domain.models import InboxEvent
from domain.orders import record_orders
from domain.stock import record_batch

#: Headers kept with a stored webhook so it can be parsed again later, exactly as received.
KEPT_HEADER_PREFIXES = ("x-shopify-", "shopify-", "x-wc-", "x-signature", "x-lightspeed", "content-type",
                        "user-agent", "x-bc-", "x-request-id")


def stored_payload(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    kept = {k.lower(): v for k, v in headers.items() if k.lower().startswith(KEPT_HEADER_PREFIXES)}
    return {"headers": kept, "body": body.decode("utf-8")}


@dataclass
class DrainResult:
    done: int = 0
    changed_sku_ids: set[int] = field(default_factory=set)
    backorder_ids: list[int] = field(default_factory=list)
    quarantined: list[tuple[int, str]] = field(default_factory=list)


def apply_events(session: Session, store_id: int, connector: Connector, events: list[InboxEvent]) -> DrainResult:
    result = DrainResult()
    now = utcnow()
    for event in events:
        payload = event.payload
        try:
            parsed = connector.parse_webhook(payload.get("headers", {}), payload.get("body", "").encode("utf-8"))
        except MalformedPayloadError as exc:
            event.state, event.error, event.processed_at = "quarantined", f"unparsable: {exc}", now
            result.quarantined.append((event.id, event.error))
            continue
        problems: list[str] = []
        if parsed.stock:
            stored = record_batch(session, store_id, parsed.stock)
            result.changed_sku_ids.update(stored.changed_sku_ids)
            problems += [f"unknown SKU or location: {r.sku or r.inventory_item_id or r.external_id}"
                         f" @ {r.location_external_id}" for r in stored.unknown]
        if parsed.orders:
            recorded = record_orders(session, store_id, parsed.orders)
            result.changed_sku_ids.update(recorded.sku_ids)
            result.backorder_ids += recorded.backorder_ids
            unknown_lines = [line.sku or line.external_id for order in parsed.orders for line in order.lines
                             if not line.sku]
            problems += [f"order line without SKU: {line}" for line in unknown_lines]
        if problems:
            event.state, event.error = "quarantined", "; ".join(problems)[:2000]
            result.quarantined.append((event.id, event.error))
        else:
            event.state = "done"
            result.done += 1
        event.processed_at = now
        event.attempts += 1
    return result
