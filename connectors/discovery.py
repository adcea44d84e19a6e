"""What a store holds, read once to write its configuration: locations and the whole catalogue.

``backorders stores discover`` asks a store for its locations (the ids ``[[stores]].locations``
maps) and pages through every sellable item (the ``[[skus]]`` it can match), so a new store is
configured from what it really holds instead of by hand. Each platform's reading follows its
public docs:

* Shopify: ``GET locations.json`` (https://shopify.dev/docs/api/admin-rest/latest/resources/location)
  and ``GET products.json`` with ``fields=id,title,variants``, paged through ``Link``
  (https://shopify.dev/docs/api/admin-rest/latest/resources/product). A variant's
  ``inventory_policy`` (``continue`` sells when out of stock) is its current backorder setting.
* WooCommerce: no locations (one stock figure per product; the store's location is ``default``);
  ``GET products`` and, for a variable product, ``GET products/{id}/variations``, paged with
  ``page``/``per_page`` (https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products).
  ``backorders`` other than ``no`` means it sells when out of stock.
* Lightspeed X-Series: ``GET /api/2.0/outlets`` and ``GET /api/2.0/products``, paged by version
  (https://x-series-api.lightspeedhq.com/reference).
* BigCommerce: ``GET /v3/inventory/locations`` (``id``, ``label``, ``enabled``;
  https://developer.bigcommerce.com/docs/rest-management/locations ) and ``GET
  /v3/catalog/products?include=variants`` (https://developer.bigcommerce.com/docs/rest-catalog/products):
  a product tracked by variant is its variants, any other the product; ``availability`` ``preorder``
  is the setting that keeps a listing selling when it is out (docs/connectors.md, BigCommerce).

A back office (NetSuite, Odoo, Business Central, SAP Business One, Zoho Inventory, Cin7 Core, Airtable) is surveyed instead (:func:`survey`): its locations, and how many
items it holds — counted, not copied, since its items are matched by code to the SKUs the selling
stores list — and, part by part, what the credential may not read (``connectors.permissions``),
so one missing permission is named while the rest is still read:

* NetSuite, through SuiteQL (``POST /services/rest/query/v1/suiteql``,
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html):
  ``SELECT id, name, isinactive FROM location`` and a ``COUNT(*)`` of the active items of the
  connector's ``item_types`` (``InvtPart``: inventory items).
* Business Central, through the API v2.0
  (https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/resources/dynamics_location):
  ``locations`` (``code``, ``displayName``: the code is what item ledger entries name) and the
  ``items`` of ``type eq 'Inventory'`` counted page by page (their ``number`` is matched to our SKUs).
* Airtable: the inventory table's rows (``connectors.airtable``), their distinct locations and SKUs;
* Odoo, through ``execute_kw`` over JSON-RPC
  (https://www.odoo.com/documentation/18.0/developer/reference/external_api.html):
  ``stock.warehouse`` ``search_read`` (name, code, ``lot_stock_id``: its main stock location),
  ``stock.location`` ``search_read`` of the ``internal`` ones (where stock is kept; ``view``
  locations only group others), and ``product.product`` ``search_count``, all and with an
  Internal Reference (``default_code``, the code matched to our SKUs).
* SAP Business One, through the Service Layer
  (https://help.sap.com/doc/056f69366b5345a386bb8149f1700c19/10.0/en-US/Service%20Layer%20API%20Reference.html):
  ``GET Warehouses`` (code, name, ``Inactive``) and ``GET Items/$count`` of the inventory items
  (``InventoryItem eq 'tYES'``), whose ``ItemCode`` is matched to our SKU codes.

* Zoho Inventory: ``GET /locations`` (``location_id``, ``location_name``, ``status``;
  https://www.zoho.com/inventory/api/v1/locations/ ) and the ``GET /items`` pages counted, services
  left out (their ``sku`` is matched to our SKUs).
* Cin7 Core: ``GET ref/location`` (``Name``: what availability rows name, ``IsDeprecated``) and the
  ``GET product`` pages counted, products of ``Type`` ``Stock`` only
  (https://dearinventory.docs.apiary.io/).

* Magento / Adobe Commerce: with Multi-Source Inventory (the ``msi`` option) its sources, ``GET
  /V1/inventory/sources`` (https://developer.adobe.com/commerce/webapi/rest/inventory/manage-sources/);
  without it one figure per product, the Default Stock, whose location is ``default``; the
  catalogue is ``GET /V1/products`` of simple and virtual products in ``searchCriteria`` pages
  (https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/).

* Salesforce B2C Commerce: its inventory lists are its locations, ``GET
  /s/-/dw/data/{v}/inventory_lists`` (``id``, ``description``, ``assigned_sites``;
  https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/InventoryLists.php ), and the
  catalogue is the product inventory records of the store's lists (``location_ids``, else every
  list), each product once; ``pre_order_back_order_handling`` ``backorder`` is its current setting
  (https://sfcclearning.com/infocenter/OCAPI/current/data/Resources/ProductInventoryRecords.php ).

Other platforms raise :class:`DiscoveryUnsupported`: their items are named by hand.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from connectors.airtable import AirtableConnector
from connectors.base import PageNumberPaginator, Stream, cents_to_money, id_str, money_cents, shopify_link_paginator
from connectors.business_central import BusinessCentralConnector
from connectors.errors import ConnectorError, PermanentError
from connectors.http import RestConnector
from connectors.bigcommerce import PRODUCTS as BIGCOMMERCE_PRODUCTS
from connectors.bigcommerce import V3 as BIGCOMMERCE_V3
from connectors.lightspeed import PRODUCTS as LIGHTSPEED_PRODUCTS
from connectors.netsuite import NetSuiteConnector, suiteql_literal
from connectors.odata import odata_path
from connectors.odoo import OdooConnector
from connectors.permissions import refused_part
from connectors.magento import SEARCH as MAGENTO_SEARCH, PRODUCTS as MAGENTO_PRODUCTS
from connectors.salesforce_b2c import DATA as SFCC_DATA
from connectors.sapb1 import SapB1Connector
from connectors.cin7_core import LOCATIONS as CIN7_LOCATIONS, PRODUCTS as CIN7_PRODUCTS, Cin7CoreConnector
from connectors.zoho_inventory import ZOHO, ZohoInventoryConnector

T = TypeVar("T")

#: The one location of a platform that keeps one stock figure per product (WooCommerce).
DEFAULT_LOCATION = "default"


class DiscoveryUnsupported(PermanentError):
    """The platform has no discovery here: its locations and SKUs are written by hand."""


@dataclass(frozen=True)
class FoundLocation:
    """A place the store keeps stock: the platform's id and the name its admin shows."""

    external_id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class FoundItem:
    """One sellable item (a variant, a simple product or a variation) with a SKU code, or without
    one (``sku`` None: it cannot be matched until the store gives it a code)."""

    external_id: str
    sku: str | None
    title: str
    price: str | None = None
    #: The platform's current "sell when out of stock" setting, None when it has none.
    backorders_allowed: bool | None = None


