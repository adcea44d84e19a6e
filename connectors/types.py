"""Plain records every connector returns, so tasks can map any platform into the domain alike.

Platform ids stay strings: Shopify ids exceed 2**53 and would lose digits as floats. Every read
answers in :class:`Page` s (records and the cursor safe to save): ``StockPage``, ``OrderPage`` here,
``ShipmentPage`` in ``connectors.carriers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Page(Generic[R]):
    """A page of records and the cursor that is safe to save once the page is stored."""

    records: list[R]
    cursor: str | None


@dataclass(frozen=True)
class ConnectorConfig:
    """What a connector needs to talk to one store: resolved credentials, never env-var names."""

    store_key: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict)
    webhook_secret: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 10.0
    #: Where a rotating OAuth grant is kept between processes (``connectors.token_rotation.TokenVault``;
    #: the database's ``domain.core.oauth_grants`` when built by ``flows.connections``), None: this process only.
    token_vault: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StockRecord:
    """One stock figure for one sellable item at one platform location.

    ``sku`` may be None when the platform's payload only names its own ids (a Shopify
    ``inventory_levels`` row names ``inventory_item_id``); the domain resolves it through the
    channel listing it stored on an earlier full fetch.
    """

    external_id: str
    sku: str | None = None
    location_external_id: str | None = None
    on_hand: int | None = None
    available: int | None = None
    committed: int | None = None
    updated_at: datetime | None = None
    inventory_item_id: str | None = None
    backorders_allowed: bool | None = None
    parent_external_id: str | None = None
    #: The platform's own low-stock level for this item at this location (Lightspeed's reorder
    #: point), None when the platform does not report one; 0 means none is set there.
    reorder_point: int | None = None
    #: What the platform would reorder for this item at this location once it reaches its reorder
    #: point (Lightspeed's ``reorder_amount``, the webhooks' ``restock_level``); None when the
    #: platform does not report one, 0 when none is set there.
    restock_level: int | None = None
    #: When the platform expects the next units of this item here (Omnichannel Inventory's nearest
    #: future, its backorder), None when it reports none.
    restock_eta: date | None = None


class StockPage(Page[StockRecord]):
    """A page of stock records and the cursor to save once the page is stored."""


@dataclass(frozen=True)
class OrderLineRecord:
    external_id: str
    sku: str | None
    quantity: int
    title: str = ""
    price_cents: int = 0
    variant_external_id: str | None = None


@dataclass(frozen=True)
class PaymentRisk:
    """What a platform tells about how and from where an order was paid, for fraud hints
    (``domain.fraud``). Every field is None when the platform did not say, so a signal reads "not
    known" instead of guessing. Results are the processor's codes as given (AVS ``"N"``, CVV
    ``"M"``, or Stripe's ``"fail"``/``"pass"``); countries are ISO 3166-1 alpha-2; an address is the
    platform's own fields (``address1``, ``zip``, ``country_code``…) as strings; ``card`` names the
    card without its number (BIN, last four and brand as the platform shows them)."""

    customer_ip: str | None = None
    avs_result: str | None = None
    cvv_result: str | None = None
    card: str | None = None
    billing_country: str | None = None
    shipping_country: str | None = None
    billing_address: dict[str, str] | None = None
    shipping_address: dict[str, str] | None = None


@dataclass(frozen=True)
class OrderRecord:
    external_id: str
    number: str
    placed_at: datetime | None
    email: str | None
    phone: str | None
    customer_name: str
    lines: list[OrderLineRecord]
    currency: str = "USD"
    total_cents: int = 0
    status: str = "open"
    updated_at: datetime | None = None
    risk: PaymentRisk | None = None
    #: How it was paid, where the platform says: its payment method id and the gateway's reference
    #: (WooCommerce ``payment_method`` / ``transaction_id``), for refunds paid back at the provider.
    payment_method: str | None = None
    payment_ref: str | None = None


class OrderPage(Page[OrderRecord]):
    """A page of order records and the cursor to save once the page is stored."""


WebhookKind = Literal["inventory_update", "order_created", "sku_modified", "ping", "other", "order_fulfilled",
                      "refund_created", "location_connected", "location_disconnected", "return_changed"]


@dataclass(frozen=True)
class FulfillmentRecord:
    """Lines of an order the store shipped (a Shopify fulfillment): which, how many, and how."""

    external_id: str
    order_external_id: str
    lines: list[OrderLineRecord]
    carrier: str = ""
    tracking_number: str = ""
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class StoreRefundRecord:
    """A refund made on the store's side (in its admin, or by us through its API): what it paid back."""

    external_id: str
    order_external_id: str
    amount_cents: int
    currency: str = "USD"
    note: str = ""
    created_at: datetime | None = None
    lines: list[OrderLineRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ReturnRecord:
    """A return the store keeps itself (Shopify's Return): its status there and what comes back.

    ``status`` is lower case (``requested``, ``open``, ``declined``, ``canceled``, ``closed``);
    ``lines`` name the order's line (``external_id``) and, once read in full, its SKU; a webhook
    may list fewer lines than the return has (``line_count``), or none: then it is not
    ``detailed`` and the return is read from the platform before it is acted on."""

    external_id: str
    order_external_id: str
    status: str
    name: str = ""
    lines: list[OrderLineRecord] = field(default_factory=list)
    reason: str = ""
    note: str = ""
    line_count: int | None = None

    @property
    def detailed(self) -> bool:
        return bool(self.lines) and len(self.lines) >= (self.line_count or 0)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified, parsed webhook: what happened, its dedupe key, and the records it carries."""

    kind: WebhookKind
    topic: str
    dedupe_key: str
    occurred_at: datetime | None
    stock: list[StockRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    resource_ids: list[str] = field(default_factory=list)
    #: Lines shipped (``order_fulfilled``) and refunds made at the store (``refund_created``).
    fulfillments: list[FulfillmentRecord] = field(default_factory=list)
    refunds: list[StoreRefundRecord] = field(default_factory=list)
    #: Returns the store keeps (``return_changed``: Shopify's ``returns/*`` topics).
    returns: list[ReturnRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ListingRef:
    """Where a SKU lives on one channel: enough ids to write its stock back."""

    sku: str
    external_id: str
    inventory_item_id: str | None = None
    parent_external_id: str | None = None
    location_external_id: str | None = None


@dataclass(frozen=True)
class PushResult:
    """What a write-back did, for the audit log."""

    ok: bool
    status_code: int
    detail: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    #: The figures this write set: platform location id → quantity. ``None`` as the key means one
    #: figure for the whole product (WooCommerce holds no per-location stock).
    levels: dict[str | None, int] = field(default_factory=dict)


RefundKind = Literal["refund", "store_credit"]


@dataclass(frozen=True)
class RefundRequest:
    """Money back for one order line: a refund to the payment method or store credit.

    ``idempotency_key`` is the domain's stable key for this one decision (e.g. the backorder id
    plus the action). The connector writes it into the platform record (refund note / reason,
    gift card note, coupon description) and derives store-credit codes from it, so a retried task
    finds what an earlier attempt created instead of paying twice. ``customer_email`` is needed
    where store credit is a coupon restricted to the customer (WooCommerce).
    """

    order_external_id: str
    line_external_id: str
    quantity: int
    amount_cents: int
    currency: str
    reason: str
    idempotency_key: str
    restock: bool = False
    notify_customer: bool = False
    customer_email: str | None = None


@dataclass(frozen=True)
class RefundResult:
    """What a refund or credit did, for the audit log and the customer's message.

    ``status_code`` is 201 when this call created the record and 200 when an earlier attempt's
    record was found. ``credit_code`` is the code the customer redeems (store credit only); it is
    derived from the idempotency key, so it is known even when the platform only shows its tail.
    """

    ok: bool
    external_id: str
    amount_cents: int
    kind: RefundKind
    status_code: int
    detail: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    credit_code: str | None = None


@dataclass(frozen=True)
class PurchaseOrderLineRequest:
    """One line of a purchase order as an ERP needs it: our SKU (mapped to the ERP's item by the
    connector), whole units, the unit cost in integer cents and the date we expect it."""

    sku: str
    quantity: int
    unit_cost_cents: int
    title: str = ""
    expected_date: str | None = None


@dataclass(frozen=True)
class PurchaseOrderRequest:
    """A purchase order to create in an ERP, at most once.

    ``number`` is our PO number: the connector stores it in the ERP record (NetSuite
    ``externalId``/``memo``, Odoo ``partner_ref``) and looks it up before creating, so a retried or
    repeated send finds the first record instead of making a second one. ``vendor_ref`` is the
    vendor's key in our configuration, which must also be the vendor's key in the ERP (NetSuite
    vendor ``externalId``, Odoo partner ``ref``).
    """

    number: str
    vendor_ref: str
    lines: list[PurchaseOrderLineRequest]
    currency: str = "USD"
    expected_date: str | None = None
    memo: str = ""


@dataclass(frozen=True)
class ErpResult:
    """What an ERP purchase-order call did: the ERP's record id and whether this call created it.

    ``created`` is False when an earlier attempt's record was found (or updated in place by an
    upsert that matched it), which is the normal outcome of a repeated send.
    """

    external_id: str
    created: bool
    detail: str = ""
    request: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceiptLine:
    """How much of one purchase-order line the ERP has received so far (a running total, not a
    delta): ``po_number`` is our number as stored in the ERP record, ``sku`` the item's code."""

    po_number: str
    sku: str
    ordered: int
    received: int


