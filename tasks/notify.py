"""Outbound notifications: one outbox row in, at most one provider request per attempt out.

``deliver`` is deliberately split into three short transactions — claim (row lock, state
``sending``), the HTTP call with no transaction open, then record the outcome — so a slow provider
never holds a database lock, and a worker that dies mid-send leaves a ``sending`` row that the
sweeper turns into ``unknown`` instead of sending it again. ``redrive`` is the sweeper.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from connectors.errors import ConnectorError, OutcomeUnknownError, PermanentError, TransientError
from domain.core.clock import utcnow
from domain.core.models import OutboxMessage
from domain.core.stages import Stage
from domain.messaging import contacts, delivery_rules, outbox, replay
from domain.messaging.circuit import Permit, get_breaker
from domain.messaging.delivery_rules import Message, NotConfiguredError, ProviderSettings
from domain.messaging.rendering import RenderError
from flows.delivery import (
    MAX_PACING_WAIT_S,
    MAX_RETRY_AFTER_S,
    STALE_SENDING_AFTER,
    error_text,
    paced_inline,
    sender_for,
    circuit_open_alert,
    message_failed_alert,
    provider_failed,
    role_for,
)
from flows.spine import dispatch, for_ids
from tasks.base import DbTask

__all__ = ["circuit_open_alert", "deliver", "message_failed_alert", "reconcile", "redrive", "role_for"]

log = logging.getLogger(__name__)

def _retry_delay(task: DbTask, exc: TransientError) -> float:
    """The provider's ``Retry-After`` when it gave one, else the task's backoff with full jitter."""
    if exc.retry_after_s is not None:
        return min(max(exc.retry_after_s, 0.0), MAX_RETRY_AFTER_S)
    return float(get_exponential_backoff_interval(
        factor=int(task.retry_backoff), retries=task.request.retries, maximum=int(task.retry_backoff_max),
        full_jitter=bool(task.retry_jitter)))


def _fail(task: DbTask, outbox_id: int, error: str, provider: str | None, code: object = None) -> str:
    """Record the failure; a customer message that cannot be sent is also a staff alert, and a
    number the carrier reports as unsubscribed (Twilio 21610) is never texted again."""
    with task.unit_of_work() as uow:
        delivery_rules.mark_failed(uow.session, outbox_id, error, provider=provider, code=code)
        row = uow.session.get(OutboxMessage, outbox_id)
        if row is not None and row.template.startswith("backorder_"):
            if row.channel == "sms" and str(code) == "21610":
                contacts.opt_out(uow.session, "sms", row.recipient, "carrier reports the number unsubscribed")
            dispatch(uow, for_ids(Stage.DELIVER, message_failed_alert(uow.session, row, error)))
    log.error("outbox %s failed for good via %s: %s", outbox_id, provider or "-", error)
    return "failed"


@shared_task(base=DbTask, bind=True, name="tasks.notify.deliver")
def deliver(self: DbTask, outbox_id: int) -> str:
    """Send one outbox row once; returns what happened (for logs and tests)."""
    settings = ProviderSettings.from_env()
    with self.unit_of_work() as uow:
        row = uow.session.get(OutboxMessage, outbox_id)
        if row is None or row.state != "pending":
            return "skipped"
        wait = delivery_rules.seconds_until_due(uow.session, outbox_id, utcnow())
        channel, recipient, template = row.channel, row.recipient, row.template
    if wait is not None:
        if wait <= MAX_PACING_WAIT_S:  # a retry woke a hair early; later ones are redrive's job
            self.signature_from_request(countdown=wait + 0.05, retries=self.request.retries).apply_async()
        return "not-due"
    try:
        provider = settings.provider_for(channel)
    except NotConfiguredError as exc:
        return _fail(self, outbox_id, str(exc), None)

    pause = paced_inline(provider, role_for(channel, template))
    if pause > 0:  # pacing is not a failure: come back without spending a retry
        self.signature_from_request(countdown=min(pause, MAX_PACING_WAIT_S),
                                    retries=self.request.retries).apply_async()
        return "paced"

    permit = get_breaker().allow(provider)
    if not permit.allowed:  # the provider is failing: wait without sending and without spending a retry
        return _defer(self, outbox_id, provider, permit)

    secrets = settings.secrets_for(channel, recipient)
    with self.unit_of_work() as uow:
        row = delivery_rules.claim_for_sending(uow.session, outbox_id, utcnow())
        if row is None:
            return "skipped"
        try:
            message: Message = delivery_rules.build_message(row, settings)
            sender = sender_for(channel, settings, recipient)
        except (NotConfiguredError, RenderError, ValueError) as exc:
            error = delivery_rules.redact(str(exc), secrets)
            delivery_rules.mark_failed(uow.session, outbox_id, error, provider=provider)
            log.error("outbox %s cannot be sent via %s: %s", outbox_id, provider, error)
            return "failed"
    return _send(self, outbox_id, provider, sender, message, secrets, template)


def _defer(task: DbTask, outbox_id: int, provider: str, permit: Permit) -> str:
    """Park the row until the circuit lets a send through; short waits come back by themselves,
    longer ones are handed back by ``redrive`` (``due_deferred``) when ``not_before`` passes."""
    with task.unit_of_work() as uow:
        delivery_rules.defer(uow.session, outbox_id, utcnow() + timedelta(seconds=permit.wait_s),
                       f"{provider} circuit {permit.state}: not attempted, deferred {permit.wait_s:.1f}s")
    if permit.wait_s <= MAX_PACING_WAIT_S:
        task.signature_from_request(countdown=permit.wait_s + 0.05, retries=task.request.retries).apply_async()
    log.info("outbox %s deferred %.1fs: %s circuit %s", outbox_id, permit.wait_s, provider, permit.state)
    return "deferred"


def _send(task: DbTask, outbox_id: int, provider: str, sender: Any, message: Message, secrets: list[str],
          template: str = "") -> str:
    """The provider call, outside any transaction, and the state it leads to."""
    try:
        result = sender.send(message)
    except OutcomeUnknownError as exc:
        error = error_text(exc, secrets)
        with task.unit_of_work() as uow:
            delivery_rules.mark_unknown(uow.session, outbox_id, error, provider=provider)
        provider_failed(task, provider, error)
        log.warning("outbox %s outcome unknown via %s (not resending; reconcile): %s", outbox_id, provider, error)
        return "unknown"
    except TransientError as exc:
        error = error_text(exc, secrets)
        if exc.status_code != 429:  # 429 is pacing, not an outage: its Retry-After is the answer
            provider_failed(task, provider, error)
        if task.request.retries >= task.max_retries:
            return _fail(task, outbox_id, f"gave up after {task.request.retries + 1} attempts: {error}", provider)
        delay = _retry_delay(task, exc)
        with task.unit_of_work() as uow:
            delivery_rules.release_for_retry(uow.session, outbox_id, error, retry_at=utcnow() + timedelta(seconds=delay))
        log.info("outbox %s: %s; retrying in %.1fs", outbox_id, error, delay)
        raise task.retry(countdown=delay, exc=exc)
    except (PermanentError, ConnectorError) as exc:
        get_breaker().record_success(provider)  # it answered: up, only this message is refused
        return _fail(task, outbox_id, error_text(exc, secrets), provider, getattr(exc, "code", None))
    except Exception as exc:  # a bug after the request may have left: reconcile, do not loop
        error = delivery_rules.redact(f"{type(exc).__name__}: {exc}", secrets)
        with task.unit_of_work() as uow:
            delivery_rules.mark_unknown(uow.session, outbox_id, error, provider=provider)
        log.exception("outbox %s: unexpected error sending via %s; marked unknown", outbox_id, provider)
        return "unknown"
    get_breaker().record_success(provider)
    with task.unit_of_work() as uow:
        delivery_rules.mark_sent(uow.session, outbox_id, result.provider, result.provider_message_id)
    log.info("outbox %s (%s) sent via %s as %s", outbox_id, template or "-", result.provider,
             result.provider_message_id)
    return "sent"


@shared_task(base=DbTask, bind=True, name="tasks.notify.redrive")
def redrive(self: DbTask, limit: int = 500) -> int:
    """Beat's sweeper: re-enqueue pending rows the broker lost and deferred rows now due.

    ``unknown`` rows are never picked up here: they wait for a provider callback or an operator.
    Rows stuck in ``sending`` past the task time limit become ``unknown`` for the same reason.
    """
    now = utcnow()
    with self.unit_of_work() as uow:
        stale = delivery_rules.expire_stale_sending(uow.session, STALE_SENDING_AFTER, now)
        ids = sorted(set(outbox.stranded(uow.session, limit=limit, now=now))
                     | set(delivery_rules.due_deferred(uow.session, now, limit)))
        dispatch(uow, for_ids(Stage.DELIVER, ids))
    if stale:
        log.warning("outbox rows %s were stuck in sending; marked unknown", stale)
    return len(ids)


RECONCILE_AFTER = timedelta(seconds=float(os.environ.get("NOTIFY_RECONCILE_AFTER_S", "600")))
"""How long an ``unknown`` row waits for the provider's own callback before we ask the provider."""