def _shopify_locations(connector: RestConnector) -> list[FoundLocation]:
    return [FoundLocation(str(loc["id"]), str(loc.get("name") or loc["id"]), bool(loc.get("active", True)))
            for loc in (connector.get_json("locations.json") or {}).get("locations", [])]


SHOPIFY_PRODUCTS = Stream(path="products.json", records="products", paginator=shopify_link_paginator(),
                          params={"fields": "id,title,variants"}, page_size_param="limit")


def _shopify_variants(product: Mapping[str, Any]) -> list[FoundItem]:
    variants = product.get("variants") or []
    items = []
    for variant in variants:
        title = str(product.get("title") or "")
        if len(variants) > 1 and variant.get("title") not in (None, "", "Default Title"):
            title = f"{title} — {variant['title']}"
        items.append(FoundItem(str(variant["id"]), variant.get("sku") or None, title or str(variant["id"]),
                               variant.get("price"), variant.get("inventory_policy") == "continue"))
    return items


def _shopify_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    for page in connector.read(SHOPIFY_PRODUCTS, map=_shopify_variants):
        yield list(page.records)


def _woo_locations(connector: RestConnector) -> list[FoundLocation]:
    return [FoundLocation(DEFAULT_LOCATION, "the store (WooCommerce keeps one stock figure per product)")]


WOO_PRODUCTS = Stream(path="products", records="$", paginator=PageNumberPaginator(), page_size_param="per_page",
                      params={"orderby": "id", "order": "asc"})
WOO_VARIATIONS = Stream(path="products/{product}/variations", records="$", paginator=PageNumberPaginator(),
                        page_size_param="per_page", params={"orderby": "id", "order": "asc"})


