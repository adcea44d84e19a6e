"""Which permission a refusal names: the scope or key right an operator must grant.

A store's token may read stock but not orders (a Shopify custom app without ``read_orders``, a
WooCommerce key whose user cannot view orders). The poll reads orders as an optional part: when
that part is refused, it keeps what it stored and says which permission is missing, in the words
the platform's admin uses, so the operator knows exactly what to tick.

Sources: Magento / Adobe Commerce answers 401 ``{"message": "The consumer isn't authorized to access
%resources.", "parameters": {"resources": "Magento_Sales::sales"}}``, naming the ACL resource the
integration or admin role lacks (``checkPermissions`` in
https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/Webapi/Controller/Rest/RequestValidator.php);
Shopify answers 403 ``{"errors": "[API] This action requires merchant approval for
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
    "magento": {"orders": "the Magento_Sales::sales ACL resource",
                "stock": "the Magento_Catalog::products and Magento_CatalogInventory::cataloginventory ACL resources "
                         "(with Multi-Source Inventory also Magento_InventoryApi::source)",
                "webhooks": "an observer module posting to our address (Magento has no webhook API of its own)"},
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
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and parameters.get("resources"):
        return f"the {parameters['resources']} ACL resource"
    return PERMISSIONS.get(platform, {}).get(part, f"permission to read {part}")
