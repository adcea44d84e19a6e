"""The ops console's case queues on the real database: per queue the counts by state and priority,
the late ones and the oldest match the cases; each case's page shows its playbook, reasons and
history; both pages answer only with the console's credentials."""
from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import console
from domain.cases import lifecycle
from domain.core.clock import utcnow
from domain.core.env_settings import get_settings
from domain.core.models import Case
from tests.integration.cases.conftest import open_for

FRAME = "FUT-FRM-OAK-FULL"
USER, PASSWORD = "ops", "queue-test-password"


def seed(session: Session, config: Any) -> dict[str, Case]:
    """Seven cases in four queues (the example's routes): open, in progress, waiting, resolved, one
    past due whose timer has not fired yet, one whose SLA was breached."""
    now = utcnow()
    made = {
        "fraud_open": open_for(session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main", subject_id=1),
        "fraud_taken": open_for(session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main", subject_id=2),
        "fraud_done": open_for(session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main", subject_id=3),
        "backorder_due": open_for(session, config, kind="backorder", sku=FRAME, channel="shopify-main", subject_id=4),
        "backorder_waiting": open_for(session, config, kind="backorder", sku=FRAME, channel="shopify-main",
                                      subject_id=5),
        "vip_breached": open_for(session, config, kind="backorder", sku=FRAME, channel="shopify-main",
                                 tier="high_value", subject_id=6),
        "refund": open_for(session, config, kind="refund_request", sku=FRAME, channel="woo-outlet", subject_id=7),
    }
    lifecycle.assign(session, made["fraud_taken"].id, "sam", actor="dana")
    lifecycle.resolve(session, made["fraud_done"].id, "verified by phone", actor="sam")
    lifecycle.move(session, made["backorder_waiting"], "waiting", actor="journey")
    made["backorder_due"].sla_due_at = now - timedelta(hours=1)
    made["backorder_due"].created_at = now - timedelta(days=2)
    made["vip_breached"].sla_breached_at = now - timedelta(minutes=10)
    lifecycle.record(session, made["fraud_open"], "fraud", "note", note="re-scored: 60 (review) → 65 (review)",
                     reasons=["AVS N: street and postal code do not match (+30)", "velocity <script>x</script> (+35)"])
    session.commit()
    return made


def test_queue_counts_match_the_cases(db_session: Session, journey_settings: Any) -> None:
    made = seed(db_session, journey_settings.config)
    data = console.case_queues(db_session, utcnow())
    queues = {q["queue"]: q for q in data["queues"]}
    unresolved = [c for c in db_session.scalars(select(Case)) if c.state != "resolved"]
    assert {q: row["total"] for q, row in queues.items()} == dict(Counter(c.queue for c in unresolved))
    assert {q: {s: n for s, n in row["by_state"].items() if n} for q, row in queues.items()} == {
        "risk": {"open": 1, "in_progress": 1}, "fulfilment": {"open": 1, "waiting": 1},
        "vip-care": {"open": 1}, "ops": {"open": 1}}
    assert {q: {p: n for p, n in row["by_priority"].items() if n} for q, row in queues.items()} == {
        "risk": {"urgent": 2}, "fulfilment": {"normal": 2}, "vip-care": {"high": 1}, "ops": {"normal": 1}}
    assert {q: row["late"] for q, row in queues.items()} == {"risk": 0, "fulfilment": 1, "vip-care": 1, "ops": 0}
    assert queues["fulfilment"]["oldest"]["id"] == made["backorder_due"].id
    assert queues["fulfilment"]["oldest"]["age_s"] >= 2 * 86400 - 60
    assert (data["total"], data["late"]) == (6, 2)
    assert data["by_state"] == {"open": 4, "in_progress": 1, "waiting": 1}
    listed = {c["id"]: c for c in data["cases"]}
    assert made["fraud_done"].id not in listed and len(listed) == 6
    assert [c["priority"] for c in data["cases"]][:2] == ["urgent", "urgent"], "most urgent first"
    assert {i for i, c in listed.items() if c["late"]} == {made["backorder_due"].id, made["vip_breached"].id}
    assert data["queues"][0]["late"] == 1, "queues with late cases come first"


def test_a_case_page_has_its_reasons_playbook_and_history(db_session: Session, journey_settings: Any) -> None:
    made = seed(db_session, journey_settings.config)
    page = console.case_page(db_session, made["fraud_open"].id, journey_settings.config.cases)
    assert page is not None and page["late"] is False
    assert page["reasons"][0] == "AVS N: street and postal code do not match (+30)"
    assert page["playbook"][0] == "Review the fraud signals and the customer's prior orders"
    assert [e["action"] for e in page["history"]] == ["opened", "note"]
    assert page["commands"][0] == f"backorders cases assign {made['fraud_open'].id} OWNER"
    assert console.case_page(db_session, 9999, journey_settings.config.cases) is None
    late = console.case_page(db_session, made["backorder_due"].id, journey_settings.config.cases)
    assert late is not None and late["late"] is True


@pytest.fixture
def client(services: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from workers.web import create_app

    monkeypatch.setenv("FLOWER_BASIC_AUTH", f"{USER}:{PASSWORD}")
    get_settings.cache_clear()
    try:
        yield TestClient(create_app())
    finally:
        get_settings.cache_clear()


def _auth(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_the_pages_answer_with_the_credentials_only(client: TestClient, db_session: Session,
                                                    journey_settings: Any) -> None:
    made = seed(db_session, journey_settings.config)
    case_id = made["fraud_open"].id
    for path in ("/console/cases", f"/console/cases/{case_id}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=_auth(password="wrong")).status_code == 401
    queues = client.get("/console/cases", headers=_auth())
    assert queues.status_code == 200 and queues.headers["Cache-Control"] == "no-store"
    assert 'data-queue="fulfilment" data-total="2"' in queues.text
    assert f'<a href="/console/cases/{case_id}">#{case_id}</a>' in queues.text
    assert "<script" not in queues.text and "<form" not in queues.text, "read-only, nothing to run"
    page = client.get(f"/console/cases/{case_id}", headers=_auth())
    assert page.status_code == 200 and "Review the fraud signals" in page.text
    assert "velocity &lt;script&gt;x&lt;/script&gt; (+35)" in page.text, "reasons are escaped"
    assert client.get("/console/cases/9999", headers=_auth()).status_code == 404
    assert client.get("/console/cases/abc", headers=_auth()).status_code == 404
    assert client.get("/console/cases/abc").status_code == 401, "the credentials come first"
    overview = client.get("/console", headers=_auth())
    assert 'href="/console/cases"' in overview.text and 'data-queue="risk"' in overview.text