def _woo_item(row: Mapping[str, Any], title: str) -> FoundItem:
    return FoundItem(str(row["id"]), row.get("sku") or None, title, row.get("price") or row.get("regular_price"),
                     row.get("backorders", "no") != "no")


def _woo_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    for page in connector.read(WOO_PRODUCTS):
        items: list[FoundItem] = []
        for product in page.records:
            name = str(product.get("name") or product["id"])
            if product.get("type") != "variable":
                items.append(_woo_item(product, name))
                continue
            for variation in connector.records(WOO_VARIATIONS.at(product=str(product["id"]))):
                options = ", ".join(str(a.get("option")) for a in variation.get("attributes") or [] if a.get("option"))
                items.append(_woo_item(variation, f"{name} — {options}" if options else name))
        yield items


def _lightspeed_locations(connector: RestConnector) -> list[FoundLocation]:
    return [FoundLocation(str(outlet["id"]), str(outlet.get("name") or outlet["id"]), not outlet.get("deleted_at"))
            for outlet in (connector.get_json("outlets") or {}).get("data", [])]


def _lightspeed_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    for page in connector.read(LIGHTSPEED_PRODUCTS):
        yield [FoundItem(str(p["id"]), p.get("sku") or None, str(p.get("name") or p["id"]), id_str(p.get("price")))
               for p in page.records if not p.get("deleted_at")]


def _bigcommerce_locations(connector: RestConnector) -> list[FoundLocation]:
    return [FoundLocation(str(loc["id"]), str(loc.get("label") or loc["id"]), bool(loc.get("enabled", True)))
            for loc in connector.records(BIGCOMMERCE_V3("v3/inventory/locations"))]


def _bigcommerce_items(product: Mapping[str, Any]) -> list[FoundItem]:
    name, preorder = str(product.get("name") or product["id"]), product.get("availability") == "preorder"
    if product.get("inventory_tracking") != "variant":
        return [FoundItem(str(product["id"]), product.get("sku") or None, name, cents_to_money(money_cents(product.get("price"))), preorder)]
    return [FoundItem(str(v["id"]), v.get("sku") or None, " — ".join([name, *(str(o.get("label")) for o in
                      v.get("option_values") or [] if o.get("label"))]), cents_to_money(money_cents(v.get("price") or product.get("price"))),
                      preorder) for v in product.get("variants") or []]


def _bigcommerce_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    for page in connector.read(BIGCOMMERCE_PRODUCTS, map=_bigcommerce_items):
        yield list(page.records)


MAGENTO_SOURCES = MAGENTO_SEARCH("inventory/sources", params={})
MAGENTO_CATALOGUE = replace(MAGENTO_PRODUCTS, map=None, cursor=None)


def _magento_locations(connector: RestConnector) -> list[FoundLocation]:
    if not connector.stock_per_location:
        return [FoundLocation(DEFAULT_LOCATION, "the Default Stock (without Multi-Source Inventory Magento keeps one "
                                                "stock figure per product)")]
    return [FoundLocation(str(source["source_code"]), str(source.get("name") or source["source_code"]),
                          bool(source.get("enabled", True))) for source in connector.records(MAGENTO_SOURCES)]


def _magento_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    for page in connector.read(MAGENTO_CATALOGUE):
        yield [FoundItem(str(p["id"]), p.get("sku") or None, str(p.get("name") or p["sku"]), id_str(p.get("price")))
               for p in page.records]


def _salesforce_b2c_locations(connector: RestConnector) -> list[FoundLocation]:
    assert connector.locations is not None
    return [FoundLocation(str(inv["id"]), f"{inv.get('description') or inv['id']} (sites: "
                          f"{', '.join(inv.get('assigned_sites') or []) or 'none'})")
            for inv in connector.records(replace(connector.locations, map=None))]


def _salesforce_b2c_catalogue(connector: RestConnector) -> Iterator[list[FoundItem]]:
    seen: set[str] = set()
    for location in connector.location_ids():
        for page in connector.read(SFCC_DATA(f"inventory_lists/{location}/product_inventory_records")):
            fresh = [r for r in page.records if r["product_id"] not in seen]
            seen.update(r["product_id"] for r in fresh)
            yield [FoundItem(str(r["product_id"]), str(r["product_id"]), str(r.get("product_name") or r["product_id"]),
                             None, r.get("pre_order_back_order_handling") == "backorder") for r in fresh]


