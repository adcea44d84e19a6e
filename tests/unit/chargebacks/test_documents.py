"""Evidence documents as the providers take them: the HTML packet laid out as a PDF whose every
object sits where its cross-reference table says, and checkout facts read from the store's own
order when the payment recorded none."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from domain.chargebacks import pdf
from domain.chargebacks.order_sources import address_text, checkout_facts
from domain.core.models import Order

HTML = """<!doctype html><html><head><title>Not shown</title></head><body>
<h1>Futon Loft — Chargeback evidence</h1>
<table><tr><th>Dispute</th><td>Stripe dp_1 on payment pi_1</td></tr><tr><th>Amount</th><td>649.00 USD</td></tr></table>
<h2>Delivered scan or signature</h2>
<p style="white-space:pre-wrap;">delivered 2026-11-20 (front door) &amp; signed \\ by R. LEE
second line</p>
<table><thead><tr><th>carrier</th><th>tracking number</th></tr></thead>
<tbody><tr><td>ups</td><td>1Z999</td></tr></tbody></table>
</body></html>"""


def objects_where_the_table_says(document: bytes) -> int:
    """Check the cross-reference table against the bytes; the number of objects."""
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", document).group(1))  # type: ignore[union-attr]
    assert document[start:].startswith(b"xref\n0 ")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n \n", document[start:])]
    for number, offset in enumerate(offsets, 1):
        assert document[offset:].startswith(b"%d 0 obj\n" % number)
    for length, stream in re.findall(rb"<< /Length (\d+) >>\nstream\n(.*?)\nendstream", document, re.S):
        assert int(length) == len(stream)
    return len(offsets)


def test_the_html_packet_reads_line_by_line_headings_bold_and_table_rows_on_one_line() -> None:
    assert pdf.text_lines(HTML) == [
        ("Futon Loft — Chargeback evidence", True), ("Dispute | Stripe dp_1 on payment pi_1", False),
        ("Amount | 649.00 USD", False), ("Delivered scan or signature", True),
        ("delivered 2026-11-20 (front door) & signed \\ by R. LEE", False), ("second line", False),
        ("carrier | tracking number", False), ("ups | 1Z999", False)]


def test_the_pdf_is_well_formed_escapes_its_text_and_is_the_same_each_time() -> None:
    document = pdf.from_html(HTML)
    assert document.startswith(b"%PDF-1.4\n") and document == pdf.from_html(HTML)
    assert objects_where_the_table_says(document) == 6  # catalog, pages, two fonts, one page and its text
    assert b"/Count 1" in document and b"Not shown" not in document
    assert b"(delivered 2026-11-20 \\(front door\\) & signed \\\\ by R. LEE) Tj T*" in document
    assert b"(Futon Loft \x97 Chargeback evidence) Tj" in document  # the em dash in WinAnsi
    assert b"(a ? b) Tj" in pdf.from_lines([("a → b", False)]), "what Helvetica cannot show prints as ?"


def test_long_text_wraps_and_runs_onto_more_pages() -> None:
    lines = [(f"line {n} " + "evidence " * 20, False) for n in range(pdf.LINES_PER_PAGE)]
    wrapped = pdf.text_lines("".join(f"<p>{text}</p>" for text, _ in lines))
    assert all(len(text) <= pdf.WRAP[False] for text, _ in wrapped) and len(wrapped) > pdf.LINES_PER_PAGE
    document = pdf.from_lines(wrapped)
    pages = -(-len(wrapped) // pdf.LINES_PER_PAGE)
    assert pages >= 2 and b"/Count %d" % pages in document
    assert objects_where_the_table_says(document) == 4 + 2 * pages


def test_checkout_facts_come_from_the_stores_order_when_the_payment_recorded_none() -> None:
    order = Order(number="1001", placed_at=datetime(2026, 11, 1, tzinfo=UTC), customer_ip="203.0.113.7",
                  avs_result="N", cvv_result="M", card_fingerprint="visa 411111 ****1111", payment_facts={},
                  shipping_address={"first_name": "Ana", "last_name": "Lima", "address_1": "12 Pine St",
                                    "city": "Brooklyn", "state": "NY", "postcode": "11201", "country": "US"})
    facts = checkout_facts(order)
    assert (facts["ip"], facts["checks"], facts["card_fingerprint"]) == ("203.0.113.7", {"avs_result": "N",
                                                                                          "cvv_result": "M"},
                                                                         "visa 411111 ****1111")
    assert address_text(facts["shipping_address"]) == "Ana Lima, 12 Pine St, Brooklyn, NY, 11201, US"
    order.payment_facts = {"ip": "198.51.100.4", "shipping_address": "1 Elm St"}
    assert (checkout_facts(order)["ip"], checkout_facts(order)["shipping_address"]) == ("198.51.100.4", "1 Elm St"), \
        "what the payment recorded wins"
    shopify = {"name": "Ana Lima", "address1": "12 Pine St", "zip": "11201", "province": "NY", "country_code": "US"}
    assert address_text(shopify) == "Ana Lima, 12 Pine St, NY, 11201, US"
