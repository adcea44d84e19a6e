"""Calls to the payment provider for a dispute — stage the evidence, submit it — as rows.

One ``dispute_calls`` row per dispute and action. The call itself happens between two
transactions (``flows.dispute_desk``): :func:`claim` takes a lease on the row and reads what to
send; the provider is called with no transaction open; :func:`record_done` or
:func:`record_failure` writes the answer. So no lock is held across the provider call, two
workers never send the same call, and a lost broker message leaves a row :func:`stranded` finds.

Staging may be repeated (the packet was rebuilt): its row goes back to ``pending``. Submitting is
once: a done submit is never sent again, and a submit whose answer was lost (the worker died
mid-call, or the connector raised ``OutcomeUnknownError``) becomes ``unknown`` — a person checks
the provider's dashboard before ``backorders disputes submit ID`` sends it again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.payments.contract import EvidenceReceipt, EvidenceSubmission
from domain.cases import lifecycle
from domain.chargebacks import pdf
from domain.core.models import Case, Dispute, DisputeCall, DisputePacket

ACTOR = "chargebacks"
#: Longer than a provider call with its retries takes; a row in flight longer had its worker die.
LEASE = timedelta(minutes=5)
#: What a dispute must be in for each call to be sent.
SENDABLE = {"stage": frozenset({"packet_ready", "staged"}), "submit": frozenset({"approved"})}


@dataclass(frozen=True)
class Claim:
    """A call to send now: to which account, and what."""

    call_id: int
    dispute_id: int
    action: str
    provider: str
    account: str
    packet_version: int
    submission: EvidenceSubmission


def submission(dispute: Dispute, packet: DisputePacket) -> EvidenceSubmission:
    """The packet as the contract carries it: text fields, each document as a PDF file named by its
    provider field or document type (``shipping_documentation.pdf``: no provider takes HTML files,
    ``domain.chargebacks.pdf``), and Adyen's defense reason."""
    return EvidenceSubmission(dispute_ref=dispute.dispute_ref, fields=dict(packet.fields),
                              files={f"{name}.pdf": pdf.from_html(str(html)) for name, html in packet.documents.items()},
                              defense_reason=packet.defense_reason)


def case_of(session: Session, dispute: Dispute) -> Case | None:
    if dispute.case_id is None:
        return None
    return session.scalar(select(Case).where(Case.id == dispute.case_id).with_for_update())


def note(session: Session, dispute: Dispute, text: str, now: datetime, *, actor: str = ACTOR,
         action: str = "note", **detail: Any) -> None:
    """A line in the dispute's case history (the case owner reads the dispute's progress there)."""
    case = case_of(session, dispute)
    if case is not None:
        lifecycle.record(session, case, actor, action, note=text, now=now, dispute_id=dispute.id, **detail)


def request(session: Session, dispute: Dispute, action: str, *, by: str, now: datetime,
            retry: bool = False) -> int | None:
    """Ask for a call (the caller holds the dispute's lock); returns the row to run, or None when
    there is nothing to send (a submit done already, or failed and not retried)."""
    call = session.scalar(select(DisputeCall).where(DisputeCall.dispute_id == dispute.id, DisputeCall.action == action)
                          .with_for_update())
    if call is None:
        call = DisputeCall(dispute_id=dispute.id, action=action, state="pending", requested_by=by, created_at=now,
                           updated_at=now)
        session.add(call)
        session.flush()
        return call.id
    if call.state in ("pending", "in_flight"):
        return call.id
    again = action == "stage" or (retry and call.state in ("failed", "unknown"))
    if not again:
        return None
    call.state, call.requested_by, call.lease_until, call.last_error, call.updated_at = "pending", by, None, None, now
    return call.id


