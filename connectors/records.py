"""Record shapes declared as data: where a platform keeps the fields of one of our records.

An order line is the same record on every storefront and differs only in key names: Shopify's
``line_items`` (https://shopify.dev/docs/api/admin-rest/latest/resources/order) name the title
``title`` and the variant ``variant_id``; WooCommerce's
(https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties) ``name`` and
``variation_id``, else ``product_id``. A connector declares :class:`LineFields` and maps an
order's lines with :meth:`LineFields.records`; :class:`RiskFields` finds what fraud hints read
(customer IP, AVS and CVV results, the card, billing and shipping addresses) the same way.

:func:`held_back` is the stock a pool of locations will not sell, counted at its first location;
:func:`located_stock` sums a platform's rows per product and location, 0 at every location without one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from connectors.types import FulfillmentRecord, OrderLineRecord, PaymentRisk, StockRecord, StoreRefundRecord
from connectors.values import id_str, money_cents, parse_timestamp, whole_units


@dataclass(frozen=True)
class LineFields:
    """The keys of an order line's fields; ``variant`` keys are tried in order and the first one
    set (not empty, not 0) is the variant. Money is a decimal string or number (``money_cents``);
    a quantity may be a float (``1.0``: X-Series' sale lines) or a decimal string, kept in whole
    units (``whole_units``)."""

    title: str = "title"
    variant: tuple[str, ...] = ("variant_id",)
    id: str = "id"
    sku: str = "sku"
    quantity: str = "quantity"
    price: str = "price"

    def record(self, line: Mapping[str, Any]) -> OrderLineRecord:
        variant = next((line[key] for key in self.variant if line.get(key)), None)
        return OrderLineRecord(external_id=str(line[self.id]), sku=line.get(self.sku) or None,
                               quantity=whole_units(line.get(self.quantity)) or 0,
                               title=str(line.get(self.title) or ""),
                               price_cents=money_cents(line.get(self.price)), variant_external_id=id_str(variant))

    def records(self, lines: Iterable[Mapping[str, Any]] | None) -> list[OrderLineRecord]:
        """Every line of an order (none when the order has no line list)."""
        return [self.record(line) for line in lines or []]


def _at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``client_details.browser_ip``), None where any step is missing."""
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


#: The value at a dotted path, for declarations outside this module (``connectors.carriers``).
field_at = _at


def _first(data: Mapping[str, Any], paths: tuple[str, ...]) -> Any:
    return next((value for value in (_at(data, p) for p in paths) if value not in (None, "", {})), None)


@dataclass(frozen=True)
class RiskFields:
    """Where an order payload keeps what fraud hints read (:class:`~connectors.types.PaymentRisk`),
    each as dotted paths tried in order; the defaults name Shopify's and WooCommerce's keys, which
    do not collide, so both storefronts share :data:`ORDER_RISK`.

    Shopify's order (https://shopify.dev/docs/api/admin-rest/latest/resources/order) carries
    ``browser_ip`` (and ``client_details.browser_ip``), ``billing_address`` and ``shipping_address``
    with ``country_code``, and — on the API versions that still include it on the order —
    ``payment_details`` with ``avs_result_code``, ``cvv_result_code``, ``credit_card_bin``,
    ``credit_card_number`` (masked) and ``credit_card_company`` (the same object a transaction has:
    https://shopify.dev/docs/api/admin-rest/latest/resources/transaction). WooCommerce's
    (https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties) carries
    ``customer_ip_address`` and ``billing``/``shipping`` with ``country``; it reports no AVS or CVV
    result (those stay with the payment gateway), so they stay None: "not known".
    """

    ip: tuple[str, ...] = ("browser_ip", "client_details.browser_ip", "customer_ip_address")
    avs: tuple[str, ...] = ("payment_details.avs_result_code",)
    cvv: tuple[str, ...] = ("payment_details.cvv_result_code",)
    #: Joined in this order into the card's name: brand, BIN and the masked number (last four).
    card: tuple[str, ...] = ("payment_details.credit_card_company", "payment_details.credit_card_bin",
                             "payment_details.credit_card_number")
    billing: tuple[str, ...] = ("billing_address", "billing")
    shipping: tuple[str, ...] = ("shipping_address", "shipping")
    #: Address keys kept (Shopify's, then WooCommerce's); e-mail and phone in Woo's ``billing`` are not.
    address_keys: tuple[str, ...] = ("name", "first_name", "last_name", "company", "address1", "address_1",
                                     "address2", "address_2", "city", "province", "state", "zip", "postcode",
                                     "country_code", "country")

    def address(self, data: Mapping[str, Any], paths: tuple[str, ...]) -> dict[str, str] | None:
        found = _first(data, paths)
        if not isinstance(found, Mapping):
            return None
        kept = {key: str(found[key]).strip() for key in self.address_keys if found.get(key) not in (None, "")}
        return {key: value for key, value in kept.items() if value} or None

    @staticmethod
    def country(address: Mapping[str, str] | None) -> str | None:
        """ISO alpha-2: Shopify's ``country_code``, else a two-letter ``country`` (WooCommerce's)."""
        if not address:
            return None
        code = address.get("country_code") or address.get("country") or ""
        return code.upper() if len(code) == 2 and code.isalpha() else None

    def record(self, order: Mapping[str, Any]) -> PaymentRisk | None:
        """What the order says, or None when it says nothing of it."""
        billing, shipping = self.address(order, self.billing), self.address(order, self.shipping)
        card = " ".join(str(part).strip() for part in (_at(order, p) for p in self.card) if part) or None
        risk = PaymentRisk(customer_ip=_text(_first(order, self.ip)), avs_result=_text(_first(order, self.avs)),
                           cvv_result=_text(_first(order, self.cvv)), card=card,
                           billing_country=self.country(billing), shipping_country=self.country(shipping),
                           billing_address=billing, shipping_address=shipping)
        return risk if risk != PaymentRisk() else None


@dataclass(frozen=True)
class FulfillmentFields:
    """An order's shipments as the order lists them: each fulfillment with its own lines, carrier
    and tracking number (Shopify's ``fulfillments`` on the order an ``orders/fulfilled`` webhook
    carries: https://shopify.dev/docs/api/admin-rest/latest/resources/fulfillment ). Only
    fulfillments whose ``status`` is one of ``shipped`` count (a cancelled or failed one shipped
    nothing)."""

    lines: LineFields = LineFields()
    fulfillments: str = "fulfillments"
    line_items: str = "line_items"
    carrier: str = "tracking_company"
    tracking: str = "tracking_number"
    status: str = "status"
    shipped: tuple[str, ...] = ("success", "open", "pending")
    created: str = "created_at"

    def event(self, order: Mapping[str, Any]) -> dict[str, list[FulfillmentRecord]]:
        """``WebhookEvent`` fields of an order payload: its fulfillments."""
        return {"fulfillments": [FulfillmentRecord(
            external_id=str(one["id"]), order_external_id=str(order["id"]),
            lines=self.lines.records(one.get(self.line_items)), carrier=str(one.get(self.carrier) or ""),
            tracking_number=str(one.get(self.tracking) or ""), shipped_at=parse_timestamp(one.get(self.created)))
            for one in order.get(self.fulfillments) or [] if one.get(self.status, self.shipped[0]) in self.shipped]}


def refunded_by_transactions(refund: Mapping[str, Any]) -> int:
    """What a refund paid back, read from its transactions: the successful (or pending) ones of
    kind ``refund`` (Shopify's refund resource lists them so:
    https://shopify.dev/docs/api/admin-rest/latest/resources/refund ; a transaction without a
    ``status`` counts as successful)."""
    return sum(money_cents(t.get("amount")) for t in refund.get("transactions") or []
               if t.get("kind") == "refund" and t.get("status", "success") in ("success", "pending"))


@dataclass(frozen=True)
class RefundFields:
    """A refund resource as its platform sends it: the order it belongs to, what it paid back
    (``amount`` reads it from the payload), its note and its lines, each line naming the order
    line it refunds (Shopify's ``refunds/create``: ``refund_line_items`` of ``{line_item_id,
    quantity, line_item}`` and ``transactions``:
    https://shopify.dev/docs/api/admin-rest/latest/resources/refund )."""

    amount: Callable[[Mapping[str, Any]], int] = refunded_by_transactions
    lines: LineFields = LineFields()
    order_id: str = "order_id"
    line_items: str = "refund_line_items"
    line_id: str = "line_item_id"
    line: str = "line_item"
    transactions: str = "transactions"
    note: str = "note"
    created: str = "created_at"

    def event(self, refund: Mapping[str, Any]) -> dict[str, list[StoreRefundRecord]]:
        """``WebhookEvent`` fields of a refund payload: the refund."""
        currency = next((str(t["currency"]) for t in refund.get(self.transactions) or [] if t.get("currency")), "USD")
        lines = [self.lines.record({**(item.get(self.line) or {}), self.lines.id: item[self.line_id],
                                    self.lines.quantity: item.get("quantity")})
                 for item in refund.get(self.line_items) or []]
        return {"refunds": [StoreRefundRecord(
            external_id=str(refund["id"]), order_external_id=str(refund[self.order_id]), amount_cents=self.amount(refund),
            currency=currency, note=str(refund.get(self.note) or ""), created_at=parse_timestamp(refund.get(self.created)),
            lines=lines)]}


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


#: Shopify's and WooCommerce's order keys (see :class:`RiskFields`).
ORDER_RISK = RiskFields()


def held_back(records: list[StockRecord], pool: Sequence[str], sellable: Callable[[str], int | None]
              ) -> list[StockRecord]:
    """Per SKU, what a pool of locations (``pool``: their ids by priority) will not sell — their
    on-hand figures less ``sellable(sku)`` — counted as committed at the pool's first location that
    holds the SKU, so the pool's available figures add up to what it sells.

    Magento's Multi-Source Inventory keeps reservations (orders not shipped yet) per stock, not per
    source: a stock's salable quantity is its sources' quantities less those reservations and the
    out-of-stock threshold (https://developer.adobe.com/commerce/webapi/rest/inventory/check-salable-quantity/),
    and which source ships is decided only at shipment. ``sellable`` is asked once per SKU the pool
    holds; records elsewhere are left as they are."""
    rank = {location: n for n, location in enumerate(pool)}
    out = list(records)
    for sku in dict.fromkeys(r.sku for r in records if r.sku):
        mine = sorted((n for n, r in enumerate(out) if r.sku == sku and r.location_external_id in rank),
                      key=lambda n: rank[str(out[n].location_external_id)])
        if mine:
            held = max(0, sum(out[n].on_hand or 0 for n in mine) - (sellable(str(sku)) or 0))
            out[mine[0]] = replace(out[mine[0]], committed=held, available=(out[mine[0]].on_hand or 0) - held)
    return out


def located_stock(skus: Mapping[Any, str], places: Sequence[Any], rows: Iterable[Mapping[str, Any]],
                  where: Callable[[Mapping[str, Any]], tuple[Any, Any]], on_hand: str,
                  committed: str | None = None) -> list[StockRecord]:
    """Each product (``skus``: its id → our SKU, in the order to report) at each of ``places``: the
    ``on_hand`` and ``committed`` fields of the rows ``where`` puts there (product id, place id)
    summed, 0 where there is none, available the difference, in whole units.

    For platforms that keep stock as several rows per product and location (Odoo's quants split by
    lot, package and owner) and leave no row where nothing is held, so a location emptied since the
    last read still reads as 0."""
    sums: dict[tuple[Any, Any], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        held = sums[where(row)]
        held[0] += float(row.get(on_hand) or 0)
        held[1] += float(row.get(committed) or 0) if committed else 0.0
    out = []
    for product, sku in skus.items():
        for place in places:
            have, reserved = (whole_units(value) or 0 for value in sums.get((product, place), [0, 0]))
            out.append(StockRecord(external_id=str(product), sku=sku, inventory_item_id=str(product),
                                   location_external_id=str(place), on_hand=have, committed=reserved,
                                   available=have - reserved))
    return out
