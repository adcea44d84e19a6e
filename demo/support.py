"""The demo's support act: a helpdesk ticket triaged with its draft, a return refunded, and a
satisfaction answer recorded — each through the product's own routes and commands against the
sandbox's stand-ins.

* **A ticket.** The example file's commented Zendesk entry is switched on for the demo
  (:func:`with_helpdesk`, pointed at the stand-in) and our receiver subscribed to the stand-in's
  "ticket is created" trigger. Cleo, whose parcel is stuck since the exceptions act, writes in
  "where is my futon frame?": Zendesk sends its signed webhook to ``/webhooks/helpdesk/zendesk-main``,
  and the workers store the ticket, triage it (intent, sentiment, priority, the ladder's queue),
  draft a reply from her order's facts and write back tags, priority, group and one internal note
  carrying the draft. The ticket is read back from the stand-in: what the agent sees in Zendesk.
* **A return.** Fay's queen duvet (bought on the WooCommerce outlet, paid at Stripe) splits at a
  seam: ``backorders returns create`` → the refund policy approves it → ShipStation's return label
  (V2, ``is_return_label``) → ``backorders returns receive --qc restock`` → the refund paid once at
  Stripe (read back from Stripe) and the unit restocked at the warehouse.
* **A satisfaction answer.** The return's settlement email (at the Mailgun stand-in) carries the
  one-click survey; the demo opens Fay's "2/5" link as her mail client would (a GET, which saves
  nothing) and presses the page's button (a POST with her comment). A score at or under
  ``[csat] negative_at_most`` is acted on by ``[[csat.rules]]``: a follow-up case for customer care.

Only the product's commands and HTTP and the sandbox's admin endpoints act; rows are read to wait
and to tell. Every wait is bounded and says what it saw when it runs out (``explained``).
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import requests

from demo.exceptions import BUYERS, STORE, STRIPE, backorders, explained, money, order_on_outlet, output
from demo.processes import DemoFailed, Processes

HELPDESK = "zendesk-main"
#: The Zendesk entry's variables (``[[helpdesks]]`` of the example file) and the stand-in's agent.
HELPDESK_ENV = {"ZENDESK_EMAIL": "agent@futon.example", "ZENDESK_API_TOKEN": "zd_token_sandbox",
                "ZENDESK_WEBHOOK_SECRET": "sandbox-zendesk-signing-secret"}
#: Who writes in: the exceptions act's Cleo, whose parcel has not moved for days.
WRITER = "cleo"
SUBJECT = "Where is my futon frame?"
BODY = ("Hi, my order #{number} shipped almost a week ago and the UPS tracking hasn't moved since. "
        "When will my futon frame arrive? I need it before my guests come on Saturday.")
#: Who returns what: a duvet under the 250.00 review threshold, paid at Stripe on the outlet.
RETURNER = {"first_name": "Fay", "last_name": "Ito", "email": "fay.ito@example.com", "sku": "BED-DUVET-QUEEN",
            "price": "189.00", "pays": "stripe", "address_1": "9 Orchard Ln", "city": "Portland", "state": "OR",
            "postcode": "97205"}
RETURN_REF, RETURN_REASON, RETURN_WEIGHT_G = "TKT-4105", "defective", 2300
#: Fay's answer to the survey: the one-click score and what she types on the page.
SCORE, COMMENT = 2, "The refund was quick, but this is the second duvet whose seam split."

Say = Callable[[str], None]


def with_helpdesk(config_text: str, sandbox_url: str) -> str:
    """The demo's file with the example's commented ``[[helpdesks]]`` entry for Zendesk switched on
    (its comments kept as comments) and its ``base_url`` on the stand-in."""
    entry = re.search(rf'(?m)^# \[\[helpdesks\]\]\n# key = "{HELPDESK}"\n(?:# .*\n)+', config_text)
    if entry is None:
        raise DemoFailed(f"the example file has no commented [[helpdesks]] entry {HELPDESK!r} to switch on")
    block = "".join(line[2:] + "\n" for line in entry.group(0).splitlines())
    block = re.sub(r'(?m)^base_url = "[^"]*"', f'base_url = "{sandbox_url}/zendesk/{HELPDESK}"', block)
    return config_text.replace(entry.group(0), block, 1)


def write_in(sandbox_url: str, web_url: str, procs: Processes) -> tuple[str, str]:
    """Our receiver subscribed to the stand-in's "ticket is created" trigger (its JSON body is
    ``connectors.helpdesk.zendesk.TRIGGER_BODY``), then Cleo writes in about her order: the
    stand-in sends the signed webhook. Returns Zendesk's ticket id and Cleo's order number."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Order

    cleo = BUYERS[WRITER]
    with session_scope() as session:
        number = session.scalar(select(Order.number).where(Order.email == cleo["email"]).order_by(Order.id.desc()))
    if number is None:
        raise DemoFailed(f"{cleo['first_name']}'s order from the exceptions act is not stored")
    admin = f"{sandbox_url}/zendesk/{HELPDESK}/_admin"
    requests.post(f"{admin}/webhooks", timeout=10, json={
        "address": f"{web_url}/webhooks/helpdesk/{HELPDESK}", "secret": procs.env["ZENDESK_WEBHOOK_SECRET"],
        "body": "trigger"}).raise_for_status()
    made = requests.post(f"{admin}/tickets", timeout=10, json={
        "email": cleo["email"], "name": f"{cleo['first_name']} {cleo['last_name']}", "subject": SUBJECT,
        "body": BODY.format(number=number.lstrip("#")), "channel": "email"})
    made.raise_for_status()
    refused = [d["status"] for d in made.json()["webhooks"] if d["status"] != 200]
    if refused:
        raise DemoFailed(f"our receiver answered Zendesk's webhook with {refused} (see web.log)")
    return str(made.json()["ticket"]["id"]), number


