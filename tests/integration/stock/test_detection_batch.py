"""Set-based detection: a whole batch of SKUs evaluated and alerted with a handful of statements.

The behaviour must be what one-SKU-at-a-time detection gave: one transition per change with its
audit row, one alert per transition with one message per route recipient, nothing twice.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import StockRecord
from domain.core.business_config import BusinessConfig
from domain.core.models import Alert, AuditLog, OutboxMessage, Sku, SkuTransition, Store
from domain.stock.detection import evaluate
from domain.stock.levels import record_batch
from domain.stock.transition_alerts import alerts_for_transitions

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _stock(session: Session, figures: dict[str, int]) -> list[int]:
    store_id = session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    result = record_batch(session, store_id, [  # type: ignore[arg-type]
        StockRecord(external_id=f"v-{code}", sku=code, location_external_id="655441491", available=available,
                    on_hand=available, updated_at=T0) for code, available in figures.items()])
    return result.changed_sku_ids


def test_a_batch_records_each_transition_once_with_its_audit_row(db_session: Session, catalog: BusinessConfig
                                                                  ) -> None:
    skus = {s.code: s for s in catalog.skus}
    sold_out = [code for code in skus if skus[code].threshold > 0][:3]
    healthy = [code for code in skus if code not in sold_out][:5]
    sku_ids = _stock(db_session, {**{code: 0 for code in sold_out}, **{code: 500 for code in healthy}})
    transitions = evaluate(db_session, sku_ids)
    assert sorted(t.to_state for t in transitions) == ["BACKORDER"] * 3
    stored = db_session.scalars(select(SkuTransition).order_by(SkuTransition.id)).all()
    assert [(t.id, t.sku_id, t.to_state) for t in stored] == sorted((t.id, t.sku_id, t.to_state) for t in transitions)
    audits = db_session.scalars(select(AuditLog).where(AuditLog.action == "stock.transition")).all()
    assert sorted(a.data["transition_id"] for a in audits) == sorted(t.id for t in transitions)
    audit = next(a for a in audits if a.data["transition_id"] == transitions[0].id)
    assert audit.subject_id == str(transitions[0].sku_id)
    assert audit.data["from_state"] == "IN_STOCK" and audit.data["available"] == 0
    states = dict(db_session.execute(select(Sku.code, Sku.state).where(Sku.id.in_(sku_ids))).all())
    assert {states[code] for code in sold_out} == {"BACKORDER"}
    assert {states[code] for code in healthy} == {"IN_STOCK"}
    assert evaluate(db_session, sku_ids) == [], "a second look at the same figures changes nothing"


def test_sku_objects_in_the_session_see_the_new_state(db_session: Session, catalog: BusinessConfig) -> None:
    code = next(s.code for s in catalog.skus if s.threshold > 0)
    sku = db_session.scalar(select(Sku).where(Sku.code == code))
    assert sku is not None and sku.state == "IN_STOCK"
    evaluate(db_session, _stock(db_session, {code: 0}))
    assert sku.state == "BACKORDER" and sku.state_changed_at is not None


def test_alerts_for_a_batch_fan_out_per_route_once(db_session: Session, catalog: BusinessConfig) -> None:
    skus = [s.code for s in catalog.skus if s.threshold > 0][:4]
    transitions = evaluate(db_session, _stock(db_session, dict.fromkeys(skus, 0)))
    routes = catalog.notifications.routes
    outbox_ids = alerts_for_transitions(db_session, transitions, routes)
    recipients = [r for r in routes if r.event == "stock.backorder"]
    per_alert = sum((1 if r.slack_webhook_env else 0) + len(r.emails) for r in recipients)
    assert per_alert > 0 and len(outbox_ids) == per_alert * len(transitions)
    alerts = db_session.scalars(select(Alert).order_by(Alert.id)).all()
    assert sorted(a.dedupe_key for a in alerts) == sorted(f"transition:{t.id}" for t in transitions)
    alert = next(a for a in alerts if a.sku_id == transitions[0].sku_id)
    assert alert.severity == "critical" and alert.data["to_state"] == "BACKORDER"
    assert alert.data["locations"] and alert.data["locations"][0]["available"] == 0
    shop_name = db_session.scalar(select(Store.name).where(Store.key == "shopify-main"))
    assert alert.data["channels"] == [shop_name], "the one selling store that lists it"
    messages = db_session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids))).all()
    assert {m.context["sku"] for m in messages} == set(skus)
    assert all(m.idempotency_key.startswith("alert:") and m.state == "pending" for m in messages)
    assert alerts_for_transitions(db_session, transitions, routes) == [], "the same causes alert once"
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == len(outbox_ids)
