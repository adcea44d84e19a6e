"""The daily stock digest: every SKU that is low or out, once a day at the configured local time."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.core.models import Sku
from domain.messaging.alerts import raise_alert
from domain.stock.detection import load_numbers

OUT_STATES = ("OUT", "BACKORDER")


def digest_due(now: datetime, timezone: str, at: time) -> str | None:
    """The local date whose digest is due at ``now`` (the configured hour has come), else None."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.date().isoformat() if local.time() >= at else None


def digest_context(session: Session, date: str) -> dict[str, Any]:
    skus = session.scalars(select(Sku).where(Sku.state.in_(("LOW", *OUT_STATES))).order_by(Sku.code)).all()
    numbers = load_numbers(session, [s.id for s in skus]) if skus else {}

    def item(sku: Sku) -> dict[str, Any]:
        return {"sku": sku.code, "title": sku.title, "available": numbers[sku.id].available if sku.id in numbers
                else 0, "threshold": sku.threshold}

    return {"date": date, "low": [item(s) for s in skus if s.state == "LOW"],
            "out": [item(s) for s in skus if s.state in OUT_STATES]}


def send_digest(session: Session, now: datetime, timezone: str, at: time, routes: Sequence[RouteConfig]
                ) -> list[int]:
    """Queue today's digest if it is due and not sent yet (the alert's key is the date)."""
    date = digest_due(now, timezone, at)
    if date is None:
        return []
    context = digest_context(session, date)
    return raise_alert(session, event="digest.daily", dedupe_key=f"digest:{date}",
                       message=f"stock digest {date}: {len(context['out'])} out, {len(context['low'])} low",
                       context=context, routes=routes, template="stock_digest")
