"""A "not received" packet reads the shipments the shipping part recorded (``shipments`` and their
``tracking_events``), not a lookup someone has to wire: carrier, tracking, ship date and the
delivered scan come from the carrier's own rows; a voided label is not evidence."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from domain.chargebacks.shipment_evidence import delivery_text, facts_from, recorded_shipments
from domain.chargebacks.sources import Fact, Gap
from domain.core.clock import utcnow
from domain.core.models import Shipment, ShippingAccount, TrackingEvent
from tests.integration.chargebacks.conftest import make_order


def test_the_recorded_delivered_scan_is_the_delivery_proof(db_session: Session, catalog: object) -> None:
    order = make_order(db_session, "#7001", "ch_7001")
    account = ShippingAccount(key="shipstation-main", provider="shipstation")
    db_session.add(account)
    db_session.flush()
    shipped = utcnow() - timedelta(days=6)
    delivered_at = shipped + timedelta(days=3)
    parcel = Shipment(account_id=account.id, external_id="lbl-1", order_id=order.id, order_number=order.number,
                      carrier="ups", tracking_number="1Z999", status="delivered", shipped_at=shipped,
                      delivered_at=delivered_at)
    voided = Shipment(account_id=account.id, external_id="lbl-0", order_id=order.id, order_number=order.number,
                      carrier="fedex", tracking_number="VOID-1", status="voided", shipped_at=shipped)
    db_session.add_all([parcel, voided])
    db_session.flush()
    db_session.add_all([
        TrackingEvent(shipment_id=parcel.id, event_key="e1", status="in_transit", occurred_at=shipped,
                      description="Departed facility", location="Newark NJ"),
        TrackingEvent(shipment_id=parcel.id, event_key="e2", status="delivered", occurred_at=delivered_at,
                      description="Delivered, front door", location="Brooklyn NY 11201")])
    db_session.flush()

    [found] = recorded_shipments(db_session, order.id)
    assert (found.carrier, found.tracking_number, found.shipped_at) == ("ups", "1Z999", shipped)
    assert delivery_text(found) == (f"delivered {delivered_at:%Y-%m-%d %H:%M} UTC "
                                    "(Delivered, front door, Brooklyn NY 11201)")
    facts = facts_from([found])
    assert isinstance(facts["tracking_number"], Fact) and facts["tracking_number"].text == "1Z999"
    assert isinstance(facts["delivery_proof"], Fact)


def test_no_recorded_shipment_is_named_as_the_gap(db_session: Session, catalog: object) -> None:
    order = make_order(db_session, "#7002", "ch_7002")
    assert recorded_shipments(db_session, order.id) == []
    gaps = facts_from(recorded_shipments(db_session, order.id))
    assert all(isinstance(g, Gap) and g.why == "no shipment is recorded for the order" for g in gaps.values())