@dataclass(frozen=True)
class SubstituteOrderRequest:
    """Order the substitute a customer chose, on the store their order came from, at most once.

    ``listing`` names the substitute on that store. The customer already paid ``paid_cents`` for
    the backordered line; that payment is carried over as a discount, so the new order asks for
    ``due_cents`` at most (0 when the store absorbs the difference or the substitute is cheaper).
    ``idempotency_key`` travels in the platform record (note / meta data): a retry whose first
    answer was lost finds the order instead of placing a second one (``search_since`` bounds the
    look-up). ``draft_external_id`` is a Shopify draft already created by an earlier attempt.
    """

    idempotency_key: str
    original_order_external_id: str
    original_order_number: str
    listing: ListingRef
    title: str
    quantity: int
    unit_price_cents: int
    paid_cents: int
    due_cents: int
    currency: str
    customer_email: str | None
    customer_name: str
    customer_phone: str | None = None
    note: str = ""
    search_since: datetime | None = None
    draft_external_id: str | None = None


@dataclass(frozen=True)
class SubstituteOrderResult:
    """The placed order: its platform id and number, what is still due, and whether this call made it.

    ``status_code`` is 201 when this call created it and 200 when an earlier attempt's was found.
    ``draft_external_id`` is Shopify's draft order (kept so a retry completes, never re-creates).
    """

    external_id: str
    number: str
    total_cents: int
    due_cents: int
    payment_pending: bool
    status_code: int
    draft_external_id: str | None = None
    detail: str = ""
    request: dict[str, Any] = field(default_factory=dict)
