"""The daily digest lists low and out SKUs once per local day, after the configured time."""
from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.core.models import OutboxMessage, Sku
from domain.messaging.rendering import render_email
from domain.stock.digest import digest_due, send_digest

ROUTES = (RouteConfig("digest.daily", "SLACK_WEBHOOK_OPS", ("ops@futonloft.example",)),)


def test_due_only_after_the_local_hour() -> None:
    early = datetime(2026, 11, 25, 12, 59, tzinfo=UTC)  # 07:59 in New York
    late = datetime(2026, 11, 25, 13, 1, tzinfo=UTC)
    assert digest_due(early, "America/New_York", time(8, 0)) is None
    assert digest_due(late, "America/New_York", time(8, 0)) == "2026-11-25"


def test_digest_is_sent_once_a_day_with_the_skus(db_session: Session, catalog: object) -> None:
    db_session.execute(update(Sku).where(Sku.code == "MAT-HYB-KING").values(state="BACKORDER"))
    db_session.execute(update(Sku).where(Sku.code == "BED-PILLOW-STD").values(state="LOW"))
    now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    first = send_digest(db_session, now, "America/New_York", time(8, 0), ROUTES)
    again = send_digest(db_session, now.replace(hour=20), "America/New_York", time(8, 0), ROUTES)
    assert len(first) == 2 and again == []
    email = db_session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "email"))
    assert email is not None and email.template == "stock_digest"
    assert [i["sku"] for i in email.context["out"]] == ["MAT-HYB-KING"]
    assert [i["sku"] for i in email.context["low"]] == ["BED-PILLOW-STD"]
    rendered = render_email("stock_digest", email.context)
    assert "MAT-HYB-KING" in rendered.text and "BED-PILLOW-STD" in rendered.html
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
