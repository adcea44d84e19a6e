"""The chargeback desk: dispute notices in, evidence packets built, evidence staged and submitted
at the payment provider, each provider call between two transactions.

The provider is reached only through the ``PaymentProvider`` protocol
(``connectors.payments.contract``), obtained from :func:`provider_for` — the one place that knows
which connector serves a merchant account: by default the ``[[payments.accounts]]`` entry's
connector (``flows.payments.provider_named``); an account the file does not name is refused with
a permanent error naming it, so a call fails visibly on its case instead of pretending.

Two seams:

* :func:`provider_for` — the connector for a ``/webhooks/payments/{account}`` account
  (``use_providers`` sets the lookup; tests use it with a provider class of their own).
* :func:`accept_notices` — verified ``DisputeNotice`` values in, stored once each, follow-ups sent
  after the commit. The payment webhook route does not call it: it stores each event in the inbox
  and the payment events drain hands dispute events to ``domain.chargebacks.payment_events`` (the
  registered handler), which takes them the same way (``intake.receive``).

Errors keep their classes (``connectors.errors``): transient → the call goes back to pending and
the task retries; permanent → the call fails and the case is told; outcome unknown on a submit →
the call waits for a person (evidence is submitted once).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import domain.core.env_settings as runtime_settings
from connectors.errors import OutcomeUnknownError, PermanentError, TransientError
from connectors.payments.contract import DisputeNotice, EvidenceReceipt, PaymentProvider
from domain.chargebacks import approval, calls, intake, packets
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.stages import FollowUp, Stage
from flows.payments import provider_named
from flows.spine import dispatch, for_ids, send_now
from flows.work import Transactional

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)
#: A pending call or an unbuilt packet this old lost its message (the sweeper sends it again).
STRANDED_AFTER = timedelta(minutes=2)
#: How often an incomplete packet is assembled again (evidence may have arrived since).
REBUILD_EVERY = timedelta(hours=1)

ProviderLookup = Callable[[str], PaymentProvider]
_lookup: ProviderLookup | None = provider_named


def use_providers(lookup: ProviderLookup | None) -> ProviderLookup | None:
    """Set how a merchant account's connector is found; returns the lookup it replaces."""
    global _lookup
    previous, _lookup = _lookup, lookup
    return previous


def provider_for(account: str) -> PaymentProvider:
    """The payment provider connector for a merchant account (``/webhooks/payments/{account}``)."""
    if _lookup is None:
        raise PermanentError(f"payment account {account!r}: no payment provider connector is configured")
    return _lookup(account)


def accept_notices(account: str, notices: Sequence[DisputeNotice], app: Celery | None = None) -> list[int]:
    """Notices a caller verified itself: store each once (one transaction), then send what follows. Returns the ids of the disputes the notices touched
    (a redelivered notice touches none)."""
    config = runtime_settings.current().config
    touched: list[int] = []
    follow_ups: list[FollowUp] = []
    with session_scope() as session:
        for notice in notices:
            received = intake.receive(session, account, notice, config)
            follow_ups += received.follow_ups
            if received.dispute_id is not None:
                touched.append(received.dispute_id)
    try:
        send_now(follow_ups, app)
    except Exception:  # the broker is down: the dispute sweeper builds the packet later
        log.warning("could not send %d dispute follow-up(s); the dispute sweeper will", len(follow_ups), exc_info=True)
    return touched


def build_packet(task: Transactional, dispute_id: int) -> int:
    """(Re)build one dispute's evidence packet; a complete one is queued for staging."""
    with task.unit_of_work() as uow:
        follow_ups = packets.build(uow.session, dispute_id, runtime_settings.current().config, utcnow())
        dispatch(uow, follow_ups)
    return len(follow_ups)


def _send(provider: PaymentProvider, claim: calls.Claim) -> EvidenceReceipt:
    if provider.provider != claim.provider:
        raise PermanentError(f"payment account {claim.account!r} is a {provider.provider} account, but dispute "
                             f"{claim.dispute_id} came from {claim.provider}")
    if claim.action == "stage":
        return provider.stage_evidence(claim.submission)
    return provider.submit_evidence(claim.submission)


def call_provider(task: Transactional, call_id: int) -> str:
    """Send one stage or submit call: ``done``, ``failed``, ``unknown`` or ``nothing to do``; a
    transient provider error is raised for the task to retry."""
    with task.unit_of_work() as uow:
        claim = calls.claim(uow.session, call_id, utcnow())
    if claim is None:
        return "nothing to do"
    try:
        receipt = _send(provider_for(claim.account), claim)
    except OutcomeUnknownError as exc:
        with task.unit_of_work() as uow:
            calls.record_failure(uow.session, call_id, str(exc), utcnow(), outcome="unknown")
        if claim.action == "stage":
            raise
        log.error("dispute %s: submitting the evidence has an unknown outcome: %s", claim.dispute_id, exc)
        return "unknown"
    except TransientError as exc:
        with task.unit_of_work() as uow:
            calls.record_failure(uow.session, call_id, str(exc), utcnow(), outcome="transient")
        raise
    except PermanentError as exc:
        with task.unit_of_work() as uow:
            calls.record_failure(uow.session, call_id, str(exc), utcnow(), outcome="permanent")
        log.error("dispute %s: %s the evidence failed: %s", claim.dispute_id, claim.action, exc)
        return "failed"
    with task.unit_of_work() as uow:
        dispatch(uow, approval.record_done(uow.session, call_id, receipt, runtime_settings.current().config.chargebacks,
                                           utcnow()))
    return "done"


def sweep(task: Transactional, limit: int = 200) -> int:
    """Re-send what lost its message — provider calls nobody is working on, disputes opened without
    a packet built — and look again at incomplete packets every ``REBUILD_EVERY``."""
    now = utcnow()
    with task.unit_of_work() as uow:
        call_ids = calls.stranded(uow.session, now, STRANDED_AFTER, limit)
        unbuilt = packets.unbuilt(uow.session, now, STRANDED_AFTER, limit)
        unbuilt += packets.stale_incomplete(uow.session, now, REBUILD_EVERY, limit)
        dispatch(uow, for_ids(Stage.DISPUTE_CALL, call_ids) + for_ids(Stage.DISPUTE_PACKET, unbuilt))
    if call_ids or unbuilt:
        log.info("re-sent %d dispute call(s); %d packet build(s) lost or due for another look", len(call_ids),
                 len(unbuilt))
    return len(call_ids) + len(unbuilt)
