"""The data model: SQLAlchemy 2 typed ORM classes, one table each.

PostgreSQL is the record of truth and of progress: every piece of pending work (a poll that is
due, a timer, a notification, an inbound event) is a row a sweeper can find, so a lost broker
message delays work and never loses it. Quantities are integers, money is integer cents, times
are timezone-aware UTC.
"""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SKU_STATES = ("IN_STOCK", "LOW", "OUT", "BACKORDER", "RESTOCKED")
BACKORDER_STATES = (
    "open", "notified", "accepted_wait", "substituted", "cancelled_by_customer", "auto_cancelled",
    "filled", "shipped",
)
TIMER_STATES = ("pending", "fired", "cancelled")
OUTBOX_STATES = ("pending", "sending", "sent", "delivered", "unknown", "failed", "suppressed")
INBOX_STATES = ("pending", "done", "failed", "quarantined")
PO_STATES = ("draft", "awaiting_approval", "approved", "sent", "acknowledged", "partially_received",
             "received", "cancelled")
#: Purchase orders still expecting goods: their lines count as on order.
OPEN_PO_STATES = PO_STATES[:6]
SUBSTITUTE_ORDER_STATES = ("awaiting_staff", "pending", "placed", "settled", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


def created_at_column() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


class Store(Base):
    """A sales channel or back-office system we poll and receive webhooks from."""

    __tablename__ = "stores"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(Text)
    credentials_env: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    webhook_secret_env: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    sells: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    #: Observe and alert only: no stock, policy, refund or order write reaches this channel while
    #: set (``read_only`` in the TOML file); each one held back is a :class:`BlockedWrite`.
    read_only: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    poll_interval_s: Mapped[int] = mapped_column(Integer, server_default=text("300"))
    full_sync_interval_s: Mapped[int] = mapped_column(Integer, server_default=text("86400"))
    stock_cursor: Mapped[str | None] = mapped_column(Text)
    order_cursor: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (CheckConstraint("poll_interval_s > 0", name="poll_interval_positive"),)


class Location(Base):
    """A physical stock location (warehouse, showroom)."""

    __tablename__ = "locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    #: The store whose figures are this location's record when no ERP maps it (``owner`` in the
    #: TOML); demand is read from that one source only (``domain.purchasing.demand``).
    owner_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))


class StoreLocation(Base):
    """How a platform's own location id maps to one of our locations."""

    __tablename__ = "store_locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("store_id", "external_id", name="uq_store_locations_external"),)


class Vendor(Base):
    __tablename__ = "vendors"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    lead_time_days: Mapped[int] = mapped_column(Integer)
    min_order_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    min_order_units: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    case_pack: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    ack_within_hours: Mapped[int] = mapped_column(Integer, server_default=text("48"))
    erp_store_key: Mapped[str | None] = mapped_column(String(64))
    #: Orders placed before this local time (business timezone) leave the same day: when set, a
    #: draft collects lines until the next cut-off instead of ``po_window``.
    order_cutoff: Mapped[time | None] = mapped_column(Time)
    __table_args__ = (
        CheckConstraint("lead_time_days >= 0", name="lead_time_nonnegative"),
        CheckConstraint("case_pack >= 1", name="case_pack_positive"),
    )


class Sku(Base):
    """A sellable item and its stock rules."""

    __tablename__ = "skus"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(300), server_default="")
    category: Mapped[str] = mapped_column(String(64), server_default="")
    price_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    cost_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"))
    threshold: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reorder_point: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    safety_stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reorder_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    case_pack: Mapped[int | None] = mapped_column(Integer)
    substitutes: Mapped[list[str]] = mapped_column(ARRAY(String(128)), server_default=text("'{}'"))
    allow_backorder: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    state: Mapped[str] = mapped_column(String(16), server_default="IN_STOCK")
    state_changed_at: Mapped[datetime | None]
    oversell_risk: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    atp_drift: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    eta: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", SKU_STATES), name="state_valid"),
        CheckConstraint("threshold >= 0 AND safety_stock >= 0 AND reorder_qty >= 0", name="rules_nonnegative"),
        Index("ix_skus_state", "state"),
    )


class ChannelListing(Base):
    """Where a SKU is listed on a store: the platform's ids, needed to write stock back."""

    __tablename__ = "channel_listings"
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    inventory_item_id: Mapped[str | None] = mapped_column(String(64))
    parent_external_id: Mapped[str | None] = mapped_column(String(64))
    backorders_allowed: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        UniqueConstraint("store_id", "sku_id", name="uq_channel_listings_store_sku"),
        Index("ix_channel_listings_inventory_item", "store_id", "inventory_item_id"),
        Index("ix_channel_listings_external", "store_id", "external_id"),
    )


class StockLevel(Base):
    """The latest figure per SKU × location × source store; history keeps every change."""

    __tablename__ = "stock_levels"
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available: Mapped[int] = mapped_column(Integer)
    source_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # No separate index on sku_id: the primary key leads with it (migration 0005).


class StockHistory(Base):
    __tablename__ = "stock_history"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    on_hand: Mapped[int] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    source_updated_at: Mapped[datetime | None]
    #: True when the reading only repeats a figure we pushed to this store (not a sale, not news).
    echo: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    recorded_at: Mapped[datetime] = created_at_column()
    __table_args__ = (Index("ix_stock_history_sku_recorded", "sku_id", "recorded_at"),)


LOCATION_STATES = ("OK", "LOW", "OUT")


class LocationThreshold(Base):
    """A SKU's own low-stock threshold at one location, beside the SKU-wide one.

    Two sources, both kept so the figure in use is explainable: ``config_threshold`` from the TOML
    file (``[[skus]] location_thresholds``) and ``imported_threshold`` from a platform that holds
    one (Lightspeed X-Series' reorder point). The file wins when both are set. ``state`` is the
    location's own place in OK → LOW → OUT, so each crossing alerts once.
    ``imported_restock_level`` is what that platform would reorder there once the reorder point is
    reached (Lightspeed's reorder amount, its "restock level"), shown with the location's alerts.
    """

    __tablename__ = "location_thresholds"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    config_threshold: Mapped[int | None] = mapped_column(Integer)
    imported_threshold: Mapped[int | None] = mapped_column(Integer)
    imported_restock_level: Mapped[int | None] = mapped_column(Integer)
    imported_from_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    imported_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), server_default="OK")
    state_changed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        UniqueConstraint("sku_id", "location_id", name="uq_location_thresholds_sku_location"),
        CheckConstraint(_in("state", LOCATION_STATES), name="state_valid"),
        CheckConstraint("config_threshold >= 0 AND imported_threshold >= 0", name="thresholds_nonnegative"),
        CheckConstraint("imported_restock_level >= 0", name="restock_level_nonnegative"),
    )


