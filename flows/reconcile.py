"""Settling ``unknown`` outbox rows from the provider's own records, never by a guess.

A row is ``unknown`` when its request may have reached the provider but no answer came back
(``flows.delivery``). After ``RECONCILE_AFTER`` without the provider's own callback, the
provider is asked through its sender's ``find_sent`` (part of the ``Sender`` protocol,
``connectors.messaging.registry``): found → ``sent``; absent from records read in full → sent again
(the first request never arrived); None, a provider with no lookup (Slack incoming webhooks,
SendGrid without the Email Activity add-on,
https://www.twilio.com/docs/sendgrid/api-reference/email-activity) → staff are told once and a
person decides.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta

from connectors.errors import ConnectorError
from domain.core.clock import utcnow
from domain.core.models import OutboxMessage
from domain.core.stages import Stage
from domain.messaging import delivery_rules
from domain.messaging.delivery_rules import NotConfiguredError, ProviderSettings
from domain.messaging.rendering import RenderError
from flows.providers import error_text, message_failed_alert, sender_for
from flows.spine import dispatch, for_ids
from flows.work import Transactional

log = logging.getLogger(__name__)

RECONCILE_AFTER = timedelta(seconds=float(os.environ.get("NOTIFY_RECONCILE_AFTER_S", "600")))
"""How long an ``unknown`` row waits for the provider's own callback before we ask the provider."""


def reconcile_due(task: Transactional, limit: int) -> dict[str, int]:
    """Settle up to ``limit`` ``unknown`` rows past ``RECONCILE_AFTER``; returns outcome → count."""
    settings = ProviderSettings.from_env()
    with task.unit_of_work() as uow:
        ids = delivery_rules.unknown_due(uow.session, utcnow(), RECONCILE_AFTER, limit)
    outcomes: dict[str, int] = {}
    for outbox_id in ids:
        outcome = reconcile_one(task, settings, outbox_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if ids:
        log.info("reconciled unknown outbox rows: %s", outcomes)
    return outcomes


def reconcile_one(task: Transactional, settings: ProviderSettings, outbox_id: int) -> str:
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
    secrets = settings.secrets_for(channel, recipient)
    try:
        found = sender.find_sent(message, since)
    except ConnectorError as exc:
        log.warning("outbox %s: could not ask %s: %s", outbox_id, provider, error_text(exc, secrets))
        return "later"
    with task.unit_of_work() as uow:
        if found is None:  # Slack webhooks, SendGrid without the activity add-on: a person decides
            row = uow.session.get(OutboxMessage, outbox_id)
            if row is None or row.state != "unknown":
                return "settled"
            dispatch(uow, for_ids(Stage.DELIVER, message_failed_alert(
                uow.session, row, f"{provider} has no way to look the message up; outcome unknown "
                                  f"({row.last_error or 'no answer'}). Check and resend by hand if needed")))
            return "unsupported"
        if found.found:
            done = delivery_rules.settle_unknown(uow.session, outbox_id, seen_at, provider, found.provider_message_id)
            return "sent" if done else "settled"
        if not found.conclusive:
            return "later"
        if delivery_rules.release_unknown(uow.session, outbox_id, seen_at, provider):
            dispatch(uow, for_ids(Stage.DELIVER, [outbox_id]))
            return "resend"
    return "settled"