def ticket_told(sandbox_url: str, zendesk_id: str, procs: Processes, say: Say) -> str:
    """Once the write-back is done: where triage put the ticket and why, and the Zendesk ticket as
    the stand-in holds it — tags, priority, group and the internal note carrying the draft."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import HelpdeskWriteBack, InboxEvent, SupportTicket
    from domain.support import views

    def written_back() -> int | None:
        procs.check_alive()
        with session_scope() as session:
            ticket = session.scalar(select(SupportTicket).where(SupportTicket.source == HELPDESK,
                                                                SupportTicket.external_id == zendesk_id))
            if ticket is None:
                return None
            done = session.scalar(select(HelpdeskWriteBack.state).where(HelpdeskWriteBack.ticket_id == ticket.id,
                                                                        HelpdeskWriteBack.kind == "triage"))
            return ticket.id if done == "done" else None

    def seen() -> str:
        with session_scope() as session:
            inbox = session.scalars(select(InboxEvent.state).where(InboxEvent.source == f"helpdesk:{HELPDESK}")).all()
            ticket = session.scalar(select(SupportTicket).where(SupportTicket.source == HELPDESK))
            back = session.execute(select(HelpdeskWriteBack.state, HelpdeskWriteBack.last_error)).all()
        return (f"deliveries {list(inbox) or 'none stored'}, ticket {ticket.state if ticket else 'not stored'}, "
                f"write-backs {[tuple(b) for b in back] or 'none owed'}")

    ticket_id = explained(procs, "the ticket's triage, draft and write-back", written_back, 45, seen)
    with session_scope() as session:
        ticket = session.get(SupportTicket, ticket_id)
        assert ticket is not None
        shown = views.show(session, ticket)
    triage = next(d for d in reversed(shown["decisions"]) if d["kind"] == "triage")
    routing = next(d for d in reversed(shown["decisions"]) if d["kind"] == "routing")
    sentiment = (triage["figures"].get("sentiment") or {}).get("label", "")
    points = (triage["figures"].get("priority") or {}).get("points")
    linked = [f"order {o['number']} ({o['matched_by']})" for o in shown["orders"]] + \
             [f"case {c['id']} {c['kind']} ({c['state']})" for c in shown["cases"]]
    say(f"ticket {ticket_id} (Zendesk #{zendesk_id}, {shown['channel']}) from {shown['customer_email']}: intent "
        f"{shown['intent']} (confidence {shown['confidence']:.2f}), sentiment {shown['sentiment']:+.2f} "
        f"({sentiment}), priority {shown['priority']} ({points} points) → queue {shown['queue']} "
        f"by {routing['rule']}")
    say(f"    linked to {', '.join(linked) or 'nothing'}")
    for reason in routing["reasons"]:
        say(f"    routing: {reason}")
    at_zendesk = requests.get(f"{sandbox_url}/zendesk/{HELPDESK}/_admin/state/tickets/{zendesk_id}", timeout=10).json()
    notes = [c["body"] for c in at_zendesk["comments"] if not c.get("public", True)]
    replies = [c for c in at_zendesk["comments"]
               if c.get("public", True) and c["author_id"] != at_zendesk["requester_id"]]
    ours = [tag for tag in at_zendesk["tags"] if tag.startswith("bo-")]
    say(f"read back from Zendesk #{zendesk_id}: tags {', '.join(ours)}; priority {at_zendesk['priority']}; "
        f"group {at_zendesk['group_id']}; {len(notes)} internal note(s), "
        f"{'no' if not replies else len(replies)} public reply from us (the agent sends the draft)")
    for note in notes:
        for line in note.splitlines():
            say(f"    │ {line}" if line else "    │")
    drafted = any("Suggested reply (draft, not sent)" in note for note in notes)
    if len(notes) != 1 or not drafted:
        raise DemoFailed(f"Zendesk #{zendesk_id} has {len(notes)} internal note(s), "
                         f"{'with' if drafted else 'without'} a draft")
    return (f"ticket {ticket_id} (Zendesk #{zendesk_id}) from {BUYERS[WRITER]['first_name']}: {shown['intent']} "
            f"{shown['confidence']:.2f}, priority {shown['priority']}, queue {shown['queue']}; triaged with its "
            f"draft: tags, priority, group {at_zendesk['group_id']} and 1 internal note written back to Zendesk")


def place_order(sandbox_url: str, procs: Processes) -> tuple[str, str]:
    """Fay pays at Stripe and the outlet takes her order (with the PaymentIntent as WooCommerce's
    transaction id); once its ``order.created`` webhook is stored: the order's number and payment."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Order, OrderPayment, Store

    external, reference, _ = order_on_outlet(sandbox_url, "fay", RETURNER)

    def stored() -> str | None:
        procs.check_alive()
        with session_scope() as session:
            return session.scalar(select(Order.number).join(Store, Store.id == Order.store_id)
                                  .join(OrderPayment, OrderPayment.order_id == Order.id)
                                  .where(Store.key == STORE, Order.external_id == external,
                                         OrderPayment.reference.is_not(None)))

    number: str = explained(procs, "Fay's outlet order", stored, 30, lambda: f"WooCommerce order {external} not stored")
    return number, reference