class ChannelPush(Base):
    """The push of one SKU's sellable figure to one selling store: due, in flight, or done.

    ``due_at`` set means a push is wanted (a change was seen); ``lease_until`` in the future means
    one is in flight. The push reads the truth when it runs, so however many changes a row
    collects while it waits or while a push is in flight, the latest figure wins. A sweeper
    re-sends rows whose message was lost (due long ago, or a lease that expired).
    """

    __tablename__ = "channel_pushes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    due_at: Mapped[datetime | None]
    #: The first change not yet covered by a claimed push (the start of its propagation delay).
    dirty_since: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    #: ``dirty_since`` of the changes the push in flight covers.
    covering_since: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    pushes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    pushed_at: Mapped[datetime | None]
    last_backorder: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("sku_id", "store_id", name="uq_channel_pushes_sku_store"),
        Index("ix_channel_pushes_due", "due_at", postgresql_where=text("due_at IS NOT NULL")),
    )


class PushedLevel(Base):
    """The figure we last wrote to a store at one of our locations, and what we held back from it.

    A reading from that store equal to a figure in ``awaiting``, or to ``available`` while ``live``,
    is our own echo: recorded as such, never news. ``withheld`` (the truth minus the figure written: buffer and promised units)
    is added back to the store's later readings, which count down from what we wrote.
    """

    __tablename__ = "pushed_levels"
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    available: Mapped[int] = mapped_column(Integer)
    withheld: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    pushed_at: Mapped[datetime]
    #: Figures written whose echo has not come back yet (a burst of pushes may overtake its echoes).
    awaiting: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    echoed_at: Mapped[datetime | None]
    #: False once the store reported a different figure there: an equal reading is then real.
    live: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class StoreSyncLag(Base):
    """A store's measured propagation delay: change recorded → push acknowledged, smoothed."""

    __tablename__ = "store_sync_lags"
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    delay_s: Mapped[float] = mapped_column(Float)
    last_s: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SkuTransition(Base):
    """A change of a SKU's stock state, with the numbers that caused it."""

    __tablename__ = "sku_transitions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(32))
    numbers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (Index("ix_sku_transitions_sku", "sku_id", "created_at"),)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200), server_default="")
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    customer_timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), server_default="open")
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    total_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    placed_at: Mapped[datetime]
    #: The payment at the provider (Stripe charge or payment intent, Adyen pspReference, PayPal
    #: capture id): a dispute finds its order by it (``domain.chargebacks.intake``).
    payment_ref: Mapped[str | None] = mapped_column(String(128))
    #: What checkout knew about the payment, for chargeback evidence and fraud hints: ``ip``,
    #: ``device_id``, ``user_id``, ``shipping_address``, ``billing_address``, ``card_fingerprint`` and
    #: ``checks`` (AVS/CVV results by the provider's names, e.g. Stripe's ``cvc_check``).
    payment_facts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    # Fraud hints (domain/fraud): what the platform said about the payment and where it came from,
    # None when it did not say (connectors.types.PaymentRisk). ``card_fingerprint`` names the card
    # without its number (brand, BIN, masked number); addresses are the platform's own fields.
    customer_ip: Mapped[str | None] = mapped_column(String(45))
    avs_result: Mapped[str | None] = mapped_column(String(16))
    cvv_result: Mapped[str | None] = mapped_column(String(16))
    card_fingerprint: Mapped[str | None] = mapped_column(String(128))
    billing_country: Mapped[str | None] = mapped_column(String(2))
    shipping_country: Mapped[str | None] = mapped_column(String(2))
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    __table_args__ = (
        UniqueConstraint("store_id", "external_id", name="uq_orders_store_external"),
        Index("ix_orders_payment_ref", "payment_ref", postgresql_where=text("payment_ref IS NOT NULL")),
        Index("ix_orders_status", "status"),
        #: The customer-segment check reads a customer's history by email, whatever its case.
        Index("ix_orders_email_lower", func.lower(text("email"))),
        #: Demand reads order lines by when they were placed, from the first order recorded.
        Index("ix_orders_placed_at", "placed_at"),
        #: Fraud hints count the orders placed from one IP address within a window.
        Index("ix_orders_customer_ip", "customer_ip", "placed_at"),
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    allocated_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    backordered_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    price_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    title: Mapped[str] = mapped_column(String(300), server_default="")
    __table_args__ = (
        UniqueConstraint("order_id", "external_id", name="uq_order_lines_order_external"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("allocated_qty + backordered_qty <= quantity", name="split_within_quantity"),
        Index("ix_order_lines_sku", "sku_id"),
    )


class Backorder(Base):
    """The unfilled part of an order line and where its customer journey stands."""

    __tablename__ = "backorders"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), server_default="open")
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    eta: Mapped[date | None] = mapped_column(Date)
    promised_date: Mapped[date | None] = mapped_column(Date)
    consent_required: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    notice_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    notified_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    substitute_sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_ref: Mapped[str | None] = mapped_column(String(64))
    filled_at: Mapped[datetime | None]
    #: The customer's tier when the offer went out (``domain.journey.segments``); the figures are in audit_log.
    segment: Mapped[str | None] = mapped_column(String(32))
    #: Store credit added to the cancel-for-credit option by the customer's tier, in cents.
    credit_bonus_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    ordered_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", BACKORDER_STATES), name="state_valid"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_backorders_sku_state", "sku_id", "state"),
    )


