"""Staff alerts for stock transitions: the facts behind each one, its one-line message, and the
alert stored once per transition (its dedupe key is the transition id).

``domain.messaging.alerts`` stores alerts and fans them out; what a stock transition's alert says —
the SKU, its figures, where it is stocked and which channels sell it — is a stock matter, so it
lives here, beside detection.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.core.business_config import RouteConfig
from domain.messaging.alerts import AlertSpec, raise_alerts
from domain.stock.detection import Transition

SKUS_SQL = text("SELECT id, code, title FROM skus WHERE id = ANY(CAST(:sku_ids AS int[]))")

LOCATIONS_SQL = text("""
SELECT DISTINCT ON (sl.sku_id, l.name) sl.sku_id, l.name, sl.available
  FROM stock_levels sl JOIN locations l ON l.id = sl.location_id
 WHERE sl.sku_id = ANY(:sku_ids)
 ORDER BY sl.sku_id, l.name, sl.updated_at DESC
""")

CHANNELS_SQL = text("""
SELECT cl.sku_id, s.name
  FROM channel_listings cl JOIN stores s ON s.id = cl.store_id
 WHERE cl.sku_id = ANY(:sku_ids) AND s.sells AND s.enabled
 ORDER BY cl.sku_id, s.name
""")


def transition_contexts(session: Session, transitions: Sequence[Transition], detail: str = ""
                        ) -> list[dict[str, Any]]:
    """The facts a person needs for each transition: what happened, the numbers, where, and which
    channels sell it. Three statements for the whole list, whatever its length."""
    sku_ids = sorted({t.sku_id for t in transitions})
    if not sku_ids:
        return []
    skus = {row.id: row for row in session.execute(SKUS_SQL, {"sku_ids": sku_ids}).all()}
    locations: dict[int, list[dict[str, Any]]] = {sku_id: [] for sku_id in sku_ids}
    for sku_id, name, available in session.execute(LOCATIONS_SQL, {"sku_ids": sku_ids}):
        locations[sku_id].append({"name": name, "available": available})
    channels: dict[int, list[str]] = {sku_id: [] for sku_id in sku_ids}
    for sku_id, name in session.execute(CHANNELS_SQL, {"sku_ids": sku_ids}):
        channels[sku_id].append(name)
    contexts = []
    for transition in transitions:
        sku, numbers = skus[transition.sku_id], transition.numbers
        context = {
            "event": transition.event, "sku": sku.code, "title": sku.title, "from_state": transition.from_state,
            "to_state": transition.to_state, "available": numbers.available, "threshold": numbers.threshold,
            "open_demand": numbers.open_demand, "locations": list(locations[transition.sku_id]),
            "channels": list(channels[transition.sku_id]), "detail": detail,
        }
        if transition.to_state == "OVERSELL_RISK":
            context.update(on_hand=numbers.on_hand, orders=list(numbers.orders), orders_total=numbers.orders_total,
                           rule="open unfulfilled quantity >= on hand")
        if numbers.location is not None:
            context["location"] = dict(numbers.location)
        contexts.append(context)
    return contexts


def transition_message(transition: Transition, context: dict[str, Any]) -> str:
    """The alert's one-line message: the change and the figures that caused it."""
    head = f"{context['sku']} ({context['title']})"
    location = context.get("location")
    if location is not None:
        return (f"{head}: {location['name']} {location['from_state']} → {location['to_state']}, "
                f"{location['available']} there (threshold {location['threshold']}, "
                f"from {location['threshold_source']}); {context['available']} available in all")
    if transition.to_state == "OVERSELL_RISK":
        named = ", ".join(f"{o['number']} ({o['store']}) × {o['quantity']}" for o in context["orders"])
        more = context["orders_total"] - len(context["orders"])
        return (f"{head}: oversell risk, {context['open_demand']} units on open unfulfilled orders "
                f">= {context['on_hand']} on hand; orders {named}" + (f" and {more} more" if more > 0 else ""))
    return (f"{head}: {transition.from_state} → {transition.to_state}, "
            f"available {context['available']}, open demand {context['open_demand']}")


def transition_context(session: Session, transition: Transition, detail: str = "") -> dict[str, Any]:
    """The context of one transition (see ``transition_contexts``)."""
    return transition_contexts(session, [transition], detail)[0]


def alerts_for_transitions(session: Session, transitions: Sequence[Transition], routes: Sequence[RouteConfig]
                           ) -> list[int]:
    """Alert every transition that raises an event, set-based; returns the new outbox ids."""
    alerting = [t for t in transitions if t.event is not None]
    specs = []
    for transition, context in zip(alerting, transition_contexts(session, alerting)):
        message = transition_message(transition, context)
        specs.append(AlertSpec(str(transition.event), f"transition:{transition.id}", message, context,
                               sku_id=transition.sku_id))
    return raise_alerts(session, specs, routes)


def alert_for_transition(session: Session, transition: Transition, routes: Sequence[RouteConfig]) -> list[int]:
    return alerts_for_transitions(session, [transition], routes)
