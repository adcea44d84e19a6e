"""Surveys: asked once per resolved subject, answered by a signed link, a negative answer acted on.

``sweep`` (beat, ``tasks.csat.sweep``) asks every subject its source lists (``domain.csat.sources``)
once: the ``csat_requests`` row is inserted on the unique (kind, subject) and its email is an
outbox row keyed by the row's id, so a sweep run twice, or two workers at once, ask once.

``answer`` records a score (1–5) and an optional comment on the row itself: a second click changes
the answer and counts the click, never adds a row. The first time the answer is negative
(``[csat] negative_at_most``, default 2) the first matching ``[[csat.rules]]`` decides, once:
``reopen`` the case, open a ``csat_follow_up`` case in a queue, or ``alert`` (``csat.negative``);
the decision and the rule are stored on the row and in the case's history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.cases import lifecycle
from domain.core import audit
from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.csat_config import CsatRule
from domain.core.models import Case, CsatRequest
from domain.csat.sources import SOURCES, Resolved
from domain.journey.links import sign_csat_link
from domain.messaging import contacts, outbox
from domain.messaging.alerts import raise_ops_alert

TEMPLATE = "csat_request"
#: Only subjects resolved this recently are surveyed (a new deployment does not survey history).
LOOKBACK = timedelta(days=7)
SCORES = (1, 2, 3, 4, 5)
MAX_COMMENT = 2000


class SurveyError(ValueError):
    """No such survey, or an answer out of range."""


def link(base_url: str, secret: str, request: CsatRequest) -> str:
    return f"{base_url}/csat/{sign_csat_link(secret, request.id, int(request.expires_at.timestamp()))}"


def score_urls(url: str) -> dict[str, str]:
    """The email's five buttons: the survey link with ``?score=N`` (the score is not signed)."""
    return {str(n): f"{url}?score={n}" for n in SCORES}


def open_for(session: Session, found: Resolved, config: BusinessConfig, now: datetime) -> CsatRequest:
    """The subject's survey row, inserted once on the unique (kind, subject): a second call (or a
    sweep that raced it) gets the same row. Its recipient is NULL when there is no valid address."""
    session.execute(insert(CsatRequest).values(
        subject_kind=found.kind, subject_id=found.subject_id, store_id=found.store_id, order_id=found.order_id,
        queue=found.queue, intent=found.intent, resolved_by=found.resolved_by, resolution=found.resolution,
        resolved_at=found.resolved_at, recipient=contacts.valid_email(found.email),
        expires_at=now + timedelta(seconds=config.csat.link_lifetime_s),
    ).on_conflict_do_nothing(index_elements=["subject_kind", "subject_id"]))
    request = session.scalar(select(CsatRequest).where(CsatRequest.subject_kind == found.kind,
                                                       CsatRequest.subject_id == found.subject_id))
    assert request is not None
    return request


def _ask(session: Session, found: Resolved, config: BusinessConfig, base_url: str, secret: str,
         now: datetime) -> int | None:
    """The survey row (once per subject) and its email; returns the outbox id to deliver."""
    request = open_for(session, found, config, now)
    recipient = request.recipient
    if request.outbox_id is not None or recipient is None:
        return None  # asked before, or nobody to ask (the row says so: recipient NULL)
    url = link(base_url, secret, request)
    suppressed = "opted out" if contacts.opted_out(session, "email", recipient) else None
    outbox_id = outbox.enqueue(
        session, idempotency_key=f"csat:{request.id}:ask", channel="email", template=TEMPLATE, recipient=recipient,
        context={"store_name": config.name, "customer_name": found.customer_name or "",
                 "order_number": found.order_number or "", "subject_kind": found.kind, "subject_id": found.subject_id,
                 "resolution": found.resolution, "survey_url": url, "score_urls": score_urls(url)},
        suppressed_because=suppressed)
    request.outbox_id = outbox_id
    return None if suppressed else outbox_id


def sweep(session: Session, config: BusinessConfig, base_url: str, secret: str, now: datetime | None = None
          ) -> list[int]:
    """Ask every recently resolved subject of the surveyed kinds; returns outbox ids to deliver."""
    now = now or utcnow()
    ids: list[int] = []
    for kind in config.csat.kinds:
        fn = SOURCES.get(kind)
        if fn is None:
            continue  # a kind whose module is not part of this deployment yet
        for found in fn(session, now - LOOKBACK, now):
            outbox_id = _ask(session, found, config, base_url, secret, now)
            if outbox_id is not None:
                ids.append(outbox_id)
    return ids


