"""The business set-up, read from one TOML file and validated with errors that name the key.

Everything a store's ops team tunes lives here: channels and how often to poll them, locations,
vendors, SKU rules, who hears about what, and the customer follow-up policy. Secrets are never in
the file: it names the environment variables that hold them.

``check_file`` returns every problem at once (``skus[12].vendor: unknown vendor "acme"``) so an
operator fixes the file in one pass rather than one error per run.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from domain.core.case_config import CasesConfig, read_cases
from domain.core.csat_config import CsatConfig, read_csat
from domain.core.chargeback_config import ChargebacksConfig, read_chargebacks
from domain.core.fraud_config import FraudConfig, read_fraud
from domain.core.returns_config import ReturnsConfig, read_returns
from domain.core.shipping_config import ShippingConfig, read_shipping
from domain.core.support_config import SupportConfig, read_support
from domain.core.payment_config import PaymentsConfig, read_payments
from domain.core.helpdesk_config import HelpdesksConfig, read_helpdesks

#: Platform names the product knows of. A store may only name one that has a connector
#: (``connectors.registry``); these names only tell a platform without one from a typo.
PLATFORMS = (
    "shopify", "woocommerce", "magento", "bigcommerce", "lightspeed", "netsuite", "netsuite_restlet", "odoo", "sap_b1",
    "zoho_inventory", "cin7_core", "business_central", "airtable", "salesforce_b2c",
)
EMAIL_PROVIDERS = ("mailgun", "sendgrid")
CANCEL_ACTIONS = ("refund", "store_credit")
EVENTS = ("stock.low", "stock.out", "stock.backorder", "stock.restocked", "stock.oversell_risk",
          "stock.atp_drift", "channel.push_failed", "po.needs_approval", "po.late", "message.failed",
          "digest.daily", "stock.location_low", "stock.location_out", "po.asn_mismatch",
          "po.receipt_mismatch", "vendor.scorecard", "backorder.substitute_requested",
          "merchandising.auto_cancelled", "case.opened", "case.sla_breached",
          "case.chargeback_reminder", "case.chargeback_past_due", "csat.negative", "csat.report", "return.stuck")
#: How a substitute's price difference is settled (``docs/journey.md`` §3a): a cheaper substitute is
#: always refunded the difference; a dearer one is absorbed up to the limit (``auto``), absorbed
#: (``absorb``), charged (``charge``), or left to staff (``staff``).
SUBSTITUTE_PRICE_POLICIES = ("auto", "absorb", "charge", "staff")
DURATION_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class ConfigError(Exception):
    """The file has problems; ``problems`` lists each with its key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LocationConfig:
    key: str
    name: str
    timezone: str = "UTC"
    #: The store whose figures are this location's record when no ERP maps it (demand is read
    #: from that one source); None: the ERP mapping it, else the first store mapping it.
    owner: str | None = None


@dataclass(frozen=True)
class StoreConfig:
    key: str
    platform: str
    name: str
    base_url: str
    credentials: dict[str, str]
    webhook_secret_env: str | None
    poll_interval_s: int
    full_sync_interval_s: int
    sells: bool
    locations: dict[str, str]
    options: dict[str, Any]
    #: Observe and alert only, write nothing to the channel (``domain.core.blocked_writes``).
    #: Default false; ``backorders stores discover`` writes ``true`` for a store it adds.
    read_only: bool = False


@dataclass(frozen=True)
class VendorConfig:
    key: str
    name: str
    email: str
    lead_time_days: int
    min_order_cents: int = 0
    min_order_units: int = 0
    case_pack: int = 1
    ack_within_hours: int = 48
    erp_store: str | None = None
    #: Daily order cut-off (business timezone): drafts close at the next one instead of ``po_window``.
    order_cutoff: time | None = None


@dataclass(frozen=True)
class SkuConfig:
    code: str
    title: str
    category: str
    price_cents: int
    cost_cents: int
    vendor: str | None
    threshold: int
    reorder_point: int
    safety_stock: int
    reorder_qty: int
    case_pack: int | None
    substitutes: tuple[str, ...]
    allow_backorder: bool
    #: Location key → this SKU's own threshold there (overrides a platform's reorder point).
    location_thresholds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteConfig:
    event: str
    slack_webhook_env: str | None
    emails: tuple[str, ...]
    #: Case events only: the route serves this case queue (None: every queue).
    queue: str | None = None


@dataclass(frozen=True)
class ScorecardSchedule:
    """When the vendor scorecard is emailed (business timezone): ``weekly`` on ``day`` 0–6 (Monday
    is 0), ``monthly`` on ``day`` 1–28, or ``off``."""

    every: str = "weekly"
    day: int = 0
    at: time = time(8, 0)


@dataclass(frozen=True)
class NotificationConfig:
    email_provider: str = "mailgun"
    #: Senders; None when the file does not set them (``domain.messaging.senders`` then falls back to the
    #: environment: ``EMAIL_FROM``, ``TWILIO_FROM``).
    from_email: str | None = None
    staff_from_email: str | None = None
    sms_from: str | None = None
    routes: tuple[RouteConfig, ...] = ()
    digest_time: time = time(8, 0)
    scorecard_schedule: ScorecardSchedule = field(default_factory=ScorecardSchedule)