class SubstituteOrder(Base):
    """The substitute a customer chose, to be ordered for them on the store the order came from.

    One row per backorder; every step (placing the platform order, settling the price difference)
    is recorded here, so a sweeper finds unfinished ones and the platform order is never placed
    twice (``idempotency_key`` travels with it). The figures behind the settlement are kept.
    """

    __tablename__ = "substitute_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    backorder_id: Mapped[int] = mapped_column(ForeignKey("backorders.id", ondelete="CASCADE"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    substitute_total_cents: Mapped[int] = mapped_column(BigInteger)
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    #: substitute total − paid: negative when the substitute is cheaper.
    difference_cents: Mapped[int] = mapped_column(BigInteger)
    #: ``refund`` (cheaper), ``absorb`` / ``charge`` (dearer) or ``none``.
    settlement: Mapped[str] = mapped_column(String(16))
    #: What the customer still pays on the substitute order (``charge`` only).
    due_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    draft_external_id: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_number: Mapped[str | None] = mapped_column(String(64))
    refund_ref: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", SUBSTITUTE_ORDER_STATES), name="state_valid"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_substitute_orders_unfinished", "updated_at",
              postgresql_where=text("state IN ('pending', 'placed')")),
    )


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"))
    state: Mapped[str] = mapped_column(String(32), server_default="draft")
    window_closes_at: Mapped[datetime | None]
    total_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    expected_at: Mapped[date | None] = mapped_column(Date)
    approved_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    erp_ref: Mapped[str | None] = mapped_column(String(64))
    email_outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    ack_due_at: Mapped[datetime | None]
    asn_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("state", PO_STATES), name="state_valid"),
        Index("ix_purchase_orders_open_draft", "vendor_id", unique=True,
              postgresql_where=text("state = 'draft'")),
    )


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    received_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    unit_cost_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    promised_date: Mapped[date | None] = mapped_column(Date)
    eta: Mapped[date | None] = mapped_column(Date)
    shipped_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reason: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "sku_id", name="uq_purchase_order_lines_po_sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class PurchaseOrderEvent(Base):
    """What happened to a purchase order and when: the vendor scorecard is computed from these."""

    __tablename__ = "purchase_order_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint("kind IN ('drafted', 'approved', 'sent', 'acknowledged', 'dates_changed', 'asn', "
                        "'received', 'escalated', 'cancelled')", name="kind_valid"),
        Index("ix_purchase_order_events_po", "purchase_order_id", "at"),
    )


class Timer(Base):
    """A durable timer: a row with ``due_at`` fired by the beat sweeper, never a broker countdown."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    fired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("state", TIMER_STATES), name="state_valid"),
        Index("ix_timers_due_pending", "due_at", postgresql_where=text("state = 'pending'")),
        Index("uq_timers_pending_subject", "kind", "subject_type", "subject_id", unique=True,
              postgresql_where=text("state = 'pending'")),
        #: A subject's pending timers of every kind (a dispute's outcome cancels its deadline and
        #: reminders, a resolved case its SLA): the unique index above leads with ``kind``.
        Index("ix_timers_pending_by_subject", "subject_type", "subject_id", postgresql_where=text("state = 'pending'")),
    )


class OutboxMessage(Base):
    """One message to send (email, SMS, Slack); the idempotency key makes a second send impossible."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    not_before: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    sent_at: Mapped[datetime | None]
    __table_args__ = (
        CheckConstraint(_in("state", OUTBOX_STATES), name="state_valid"),
        CheckConstraint("channel IN ('email', 'sms', 'slack')", name="channel_valid"),
        Index("ix_outbox_pending", "created_at", postgresql_where=text("state IN ('pending', 'unknown')")),
        Index("ix_outbox_provider_message", "provider", "provider_message_id"),
        # An inbound text finds the last one we sent its number (domain.messaging.sms_replies.conversation).
        Index("ix_outbox_sms_recipient", "recipient", postgresql_where=text("channel = 'sms'")),
    )


class InboxEvent(Base):
    """An accepted inbound event (webhook, callback): stored first, processed later, once."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(100), server_default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("source", "dedupe_key", name="uq_inbox_source_dedupe"),
        CheckConstraint(_in("state", INBOX_STATES), name="state_valid"),
        Index("ix_inbox_pending", "source", "id", postgresql_where=text("state = 'pending'")),
    )


class Alert(Base):
    """A staff alert; the dedupe key keeps a bouncing SKU from alerting twice for one transition."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), server_default="warning")
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id", ondelete="SET NULL"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    acknowledged_at: Mapped[datetime | None]


class AuditLog(Base):
    """Who or what changed what, and why: every transition, push and decision lands here."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = created_at_column()
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id", "at"),)


class ContactOptOut(Base):
    """A customer who texted STOP (or whose address bounced for good): never messaged there again."""

    __tablename__ = "contact_opt_outs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_contact_opt_outs_channel_address"),)


class DeadLetter(Base):
    """A task that failed every attempt, kept for ``backorders status`` and ``backorders redrive``."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_name: Mapped[str] = mapped_column(String(200))
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    args: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = created_at_column()
    redriven_at: Mapped[datetime | None]


class InboundSms(Base):
    """One customer text, by Twilio's ``MessageSid``: a replayed delivery finds its row and does nothing.

    Kept for good: Twilio's request signature never expires, so a captured request stays valid;
    the row also records which backorder the text was taken to answer, and why."""

    __tablename__ = "inbound_sms"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(64))
    keyword: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = created_at_column()
    backorder_id: Mapped[int | None] = mapped_column(ForeignKey("backorders.id", ondelete="SET NULL"))
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(String(32), server_default="received")


class PendingEffect(Base):
    """An effect a committed decision owes one SKU (``domain.core.effects``): detection after a poll or a
    receipt, a restock fill, purchase planning. Deleted by the run that performs it; one a lost
    message left behind is re-sent by ``tasks.effects.sweep``."""

    __tablename__ = "pending_effects"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    #: Set while the effect is wanted and no run has claimed it since.
    due_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("kind", "sku_id", name="uq_pending_effects_kind_sku"),
        CheckConstraint("kind IN ('evaluate', 'fill', 'plan')", name="kind_valid"),
        Index("ix_pending_effects_due", "due_at", postgresql_where=text("due_at IS NOT NULL")),
    )


