"""Magento 2 / Adobe Commerce stand-in, served at ``/magento/{instance}/rest/{store_code}/V1/…``.

Follows the public docs the connector follows (connectors/magento.py lists them): bearer tokens
(an integration's, or an admin token from ``POST /V1/integration/admin/token`` that lapses after
``token_lifetime_h`` on the instance's clock) checked against each route's ACL resource, 401
``{"message": "The consumer isn't authorized to access %resources.", "parameters": {...}}``;
``searchCriteria`` searches (filter groups, sort orders, the last page again past the end,
``total_count``; optional input limits); legacy stock items, statuses and ``lowStock``; with
Multi-Source Inventory switched on per instance, sources, source items, sources by stock and the
salable quantity (reservations of orders not shipped); orders, credit memos and the offline refund.
There is no rate limit: Magento's REST API has none of its own (no 429), so none is invented.
A store's own observer module is played by signed ``stock_item.updated``, ``source_items.updated``
and ``order.placed`` posts (``X-Magento-Signature: sha256=<hex HMAC-SHA256>``).

Built on ``sandbox.kit``: ``store`` declares the stand-in, ``catalog`` and ``sales`` hold the API
routes, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.magento import admin, catalog, sales  # noqa: F401  (each registers its routes)
from sandbox.magento.store import ADMIN_PASSWORD, ADMIN_USER, DEFAULT_TOKEN, kit

__all__ = ["ADMIN_PASSWORD", "ADMIN_USER", "DEFAULT_TOKEN", "install"]

install = kit.install