@dataclass(frozen=True)
class PolicyConfig:
    reminder_after_s: int = 24 * 3600
    sla_s: int = 72 * 3600
    auto_cancel_action: str = "refund"
    consent_free_days: int = 30
    eta_slip_notice_days: int = 2
    quiet_hours: tuple[time, time] = (time(21, 0), time(8, 0))
    atp_drift_tolerance: Decimal = Decimal("0.05")
    po_window_s: int = 30 * 60
    po_auto_approve_cents: int = 100_000
    substitute_price_difference: str = "auto"
    substitute_absorb_up_to_cents: int = 2500


@dataclass(frozen=True)
class SegmentConfig:
    """A customer tier from order history, checked before the offer (first match in file order).

    A customer is in the tier when every criterion given holds: at least ``min_prior_orders``
    earlier orders under the same email, and/or a lifetime value (those orders' totals) of at
    least ``min_lifetime_value_cents``. The tier may lengthen the SLA and add a store-credit bonus
    (a percentage of the line and/or an amount) to the cancel-for-credit option.
    """

    key: str
    min_prior_orders: int | None = None
    min_lifetime_value_cents: int | None = None
    sla_extra_s: int = 0
    credit_bonus_percent: Decimal = Decimal(0)
    credit_bonus_cents: int = 0


#: What a refund rule decides (``domain.policy.refunds``): pay it, send it to a person, refuse it, or
#: settle it as an appeasement credit (store credit or a partial refund) under a monthly cap.
REFUND_DECISIONS = ("approve", "review", "deny", "credit")
CREDIT_KINDS = ("store_credit", "partial_refund")


@dataclass(frozen=True)
class RefundRuleConfig:
    """One ``[[refunds.rules]]`` entry; the first rule whose conditions all hold decides.

    Conditions (each optional): the request's ``reasons``, the customer's ``tiers`` (segment keys,
    ``"none"`` for no tier), the order's ``channels`` (store keys), an amount ``over`` (strictly
    above) and/or ``up_to`` (at most), and ``min_refunds_90d`` (the customer's refund requests in
    the last 90 days, a fraud hint). ``approve_up_to`` caps what an approval pays; a ``credit``
    pays ``credit_percent`` of the amount as ``credit_kind``, within ``monthly_cap`` per customer.
    """

    name: str
    decision: str
    reasons: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    over_cents: int | None = None
    up_to_cents: int | None = None
    min_refunds_90d: int | None = None
    approve_up_to_cents: int | None = None
    credit_kind: str = "store_credit"
    credit_percent: Decimal = Decimal(100)
    monthly_cap_cents: int | None = None


@dataclass(frozen=True)
class RefundPolicyConfig:
    """``[refunds]``: the rules in order, the fraud-hint threshold and what happens when none matches."""

    rules: tuple[RefundRuleConfig, ...] = ()
    #: This many refund requests by one customer in 90 days is shown to a reviewer as a fraud hint.
    fraud_refunds_90d: int = 3
    #: The decision when no rule matches (a person looks at it unless the file says otherwise).
    otherwise: str = "review"


@dataclass(frozen=True)
class BusinessConfig:
    name: str
    timezone: str
    locations: tuple[LocationConfig, ...]
    stores: tuple[StoreConfig, ...]
    vendors: tuple[VendorConfig, ...]
    skus: tuple[SkuConfig, ...]
    notifications: NotificationConfig
    policy: PolicyConfig
    store_policies: dict[str, PolicyConfig] = field(default_factory=dict)
    segments: tuple[SegmentConfig, ...] = ()
    refunds: RefundPolicyConfig = field(default_factory=RefundPolicyConfig)
    cases: CasesConfig = field(default_factory=CasesConfig)
    #: The satisfaction survey and its negative-answer policy (``domain.core.csat_config``).
    csat: CsatConfig = field(default_factory=CsatConfig)
    chargebacks: ChargebacksConfig = field(default_factory=ChargebacksConfig)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    shipping: ShippingConfig = field(default_factory=ShippingConfig)
    payments: PaymentsConfig = field(default_factory=PaymentsConfig)
    support: SupportConfig = field(default_factory=SupportConfig)
    helpdesks: HelpdesksConfig = field(default_factory=HelpdesksConfig)
    returns: ReturnsConfig = field(default_factory=ReturnsConfig)

    def policy_for(self, store_key: str) -> PolicyConfig:
        return self.store_policies.get(store_key, self.policy)

    def drift_tolerances(self) -> dict[str, Decimal]:
        """Store key → its ATP drift tolerance, for the stores whose policy sets one of their own."""
        return {key: policy.atp_drift_tolerance for key, policy in self.store_policies.items()
                if policy.atp_drift_tolerance != self.policy.atp_drift_tolerance}