class WorkerHeartbeat(Base):
    """A Celery worker process saying it is alive, every ``WORKER_HEARTBEAT_S`` by PostgreSQL's clock.

    ``/healthz`` answers 503 when a queue has no consumer seen within ``WORKER_STALE_S``."""

    __tablename__ = "worker_heartbeats"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'"))
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SweepRun(Base):
    """When each beat-scheduled sweeper last finished (PostgreSQL's clock) and its interval, so a
    frozen beat (or a starved worker) shows as sweeps older than interval × 2 + slack."""

    __tablename__ = "sweep_runs"
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    interval_s: Mapped[float] = mapped_column(Float)
    last_run_at: Mapped[datetime] = mapped_column(server_default=func.now())
    runs: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class HealthProbe(Base):
    """One row per web process, upserted by every ``/healthz``: the real write that proves the
    database accepts writes (a read-only database fails it)."""

    __tablename__ = "health_probes"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ReplayToken(Base):
    """A one-use token of a signed callback (Mailgun's ``signature.token``), kept while its
    signature could still verify; a second use of ``(source, token)`` is a replay.

    In PostgreSQL, not Redis: a flushed or evicting Redis must not let a captured callback in again.
    """

    __tablename__ = "replay_tokens"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("source", "token", name="uq_replay_tokens_source_token"),
                      Index("ix_replay_tokens_expires_at", "expires_at"))


class BlockedWrite(Base):
    """A write to a channel that was not made because its store is read-only (``reason``), with
    what it would have written: the operator sees what switching the store on will change."""

    __tablename__ = "blocked_writes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (Index("ix_blocked_writes_store_created", "store_id", "created_at"),)


REFUND_DECISIONS = ("approve", "review", "deny", "credit")


class RefundDecision(Base):
    """One refund or appeasement request and what the policy decided, with the rule that decided it.

    ``request_id`` is the caller's key (a ticket id, ``backorder-{id}``): a retried request finds
    its first decision instead of making a second. ``figures`` are the numbers the rule read (tier,
    this month's credits, refunds in 90 days) and ``context`` what a reviewer needs (the order,
    its lines, the customer's history and prior refunds, fraud hints), both as they were then, so
    ``backorders refunds what-if`` can replay the request under other rules without re-reading.
    """

    __tablename__ = "refund_decisions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_number: Mapped[str] = mapped_column(String(64))
    customer: Mapped[str] = mapped_column(String(320), server_default="")
    reason: Mapped[str] = mapped_column(String(64))
    amount_asked_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    channel: Mapped[str] = mapped_column(String(64), server_default="")
    tier: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    amount_approved_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    #: ``store_credit`` or ``partial_refund`` for a credit; ``refund`` for an approval.
    settle_as: Mapped[str | None] = mapped_column(String(16))
    #: The rule's position in ``[[refunds.rules]]`` (None: a built-in rule or no rule matched).
    rule_index: Mapped[int | None] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(120))
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("request_id", name="uq_refund_decisions_request_id"),
        CheckConstraint(_in("decision", REFUND_DECISIONS), name="decision_valid"),
        CheckConstraint("amount_asked_cents >= 0 AND amount_approved_cents >= 0", name="amounts_not_negative"),
        #: The monthly credit cap and the 90-day count read one customer's decisions by time.
        Index("ix_refund_decisions_customer", "customer", "created_at"),
        Index("ix_refund_decisions_created_at", "created_at"),
    )


CASE_KINDS = ("out_of_stock", "partial_allocation", "address_problem", "fraud_hold", "carrier_failure",
              "stuck_in_transit", "delivery_exception", "split_shipment", "refund_request", "chargeback",
              "backorder", "csat_follow_up")
CASE_STATES = ("open", "in_progress", "waiting", "resolved")
#: Most urgent first: an SLA breach moves a case one step towards the front.
CASE_PRIORITIES = ("urgent", "high", "normal", "low")


class Case(Base):
    """One order exception with an owner and a deadline, so nothing disappears in a chat thread.

    ``subject_type``/``subject_id`` name what raised it (a backorder, a shipment, a dispute): one
    case per kind and subject, so a retried or redelivered cause finds the case already open.
    ``route_index`` is the ``[[cases.routes]]`` rule that chose queue, owner, priority and SLA
    (None: no rule matched, the defaults did); the SLA itself is a ``timers`` row."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), server_default="open")
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_line_ids: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    sku_codes: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    category: Mapped[str | None] = mapped_column(String(64))
    customer_tier: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(16), server_default="normal")
    route_index: Mapped[int | None] = mapped_column(Integer)
    sla_s: Mapped[int] = mapped_column(Integer)
    sla_due_at: Mapped[datetime]
    sla_breached_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text, server_default="")
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("kind", CASE_KINDS), name="kind_valid"),
        CheckConstraint(_in("state", CASE_STATES), name="state_valid"),
        CheckConstraint(_in("priority", CASE_PRIORITIES), name="priority_valid"),
        Index("uq_cases_subject", "kind", "subject_type", "subject_id", unique=True),
        Index("ix_cases_queue_state", "queue", "state"),
        Index("ix_cases_order", "order_id"),
    )


class CaseEvent(Base):
    """One action on a case and who or what took it (a person, ``journey``, ``sla``)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = created_at_column()
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, server_default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)


# --- Chargebacks (part 5 of the exception operations): a provider's dispute, the notices that
# --- told us of it, its evidence packet, each call that stages or submits it, and finance notes.

DISPUTE_STATES = ("opened", "packet_ready", "staged", "approved", "submitted", "won", "lost", "accepted")
DISPUTE_OUTCOMES = ("won", "lost", "accepted")
DISPUTE_CALL_ACTIONS = ("stage", "submit")
DISPUTE_CALL_STATES = ("pending", "in_flight", "done", "failed", "unknown")


