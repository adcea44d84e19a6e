"""Which permission a refusal names: the scope or key right an operator must grant.

A store's token may read stock but not orders (a Shopify custom app without ``read_orders``, a
WooCommerce key whose user cannot view orders). The poll reads orders as an optional part: when
that part is refused, it keeps what it stored and says which permission is missing, in the words
the platform's admin uses, so the operator knows exactly what to tick.

Sources: BigCommerce answers 403 when "the app lacks required OAuth scopes"
(https://developer.bigcommerce.com/docs/start/about/status-codes ; scope names:
https://developer.bigcommerce.com/docs/start/authentication/api-accounts#oauth-scopes ); Shopify answers 403 ``{"errors": "[API] This action requires merchant approval for
read_orders scope."}`` (https://shopify.dev/docs/api/usage/access-scopes); WooCommerce answers
401/403 ``woocommerce_rest_cannot_view`` when the key or its user may not read the resource
(https://developer.woocommerce.com/docs/apis/rest-api/authentication/).
"""
from __future__ import annotations

import re

from connectors.errors import ConnectorError, error_json

#: Statuses that mean "this credential may not do that", as opposed to a broken request.
REFUSED = (401, 403)
SCOPE_IN_MESSAGE = re.compile(r"\b([a-z_]+) scope\b")

#: What to grant, per platform and part of a poll, when the platform's answer does not say.
PERMISSIONS: dict[str, dict[str, str]] = {
    "shopify": {"orders": "read_orders scope", "stock": "read_inventory and read_products scopes",
                "webhooks": "the scopes of each webhook topic (read_inventory, read_orders, read_products)"},
    "woocommerce": {"orders": "Read permission on the API key (Read or Read/Write) and a key user who can view orders",
                    "stock": "Read permission on the API key (Read or Read/Write)",
                    "webhooks": "Read/Write permission on the API key (webhooks are written)"},
    "bigcommerce": {"orders": "Orders read-only scope (store_v2_orders_read_only); refunds need Orders modify "
                              "(store_v2_orders)",
                    "stock": "Products modify scope (store_v2_products) and Store Inventory modify (store_inventory); "
                             "Store Locations read-only (store_locations_read_only) to discover locations",
                    "webhooks": "the scope of each topic's resource (Products, Orders); webhooks themselves need "
                                "only the default scope"},
}


def missing_permission(platform: str, part: str, exc: ConnectorError) -> str | None:
    """The permission ``exc`` says is missing for ``part`` ("orders", "stock", "webhooks"), or None
    when ``exc`` is not a refusal of the credential (then it is an ordinary failure)."""
    if exc.status_code not in REFUSED:
        return None
    body = error_json(exc)
    message = body.get("errors") if isinstance(body.get("errors"), str) else body.get("message")
    if isinstance(message, str) and (match := SCOPE_IN_MESSAGE.search(message)):
        return f"{match.group(1)} scope"
    return PERMISSIONS.get(platform, {}).get(part, f"permission to read {part}")
