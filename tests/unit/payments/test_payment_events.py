"""Provider events keep their shape through the inbox, dispute reasons map to categories, and the
refund-paid email says what was paid, where and the provider's reference."""
from __future__ import annotations

from datetime import UTC, datetime

from connectors.payments.common import ProviderEvent, category
from connectors.payments.contract import DisputeNotice, RefundOutcome
from domain.messaging.rendering import render_email
from domain.messaging.senders import audience
from domain.payments import events


def test_an_event_survives_the_inbox_json_with_its_due_date() -> None:
    notice = DisputeNotice("adyen", "P1:CHARGEBACK:true", "P1", "P0", "Undefended", "open", "13.1", "13.1",
                           "not_received", 64900, "USD", datetime(2026, 12, 10, 9, 30, tzinfo=UTC), {"a": 1})
    event = ProviderEvent("adyen", "P1:CHARGEBACK:true", "NOTIFICATION_OF_CHARGEBACK", "dispute", dispute=notice)
    assert ProviderEvent.from_json(event.as_json()) == event
    refund = ProviderEvent("paypal", "WH-1", "PAYMENT.CAPTURE.REFUNDED", "refund",
                           refund=RefundOutcome("paypal", "R1", "succeeded", 100, "USD"))
    assert ProviderEvent.from_json(refund.as_json()) == refund


def test_every_reference_of_the_disputed_payment_survives_the_inbox() -> None:
    from connectors.payments.paypal import PayPalProvider

    both = DisputeNotice("stripe", "evt_1", "dp_1", "pi_1", "needs_response", other_refs=("ch_1",))
    stored = ProviderEvent.from_json(ProviderEvent("stripe", "evt_1", "charge.dispute.created", "dispute",
                                                   dispute=both).as_json())
    assert stored.dispute is not None and stored.dispute.payment_refs == ("pi_1", "ch_1") and stored.dispute == both
    older = {"provider": "stripe", "event_id": "evt_0", "topic": "charge.dispute.created", "kind": "dispute",
             "dispute": {"provider": "stripe", "event_id": "evt_0", "dispute_ref": "dp_0", "payment_ref": "ch_0",
                         "status": "needs_response"}}  # stored before other references were kept
    assert ProviderEvent.from_json(older).dispute.payment_refs == ("ch_0",)  # type: ignore[union-attr]
    paypal = PayPalProvider._notice("WH-1", {"dispute_id": "PP-D-1", "status": "WAITING_FOR_SELLER_RESPONSE",
                                             "disputed_transactions": [{"seller_transaction_id": "CAP-1"},
                                                                       {"seller_transaction_id": "CAP-2"}]})
    assert paypal.payment_refs == ("CAP-1", "CAP-2")


def test_reasons_and_network_codes_name_the_same_categories() -> None:
    assert category("product_not_received") == category("MERCHANDISE_OR_SERVICE_NOT_RECEIVED") == \
        category("13.1") == category("4855") == "not_received"
    assert category("fraudulent") == category("UNAUTHORISED") == category("10.4") == category("4837") == "fraud"
    assert category("product_unacceptable") == category("4853") == "not_as_described"
    assert category("something new", "13.1") == "not_received" and category("general") == "general"


def test_the_registry_keeps_a_handler_once_and_the_refund_handler_is_built_in() -> None:
    def on_other(*args: object) -> list:
        return []

    events.handler("other")(on_other)
    events.handler("other")(on_other)
    try:
        assert events.HANDLERS["other"].count(on_other) == 1
        assert events.refund_outcome in events.HANDLERS["refund"]
    finally:
        events.HANDLERS["other"].remove(on_other)


def test_the_refund_paid_email_is_a_customer_message_naming_amount_and_reference() -> None:
    context = {"customer_name": "Ana", "order_number": "#1001", "store_name": "Futon Loft", "amount_cents": 129900,
               "currency": "USD", "kind": "refund", "reference": "re_123", "paid_to": "your card"}
    email = render_email("refund_paid", context)
    assert email.subject == "Order #1001: $1,299.00 refunded"
    assert "refunded $1,299.00 to your card" in email.text and "Reference: re_123" in email.text
    assert "$1,299.00" in email.html and "re_123" in email.html
    credit = render_email("refund_paid", {**context, "kind": "store_credit", "reference": ""})
    assert credit.subject == "Order #1001: $1,299.00 in store credit" and "Reference" not in credit.text
    assert audience("refund_paid") == "customer"