def claim(session: Session, call_id: int, now: datetime) -> Claim | None:
    """Take the call for sending, or None: done, held by another worker, or not sendable now. A
    submit found in flight past its lease may have reached the provider: it becomes ``unknown``."""
    call = session.scalar(select(DisputeCall).where(DisputeCall.id == call_id).with_for_update())
    if call is None or call.state not in ("pending", "in_flight"):
        return None
    if call.state == "in_flight" and call.lease_until is not None and call.lease_until > now:
        return None
    dispute = session.scalar(select(Dispute).where(Dispute.id == call.dispute_id).with_for_update())
    assert dispute is not None
    if call.state == "in_flight" and call.action == "submit":
        call.state, call.lease_until, call.updated_at = "unknown", None, now
        call.last_error = "the worker sending it stopped before the provider's answer was recorded"
        note(session, dispute, f"evidence submission to {dispute.provider}: outcome unknown ({call.last_error}); check "
             f"the provider's dashboard, then `backorders disputes submit {dispute.id}` if it did not arrive", now)
        return None
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    if dispute.state not in SENDABLE[call.action] or packet is None:
        call.state, call.lease_until, call.updated_at = "failed", None, now
        call.last_error = f"not sent: the dispute is {dispute.state}" + ("" if packet else " and has no packet")
        return None
    call.state, call.lease_until, call.updated_at = "in_flight", now + LEASE, now
    call.attempts += 1
    call.packet_version = packet.version
    return Claim(call.id, dispute.id, call.action, dispute.provider, dispute.account, packet.version,
                 submission(dispute, packet))


def record_failure(session: Session, call_id: int, error: str, now: datetime, *, outcome: str) -> None:
    """``transient``: back to pending for the task's retry; ``permanent``: failed, the case is told;
    ``unknown``: the request may have arrived — a submit waits for a person, a stage is retried."""
    call = session.scalar(select(DisputeCall).where(DisputeCall.id == call_id).with_for_update())
    if call is None or call.state not in ("in_flight", "pending"):
        return
    if outcome == "unknown" and call.action == "stage":
        outcome = "transient"  # staging again only overwrites the draft
    call.last_error, call.lease_until, call.updated_at = error[:2000], None, now
    call.state = {"transient": "pending", "permanent": "failed", "unknown": "unknown"}[outcome]
    if call.state == "pending":
        return
    dispute = session.scalar(select(Dispute).where(Dispute.id == call.dispute_id).with_for_update())
    assert dispute is not None
    what = "staging" if call.action == "stage" else "submitting"
    follow = (f"`backorders disputes submit {dispute.id}` sends it again once fixed" if call.action == "submit"
              else "it is staged again when the packet is rebuilt")
    if call.state == "unknown":
        follow = f"check the provider's dashboard, then `backorders disputes submit {dispute.id}` if it did not arrive"
    note(session, dispute, f"{what} the evidence at {dispute.provider} {'failed' if call.state == 'failed' else 'has an unknown outcome'}: "
         f"{error[:300]}; {follow}", now, call_id=call.id, call_state=call.state)


def mark_done(session: Session, call_id: int, receipt: EvidenceReceipt, now: datetime) -> tuple[DisputeCall, Dispute] | None:
    """Record the provider's answer on the call; returns the call and its (locked) dispute."""
    call = session.scalar(select(DisputeCall).where(DisputeCall.id == call_id).with_for_update())
    if call is None or call.state == "done":
        return None
    call.state, call.lease_until, call.updated_at, call.done_at, call.last_error = "done", None, now, now, None
    call.receipt = {"dispute_ref": receipt.dispute_ref, "submitted": receipt.submitted,
                    "provider_status": receipt.provider_status, "detail": receipt.detail}
    dispute = session.scalar(select(Dispute).where(Dispute.id == call.dispute_id).with_for_update())
    assert dispute is not None
    return call, dispute


def close_open_calls(session: Session, dispute_id: int, reason: str, now: datetime) -> None:
    """A dispute that closed (won, lost, accepted) sends nothing more."""
    for call in session.scalars(select(DisputeCall).where(DisputeCall.dispute_id == dispute_id,
                                                          DisputeCall.state == "pending").with_for_update()):
        call.state, call.last_error, call.updated_at = "failed", reason, now


def stranded(session: Session, now: datetime, older_than: timedelta, limit: int = 200) -> list[int]:
    """Calls nobody is working on: pending longer than ``older_than`` (their message was lost) or
    in flight past their lease (their worker died)."""
    return list(session.scalars(select(DisputeCall.id).where(or_(
        (DisputeCall.state == "pending") & (DisputeCall.updated_at < now - older_than),
        (DisputeCall.state == "in_flight") & (DisputeCall.lease_until < now))).order_by(DisputeCall.id).limit(limit)))