class Dispute(Base):
    """A chargeback or dispute a payment provider told us of, one row per provider dispute.

    ``account`` is the merchant account whose webhook brought it (``/webhooks/payments/{account}``),
    so evidence goes back through the same connector. ``due_by`` is the provider's evidence
    deadline (Stripe ``evidence_details.due_by``, Adyen ``defensePeriodEndsAt``, PayPal
    ``seller_response_due_date``); its case's SLA and timers follow it."""

    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    dispute_ref: Mapped[str] = mapped_column(String(128))
    payment_ref: Mapped[str] = mapped_column(String(128), server_default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    reason_code: Mapped[str] = mapped_column(String(64), server_default="")
    network_code: Mapped[str] = mapped_column(String(16), server_default="")
    category: Mapped[str] = mapped_column(String(32), server_default="general")
    amount_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    currency: Mapped[str] = mapped_column(String(3), server_default="")
    due_by: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), server_default="opened")
    provider_status: Mapped[str] = mapped_column(String(64), server_default="")
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None]
    staged_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    outcome_at: Mapped[datetime | None]
    #: The deadline passed before the evidence was submitted (``domain.chargebacks.deadlines``).
    escalated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        UniqueConstraint("provider", "dispute_ref", name="uq_disputes_provider_ref"),
        CheckConstraint(_in("state", DISPUTE_STATES), name="state_valid"),
        Index("ix_disputes_state_due", "state", "due_by"),
        Index("ix_disputes_order", "order_id"),
    )


class DisputeNoticeRow(Base):
    """One verified dispute event, by the provider's event id: a redelivered notice finds its row
    and changes nothing. ``data`` keeps the notice as it came (status, outcome, due date, raw)."""

    __tablename__ = "dispute_notices"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(64), server_default="")
    outcome: Mapped[str] = mapped_column(String(16), server_default="open")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    received_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_dispute_notices_provider_event"),
        Index("ix_dispute_notices_dispute", "dispute_id", "id"),
    )


class DisputePacket(Base):
    """The evidence a dispute's reason needs, assembled from the order's facts: which facts it has,
    which the reason needs but are missing (and why), the rule that chose them, the provider's
    fields and documents, and the HTML bundle (evidence inline: issuers do not follow links).
    Rebuilt in place while the dispute is not yet submitted; ``version`` counts the builds."""

    __tablename__ = "dispute_packets"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), unique=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    rule_name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    present: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    missing: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    documents: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    defense_reason: Mapped[str] = mapped_column(String(64), server_default="")
    html: Mapped[str] = mapped_column(Text, server_default="")
    built_at: Mapped[datetime] = created_at_column()


class DisputeCall(Base):
    """One call to the provider for a dispute (stage the evidence, or submit it), as a row a sweeper
    finds again. Claimed under a lease before the request leaves, recorded after it answers, in two
    transactions; one row per dispute and action, so evidence is submitted once. ``unknown``: the
    request may have reached the provider (a lost answer): a person checks before it is re-run."""

    __tablename__ = "dispute_calls"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    packet_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    requested_by: Mapped[str] = mapped_column(String(128), server_default="")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    done_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("dispute_id", "action", name="uq_dispute_calls_dispute_action"),
        CheckConstraint(_in("action", DISPUTE_CALL_ACTIONS), name="action_valid"),
        CheckConstraint(_in("state", DISPUTE_CALL_STATES), name="state_valid"),
        Index("ix_dispute_calls_open", "updated_at", postgresql_where=text("state IN ('pending', 'in_flight')")),
    )


class FinanceNote(Base):
    """A money movement finance must book that no refund decision covers (a chargeback won, lost or
    accepted), with its amount, the provider's reference, a GL note and the rule that wrote it.
    One per subject and kind; ``domain.chargebacks.finance.rows`` lists them beside refunds."""

    __tablename__ = "finance_notes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    #: Signed, in the merchant's favour: a lost chargeback is negative, a won one zero (reinstated).
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), server_default="")
    provider: Mapped[str] = mapped_column(String(16), server_default="")
    reference: Mapped[str] = mapped_column(String(128), server_default="")
    gl_note: Mapped[str] = mapped_column(Text, server_default="")
    rule: Mapped[str] = mapped_column(String(200), server_default="")
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "kind", name="uq_finance_notes_subject_kind"),
        Index("ix_finance_notes_created_at", "created_at"),
        Index("ix_finance_notes_order", "order_id"),
    )


# --- Fraud hints (domain/fraud) -----------------------------------------------------------------

#: What a score led to: nothing, a review case, a review case held urgent, or a decline — the
#: last only when the store's ``[fraud] decline_at`` says so.
FRAUD_VERDICTS = ("pass", "review", "hold", "decline")


class FraudScore(Base):
    """One order's fraud score with every signal's contribution: its name, whether it fired (or was
    not known), its weight, the points it added and the figures it saw.

    One row per order. ``inputs_digest`` is a hash of what the signals read from the order itself
    (``domain.fraud.scoring.INPUTS_DIGEST``), so a redelivered or re-polled order is scored again
    only when those inputs change; ``times_scored`` counts the scorings. ``thresholds`` are the
    ``[fraud]`` thresholds the verdict was read against, kept as they were then."""

    __tablename__ = "fraud_scores"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    signals: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    inputs_digest: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("cases.id", ondelete="SET NULL"))
    times_scored: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    scored_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("verdict", FRAUD_VERDICTS), name="verdict_valid"),
        UniqueConstraint("order_id"),
        Index("ix_fraud_scores_verdict", "verdict", "scored_at"),
    )


# --- Shipping: the order's path to the doorstep (domain/shipping, docs/shipping.md) ---------------

SHIPMENT_STATUSES = ("label_created", "manifested", "in_transit", "out_for_delivery", "delivered", "exception",
                     "returned", "voided")


class ShippingAccount(Base):
    """A ShipStation or Flexport account from ``[[shipping.accounts]]``: when it is next polled, who
    polls it now (a lease, as for stores) and how far its shipments have been read (the cursor).
    Credentials stay in the environment; the file names them."""

    __tablename__ = "shipping_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    poll_interval_s: Mapped[int] = mapped_column(Integer, server_default=text("600"))
    cursor: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (CheckConstraint("poll_interval_s > 0", name="poll_interval_positive"),)


