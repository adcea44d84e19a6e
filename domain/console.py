"""What the ops console shows, read in one place: the web page only lays it out.

Each section answers one question an operator asks on a bad morning — which SKUs are out, how
long customers have waited, whether the clock is firing, why messages are not going out, which
purchase orders wait for a human, what stopped and how to restart it, whether each store is
being polled, which order exceptions wait in which queue and which are late. The figures come
from the same functions as ``backorders status``, ``backorders why`` and ``backorders cases``
(outbox reasons, poll results, PO line reasons, case views), so the console and the CLI never
disagree. Nothing here writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from domain import status
from domain.cases import views as case_views
from domain.core.case_config import CasesConfig
from domain.core.clock import utcnow
from domain.core.models import (
    CASE_PRIORITIES,
    CASE_STATES,
    SKU_STATES,
    Backorder,
    Case,
    DeadLetter,
    InboxEvent,
    OutboxMessage,
    PurchaseOrder,
    PurchaseOrderLine,
    Sku,
    Store,
    StoreSyncLag,
    Timer,
    Vendor,
)
from domain.journey.backorders import WAITING_STATES
from domain.purchasing.reorder import explain as explain_line
from domain.stock import sync_results

#: A pending timer this far past its due time is late: the fire sweep runs every few seconds, so
#: a minute behind means the clock (beat, or the worker taking its queue) has stopped.
TIMER_LATE_AFTER = timedelta(seconds=60)
#: Rows listed one by one per section (the counts above them are always complete).
LISTED = 50
#: Unresolved cases listed on the cases page, most urgent first (its queue counts are always complete).
CASES_LISTED = 200
#: The states a case is in until it is resolved, in the order a case moves through them.
UNRESOLVED = tuple(state for state in CASE_STATES if state != "resolved")


@dataclass(frozen=True)
class AgeBucket:
    """Waiting backorders ordered between ``low_days`` and ``high_days`` ago (``None``: no upper bound)."""

    label: str
    low_days: float
    high_days: float | None


#: The chart's columns: the first day, the first week, then the weeks a customer starts to mind.
AGE_BUCKETS = (
    AgeBucket("< 1 day", 0, 1),
    AgeBucket("1–3 days", 1, 3),
    AgeBucket("3–7 days", 3, 7),
    AgeBucket("1–2 weeks", 7, 14),
    AgeBucket("2–4 weeks", 14, 28),
    AgeBucket("4+ weeks", 28, None),
)


def redrive_command(dead_letter_id: int | None = None, inbox_id: int | None = None) -> str:
    """The command that re-runs a dead letter or re-applies a quarantined webhook (``backorders redrive``)."""
    if inbox_id is not None:
        return f"backorders redrive --inbox {inbox_id}"
    return f"backorders redrive {dead_letter_id}"


def skus_by_state(session: Session) -> list[dict[str, Any]]:
    """Every SKU state in lifecycle order, zero included, so an empty column reads as zero."""
    counts = dict(session.execute(select(Sku.state, func.count()).group_by(Sku.state)).tuples().all())
    listed = [{"state": state, "count": int(counts.pop(state, 0))} for state in SKU_STATES]
    return listed + [{"state": state, "count": int(n)} for state, n in sorted(counts.items())]


def backorders_by_age(session: Session, now: datetime) -> dict[str, Any]:
    """Waiting backorders (open, notified, accepted to wait) per age bucket: rows and units, and the oldest."""
    rows = session.execute(select(Backorder.ordered_at, Backorder.quantity)
                           .where(Backorder.state.in_(WAITING_STATES))).all()
    counts, units = [0] * len(AGE_BUCKETS), [0] * len(AGE_BUCKETS)
    oldest: datetime | None = None
    for ordered_at, quantity in rows:
        age_days = max(0.0, (now - ordered_at).total_seconds() / 86400)
        for index, bucket in enumerate(AGE_BUCKETS):
            if age_days >= bucket.low_days and (bucket.high_days is None or age_days < bucket.high_days):
                counts[index] += 1
                units[index] += quantity
                break
        oldest = ordered_at if oldest is None or ordered_at < oldest else oldest
    buckets = [{"label": b.label, "count": counts[i], "units": units[i]} for i, b in enumerate(AGE_BUCKETS)]
    return {"total": len(rows), "buckets": buckets,
            "oldest_days": round((now - oldest).total_seconds() / 86400, 1) if oldest else None}


def timers(session: Session, now: datetime) -> dict[str, Any]:
    """Pending timers that are due, and those late (due over ``TIMER_LATE_AFTER`` ago), oldest first."""
    due = select(Timer).where(Timer.state == "pending", Timer.due_at <= now)
    late_at = now - TIMER_LATE_AFTER
    return {
        "pending": session.scalar(select(func.count()).where(Timer.state == "pending")) or 0,
        "due": session.scalar(select(func.count()).select_from(due.subquery())) or 0,
        "late": session.scalar(select(func.count()).where(Timer.state == "pending", Timer.due_at <= late_at)) or 0,
        "late_after_s": int(TIMER_LATE_AFTER.total_seconds()),
        "rows": [{"id": t.id, "kind": t.kind, "subject": f"{t.subject_type} {t.subject_id}",
                  "due_at": t.due_at, "overdue_s": int((now - t.due_at).total_seconds()),
                  "late": t.due_at <= late_at, "attempts": t.attempts}
                 for t in session.scalars(due.order_by(Timer.due_at).limit(LISTED))],
    }


def outbox(session: Session, now: datetime, business_timezone: str | None) -> dict[str, Any]:
    """Counts per state, then why the unsent rows wait (``status.outbox_waiting``) and the failures."""
    failed = select(OutboxMessage).where(OutboxMessage.state.in_(("failed", "suppressed")))
    return {
        "by_state": {str(k): int(v) for k, v in session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state).order_by(OutboxMessage.state))},
        "waiting": status.outbox_waiting(session, now, business_timezone),
        "failed": [{"id": m.id, "state": m.state, "channel": m.channel, "template": m.template,
                    "error": (m.last_error or "")[:300], "at": m.updated_at}
                   for m in session.scalars(failed.order_by(OutboxMessage.id.desc()).limit(LISTED))],
    }


def purchase_orders_awaiting_approval(session: Session) -> list[dict[str, Any]]:
    """POs over the auto-approve value, each line with the reason that sized it (``reorder.explain``)."""
    orders = session.execute(
        select(PurchaseOrder, Vendor.name).join(Vendor, Vendor.id == PurchaseOrder.vendor_id)
        .where(PurchaseOrder.state == "awaiting_approval").order_by(PurchaseOrder.created_at)).all()
    found = []
    for po, vendor in orders:
        lines = session.execute(
            select(PurchaseOrderLine, Sku.code).join(Sku, Sku.id == PurchaseOrderLine.sku_id)
            .where(PurchaseOrderLine.purchase_order_id == po.id).order_by(PurchaseOrderLine.id)).all()
        found.append({
            "number": po.number, "vendor": vendor, "total_cents": po.total_cents, "created_at": po.created_at,
            "lines": [{"sku": code, "quantity": line.quantity, "unit_cost_cents": line.unit_cost_cents,
                       "why": explain_line(line.reason) if line.reason else "no reason stored (added by hand)"}
                      for line, code in lines],
        })
    return found


def stopped_work(session: Session) -> dict[str, Any]:
    """Dead letters not re-driven and quarantined or failed webhooks, each with its redrive command."""
    dead = session.scalars(select(DeadLetter).where(DeadLetter.redriven_at.is_(None))
                           .order_by(DeadLetter.id.desc()).limit(LISTED))
    held = session.scalars(select(InboxEvent).where(InboxEvent.state.in_(("quarantined", "failed")))
                           .order_by(InboxEvent.id.desc()).limit(LISTED))
    return {
        "dead_letters": [{"id": d.id, "task": d.task_name, "args": d.args, "failed_at": d.failed_at,
                          "error": d.error[:300], "command": redrive_command(dead_letter_id=d.id)} for d in dead],
        "dead_letter_count": session.scalar(select(func.count()).where(DeadLetter.redriven_at.is_(None))) or 0,
        "webhooks": [{"id": e.id, "source": e.source, "topic": e.topic, "state": e.state, "received_at": e.received_at,
                      "error": (e.error or "")[:300], "command": redrive_command(inbox_id=e.id)} for e in held],
    }


def stores(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Each store: how long since its last poll, its propagation delay, and its last poll's result or error."""
    last_polls = sync_results.latest(session)
    lags = {lag.store_id: lag for lag in session.scalars(select(StoreSyncLag))}
    found = []
    for store in session.scalars(select(Store).order_by(Store.key)):
        last = last_polls.get(store.id)
        lag = lags.get(store.id)
        found.append({
            "key": store.key, "platform": store.platform, "enabled": store.enabled,
            "last_polled_at": store.last_polled_at,
            "since_poll_s": int((now - store.last_polled_at).total_seconds()) if store.last_polled_at else None,
            "poll_interval_s": store.poll_interval_s,
            "overdue": store.enabled and (store.last_polled_at is None
                                          or now - store.last_polled_at > timedelta(seconds=store.poll_interval_s * 2)),
            "delay_s": round(lag.delay_s, 1) if lag else None,
            "ok": None if last is None else bool(last["ok"]), "error": last.get("error") if last else None,
            "line": sync_results.one_line(store.key, last).removeprefix(store.key).strip(),
        })
    return found


