"""One sale followed by its logs and counted by ``/metrics``.

A stock-out arrives as a Shopify webhook; the drain applies it and detects the stock-out, the
channels are pushed and staff are alerted. Every JSON log line of that chain — the receiver's,
the drain's, the inline detection's, each push's and the provider send's — carries the one
correlation id minted when the webhook was accepted, plus the store and SKU it is about. Then
``/metrics`` (behind Flower's credentials) shows the webhook, the pushes and the send counted.

Real parts only: the product's web app and a real Celery worker against real PostgreSQL and
Redis, the platforms and providers played by the sandbox over HTTP.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, InboxEvent, Sku, Store
from tests.conftest import wait_for
from tests.stack import Stack, running_stack

SKU = "FUT-FRM-OAK-FULL"
USER, PASSWORD = "ops", "metrics-secret-1"


class JsonLines(logging.Handler):
    """Every record rendered by the product's JSON formatter, parsed back."""

    def __init__(self) -> None:
        from workers.logs import formatter

        super().__init__(logging.DEBUG)
        self.setFormatter(formatter("json"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """JSON lines at INFO, plus the receiver's per-webhook lines (``webhook.received`` is logged at
    debug: one line per accepted webhook costs the receiver half its throughput at INFO)."""
    handler = JsonLines()
    root, receiver = logging.getLogger(), logging.getLogger("workers.webhooks")
    levels = root.level, receiver.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    receiver.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        receiver.setLevel(levels[1])


@pytest.fixture
def stack(services: dict[str, str], db_session: Session, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[Stack]:
    monkeypatch.setenv("FLOWER_BASIC_AUTH", f"{USER}:{PASSWORD}")
    with running_stack(db_session, monkeypatch, tmp_path, {"shopify", "woocommerce"}) as running:
        yield running


def _settled(session: Session) -> bool:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.state == "pending")) == 0


def _slack(sandbox: str) -> list[dict[str, Any]]:
    return requests.get(f"{sandbox}/_sandbox/messaging/messages", params={"provider": "slack"},
                        timeout=5).json()["messages"]


def _sell_out(stack: Stack, db_session: Session) -> int:
    """Poll both stores (the chain's starting figures), then sell the SKU out on Shopify; returns
    the SKU's id once the channels are pushed and staff alerted."""
    from tasks.polling import poll_store

    for store in stack.config.stores:
        poll_store.delay(db_session.scalar(select(Store.id).where(Store.key == store.key)), True)
    wait_for(lambda: db_session.expire_all() or all(db_session.scalars(select(Store.last_full_sync_at.is_not(None)))),
             timeout_s=60)
    wait_for(lambda: _settled(db_session))
    sku_id = db_session.scalar(select(Sku.id).where(Sku.code == SKU))
    sold_out = requests.post(f"{stack.sandbox}/shopify/shopify-main/_admin/set_stock",
                             json={"sku": SKU, "available": 0}, timeout=10).json()
    assert [hook["status"] for hook in sold_out["webhooks"]] == [200]

    def pushed() -> set[str]:
        db_session.expire_all()
        return {a.data["store"] for a in db_session.scalars(select(AuditLog).where(
            AuditLog.action == "channel.push", AuditLog.subject_id == str(sku_id))) if a.data.get("backorder")}

    wait_for(lambda: pushed() == {"shopify-main", "woo-outlet"}, timeout_s=30)
    wait_for(lambda: any(SKU in json.dumps(m) for m in _slack(stack.sandbox)), timeout_s=30)
    return int(sku_id)


def _sale_chains(lines: list[dict[str, Any]]) -> set[str]:
    """Correlation ids of accepted Shopify webhooks whose chain pushed the SKU."""
    pushed = {other.get("correlation_id") for other in lines if other["event"] == "channel.pushed"
              and other.get("sku") == SKU}
    return {line["correlation_id"] for line in lines if line["event"] == "webhook.received"
            and line.get("store") == "shopify-main" and line.get("reason") == "accepted"
            and line["correlation_id"] in pushed}


def test_one_sale_is_one_correlation_id_from_the_webhook_to_the_send_and_is_counted(
        stack: Stack, celery_worker: object, db_session: Session, json_logs: JsonLines) -> None:
    _sell_out(stack, db_session)

    def sale_sent() -> list[dict[str, Any]] | None:
        """The log lines once the sale's own chain has logged a send for the SKU: another chain's
        send (a poll's) may be logged first, and the chain's own lands a moment after its delivery."""
        lines = json_logs.lines
        return lines if any(line["event"] == "outbox.sent" and line.get("sku") == SKU
                            and line.get("correlation_id") in _sale_chains(lines) for line in lines) else None

    lines = wait_for(sale_sent)
    assert isinstance(lines, list)
    [received] = [line for line in lines if line["event"] == "webhook.received"
                  and line.get("correlation_id") in _sale_chains(lines)]
    chain = [line for line in lines if line.get("correlation_id") == received["correlation_id"]]
    events = {line["event"] for line in chain}
    assert {"webhook.received", "inbox.applied", "stage", "channel.pushed", "outbox.sent"} <= events, events
    assert {line.get("task") for line in chain} >= {"tasks.inbound.drain", "tasks.notify.deliver"}

    applied = next(line for line in chain if line["event"] == "inbox.applied")
    assert applied["store"] == "shopify-main" and applied["changed_skus"] >= 1
    assert received["correlation_id"] in applied["webhook_correlation_ids"]
    detected = next(line for line in chain if line["event"] == "stage" and line["stage"] == "evaluate")
    assert detected["inline_in"] == "tasks.inbound.drain" and detected["outcome"] == "done"
    pushes = [line for line in chain if line["event"] == "channel.pushed"]
    assert {(p["store"], p["sku"], p["backorder"], p["ok"]) for p in pushes} >= {
        ("shopify-main", SKU, True, True), ("woo-outlet", SKU, True, True)}
    sent = [line for line in chain if line["event"] == "outbox.sent" and line.get("sku") == SKU]
    assert sent and all(s["provider"] and s["outbox"] and s["level"] == "info" and s["timestamp"] for s in sent)
    assert {s["provider"] for s in sent} & {"slack", "mailgun", "sendgrid"}

    other_chains = {line.get("correlation_id") for line in lines if line["event"] == "poll.done"}
    assert other_chains and received["correlation_id"] not in other_chains, "each poll starts its own chain"

    _scraped_counts_the_sale(stack)


def _sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample of Prometheus' text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _scraped_counts_the_sale(stack: Stack) -> None:
    """Counters are per process and this one ran earlier tests too: at least this sale's share."""
    url = f"{stack.web}/metrics"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=(USER, "wrong"), timeout=10).status_code == 401
    answer = requests.get(url, auth=(USER, PASSWORD), timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    body = answer.text
    assert _sample(body, "backorders_webhooks_accepted_total", store="shopify-main", outcome="accepted") >= 1
    assert _sample(body, "backorders_inbox_drained_total", store="shopify-main") >= 1
    assert _sample(body, "backorders_inbox_drain_lag_seconds_count", store="shopify-main") >= 1
    assert _sample(body, "backorders_polls_total", store="shopify-main", outcome="done") >= 1
    assert _sample(body, "backorders_poll_records_total", store="shopify-main", kind="full") >= 30
    assert _sample(body, "backorders_channel_pushes_total", store="woo-outlet", outcome="ok") >= 1
    assert _sample(body, "backorders_sends_total", provider="slack", outcome="sent") >= 1
    assert _sample(body, "backorders_rows_up") == 1
    assert _sample(body, "backorders_outbox", state="sent") >= 2
    assert "backorders_timers_late" in body and "backorders_inbox_pending" in body

    signature = _sample(body, "backorders_webhooks_refused_total", store="shopify-main", reason="signature")
    refused = requests.post(f"{stack.web}/webhooks/shopify-main", data=b"{}", timeout=10,
                            headers={"X-Shopify-Hmac-Sha256": "bad", "Content-Type": "application/json"})
    assert refused.status_code == 401
    again = requests.get(url, auth=(USER, PASSWORD), timeout=10).text
    assert _sample(again, "backorders_webhooks_refused_total", store="shopify-main", reason="signature") == signature + 1
