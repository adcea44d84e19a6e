"""Rendering: escaping per medium, strictness about missing facts, SMS length rules."""
from __future__ import annotations

import json

import pytest

from domain.messaging.rendering import (RenderError, SmsTooLongError, escape_mrkdwn, render_email, render_slack,
                             render_sms, sms_segments)

EVIL_TITLE = 'Futon <script>alert("x")</script> & <!channel>'


def alert(**changes: object) -> dict[str, object]:
    context: dict[str, object] = {
        "event": "stock.backorder", "sku": "FUT-QN-GRY", "title": "Queen futon, grey", "from_state": "OUT",
        "to_state": "BACKORDER", "available": 0, "threshold": 4, "open_demand": 3,
        "locations": [{"name": "Main warehouse", "available": 0}, {"name": "Showroom", "available": 0}],
        "channels": ["Shopify store", "WooCommerce store"], "detail": "",
    }
    context.update(changes)
    return context


def test_email_says_what_happened_the_numbers_what_was_done_and_what_to_do():
    email = render_email("stock_alert", alert())
    assert email.subject == "[FUT-QN-GRY] Queen futon, grey is now selling on backorder"
    for text in (email.text, email.html):
        assert "Switched to accept backorders on: Shopify store, WooCommerce store." in text
        assert "Main warehouse: 0" in text
        assert "Confirm the purchase order" in text
    assert "Units on open orders: 3" in email.text
    assert email.html.lstrip().startswith("<!doctype html>")


def test_customer_supplied_markup_is_escaped_in_html_and_plain_in_text():
    email = render_email("stock_alert", alert(title=EVIL_TITLE))
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;!channel&gt;" in email.html
    assert EVIL_TITLE in email.text, "plain text is not HTML-escaped"


def test_subject_is_one_line_even_if_a_fact_has_newlines():
    email = render_email("stock_alert", alert(title="Futon\r\nBcc: attacker@example.com"))
    assert "\n" not in email.subject and "\r" not in email.subject


def test_missing_fact_is_an_error_not_a_blank():
    context = alert()
    del context["open_demand"]
    for render in (render_email, render_slack, render_sms):
        with pytest.raises(RenderError, match="open_demand"):
            render("stock_alert", context)


def test_detail_is_optional_and_shown_when_given():
    context = alert(event="channel.push_failed", detail="Shopify answered 401")
    del context["detail"]
    assert "Detail" not in render_email("stock_alert", context).text
    email = render_email("stock_alert", alert(event="channel.push_failed", detail="Shopify answered 401"))
    assert "Detail: Shopify answered 401" in email.text
    assert "The stock update failed on: Shopify store, WooCommerce store." in email.text


@pytest.mark.parametrize("event", ["stock.backorder", "stock.out", "stock.low", "stock.restocked",
                                   "stock.oversell_risk", "stock.atp_drift", "channel.push_failed",
                                   "stock.location_low", "stock.location_out"])
def test_every_event_renders_everywhere(event):
    context = alert(event=event, channels=[], locations=[])
    assert "No sales channel was changed." in render_email("stock_alert", context).text
    assert render_slack("stock_alert", context)["blocks"]
    assert sms_segments(render_sms("stock_alert", context)) <= 2


