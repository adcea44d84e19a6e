"""A webhook naming an unknown SKU is alerted in its own words, with the command that re-applies it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.core.models import Alert, InboxEvent, OutboxMessage, Store
from domain.messaging.rendering import render_email, render_slack
from domain.stock.quarantine_alerts import quarantine_alert

ROUTES = (RouteConfig("channel.push_failed", "SLACK_WEBHOOK_OPS", ("ops@example.com",)),)


def test_an_unknown_sku_webhook_names_the_sku_the_fix_and_the_redrive(db_session: Session) -> None:
    store = Store(key="shop", platform="shopify", name="Shop (Shopify)", base_url="https://s.example")
    db_session.add(store)
    db_session.flush()
    event = InboxEvent(source="shop", dedupe_key="e1", kind="inventory_update", topic="inventory_levels/update",
                       payload={}, state="quarantined")
    db_session.add(event)
    db_session.flush()
    ids = quarantine_alert(db_session, store, event.id, "unknown SKU or location: NEW-SKU-7 @ 655441491", ROUTES)
    assert len(ids) == 2 and quarantine_alert(db_session, store, event.id, "again", ROUTES) == []
    alert = db_session.scalar(select(Alert).where(Alert.dedupe_key == f"quarantine:{event.id}"))
    assert alert is not None and alert.kind == "channel.push_failed"
    rows = db_session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
    assert {row.template for row in rows} == {"webhook_quarantined"}
    context = rows[0].context
    mail = render_email("webhook_quarantined", context)
    assert mail.subject == f"Webhook #{event.id} from Shop (Shopify) was kept but not applied: 1 unknown SKU or location"
    assert "SKU NEW-SKU-7 at location 655441491" in mail.text
    assert f"backorders redrive --inbox {event.id}" in mail.text and "stores discover shop" in mail.text
    assert "could not be updated on a sales channel" not in mail.text + mail.html
    assert "API credentials" not in mail.text
    assert f"backorders redrive --inbox {event.id}" in mail.html
    slack = render_slack("webhook_quarantined", context)
    shown = " ".join(block["text"]["text"] for block in slack["blocks"] if "text" in block)
    assert "NEW-SKU-7" in shown and f"`backorders redrive --inbox {event.id}`" in shown


def test_an_unreadable_webhook_says_why(db_session: Session) -> None:
    store = Store(key="shop", platform="shopify", name="Shop", base_url="https://s.example")
    db_session.add(store)
    db_session.flush()
    [outbox_id] = quarantine_alert(db_session, store, 99, "unparsable: Expecting value", (
        RouteConfig("channel.push_failed", None, ("ops@example.com",)),))
    row = db_session.get(OutboxMessage, outbox_id)
    assert row is not None
    mail = render_email(row.template, row.context)
    assert "unparsable: Expecting value" in mail.text and "backorders redrive --inbox 99" in mail.text


def test_status_says_why_the_alerts_wait(db_session: Session) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    store = Store(key="shop", platform="shopify", name="Shop", base_url="https://s.example")
    db_session.add(store)
    db_session.flush()
    quarantine_alert(db_session, store, 5, "unknown SKU or location: X @ 1", ROUTES)
    db_session.commit()
    output = CliRunner().invoke(main, ["status"]).output
    assert "Outbox waiting 2:\n  2 queued for delivery (" in output, output