class _Reader:
    """Walks the parsed TOML, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def unknown_keys(self, table: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(table) - allowed):
            self.problem(f"{path}.{key}" if path else key, "unknown key")

    def table(self, parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {type(value).__name__}")
            return {}
        return value

    def tables(self, parent: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        value = parent.get(key, [])
        if not isinstance(value, list):
            self.problem(key, f"expected an array of tables ([[{key}]])")
            return []
        out = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{key}[{index}]", item))
            else:
                self.problem(f"{key}[{index}]", "expected a table")
        return out

    def string(self, table: dict[str, Any], key: str, path: str, *, required: bool = True,
               default: str | None = None) -> str | None:
        if key not in table:
            if required:
                self.problem(f"{path}.{key}", "missing")
            return default
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{path}.{key}", f"expected a non-empty string, got {value!r}")
            return default
        return value

    def integer(self, table: dict[str, Any], key: str, path: str, *, default: int | None = None,
                minimum: int = 0) -> int | None:
        if key not in table:
            if default is None:
                self.problem(f"{path}.{key}", "missing")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{path}.{key}", f"expected a whole number, got {value!r}")
            return default
        if value < minimum:
            self.problem(f"{path}.{key}", f"must be at least {minimum}, got {value}")
            return default
        return value

    def boolean(self, table: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{path}.{key}", f"expected true or false, got {value!r}")
            return default
        return value

    def duration(self, table: dict[str, Any], key: str, path: str, default: int) -> int:
        """Durations read as ``"30m"``, ``"24h"``, ``"3d"`` or whole seconds."""
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        match = DURATION_PATTERN.match(value) if isinstance(value, str) else None
        if not match or int(match.group(1)) <= 0:
            self.problem(f"{path}.{key}", f"expected a duration like \"30m\", \"24h\" or \"3d\", got {value!r}")
            return default
        return int(match.group(1)) * DURATION_UNITS[match.group(2)]

    def money_cents(self, table: dict[str, Any], key: str, path: str) -> int:
        """Prices are decimal strings (``"499.00"``) or numbers of dollars; stored as cents."""
        if key not in table:
            return 0
        raw = table[key]
        try:
            if isinstance(raw, bool):
                raise InvalidOperation
            amount = Decimal(str(raw))
            if amount < 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            self.problem(f"{path}.{key}", f"expected an amount like \"499.00\", got {raw!r}")
            return 0
        return int(amount * 100)

    def clock(self, value: Any, path: str) -> time | None:
        if not isinstance(value, str) or not re.match(r"^\d{2}:\d{2}$", value):
            self.problem(path, f"expected HH:MM, got {value!r}")
            return None
        hours, minutes = int(value[:2]), int(value[3:])
        if hours > 23 or minutes > 59:
            self.problem(path, f"not a time of day: {value!r}")
            return None
        return time(hours, minutes)

    def env_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not ENV_NAME_PATTERN.match(value):
            self.problem(path, f"expected an environment variable name like SHOPIFY_TOKEN, got {value!r}")
            return None
        return value

    def timezone(self, value: Any, path: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(path, f"unknown time zone {value!r}")
            return "UTC"
        return str(value)

    def key(self, table: dict[str, Any], path: str, seen: set[str], field_name: str = "key") -> str | None:
        value = self.string(table, field_name, path)
        if value is None:
            return None
        if field_name == "key" and not KEY_PATTERN.match(value):
            self.problem(f"{path}.{field_name}", f"use lowercase letters, digits, - and _: {value!r}")
        if value in seen:
            self.problem(f"{path}.{field_name}", f"duplicate {field_name} {value!r}")
        seen.add(value)
        return value


def _read_locations(reader: _Reader, data: dict[str, Any]) -> tuple[LocationConfig, ...]:
    seen: set[str] = set()
    out = []
    for path, item in reader.tables(data, "locations"):
        reader.unknown_keys(item, {"key", "name", "timezone", "owner"}, path)
        key = reader.key(item, path, seen)
        name = reader.string(item, "name", path, required=False, default=key)
        timezone = reader.timezone(item.get("timezone", "UTC"), f"{path}.timezone")
        owner = reader.string(item, "owner", path, required=False)
        if key:
            out.append(LocationConfig(key, name or key, timezone, owner))
    if not out and "locations" not in reader.problems:
        reader.problem("locations", "at least one [[locations]] is needed")
    return tuple(out)


def _read_stores(reader: _Reader, data: dict[str, Any], location_keys: set[str]) -> tuple[StoreConfig, ...]:
    seen: set[str] = set()
    out = []
    allowed = {"key", "platform", "name", "base_url", "credentials", "webhook_secret_env", "poll_interval",
               "full_sync_interval", "sells", "locations", "options", "read_only"}
    for path, item in reader.tables(data, "stores"):
        reader.unknown_keys(item, allowed, path)
        key = reader.key(item, path, seen)
        platform = reader.string(item, "platform", path)
        if platform and _check_platform(reader, platform, f"{path}.platform"):
            _check_store(reader, platform, item, path)
        base_url = reader.string(item, "base_url", path) or ""
        if base_url and urlsplit(base_url).scheme not in ("http", "https"):
            reader.problem(f"{path}.base_url", f"expected an http(s) URL, got {base_url!r}")
        credentials: dict[str, str] = {}
        for name, env in reader.table(item, "credentials", f"{path}.credentials").items():
            if reader.env_name(env, f"{path}.credentials.{name}"):
                credentials[name] = env
        secret_env = item.get("webhook_secret_env")
        if secret_env is not None:
            secret_env = reader.env_name(secret_env, f"{path}.webhook_secret_env")
        locations: dict[str, str] = {}
        for external, ours in reader.table(item, "locations", f"{path}.locations").items():
            if ours not in location_keys:
                reader.problem(f"{path}.locations.{external}", f"unknown location {ours!r}")
            else:
                locations[str(external)] = ours
        if key and platform:
            out.append(StoreConfig(
                key=key, platform=platform, name=reader.string(item, "name", path, required=False, default=key)
                or key, base_url=base_url, credentials=credentials, webhook_secret_env=secret_env,
                poll_interval_s=reader.duration(item, "poll_interval", path, 300),
                full_sync_interval_s=reader.duration(item, "full_sync_interval", path, 86400),
                sells=reader.boolean(item, "sells", path, True), locations=locations,
                options=reader.table(item, "options", f"{path}.options"),
                read_only=reader.boolean(item, "read_only", path, False),
            ))
        _check_buffer_floor(reader, item, path)
        _check_backorder_status(reader, platform, item, path)
    return tuple(out)


def _check_platform(reader: _Reader, platform: str, path: str) -> bool:
    """A store's platform must have a connector, else every poll of it would fail."""
    from connectors.registry import available_platforms

    available = available_platforms()
    if platform in available:
        return True
    listed = ", ".join(available)
    if platform in PLATFORMS:
        reader.problem(path, f'no connector for "{platform}" (available: {listed})')
    else:
        reader.problem(path, f"unknown platform {platform!r} (available: {listed})")
    return False


