"""Shipping provider name → connector class, as ``connectors.registry`` is for stores.

A ``[[shipping.accounts]]`` table names its ``provider``; the flows build the connector from the
account's configuration alone. A new provider is one entry here plus its module and stand-in.
"""
from __future__ import annotations

from typing import Any

from connectors.carriers import ShippingConnector
from connectors.flexport import FlexportConnector
from connectors.shipstation import ShipStationConnector
from connectors.types import ConnectorConfig

SHIPPING_CONNECTORS: dict[str, type] = {
    "shipstation": ShipStationConnector,
    "flexport": FlexportConnector,
}


def shipping_providers() -> list[str]:
    return sorted(SHIPPING_CONNECTORS)


def build_shipping_connector(provider: str, config: ConnectorConfig, **kwargs: Any) -> ShippingConnector:
    try:
        cls = SHIPPING_CONNECTORS[provider]
    except KeyError:
        raise ValueError(f"unknown shipping provider {provider!r} (known: {', '.join(shipping_providers())})") from None
    connector: ShippingConnector = cls(config, **kwargs)
    return connector
