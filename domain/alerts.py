"""Staff alerts: one alert row per cause, fanned out to the configured routes through the outbox.

The alert's dedupe key is its cause (a transition id, a failed push's audit id), so processing
the same cause twice finds the alert already there and sends nothing more.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain import outbox
from domain.config import RouteConfig
from domain.detection import Transition
from domain.models import Alert, ChannelListing, Location, Sku, StockLevel, Store

SEVERITY = {"digest.daily": "info", "stock.backorder": "critical", "stock.out": "critical", "stock.oversell_risk": "critical",
            "channel.push_failed": "critical", "stock.low": "warning", "stock.atp_drift": "warning",
            "stock.restocked": "info"}


def raise_alert(session: Session, *, event: str, dedupe_key: str, message: str, context: dict[str, Any],
                routes: Sequence[RouteConfig], sku_id: int | None = None, store_id: int | None = None,
                template: str = "stock_alert") -> list[int]:
    """Store the alert once and queue one message per route recipient; returns the outbox ids."""
    alert_id = session.execute(insert(Alert).values(
        kind=event, severity=SEVERITY.get(event, "warning"), dedupe_key=dedupe_key, sku_id=sku_id,
        store_id=store_id, message=message, data=context,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Alert.id)).scalar_one_or_none()
    if alert_id is None:
        return []
    outbox_ids: list[int] = []
    for route in routes:
        if route.event != event:
            continue
        targets = ([("slack", route.slack_webhook_env)] if route.slack_webhook_env else []) + \
            [("email", email) for email in route.emails]
        for channel, recipient in targets:
            outbox_id = outbox.enqueue(session, idempotency_key=f"alert:{alert_id}:{channel}:{recipient}",
                                       channel=channel, template=template, recipient=recipient,
                                       context=context)
            if outbox_id is not None:
                outbox_ids.append(outbox_id)
    return outbox_ids


def transition_context(session: Session, transition: Transition, detail: str = "") -> dict[str, Any]:
    """The facts a person needs: what happened, the numbers, where, and which channels sell it."""
    sku = session.get(Sku, transition.sku_id)
    assert sku is not None
    locations = session.execute(
        select(Location.name, StockLevel.available).join(StockLevel, StockLevel.location_id == Location.id)
        .where(StockLevel.sku_id == sku.id).distinct(Location.name)
        .order_by(Location.name, StockLevel.updated_at.desc())
    ).all()
    channels = session.scalars(
        select(Store.name).join(ChannelListing, ChannelListing.store_id == Store.id)
        .where(ChannelListing.sku_id == sku.id, Store.sells, Store.enabled).order_by(Store.name)
    ).all()
    numbers = transition.numbers
    return {
        "event": transition.event, "sku": sku.code, "title": sku.title, "from_state": transition.from_state,
        "to_state": transition.to_state, "available": numbers.available, "threshold": numbers.threshold,
        "open_demand": numbers.open_demand,
        "locations": [{"name": name, "available": available} for name, available in locations],
        "channels": list(channels), "detail": detail,
    }


def alert_for_transition(session: Session, transition: Transition, routes: Sequence[RouteConfig]) -> list[int]:
    if transition.event is None:
        return []
    context = transition_context(session, transition)
    message = (f"{context['sku']} ({context['title']}): {transition.from_state} → {transition.to_state}, "
               f"available {context['available']}, open demand {context['open_demand']}")
    return raise_alert(session, event=transition.event, dedupe_key=f"transition:{transition.id}",
                       message=message, context=context, routes=routes, sku_id=transition.sku_id)
