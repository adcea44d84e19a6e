"""Routing by kind × SKU/category × channel × customer tier, first match wins, decided on the real
database and stored on the case with the rule's index."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.case_config import CaseRoute, CasesConfig
from domain.core.models import Case, CaseEvent
from tests.integration.cases.conftest import open_for

FRAME, MATTRESS = "FUT-FRM-OAK-FULL", "FUT-MAT-COT-FULL"

RULES = (
    CaseRoute(queue="vip-care", owner="dana", priority="high", sla_s=4 * 3600, kind="backorder", tier="high_value"),
    CaseRoute(queue="outlet-care", sla_s=48 * 3600, kind="backorder", category="futon-mattresses",
              channel="woo-outlet"),
    CaseRoute(queue="frames-desk", owner="lee", kind="refund_request", sku=FRAME),
    CaseRoute(queue="risk", priority="urgent", sla_s=2 * 3600, kind="fraud_hold"),
    CaseRoute(queue="fulfilment", kind="backorder"),
)

#: (kind, sku, channel, tier) → (queue, owner, priority, sla hours, rule index)
TABLE = [
    ("backorder", FRAME, "shopify-main", "high_value", ("vip-care", "dana", "high", 4, 0)),
    ("backorder", MATTRESS, "woo-outlet", "high_value", ("vip-care", "dana", "high", 4, 0)),  # first match wins
    ("backorder", MATTRESS, "woo-outlet", None, ("outlet-care", None, "normal", 48, 1)),
    ("backorder", MATTRESS, "woo-outlet", "repeat", ("outlet-care", None, "normal", 48, 1)),
    ("backorder", MATTRESS, "shopify-main", None, ("fulfilment", None, "normal", 24, 4)),  # channel differs
    ("backorder", FRAME, "woo-outlet", None, ("fulfilment", None, "normal", 24, 4)),  # category differs
    ("refund_request", FRAME, "woo-outlet", "repeat", ("frames-desk", "lee", "normal", 24, 2)),
    ("refund_request", MATTRESS, "woo-outlet", None, ("ops", None, "low", 12, None)),  # defaults
    ("fraud_hold", MATTRESS, "shopify-main", "high_value", ("risk", None, "urgent", 2, 3)),
    ("chargeback", FRAME, "shopify-main", "high_value", ("ops", None, "low", 12, None)),
]


@pytest.fixture
def config(catalog: Any) -> Any:
    return dataclasses.replace(catalog, cases=CasesConfig(routes=RULES, default_queue="ops", default_priority="low",
                                                          default_sla_s=12 * 3600))


@pytest.mark.parametrize(("kind", "sku", "channel", "tier", "expected"), TABLE)
def test_routing_table(db_session: Session, config: Any, kind: str, sku: str, channel: str, tier: str | None,
                       expected: tuple[str, str | None, str, int, int | None]) -> None:
    case = open_for(db_session, config, kind=kind, sku=sku, channel=channel, tier=tier)
    db_session.commit()
    db_session.expire_all()
    stored = db_session.get(Case, case.id)
    assert stored is not None
    assert (stored.queue, stored.owner, stored.priority, stored.sla_s // 3600, stored.route_index) == expected
    assert (stored.sla_due_at - stored.created_at).total_seconds() == stored.sla_s
    [opened] = db_session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert opened.action == "opened" and opened.detail["rule_index"] == expected[4]


def test_the_same_cause_opens_one_case(db_session: Session, config: Any) -> None:
    first = open_for(db_session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main")
    again = open_for(db_session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main")
    assert again.id == first.id
    assert db_session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == first.id).offset(1)) is None
