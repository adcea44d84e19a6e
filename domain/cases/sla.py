"""A case's SLA timer firing: the case is late. Alert the queue (``case.sla_breached``) and escalate.

Escalating moves the priority one step towards ``urgent`` and stamps ``sla_breached_at``. The
timer is a row that fires once; the alert's dedupe key is the case, so even a re-fired timer
alerts once. A case resolved meanwhile (its timer cancelled, or the sweeper holding the timer
when it was) finds nothing to do.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from domain.core import timers
from domain.core.clock import utcnow
from domain.core.models import CASE_PRIORITIES, Case, Timer
from domain.core.stages import FollowUp, Stage
from domain.cases.lifecycle import SLA_TIMER, queue_routes, record
from domain.messaging.alerts import raise_ops_alert


def escalated(priority: str) -> str:
    """One step more urgent; ``urgent`` stays ``urgent``."""
    return CASE_PRIORITIES[max(CASE_PRIORITIES.index(priority) - 1, 0)]


@timers.handler(SLA_TIMER)
def _breached(session: Session, timer: Timer) -> list[FollowUp]:
    case = session.scalar(select(Case).where(Case.id == timer.subject_id).with_for_update())
    if case is None or case.state == "resolved" or case.sla_breached_at is not None:
        return []
    now = utcnow()
    before, case.priority = case.priority, escalated(case.priority)
    case.sla_breached_at = case.updated_at = now
    record(session, case, "sla", "sla_breached", now=now, due_at=case.sla_due_at.isoformat(),
           priority_from=before, priority_to=case.priority)
    routes = runtime_settings.current().config.notifications.routes
    owner = case.owner or "nobody"
    outbox_ids = raise_ops_alert(
        session, "case.sla_breached", f"case:{case.id}:sla_breached", queue_routes(routes, case.queue),
        detail=f"case {case.id} ({case.kind}) in queue {case.queue} missed its SLA "
               f"({case.sla_due_at:%Y-%m-%d %H:%M} UTC); owner {owner}; priority {before} → {case.priority}",
        title=f"case {case.id}", sku=", ".join(case.sku_codes) or "-", store_id=case.store_id)
    return [FollowUp(Stage.DELIVER, (outbox_id,)) for outbox_id in outbox_ids]
