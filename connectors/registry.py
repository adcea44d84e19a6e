"""Platform name → connector class, so tasks build a connector from a store's configuration alone.

Other platforms register by adding one entry to ``CONNECTORS`` (or calling :func:`register`).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from connectors.base import Connector
from connectors.airtable import AirtableConnector
from connectors.business_central import BusinessCentralConnector
from connectors.cin7_core import Cin7CoreConnector
from connectors.bigcommerce import BigCommerceConnector
from connectors.declarative import DeclarativeConnector, check_store
from connectors.declarative_spec import webhook_spec
from connectors.lightspeed import LightspeedConnector
from connectors.magento import WEBHOOKS as MAGENTO_WEBHOOKS, MagentoConnector
from connectors.netsuite import NetSuiteConnector
from connectors.netsuite_restlet import WEBHOOKS as NETSUITE_RESTLET_WEBHOOKS, NetSuiteRestletConnector
from connectors.odoo import OdooConnector
from connectors.options import option_problems
from connectors.salesforce_b2c import SalesforceB2CConnector
from connectors.quickbooks import QuickBooksConnector
from connectors.sapb1 import SapB1Connector
from connectors.shopify import ShopifyConnector
from connectors.types import ConnectorConfig
from connectors.woocommerce import WooCommerceConnector
from connectors.zoho_inventory import ZohoInventoryConnector

CONNECTORS: dict[str, type] = {
    "shopify": ShopifyConnector,
    "woocommerce": WooCommerceConnector,
    "lightspeed": LightspeedConnector,
    "netsuite": NetSuiteConnector,
    "netsuite_restlet": NetSuiteRestletConnector,
    "odoo": OdooConnector,
    "business_central": BusinessCentralConnector,
    "bigcommerce": BigCommerceConnector,
    "magento": MagentoConnector,
    "sap_b1": SapB1Connector,
    "salesforce_b2c": SalesforceB2CConnector,
    "quickbooks": QuickBooksConnector,
    "zoho_inventory": ZohoInventoryConnector,
    "cin7_core": Cin7CoreConnector,
    "airtable": AirtableConnector,
    "rest": DeclarativeConnector,
}
#: Platforms whose ``[[stores]]`` table says more than the shared keys: each lists the problems as
#: (key under the store, message), e.g. the ``rest`` platform's whole description in ``options``.
STORE_CHECKS: dict[str, Callable[[Mapping[str, Any]], list[tuple[str, str]]]] = {
    "rest": check_store,
    "magento": lambda store: webhook_spec(store.get("options") or {}, MAGENTO_WEBHOOKS)[1],
    "salesforce_b2c": lambda store: [] if store.get("sells") is False or (store.get("options") or {}).get("site_id")
    else [("options.site_id", "missing: the site whose orders are read (Business Manager: Administration → Sites)")],
    "netsuite_restlet": lambda store: webhook_spec(store.get("options") or {}, NETSUITE_RESTLET_WEBHOOKS)[1],
}


def register(platform: str, cls: type) -> None:
    CONNECTORS[platform] = cls


def available_platforms() -> list[str]:
    """The platforms a store may name: those with a connector, in name order."""
    return sorted(CONNECTORS)


def store_problems(platform: str, store: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the platform finds wrong in a store's table: its own check, and the options its
    connector declares rules for (``connectors.options``)."""
    check = STORE_CHECKS.get(platform)
    given = store.get("options")
    options: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    rules = getattr(CONNECTORS.get(platform), "option_rules", ())
    return (check(store) if check is not None else []) + option_problems(options, rules)


def build_connector(platform: str, config: ConnectorConfig, **kwargs: Any) -> Connector:
    """Instantiate the connector for ``platform``; kwargs (e.g. ``sleep``) go to its constructor."""
    try:
        cls = CONNECTORS[platform]
    except KeyError:
        known = ", ".join(available_platforms())
        raise ValueError(f"unknown platform {platform!r} (known: {known})") from None
    return cls(config, **kwargs)