class Shipment(Base):
    """One label or freight shipment of one order, as its provider reported it, with where it stands.

    ``last_scan_at`` is the carrier's latest sign of life (a scan, else the label's creation): the
    stuck rule counts days from it. ``stuck_at`` is when that rule last fired, so it fires again
    only after new activity. One row per provider record (``account_id``, ``external_id``)."""

    __tablename__ = "shipments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("shipping_accounts.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_number: Mapped[str] = mapped_column(String(64), server_default="")
    carrier: Mapped[str] = mapped_column(String(64), server_default="")
    service: Mapped[str] = mapped_column(String(64), server_default="")
    tracking_number: Mapped[str] = mapped_column(String(128), server_default="")
    label_ref: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24), server_default="label_created")
    status_at: Mapped[datetime | None]
    label_created_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_scan_at: Mapped[datetime | None]
    last_tracked_at: Mapped[datetime | None]
    stuck_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_shipments_account_external"),
        CheckConstraint(_in("status", SHIPMENT_STATUSES), name="status_valid"),
        Index("ix_shipments_order", "order_id"),
        Index("ix_shipments_order_number", "order_number"),
    )


class ShipmentLine(Base):
    """What a shipment carries of one order line; ``quantity`` is whole units (a freight shipment
    naming only the SKU carries the whole line)."""

    __tablename__ = "shipment_lines"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id", ondelete="SET NULL"))
    sku: Mapped[str] = mapped_column(String(128), server_default="")
    quantity: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index("ix_shipment_lines_shipment", "shipment_id"),
        Index("ix_shipment_lines_order_line", "order_line_id"),
    )


class TrackingEvent(Base):
    """One carrier scan or milestone, stored once per provider event (``event_key``)."""

    __tablename__ = "tracking_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(24))
    occurred_at: Mapped[datetime]
    description: Mapped[str] = mapped_column(Text, server_default="")
    location: Mapped[str] = mapped_column(String(200), server_default="")
    code: Mapped[str] = mapped_column(String(64), server_default="")
    recorded_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("shipment_id", "event_key", name="uq_tracking_events_shipment_event"),
        Index("ix_tracking_events_shipment_occurred", "shipment_id", "occurred_at"),
    )


# --- Payments: where an order was paid, and each refund decision executed once (docs/payments.md) ---

#: pending: to send; sending: claimed by one run (``lease_until``); awaiting: the provider took it and
#: its outcome is still to come (a webhook, or asking again at ``due_at``); held: its store is
#: read-only; succeeded / failed: done.
REFUND_EXECUTION_STATES = ("pending", "sending", "awaiting", "held", "succeeded", "failed")


class OrderPayment(Base):
    """How an order was paid, as its store reports it: the platform's payment method id and the
    gateway's reference (WooCommerce ``payment_method`` and ``transaction_id``). An order whose
    store and method a ``[[payments.accounts]]`` entry names is refunded at that provider."""

    __tablename__ = "order_payments"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    method: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    #: Every dispute webhook finds its order by the provider's payment reference.
    __table_args__ = (Index("ix_order_payments_reference", "reference", postgresql_where=text("reference IS NOT NULL")),)


class RefundExecution(Base):
    """Paying one refund decision (an approval or a credit) back, exactly once.

    ``idempotency_key`` is derived from the decision id and sent as the provider's own idempotency
    header (or written into the store's record), so a retried, redelivered or concurrent run
    reaches the provider once. ``route`` says where the money goes: ``provider`` (``account`` is a
    ``[[payments.accounts]]`` key) or ``store`` (``account`` is the store's key)."""

    __tablename__ = "refund_executions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("refund_decisions.id", ondelete="CASCADE"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    route: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    #: ``refund``, ``partial_refund`` or ``store_credit`` (the decision's ``settle_as``).
    kind: Mapped[str] = mapped_column(String(16))
    payment_ref: Mapped[str | None] = mapped_column(String(128))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    claimed_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    #: When the sweeper sends it (pending) or asks the provider again (awaiting).
    due_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, server_default="")
    notice_outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", REFUND_EXECUTION_STATES), name="state_valid"),
        CheckConstraint("route IN ('provider', 'store')", name="route_valid"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        Index("ix_refund_executions_due", "due_at", postgresql_where=text("state IN ('pending', 'sending', 'awaiting')")),
        Index("ix_refund_executions_provider_ref", "provider", "provider_ref"),
    )


class OAuthGrant(Base):
    """A rotating OAuth 2.0 grant (QuickBooks Online's refresh token, which changes on every refresh),
    kept so that a restart uses the newest one. ``sealed`` is the grant encrypted by the connector
    (``connectors.token_rotation.Sealer``, keyed by the app's client secret from the environment):
    this table never holds a token in clear. One row per ``platform:store:account`` key, renewed
    under ``SELECT … FOR UPDATE`` (``domain.core.oauth_grants``)."""

    __tablename__ = "oauth_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    sealed: Mapped[str | None] = mapped_column(Text)
    renewals: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --- Support tickets: triage and routing (domain/support, docs/support.md) ------------------------

TICKET_STATES = ("new", "triaged", "resolved")
SUPPORT_DECISION_KINDS = ("triage", "routing", "qa", "draft", "answer", "reopen")
TICKET_LINK_KINDS = ("order", "case")


class SupportTicket(Base):
    """One customer ticket from any source (a helpdesk, email, the command line), once per source and
    external id, with where triage and the ladder put it. The decisions themselves, with their
    figures and reasons, are ``support_decisions`` rows; the orders and cases it is about are
    ``support_ticket_links``."""

    __tablename__ = "support_tickets"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_name: Mapped[str] = mapped_column(String(200), server_default="")
    subject: Mapped[str] = mapped_column(Text, server_default="")
    body: Mapped[str] = mapped_column(Text, server_default="")
    channel: Mapped[str] = mapped_column(String(16), server_default="email")
    language: Mapped[str] = mapped_column(String(8), server_default="en")
    received_at: Mapped[datetime]
    #: When the source last changed it (a helpdesk's ``updated_at``): an older copy never overwrites a newer.
    source_updated_at: Mapped[datetime | None]
    #: The helpdesk's own status word as last seen (Zendesk ``solved``, Intercom ``closed`` …): a
    #: ticket re-opened there is one whose status was done and is no longer.
    source_status: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), server_default="new")
    intent: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[float | None] = mapped_column(Float)
    legal_threat: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    priority: Mapped[str | None] = mapped_column(String(16))
    clv_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    clv_tier: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(128))
    #: True when the ladder sent it to people because the intent was under the confidence floor.
    needs_human: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: True when a macro may be drafted for it (tier 1 only; never for a legal threat).
    auto_answer: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    qa_sampled: Mapped[bool | None] = mapped_column(Boolean)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_support_tickets_source_external"),
        CheckConstraint(_in("state", TICKET_STATES), name="state_valid"),
        Index("ix_support_tickets_queue_state", "queue", "state"),
        Index("ix_support_tickets_email_lower", func.lower(text("customer_email"))),
    )


