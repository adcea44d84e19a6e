"""Paying refund decisions back, between two transactions, and reading provider events.

:func:`pay` is the ``pay_refund`` stage: it leases the execution row and commits
(``domain.payments.executions.claim``), makes the one outside call — the provider's refund with
the decision's idempotency key, or the store's refund or credit — with no transaction open, and
records the answer in a second transaction, with the customer's notice. A second run, a
redelivered message or a retry finds nothing to claim once the row is leased or done; a run
that lost its answer (a timeout after sending) releases the row and raises, and the retry sends
the same key: the provider answers its first result. :func:`poll` asks a provider about a refund
it left pending; :func:`apply_events` hands stored webhook events to their handlers.

Connectors are built from ``[[payments.accounts]]`` and the environment variables it names; a
missing variable is a permanent error naming it. Built connectors are kept per account (PayPal's
token lives with its connector), and rebuilt when the account's entry or a secret changes.
"""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import select

from connectors.base import Capability, require
from connectors.errors import OutcomeUnknownError, PermanentError, TransientError
from connectors.payments.common import WebhookProvider
from connectors.payments.contract import Provider, ProviderRefund, RefundOutcome
from connectors.payments.registry import build_provider
from connectors.types import ConnectorConfig, RefundRequest
from domain.core import blocked_writes
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.effects import sweep_after
from domain.core.models import Order, OrderLine, RefundDecision, RefundExecution, Store
from domain.core.payment_config import PaymentAccountConfig
from domain.core.stages import FollowUp, Stage
import domain.chargebacks.payment_events  # noqa: F401  (dispute events go to the chargeback desk)
from domain.payments import events, executions, notices
from domain.returns import store_writes
from flows.connections import connector_for, env_config
from flows.spine import dispatch
from flows.work import Transactional

_built: dict[str, tuple[ConnectorConfig, WebhookProvider]] = {}
_lock = threading.Lock()


def account_config(account: PaymentAccountConfig) -> ConnectorConfig:
    return env_config("payments account", account.key, account.provider, account.base_url, account.credentials,
                      account.webhook_secret_env,
                      {"merchant_account": account.merchant_account,
                       "environment": "live" if account.environment == "live" else "test",
                       "live_endpoint_prefix": account.live_endpoint_prefix})


def provider_for(account: PaymentAccountConfig, **kwargs: Any) -> WebhookProvider:
    """The account's connector, built once per process while its entry and secrets stay the same."""
    config = account_config(account)
    with _lock:
        kept = _built.get(account.key)
        if kept is None or kept[0] != config or kwargs:
            kept = (config, build_provider(account.provider, config, **kwargs))
            _built[account.key] = kept
        return kept[1]


def _account(key: str) -> PaymentAccountConfig:
    account = current_config().payments.account(key)
    if account is None:
        raise PermanentError(f"payments account {key!r} is no longer in the business file")
    return account


def provider_named(account: str) -> WebhookProvider:
    """The connector of the ``[[payments.accounts]]`` entry keyed ``account`` (a dispute's evidence
    is staged and submitted through it: ``stage_evidence`` / ``submit_evidence``)."""
    return provider_for(_account(account))


def _send_to_store(row: RefundExecution, order: Order, line: OrderLine | None, store: Store) -> RefundOutcome:
    """The store's own refund (or credit) path, with the key in its record (``connectors.idempotency``)."""
    connector = connector_for(store)
    require(connector, Capability.STORE_CREDIT if row.kind == "store_credit" else Capability.REFUNDS)
    if line is None:
        raise PermanentError(f"order {order.number} has no lines to refund against", platform=store.platform)
    request = RefundRequest(order_external_id=order.external_id, line_external_id=line.external_id, quantity=1,
                            amount_cents=row.amount_cents, currency=row.currency,
                            reason=f"Refund decision {row.decision_id}", idempotency_key=row.idempotency_key,
                            customer_email=order.email)
    result = connector.credit_line(request) if row.kind == "store_credit" else connector.refund_line(request)
    return RefundOutcome(cast(Provider, row.provider),  # the store's platform
                         result.external_id, "succeeded" if result.ok else "failed", result.amount_cents,
                         row.currency, result.status_code == 200, result.detail)


