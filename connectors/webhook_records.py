"""A parsed webhook's records as JSON, so the body is parsed once: by the web edge, which must
parse it anyway to answer 400 to a malformed one, and never again by the drain.

The inbox row keeps the raw body and the kept headers as they arrived (nothing is lost, and a
row stored without records is still parsed from them); ``dump`` adds what the platform's parser
made of it, and ``load`` gives back the same records: every field of ``StockRecord``,
``OrderRecord`` (its ``PaymentRisk`` as a nested object), ``OrderLineRecord``, ``FulfillmentRecord``,
``StoreRefundRecord`` and ``ReturnRecord`` (their ``lines`` as order lines), datetimes as
ISO 8601 with their offset (https://docs.python.org/3/library/datetime.html#datetime.datetime.isoformat).
Fields that are None and may be are left out, so a stock update stores only what it carries.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar, get_type_hints

from connectors.types import (FulfillmentRecord, OrderLineRecord, OrderRecord, PaymentRisk, ReturnRecord, StockRecord,
                              StoreRefundRecord, WebhookEvent, WebhookKind)

T = TypeVar("T", StockRecord, OrderRecord, OrderLineRecord, FulfillmentRecord, StoreRefundRecord, ReturnRecord)
Record = StockRecord | OrderRecord | OrderLineRecord | FulfillmentRecord | StoreRefundRecord | ReturnRecord
#: The key of the records in an inbox row's payload, beside ``headers`` and ``body``.
PAYLOAD_KEY = "records"
#: Bumped when the stored form changes; a row with another version is parsed from its body again.
VERSION = 1


class UnreadableRecords(ValueError):
    """Stored records this code cannot read (another version, or not what ``dump`` wrote)."""


Shape = tuple[tuple[str, ...], frozenset[str], frozenset[str], frozenset[str]]
_SHAPES: dict[type, Shape] = {}


def _shape(cls: type) -> Shape:
    """(field names, datetime fields, fields without a default that may be None, fields without a
    default that may not) of a record class, worked out once per class."""
    known = _SHAPES.get(cls)
    if known is not None:
        return known
    hints = get_type_hints(cls)
    fields = dataclasses.fields(cls)

    def kinds(name: str) -> tuple[Any, ...]:
        return tuple(getattr(hints[name], "__args__", (hints[name],)))

    dated = frozenset(f.name for f in fields if datetime in kinds(f.name))
    no_default = [f.name for f in fields
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    nullable = frozenset(name for name in no_default if type(None) in kinds(name))
    shape = _SHAPES[cls] = (tuple(f.name for f in fields), dated, nullable, frozenset(no_default) - nullable)
    return shape


def _dump(record: Record) -> dict[str, Any]:
    names, dated, _nullable, required = _shape(type(record))
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(record, name)
        if value is None:
            if name in required:  # typed otherwise, but a parser left it None: kept as it is
                out[name] = None
            continue
        if name in dated:
            value = value.isoformat()
        elif name == "lines":
            value = [_dump(line) for line in value]
        elif name == "risk":
            value = {key: part for key, part in dataclasses.asdict(value).items() if part is not None}
        out[name] = value
    return out


def _load(cls: type[T], data: dict[str, Any]) -> T:
    names, dated, nullable, required = _shape(cls)
    unknown, missing = set(data) - set(names), required - set(data)
    if unknown or missing:
        raise UnreadableRecords(f"{cls.__name__}: no field {sorted(unknown)}, missing {sorted(missing)}")
    values: dict[str, Any] = {name: None for name in nullable}
    for name, value in data.items():
        if name in dated:
            value = None if value is None else datetime.fromisoformat(value)
        elif name == "lines":
            value = None if value is None else [_load(OrderLineRecord, line) for line in value]
        elif name == "risk":
            value = None if value is None else PaymentRisk(**value)
        values[name] = value
    return cls(**values)


def dump(event: WebhookEvent) -> dict[str, Any]:
    """The records of a parsed webhook, JSON-ready (its kind, topic, key and time are the row's own columns)."""
    out: dict[str, Any] = {"v": VERSION}
    if event.stock:
        out["stock"] = [_dump(record) for record in event.stock]
    if event.orders:
        out["orders"] = [_dump(order) for order in event.orders]
    if event.resource_ids:
        out["resource_ids"] = list(event.resource_ids)
    if event.fulfillments:
        out["fulfillments"] = [_dump(fulfillment) for fulfillment in event.fulfillments]
    if event.refunds:
        out["refunds"] = [_dump(refund) for refund in event.refunds]
    if event.returns:
        out["returns"] = [_dump(one) for one in event.returns]
    return out


def load(data: dict[str, Any], kind: WebhookKind, topic: str, dedupe_key: str,
         occurred_at: datetime | None) -> WebhookEvent:
    """The event ``dump`` stored, with the row's own kind, topic, key and time."""
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise UnreadableRecords(f"stored records of version {data.get('v') if isinstance(data, dict) else '?'}")
    try:
        return WebhookEvent(kind=kind, topic=topic, dedupe_key=dedupe_key, occurred_at=occurred_at,
                            stock=[_load(StockRecord, record) for record in data.get("stock", [])],
                            orders=[_load(OrderRecord, order) for order in data.get("orders", [])],
                            resource_ids=[str(one) for one in data.get("resource_ids", [])],
                            fulfillments=[_load(FulfillmentRecord, one) for one in data.get("fulfillments", [])],
                            refunds=[_load(StoreRefundRecord, one) for one in data.get("refunds", [])],
                            returns=[_load(ReturnRecord, one) for one in data.get("returns", [])])
    except (TypeError, ValueError, AttributeError) as exc:
        raise UnreadableRecords(str(exc)) from exc