def _check_store(reader: _Reader, platform: str, item: dict[str, Any], path: str) -> None:
    """What the platform's connector checks itself: the ``rest`` platform's description in
    ``options`` (``connectors.declarative_spec``), each problem under the key it names."""
    from connectors.registry import store_problems

    for key, message in store_problems(platform, item):
        reader.problem(f"{path}.{key}", message)


def _check_buffer_floor(reader: _Reader, item: dict[str, Any], path: str) -> None:
    """``options.buffer_floor``: units a store never offers on top of its sync-lag buffer."""
    options = item.get("options")
    if isinstance(options, dict) and "buffer_floor" in options:
        floor = options["buffer_floor"]
        if isinstance(floor, bool) or not isinstance(floor, int) or floor < 0:
            reader.problem(f"{path}.options.buffer_floor", f"expected a whole number ≥ 0, got {floor!r}")


def _check_backorder_status(reader: _Reader, platform: str | None, item: dict[str, Any], path: str) -> None:
    """``options.backorder_status = true``: a back office (``sells = false``) whose connector can
    write our backorder status into its item records (``Capability.BACKORDER_STATUS``)."""
    options = item.get("options")
    if not isinstance(options, dict) or "backorder_status" not in options:
        return
    from connectors.base import Capability, supports
    from connectors.registry import CONNECTORS

    key = f"{path}.options.backorder_status"
    if not isinstance(options["backorder_status"], bool):
        reader.problem(key, f"expected true or false, got {options['backorder_status']!r}")
    elif options["backorder_status"] and item.get("sells", True) is not False:
        reader.problem(key, "only a back office keeps the backorder status (set sells = false); a selling store "
                            "shows it through its own backorder mode")
    elif options["backorder_status"] and platform in CONNECTORS and not supports(
            CONNECTORS[platform], Capability.BACKORDER_STATUS):
        writers = sorted(name for name, cls in CONNECTORS.items() if supports(cls, Capability.BACKORDER_STATUS))
        reader.problem(key, f"{platform} has no place for the backorder status here (platforms that do: "
                            f"{', '.join(writers)})")


def _read_vendors(reader: _Reader, data: dict[str, Any], store_keys: set[str]) -> tuple[VendorConfig, ...]:
    seen: set[str] = set()
    out = []
    allowed = {"key", "name", "email", "lead_time_days", "min_order", "min_order_units", "case_pack",
               "ack_within_hours", "erp_store", "order_cutoff"}
    for path, item in reader.tables(data, "vendors"):
        reader.unknown_keys(item, allowed, path)
        key = reader.key(item, path, seen)
        email = reader.string(item, "email", path) or ""
        if email and not EMAIL_PATTERN.match(email):
            reader.problem(f"{path}.email", f"not an email address: {email!r}")
        erp_store = item.get("erp_store")
        if erp_store is not None and erp_store not in store_keys:
            reader.problem(f"{path}.erp_store", f"unknown store {erp_store!r}")
        lead_time = reader.integer(item, "lead_time_days", path)
        cutoff = reader.clock(item["order_cutoff"], f"{path}.order_cutoff") if "order_cutoff" in item else None
        if key and lead_time is not None:
            out.append(VendorConfig(
                key=key, name=reader.string(item, "name", path, required=False, default=key) or key,
                email=email, lead_time_days=lead_time, min_order_cents=reader.money_cents(item, "min_order", path),
                min_order_units=reader.integer(item, "min_order_units", path, default=0) or 0,
                case_pack=reader.integer(item, "case_pack", path, default=1, minimum=1) or 1,
                ack_within_hours=reader.integer(item, "ack_within_hours", path, default=48, minimum=1) or 48,
                erp_store=erp_store, order_cutoff=cutoff,
            ))
    return tuple(out)


def _read_location_thresholds(reader: _Reader, item: dict[str, Any], path: str, location_keys: set[str]
                              ) -> dict[str, int]:
    """``location_thresholds = { showroom = 2 }``: known location keys, whole numbers from 0."""
    if "location_thresholds" not in item:
        return {}
    table_path = f"{path}.location_thresholds"
    out: dict[str, int] = {}
    for location, value in reader.table(item, "location_thresholds", table_path).items():
        if location not in location_keys:
            reader.problem(f"{table_path}.{location}", f"unknown location {location!r}")
            continue
        threshold = reader.integer({location: value}, location, table_path)
        if threshold is not None:
            out[location] = threshold
    return out


