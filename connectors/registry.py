"""Platform name → connector class, so tasks build a connector from a store's configuration alone.

Other platforms register by adding one entry to ``CONNECTORS`` (or calling :func:`register`).
"""
from __future__ import annotations

from typing import Any

from connectors.base import Connector
from connectors.lightspeed import LightspeedConnector
from connectors.netsuite import NetSuiteConnector
from connectors.odoo import OdooConnector
from connectors.shopify import ShopifyConnector
from connectors.types import ConnectorConfig
from connectors.woocommerce import WooCommerceConnector

CONNECTORS: dict[str, type] = {
    "shopify": ShopifyConnector,
    "woocommerce": WooCommerceConnector,
    "lightspeed": LightspeedConnector,
    "netsuite": NetSuiteConnector,
    "odoo": OdooConnector,
}


def register(platform: str, cls: type) -> None:
    CONNECTORS[platform] = cls


def available_platforms() -> list[str]:
    """The platforms a store may name: those with a connector, in name order."""
    return sorted(CONNECTORS)


def build_connector(platform: str, config: ConnectorConfig, **kwargs: Any) -> Connector:
    """Instantiate the connector for ``platform``; kwargs (e.g. ``sleep``) go to its constructor."""
    try:
        cls = CONNECTORS[platform]
    except KeyError:
        known = ", ".join(available_platforms())
        raise ValueError(f"unknown platform {platform!r} (known: {known})") from None
    return cls(config, **kwargs)
