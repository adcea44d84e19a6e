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

* Magento / Adobe Commerce: with Multi-Source Inventory (the ``msi`` option) its sources, ``GET
  /V1/inventory/sources`` (https://developer.adobe.com/commerce/webapi/rest/inventory/manage-sources/);
  without it one figure per product, the Default Stock, whose location is ``default``; the
  catalogue is ``GET /V1/products`` of simple and virtual products in ``searchCriteria`` pages
  (https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/).

Other platforms raise :class:`DiscoveryUnsupported`: their items are named by hand.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from connectors.base import PageNumberPaginator, Stream, id_str, shopify_link_paginator
from connectors.errors import PermanentError
from connectors.http import RestConnector
from connectors.lightspeed import PRODUCTS as LIGHTSPEED_PRODUCTS
from connectors.magento import SEARCH as MAGENTO_SEARCH, PRODUCTS as MAGENTO_PRODUCTS

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


READERS: dict[str, tuple[Callable[[RestConnector], list[FoundLocation]],
                         Callable[[RestConnector], Iterator[list[FoundItem]]]]] = {
    "shopify": (_shopify_locations, _shopify_catalogue),
    "woocommerce": (_woo_locations, _woo_catalogue),
    "lightspeed": (_lightspeed_locations, _lightspeed_catalogue),
    "magento": (_magento_locations, _magento_catalogue),
}


def _reader(connector: Any, which: int) -> Any:
    platform = getattr(connector, "platform", "")
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
