"""Applying stored webhooks, in one batch, once they are parsed (``flows.inbound`` parses each
with its store's connector and hands the records here: this module never calls a connector).

Events are applied in arrival order within a batch; stock figures carry the platform's own
timestamp, so an older update that arrives late does not overwrite a newer one (see
``domain.stock.levels``). An event naming a SKU or location we do not know is quarantined and alerted,
never dropped: an operator can add the SKU to the configuration and re-drive it. A location the
store says it connected (Shopify's ``inventory_levels/connect``) is the exception: it is adopted
first (``domain.stock.connected_locations``), so its figures count from that event on; an item
the store disconnected from a location (``inventory_levels/disconnect``) stops counting and being
written there at once. Returns the store keeps itself (Shopify's ``returns/*``) are handed on with
the event that carried them (``result.returns``: ``domain.returns.store_returns``, after the batch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.types import FulfillmentRecord, OrderRecord, ReturnRecord, StockRecord, StoreRefundRecord, WebhookEvent
from domain.core.clock import utcnow
from domain.core.db import any_int
from domain.core.models import InboxEvent
from domain.stock.connected_locations import adopt, disconnect
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders

#: Headers kept with a stored webhook so it can be parsed again later, exactly as received
#: (``x-backorders-topic``: the type Cin7 Core's webhooks carry in a header we set; never the
#: ``x-backorders-secret`` beside it).
KEPT_HEADER_PREFIXES = ("x-shopify-", "shopify-", "x-wc-", "x-signature", "x-lightspeed", "content-type",
                        "user-agent", "x-bc-", "x-request-id", "x-magento-", "x-backorders-topic")


def stored_payload(headers: dict[str, str], body: bytes, keep: Iterable[str] = ()) -> dict[str, Any]:
    """The body and the headers parsing needs again: the platforms' own prefixes, plus the headers
    a store's connector names in ``keep`` (a ``rest`` store's topic and delivery-id headers)."""
    named = {name.lower() for name in keep}
    kept = {name: v for k, v in headers.items()
            if (name := k.lower()).startswith(KEPT_HEADER_PREFIXES) or name in named}
    return {"headers": kept, "body": body.decode("utf-8")}


@dataclass(frozen=True)
class ParsedEvent:
    """A claimed inbox row with what its body said: the parsed event, or why it could not be read.

    ``deferred``: the event names its resources by id only and they have not been fetched yet; it
    is left pending, untouched, for the drain to fetch them outside its transaction."""

    event: InboxEvent
    parsed: WebhookEvent | None
    error: str | None = None
    deferred: bool = False


@dataclass
class DrainResult:
    done: int = 0
    changed_sku_ids: set[int] = field(default_factory=set)
    backorder_ids: list[int] = field(default_factory=list)
    quarantined: list[tuple[int, str]] = field(default_factory=list)
    #: Orders stored (new or updated): the fraud stage scores them after the commit.
    order_ids: list[int] = field(default_factory=list)
    #: Events left pending until their resources are fetched (``ParsedEvent.deferred``).
    deferred: list[ParsedEvent] = field(default_factory=list)
    #: An event named what changed without its figures, on a platform that is not asked per
    #: resource (a Business Central notification): the store's incremental read is due now.
    read_now: bool = False
    #: Lines the store shipped (``order_fulfilled``): their backordered customers hear of it
    #: (``domain.journey.shipped.ship_fulfilled``, after this batch is applied).
    fulfillments: list[FulfillmentRecord] = field(default_factory=list)
    #: Refunds made at the store (``refund_created``): recorded against their orders
    #: (``domain.payments.store_refunds``, after this batch is applied).
    refunds: list[StoreRefundRecord] = field(default_factory=list)
    #: Store locations a ``location_connected`` event brought in and that are tracked from now on.
    adopted_locations: list[str] = field(default_factory=list)
    #: Returns the store keeps, with the inbox event that carried each (quarantined if it cannot be taken).
    returns: list[tuple[InboxEvent, ReturnRecord]] = field(default_factory=list)


def apply_parsed(session: Session, store_id: int, batch: list[ParsedEvent]) -> DrainResult:
    """Apply a claimed, parsed batch: every event's stock figures go into ONE ``record_batch`` call
    (one statement for the whole batch, not one per event), orders per event, then the events are
    marked done with one UPDATE. Unknown SKUs or locations quarantine only the event naming them;
    an unparsable body quarantines its event; a deferred one is left as it is (``result.deferred``).
    """
    result = DrainResult(deferred=[item for item in batch if item.deferred])
    batch = [item for item in batch if not item.deferred]
    now = utcnow()
    problems: dict[int, list[str]] = {}
    owner: dict[int, InboxEvent] = {}
    stock: list[StockRecord] = []
    parsed_orders: list[tuple[InboxEvent, list[OrderRecord]]] = []
    events = [item.event for item in batch]
    for item in batch:
        event, parsed = item.event, item.parsed
        if parsed is None:
            problems[event.id] = [f"unparsable: {item.error}"]
            continue
        problems[event.id] = []
        result.read_now |= bool(parsed.resource_ids) and not (parsed.stock or parsed.orders) \
            and parsed.kind not in ("order_fulfilled", "refund_created", "return_changed", "location_disconnected")
        result.returns += [(event, one) for one in parsed.returns]
        if parsed.kind == "location_disconnected":  # stops counting and being written there at once
            result.changed_sku_ids.update(disconnect(session, store_id, parsed.stock, parsed.occurred_at or now))
            continue
        for record in parsed.stock:
            owner[id(record)] = event
            stock.append(record)
        if parsed.orders:
            parsed_orders.append((event, parsed.orders))
        if parsed.kind == "location_connected":  # a location connected at the store: tracked at once
            result.adopted_locations += adopt(session, store_id, parsed.stock)
        result.fulfillments += parsed.fulfillments
        result.refunds += parsed.refunds
    if stock:
        stored = record_batch(session, store_id, stock)
        result.changed_sku_ids.update(stored.changed_sku_ids)
        for record in stored.unknown:
            problems[owner[id(record)].id].append(
                f"unknown SKU or location: {record.sku or record.inventory_item_id or record.external_id}"
                f" @ {record.location_external_id}")
    for event, orders in parsed_orders:
        recorded = record_orders(session, store_id, orders)
        result.changed_sku_ids.update(recorded.sku_ids)
        result.backorder_ids += recorded.backorder_ids
        result.order_ids += recorded.order_ids
        problems[event.id] += [f"order line without SKU: {line}" for line in recorded.unplaced]
    done_ids = [event.id for event in events if not problems[event.id]]
    for event in events:
        if problems[event.id]:
            event.state, event.error = "quarantined", "; ".join(problems[event.id])[:2000]
            event.processed_at, event.attempts = now, event.attempts + 1
            result.quarantined.append((event.id, event.error))
    if done_ids:
        session.execute(update(InboxEvent).where(InboxEvent.id == any_int("done_ids", done_ids))
                        .values(state="done", processed_at=now, attempts=InboxEvent.attempts + 1)
                        .execution_options(synchronize_session=False))
    result.done = len(done_ids)
    return result