def _read_skus(reader: _Reader, data: dict[str, Any], vendor_keys: set[str],
               location_keys: set[str] | None = None) -> tuple[SkuConfig, ...]:
    seen: set[str] = set()
    out: list[SkuConfig] = []
    paths: list[str] = []
    allowed = {"code", "title", "category", "price", "cost", "vendor", "threshold", "reorder_point",
               "safety_stock", "reorder_qty", "case_pack", "substitutes", "allow_backorder", "location_thresholds"}
    for path, item in reader.tables(data, "skus"):
        reader.unknown_keys(item, allowed, path)
        code = reader.key(item, path, seen, field_name="code")
        vendor = item.get("vendor")
        if vendor is not None and vendor not in vendor_keys:
            reader.problem(f"{path}.vendor", f"unknown vendor {vendor!r}")
        substitutes = item.get("substitutes", [])
        if not isinstance(substitutes, list) or not all(isinstance(s, str) for s in substitutes):
            reader.problem(f"{path}.substitutes", "expected a list of SKU codes")
            substitutes = []
        if code:
            paths.append(path)
            out.append(SkuConfig(
                code=code, title=reader.string(item, "title", path, required=False, default=code) or code,
                category=reader.string(item, "category", path, required=False, default="") or "",
                price_cents=reader.money_cents(item, "price", path), cost_cents=reader.money_cents(item, "cost", path),
                vendor=vendor, threshold=reader.integer(item, "threshold", path, default=0) or 0,
                reorder_point=reader.integer(item, "reorder_point", path, default=0) or 0,
                safety_stock=reader.integer(item, "safety_stock", path, default=0) or 0,
                reorder_qty=reader.integer(item, "reorder_qty", path, default=0) or 0,
                case_pack=reader.integer(item, "case_pack", path, default=0, minimum=1) if "case_pack" in item
                else None,
                substitutes=tuple(substitutes),
                allow_backorder=reader.boolean(item, "allow_backorder", path, True),
                location_thresholds=_read_location_thresholds(reader, item, path, location_keys or set()),
            ))
    for path, sku in zip(paths, out):
        for index, sub in enumerate(sku.substitutes):
            if sub not in seen:
                reader.problem(f"{path}.substitutes[{index}]", f"unknown SKU {sub!r}")
            elif sub == sku.code:
                reader.problem(f"{path}.substitutes[{index}]", "a SKU cannot substitute for itself")
    return tuple(out)


def _read_notifications(reader: _Reader, data: dict[str, Any]) -> NotificationConfig:
    table = reader.table(data, "notifications", "notifications")
    reader.unknown_keys(table, {"email_provider", "from_email", "staff_from_email", "sms_from", "routes",
                                "digest_time", "scorecard_schedule"}, "notifications")
    provider = table.get("email_provider", "mailgun")
    if provider not in EMAIL_PROVIDERS:
        reader.problem("notifications.email_provider", f"expected one of {', '.join(EMAIL_PROVIDERS)}, got {provider!r}")
        provider = "mailgun"
    for key in ("from_email", "staff_from_email"):
        if key in table and not (isinstance(table[key], str) and EMAIL_PATTERN.match(table[key])):
            reader.problem(f"notifications.{key}", f"not an email address: {table[key]!r}")
    routes = []
    for path, item in reader.tables(table, "routes"):
        path = "notifications." + path
        reader.unknown_keys(item, {"event", "slack_webhook_env", "emails", "queue"}, path)
        event = reader.string(item, "event", path)
        if event and event not in EVENTS:
            reader.problem(f"{path}.event", f"unknown event {event!r} (one of {', '.join(EVENTS)})")
        slack_env = item.get("slack_webhook_env")
        if slack_env is not None:
            slack_env = reader.env_name(slack_env, f"{path}.slack_webhook_env")
        emails = item.get("emails", [])
        if not isinstance(emails, list):
            reader.problem(f"{path}.emails", "expected a list of email addresses")
            emails = []
        for index, email in enumerate(emails):
            if not (isinstance(email, str) and EMAIL_PATTERN.match(email)):
                reader.problem(f"{path}.emails[{index}]", f"not an email address: {email!r}")
        if not slack_env and not emails:
            reader.problem(path, "a route needs slack_webhook_env or emails")
        queue = reader.string(item, "queue", path, required=False)
        if queue is not None and not (event or "").startswith("case."):
            reader.problem(f"{path}.queue", "only case events (case.*) are routed by queue")
        if event:
            routes.append(RouteConfig(event, slack_env, tuple(e for e in emails if isinstance(e, str)), queue))
    if "sms_from" in table and not (isinstance(table["sms_from"], str) and SMS_FROM_PATTERN.match(table["sms_from"])):
        reader.problem("notifications.sms_from", f"expected an E.164 number like \"+15005550006\" or a Twilio "
                                                 f"messaging service SID (MG…), got {table['sms_from']!r}")
    digest = reader.clock(table.get("digest_time", "08:00"), "notifications.digest_time") or time(8, 0)
    return NotificationConfig(
        email_provider=provider, from_email=table.get("from_email"),
        staff_from_email=table.get("staff_from_email"), sms_from=table.get("sms_from"),
        routes=tuple(routes), digest_time=digest,
        scorecard_schedule=_read_scorecard_schedule(reader, table.get("scorecard_schedule", "weekly mon 08:00")),
    )


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SMS_FROM_PATTERN = re.compile(r"^(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32})$")


