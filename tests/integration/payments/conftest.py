"""The example business file on every stand-in (its payment accounts on the Stripe, Adyen and
PayPal stand-ins), the product's web app served over HTTP for provider webhooks, and helpers that
make a paid order and an approved refund decision."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord
from demo import scenario
from domain.core.business_config import BusinessConfig, load_config
from domain.core.models import RefundExecution, Store
from sandbox.server import SandboxServer
from tests.conftest import REPO_ROOT

ACCOUNTS = {"stripe": "stripe-main", "adyen": "adyen-eu", "paypal": "paypal"}
#: The WooCommerce payment method id each account is named for in the example file.
METHODS = {"stripe": "stripe", "adyen": "adyen_card", "paypal": "ppcp-gateway"}
PROVIDERS = tuple(ACCOUNTS)


@dataclass
class Payments:
    sandbox: str
    web: str
    config: BusinessConfig
    session: Session

    def admin(self, provider: str) -> str:
        return f"{self.sandbox}/{provider}/{ACCOUNTS[provider]}/_admin"

    def post(self, provider: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = requests.post(f"{self.admin(provider)}/{path}", json=body or {}, timeout=15)
        answer.raise_for_status()
        return answer.json()

    def get(self, provider: str, path: str, **params: Any) -> Any:
        answer = requests.get(f"{self.admin(provider)}/{path}", params=params, timeout=15)
        answer.raise_for_status()
        return answer.json()

    def refunds_created(self, provider: str) -> int:
        """Counted inside the stand-in's refund-creating code, not from its answers."""
        return int(self.get(provider, "state/counts")["refunds_created"])

    def refund_requests(self, provider: str) -> list[dict[str, Any]]:
        part = {"stripe": "/v1/refunds", "adyen": "/refunds", "paypal": "/refund"}[provider]
        return [r for r in self.get(provider, "requests", method="POST", path_contains=part)["requests"]
                if r["path"].endswith(part.split("/")[-1])]

    def payment(self, provider: str, cents: int) -> str:
        """A captured payment at the provider; its reference as the order's store reports it."""
        if provider == "stripe":
            return str(self.post("stripe", "charges", {"amount": cents})["payment_intent"])
        if provider == "adyen":
            return str(self.post("adyen", "payments", {"value": cents})["pspReference"])
        return str(self.post("paypal", "captures", {"value": f"{cents / 100:.2f}"})["capture"])

    def paid_order(self, provider: str, number: int, cents: int = 20000) -> int:
        """A WooCommerce outlet order paid through the provider (its payment method and reference)."""
        from domain.stock.orders import record_orders

        store_id = self.session.scalar(select(Store.id).where(Store.key == "woo-outlet"))
        reference = self.payment(provider, cents)
        [order_id] = record_orders(self.session, store_id, [OrderRecord(  # type: ignore[arg-type]
            external_id=str(number), number=str(number), placed_at=datetime(2026, 11, 20, tzinfo=UTC),
            email=f"c{number}@example.com", phone=None, customer_name="Ana Lima", total_cents=cents,
            lines=[OrderLineRecord(external_id=f"{number}-1", sku=None, quantity=1, price_cents=cents,
                                   title="Oak futon frame")],
            payment_method=METHODS[provider], payment_ref=reference)]).order_ids
        self.session.commit()
        return order_id

    def decide(self, order_id: int, cents: int = 12000, request_id: str = "T-1", reason: str = "defective") -> int:
        """An approved decision (``within policy``) and its planned execution; the execution id."""
        from domain.core.clock import utcnow
        from domain.core.models import Order
        from domain.payments import executions
        from domain.policy import refunds as policy

        order = self.session.get(Order, order_id)
        assert order is not None
        decided = policy.decide(self.session, self.config, order, reason, cents, request_id)
        assert decided.row.decision in ("approve", "credit"), decided.row.rule_name
        executions.plan(self.session, self.config, decided.row, utcnow())
        self.session.commit()
        row = self.session.scalar(select(RefundExecution).where(RefundExecution.decision_id == decided.row.id))
        assert row is not None
        return row.id

    def execution(self, execution_id: int) -> RefundExecution:
        self.session.expire_all()
        row = self.session.get(RefundExecution, execution_id)
        assert row is not None
        return row


@pytest.fixture
def payments(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Payments]:
    from domain.core.env_settings import get_settings
    from domain.stock.catalog import apply_config

    with SandboxServer() as sandbox:
        for key, value in scenario.sandbox_env(sandbox.base_url).items():
            monkeypatch.setenv(key, value)
        path = tmp_path / "store.toml"
        path.write_text(scenario.sandbox_config_text(REPO_ROOT / "examples" / "futon-store.toml", sandbox.base_url,
                                                     {"shopify", "woocommerce"}))
        monkeypatch.setenv("BACKORDERS_CONFIG", str(path))
        get_settings.cache_clear()
        config = load_config(path)
        apply_config(db_session, config)  # type: ignore[arg-type]
        db_session.commit()
        from workers.web import create_app

        with SandboxServer(app=create_app(), health_path="/readyz") as web:
            monkeypatch.setenv("PUBLIC_BASE_URL", web.base_url)
            world = Payments(sandbox.base_url, web.base_url, config, db_session)
            for provider, account in ACCOUNTS.items():
                world.post(provider, "webhook_endpoints", {
                    "url": f"{web.base_url}/webhooks/payments/{account}", "secret": {"stripe": "whsec_sandbox"}.get(
                        provider, ""), "webhook_id": "WH-SANDBOX-1"})
            yield world
    get_settings.cache_clear()