class SupportTicketLink(Base):
    """A ticket's order or open case, and how it was matched (``email`` or ``order_number``)."""

    __tablename__ = "support_ticket_links"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    ref_id: Mapped[int] = mapped_column(BigInteger)
    matched_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "ref_id", name="uq_support_ticket_links_ref"),
        CheckConstraint(_in("kind", TICKET_LINK_KINDS), name="kind_valid"),
        Index("ix_support_ticket_links_ref", "kind", "ref_id"),
    )


class SupportDecision(Base):
    """One decision about a ticket with its figures and reasons: ``triage`` (intent, confidence,
    sentiment, legal threat, priority, customer value; ``model`` names the classifier), ``routing``
    (the queue, the ladder step or rule that chose it), ``qa`` (sampled after resolution or not) or
    ``reopen`` (a resolved ticket re-opened in its helpdesk, and why)."""

    __tablename__ = "support_decisions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(120), server_default="")
    model: Mapped[str] = mapped_column(String(64), server_default="")
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("kind", SUPPORT_DECISION_KINDS), name="kind_valid"),
        Index("ix_support_decisions_ticket", "ticket_id", "id"),
    )


# --- Satisfaction (CSAT) after a resolved backorder, case, ticket or return, and the storefronts'
# --- back-in-stock requests served after a restock has filled the waiting backorders.

CSAT_DECISIONS = ("none", "reopen", "follow_up", "alert")
BACK_IN_STOCK_STATES = ("waiting", "notified", "cancelled")


class CsatRequest(Base):
    """One survey about one resolved subject (``subject_kind`` + ``subject_id``: a backorder, a case,
    and whatever plugs in later: a ticket, a return), and its answer.

    One row per subject (the unique index), so a sweep run twice asks once; the answer lives on
    the row, so a second click changes it (``answer_count`` counts the clicks) and never adds one.
    ``queue``, ``intent`` and ``resolved_by`` (who closed it: a person, or ``bot:<process>``) and
    ``resolution`` are copied from the subject when the survey is made, for the report. A negative
    answer's ``decision`` (``CSAT_DECISIONS``) is taken once, with the rule that chose it."""

    __tablename__ = "csat_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    queue: Mapped[str] = mapped_column(String(64))
    intent: Mapped[str] = mapped_column(String(64))
    resolved_by: Mapped[str] = mapped_column(String(128))
    resolution: Mapped[str] = mapped_column(String(200), server_default="")
    resolved_at: Mapped[datetime]
    recipient: Mapped[str | None] = mapped_column(String(320))
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    first_answered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answer_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_rule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    follow_up_case_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_range"),
        CheckConstraint(f"decision IS NULL OR {_in('decision', CSAT_DECISIONS)}", name="decision_valid"),
        Index("uq_csat_requests_subject", "subject_kind", "subject_id", unique=True),
        Index("ix_csat_requests_resolved", "resolved_at"),
    )


class BackInStockRequest(Base):
    """A shopper asked a storefront to be told when a SKU is back (a webhook or ``notify-me add``).

    Served oldest first after a restock has filled the waiting backorders, never more notices than
    units left (``domain.journey.rationing``); ``notice`` keeps the figures and the rule."""

    __tablename__ = "back_in_stock_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(8))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32), server_default="cli")
    external_id: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), server_default="waiting")
    requested_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    notice: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("state", BACK_IN_STOCK_STATES), name="state_valid"),
        CheckConstraint("channel IN ('email', 'sms')", name="channel_valid"),
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_contact"),
        #: One waiting request per SKU and contact: asking twice keeps the first place in the queue.
        Index("uq_back_in_stock_waiting", "sku_id", "channel", text("coalesce(email, phone)"), unique=True,
              postgresql_where=text("state = 'waiting'")),
        Index("ix_back_in_stock_queue", "sku_id", "requested_at", "id", postgresql_where=text("state = 'waiting'")),
    )


RETURN_STATES = ("requested", "review", "approved", "label_created", "delivered", "received", "settled",
                 "rejected", "cancelled")
RETURN_QC = ("restock", "dispose", "refurbish", "empty")


class ReturnRequest(Base):
    """One return (RMA) from request to refund and disposition (``domain.returns``).

    ``(source, source_ref)`` is unique, so a returns app's webhook delivered twice, or a staff
    request repeated, is one return. ``state`` moves only by ``domain.returns.machine`` and every
    move is a ``return_events`` row with who and why. ``decision_id`` is the refund policy's
    decision (request id ``return-{id}``); the refund it pays is that decision's one execution.
    ``restocked_qty`` is written in the same transaction as the units it added to the stock truth,
    so a step re-run never restocks twice. ``flags`` are the fraud checks' reasons for review.
    """

    __tablename__ = "return_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rma: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    customer: Mapped[str] = mapped_column(String(320), server_default="")
    lines: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    reason: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), server_default="requested")
    amount_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    flags: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'"))
    label_account: Mapped[str | None] = mapped_column(String(64))
    label_ref: Mapped[str | None] = mapped_column(String(128))
    label_carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    label_url: Mapped[str | None] = mapped_column(Text)
    qc: Mapped[str | None] = mapped_column(String(16))
    received_weight_g: Mapped[int | None] = mapped_column(Integer)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id", ondelete="SET NULL"))
    restocked_qty: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    execution_id: Mapped[int | None] = mapped_column(BigInteger)
    notice_outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    #: When the sweeper looks at it again (a step whose message was lost, a label awaiting delivery).
    due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", RETURN_STATES), name="state_valid"),
        CheckConstraint("qc IS NULL OR " + _in("qc", RETURN_QC), name="qc_valid"),
        Index("uq_return_requests_source", "source", "source_ref", unique=True),
        Index("ix_return_requests_customer", "customer", "created_at"),
        Index("ix_return_requests_due", "due_at", postgresql_where=text("due_at IS NOT NULL")),
    )


