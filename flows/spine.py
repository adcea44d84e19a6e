"""The pipeline on one screen: stage → Celery task → queue → what follows.

This table is the source of truth for task names and queues: ``celeryconfig.task_routes`` is
built from it, ``/healthz`` takes its clock sweepers from it, and a test checks that every task
the Celery app registers is here with its queue (and every row names a registered task). The
domain names stages (``domain.core.stages``), never tasks; :func:`dispatch` is the one place a stage
becomes a message, queued on the unit of work and sent only after its commit (``tasks.base``).

Why a top-level ``flows`` part rather than ``tasks/flows.py``: what sits between a task and the
rules — driving a connector under a lease, applying stored webhooks, pacing and circuit-breaking
a provider — is neither task code (tasks stay ids in, one call, ids out) nor a rule (``domain``
keeps rules and data). ``flows`` holds that orchestration, and this module is its table of
contents. Imports point ``workers → tasks → flows → domain``, and ``flows → connectors``.

Inline stages: ``tasks.inbound.drain`` runs ``offer`` and ``evaluate`` in its own transaction
for latency; each one it runs is a ``task-stage`` event and a ``stage`` log line (see
:mod:`flows.stage_events`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import domain.cases.backorder_cases  # noqa: F401  (backorders mirrored as cases, in every process that moves them)
import domain.purchasing.merchandising  # noqa: F401  (an auto-cancel escalated to merchandising, wherever one happens)
from domain.core.stages import FollowUp, Stage

if TYPE_CHECKING:
    from celery import Celery
    from celery.canvas import Signature

log = logging.getLogger(__name__)
SYNC, DETECT, DEFAULT, NOTIFY, TIMERS = "sync", "detect", "default", "notify", "timers"


@dataclass(frozen=True)
class Flow:
    stage: Stage
    task: str
    queue: str
    then: tuple[Stage, ...] = ()
    #: > 0: the task takes a list of ids, at most this many per message; 0: one id per message.
    batch: int = 0
    #: A clock sweeper: its lateness means the clock stopped (``/healthz``).
    clock: bool = False


S = Stage
FLOWS: tuple[Flow, ...] = (
    # stage                   task                                      queue    what follows
    Flow(S.DISPATCH_POLLS,    "tasks.polling.dispatch_due",             SYNC,    (S.POLL,), clock=True),
    Flow(S.POLL,              "tasks.polling.poll_store",               SYNC,    (S.EVALUATE, S.OFFER, S.FRAUD_SCORE)),
    Flow(S.DRAIN,             "tasks.inbound.drain",                    DETECT,  (S.OFFER, S.EVALUATE, S.DELIVER, S.PUSH_STORE,
                                                                                  S.FILL, S.PLAN, S.DRAIN, S.FRAUD_SCORE,
                                                                                  S.DISPATCH_POLLS, S.RETURN_STEP,
                                                                                  S.STORE_RETURN_WRITE)),
    Flow(S.EVALUATE,          "tasks.stock.evaluate",                   DETECT,  (S.DELIVER, S.PUSH_STORE, S.FILL, S.PLAN,
                                                                                  S.EVALUATE), batch=1000),
    Flow(S.PUSH_STORE,        "tasks.channels.push_store",              SYNC,    (S.PUSH_DUE, S.PUSH_STORE, S.DELIVER)),
    Flow(S.PUSH_DUE,          "tasks.channels.push_due",                SYNC,    (S.PUSH_DUE, S.DELIVER)),
    Flow(S.PUSH,              "tasks.channels.push",                    SYNC,    (S.PUSH_DUE, S.DELIVER)),
    Flow(S.OFFER,             "tasks.followups.offer",                  DEFAULT, (S.DELIVER,)),
    Flow(S.FILL,              "tasks.followups.fill",                   DEFAULT, (S.DELIVER, S.PUSH_DUE, S.FILL)),
    Flow(S.REFUND,            "tasks.followups.refund",                 DEFAULT, (S.DELIVER,)),
    Flow(S.PLACE_SUBSTITUTE,  "tasks.followups.place_substitute",       DEFAULT, (S.DELIVER,)),
    Flow(S.FIRE_TIMERS,       "tasks.timers.fire_due",                  TIMERS,  (S.DELIVER, S.REFUND, S.PLAN, S.FIRE_TIMERS,
                                                                                  S.RENEW_SUBSCRIPTIONS), clock=True),
    Flow(S.PLAN,              "tasks.purchasing.plan_for_skus",         DEFAULT, (S.PLAN,), batch=1000),
    Flow(S.CLOSE_PO_WINDOWS,  "tasks.purchasing.close_windows",         DEFAULT, (S.SEND_PO, S.DELIVER)),
    Flow(S.SEND_PO,           "tasks.purchasing_send.send",             DEFAULT, (S.DELIVER,)),
    Flow(S.READ_ERP_RECEIPTS, "tasks.receipts.poll_erp",                SYNC,    (S.EVALUATE, S.DELIVER)),
    Flow(S.RENEW_SUBSCRIPTIONS, "tasks.subscriptions.renew",            SYNC),
    Flow(S.SCORECARD,         "tasks.purchasing.send_scorecard",        DEFAULT, (S.DELIVER,)),
    Flow(S.CSAT_SWEEP,        "tasks.csat.sweep",                       DEFAULT, (S.DELIVER,)),
    Flow(S.CSAT_REPORT,       "tasks.csat.send_report",                 DEFAULT, (S.DELIVER,)),
    Flow(S.DISPUTE_PACKET,    "tasks.disputes.build_packet",            DEFAULT, (S.DISPUTE_CALL,)),
    Flow(S.DISPUTE_CALL,      "tasks.disputes.call_provider",           DEFAULT, (S.DISPUTE_CALL,)),
    Flow(S.FRAUD_SCORE,       "tasks.fraud.score",                      DEFAULT, (S.DELIVER,), batch=200),
    Flow(S.SWEEP_FRAUD,       "tasks.fraud.sweep",                      DEFAULT, (S.FRAUD_SCORE,)),
    Flow(S.PAY_REFUND,        "tasks.payments.pay",                     DEFAULT, (S.DELIVER, S.STORE_RETURN_WRITE)),
    Flow(S.POLL_REFUND,       "tasks.payments.poll",                    DEFAULT, (S.DELIVER, S.STORE_RETURN_WRITE)),
    # A payment event's handlers (``domain.payments.events``) may return these; add a part's own stages here.
    Flow(S.APPLY_PAYMENT_EVENTS, "tasks.payments.apply_events",         DEFAULT, (S.DELIVER, S.APPLY_PAYMENT_EVENTS,
                                                                                  S.DISPUTE_PACKET, S.DISPUTE_CALL)),
    Flow(S.SWEEP_REFUNDS,     "tasks.payments.sweep",                   DEFAULT, (S.PAY_REFUND, S.POLL_REFUND,
                                                                                  S.APPLY_PAYMENT_EVENTS)),
    Flow(S.RETURN_STEP,       "tasks.returns.step",                     DEFAULT, (S.DELIVER, S.PAY_REFUND, S.EVALUATE,
                                                                                  S.PUSH_DUE, S.STORE_RETURN_WRITE)),
    Flow(S.SWEEP_RETURNS,     "tasks.returns.sweep",                    DEFAULT, (S.RETURN_STEP, S.DELIVER,
                                                                                  S.STORE_RETURN_WRITE)),
    Flow(S.STORE_RETURN_WRITE, "tasks.returns.write_store",             SYNC,    (S.STORE_RETURN_WRITE,)),
    Flow(S.DELIVER,           "tasks.notify.deliver",                   NOTIFY,  (S.DELIVER,)),
    Flow(S.DIGEST,            "tasks.stock.daily_digest",               DETECT,  (S.DELIVER,)),
    Flow(S.RECONCILE_OUTBOX,  "tasks.notify.reconcile",                 NOTIFY,  (S.DELIVER,)),
    Flow(S.SWEEP_INBOX,       "tasks.inbound.redrive",                  DETECT,  (S.DRAIN,), clock=True),
    Flow(S.SWEEP_OUTBOX,      "tasks.notify.redrive",                   NOTIFY,  (S.DELIVER,), clock=True),
    Flow(S.SWEEP_PUSHES,      "tasks.channels.sweep",                   SYNC,    (S.PUSH_STORE,), clock=True),
    Flow(S.SWEEP_EFFECTS,     "tasks.effects.sweep",                    DETECT,  (S.EVALUATE, S.FILL, S.PLAN)),
    Flow(S.SWEEP_OFFERS,      "tasks.followups.offer_stranded",         DEFAULT, (S.OFFER,)),
    Flow(S.SWEEP_SUBSTITUTES, "tasks.followups.substitutes_stranded",   DEFAULT, (S.PLACE_SUBSTITUTE,)),
    Flow(S.SWEEP_DISPUTES,    "tasks.disputes.sweep",                   DEFAULT, (S.DISPUTE_CALL, S.DISPUTE_PACKET)),
    Flow(S.IMPORT_DEAD_LETTERS, "tasks.deadletters.import_spool",       DEFAULT),
    Flow(S.PURGE_REPLAY_TOKENS, "tasks.notify.purge_replay_tokens",     NOTIFY),
    Flow(S.SHIPPING_DISPATCH, "tasks.shipping.dispatch_polls",          SYNC,    (S.SHIPPING_POLL,)),
    Flow(S.SHIPPING_POLL,     "tasks.shipping.poll_account",            SYNC,    (S.DELIVER,)),
    Flow(S.SHIPPING_DRAIN,    "tasks.shipping.drain",                   SYNC,    (S.DELIVER, S.SHIPPING_DRAIN)),
    Flow(S.SWEEP_SHIPPING_INBOX, "tasks.shipping.redrive",              SYNC,    (S.SHIPPING_DRAIN,)),
    Flow(S.TRIAGE_TICKETS,    "tasks.support.triage",                   DEFAULT, (S.DRAFT_TICKETS,), batch=100),
    # A draft may apply the ticket's answer to a backorder offer (``customer_journey.choose``, like a link click).
    Flow(S.DRAFT_TICKETS,     "tasks.support.draft",                    DEFAULT, (S.HELPDESK_WRITE_BACK, S.POST_TICKET_NOTE,
                                                                                  S.DELIVER, S.REFUND, S.PLACE_SUBSTITUTE),
         batch=100),
    Flow(S.POST_TICKET_NOTE,  "tasks.support.post_note",                DEFAULT),
    Flow(S.SWEEP_TICKETS,     "tasks.support.sweep",                    DEFAULT, (S.TRIAGE_TICKETS, S.DRAFT_TICKETS,
                                                                                  S.POST_TICKET_NOTE)),
    Flow(S.HELPDESK_DRAIN,    "tasks.helpdesks.drain",                  DEFAULT, (S.TRIAGE_TICKETS, S.HELPDESK_DRAIN)),
    Flow(S.HELPDESK_DISPATCH, "tasks.helpdesks.dispatch_polls",         SYNC,    (S.HELPDESK_POLL,)),
    Flow(S.HELPDESK_POLL,     "tasks.helpdesks.poll",                   SYNC,    (S.TRIAGE_TICKETS,)),
    Flow(S.HELPDESK_WRITE_BACK, "tasks.helpdesks.write_back",           SYNC),
    Flow(S.SWEEP_HELPDESKS,   "tasks.helpdesks.sweep",                  DEFAULT, (S.HELPDESK_DRAIN, S.HELPDESK_WRITE_BACK)),
)
BY_STAGE: dict[Stage, Flow] = {flow.stage: flow for flow in FLOWS}
BY_TASK: dict[str, Flow] = {flow.task: flow for flow in FLOWS}


def task_name(stage: Stage) -> str:
    return BY_STAGE[stage].task


def stage_of(task: str) -> Stage | None:
    """The stage a stored task name runs, or None when no row names it any more (a task renamed
    or retired since the name was stored, e.g. in a dead letter): such a name is not sent."""
    flow = BY_TASK.get(task)
    return flow.stage if flow else None


def task_routes() -> dict[str, dict[str, str]]:
    """``celeryconfig.task_routes``: each task to its stage's queue, then each task module to the
    queue all its tasks share (a task added there before it has a row lands beside them), then
    ``default``."""
    routes = {flow.task: {"queue": flow.queue} for flow in FLOWS}
    by_module: dict[str, set[str]] = {}
    for flow in FLOWS:
        by_module.setdefault(flow.task.rsplit(".", 1)[0], set()).add(flow.queue)
    routes.update({f"{module}.*": {"queue": queues.pop()} for module, queues in sorted(by_module.items())
                   if len(queues) == 1})
    routes["tasks.*"] = {"queue": DEFAULT}
    return routes


def clock_sweeps() -> tuple[str, ...]:
    """The sweepers whose lateness means the clock has stopped (``workers.health``)."""
    return tuple(flow.task for flow in FLOWS if flow.clock)


def for_ids(stage: Stage, ids: Iterable[int]) -> list[FollowUp]:
    """The follow-ups that run ``stage`` for these ids: one per id in the order given, or one per
    ``batch`` of them (sorted, so concurrent runs lock rows in the same order)."""
    size = BY_STAGE[stage].batch
    if size:
        ordered = sorted(set(ids))
        return [FollowUp(stage, (ordered[i:i + size],)) for i in range(0, len(ordered), size)]
    return [FollowUp(stage, (one,)) for one in dict.fromkeys(ids)]


def signature(stage: Stage, app: Celery | None = None) -> Signature:
    """The Celery signature of ``stage``'s task, on ``app`` or else the current app."""
    if app is None:
        from celery import current_app
        return current_app.signature(task_name(stage))
    return app.signature(task_name(stage))


