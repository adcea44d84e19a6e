"""Staff alerts: one alert row per cause, fanned out to the configured routes through the outbox.

The alert's dedupe key is its cause (a transition id, a failed push's audit id), so processing
the same cause twice finds the alert already there and sends nothing more.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig

SEVERITY = {"digest.daily": "info", "stock.backorder": "critical", "stock.out": "critical", "stock.oversell_risk": "critical",
            "channel.push_failed": "critical", "stock.low": "warning", "stock.atp_drift": "warning",
            "stock.restocked": "info", "stock.location_low": "warning", "stock.location_out": "critical",
            "merchandising.auto_cancelled": "warning", "backorder.substitute_requested": "warning"}


@dataclass(frozen=True)
class AlertSpec:
    """One alert to store once (by ``dedupe_key``) and fan out to the routes configured for its event."""

    event: str
    dedupe_key: str
    message: str
    context: dict[str, Any]
    sku_id: int | None = None
    store_id: int | None = None
    template: str = "stock_alert"


STORE_ALERTS_SQL = text("""
INSERT INTO alerts (kind, severity, dedupe_key, sku_id, store_id, message, data)
SELECT kind, severity, dedupe_key, sku_id, store_id, message, CAST(data AS jsonb)
  FROM unnest(CAST(:kinds AS text[]), CAST(:severities AS text[]), CAST(:keys AS text[]), CAST(:sku_ids AS int[]),
              CAST(:store_ids AS int[]), CAST(:messages AS text[]), CAST(:data AS text[]))
       WITH ORDINALITY AS u(kind, severity, dedupe_key, sku_id, store_id, message, data, n)
 ORDER BY n
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id, dedupe_key
""")

#: Outbox rows for alert messages, one statement per batch; the idempotency key stores each once.
STORE_MESSAGES_SQL = text("""
INSERT INTO outbox (idempotency_key, channel, template, recipient, context, state)
SELECT idempotency_key, channel, template, recipient, CAST(context AS jsonb), 'pending'
  FROM unnest(CAST(:keys AS text[]), CAST(:channels AS text[]), CAST(:templates AS text[]),
              CAST(:recipients AS text[]), CAST(:contexts AS text[]))
       WITH ORDINALITY AS u(idempotency_key, channel, template, recipient, context, n)
 ORDER BY n
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, idempotency_key
""")


def raise_alert(session: Session, *, event: str, dedupe_key: str, message: str, context: dict[str, Any],
                routes: Sequence[RouteConfig], sku_id: int | None = None, store_id: int | None = None,
                template: str = "stock_alert") -> list[int]:
    """Store the alert once and queue one message per route recipient; returns the outbox ids."""
    return raise_alerts(session, [AlertSpec(event, dedupe_key, message, context, sku_id, store_id, template)], routes)


def ops_context(event: str, *, detail: str, title: str = "", sku: str = "-", from_state: str = "",
                to_state: str = "", threshold: int = 0, channels: Sequence[str] = ()) -> dict[str, Any]:
    """The context of an operational alert (a failed push, an unsendable message, a quarantined or
    stray webhook, a failing provider): the keys the ``stock_alert`` templates read, with no stock
    figures (``available``, ``open_demand`` 0, no locations)."""
    return {"event": event, "sku": sku, "title": title, "from_state": from_state, "to_state": to_state,
            "available": 0, "threshold": threshold, "open_demand": 0, "locations": [],
            "channels": list(channels), "detail": detail}


def raise_ops_alert(session: Session, event: str, dedupe_key: str, routes: Sequence[RouteConfig], *,
                    detail: str, message: str | None = None, sku_id: int | None = None,
                    store_id: int | None = None, **context: Any) -> list[int]:
    """Store one operational alert (``ops_context``) and its messages; returns the outbox ids.
    ``message`` is the alert's one-line text, ``detail`` when not given."""
    return raise_alert(session, event=event, dedupe_key=dedupe_key, message=detail if message is None else message,
                       context=ops_context(event, detail=detail, **context), routes=routes, sku_id=sku_id,
                       store_id=store_id)


def raise_alerts(session: Session, specs: Sequence[AlertSpec], routes: Sequence[RouteConfig]) -> list[int]:
    """Store many alerts with one statement and their messages with one more; returns the outbox ids
    of new messages, in alert order then route order. An alert whose dedupe key is already stored
    (its cause processed before) queues nothing."""
    if not specs:
        return []
    session.flush()  # text statements do not autoflush: rows these alerts refer to must be visible
    stored = dict(session.execute(STORE_ALERTS_SQL, {
        "kinds": [s.event for s in specs], "severities": [SEVERITY.get(s.event, "warning") for s in specs],
        "keys": [s.dedupe_key for s in specs], "sku_ids": [s.sku_id for s in specs],
        "store_ids": [s.store_id for s in specs], "messages": [s.message for s in specs],
        "data": [json.dumps(s.context) for s in specs]}).tuples().all())
    alert_ids = {key: alert_id for alert_id, key in stored.items()}
    messages: list[tuple[str, str, str, str, str]] = []
    for spec in specs:
        alert_id = alert_ids.get(spec.dedupe_key)
        if alert_id is None:
            continue
        context = json.dumps(spec.context)
        for channel, recipient in _targets(spec.event, routes):
            messages.append((f"alert:{alert_id}:{channel}:{recipient}", channel, spec.template, recipient, context))
    if not messages:
        return []
    ids = {key: outbox_id for outbox_id, key in session.execute(STORE_MESSAGES_SQL, {
        "keys": [m[0] for m in messages], "channels": [m[1] for m in messages], "templates": [m[2] for m in messages],
        "recipients": [m[3] for m in messages], "contexts": [m[4] for m in messages]}).tuples()}
    return [ids[m[0]] for m in messages if m[0] in ids]


def _targets(event: str, routes: Sequence[RouteConfig]) -> list[tuple[str, str]]:
    """(channel, recipient) for every route of ``event``: its Slack hook first, then its emails.
    Two routes naming the same hook or address send one message there, not two."""
    targets: list[tuple[str, str]] = []
    for route in routes:
        if route.event == event:
            targets += ([("slack", route.slack_webhook_env)] if route.slack_webhook_env else []) + \
                [("email", email) for email in route.emails]
    return list(dict.fromkeys(targets))