def helpdesks(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Each helpdesk: how long since its reconciliation poll, its last error, deliveries and write-backs waiting."""
    from domain.helpdesks import views as helpdesk_views

    found = []
    for row in helpdesk_views.states(session):
        polled = datetime.fromisoformat(row["last_polled_at"]) if row["last_polled_at"] else None
        found.append({**row, "last_polled_at": polled,
                      "since_poll_s": int((now - polled).total_seconds()) if polled else None,
                      "overdue": row["enabled"] and (polled is None or now - polled
                                                     > timedelta(seconds=row["poll_interval_s"] * 2))})
    return found


def _late(now: datetime) -> Any:
    """A case is late once its SLA timer has fired (``sla_breached_at``), or when it is due and its
    clock runs (open or in progress) although the timer has not fired yet (the sweep is behind)."""
    return or_(Case.sla_breached_at.is_not(None),
               and_(Case.state.in_(("open", "in_progress")), Case.sla_due_at <= now))


def case_queues(session: Session, now: datetime, listed: int = CASES_LISTED) -> dict[str, Any]:
    """Every queue holding unresolved cases: counts by state and by priority, how many are late, and
    its oldest unresolved case; then the unresolved cases themselves, most urgent first, each
    flagged late or not (``domain.cases.views.list_cases`` orders them, as ``backorders cases list``)."""
    late = _late(now)
    grouped = session.execute(
        select(Case.queue, Case.state, Case.priority, func.count(), func.count().filter(late))
        .where(Case.state != "resolved").group_by(Case.queue, Case.state, Case.priority)).tuples().all()
    queues: dict[str, dict[str, Any]] = {}
    for queue, state, priority, count, late_count in grouped:
        row = queues.setdefault(queue, {"queue": queue, "total": 0, "late": 0, "oldest": None,
                                        "by_state": dict.fromkeys(UNRESOLVED, 0),
                                        "by_priority": dict.fromkeys(CASE_PRIORITIES, 0)})
        row["total"] += count
        row["late"] += late_count
        row["by_state"][state] = row["by_state"].get(state, 0) + count
        row["by_priority"][priority] = row["by_priority"].get(priority, 0) + count
    oldest = session.execute(
        select(Case.queue, Case.id, Case.kind, Case.created_at).where(Case.state != "resolved")
        .distinct(Case.queue).order_by(Case.queue, Case.created_at, Case.id)).tuples().all()
    for queue, case_id, kind, created_at in oldest:
        queues[queue]["oldest"] = {"id": case_id, "kind": kind, "opened_at": created_at,
                                   "age_s": int((now - created_at).total_seconds())}
    late_ids = set(session.scalars(select(Case.id).where(Case.state != "resolved", late)))
    cases = [row | {"late": row["id"] in late_ids,
                    "due_in_s": int((datetime.fromisoformat(row["sla_due_at"]) - now).total_seconds())}
             for row in case_views.list_cases(session, limit=listed)]
    rows = sorted(queues.values(), key=lambda q: (-q["late"], -q["total"], q["queue"]))
    return {"total": sum(q["total"] for q in rows), "late": sum(q["late"] for q in rows), "queues": rows,
            "by_state": {state: sum(q["by_state"][state] for q in rows) for state in UNRESOLVED},
            "cases": cases, "listed": listed}


def case_page(session: Session, case_id: int, config: CasesConfig, now: datetime | None = None) -> dict[str, Any] | None:
    """One case as ``backorders cases show`` prints it — why it is open, its playbook, its history —
    with whether it is late and the commands that assign or resolve it; None if there is no such case."""
    now = now or utcnow()
    found = case_views.show(session, case_id, config)
    if found is None:
        return None
    late = session.scalar(select(func.count()).where(Case.id == case_id, Case.state != "resolved", _late(now)))
    return found | {"late": bool(late), "at": now,
                    "commands": [f"backorders cases assign {case_id} OWNER",
                                 f"backorders cases resolve {case_id} --note \"what was done\""]}


def overview(session: Session, now: datetime | None = None, business_timezone: str | None = None) -> dict[str, Any]:
    """Every section of the console, read in one transaction at ``now``."""
    now = now or utcnow()
    return {
        "at": now,
        "skus_by_state": skus_by_state(session),
        "backorders_by_age": backorders_by_age(session, now),
        "timers": timers(session, now),
        "outbox": outbox(session, now, business_timezone),
        "purchase_orders": purchase_orders_awaiting_approval(session),
        "stopped": stopped_work(session),
        "stores": stores(session, now),
        "helpdesks": helpdesks(session, now),
        "cases": case_queues(session, now, listed=0),
    }