def messages(follow_ups: Iterable[FollowUp], app: Celery | None = None,
             **options: Any) -> list[tuple[Signature, tuple[Any, ...], dict[str, Any]]]:
    """(signature, args, options) for each follow-up, as ``tasks.base.send_all`` sends them."""
    out = []
    for follow_up in follow_ups:
        stage = Stage(follow_up[0])  # a stage by value, or a stage member; a task name fails here
        out.append((signature(stage, app), tuple(follow_up[1]), dict(options)))
    return out


class UndeclaredFollowUp(RuntimeError):
    """A stage dispatched a follow-up its row's "what follows" does not list."""


#: ``FLOWS_STRICT=1`` (the test suite sets it): an undeclared follow-up raises instead of logging.
STRICT = os.environ.get("FLOWS_STRICT", "") == "1"


def check_follows(source: Stage | None, follow_ups: Sequence[FollowUp]) -> None:
    """Hold ``source``'s dispatches to its "what follows" column: logged, or raised when strict."""
    if source is None:
        return
    undeclared = sorted({Stage(f[0]) for f in follow_ups} - set(BY_STAGE[source].then))
    if undeclared:
        message = f"stage {source.value} dispatched {[s.value for s in undeclared]}, not in its row of flows.spine"
        if STRICT:
            raise UndeclaredFollowUp(message)
        log.warning(message)


