"""The customer's shipping messages: the facts they need, escaped in HTML, SMS within two segments."""
from __future__ import annotations

from typing import Any

import pytest

from domain.messaging.rendering import render_email, render_sms, sms_segments

EVIL = "<script>alert(1)</script>"
PARCEL = {"store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada Lovelace",
          "timezone": "America/Chicago", "carrier": "ups", "tracking_number": "1Z999AA10123456784",
          "items": ["1 × Oak Mission futon frame, full"]}
CONTEXTS: dict[str, dict[str, Any]] = {
    "shipment_stuck": {**PARCEL, "days_since_last_scan": 5, "last_scan": "Arrived at facility, MEMPHIS",
                       "last_scan_at": "2026-11-30T14:00:00+00:00"},
    "shipment_exception": {**PARCEL, "scan": "Delivery exception: address not found"},
    "shipment_returned": {**PARCEL, "scan": "Returned to sender"},
    "shipment_split": {"store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada Lovelace",
                       "timezone": "UTC", "parcels": [{"carrier": "ups", "tracking_number": "1Z1", "shipment_id": 1}],
                       "shipped_items": ["1 × Oak frame"], "waiting_items": ["1 × Cotton mattress"]},
    "backorder_shipped": {"store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada Lovelace",
                          "item_title": "Oak Mission futon frame, full", "sku": "FUT-FRM-OAK-FULL", "quantity": 1,
                          "carrier": "ups", "tracking_number": "1Z999AA10123456784"},
}


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_each_email_names_the_order_and_its_facts(template: str) -> None:
    email = render_email(template, CONTEXTS[template])
    assert "#1001" in email.subject
    for body in (email.text, email.html):
        assert "#1001" in body and "Futon Loft" in body
        if template != "shipment_split":
            assert "1Z999AA10123456784" in body
    assert email.html.lstrip().startswith("<!doctype html>")


def test_the_stuck_email_gives_the_days_and_the_last_scan_in_the_customers_time() -> None:
    email = render_email("shipment_stuck", CONTEXTS["shipment_stuck"])
    assert "no update from the carrier for 5 days" in email.text
    assert "Arrived at facility, MEMPHIS (November 30, 2026 at 08:00 CST)" in email.text


def test_the_split_email_says_what_comes_now_and_what_follows() -> None:
    text = render_email("shipment_split", CONTEXTS["shipment_split"]).text
    assert "On its way:\n- 1 × Oak frame" in text and "Still to come:\n- 1 × Cotton mattress" in text


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_titles_and_scans_are_escaped_in_html(template: str) -> None:
    context = {**CONTEXTS[template], "scan": EVIL, "last_scan": EVIL, "items": [EVIL], "shipped_items": [EVIL],
               "customer_name": EVIL}
    html = render_email(template, context).html
    assert EVIL not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_each_sms_fits_two_segments_with_long_names(template: str) -> None:
    context = {**CONTEXTS[template], "store_name": "The Very Long Futon Loft Company Store",
               "order_number": "#1000000000000000001", "tracking_number": "9" * 34,
               "item_title": "Oak Mission futon frame with a very long name indeed, full size"}
    text = render_sms(template, context)
    assert "#1000000000000" in text and sms_segments(text) <= 2
