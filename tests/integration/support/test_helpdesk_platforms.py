"""The helpdesk acceptance, once per stand-in (Zendesk, Gorgias, Intercom), through the real webhook
route and a real worker: a customer with a backordered, partly shipped order writes in; a forged
delivery is refused and stores nothing; the signed one (Gorgias: the secret header of its HTTP
integration, which signs nothing) becomes one ticket — classified, routed with its reasons,
prioritised — whose tags, priority, group and one internal note carrying the reply draft with the
order's facts (the backorder's ETA and signed option links, the parcel's carrier and tracking) are
written back to the stand-in; the same delivery posted again, before and after the work is done,
is handled once."""
from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.business_config import BusinessConfig
from domain.core.clock import utcnow
from domain.core.models import (
    Backorder, HelpdeskWriteBack, InboxEvent, Shipment, ShippingAccount, SupportDecision, SupportDraft,
    SupportTicket,
)
from domain.journey import customer_journey
from domain.support.note import DRAFT_HEADING
from tests.conftest import wait_for
from tests.integration.support.helpdesk_kit import NOWHERE, SECRET, backordered_order, helpdesks

TRACKING = "1Z999AA10123456784"
#: platform → (key, admin path a customer writes in by, state view, the group id our queues map to)
PLATFORMS = {"zendesk": ("zd", "tickets", "tickets", "360002"), "gorgias": ("gg", "tickets", "tickets", "7"),
             "intercom": ("ic", "conversations", "conversations", "5017")}
#: our priority → each platform's word for it (Gorgias says critical, Intercom keeps ours in an attribute)
PRIORITY_WORD = {"zendesk": lambda p: p, "intercom": lambda p: p,
                 "gorgias": lambda p: {"urgent": "critical"}.get(p, p)}


@pytest.fixture
def helpdesk_toml() -> Callable[[str], str]:
    """Each stand-in's entry with our queues mapped to its one group."""
    groups = "groups = {{ support = \"{0}\", support-tier2 = \"{0}\", vip-care = \"{0}\", care = \"{0}\" }}"
    return lambda base: helpdesks(base, {key: groups.format(group) for key, _c, _v, group in PLATFORMS.values()})


def backordered_and_shipped(session: Session, catalog: BusinessConfig, number: str, email: str) -> Backorder:
    """An order of two lines: the frame on backorder (offered: its options have signed links), the
    cover shipped with UPS and last scanned in Louisville."""
    order, backorder = backordered_order(session, number, email, "Rui Costa", days_ago=3)
    account = ShippingAccount(key="ss-main", provider="shipstation")
    session.add(account)
    session.flush()
    shipped_at = utcnow() - timedelta(days=1)
    session.add(Shipment(account_id=account.id, external_id=f"s-{number}", order_id=order.id,
                         order_number=order.number, carrier="ups", tracking_number=TRACKING, status="in_transit",
                         label_created_at=shipped_at, shipped_at=shipped_at, last_scan_at=shipped_at))
    customer_journey.offer(session, backorder.id,
                           customer_journey.Settings(catalog, "http://testserver", os.environ["SECRET_KEY"]))
    session.commit()
    return backorder


def in_stand_in(base: str, platform: str, key: str, view: str, item_id: str) -> dict[str, Any]:
    answer = requests.get(f"{base}/{platform}/{key}/_admin/state/{view}", timeout=10)
    answer.raise_for_status()
    [item] = [one for one in answer.json()[view] if str(one["id"]) == item_id]
    return dict(item)


def internal_notes(platform: str, item: dict[str, Any]) -> list[str]:
    """Zendesk private comments, Gorgias internal-note messages, Intercom note parts."""
    if platform == "zendesk":
        return [str(c["body"]) for c in item["comments"] if not c.get("public", True)]
    if platform == "gorgias":
        return [str(m.get("body_text") or "") for m in item.get("messages") or [] if m.get("channel") == "internal-note"]
    return [str(p.get("body") or "") for p in item["conversation_parts"]["conversation_parts"]
            if p.get("part_type") == "note"]


def customer_sees(platform: str, item: dict[str, Any]) -> list[str]:
    """Whatever we wrote that the customer would see: there must be none."""
    if platform == "zendesk":
        return [str(c["body"]) for c in item["comments"][1:] if c.get("public", True)]
    if platform == "gorgias":
        return [str(m.get("body_text")) for m in item.get("messages") or []
                if m.get("from_agent") and m.get("channel") != "internal-note"]
    return [str(p.get("body")) for p in item["conversation_parts"]["conversation_parts"] if p.get("_customer_sees")]