def _read_scorecard_schedule(reader: _Reader, raw: Any, path: str = "notifications.scorecard_schedule"
                             ) -> ScorecardSchedule:
    """``"weekly mon 08:00"``, ``"monthly 1 08:00"`` (day 1–28, so every month has it) or ``"off"``."""
    parts = raw.split() if isinstance(raw, str) else []
    if parts == ["off"]:
        return ScorecardSchedule(every="off")
    if len(parts) == 3 and parts[0] == "weekly" and parts[1].lower() in WEEKDAYS:
        at = reader.clock(parts[2], path)
        return ScorecardSchedule("weekly", WEEKDAYS.index(parts[1].lower()), at) if at else ScorecardSchedule()
    if len(parts) == 3 and parts[0] == "monthly" and parts[1].isdigit() and 1 <= int(parts[1]) <= 28:
        at = reader.clock(parts[2], path)
        return ScorecardSchedule("monthly", int(parts[1]), at) if at else ScorecardSchedule()
    reader.problem(path, f"expected \"weekly mon 08:00\", \"monthly 1 08:00\" (day 1-28) or \"off\", got {raw!r}")
    return ScorecardSchedule()


#: Policy keys that cannot differ by store: a purchase order serves every channel at once.
BUSINESS_WIDE_POLICY_KEYS = frozenset({"po_window", "po_auto_approve_under"})


def _read_policy(reader: _Reader, table: dict[str, Any], path: str, base: PolicyConfig) -> PolicyConfig:
    reader.unknown_keys(table, {"reminder_after", "sla", "auto_cancel_action", "consent_free_days",
                                "eta_slip_notice_days", "quiet_hours", "atp_drift_tolerance", "po_window",
                                "po_auto_approve_under", "store", "substitute_price_difference",
                                "substitute_absorb_up_to"}, path)
    price_rule = table.get("substitute_price_difference", base.substitute_price_difference)
    if price_rule not in SUBSTITUTE_PRICE_POLICIES:
        reader.problem(f"{path}.substitute_price_difference",
                       f"expected one of {', '.join(SUBSTITUTE_PRICE_POLICIES)}, got {price_rule!r}")
        price_rule = base.substitute_price_difference
    action = table.get("auto_cancel_action", base.auto_cancel_action)
    if action not in CANCEL_ACTIONS:
        reader.problem(f"{path}.auto_cancel_action", f"expected one of {', '.join(CANCEL_ACTIONS)}, got {action!r}")
        action = base.auto_cancel_action
    quiet = base.quiet_hours
    if "quiet_hours" in table:
        raw = table["quiet_hours"]
        parts = raw.split("-") if isinstance(raw, str) else []
        if len(parts) != 2:
            reader.problem(f"{path}.quiet_hours", f"expected \"21:00-08:00\", got {raw!r}")
        else:
            start = reader.clock(parts[0].strip(), f"{path}.quiet_hours")
            end = reader.clock(parts[1].strip(), f"{path}.quiet_hours")
            if start and end:
                quiet = (start, end)
    tolerance = base.atp_drift_tolerance
    if "atp_drift_tolerance" in table:
        try:
            tolerance = Decimal(str(table["atp_drift_tolerance"]))
            if not Decimal(0) <= tolerance < Decimal(1):
                raise InvalidOperation
        except InvalidOperation:
            reader.problem(f"{path}.atp_drift_tolerance", "expected a fraction between 0 and 1, e.g. 0.05")
            tolerance = base.atp_drift_tolerance
    reminder = reader.duration(table, "reminder_after", path, base.reminder_after_s)
    sla = reader.duration(table, "sla", path, base.sla_s)
    if reminder >= sla:
        reader.problem(f"{path}.reminder_after", "the reminder must come before the SLA deadline")
    return PolicyConfig(
        reminder_after_s=reminder, sla_s=sla, auto_cancel_action=action,
        consent_free_days=reader.integer(table, "consent_free_days", path, default=base.consent_free_days,
                                         minimum=1) or base.consent_free_days,
        eta_slip_notice_days=reader.integer(table, "eta_slip_notice_days", path,
                                            default=base.eta_slip_notice_days) or 0,
        quiet_hours=quiet, atp_drift_tolerance=tolerance,
        po_window_s=reader.duration(table, "po_window", path, base.po_window_s),
        po_auto_approve_cents=reader.money_cents(table, "po_auto_approve_under", path)
        if "po_auto_approve_under" in table else base.po_auto_approve_cents,
        substitute_price_difference=price_rule,
        substitute_absorb_up_to_cents=reader.money_cents(table, "substitute_absorb_up_to", path)
        if "substitute_absorb_up_to" in table else base.substitute_absorb_up_to_cents,
    )


