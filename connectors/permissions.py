"""Which permission a refusal names: the scope or key right an operator must grant.

A store's token may read stock but not orders (a Shopify custom app without ``read_orders``, a
WooCommerce key whose user cannot view orders). The poll reads orders as an optional part: when
that part is refused, it keeps what it stored and says which permission is missing, in the words
the platform's admin uses, so the operator knows exactly what to tick.

Sources: Magento / Adobe Commerce answers 401 ``{"message": "The consumer isn't authorized to access
%resources.", "parameters": {"resources": "Magento_Sales::sales"}}``, naming the ACL resource the
integration or admin role lacks (``checkPermissions`` in
https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/Webapi/Controller/Rest/RequestValidator.php);
BigCommerce answers 403 when "the app lacks required OAuth scopes"
(https://developer.bigcommerce.com/docs/start/about/status-codes ; scope names:
https://developer.bigcommerce.com/docs/start/authentication/api-accounts#oauth-scopes ); Shopify answers 403 ``{"errors": "[API] This action requires merchant approval for
read_orders scope."}`` (https://shopify.dev/docs/api/usage/access-scopes); WooCommerce answers
401/403 ``woocommerce_rest_cannot_view`` when the key or its user may not read the resource
(https://developer.woocommerce.com/docs/apis/rest-api/authentication/). NetSuite's SuiteQL does not
show a record type to a role without its permission: a query on it answers 400 "Invalid search
query. … Search error occurred: Record 'location' was not found." as for a table that does not
exist (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html for
the error body; the Records Catalog, Setup → Records Catalog, names each record's permission).
Odoo answers ``odoo.exceptions.AccessError`` "You are not allowed to access 'Warehouse'
(stock.warehouse) records." followed by the groups that may (``ir.model.access``,
https://github.com/odoo/odoo/blob/18.0/odoo/addons/base/models/ir_model.py).
"""
from __future__ import annotations

import re

from connectors.errors import ConnectorError, error_json

#: Statuses that mean "this credential may not do that", as opposed to a broken request.
REFUSED = (401, 403)
SCOPE_IN_MESSAGE = re.compile(r"\b([a-z_]+) scope\b")
SUITEQL_HIDDEN = re.compile(r"Record '(\w+)' was not found")
ODOO_DENIED = re.compile(r"not allowed to access '([^']*)' \(([\w.]+)\) records")
ODOO_GROUP = re.compile(r"^\s*- (.+?)\s*$", re.MULTILINE)
#: The NetSuite role permission (subtab → permission, level View) that shows each SuiteQL table.
NETSUITE_RECORDS = {"location": "Lists → Locations", "item": "Lists → Items",
                    "inventoryitemlocations": "Lists → Items", "vendor": "Lists → Vendors",
                    "transaction": "Transactions → Purchase Order", "transactionline": "Transactions → Purchase Order"}

#: What to grant, per platform and part of a poll, when the platform's answer does not say.
PERMISSIONS: dict[str, dict[str, str]] = {
    "shopify": {"orders": "read_orders scope", "stock": "read_inventory and read_products scopes",
                "webhooks": "the scopes of each webhook topic (read_inventory, read_orders, read_products)"},
    "woocommerce": {"orders": "Read permission on the API key (Read or Read/Write) and a key user who can view orders",
                    "stock": "Read permission on the API key (Read or Read/Write)",
                    "webhooks": "Read/Write permission on the API key (webhooks are written)"},
    # Business Central: the app's permission sets, granted on its Microsoft Entra Applications card
    # (https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/administration/automation-apis-using-s2s-authentication)
    "business_central": {
        part: f"a permission set reading {what} on the app's Microsoft Entra Applications card in Business Central "
              f"(D365 BASIC reads them all)" for part, what in (
            ("locations", "Location"), ("items", "Item"), ("stock", "Item and Item Ledger Entry"),
            ("webhooks", "API Webhook Subscription (D365 BASIC)"))},
    "bigcommerce": {"orders": "Orders read-only scope (store_v2_orders_read_only); refunds need Orders modify "
                              "(store_v2_orders)",
                    "stock": "Products modify scope (store_v2_products) and Store Inventory modify (store_inventory); "
                             "Store Locations read-only (store_locations_read_only) to discover locations",
                    "webhooks": "the scope of each topic's resource (Products, Orders); webhooks themselves need "
                                "only the default scope"},
    "magento": {"orders": "the Magento_Sales::sales ACL resource",
                "stock": "the Magento_Catalog::products and Magento_CatalogInventory::cataloginventory ACL resources "
                         "(with Multi-Source Inventory also Magento_InventoryApi::source)",
                "webhooks": "an observer module posting to our address (Magento has no webhook API of its own)"},
    # X-Series OAuth scopes, each endpoint naming its own (https://x-series-api.lightspeedhq.com/docs/scopes)
    "lightspeed": {"orders": "sales:read scope", "stock": "products:read and inventory:read scopes",
                   "webhooks": "webhooks scope"},
    # B2C Commerce: the client's resources in the instance's OCAPI settings, answered 403
    # ClientAccessForbiddenException (docs/connect-a-store.md shows the JSON)
    "salesforce_b2c": {"orders": "the Shop API resource /order_search (post) for the API client in Business Manager's "
                                 "Open Commerce API Settings",
                       "stock": "the Data API resources /inventory_lists (get) and "
                                "/inventory_lists/*/product_inventory_records[/*] (get, patch) for the API client in "
                                "Business Manager's Open Commerce API Settings",
                       "locations": "the Data API resource /inventory_lists (get) for the API client in Business "
                                    "Manager's Open Commerce API Settings"},
    "sap_b1": {"warehouses": "the user's authorization for Administration → Setup → Inventory → Warehouses",
               "items": "the user's authorization for Inventory → Item Master Data",
               "stock": "the user's authorization for Inventory → Item Master Data"},
}


def missing_permission(platform: str, part: str, exc: ConnectorError) -> str | None:
    """The permission ``exc`` says is missing for ``part`` ("orders", "stock", "webhooks",
    "locations", …), or None when ``exc`` is not a refusal of the credential (then it is an
    ordinary failure)."""
    if platform == "netsuite" and (hidden := SUITEQL_HIDDEN.search(str(exc))):
        table = hidden.group(1).lower()
        return (f"{NETSUITE_RECORDS.get(table, f'the permission of the {table} record')} (View) on the token's role "
                f"(SuiteQL: Record '{hidden.group(1)}' was not found)")
    if platform == "odoo" and (denied := ODOO_DENIED.search(str(exc))):
        groups = ", ".join(ODOO_GROUP.findall(str(exc)))
        return (f"read access to {denied.group(1)} ({denied.group(2)}) for the API user"
                + (f": add it to a group that has it ({groups})" if groups else ""))
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


def refused_part(platform: str, part: str, exc: ConnectorError) -> str | None:
    """The permission a refusal of one part names, only when the refusal can mean nothing else: a
    401 is the credential itself (wrong or expired), which no part can work around."""
    return None if exc.status_code == 401 else missing_permission(platform, part, exc)
