"""The ``[shipping]`` table: shipping accounts to read (ShipStation, Flexport) and the rules that
turn a parcel's trouble into a case and a message to the customer (``domain.shipping``).

```toml
[shipping]
stuck_after_days = 4          # no carrier scan for this many days: stuck in transit
tell_customer = { stuck = true, exception = true, returned = true, split = true }

[[shipping.accounts]]
key = "shipstation-main"
provider = "shipstation"      # or "flexport"
credentials = { api_key = "SHIPSTATION_API_KEY", api_secret = "SHIPSTATION_API_SECRET" }
webhook_secret_env = "SHIPSTATION_WEBHOOK_TOKEN"
poll_interval = "10m"
```

Credentials are environment variable names, as for stores; problems are reported with their key
path like the rest of the file (``domain.core.business_config``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from domain.core.business_config import _Reader

#: What the customer may be told about, each switchable (``tell_customer``).
TELL_KINDS = ("stuck", "exception", "returned", "split")
DEFAULT_STUCK_AFTER_DAYS = 4
DEFAULT_BASE_URLS = {"shipstation": "https://ssapi.shipstation.com", "flexport": "https://api.flexport.com"}
ACCOUNT_KEYS = {"key", "provider", "base_url", "credentials", "webhook_secret_env", "poll_interval", "options",
                "enabled", "stuck_after_days"}


@dataclass(frozen=True)
class ShippingAccountConfig:
    key: str
    provider: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict)
    webhook_secret_env: str | None = None
    poll_interval_s: int = 600
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    #: This account's own stuck threshold (freight crosses oceans for weeks without a milestone).
    stuck_after_days: int | None = None


@dataclass(frozen=True)
class ShippingConfig:
    accounts: tuple[ShippingAccountConfig, ...] = ()
    stuck_after_days: int = DEFAULT_STUCK_AFTER_DAYS
    tell_customer: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(TELL_KINDS, True))

    def tells(self, kind: str) -> bool:
        return self.tell_customer.get(kind, False)

    def account(self, key: str) -> ShippingAccountConfig | None:
        return next((account for account in self.accounts if account.key == key), None)

    def stuck_days(self, key: str | None) -> int:
        """The account's own ``stuck_after_days`` when it sets one, else ``[shipping]``'s."""
        account = self.account(key) if key else None
        return account.stuck_after_days if account and account.stuck_after_days else self.stuck_after_days


def read_shipping(reader: _Reader, data: dict[str, Any]) -> ShippingConfig:
    """``[shipping]`` with ``stuck_after_days``, ``tell_customer`` (a table of :data:`TELL_KINDS`, or
    one true/false for all) and ``[[shipping.accounts]]``."""
    table = reader.table(data, "shipping", "shipping")
    reader.unknown_keys(table, {"stuck_after_days", "tell_customer", "accounts"}, "shipping")
    days = reader.integer(table, "stuck_after_days", "shipping", default=DEFAULT_STUCK_AFTER_DAYS, minimum=1)
    tell = dict.fromkeys(TELL_KINDS, True)
    raw = table.get("tell_customer", True)
    if isinstance(raw, bool):
        tell = dict.fromkeys(TELL_KINDS, raw)
    elif isinstance(raw, dict):
        reader.unknown_keys(raw, set(TELL_KINDS), "shipping.tell_customer")
        tell.update({kind: reader.boolean(raw, kind, "shipping.tell_customer", True) for kind in TELL_KINDS})
    else:
        reader.problem("shipping.tell_customer", f"expected true, false or a table of {', '.join(TELL_KINDS)}")
    return ShippingConfig(accounts=_accounts(reader, table), stuck_after_days=days or DEFAULT_STUCK_AFTER_DAYS,
                          tell_customer=tell)


def _accounts(reader: _Reader, table: dict[str, Any]) -> tuple[ShippingAccountConfig, ...]:
    from connectors.carrier_registry import shipping_providers

    seen: set[str] = set()
    out = []
    for path, item in reader.tables(table, "accounts"):
        path = "shipping." + path
        reader.unknown_keys(item, ACCOUNT_KEYS, path)
        key = reader.key(item, path, seen)
        provider = reader.string(item, "provider", path)
        if provider is not None and provider not in shipping_providers():
            reader.problem(f"{path}.provider", f"unknown shipping provider {provider!r} "
                                               f"(one of {', '.join(shipping_providers())})")
            provider = None
        base_url = reader.string(item, "base_url", path, required=False) or DEFAULT_BASE_URLS.get(provider or "", "")
        if base_url and urlsplit(base_url).scheme not in ("http", "https"):
            reader.problem(f"{path}.base_url", f"expected an http(s) URL, got {base_url!r}")
        credentials = {name: env for name, env in reader.table(item, "credentials", f"{path}.credentials").items()
                       if reader.env_name(env, f"{path}.credentials.{name}")}
        secret_env = item.get("webhook_secret_env")
        if secret_env is not None:
            secret_env = reader.env_name(secret_env, f"{path}.webhook_secret_env")
        interval = reader.duration(item, "poll_interval", path, 600)
        options = reader.table(item, "options", f"{path}.options")
        enabled = reader.boolean(item, "enabled", path, True)
        stuck = reader.integer(item, "stuck_after_days", path, default=0, minimum=1) if "stuck_after_days" in item \
            else None
        if key and provider:
            out.append(ShippingAccountConfig(
                key=key, provider=provider, base_url=base_url, credentials=credentials, webhook_secret_env=secret_env,
                poll_interval_s=interval, options=options, enabled=enabled, stuck_after_days=stuck or None))
    return tuple(out)