def _read_segments(reader: _Reader, data: dict[str, Any]) -> tuple[SegmentConfig, ...]:
    seen: set[str] = set()
    out = []
    allowed = {"key", "min_prior_orders", "min_lifetime_value", "sla_extra", "credit_bonus_percent",
               "credit_bonus"}
    for path, item in reader.tables(data, "segments"):
        reader.unknown_keys(item, allowed, path)
        key = reader.key(item, path, seen)
        if "min_prior_orders" not in item and "min_lifetime_value" not in item:
            reader.problem(path, "a segment needs min_prior_orders or min_lifetime_value")
        percent = Decimal(0)
        if "credit_bonus_percent" in item:
            raw = item["credit_bonus_percent"]
            try:
                if isinstance(raw, bool):
                    raise InvalidOperation
                percent = Decimal(str(raw))
                if not Decimal(0) <= percent <= Decimal(100):
                    raise InvalidOperation
            except InvalidOperation:
                reader.problem(f"{path}.credit_bonus_percent",
                               f"expected a percentage from 0 to 100, got {raw!r}")
                percent = Decimal(0)
        if key:
            out.append(SegmentConfig(
                key=key,
                min_prior_orders=reader.integer(item, "min_prior_orders", path, default=0, minimum=1)
                if "min_prior_orders" in item else None,
                min_lifetime_value_cents=reader.money_cents(item, "min_lifetime_value", path)
                if "min_lifetime_value" in item else None,
                sla_extra_s=reader.duration(item, "sla_extra", path, 0),
                credit_bonus_percent=percent,
                credit_bonus_cents=reader.money_cents(item, "credit_bonus", path),
            ))
    return tuple(out)