def return_refunded(sandbox_url: str, number: str, payment: str, creating: Any, procs: Processes,
                    say: Say) -> tuple[str, str]:
    """The return from the policy's decision to the refund at Stripe and the restock; the RMA and the
    summary line."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import OutboxMessage, RefundExecution, ReturnRequest
    from domain.returns import views

    fay = RETURNER["first_name"]
    say(f"{fay} bought 1 × {RETURNER['sku']} (${RETURNER['price']}) on the WooCommerce outlet, paid at Stripe "
        f"({payment}): order {number}; its seam split and she asks to return it ({RETURN_REF})")
    created = json.loads(output(creating))
    rma, decision = created["rma"], created["decision"] or {}
    say(f"`backorders returns create --order {number} --lines {RETURNER['sku']}:1 --reason {RETURN_REASON}`: {rma} "
        f"{created['state']}, {decision.get('decision')} "
        f"{money(decision.get('amount_approved_cents') or 0, created['currency'])} by rule {decision.get('rule')!r}")
    if created["state"] != "approved":
        raise DemoFailed(f"{rma} was not approved by the refund policy: {created}")

    def in_state(*states: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            procs.check_alive()
            with session_scope() as session:
                row = session.scalar(select(ReturnRequest).where(ReturnRequest.rma == rma))
                return views.summary(session, row) if row is not None and row.state in states else None
        return check

    def seen() -> str:
        with session_scope() as session:
            row = session.scalar(select(ReturnRequest).where(ReturnRequest.rma == rma))
            executions = session.execute(select(RefundExecution.state, RefundExecution.last_error)
                                         .where(RefundExecution.id == (row.execution_id if row else None))).all()
        return (f"{rma} {row.state if row else 'missing'}, error {row.last_error if row else None}, refund "
                f"{[tuple(e) for e in executions] or 'not planned'}")

    labelled = explained(procs, f"{rma}'s return label", in_state("label_created"), 30, seen)
    label = labelled["label"]
    at_shipstation = requests.get(f"{sandbox_url}/shipstation/{label['account']}/v2/labels", timeout=10,
                                  params={"rma_number": rma},
                                  headers={"API-Key": procs.env["SHIPSTATION_V2_API_KEY"]}).json()["labels"]
    returns_labels = sum(1 for one in at_shipstation if one.get("is_return_label"))
    say(f"a ShipStation return label was bought: {label['label_id']}, {label['carrier']} {label['tracking_number']} "
        f"(ShipStation lists {returns_labels} return label(s) under rma_number {rma})")
    receiving = backorders(procs, "returns", "receive", rma, "--qc", "restock", "--weight", str(RETURN_WEIGHT_G))
    output(receiving)
    say(f"the parcel reaches the warehouse: `backorders returns receive {rma} --qc restock --weight "
        f"{RETURN_WEIGHT_G}`")

    def paid() -> dict[str, Any] | None:
        settled = in_state("settled")()
        if settled is None or (settled["refund"] or {}).get("state") != "succeeded":
            return None
        with session_scope() as session:
            email = session.scalar(select(OutboxMessage.state).join(ReturnRequest, ReturnRequest.notice_outbox_id
                                                                    == OutboxMessage.id)
                                   .where(ReturnRequest.rma == rma))
        return settled if email in ("sent", "delivered") else None

    settled = explained(procs, f"{rma}'s refund at Stripe and its email", paid, 30, seen)
    refund = settled["refund"]
    at_stripe = requests.get(f"{sandbox_url}/stripe/{STRIPE}/v1/refunds/{refund['provider_ref']}", timeout=10,
                             headers={"Authorization": f"Bearer {procs.env['STRIPE_SECRET_KEY']}"}).json()
    with session_scope() as session:
        row = session.scalar(select(ReturnRequest).where(ReturnRequest.rma == rma))
        assert row is not None
        trail = [step.text for step in views.steps(session, row)]
    say(f"{rma}, step by step (`backorders why return {rma}`):")
    for line in trail:
        say(f"    {line}")
    restocked = ", ".join(f"{line['quantity']} × {line['sku']}" for line in settled["lines"])
    say(f"refund {refund['provider_ref']} at Stripe: {money(at_stripe['amount'], at_stripe['currency'].upper())}, "
        f"status {at_stripe['status']}; restocked {settled['restocked_qty']} unit(s) ({restocked}) at the warehouse")
    summary = (f"{rma} {fay}: {restocked} ({RETURN_REASON}) → {decision.get('decision')} "
               f"{money(refund['amount_cents'], created['currency'])} ({decision.get('rule')}), ShipStation return "
               f"label {label['tracking_number']}, received QC restock, refunded at {refund['provider']} as "
               f"{refund['provider_ref']}, restocked {settled['restocked_qty']} unit(s)")
    return rma, summary


def survey_answered(sandbox_url: str, web_url: str, rma: str, procs: Processes, say: Say) -> str:
    """Fay opens the "2/5" link of her settlement email (a GET: the page, nothing saved) and presses
    the page's button with her comment (a POST); the answer as stored and what the policy did."""
    from sqlalchemy import select

    from domain.cases import views as case_views
    from domain.core.business_config import current_config
    from domain.core.db import session_scope
    from domain.core.models import CsatRequest, ReturnRequest

    inbox = requests.get(f"{sandbox_url}/_sandbox/messaging/messages", timeout=10,
                         params={"provider": "mailgun", "to": RETURNER["email"]}).json()["messages"]
    email = next((m for m in reversed(inbox) if rma in (m.get("text") or "")), None)
    link = re.search(rf"https?://\S+/csat/[\w.\-]+\?score={SCORE}", (email or {}).get("text") or "")
    if email is None or link is None:
        raise DemoFailed(f"no settlement email with a survey link for {rma} at the Mailgun stand-in")
    clicked = link.group(0).replace(link.group(0).split("/csat/")[0], web_url)  # the web process's own address
    say(f"{RETURNER['first_name']}'s email {email['subject']!r} (Mailgun) asks \"How did we do?\" with five links; "
        f"she clicks {SCORE}/5")
    page = requests.get(clicked, timeout=10)
    with session_scope() as session:
        before = session.scalar(select(CsatRequest.score).join(ReturnRequest, ReturnRequest.id ==
                                                               CsatRequest.subject_id)
                                .where(CsatRequest.subject_kind == "return", ReturnRequest.rma == rma))
    answered = requests.post(clicked.split("?")[0], data={"score": str(SCORE), "comment": COMMENT}, timeout=10)
    if page.status_code != 200 or answered.status_code != 200:
        raise DemoFailed(f"the survey page answered {page.status_code} to the link and {answered.status_code} "
                         "to the press")
    saved = re.search(r"We saved \d out of 5", answered.text)
    token = clicked.split("/csat/")[1].split("?")[0]
    say(f"    GET /csat/{token[:12]}…?score={SCORE} (signed link): the page with {SCORE} marked, saved "
        f"{'nothing' if before is None else before}; her press with a comment (POST): "
        f"\"{saved.group(0) if saved else 'no confirmation'}\"")
    config = current_config()
    with session_scope() as session:
        survey = session.scalar(select(CsatRequest).join(ReturnRequest, ReturnRequest.id == CsatRequest.subject_id)
                                .where(CsatRequest.subject_kind == "return", ReturnRequest.rma == rma))
        if survey is None or survey.score != SCORE:
            raise DemoFailed(f"the survey of {rma} holds {survey.score if survey else 'no row'}, not {SCORE}")
        case = case_views.show(session, survey.follow_up_case_id, config.cases) if survey.follow_up_case_id else None
        told = (f"survey {survey.id} (return {rma}, queue {survey.queue}, {survey.intent}, resolved by "
                f"{survey.resolved_by}): {survey.score}/5 \"{survey.comment}\", {survey.answer_count} press(es)")
        rule = survey.decision_rule or {}
    say(f"answer recorded: {told}")
    if survey.decision is None:
        acted = f"above negative_at_most {config.csat.negative_at_most}: nothing to act on"
    else:
        criteria = ", ".join(f"{name} = {value!r}" for name, value in (rule.get("rule") or {}).items() if value)
        which = "the defaults" if rule.get("from_defaults") else \
            f"csat.rules[{rule.get('csat_rule_index')}] ({criteria})"
        acted = (f"{survey.score} is at or under negative_at_most {rule.get('threshold')}: {which} decided "
                 f"{survey.decision}" + (f" → case {case['id']} ({case['kind']}) in queue {case['queue']}, due "
                                         f"{str(case['sla_due_at'])[:16].replace('T', ' ')} UTC" if case else ""))
    say(f"    policy: {acted}")
    return f"CSAT answer recorded: {told}; {survey.decision or 'no action'}" + \
        (f" → case {case['id']} in queue {case['queue']}" if case else "")