def pay(task: Transactional, execution_id: int) -> str:
    """Pay one execution; returns what happened (for logs and tests)."""
    config = current_config()
    now = utcnow()
    with task.unit_of_work() as uow:
        row = executions.claim(uow.session, execution_id, now)
        if row is None:
            return "nothing to do"
        claimed_at = row.claimed_at
        assert claimed_at is not None
        order = uow.session.get(Order, row.order_id) if row.order_id is not None else None
        if order is None:
            executions.settle(uow.session, row, False, "the order is gone", now)
            return "failed: the order is gone"
        decision = uow.session.get(RefundDecision, row.decision_id)
        store = uow.session.get(Store, order.store_id)
        assert store is not None, "an order's store row is never deleted (foreign key)"
        line = uow.session.scalar(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id))
        if row.route == "store" and blocked_writes.held_back(uow.session, store, f"refund.{row.kind}",
                                                             "refund_execution", row.id, amount_cents=row.amount_cents,
                                                             order=order.number):
            executions.hold(uow.session, row.id, claimed_at, now)
            return f"held: store {row.account} is read-only"
        request = ProviderRefund(row.payment_ref or "", row.amount_cents, row.currency, row.idempotency_key,
                                 decision.reason if decision else "", {"decision_id": str(row.decision_id),
                                                                       "reference": row.idempotency_key})
    try:  # the one outside call, with no transaction open
        outcome = _send_to_store(row, order, line, store) if row.route == "store" else \
            provider_for(_account(row.account)).refund(request)
    except (OutcomeUnknownError, TransientError) as exc:
        with task.unit_of_work() as uow:
            executions.release(uow.session, execution_id, claimed_at, str(exc), utcnow())
        raise
    except PermanentError as exc:
        with task.unit_of_work() as uow:
            executions.fail(uow.session, execution_id, claimed_at, str(exc), utcnow())
            dispatch(uow, store_writes.closes_paid(uow.session, execution_id))  # left open there, saying why
        return f"failed: {exc}"
    with task.unit_of_work() as uow:
        settled = executions.finish(uow.session, execution_id, claimed_at, outcome, utcnow(),
                                    timedelta(seconds=config.payments.poll_after_s))
        if settled is not None:
            # the customer told; a store's own return closed there now that the money is back
            dispatch(uow, [*notices.notify_paid(uow.session, settled),
                           *store_writes.closes_paid(uow.session, settled.id)])
    return f"{outcome.state} {outcome.provider_ref}" + (" (replayed)" if outcome.replayed else "")


def poll(task: Transactional, execution_id: int) -> str:
    """Ask the provider about a refund it left pending; settle the row when it has an answer."""
    with task.unit_of_work() as uow:
        row = uow.session.get(RefundExecution, execution_id)
        if row is None or row.state != "awaiting" or row.route != "provider" or not row.provider_ref:
            return "nothing to do"
        account, reference = row.account, row.provider_ref
    outcome = provider_for(_account(account)).refund_status(reference)
    with task.unit_of_work() as uow:
        settled = executions.apply_outcome(uow.session, outcome, utcnow())
        if settled is not None:
            # the customer told; a store's own return closed there now that the money is back
            dispatch(uow, [*notices.notify_paid(uow.session, settled),
                           *store_writes.closes_paid(uow.session, settled.id)])
    return outcome.state


def apply_events(task: Transactional, account: str) -> int:
    """Hand the account's stored provider events to their handlers; again while more wait."""
    with task.unit_of_work() as uow:
        taken, follow_ups = events.apply_pending(uow.session, account, utcnow())
        dispatch(uow, follow_ups)
        if taken >= 200:
            dispatch(uow, [FollowUp(Stage.APPLY_PAYMENT_EVENTS, (account,))])
    return taken


def sweep(task: Transactional) -> int:
    """Beat: plan decisions nothing planned, re-send rows whose message was lost or whose run died,
    free held rows whose store was switched on, ask about pending refunds, drain stranded events."""
    config = current_config()
    now = utcnow()
    with task.unit_of_work() as uow:
        follow_ups = executions.plan_missing(uow.session, config, now)
        follow_ups += [FollowUp(Stage.PAY_REFUND, (one,)) for one in executions.stranded(uow.session, now, sweep_after())]
        follow_ups += executions.unheld(uow.session, now)
        follow_ups += [FollowUp(Stage.POLL_REFUND, (row.id,)) for row in executions.due_polls(
            uow.session, now, timedelta(seconds=config.payments.poll_after_s)) if row.route == "provider"]
        follow_ups += [FollowUp(Stage.APPLY_PAYMENT_EVENTS, (account,))
                       for account in events.stranded_accounts(uow.session, now, timedelta(minutes=1))]
        follow_ups = list(dict.fromkeys(follow_ups))  # a row just planned is also found stranded
        dispatch(uow, follow_ups)
    return len(follow_ups)