def _reconcile_one(task: DbTask, settings: ProviderSettings, outbox_id: int) -> str:
    """Ask the provider whether it holds this message; settle, send again, or tell staff once."""
    with task.unit_of_work() as uow:
        row = uow.session.get(OutboxMessage, outbox_id)
        if row is None or row.state != "unknown":
            return "settled"
        seen_at, since, channel, recipient = row.updated_at, row.created_at, row.channel, row.recipient
        try:
            provider = settings.provider_for(channel)
            message = delivery_rules.build_message(row, settings)
            sender = sender_for(channel, settings, recipient)
        except (NotConfiguredError, RenderError, ValueError) as exc:
            log.warning("outbox %s cannot be reconciled: %s", outbox_id, exc)
            return "unsupported"
        lookup = getattr(sender, "find_sent", None)
        if lookup is None:  # Slack webhooks, SendGrid without the activity add-on: a person decides
            dispatch(uow, for_ids(Stage.DELIVER, message_failed_alert(
                uow.session, row, f"{provider} has no way to look the message up; outcome unknown "
                                  f"({row.last_error or 'no answer'}). Check and resend by hand if needed")))
            return "unsupported"
    secrets = settings.secrets_for(channel, recipient)
    try:
        found = lookup(message, since)
    except ConnectorError as exc:
        log.warning("outbox %s: could not ask %s: %s", outbox_id, provider, error_text(exc, secrets))
        return "later"
    with task.unit_of_work() as uow:
        if found.found:
            done = delivery_rules.settle_unknown(uow.session, outbox_id, seen_at, provider, found.provider_message_id)
            return "sent" if done else "settled"
        if not found.conclusive:
            return "later"
        if delivery_rules.release_unknown(uow.session, outbox_id, seen_at, provider):
            dispatch(uow, for_ids(Stage.DELIVER, [outbox_id]))
            return "resend"
    return "settled"


@shared_task(base=DbTask, bind=True, name="tasks.notify.reconcile")
def reconcile(self: DbTask, limit: int = 100) -> dict[str, int]:
    """Beat: settle ``unknown`` rows from the provider's own records. Found → ``sent``; absent
    from records read in full → sent again (the first request never reached the provider);
    a provider with no lookup → staff told once. Never a resend on a guess."""
    settings = ProviderSettings.from_env()
    with self.unit_of_work() as uow:
        ids = delivery_rules.unknown_due(uow.session, utcnow(), RECONCILE_AFTER, limit)
    outcomes: dict[str, int] = {}
    for outbox_id in ids:
        outcome = _reconcile_one(self, settings, outbox_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if ids:
        log.info("reconciled unknown outbox rows: %s", outcomes)
    return outcomes


@shared_task(base=DbTask, bind=True, name="tasks.notify.purge_replay_tokens")
def purge_replay_tokens(self: DbTask, limit: int = 10_000) -> int:
    """Beat's sweeper: delete callback tokens past their validity window (``domain.messaging.replay``)."""
    with self.unit_of_work() as uow:
        return replay.purge_expired(uow.session, limit=limit)