def test_oversell_and_location_facts_are_shown_and_escaped():
    orders = [{"number": "#<b>1</b>", "store": "Shop & Co", "store_key": "shop", "quantity": 2,
               "placed_at": "2026-11-20T12:00:00+00:00"}]
    risky = alert(event="stock.oversell_risk", open_demand=6, on_hand=6, orders=orders, orders_total=3,
                  rule="open unfulfilled quantity >= on hand")
    email = render_email("stock_alert", risky)
    assert "#<b>1</b> on Shop & Co: 2" in email.text and "... and 2 more" in email.text
    assert "#&lt;b&gt;1&lt;/b&gt; on Shop &amp; Co: 2" in email.html
    slack = json.dumps(render_slack("stock_alert", risky))
    assert "#&lt;b&gt;1&lt;/b&gt; on Shop &amp; Co: 2" in slack and "6 on hand to fill them" in slack
    location = {"location_id": 2, "key": "showroom", "name": "Showroom <2>", "available": 0, "threshold": 2,
                "threshold_source": "config file", "from_state": "OK", "to_state": "OUT"}
    out = render_email("stock_alert", alert(event="stock.location_out", location=location))
    assert out.subject.endswith("is out of stock at one location: Showroom <2>")
    assert "Threshold: 2 (from config file)" in out.text and "Showroom &lt;2&gt;" in out.html
    assert "(Showroom <2>: 0)" in render_sms("stock_alert", alert(event="stock.location_out", location=location))
    assert "Restock level" not in out.text, "none imported: not shown"
    imported = {**location, "threshold_source": "showroom-pos reorder point", "restock_level": 5}
    low = render_email("stock_alert", alert(event="stock.location_out", location=imported))
    assert "Restock level: 5 (what the platform's own stock order adds here)" in low.text
    assert "restock level 5" in low.html


def test_slack_escapes_for_mrkdwn_and_json():
    payload = render_slack("stock_alert", alert(title=EVIL_TITLE, sku='A"B\\C'))
    flat = json.dumps(payload)
    assert "<!channel>" not in flat and "<script>" not in flat
    section = payload["blocks"][1]["text"]["text"]
    assert section.startswith('*Futon &lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;!channel&gt;*')
    assert payload["text"].startswith('A"B\\C is now selling on backorder')
    assert escape_mrkdwn("a & <b>") == "a &amp; &lt;b&gt;"


def test_digest_renders_empty_and_full():
    quiet = {"date": "2025-03-01", "low": [], "out": []}
    assert "Nothing to reorder today" in render_email("stock_digest", quiet).text
    assert len(render_slack("stock_digest", quiet)["blocks"]) == 2
    busy = {"date": "2025-03-01", "out": [{"sku": "A-1", "title": "<b>Sofa</b>", "available": 0, "threshold": 2}],
            "low": [{"sku": f"L-{i}", "title": "Pillow", "available": 1, "threshold": 3} for i in range(30)]}
    email = render_email("stock_digest", busy)
    assert email.subject == "Stock digest 2025-03-01: 1 out of stock, 30 running low"
    assert "&lt;b&gt;Sofa&lt;/b&gt;" in email.html and "L-29" in email.text
    slack = render_slack("stock_digest", busy)
    assert "…and 5 more" in slack["blocks"][2]["text"]["text"]


def test_sms_segment_counting():
    assert sms_segments("x" * 160) == 1
    assert sms_segments("x" * 161) == 2
    assert sms_segments("x" * 306) == 2
    assert sms_segments("x" * 307) == 3
    assert sms_segments("€" * 80) == 1, "extension characters cost two septets"
    assert sms_segments("€" * 81) == 2
    assert sms_segments("é" * 160) == 1, "é is in the GSM-7 basic table"


def test_sms_segment_counting_ucs2():
    assert sms_segments("ü" * 70 + "ś") == 2, "one non-GSM character switches the whole text to UCS-2"
    assert sms_segments("ś" * 70) == 1
    assert sms_segments("ś" * 134) == 2
    assert sms_segments("ś" * 135) == 3
    assert sms_segments("😀" * 35) == 1, "an emoji is two UTF-16 code units"
    assert sms_segments("😀" * 36) == 2


def test_sms_over_two_segments_is_refused_with_a_clear_error():
    body = render_sms("stock_alert", alert())
    assert body.startswith("Stock alert: FUT-QN-GRY Queen futon, grey is now selling on backorder.")
    with pytest.raises(SmsTooLongError, match=r"UCS-2, 4 segments\); at most 2 segments \(134 UCS-2"):
        render_sms("stock_alert", alert(channels=["Магазин"], sku="Ś" * 120))
