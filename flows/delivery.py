"""Sending one outbox row: one provider request per attempt at most, and the state it leads to.

The send is split into three short transactions — claim (row lock, state ``sending``), the HTTP
call with no transaction open, then record the outcome — so a slow provider never holds a
database lock, and a worker that dies mid-send leaves a ``sending`` row that the sweeper turns
into ``unknown`` instead of sending it again. Errors keep their classes
(``connectors.errors``): transient → released for a retry after the provider's ``Retry-After``
or the task's backoff; permanent → failed (and staff told of a customer message); outcome
unknown → ``unknown``, never resent on a guess (``flows.reconcile`` asks the provider).

This module decides; the task acts on the :class:`Outcome` it returns: send itself again later
without spending a retry (pacing, a circuit's short wait, a retry that woke early), or spend a
retry. Twilio error 21610 (the recipient replied STOP):
https://www.twilio.com/docs/api/errors/21610
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.errors import ConnectorError, OutcomeUnknownError, PermanentError, TransientError
from domain.core import log_context
from domain.core.clock import utcnow
from domain.core.models import OutboxMessage
from domain.core.stages import Stage
from domain.messaging import contacts, delivery_rules, outbox, senders
from domain.messaging.circuit import Permit, get_breaker
from domain.messaging.delivery_rules import Message, NotConfiguredError, ProviderSettings
from domain.messaging.rendering import RenderError
from flows import metrics
from flows.providers import (
    MAX_PACING_WAIT_S,
    MAX_RETRY_AFTER_S,
    STALE_SENDING_AFTER,
    error_text,
    message_failed_alert,
    paced_inline,
    provider_failed,
    role_for,
    sender_for,
)
from flows.spine import dispatch, for_ids
from flows.work import Transactional, UnitOfWork

log = logging.getLogger(__name__)
trail = log_context.get_logger(__name__)
#: An outbox row's context keys that name what it is about, as log fields.
SUBJECT_KEYS = {"sku": "sku", "store": "store", "order_number": "order", "order": "order",
                "backorder_id": "backorder", "po_number": "po"}


def subject_fields(context: Any) -> dict[str, Any]:
    """``{"sku": "FUT-…", "order": "#1001", "po": "PO-7"}`` from an outbox row's context: scalar
    values only (a digest's list of SKUs is not one SKU)."""
    if not isinstance(context, dict):
        return {}
    return {field: context[key] for key, field in SUBJECT_KEYS.items()
            if isinstance(context.get(key), str | int) and not isinstance(context.get(key), bool)}


@dataclass(frozen=True)
class Attempt:
    """This try of a message as the task's retry policy counts it."""

    retries: int
    """Retries spent before this try."""
    max_retries: int
    backoff_s: float
    """The task's next backoff, used when the provider named no ``Retry-After``."""

    @property
    def last(self) -> bool:
        return self.retries >= self.max_retries


@dataclass(frozen=True)
class Outcome:
    """What happened to the row, and what the task does next."""

    status: str
    """``sent``, ``skipped``, ``not-due``, ``paced``, ``deferred``, ``failed``, ``unknown`` or ``retry``."""
    again_in_s: float | None = None
    """Send this task again after this long without spending a retry."""
    retry_in_s: float | None = None
    """Spend a retry after this long (``status`` is ``retry``)."""
    error: TransientError | None = None
    """The transient error a retry is spent on."""


def retry_delay(exc: TransientError, attempt: Attempt) -> float:
    """The provider's ``Retry-After`` when it gave one (capped), else the task's backoff."""
    if exc.retry_after_s is not None:
        return min(max(exc.retry_after_s, 0.0), MAX_RETRY_AFTER_S)
    return attempt.backoff_s


def deliver(task: Transactional, outbox_id: int, attempt: Attempt) -> Outcome:
    """Send one pending row once: wait its turn, pace, respect the circuit, claim, send, record."""
    settings = ProviderSettings.from_env()
    with task.unit_of_work() as uow:
        row = uow.session.get(OutboxMessage, outbox_id)
        if row is None or row.state != "pending":
            return Outcome("skipped")
        wait = delivery_rules.seconds_until_due(uow.session, outbox_id, utcnow())
        channel, recipient, template = row.channel, row.recipient, row.template
        log_context.bind(outbox=outbox_id, template=template, channel=channel, **subject_fields(row.context))
    if wait is not None:  # a retry woke a hair early; later ones are redrive's job
        return Outcome("not-due", again_in_s=wait + 0.05 if wait <= MAX_PACING_WAIT_S else None)
    try:
        provider = settings.provider_for(channel)
    except NotConfiguredError as exc:
        return fail(task, outbox_id, str(exc), None)
    log_context.bind(provider=provider)

    pause = paced_inline(provider, role_for(channel, template))
    if pause > 0:  # pacing is not a failure: come back without spending a retry
        return Outcome("paced", again_in_s=min(pause, MAX_PACING_WAIT_S))

    permit = get_breaker().allow(provider)
    if not permit.allowed:  # the provider is failing: wait without sending and without spending a retry
        return defer(task, outbox_id, provider, permit)

    secrets = settings.secrets_for(channel, recipient)
    with task.unit_of_work() as uow:
        claimed = delivery_rules.claim_for_sending(uow.session, outbox_id, utcnow())
        if claimed is None:
            return Outcome("skipped")
        try:
            message: Message = delivery_rules.build_message(claimed, settings)
            sender = sender_for(channel, settings, recipient)
        except (NotConfiguredError, RenderError, ValueError) as exc:
            error = delivery_rules.redact(str(exc), secrets)
            delivery_rules.mark_failed(uow.session, outbox_id, error, provider=provider)
            log.error("outbox %s cannot be sent via %s: %s", outbox_id, provider, error)
            return Outcome("failed")
    return send(task, outbox_id, provider, sender, message, secrets, attempt, template)


def send(task: Transactional, outbox_id: int, provider: str, sender: Any, message: Message, secrets: list[str],
         attempt: Attempt, template: str = "") -> Outcome:
    """The provider call, outside any transaction, and the state it leads to."""
    try:
        result = sender.send(message)
    except OutcomeUnknownError as exc:
        error = error_text(exc, secrets)
        with task.unit_of_work() as uow:
            delivery_rules.mark_unknown(uow.session, outbox_id, error, provider=provider)
        provider_failed(task, provider, error)
        log.warning("outbox %s outcome unknown via %s (not resending; reconcile): %s", outbox_id, provider, error)
        metrics.sent(provider, "unknown")
        return Outcome("unknown")
    except TransientError as exc:
        error = error_text(exc, secrets)
        if exc.status_code != 429:  # 429 is pacing, not an outage: its Retry-After is the answer
            provider_failed(task, provider, error)
        if attempt.last:
            return fail(task, outbox_id, f"gave up after {attempt.retries + 1} attempts: {error}", provider)
        delay = retry_delay(exc, attempt)
        with task.unit_of_work() as uow:
            delivery_rules.release_for_retry(uow.session, outbox_id, error, retry_at=utcnow() + timedelta(seconds=delay))
        log.info("outbox %s: %s; retrying in %.1fs", outbox_id, error, delay)
        metrics.sent(provider, "retry")
        return Outcome("retry", retry_in_s=delay, error=exc)
    except (PermanentError, ConnectorError) as exc:
        get_breaker().record_success(provider)  # it answered: up, only this message is refused
        return fail(task, outbox_id, error_text(exc, secrets), provider, getattr(exc, "code", None))
    except Exception as exc:  # a bug after the request may have left: reconcile, do not loop
        error = delivery_rules.redact(f"{type(exc).__name__}: {exc}", secrets)
        with task.unit_of_work() as uow:
            delivery_rules.mark_unknown(uow.session, outbox_id, error, provider=provider)
        log.exception("outbox %s: unexpected error sending via %s; marked unknown", outbox_id, provider)
        metrics.sent(provider, "unknown")
        return Outcome("unknown")
    get_breaker().record_success(provider)
    with task.unit_of_work() as uow:
        delivery_rules.mark_sent(uow.session, outbox_id, result.provider, result.provider_message_id)
    trail.info("outbox.sent", outbox=outbox_id, template=template or None, provider=result.provider,
               provider_message_id=result.provider_message_id)
    metrics.sent(provider, "sent")
    return Outcome("sent")


def fail(task: Transactional, outbox_id: int, error: str, provider: str | None, code: object = None) -> Outcome:
    """Record the failure; a customer message that cannot be sent is also a staff alert, and a
    number the carrier reports as unsubscribed (Twilio 21610) is never texted again."""
    with task.unit_of_work() as uow:
        delivery_rules.mark_failed(uow.session, outbox_id, error, provider=provider, code=code)
        row = uow.session.get(OutboxMessage, outbox_id)
        if row is not None and senders.audience(row.template) == "customer":
            if row.channel == "sms" and str(code) == "21610":
                contacts.opt_out(uow.session, "sms", row.recipient, "carrier reports the number unsubscribed")
            dispatch(uow, for_ids(Stage.DELIVER, message_failed_alert(uow.session, row, error)))
    log.error("outbox %s failed for good via %s: %s", outbox_id, provider or "-", error)
    metrics.sent(provider, "failed")
    return Outcome("failed")


def defer(task: Transactional, outbox_id: int, provider: str, permit: Permit) -> Outcome:
    """Park the row until the circuit lets a send through; short waits come back by themselves,
    longer ones are handed back by ``redrive`` (``due_deferred``) when ``not_before`` passes."""
    with task.unit_of_work() as uow:
        delivery_rules.defer(uow.session, outbox_id, utcnow() + timedelta(seconds=permit.wait_s),
                       f"{provider} circuit {permit.state}: not attempted, deferred {permit.wait_s:.1f}s")
    log.info("outbox %s deferred %.1fs: %s circuit %s", outbox_id, permit.wait_s, provider, permit.state)
    metrics.sent(provider, "deferred")
    return Outcome("deferred", again_in_s=permit.wait_s + 0.05 if permit.wait_s <= MAX_PACING_WAIT_S else None)


def redrive(uow: UnitOfWork, now: datetime, limit: int) -> tuple[list[int], list[int]]:
    """The sweep: rows stuck in ``sending`` past the task time limit become ``unknown``; pending
    rows the broker lost and deferred rows now due are sent again. Returns (re-sent, stale)."""
    stale = delivery_rules.expire_stale_sending(uow.session, STALE_SENDING_AFTER, now)
    ids = sorted(set(outbox.stranded(uow.session, limit=limit, now=now))
                 | set(delivery_rules.due_deferred(uow.session, now, limit)))
    dispatch(uow, for_ids(Stage.DELIVER, ids))
    return ids, stale
