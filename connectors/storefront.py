"""A storefront connector: every channel ability, each from its declaration.

A platform that sells (Shopify, WooCommerce; Magento and BigCommerce alike) is read for stock and
orders, written back to, refunds, issues store credit, places substitute orders and sends signed
JSON webhooks. :class:`Storefront` puts together the pieces that run those from declarations —
``connectors.hooks`` (webhooks), ``connectors.http.OrderReads`` (the ``orders`` stream) and
``connectors.writes`` (refund, credit and substitute-order shapes) — and declares
:data:`STOREFRONT`. A connector extending it declares its streams and shapes and writes
``fetch_stock``, ``push_availability`` (or ``push_levels`` with
:class:`~connectors.writes.LevelWrites`) and its request bodies.
"""
from __future__ import annotations

from typing import ClassVar

from connectors.capabilities import Capability
from connectors.hooks import JsonWebhookConnector
from connectors.http import OrderReads
from connectors.store_returns import StoreReturns
from connectors.writes import DeclaredCredit, DeclaredRefunds, DeclaredSubstitutes

#: Every channel ability: stock read and written, orders, refunds, store credit, substitute orders, webhooks.
STOREFRONT: frozenset[Capability] = frozenset({
    Capability.STOCK_READ, Capability.STOCK_WRITE, Capability.ORDERS, Capability.REFUNDS,
    Capability.STORE_CREDIT, Capability.SUBSTITUTE_ORDERS, Capability.WEBHOOKS})


class Storefront(StoreReturns, JsonWebhookConnector, OrderReads, DeclaredRefunds, DeclaredCredit, DeclaredSubstitutes):
    """A selling platform's connector, declaring :data:`STOREFRONT`."""

    capabilities: ClassVar[frozenset[Capability]] = STOREFRONT