class ReturnEvent(Base):
    """One move of a return's state (or a step inside one), with who or what made it and the figures."""

    __tablename__ = "return_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    at: Mapped[datetime] = created_at_column()


class HelpdeskState(Base):
    """A ``[[helpdesks]]`` entry as a row: when it is next polled (reconciliation beside its
    webhooks), who polls it now (a lease), how far its tickets have been read (the connector's
    cursor) and how the last poll ended. Credentials stay in the environment."""

    __tablename__ = "helpdesk_states"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    poll_interval_s: Mapped[int] = mapped_column(Integer, server_default=text("300"))
    cursor: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_tickets: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (CheckConstraint("poll_interval_s > 0", name="poll_interval_positive"),)


class HelpdeskWriteBack(Base):
    """A write-back owed to a helpdesk ticket (tags, priority, group/assignee and one internal note),
    pending until a task performed it: claimed ``FOR UPDATE SKIP LOCKED`` under a lease, deleted
    in the transaction that marks it done, re-sent by the sweeper when its message was lost.
    ``idempotency_key`` marks the note, so a retried write posts one."""

    __tablename__ = "helpdesk_write_backs"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    helpdesk: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), server_default="triage")
    idempotency_key: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    due_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    fields_written: Mapped[str] = mapped_column(Text, server_default="")
    note_id: Mapped[str] = mapped_column(String(64), server_default="")
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", name="uq_helpdesk_write_backs_ticket_kind"),
        CheckConstraint("state IN ('pending', 'done', 'failed')", name="state_valid"),
        Index("ix_helpdesk_write_backs_pending", "due_at", postgresql_where=text("state = 'pending'")),
    )


# --- Support macros: reply drafts with the order's facts, and their internal notes (docs/support.md) ---

#: pending: to post; in_flight: claimed by one run (``lease_until``); posted: the helpdesk took it;
#: failed: refused for good (a person reads ``last_error``).
SUPPORT_NOTE_STATES = ("pending", "in_flight", "posted", "failed")


class SupportDraft(Base):
    """One reply draft for a ticket: the words an agent may send, the template that made them and the
    exact facts it was filled with (``facts``), as they were when it was composed. Never rewritten:
    a regenerated draft is the next ``version``. ``applied`` says what the ticket's answer to a
    backorder offer did (the backorder, the choice, the outcome), empty when nothing was applied."""

    __tablename__ = "support_drafts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    intent: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    applied: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    #: True when the ticket's routing let a macro answer it (tier 1); else an agent edits it first.
    auto_answer: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: True when the draft asks the customer a question (which backorder, which substitute) instead of acting.
    asks: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by: Mapped[str] = mapped_column(String(128), server_default="")
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        UniqueConstraint("ticket_id", "version", name="uq_support_drafts_ticket_version"),
    )


class SupportNote(Base):
    """A draft posted to the ticket's helpdesk as an internal note, as a row a sweeper finds again:
    one per draft, claimed under a lease before the request leaves and recorded after it answers
    (``domain.support.notes``, ``flows.support_notes``). A ticket whose source has no helpdesk
    connector keeps its note ``pending``: the draft is read with ``backorders tickets draft N``."""

    __tablename__ = "support_notes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("support_drafts.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The helpdesk's id of the posted note (a Zendesk comment, a Gorgias message, an Intercom part).
    external_ref: Mapped[str | None] = mapped_column(String(128))
    posted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint(_in("state", SUPPORT_NOTE_STATES), name="state_valid"),
        Index("ix_support_notes_open", "source", "updated_at", postgresql_where=text("state IN ('pending', 'in_flight')")),
    )


class DisconnectedLevel(Base):
    """An item a store disconnected from one of its locations (Shopify's
    ``inventory_levels/disconnect``): that store's figure there stopped counting and is no longer
    written (``domain.stock.connected_locations.disconnect``). A reading of the store's for that
    item and location dated no later than ``disconnected_at`` (a late retry, a poll read before)
    is dropped; a newer one, or the store connecting the item there again, ends the row."""

    __tablename__ = "disconnected_levels"
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    disconnected_at: Mapped[datetime]
    #: The store's figure there when it was disconnected (None: it had reported none).
    available_before: Mapped[int | None] = mapped_column(Integer)


#: What is written back to a store's own return (``domain.returns.store_writes``): our decision,
#: then its end (cancelled here while it is open there, or settled here).
STORE_RETURN_ACTIONS = ("approve", "decline", "cancel", "close")
STORE_RETURN_DECISIONS = ("approve", "decline")


class StoreReturnWrite(Base):
    """One move of a return the store keeps itself (Shopify's ``Return``) owed to the store — our
    decision (once per return: approve or decline), or its end (cancel or close, once each):
    recorded in the transaction that moved ours, sent after the commit, claimed ``FOR UPDATE SKIP
    LOCKED`` under a lease (a return's writes in the order they were owed), re-sent by the returns
    sweeper when its message was lost, and ``done`` with what the store answered (``outcome``
    ``written``, or ``already`` when the store was no longer in the status the move starts from)
    and the status it shows."""

    __tablename__ = "store_return_writes"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    store_return: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, server_default="")
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    due_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    store_status: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    __table_args__ = (
        CheckConstraint(_in("action", STORE_RETURN_ACTIONS), name="action_valid"),
        CheckConstraint("state IN ('pending', 'done', 'failed')", name="state_valid"),
        UniqueConstraint("return_id", "action", name="uq_store_return_writes_return_action"),
        Index("uq_store_return_writes_decision", "return_id", unique=True,
              postgresql_where=text(_in("action", STORE_RETURN_DECISIONS))),
        Index("ix_store_return_writes_pending", "due_at", postgresql_where=text("state = 'pending'")),
    )
