"""The evidence packet of a dispute, assembled from the order's facts by the rule its reason picks.

:func:`build` gathers every evidence source (``domain.chargebacks.sources``), keeps exactly the
facts the rule needs, records which it has and which are missing with the reason each source gave,
maps them onto the provider's fields and documents (``domain.chargebacks.provider_fields``),
renders the HTML bundle (``templates/disputes/packet.html``: every fact inline, since issuers do
not follow links), and stores it all on the packet row with the rule.

A complete packet is staged at the provider at once (a ``stage`` call, sent between two
transactions by ``flows.dispute_desk``); an incomplete one waits for its case owner, who sees what
is missing. The packet can be rebuilt until it is approved (new shipment data, a policy text set):
a rebuild that changes what is sent stages it again. An incomplete packet is looked at again every hour by the dispute
sweeper until its deadline, so evidence that arrives later (a delivered scan) completes it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.chargebacks.communication  # noqa: F401  (registers the messages source)
import domain.chargebacks.order_sources  # noqa: F401  (registers the order, checkout and policy sources)
import domain.chargebacks.prior_orders  # noqa: F401  (registers the prior orders source)
import domain.chargebacks.shipment_evidence  # noqa: F401  (registers the shipments source)
from domain.chargebacks import calls
from domain.chargebacks.order_sources import money
from domain.chargebacks.provider_fields import for_provider
from domain.chargebacks.requirements import FACT_LABELS, EvidenceRule, rule_for
from domain.chargebacks.sources import Fact, Scope, gather
from domain.core.business_config import BusinessConfig
from domain.core.models import Dispute, DisputePacket, Order
from domain.core.stages import FollowUp, Stage
from domain.messaging.rendering import TEMPLATES_DIR

TEMPLATE = "disputes/packet.html"
#: A packet may be (re)built while nothing has been approved or sent for submission.
REBUILDABLE = frozenset({"opened", "packet_ready", "staged"})


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Strict (a missing fact fails the render) and autoescaped, like every HTML template here."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html",), default=False))


def _fact_view(name: str, fact: Fact) -> dict[str, Any]:
    rows = [dict(r) for r in fact.rows]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return {"name": name, "label": FACT_LABELS[name], "text": fact.text, "rows": rows, "columns": columns}


def render(title: str, names: list[str], facts: dict[str, Fact], dispute: Dispute, order: Order | None,
           business_name: str, now: datetime) -> str:
    """One evidence document: the dispute and order header, then each named fact in full."""
    context = {
        "title": title, "business_name": business_name or "The merchant", "prepared_at": f"{now:%Y-%m-%d %H:%M} UTC",
        "dispute": {"provider": dispute.provider.capitalize(), "dispute_ref": dispute.dispute_ref,
                    "payment_ref": dispute.payment_ref, "amount": money(dispute.amount_cents, dispute.currency),
                    "reason_code": dispute.reason_code, "network_code": dispute.network_code,
                    "category": dispute.category.replace("_", " ")},
        "order": None if order is None else {
            "number": order.number, "placed": f"{order.placed_at:%Y-%m-%d}", "customer_name": order.customer_name,
            "email": order.email or "", "total": money(order.total_cents, order.currency)},
        "facts": [_fact_view(n, facts[n]) for n in names],
    }
    return _environment().get_template(TEMPLATE).render(**context)


def _lock(session: Session, dispute_id: int) -> Dispute | None:
    return session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update())


def _summary(rule: EvidenceRule, present: list[str], missing: list[dict[str, str]], version: int) -> str:
    has = ", ".join(FACT_LABELS[n] for n in present) or "nothing yet"
    lacks = "; ".join(f"{m['label']} ({m['why']})" for m in missing)
    return (f"evidence packet v{version} by rule \"{rule.name}\": has {has}"
            + (f"; missing {lacks}" if lacks else "; complete"))


def build(session: Session, dispute_id: int, config: BusinessConfig, now: datetime) -> list[FollowUp]:
    """(Re)build the dispute's packet; returns the stage call to send when it is complete."""
    dispute = _lock(session, dispute_id)
    if dispute is None or dispute.state not in REBUILDABLE:
        return []
    order = session.get(Order, dispute.order_id) if dispute.order_id is not None else None
    rule = rule_for(dispute.category, dispute.network_code)
    found = gather(Scope(session, dispute, order, config.chargebacks, now, rule.compelling_evidence_3))
    present = [n for n in (*rule.needs, *rule.where_known) if n in found.facts]
    facts = {n: found.facts[n] for n in present}
    missing = [{"fact": n, "label": FACT_LABELS[n],
                "why": found.gaps[n].why if n in found.gaps else "no evidence source knows it"}
               for n in rule.needs if n not in facts]
    sent = for_provider(dispute.provider, rule, present, facts)
    documents = {name: render(f"Chargeback evidence: {', '.join(FACT_LABELS[n] for n in names)}"
                              if name != sent.bundle else "Chargeback evidence", names, facts, dispute, order,
                              config.name, now)
                 for name, names in sent.documents.items()}
    bundle = render("Chargeback evidence", present, facts, dispute, order, config.name, now)
    values: dict[str, Any] = {
        "rule_name": rule.name, "rule": rule.as_dict(dispute.network_code),
        "facts": {n: f.as_dict() for n, f in facts.items()}, "present": present, "missing": missing,
        "fields": sent.fields, "documents": documents, "defense_reason": sent.defense_reason, "html": bundle,
        "built_at": now}
    packet = session.scalar(select(DisputePacket).where(DisputePacket.dispute_id == dispute.id).with_for_update())
    if packet is None:
        packet = DisputePacket(dispute_id=dispute.id, version=1, **values)
        session.add(packet)
        changed = True
    else:
        changed = (packet.fields, packet.facts, packet.present, packet.missing, packet.defense_reason) != (
            sent.fields, values["facts"], present, missing, sent.defense_reason)
        if not changed:
            packet.built_at = now  # looked again, nothing new: the sweeper waits a full period before the next look
            return []
        packet.version += 1
        for key, value in values.items():
            setattr(packet, key, value)
    session.flush()
    calls.note(session, dispute, _summary(rule, present, missing, packet.version), now, packet_version=packet.version,
               present=present, missing=[m["fact"] for m in missing], rule=rule.name)
    dispute.state, dispute.updated_at = "packet_ready", now
    if missing:
        return []
    call_id = calls.request(session, dispute, "stage", by=calls.ACTOR, now=now)
    return [FollowUp(Stage.DISPUTE_CALL, (call_id,))] if call_id else []


def unbuilt(session: Session, now: datetime, older_than: timedelta, limit: int = 200) -> list[int]:
    """Disputes opened a while ago that still have no packet: their build message was lost."""
    return list(session.scalars(select(Dispute.id).where(
        Dispute.state == "opened", Dispute.created_at < now - older_than,
        ~select(DisputePacket.id).where(DisputePacket.dispute_id == Dispute.id).exists())
        .order_by(Dispute.id).limit(limit)))


def stale_incomplete(session: Session, now: datetime, every: timedelta, limit: int = 200) -> list[int]:
    """Incomplete packets last assembled more than ``every`` ago, deadline not passed: evidence may
    have arrived since (a delivered scan, a policy text set), so they are built again."""
    return list(session.scalars(select(Dispute.id).join(DisputePacket, DisputePacket.dispute_id == Dispute.id).where(
        Dispute.state == "packet_ready", DisputePacket.missing != [], DisputePacket.built_at < now - every,
        (Dispute.due_by.is_(None)) | (Dispute.due_by > now)).order_by(Dispute.id).limit(limit)))
