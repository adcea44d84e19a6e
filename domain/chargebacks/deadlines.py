"""A dispute's clock: the processor's evidence deadline and the reminder ladder before it, as
timer rows (``domain.core.timers``), fired by the timer sweeper.

* ``dispute.deadline`` at ``due_by``: if the evidence has not been submitted by then, the dispute
  is escalated on its case — stamped ``escalated_at``, the case marked late and one priority step
  more urgent, an ``escalated`` event in its history, and ``case.chargeback_past_due`` alerting
  the case's queue. Unlike the case's own SLA this clock does not pause while the case waits: the
  processor's deadline does not wait.
* ``dispute.reminder.N`` at ``due_by`` minus each ``[chargebacks] remind_before`` rung: while the
  evidence is not submitted, a ``reminder`` event on the case and ``case.chargeback_reminder`` to
  the case's queue, saying how long is left and what the packet still misses. A rung already past
  when the dispute arrives is not scheduled (the case's opening alert has just told the queue).

Each timer fires once; each alert's dedupe key is the dispute and rung, so a re-fired timer alerts
once. A submitted or closed dispute finds nothing to do.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from domain.cases import lifecycle
from domain.cases.sla import escalated
from domain.core import timers
from domain.core.chargeback_config import MAX_REMINDERS
from domain.core.clock import utcnow
from domain.core.models import Case, Dispute, DisputePacket, Timer
from domain.core.stages import FollowUp, Stage
from domain.messaging.alerts import raise_ops_alert

SUBJECT = "dispute"
DEADLINE = "dispute.deadline"
REMINDER_KINDS = tuple(f"dispute.reminder.{n}" for n in range(MAX_REMINDERS))
ACTOR = "chargebacks"
#: States in which the evidence has left (or no longer matters): the clock has nothing to say.
DONE = frozenset({"submitted", "won", "lost", "accepted"})


def label(seconds: int) -> str:
    """``259200`` → ``"72h"``; ``5400`` → ``"90m"``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def schedule(session: Session, dispute: Dispute, ladder: tuple[int, ...], now: datetime) -> list[int]:
    """Put the deadline and each future reminder rung at their places for ``dispute.due_by``
    (moving pending ones), cancel what no longer applies; returns the pending timer ids."""
    if dispute.due_by is None or dispute.state in DONE:
        cancel(session, dispute.id)
        return []
    ids = [timers.schedule(session, DEADLINE, SUBJECT, dispute.id, dispute.due_by)]
    stale = []
    for rung, kind in enumerate(REMINDER_KINDS):
        before = ladder[rung] if rung < len(ladder) else None
        at = dispute.due_by - timedelta(seconds=before) if before is not None else None
        if at is None or at <= now:
            stale.append(kind)
            continue
        ids.append(timers.schedule(session, kind, SUBJECT, dispute.id, at,
                                   {"before_s": before, "before": label(before or 0)}))
    if stale:
        timers.cancel(session, SUBJECT, dispute.id, kinds=tuple(stale))
    return ids


def cancel(session: Session, dispute_id: int) -> int:
    return timers.cancel(session, SUBJECT, dispute_id)


def _locked(session: Session, timer: Timer) -> tuple[Dispute, Case | None] | None:
    dispute = session.scalar(select(Dispute).where(Dispute.id == timer.subject_id).with_for_update())
    if dispute is None or dispute.state in DONE:
        return None
    case = (session.scalar(select(Case).where(Case.id == dispute.case_id).with_for_update())
            if dispute.case_id is not None else None)
    return dispute, case


def _missing(session: Session, dispute: Dispute) -> str:
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    if packet is None:
        return "the evidence packet is not built yet"
    if not packet.missing:
        return "the packet is complete"
    return "the packet still misses " + ", ".join(m["label"] for m in packet.missing)


def _title(dispute: Dispute) -> str:
    return f"{dispute.provider} dispute {dispute.dispute_ref}"


def _reminder(session: Session, timer: Timer) -> list[FollowUp]:
    found = _locked(session, timer)
    if found is None:
        return []
    dispute, case = found
    assert dispute.due_by is not None
    before = str(timer.payload.get("before") or label(int(timer.payload.get("before_s") or 0)))
    state = "approved, not yet submitted" if dispute.state == "approved" else dispute.state.replace("_", " ")
    text = (f"evidence for {_title(dispute)} is due {dispute.due_by:%Y-%m-%d %H:%M} UTC (in {before}); it is "
            f"{state}; {_missing(session, dispute)}")
    if case is None:
        return []
    lifecycle.record(session, case, ACTOR, "reminder", note=text, dispute_id=dispute.id, before=before,
                     due_by=dispute.due_by.isoformat(), dispute_state=dispute.state)
    routes = lifecycle.queue_routes(runtime_settings.current().config.notifications.routes, case.queue)
    outbox_ids = raise_ops_alert(session, "case.chargeback_reminder", f"dispute:{dispute.id}:reminder:{before}", routes,
                                 detail=f"case {case.id} (chargeback) in queue {case.queue}: {text}",
                                 title=f"case {case.id}", sku=", ".join(case.sku_codes) or "-", store_id=case.store_id)
    return [FollowUp(Stage.DELIVER, (outbox_id,)) for outbox_id in outbox_ids]


for _kind in REMINDER_KINDS:
    timers.handler(_kind)(_reminder)


@timers.handler(DEADLINE)
def _deadline(session: Session, timer: Timer) -> list[FollowUp]:
    found = _locked(session, timer)
    if found is None:
        return []
    dispute, case = found
    if dispute.escalated_at is not None:
        return []
    now = utcnow()
    dispute.escalated_at = dispute.updated_at = now
    assert dispute.due_by is not None
    text = (f"the deadline for {_title(dispute)} ({dispute.due_by:%Y-%m-%d %H:%M} UTC) passed without the evidence "
            f"submitted (dispute {dispute.state.replace('_', ' ')}; {_missing(session, dispute)}); unanswered, the "
            "dispute is lost")
    if case is None:
        return []
    before = case.priority
    if case.state != "resolved" and case.sla_breached_at is None:
        case.priority, case.sla_breached_at, case.updated_at = escalated(case.priority), now, now
    lifecycle.record(session, case, ACTOR, "escalated", note=text, now=now, dispute_id=dispute.id,
                     due_by=dispute.due_by.isoformat(), dispute_state=dispute.state, priority_from=before,
                     priority_to=case.priority)
    routes = lifecycle.queue_routes(runtime_settings.current().config.notifications.routes, case.queue)
    outbox_ids = raise_ops_alert(session, "case.chargeback_past_due", f"dispute:{dispute.id}:past_due", routes,
                                 detail=f"case {case.id} (chargeback) in queue {case.queue}, owner "
                                        f"{case.owner or 'nobody'}: {text}; priority {before} → {case.priority}",
                                 title=f"case {case.id}", sku=", ".join(case.sku_codes) or "-", store_id=case.store_id)
    return [FollowUp(Stage.DELIVER, (outbox_id,)) for outbox_id in outbox_ids]
