"""A messaging provider as the sending side sees it: kept senders, pacing and its circuit.

What ``flows.delivery`` (send one outbox row) and ``flows.reconcile`` (settle an unknown one)
lean on: a sender per provider setting kept per process (building one costs more than a send),
a send token from the fleet-wide pacer taken inline for short pauses, the provider's circuit
(``domain.messaging.circuit``), and the staff alerts a failing message or provider raises (through
``domain.messaging.alerts.raise_ops_alert``).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from connectors.messaging import registry
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.models import OutboxMessage
from domain.core.ratelimit import Role, get_limiter
from domain.core.stages import Stage
from domain.messaging import alerts, delivery_rules, senders
from domain.messaging.circuit import get_breaker
from domain.messaging.delivery_rules import ProviderSettings
from flows.spine import dispatch, for_ids
from flows.work import Transactional

MAX_PACING_WAIT_S = 5.0
"""A paced task comes back after at most this long (broker countdowns stay short)."""
MAX_RETRY_AFTER_S = 300.0
INLINE_PACING_WAIT_S = 0.5
"""A pacing pause this short is slept in the worker instead of a trip through the broker."""
MAX_INLINE_PACING_ROUNDS = 4
STAFF_YIELD_S = 0.05
"""How long a staff or vendor email/SMS waits before asking for a token, so a customer notice
written in the same commit and picked up by the other notify process asks first."""
STALE_SENDING_AFTER = timedelta(minutes=20)
"""Longer than the task hard time limit (15 min): a row still ``sending`` after it has no worker."""


#: Senders kept per process and settings. Building one is not free — the Mailgun SDK makes an
#: SSL context per adapter, about 70 ms of CPU, more than a send takes — and a kept sender reuses
#: its keep-alive connection. Keyed by every setting (secrets included), so a rotated key or a new
#: base URL builds a new one; bounded, the oldest closed first.
_SENDERS: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], registry.Sender] = OrderedDict()
_SENDERS_LOCK = threading.Lock()
MAX_KEPT_SENDERS = 32


def _build_sender(channel: str, options: dict[str, object]) -> registry.Sender:
    if channel == "email":
        return registry.email_sender(options)
    if channel == "sms":
        return registry.sms_sender(options)
    return registry.slack_sender(options)


def sender_for(channel: str, settings: ProviderSettings, recipient: str) -> registry.Sender:
    options = settings.sender_settings(channel, recipient)
    key = (channel, tuple(sorted((name, str(value)) for name, value in options.items())))
    with _SENDERS_LOCK:
        sender = _SENDERS.get(key)
        if sender is not None:
            _SENDERS.move_to_end(key)
            return sender
        sender = _build_sender(channel, options)
        _SENDERS[key] = sender
        while len(_SENDERS) > MAX_KEPT_SENDERS:
            _, oldest = _SENDERS.popitem(last=False)
            oldest.close()
        return sender


def error_text(exc: BaseException, secrets: list[str]) -> str:
    code = getattr(exc, "code", None)
    text = f"{exc} (code {code})" if code not in (None, "") else str(exc)
    return delivery_rules.mask_phone_numbers(delivery_rules.redact(text, secrets))


def message_failed_alert(session: Any, row: OutboxMessage, error: str) -> list[int]:
    """Staff hear of a customer message that could not be sent, once per row."""
    context = row.context or {}
    detail = (f"Could not send {row.template.replace('_', ' ')} by {row.channel} for order "
              f"{context.get('order_number', '?')}: {error}")
    return alerts.raise_ops_alert(session, "message.failed", f"message_failed:{row.id}",
                                  current_config().notifications.routes, detail=detail[:500],
                                  sku=context.get("sku", "-"), title=context.get("item_title", ""))


def role_for(channel: str, template: str) -> Role:
    """Customer notices go first: on the channels that carry them (email, SMS) a notice keeps the
    next send token when it has to wait, and staff or vendor messages give way to it."""
    if channel not in ("email", "sms"):
        return "normal"
    return "first" if senders.audience(template) == "customer" else "yield"


def paced_inline(provider: str, role: Role = "normal") -> float:
    """Take a send token, sleeping here through pauses of at most ``INLINE_PACING_WAIT_S``;
    a message that yields (``role_for``) first lets a notice picked up beside it ask first.

    At a provider's pace the wait for the next token is a fraction of a second (111 ms at 9/s).
    Sending the task back through the broker for that costs more than the wait and puts the
    message behind everything queued meanwhile; a longer pause is still handed back to the broker,
    so a worker never sleeps for long. Returns the pause still to wait (0: send now)."""
    limiter = get_limiter()
    if role == "yield":  # a customer notice raised in the same commit is being picked up right now
        time.sleep(STAFF_YIELD_S)
    pause = limiter.acquire(provider, role=role)
    for _ in range(MAX_INLINE_PACING_ROUNDS):
        if pause <= 0 or pause > INLINE_PACING_WAIT_S:
            break
        time.sleep(pause)
        pause = limiter.acquire(provider, role=role)
    return pause


def circuit_open_alert(session: Any, provider: str, error: str) -> list[int]:
    """One alert per provider per hour at most, however often a flapping circuit reopens."""
    detail = (f"{provider} keeps failing ({error}); messages to it are held and retried after the "
              f"cool-down. Nothing is lost: they stay pending in the outbox.")
    return alerts.raise_ops_alert(session, "message.failed", f"circuit_open:{provider}:{utcnow():%Y%m%d%H}",
                                  current_config().notifications.routes, detail=detail[:500],
                                  title=f"{provider} is failing", from_state="closed", to_state="open")


def provider_failed(task: Transactional, provider: str, error: str) -> None:
    """Count a failure against the provider's circuit (``domain.messaging.circuit``); the send that opens it
    alerts staff, in its own transaction."""
    if not get_breaker().record_failure(provider):
        return
    with task.unit_of_work() as uow:
        dispatch(uow, for_ids(Stage.DELIVER, circuit_open_alert(uow.session, provider, error)))
