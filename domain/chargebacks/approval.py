"""From staged evidence to submitted evidence: a person approves (or the store's auto-submit rule
does), the submit call is queued, and the provider's answers move the dispute and its case on.

``packet_ready → staged`` when the provider has the draft; ``staged → approved`` when a person
(``backorders disputes approve ID``) or ``[chargebacks] auto_submit`` (complete packets only)
approves it; ``approved → submitted`` when the provider takes it. A person may also approve a
packet that is still missing facts and was therefore not staged: that approval accepts the gaps,
and the evidence goes straight to submission. Once submitted the case waits on the issuer (its
SLA clock stops) until the outcome notice closes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.payments.contract import EvidenceReceipt
from domain.chargebacks import calls, deadlines
from domain.cases import lifecycle
from domain.core.chargeback_config import ChargebacksConfig
from domain.core.models import Dispute, DisputePacket
from domain.core.stages import FollowUp, Stage

AUTO = "auto-submit"
APPROVABLE = frozenset({"packet_ready", "staged"})


class DisputeError(ValueError):
    """No such dispute, or an action its state does not allow."""


@dataclass(frozen=True)
class Approved:
    dispute_id: int
    call_id: int | None
    follow_ups: list[FollowUp]


def lock(session: Session, dispute_id: int) -> Dispute:
    dispute = session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())
    if dispute is None:
        raise DisputeError(f"no dispute {dispute_id}")
    return dispute


def _approve(session: Session, dispute: Dispute, by: str, now: datetime, note: str) -> Approved:
    dispute.state, dispute.approved_by, dispute.approved_at, dispute.updated_at = "approved", by, now, now
    calls.note(session, dispute, note, now, actor=by, action="approved")
    call_id = calls.request(session, dispute, "submit", by=by, now=now)
    return Approved(dispute.id, call_id, [FollowUp(Stage.DISPUTE_CALL, (call_id,))] if call_id else [])


def approve(session: Session, dispute_id: int, by: str, now: datetime) -> Approved:
    """A person approves the evidence for submission; the submit call is queued."""
    dispute = lock(session, dispute_id)
    if dispute.state not in APPROVABLE:
        raise DisputeError(f"dispute {dispute.id} is {dispute.state}: only a packet ready or staged can be approved")
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    if packet is None:
        raise DisputeError(f"dispute {dispute.id} has no evidence packet yet")
    gaps = ", ".join(m["label"] for m in packet.missing)
    text = (f"evidence packet v{packet.version} approved for submission to {dispute.provider}"
            + (f", accepting what it misses: {gaps}" if gaps else ""))
    return _approve(session, dispute, by, now, text)


def submit_again(session: Session, dispute_id: int, by: str, now: datetime) -> int:
    """The submit call of an approved dispute, queued again after it failed or its outcome was
    unknown (a person checked the provider); returns the call to run."""
    dispute = lock(session, dispute_id)
    if dispute.state != "approved":
        raise DisputeError(f"dispute {dispute.id} is {dispute.state}: only approved evidence is submitted "
                           f"(`backorders disputes approve {dispute.id}` first)")
    call_id = calls.request(session, dispute, "submit", by=by, now=now, retry=True)
    if call_id is None:
        raise DisputeError(f"dispute {dispute.id}: its evidence was submitted already")
    return call_id


def record_done(session: Session, call_id: int, receipt: EvidenceReceipt, config: ChargebacksConfig,
                now: datetime) -> list[FollowUp]:
    """The provider took a stage or submit call: move the dispute and tell its case."""
    done = calls.mark_done(session, call_id, receipt, now)
    if done is None:
        return []
    call, dispute = done
    dispute.provider_status, dispute.updated_at = receipt.provider_status or dispute.provider_status, now
    if call.action == "submit" or receipt.submitted:
        return _submitted(session, dispute, receipt, now)
    if dispute.state != "packet_ready":
        return []
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id))
    if packet is not None and call.packet_version < packet.version and not packet.missing:
        # rebuilt while this draft was on its way: stage the new one (its build found this call busy)
        again = calls.request(session, dispute, "stage", by=calls.ACTOR, now=now)
        return [FollowUp(Stage.DISPUTE_CALL, (again,))] if again else []
    dispute.state, dispute.staged_at = "staged", now
    complete = packet is not None and not packet.missing
    if config.auto_submit and complete:
        calls.note(session, dispute, f"evidence staged at {dispute.provider} (draft, status "
                   f"{receipt.provider_status or '-'})", now)
        return _approve(session, dispute, AUTO, now, "complete packet approved by the store's auto-submit rule "
                                                     "([chargebacks] auto_submit)").follow_ups
    calls.note(session, dispute, f"evidence staged at {dispute.provider} as a draft (status "
               f"{receipt.provider_status or '-'}); approve it with `backorders disputes approve {dispute.id}`", now)
    return []


def _submitted(session: Session, dispute: Dispute, receipt: EvidenceReceipt, now: datetime) -> list[FollowUp]:
    if dispute.state in deadlines.DONE:
        return []
    dispute.state, dispute.submitted_at = "submitted", now
    deadlines.cancel(session, dispute.id)
    case = calls.case_of(session, dispute)
    text = (f"evidence submitted to {dispute.provider} (status {receipt.provider_status or '-'}); waiting for the "
            "issuer's decision")
    if case is None:
        return []
    lifecycle.record(session, case, calls.ACTOR, "note", note=text, now=now, dispute_id=dispute.id)
    if case.state in ("open", "in_progress"):
        lifecycle.move(session, case, "waiting", actor=calls.ACTOR, note="waiting for the issuer's decision", now=now)
    return []
