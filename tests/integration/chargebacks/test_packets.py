"""Each reason's packet has exactly the facts its rule needs, in the provider's own fields, names
what is missing and why, keeps the rule that chose them, and carries every fact inline in its HTML
bundle; a complete packet is staged, an incomplete one waits for its owner."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.chargebacks import intake
from domain.chargebacks.shipment_evidence import ShipmentFacts
from domain.core.clock import utcnow
from domain.core.models import CaseEvent, Dispute, DisputeCall, DisputePacket, InboundSms, Order, OutboxMessage
from flows import dispute_desk
from tests.integration.chargebacks.conftest import Desk, make_order, notice

CALL = "tasks.disputes.call_provider"
ADDRESS = {"line1": "12 Pine St", "city": "Brooklyn", "state": "NY", "postal_code": "11201", "country": "US"}


def _packet(session: Session, dispute_id: int) -> DisputePacket:
    session.expire_all()
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute_id))
    assert packet is not None
    return packet


def test_not_received_on_stripe_names_the_missing_delivery_proof_then_stages_when_complete(
        db_session: Session, desk: Desk) -> None:
    now = utcnow()
    order = make_order(db_session, "#2001", "ch_A", facts={"shipping_address": ADDRESS})
    db_session.commit()
    shipped = ShipmentFacts(carrier="UPS", tracking_number="1Z999AA10123456784", shipped_at=now - timedelta(days=8))
    desk.shipments[order.id] = [shipped]
    received = intake.receive(db_session, "stripe-main", notice(
        "stripe", "evt_A", "dp_A", "ch_A", category="not_received", network_code="13.1",
        reason_code="product_not_received", due_by=now + timedelta(days=7)), desk.config, now)
    db_session.commit()
    assert received.dispute_id is not None

    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 0
    packet = _packet(db_session, received.dispute_id)
    assert packet.rule["needs"] == ["carrier", "tracking_number", "ship_date", "delivery_proof", "shipping_address"]
    assert packet.rule_name.startswith("not received (Visa 13.1")
    assert packet.present == ["carrier", "tracking_number", "ship_date", "shipping_address"]
    assert packet.missing == [{"fact": "delivery_proof", "label": "Delivered scan or signature",
                               "why": "the carrier has no delivered scan or signature yet"}]
    assert packet.fields == {"shipping_carrier": "UPS", "shipping_tracking_number": "1Z999AA10123456784",
                             "shipping_date": f"{shipped.shipped_at:%Y-%m-%d}",
                             "shipping_address": "12 Pine St, Brooklyn, NY, 11201, US"}
    assert set(packet.documents) == {"uncategorized_file"}
    dispute = db_session.get(Dispute, received.dispute_id)
    assert dispute is not None and dispute.state == "packet_ready"
    assert db_session.scalar(select(func.count()).select_from(DisputeCall)) == 0  # incomplete: not staged
    assert desk.work.take(CALL) == []
    note = db_session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == dispute.case_id)
                              .order_by(CaseEvent.id.desc())).first()
    assert note is not None and "missing Delivered scan or signature (the carrier has no delivered scan" in note

    desk.shipments[order.id] = [ShipmentFacts(
        carrier="UPS", tracking_number="1Z999AA10123456784", shipped_at=shipped.shipped_at,
        delivered_at=now - timedelta(days=5), delivery_scan="Delivered, front door", delivery_location="Brooklyn NY",
        signed_by="R. LEE")]
    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 1
    packet = _packet(db_session, received.dispute_id)
    assert (packet.version, packet.missing) == (2, [])
    assert set(packet.fields) == {"shipping_carrier", "shipping_tracking_number", "shipping_date", "shipping_address"}
    assert set(packet.documents) == {"shipping_documentation", "uncategorized_file"}
    [call_id] = desk.work.take(CALL)
    call = db_session.get(DisputeCall, call_id)
    assert call is not None and (call.action, call.state) == ("stage", "pending")
    for html in (packet.html, packet.documents["uncategorized_file"]):
        assert "1Z999AA10123456784" in html and "signed for by R. LEE" in html and "Delivered, front door" in html
        assert "href" not in html  # evidence inline: issuers do not follow links
    assert "signed for by R. LEE" in packet.documents["shipping_documentation"]
    assert "12 Pine St" not in packet.documents["shipping_documentation"]  # that document carries its fact only

    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 0  # nothing changed: no new version
    assert _packet(db_session, received.dispute_id).version == 2


def _fraud_order(db_session: Session, number: str, ref: str, *, email: str) -> None:
    make_order(db_session, number, ref, email=email, placed_at=utcnow() - timedelta(days=2), facts={
        "ip": "203.0.113.7", "device_id": "dev-42", "user_id": "u-7", "shipping_address": "12 Pine St, Brooklyn NY",
        "card_fingerprint": "fp-1", "checks": {"avsResult": "4 AVS not supported", "cvcResult": "1 Matches"}})


def _prior(db_session: Session, number: str, days: int, email: str, **facts: str) -> int:
    order = make_order(db_session, number, None, email=email, placed_at=utcnow() - timedelta(days=days),
                       facts={"card_fingerprint": "fp-1", **facts})
    return order.id


def test_adyen_visa_10_4_fraud_takes_compelling_evidence_3(db_session: Session, desk: Desk) -> None:
    now = utcnow()
    email = "sam@example.com"
    _fraud_order(db_session, "#3001", "psp_F", email=email)
    _prior(db_session, "#0901", 150, email, ip="203.0.113.7", device_id="dev-42")              # qualifies
    _prior(db_session, "#0902", 200, email, ip="203.0.113.7", shipping_address="12 pine st,  Brooklyn NY")  # qualifies
    _prior(db_session, "#0903", 60, email, ip="203.0.113.7", device_id="dev-42")               # too recent
    _prior(db_session, "#0904", 250, email, user_id="u-7", shipping_address="12 Pine St, Brooklyn NY")  # no IP/device
    disputed = _prior(db_session, "#0905", 180, email, ip="203.0.113.7", device_id="dev-42")   # disputed itself
    db_session.add(Dispute(provider="adyen", account="adyen-eu", dispute_ref="OLD", order_id=disputed, category="fraud"))
    other_card = _prior(db_session, "#0906", 190, email, ip="203.0.113.7", device_id="dev-42")
    card_order = db_session.get(Order, other_card)
    assert card_order is not None
    card_order.payment_facts = {**card_order.payment_facts, "card_fingerprint": "fp-2"}       # another card
    db_session.commit()
    received = intake.receive(db_session, "adyen-eu", notice(
        "adyen", "N-F", "DZF", "psp_F", category="fraud", network_code="10.4", reason_code="10.4",
        due_by=now + timedelta(days=9)), desk.config, now)
    db_session.commit()
    assert received.dispute_id is not None

    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 1
    packet = _packet(db_session, received.dispute_id)
    assert packet.rule_name.startswith("fraud, Visa 10.4 Compelling Evidence 3.0") and packet.rule["compelling_evidence_3"]
    assert (packet.present, packet.missing) == (["avs_cvv", "customer_ip", "prior_undisputed_orders",
                                                 "shipping_address"], [])
    assert packet.defense_reason == "AdditionalInformation"
    assert packet.fields == {} and set(packet.documents) == {"AdditionalInformation", "DefenseMaterial"}
    prior = packet.facts["prior_undisputed_orders"]
    assert [row["order"] for row in prior["rows"]] == ["#0901", "#0902"]
    assert prior["rows"][0]["shares"] == ["IP address", "device"]
    assert prior["rows"][1]["shares"] == ["IP address", "shipping address"]
    text = packet.documents["AdditionalInformation"]
    assert "Customer IP address at purchase" in text and "203.0.113.7" in text and "CVC: 1 Matches" in text
    for absent in ("#0903", "#0904", "#0905", "#0906"):
        assert absent not in packet.html
    assert len(desk.work.take(CALL)) == 1  # complete: staged


def test_ce3_with_one_qualifying_order_names_why_it_is_missing(db_session: Session, desk: Desk) -> None:
    now = utcnow()
    email = "kim@example.com"
    _fraud_order(db_session, "#3101", "psp_G", email=email)
    _prior(db_session, "#0951", 150, email, ip="203.0.113.7", device_id="dev-42")
    _prior(db_session, "#0952", 170, email, shipping_address="somewhere else")
    db_session.commit()
    received = intake.receive(db_session, "adyen-eu", notice("adyen", "N-G", "DZG", "psp_G", category="fraud",
                                                             network_code="10.4", due_by=now + timedelta(days=9)),
                              desk.config, now)
    db_session.commit()
    assert received.dispute_id is not None
    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 0
    packet = _packet(db_session, received.dispute_id)
    [gap] = packet.missing
    assert gap["fact"] == "prior_undisputed_orders"
    assert gap["why"].startswith("1 prior undisputed order(s) placed 120-365 days before the dispute")
    assert "Visa CE 3.0 needs 2" in gap["why"] and "#0952 shares nothing" in gap["why"]
    assert "AdditionalInformation" in packet.documents  # the facts it has are still mapped


def test_paypal_not_as_described_quotes_the_policy_and_the_customers_messages(db_session: Session,
                                                                             desk: Desk) -> None:
    now = utcnow()
    order = make_order(db_session, "#4001", "CAP-4", phone="+15005550006", lines=(("FUT-FRM-OAK-FULL", 1),),
                       facts={"shipping_address": ADDRESS})
    db_session.add(OutboxMessage(
        idempotency_key="notice:4001:1", channel="sms", template="backorder_ships", recipient="+15005550006",
        state="sent", sent_at=now - timedelta(days=6),
        context={"store_name": "Futon Loft", "item_title": "Oak Mission futon frame, full", "order_number": "#4001"}))
    db_session.add(OutboxMessage(  # another order's message to the same phone is not evidence here
        idempotency_key="notice:9999:1", channel="sms", template="backorder_ships", recipient="+15005550006",
        state="sent", context={"store_name": "Futon Loft", "item_title": "Futon cover", "order_number": "#9999"}))
    db_session.add(InboundSms(message_sid="SM1", from_number="+15005550006", to_number="+15005550000", keyword="WAIT",
                              result="accepted_wait"))
    db_session.commit()
    received = intake.receive(db_session, "paypal-main", notice(
        "paypal", "WH-4", "PP-D-4", "CAP-4", category="not_as_described",
        reason_code="MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", due_by=now + timedelta(days=12)), desk.config, now)
    db_session.commit()
    assert received.dispute_id is not None
    assert dispute_desk.build_packet(desk.work, received.dispute_id) == 1
    packet = _packet(db_session, received.dispute_id)
    assert packet.present == ["product_description", "refund_policy", "refund_policy_disclosure",
                              "customer_communication", "shipping_address"] and packet.missing == []
    assert set(packet.fields) == {"ITEM_DESCRIPTION", "RETURN_POLICY", "OTHER", "DELIVERY_ADDRESS"}
    assert "Oak Mission futon frame, full (SKU FUT-FRM-OAK-FULL) at 649.00 USD" in packet.fields["ITEM_DESCRIPTION"]
    assert "Return any item within 30 days of delivery" in packet.fields["RETURN_POLICY"]
    assert "required checkbox" in packet.fields["RETURN_POLICY"]
    messages = packet.fields["OTHER"]
    assert "order #4001 is back in stock" in messages and "texted 'WAIT'" in messages and "Futon cover" not in messages
    assert all(len(value) <= 2000 for value in packet.fields.values())
    assert set(packet.documents) == {"OTHER"} and order.number in packet.html
