"""Slack Block Kit drawn readably on the sandbox's message page, and safely."""
from __future__ import annotations

from domain.messaging.rendering import render_slack
from sandbox.slack_blocks import mrkdwn, render


def test_a_stock_alert_reads_as_slack_shows_it() -> None:
    post = render_slack("stock_alert", {
        "event": "stock.out", "sku": "FUT-1", "title": "Oak futon <Queen>", "from_state": "IN_STOCK",
        "to_state": "OUT", "available": 0, "threshold": 2, "open_demand": 3, "channels": ["Shop"],
        "locations": [{"name": "Warehouse", "available": 0}]})
    page = render(post["blocks"])
    drawn = page.split("<details>")[0]
    assert '<h4 style="margin:.4em 0">FUT-1 is out of stock</h4>' in drawn
    assert "<b>Oak futon &lt;Queen&gt;</b><br>Stock state: IN_STOCK → OUT" in drawn
    assert "<div><b>Available now</b><br>0</div>" in drawn and "grid-template-columns" in drawn
    assert '"type"' not in drawn  # no JSON among what is drawn; it stays behind the disclosure
    assert "&quot;type&quot;: &quot;header&quot;" in page.split("<details>")[1]


def test_mrkdwn_styles_code_and_links() -> None:
    assert mrkdwn("*bold* _it_ ~gone~ and `a*b*c`") == "<b>bold</b> <i>it</i> <s>gone</s> and <code>a*b*c</code>"
    assert mrkdwn("```x\n<y>```") == "<pre>x\n&lt;y&gt;</pre>"
    assert mrkdwn("see <https://example.com/a?b=1&c=2|the PO>") == (
        'see <a href="https://example.com/a?b=1&amp;c=2" rel="noreferrer">the PO</a>')
    assert mrkdwn("line\nnext") == "line<br>next"
    assert mrkdwn("snake_case_name and 2*3*4") == "snake_case_name and 2*3*4"


def test_nothing_from_a_message_becomes_markup() -> None:
    assert mrkdwn("<javascript:alert(1)|click>") == "click"
    assert mrkdwn("&lt;script&gt;alert(1)&lt;/script&gt;") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "<script" not in render([{"type": "header", "text": {"type": "plain_text", "text": "<script>x"}},
                                    {"type": "rich_text", "elements": ["<script>"]}])
