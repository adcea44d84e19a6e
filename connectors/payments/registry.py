"""Provider name → payment connector, so a ``[[payments.accounts]]`` entry builds its connector alone.

An account without ``base_url`` talks to the provider itself: the SDKs' own endpoints for Stripe
and Adyen, ``https://api-m.paypal.com`` for PayPal (``https://api-m.sandbox.paypal.com`` is
PayPal's test environment: https://developer.paypal.com/api/rest/requests/).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from connectors.payments.adyen import AdyenProvider
from connectors.payments.common import CREDENTIALS, WebhookProvider
from connectors.payments.paypal import PayPalProvider
from connectors.payments.stripe import StripeProvider
from connectors.types import ConnectorConfig

PROVIDERS: dict[str, type] = {"stripe": StripeProvider, "adyen": AdyenProvider, "paypal": PayPalProvider}
DEFAULT_BASE_URLS = {"paypal": "https://api-m.paypal.com"}
__all__ = ["CREDENTIALS", "DEFAULT_BASE_URLS", "PROVIDERS", "build_provider"]


def build_provider(provider: str, config: ConnectorConfig, **kwargs: Any) -> WebhookProvider:
    """The connector for ``provider``; kwargs go to its constructor (PayPal's ``clock``, ``sleep``)."""
    try:
        cls = PROVIDERS[provider]
    except KeyError:
        raise ValueError(f"unknown payment provider {provider!r} (known: {', '.join(sorted(PROVIDERS))})") from None
    if not config.base_url and provider in DEFAULT_BASE_URLS:
        config = replace(config, base_url=DEFAULT_BASE_URLS[provider])
    connector: WebhookProvider = cls(config, **kwargs)
    return connector