READERS: dict[str, tuple[Callable[[RestConnector], list[FoundLocation]],
                         Callable[[RestConnector], Iterator[list[FoundItem]]]]] = {
    "shopify": (_shopify_locations, _shopify_catalogue),
    "woocommerce": (_woo_locations, _woo_catalogue),
    "lightspeed": (_lightspeed_locations, _lightspeed_catalogue),
    "bigcommerce": (_bigcommerce_locations, _bigcommerce_catalogue),
    "magento": (_magento_locations, _magento_catalogue),
    "salesforce_b2c": (_salesforce_b2c_locations, _salesforce_b2c_catalogue),
}


def _reader(connector: Any, which: int) -> Any:
    platform = connector.platform
    if platform not in READERS or not isinstance(connector, RestConnector):
        raise DiscoveryUnsupported(f"{platform or 'this platform'}: discovery is not supported; "
                                    "name its locations and [[skus]] by hand (docs/connect-a-store.md)")
    return READERS[platform][which]


def locations(connector: Any) -> list[FoundLocation]:
    """The store's stock locations, as its admin names them."""
    found: list[FoundLocation] = _reader(connector, 0)(connector)
    return found


def catalogue(connector: Any) -> Iterator[list[FoundItem]]:
    """Every sellable item, one platform page at a time (memory stays flat in catalogue size)."""
    yield from _reader(connector, 1)(connector)


@dataclass
class Survey:
    """What a back office shows a new connection: its stock locations, how many items it holds
    (``counted`` says which, in the platform's words), notes to print beside the locations, and
    each part the credential may not read, with the permission to grant."""

    platform: str
    locations: list[FoundLocation] = field(default_factory=list)
    items: int | None = None
    counted: str = ""
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def attempt(self, part: str, read: Callable[[], T], instead: T) -> T:
        """``read()``; when the platform refuses it for a missing permission, that permission is
        noted and ``instead`` stands for the part. Any other failure is raised."""
        try:
            return read()
        except ConnectorError as exc:
            needed = refused_part(self.platform, part, exc)
            if needed is None:
                raise
            self.missing.append(f"{part}: {needed}")
            return instead


def _netsuite_survey(connector: NetSuiteConnector) -> Survey:
    found = Survey("netsuite")
    found.locations = found.attempt("locations", lambda: [
        FoundLocation(str(row["id"]), str(row.get("name") or row["id"]), row.get("isinactive") != "T")
        for row in connector.suiteql("SELECT id, name, isinactive FROM location ORDER BY id")], [])
    types = ", ".join(suiteql_literal(kind) for kind in connector.item_types)
    rows = found.attempt("items", lambda: list(connector.suiteql(
        f"SELECT COUNT(*) AS items FROM item WHERE itemtype IN ({types}) AND isinactive = 'F'")), None)
    if rows is not None:
        found.items = int(rows[0]["items"]) if rows else 0
        found.counted = f"active items of type {', '.join(connector.item_types)} (matched by itemid = SKU code)"
    return found


def _odoo_place(row: Mapping[str, Any], warehouses: Mapping[int, str]) -> FoundLocation:
    """An internal location by its full name (``WH/Stock``), with its warehouse's name when known."""
    name, warehouse = str(row.get("complete_name") or row["id"]), row.get("warehouse_id")
    if warehouse and int(warehouse[0]) in warehouses:
        name = f"{name} ({warehouses[int(warehouse[0])]})"
    return FoundLocation(str(row["id"]), name)


def _odoo_survey(connector: OdooConnector) -> Survey:
    found = Survey("odoo")
    none: list[dict[str, Any]] = []
    warehouses = found.attempt("warehouses", lambda: connector.search_read(
        "stock.warehouse", [], ["name", "code", "lot_stock_id"], order="id"), none)
    named = {int(w["id"]): str(w["name"]) for w in warehouses}
    for warehouse in warehouses:
        stock = warehouse.get("lot_stock_id")
        found.notes.append(f"warehouse {warehouse['name']} ({warehouse.get('code')}): its stock is kept in "
                           f"{stock[1] if stock else 'no location'}")
    found.locations = found.attempt("locations", lambda: [_odoo_place(row, named) for row in connector.search_read(
        "stock.location", [["usage", "=", "internal"]], ["complete_name", "warehouse_id"], order="id")], [])
    counts = found.attempt("products", lambda: [
        int(connector.execute_kw("product.product", "search_count", [domain]))
        for domain in ([], [["default_code", "!=", False]])], None)
    if counts is not None:
        found.items = counts[0]
        found.counted = f"products, {counts[1]} with an Internal Reference (default_code, matched to our SKU codes)"
    return found


