"""What a connector can do, declared on its class and checked by name, never probed with ``getattr``.

A connector class lists its abilities::

    class ShopifyConnector(RestConnector):
        capabilities = frozenset({Capability.STOCK_READ, Capability.REFUNDS, ...})

Callers ask :func:`supports` (a branch: skip a store that cannot report receipts) or
:func:`require` (a precondition: raise :class:`UnsupportedCapability`, a
:class:`~connectors.errors.PermanentError`, so a task escalates instead of retrying). Each
capability names the methods it promises (:data:`METHODS`); ``tests/connectors/test_capabilities.py``
fails when a class declares an ability whose methods are missing or refuse, or implements one it
does not declare. A method that exists only to refuse (the protocol wants it present) is marked
with :func:`refuses`.
"""
from __future__ import annotations

import enum
from typing import Any, Callable, Mapping, TypeVar

from connectors.errors import PermanentError

F = TypeVar("F", bound=Callable[..., Any])


class Capability(str, enum.Enum):
    """One ability a platform connector may offer the pipeline."""

    STOCK_READ = "stock_read"
    STOCK_WRITE = "stock_write"
    ORDERS = "orders"
    REFUNDS = "refunds"
    STORE_CREDIT = "store_credit"
    SUBSTITUTE_ORDERS = "substitute_orders"
    PURCHASE_ORDERS = "purchase_orders"
    RECEIPTS = "receipts"
    WEBHOOKS = "webhooks"
    #: The SKU's backorder status written into a back office's own record of the item (seed §1.3).
    BACKORDER_STATUS = "backorder_status"


#: The methods each capability promises; all of them must be real (not :func:`refuses`) when declared.
METHODS: Mapping[Capability, tuple[str, ...]] = {
    Capability.STOCK_READ: ("fetch_stock",),
    Capability.STOCK_WRITE: ("push_availability",),
    Capability.ORDERS: ("fetch_orders",),
    Capability.REFUNDS: ("refund_line",),
    Capability.STORE_CREDIT: ("credit_line",),
    Capability.SUBSTITUTE_ORDERS: ("place_substitute",),
    Capability.PURCHASE_ORDERS: ("create_purchase_order",),
    Capability.RECEIPTS: ("fetch_receipts",),
    Capability.WEBHOOKS: ("verify_webhook", "parse_webhook"),
    Capability.BACKORDER_STATUS: ("write_backorder_status",),
}

#: How a refusal reads: "<platform>: <phrase> is not supported by this connector".
PHRASES: Mapping[Capability, str] = {
    Capability.STOCK_READ: "reading stock is",
    Capability.STOCK_WRITE: "writing stock is",
    Capability.ORDERS: "reading orders is",
    Capability.REFUNDS: "refunds are",
    Capability.STORE_CREDIT: "store credit is",
    Capability.SUBSTITUTE_ORDERS: "placing a substitute order is",
    Capability.PURCHASE_ORDERS: "creating purchase orders is",
    Capability.RECEIPTS: "reading receipts is",
    Capability.WEBHOOKS: "receiving webhooks is",
    Capability.BACKORDER_STATUS: "writing backorder status is",
}


class UnsupportedCapability(PermanentError):
    """The connector does not declare the capability asked for: retrying cannot help."""

    def __init__(self, message: str, *, capability: Capability, platform: str = "") -> None:
        super().__init__(message, platform=platform)
        self.capability = capability


def declared(connector: object) -> frozenset[Capability]:
    """The capabilities a connector (instance or class) declares; none when it declares nothing."""
    cls = connector if isinstance(connector, type) else type(connector)
    return frozenset(getattr(cls, "capabilities", None) or ())


def supports(connector: object, capability: Capability) -> bool:
    """True when the connector's class declares ``capability``."""
    return capability in declared(connector)


def unsupported(connector: object, capability: Capability, detail: str = "") -> UnsupportedCapability:
    """The error a connector raises (or a caller raises for it) when ``capability`` is not declared."""
    platform = str(getattr(connector, "platform", "") or type(connector).__name__)
    message = f"{platform}: {PHRASES[capability]} not supported by this connector"
    return UnsupportedCapability(f"{message}{': ' + detail if detail else ''}", capability=capability,
                                 platform=platform)


def require(connector: object, capability: Capability) -> None:
    """Raise :class:`UnsupportedCapability` unless the connector declares ``capability``."""
    if not supports(connector, capability):
        raise unsupported(connector, capability)


def refuses(capability: Capability) -> Callable[[F], F]:
    """Mark a method that exists only to refuse ``capability`` (the interface wants it present)."""
    def mark(method: F) -> F:
        method.__refuses__ = capability  # type: ignore[attr-defined]
        return method
    return mark


def implements(cls: type, capability: Capability) -> bool:
    """Every method of ``capability`` exists on ``cls`` and none of them is a :func:`refuses` stub."""
    for name in METHODS[capability]:
        method = getattr(cls, name, None)
        if method is None or getattr(method, "__refuses__", None) is not None:
            return False
    return True


def mismatches(cls: type) -> list[str]:
    """What a class declares but does not implement, and implements but does not declare."""
    problems = []
    for capability in Capability:
        claimed, real = capability in declared(cls), implements(cls, capability)
        if claimed and not real:
            problems.append(f"{cls.__name__} declares {capability.value} but lacks {', '.join(METHODS[capability])}")
        elif real and not claimed:
            problems.append(f"{cls.__name__} implements {', '.join(METHODS[capability])} but does not declare "
                            f"{capability.value}")
    return problems