def tags_of(platform: str, item: dict[str, Any]) -> list[str]:
    tags = item["tags"]["tags"] if platform == "intercom" else item["tags"]
    return [str(t["name"]) if isinstance(t, dict) else str(t) for t in tags]


def priority_of(platform: str, item: dict[str, Any]) -> str:
    return str(item["custom_attributes"].get("Priority") if platform == "intercom" else item["priority"])


def group_of(platform: str, item: dict[str, Any]) -> str:
    if platform == "zendesk":
        return str(item["group_id"])
    if platform == "gorgias":
        return str((item.get("assignee_team") or {}).get("id"))
    return str(item["team_assignee_id"])


def forged(platform: str, body: bytes, headers: dict[str, str]) -> list[tuple[bytes, dict[str, str]]]:
    """Deliveries a stranger could make: the body changed under a real signature, the proof taken
    away, and (Gorgias, whose proof is the secret itself) a guessed secret."""
    proof = {"zendesk": "X-Zendesk-Webhook-Signature", "gorgias": "X-Backorders-Token",
             "intercom": "X-Hub-Signature"}[platform]
    without = {k: v for k, v in headers.items() if k.lower() != proof.lower()}
    made = [(body, without)]
    if platform == "gorgias":
        made.append((body, {**without, proof: "guess"}))
    else:
        made.append((body.replace(b"#7101", b"#7102"), headers))
    return made


def customer_writes_in(base: str, platform: str, email: str, name: str, subject: str,
                       body: str) -> tuple[str, dict[str, Any]]:
    """A customer writes in at the platform's stand-in, which is subscribed to deliver (nowhere, so
    its record keeps it); the new ticket's id there and its one webhook delivery."""
    key, create, _view, _group = PLATFORMS[platform]
    admin = f"{base}/{platform}/{key}/_admin"
    requests.post(f"{admin}/webhooks", json={"address": NOWHERE, "secret": SECRET}, timeout=10).raise_for_status()
    made = requests.post(f"{admin}/{create}", timeout=10,
                         json={"email": email, "name": name, "subject": subject, "body": body}).json()
    [delivery] = made["webhooks"]
    return str((made.get("ticket") or made.get("conversation"))["id"]), dict(delivery)