@dataclass(frozen=True)
class Answered:
    request_id: int
    score: int
    changed: bool
    decision: str | None
    follow_up_ids: tuple[int, ...] = ()


def rule_for(config: BusinessConfig, request: CsatRequest) -> tuple[int, CsatRule]:
    for index, rule in enumerate(config.csat.rules):
        if rule.matches(request.subject_kind, request.queue, request.intent):
            return index, rule
    return -1, CsatRule("alert")


def lock(session: Session, request_id: int) -> CsatRequest:
    request = session.scalar(select(CsatRequest).where(CsatRequest.id == request_id).with_for_update())
    if request is None:
        raise SurveyError(f"no survey {request_id}")
    return request


def answer(session: Session, request_id: int, score: int, comment: str | None, config: BusinessConfig,
           *, now: datetime | None = None) -> Answered:
    """Record (or change) the answer; a first negative answer is acted on by policy, once."""
    if score not in SCORES:
        raise SurveyError(f"score {score!r} is not 1-5")
    now = now or utcnow()
    request = lock(session, request_id)
    comment = (comment or "").strip()[:MAX_COMMENT] or None
    changed = request.score is not None and (request.score, request.comment) != (score, comment)
    previous = request.score
    request.score, request.answered_at = score, now
    if comment is not None:  # a blank comment on a changed score keeps the earlier one
        request.comment = comment
    request.first_answered_at = request.first_answered_at or now
    request.answer_count += 1
    audit.record(session, "customer", "csat.answered", "csat_request", request.id, score=score, previous=previous,
                 comment=bool(comment), subject=f"{request.subject_kind}:{request.subject_id}")
    follow_ups: list[int] = []
    if score <= config.csat.negative_at_most and request.decision is None:
        follow_ups = _act(session, request, config, now)
    return Answered(request.id, score, changed, request.decision, tuple(follow_ups))


def _act(session: Session, request: CsatRequest, config: BusinessConfig, now: datetime) -> list[int]:
    """Apply the first matching rule to a negative answer; returns outbox ids (alerts) to deliver."""
    index, rule = rule_for(config, request)
    action = rule.action
    case = session.get(Case, request.subject_id) if request.subject_kind == "case" else None
    if action == "reopen" and (case is None or case.state != "resolved"):
        action = "follow_up"  # nothing to reopen (not a case, or reopened already): a follow-up instead
    detail: dict[str, Any] = {"csat_rule_index": index, "rule": rule.as_dict(), "score": request.score,
                              "threshold": config.csat.negative_at_most, "decision": action,
                              "from_defaults": not config.csat.rules_from_file}
    subject = f"{request.subject_kind} {request.subject_id}"
    message = (f"negative satisfaction ({request.score}/5) on {subject} (queue {request.queue}, "
               f"{request.intent}, resolved by {request.resolved_by})")
    outbox_ids: list[int] = []
    if action == "reopen":
        assert case is not None
        lifecycle.reopen(session, case, actor="csat", note=message, now=now, csat_request_id=request.id, **detail)
        request.follow_up_case_id = case.id
    elif action == "follow_up":
        follow_up = lifecycle.open_case(session, lifecycle.NewCase(
            kind="csat_follow_up", subject_type="csat_request", subject_id=request.id, summary=message,
            order_id=request.order_id, store_id=request.store_id,
            detail={"csat_request_id": request.id, "comment": request.comment or "", "csat_rule": detail}),
            config, actor="csat", now=now, alert=False)
        if follow_up.queue != rule.queue:  # the rule names the queue; routing only gave the defaults
            lifecycle.record(session, follow_up, "csat", "requeued", note=f"{follow_up.queue} → {rule.queue}",
                             now=now, previous_queue=follow_up.queue, queue=rule.queue)
            follow_up.queue = rule.queue
        request.follow_up_case_id = follow_up.id
        outbox_ids += lifecycle.opened_alert_messages(session, follow_up.id)
    if action in ("alert", "follow_up"):
        outbox_ids += raise_ops_alert(session, "csat.negative", f"csat:{request.id}:negative",
                                      lifecycle.queue_routes(config.notifications.routes, rule.queue
                                                             if action == "follow_up" else request.queue),
                                      detail=message + (f": {request.comment}" if request.comment else ""),
                                      title=f"survey {request.id}")
    request.decision, request.decision_rule, request.decided_at = action, detail, now
    audit.record(session, "csat", "csat.decided", "csat_request", request.id, **detail)
    return outbox_ids