def run(sandbox_url: str, web_url: str, say: Say, procs: Processes) -> list[str]:
    """The act, start to end; returns its lines for the demo's summary. Fay's order and return
    start while Cleo's ticket goes through triage, draft and write-back on the workers."""
    started = time.monotonic()
    say("")
    say("support: a helpdesk ticket triaged with its draft, a return refunded, a satisfaction answer recorded")
    zendesk_id, cleo_order = write_in(sandbox_url, web_url, procs)
    say(f"{BUYERS[WRITER]['first_name']} (order {cleo_order}, the stuck parcel) writes to Zendesk {SUBJECT!r}; "
        f"Zendesk's trigger sends its signed webhook to /webhooks/helpdesk/{HELPDESK}")
    number, payment = place_order(sandbox_url, procs)
    creating = backorders(procs, "returns", "create", "--order", number, "--lines", f"{RETURNER['sku']}:1",
                          "--reason", RETURN_REASON, "--ref", RETURN_REF, "--json")
    lines = [ticket_told(sandbox_url, zendesk_id, procs, say)]
    rma, refunded = return_refunded(sandbox_url, number, payment, creating, procs, say)
    lines.append(refunded)
    lines.append(survey_answered(sandbox_url, web_url, rma, procs, say))
    say(f"(support took {time.monotonic() - started:.0f} s)")
    return lines