def _business_central_survey(connector: BusinessCentralConnector) -> Survey:
    found = Survey("business_central")
    found.locations = found.attempt("locations", lambda: [
        FoundLocation(str(row["code"]), str(row.get("displayName") or row["code"])) for row in connector.records(
            connector.stream(f"{connector.company}/locations", **{"$select": "code,displayName"}))], [])
    count = found.attempt("items", lambda: sum(1 for _ in connector.records(connector.stream(
        f"{connector.company}/items", **{"$filter": "type eq 'Inventory'", "$select": "number"}))), None)
    if count is not None:
        found.items, found.counted = count, "items of type Inventory (matched by number = SKU code)"
    return found


def _sap_b1_survey(connector: SapB1Connector) -> Survey:
    found = Survey("sap_b1")
    found.locations = found.attempt("warehouses", lambda: [
        FoundLocation(str(row["WarehouseCode"]), str(row.get("WarehouseName") or row["WarehouseCode"]),
                      row.get("Inactive") != "tYES")
        for row in connector.rows("Warehouses", {"$select": "WarehouseCode,WarehouseName,Inactive",
                                                 "$orderby": "WarehouseCode"})], [])
    count = found.attempt("items", lambda: connector.get_json(
        odata_path("Items/$count", {"$filter": "InventoryItem eq 'tYES'"})), None)
    if count is not None:
        found.items = int(count)
        found.counted = "inventory items (InventoryItem = tYES; ItemCode matched to our SKU codes)"
    return found


def _zoho_survey(connector: ZohoInventoryConnector) -> Survey:
    found = Survey("zoho_inventory")
    found.locations = found.attempt("locations", lambda: [
        FoundLocation(str(row["location_id"]), str(row.get("location_name") or row["location_id"]),
                      row.get("status", "active") == "active") for row in connector.records(ZOHO("locations"))], [])
    count = found.attempt("items", lambda: sum(1 for row in connector.records(ZOHO("items"))
                                               if row.get("product_type") != "service"), None)
    if count is not None:
        found.items, found.counted = count, "items that are not services (matched by sku = SKU code)"
    return found


def _cin7_survey(connector: Cin7CoreConnector) -> Survey:
    found = Survey("cin7_core")
    found.locations = found.attempt("locations", lambda: [
        FoundLocation(str(row["Name"]), str(row["Name"]), not row.get("IsDeprecated"))
        for row in connector.records(CIN7_LOCATIONS)], [])
    count = found.attempt("items", lambda: sum(1 for row in connector.records(CIN7_PRODUCTS)
                                               if row.get("Type", "Stock") == "Stock"), None)
    if count is not None:
        found.items, found.counted = count, "products of type Stock (matched by SKU)"
    return found


def _airtable_survey(connector: AirtableConnector) -> Survey:
    """The inventory table's rows read once: their distinct locations, and their distinct SKUs counted."""
    found = Survey("airtable")
    rows = [record for page in connector.fetch_stock(None) for record in page.records]
    places = sorted({row.location_external_id for row in rows if row.location_external_id})
    found.locations = [FoundLocation(place, place) for place in places]
    found.items = len({row.sku for row in rows})
    found.counted = "SKUs in the inventory table (matched to our SKU codes)"
    if not places:
        found.notes.append("no location column mapped (options.fields.location): every row is the default location")
    return found


SURVEYS: dict[str, Callable[[Any], Survey]] = {"netsuite": _netsuite_survey, "netsuite_restlet": _netsuite_survey,
                                               "odoo": _odoo_survey, "airtable": _airtable_survey,
                                               "business_central": _business_central_survey, "sap_b1": _sap_b1_survey,
                                               "zoho_inventory": _zoho_survey, "cin7_core": _cin7_survey}


def is_back_office(connector: Any) -> bool:
    """A platform surveyed (locations, an item count) rather than copied into ``[[skus]]``."""
    return connector.platform in SURVEYS and isinstance(
        connector, (NetSuiteConnector, OdooConnector, BusinessCentralConnector, SapB1Connector, ZohoInventoryConnector,
                    Cin7CoreConnector, AirtableConnector))


def survey(connector: Any) -> Survey:
    """The back office's locations and item count, and what the credential may not read."""
    if not is_back_office(connector):
        raise DiscoveryUnsupported(f"{connector.platform}: not a back office this product surveys")
    return SURVEYS[connector.platform](connector)