class Enqueues(Protocol):
    """What :func:`dispatch` needs of a unit of work (``tasks.base.UnitOfWork``)."""

    @property
    def app(self) -> Celery | None: ...

    @property
    def stage(self) -> Stage | None: ...

    @property
    def after_commit(self) -> list[tuple[Any, tuple[Any, ...], dict[str, Any]]]: ...


def dispatch(uow: Enqueues, follow_ups: Sequence[FollowUp] | Iterable[FollowUp], **options: Any) -> int:
    """Queue these follow-ups on the unit of work; they are sent after its commit, in order.

    Returns how many were queued. ``options`` (e.g. ``countdown``) apply to every one. A unit of
    work opened by a task knows its stage: a follow-up missing from that stage's row is reported
    (``check_follows``)."""
    follow_ups = list(follow_ups)
    queued = messages(follow_ups, uow.app, **options)
    check_follows(uow.stage, follow_ups)
    uow.after_commit.extend(queued)
    return len(queued)


def send_now(follow_ups: Iterable[FollowUp], app: Celery | None = None) -> int:
    """Send at once, for callers with no task transaction (the CLI, the web edge) that have
    committed already; a broker error is raised to the caller."""
    sent = 0
    for sig, args, options in messages(follow_ups, app):
        sig.apply_async(args=args, **options)
        sent += 1
    return sent
