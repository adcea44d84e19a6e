"""The ``[payments]`` table: the payment-provider accounts refunds are paid back through.

Each ``[[payments.accounts]]`` names a provider (stripe, adyen, paypal), its merchant account, the
environment variables holding its credentials and webhook secret, and which stores' orders it was
paid through (``stores``; ``payment_methods`` narrows that to the store platform's payment method
ids, e.g. WooCommerce's ``stripe`` and ``ppcp-gateway``). An approved refund of such an order is
paid back at the provider (``domain.payments``); any other is refunded through its store.
Problems are reported with their key path, like the rest of the file (``domain.core.business_config``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.payments.common import CREDENTIALS

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

PROVIDERS = tuple(CREDENTIALS)
ACCOUNT_KEYS = {"key", "provider", "merchant_account", "base_url", "credentials", "webhook_secret_env", "stores",
                "payment_methods", "gl_account", "environment", "live_endpoint_prefix"}


@dataclass(frozen=True)
class PaymentAccountConfig:
    """One ``[[payments.accounts]]`` entry."""

    key: str
    provider: str
    merchant_account: str = ""
    base_url: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    webhook_secret_env: str | None = None
    stores: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    #: Written into the finance export's GL note (the clearing account the provider settles into).
    gl_account: str = ""
    environment: str = "live"
    live_endpoint_prefix: str | None = None

    def pays(self, store_key: str, payment_method: str | None) -> bool:
        """Whether an order of that store, paid by that method, was paid through this account."""
        return store_key in self.stores and (not self.payment_methods or payment_method in self.payment_methods)


@dataclass(frozen=True)
class PaymentsConfig:
    accounts: tuple[PaymentAccountConfig, ...] = ()
    #: How long a refund the provider left pending waits before its state is asked again.
    poll_after_s: int = 600
    #: The finance export's GL note for a refund or credit made through a store.
    store_gl_account: str = ""

    def account(self, key: str) -> PaymentAccountConfig | None:
        return next((account for account in self.accounts if account.key == key), None)

    def account_for(self, store_key: str, payment_method: str | None) -> PaymentAccountConfig | None:
        """The first account that was paid for this store's order (file order), else None."""
        return next((account for account in self.accounts if account.pays(store_key, payment_method)), None)


def _strings(reader: _Reader, item: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        reader.problem(f"{path}.{key}", f"expected a list of names, got {value!r}")
        return ()
    return tuple(value)


def _read_account(reader: _Reader, item: dict[str, Any], path: str, seen: set[str],
                  store_keys: set[str]) -> PaymentAccountConfig | None:
    reader.unknown_keys(item, ACCOUNT_KEYS, path)
    key = reader.key(item, path, seen)
    provider = reader.string(item, "provider", path) or ""
    if provider and provider not in PROVIDERS:
        reader.problem(f"{path}.provider", f"expected one of {', '.join(PROVIDERS)}, got {provider!r}")
    credentials = {name: env for name, env in reader.table(item, "credentials", f"{path}.credentials").items()
                   if reader.env_name(env, f"{path}.credentials.{name}")}
    for name in CREDENTIALS.get(provider, ()):
        if name not in credentials:
            reader.problem(f"{path}.credentials.{name}", f"missing: {provider} needs the variable holding its {name}")
    merchant = reader.string(item, "merchant_account", path, required=provider == "adyen") or ""
    base_url = reader.string(item, "base_url", path, required=False) or ""
    if base_url and urlsplit(base_url).scheme not in ("http", "https"):
        reader.problem(f"{path}.base_url", f"expected an http(s) URL, got {base_url!r}")
    secret = item.get("webhook_secret_env")
    stores = _strings(reader, item, "stores", path)
    for store in stores:
        if store not in store_keys:
            reader.problem(f"{path}.stores", f"unknown store {store!r}")
    environment = reader.string(item, "environment", path, required=False, default="live") or "live"
    if environment not in ("live", "test"):
        reader.problem(f"{path}.environment", f"expected live or test, got {environment!r}")
    if not key or provider not in PROVIDERS:
        return None
    return PaymentAccountConfig(
        key=key, provider=provider, merchant_account=merchant, base_url=base_url, credentials=credentials,
        webhook_secret_env=reader.env_name(secret, f"{path}.webhook_secret_env") if secret is not None else None,
        stores=stores, payment_methods=_strings(reader, item, "payment_methods", path),
        gl_account=reader.string(item, "gl_account", path, required=False, default="") or "",
        environment=environment, live_endpoint_prefix=reader.string(item, "live_endpoint_prefix", path, required=False))


def read_payments(reader: _Reader, data: dict[str, Any], store_keys: set[str]) -> PaymentsConfig:
    """``[payments]`` with its ``[[payments.accounts]]`` in file order."""
    table = reader.table(data, "payments", "payments")
    reader.unknown_keys(table, {"accounts", "poll_pending_after", "store_gl_account"}, "payments")
    seen: set[str] = set()
    accounts = []
    for path, item in reader.tables(table, "accounts"):
        account = _read_account(reader, item, f"payments.{path}", seen, store_keys)
        if account is not None:
            accounts.append(account)
    return PaymentsConfig(tuple(accounts), reader.duration(table, "poll_pending_after", "payments", 600),
                          reader.string(table, "store_gl_account", "payments", required=False, default="") or "")