def _string_list(reader: _Reader, item: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    """A list of non-empty strings (or one string), e.g. ``reasons = ["defective", "damaged"]``."""
    raw = item.get(key, [])
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        reader.problem(f"{path}.{key}", f"expected a list of names, got {raw!r}")
        return ()
    return tuple(v.strip() for v in values)


def _read_refund_rule(reader: _Reader, item: dict[str, Any], path: str, seen: set[str]) -> RefundRuleConfig | None:
    allowed = {"name", "decision", "reasons", "tiers", "channels", "over", "up_to", "min_refunds_90d",
               "approve_up_to", "credit_kind", "credit_percent", "monthly_cap"}
    reader.unknown_keys(item, allowed, path)
    name = reader.key(item, path, seen, field_name="name")
    decision = reader.string(item, "decision", path)
    if decision is not None and decision not in REFUND_DECISIONS:
        reader.problem(f"{path}.decision", f"expected one of {', '.join(REFUND_DECISIONS)}, got {decision!r}")
        decision = None
    credit_kind = reader.string(item, "credit_kind", path, required=False, default="store_credit") or "store_credit"
    if credit_kind not in CREDIT_KINDS:
        reader.problem(f"{path}.credit_kind", f"expected one of {', '.join(CREDIT_KINDS)}, got {credit_kind!r}")
    percent = Decimal(100)
    if "credit_percent" in item:
        raw = item["credit_percent"]
        try:
            if isinstance(raw, bool):
                raise InvalidOperation
            percent = Decimal(str(raw))
            if not Decimal(0) < percent <= Decimal(100):
                raise InvalidOperation
        except InvalidOperation:
            reader.problem(f"{path}.credit_percent", f"expected a percentage above 0 up to 100, got {raw!r}")
            percent = Decimal(100)
    if decision != "credit":
        for key in sorted({"credit_kind", "credit_percent", "monthly_cap"} & set(item)):
            reader.problem(f"{path}.{key}", 'only a decision = "credit" rule takes it')
    if decision != "approve" and "approve_up_to" in item:
        reader.problem(f"{path}.approve_up_to", 'only a decision = "approve" rule takes it')

    def money(key: str) -> int | None:
        return reader.money_cents(item, key, path) if key in item else None

    over, up_to = money("over"), money("up_to")
    if over is not None and up_to is not None and up_to <= over:
        reader.problem(f"{path}.up_to", "must be above over")
    rule = RefundRuleConfig(
        name=name or "", decision=decision or "review",
        reasons=_string_list(reader, item, "reasons", path), tiers=_string_list(reader, item, "tiers", path),
        channels=_string_list(reader, item, "channels", path), over_cents=over, up_to_cents=up_to,
        min_refunds_90d=reader.integer(item, "min_refunds_90d", path, default=0, minimum=1)
        if "min_refunds_90d" in item else None,
        approve_up_to_cents=money("approve_up_to"), credit_kind=credit_kind, credit_percent=percent,
        monthly_cap_cents=money("monthly_cap"))
    return rule if name and decision else None


def read_refunds(reader: _Reader, data: dict[str, Any]) -> RefundPolicyConfig:
    """``[refunds]`` with its ``[[refunds.rules]]`` in file order (``domain.policy.refunds``)."""
    table = reader.table(data, "refunds", "refunds")
    reader.unknown_keys(table, {"rules", "fraud_refunds_90d", "otherwise"}, "refunds")
    otherwise = reader.string(table, "otherwise", "refunds", required=False, default="review") or "review"
    if otherwise not in ("review", "deny"):
        reader.problem("refunds.otherwise", f"expected review or deny, got {otherwise!r}")
        otherwise = "review"
    seen: set[str] = set()
    rules = []
    for path, item in reader.tables(table, "rules"):
        rule = _read_refund_rule(reader, item, f"refunds.{path}", seen)
        if rule is not None:
            rules.append(rule)
    return RefundPolicyConfig(
        rules=tuple(rules), otherwise=otherwise,
        fraud_refunds_90d=reader.integer(table, "fraud_refunds_90d", "refunds", default=3, minimum=1) or 3)


def parse_refunds(data: dict[str, Any]) -> RefundPolicyConfig:
    """Only the ``[refunds]`` section of parsed TOML (a what-if rule file); ConfigError if not valid."""
    reader = _Reader()
    policy = read_refunds(reader, data)
    if reader.problems:
        raise ConfigError(reader.problems)
    return policy


def _check_location_owners(reader: _Reader, locations: tuple[LocationConfig, ...],
                           stores: tuple[StoreConfig, ...]) -> None:
    """A location's ``owner`` names a store that maps it; where an ERP maps the location the ERP
    is its record (the back office books every movement), so the owner must then be that ERP."""
    for index, location in enumerate(locations):
        if location.owner is None:
            continue
        path = f"locations[{index}].owner"
        mapping = [store for store in stores if location.key in store.locations.values()]
        owner = next((store for store in stores if store.key == location.owner), None)
        erps = [store.key for store in mapping if not store.sells]
        if owner is None:
            reader.problem(path, f"unknown store {location.owner!r}")
        elif owner not in mapping:
            reader.problem(path, f"store {location.owner!r} does not map location {location.key!r} "
                                 "(add it to the store's locations)")
        elif erps and owner.key not in erps:
            reader.problem(path, f"the ERP {erps[0]!r} maps location {location.key!r} and is its record; "
                                 "name it or leave owner out")


def parse_store(table: dict[str, Any], location_keys: set[str]) -> StoreConfig:
    """One ``[[stores]]`` table checked on its own (``backorders stores discover`` reaches a store
    before the file has the locations and SKUs a whole check requires); ConfigError if not valid."""
    reader = _Reader()
    stores = _read_stores(reader, {"stores": [table]}, location_keys)
    if reader.problems or not stores:
        raise ConfigError(reader.problems or ["stores[0]: not a store"])
    return stores[0]


def parse_config(data: dict[str, Any]) -> BusinessConfig:
    """Validate parsed TOML; raise ConfigError listing every problem."""
    reader = _Reader()
    reader.unknown_keys(data, {"business", "locations", "stores", "vendors", "skus", "notifications", "policy",
                               "store_policies", "segments", "refunds", "cases", "chargebacks", "fraud", "shipping",
                               "payments", "support", "helpdesks", "csat", "returns"}, "")
    business = reader.table(data, "business", "business")
    reader.unknown_keys(business, {"name", "timezone"}, "business")
    name = reader.string(business, "name", "business") or ""
    timezone = reader.timezone(business.get("timezone", "UTC"), "business.timezone")
    locations = _read_locations(reader, data)
    stores = _read_stores(reader, data, {loc.key for loc in locations})
    store_keys = {store.key for store in stores}
    _check_location_owners(reader, locations, stores)
    vendors = _read_vendors(reader, data, store_keys)
    skus = _read_skus(reader, data, {vendor.key for vendor in vendors}, {loc.key for loc in locations})
    notifications = _read_notifications(reader, data)
    policy = _read_policy(reader, reader.table(data, "policy", "policy"), "policy", PolicyConfig())
    store_policies = {}
    for path, item in reader.tables(data, "store_policies"):
        store = item.get("store")
        if store not in store_keys:
            reader.problem(f"{path}.store", f"unknown store {store!r}")
            continue
        for key in sorted(BUSINESS_WIDE_POLICY_KEYS & set(item)):
            reader.problem(f"{path}.{key}", "purchase orders are per vendor, not per store: set it under [policy] "
                                            "(or a vendor's order_cutoff)")
        store_policies[store] = _read_policy(reader, item, path, policy)
    segments = _read_segments(reader, data)
    refunds = read_refunds(reader, data)
    for index, rule in enumerate(refunds.rules):
        for channel in rule.channels:
            if channel not in store_keys:
                reader.problem(f"refunds.rules[{index}].channels", f"unknown store {channel!r}")
        for tier in rule.tiers:
            if tier != "none" and tier not in {segment.key for segment in segments}:
                reader.problem(f"refunds.rules[{index}].tiers", f"unknown segment {tier!r} (or \"none\")")
    cases = read_cases(reader, data, store_keys=store_keys, sku_codes={sku.code for sku in skus},
                       categories={sku.category for sku in skus}, tiers={segment.key for segment in segments})
    chargebacks = read_chargebacks(reader, data)
    fraud = read_fraud(reader, data)
    shipping = read_shipping(reader, data)
    payments = read_payments(reader, data, store_keys)
    support = read_support(reader, data)
    helpdesks = read_helpdesks(reader, data)
    csat = read_csat(reader, data)
    returns = read_returns(reader, data, locations={loc.key for loc in locations},
                           shipping_accounts={account.key: account.provider for account in shipping.accounts},
                           sku_codes={sku.code for sku in skus})
    if reader.problems:
        raise ConfigError(reader.problems)
    return BusinessConfig(name=name, timezone=timezone, locations=locations, stores=stores, vendors=vendors,
                          skus=skus, notifications=notifications, policy=policy,
                          store_policies=store_policies, segments=segments, refunds=refunds,
                          cases=cases, chargebacks=chargebacks, fraud=fraud,
                          shipping=shipping, payments=payments, support=support, helpdesks=helpdesks, csat=csat, returns=returns)


def load_config(path: Path | str) -> BusinessConfig:
    """Read and validate a config file; unreadable or unparsable files are reported as problems too."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from exc
    return parse_config(data)


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> BusinessConfig:
    return load_config(path)


def current_config() -> BusinessConfig:
    """The configuration named by ``BACKORDERS_CONFIG``, re-read when the file changes."""
    from domain.core.env_settings import get_settings

    path = get_settings().config_file
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    return _cached(str(path), mtime)