def written_back(session: Session) -> bool:
    """The ticket's write-back to the helpdesk is done."""
    session.expire_all()
    return session.scalar(select(HelpdeskWriteBack.state)) == "done"


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_a_signed_new_ticket_is_triaged_and_written_back_once_with_its_orders_facts_and_a_forged_one_refused(
        platform: str, celery_worker: Any, client: TestClient, configured: str, db_session: Session,
        catalog: BusinessConfig) -> None:
    key, _create, view, group = PLATFORMS[platform]
    backorder = backordered_and_shipped(db_session, catalog, "7101", "rui@example.com")
    external_id, delivery = customer_writes_in(configured, platform, "rui@example.com", "Rui Costa", "Backorder ETA",
                                               "When will order #7101 be back in stock? What's the ETA?")
    body, headers = delivery["body"].encode(), dict(delivery["headers"])
    route = f"/webhooks/helpdesk/{key}"
    assert b"#7101" in body or platform == "zendesk"  # Zendesk's event envelope: the text is fetched

    # Forged first: refused, and nothing stored — the real one after it is still new.
    for forged_body, forged_headers in forged(platform, body, headers):
        assert client.post(route, content=forged_body, headers=forged_headers).status_code == 401
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 0

    assert client.post(route, content=body, headers=headers).json()["new"] is True
    assert client.post(route, content=body, headers=headers).json()["new"] is False  # delivered twice

    wait_for(lambda: written_back(db_session), timeout_s=120)
    ticket = db_session.scalar(select(SupportTicket))
    assert ticket is not None and (ticket.source, ticket.external_id) == (key, external_id)
    # classified, routed (with its reasons), prioritised
    assert ticket.state == "triaged" and ticket.intent == "backorder_eta" and ticket.queue == "care"
    assert ticket.priority in ("low", "normal", "high", "urgent") and not ticket.legal_threat
    routing = db_session.scalar(select(SupportDecision).where(SupportDecision.kind == "routing"))
    # the frame alone makes Rui a loyal customer: the file's "loyal backorders" route takes it
    assert routing is not None and (routing.outcome, routing.rule) == ("care", "loyal backorders")
    assert ticket.clv_tier == "loyal" and any("loyal backorders" in reason for reason in routing.reasons)
    [draft] = db_session.scalars(select(SupportDraft)).all()
    assert draft.template == "support/backorder_eta.txt"
    [order_facts] = draft.facts["orders"]
    [bo_facts] = order_facts["backorders"]
    assert bo_facts["id"] == backorder.id and bo_facts["links"]["wait"].split("/b/")[1]

    item = in_stand_in(configured, platform, key, view, external_id)
    tags = tags_of(platform, item)
    for tag in (f"bo-intent-{ticket.intent}", f"bo-priority-{ticket.priority}", f"bo-queue-{ticket.queue}"):
        assert tag in tags, (tag, tags)
    assert priority_of(platform, item) == PRIORITY_WORD[platform](ticket.priority)
    assert group_of(platform, item) == group
    [note] = internal_notes(platform, item)
    note = note.replace("&#x27;", "'").replace("&amp;", "&").replace("<br>", "\n")  # Intercom's note is HTML
    assert f"Intent: {ticket.intent}" in note and f"Queue: {ticket.queue}" in note and "Priority:" in note
    assert DRAFT_HEADING in note and "Order #7101" in note
    assert bo_facts["links"]["wait"] in note and bo_facts["links"]["cancel"] in note  # signed option links
    eta = backorder.eta
    assert eta is not None and eta.isoformat() in note  # the facts used, with the ETA
    assert TRACKING in note and "ups" in note.lower()  # the parcel's carrier and tracking
    assert customer_sees(platform, item) == []  # an agent sends; we never do

    # The same delivery once more after the work is done: nothing new anywhere.
    assert client.post(route, content=body, headers=headers).json()["new"] is False
    from tasks.helpdesks import drain, sweep
    drain.apply(args=(key,)).get()
    assert sweep.apply().get() == 0
    db_session.expire_all()
    for model in (SupportTicket, HelpdeskWriteBack, SupportDraft, InboxEvent):
        assert db_session.scalar(select(func.count()).select_from(model)) == 1, model
    assert db_session.scalar(select(func.count()).select_from(SupportDecision)
                             .where(SupportDecision.kind == "triage")) == 1
    assert len(internal_notes(platform, in_stand_in(configured, platform, key, view, external_id))) == 1


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_an_answer_to_a_backorder_offer_written_in_the_helpdesk_is_applied_once_and_the_ticket_says_so(
        platform: str, celery_worker: Any, client: TestClient, configured: str, db_session: Session,
        catalog: BusinessConfig) -> None:
    """A customer's "I'll wait" written to the helpdesk is applied like a click on the offer's wait link
    (``customer_journey.choose``, its confirmation email once), and the helpdesk ticket's note says
    what was applied; the delivery posted twice applies it once."""
    from domain.core.models import OutboxMessage

    key, _create, view, _group = PLATFORMS[platform]
    backorder = backordered_and_shipped(db_session, catalog, "7201", "ines@example.com")
    external_id, delivery = customer_writes_in(
        configured, platform, "ines@example.com", "Ines", "Re: your backorder",
        "I got your email about the backorder. I'll wait for the frame, no problem.")
    for _ in range(2):
        client.post(f"/webhooks/helpdesk/{key}", content=delivery["body"].encode(), headers=delivery["headers"])

    wait_for(lambda: written_back(db_session), timeout_s=120)
    assert db_session.get(Backorder, backorder.id).state == "accepted_wait"  # type: ignore[union-attr]
    ticket = db_session.scalar(select(SupportTicket))
    assert ticket is not None and ticket.intent == "backorder_offer_answer"
    answers = db_session.scalars(select(SupportDecision.outcome).where(SupportDecision.kind == "answer")).all()
    assert list(answers) == ["applied"]
    confirmations = db_session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.idempotency_key.like(f"backorder:{backorder.id}:backorder_confirmed:%")))
    assert confirmations == 1  # the journey's own email, as for a click
    item = in_stand_in(configured, platform, key, view, external_id)
    [note] = internal_notes(platform, item)
    assert f"Applied from this ticket: wait on backorder {backorder.id}: applied" in note
    assert "bo-intent-backorder_offer_answer" in tags_of(platform, item)
    assert customer_sees(platform, item) == []
