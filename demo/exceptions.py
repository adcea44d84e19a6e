"""The demo's last act: order exceptions, each handled by the product on its own.

Five customers order on the WooCommerce outlet: three pay with Stripe (the stand-in's charge; the
order carries its PaymentIntent as WooCommerce's ``transaction_id``), one with Adyen (the payment's
pspReference) and one with PayPal (the capture id), each through the gateway the outlet's
``[[payments.accounts]]`` entry names. Then:

* **Refunds by policy.** Ana asks 120.00 back for a damaged cover: within policy, approved and
  paid once at Stripe. Ben asks 300.00 for a defective frame: over the 250.00 threshold, so
  review — one ``refund_request`` case with the reviewer's context. Dara's 80.00 (damaged) is paid
  at Adyen, which only acknowledges it ("received"): the outcome arrives by Adyen's HMAC-signed
  REFUND notification, answered ``[accepted]``. Eli's 60.00 (not as described) is paid at PayPal
  (``POST /v2/payments/captures/{id}/refund``). All four through ``backorders refunds decide``.
* **A stuck parcel.** ShipStation's label for Cleo's order was printed six days ago (the
  stand-in's admin ages it) and no carrier has scanned it since: SHIP_NOTIFY (subscribed with
  ``backorders shipping subscribe``) brings it in, the stuck timer fires past ``stuck_after_days``
  and one ``stuck_in_transit`` case opens and Cleo is told once.
* **Chargebacks.** Ana's bank opens a Stripe dispute ("credit not processed") on her charge:
  one ``chargeback`` case due at Stripe's ``evidence_details.due_by``, and the evidence packet its
  reason needs (refund policy, how checkout showed it, the messages Ana was sent — the refund
  email with Stripe's reference — and her shipping and billing address) staged at Stripe
  (``submit=false``) long before the deadline. Eli opens a PayPal dispute ("not as described")
  on his capture: CUSTOMER.DISPUTE.CREATED, verified through PayPal's verify-webhook-signature
  call, opens its case due at PayPal's ``seller_response_due_date`` and its packet is staged (kept
  with us: PayPal has no draft) for a person to approve.
* **What if.** ``backorders refunds what-if`` replays the day's requests under a file whose
  review threshold is 350.00 instead of 250.00 and prints what would differ.

Only the product's commands and HTTP and the sandbox's admin endpoints act; rows are read to wait
and to tell. Every wait is bounded; a wait that runs out says what it saw (``explained``).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from demo.processes import REPO_ROOT, DemoFailed, Processes

STORE, STRIPE, SHIPSTATION = "woo-outlet", "stripe-main", "shipstation-main"
#: The outlet's payment accounts (``[[payments.accounts]]`` of the example file) by provider.
ACCOUNTS = {"stripe": STRIPE, "adyen": "adyen-eu", "paypal": "paypal"}
#: The outlet's own id and title of each gateway: the payment method each account is named for.
METHODS = {"stripe": ("stripe", "Credit Card (Stripe)"), "adyen": ("adyen_card", "Credit Card (Adyen)"),
           "paypal": ("ppcp-gateway", "PayPal")}
NAMES = {"stripe": "Stripe", "adyen": "Adyen", "paypal": "PayPal"}
#: Who orders what (SKU, price), pays with which provider, and ships where.
BUYERS: dict[str, dict[str, str]] = {
    "ana": {"first_name": "Ana", "last_name": "Lima", "email": "ana.lima@example.com",
            "sku": "FUT-MAT-COT-FULL", "price": "289.00", "pays": "stripe",
            "address_1": "12 Pine St", "city": "Brooklyn", "state": "NY", "postcode": "11201"},
    "ben": {"first_name": "Ben", "last_name": "Okoro", "email": "ben.okoro@example.com",
            "sku": "FUT-FRM-ARM-QUEEN", "price": "559.00", "pays": "stripe",
            "address_1": "88 Grand Ave", "city": "Oakland", "state": "CA", "postcode": "94610"},
    "cleo": {"first_name": "Cleo", "last_name": "Park", "email": "cleo.park@example.com",
             "sku": "FUT-FRM-PINE-TWIN", "price": "349.00", "pays": "stripe",
             "address_1": "5 Lake Rd", "city": "Madison", "state": "WI", "postcode": "53703"},
    "dara": {"first_name": "Dara", "last_name": "Nwosu", "email": "dara.nwosu@example.com",
             "sku": "FUT-MAT-FOAM-FULL", "price": "329.00", "pays": "adyen",
             "address_1": "210 King St", "city": "Charleston", "state": "SC", "postcode": "29401"},
    "eli": {"first_name": "Eli", "last_name": "Santos", "email": "eli.santos@example.com",
            "sku": "FUT-MAT-WOOL-FULL", "price": "399.00", "pays": "paypal",
            "address_1": "74 Mill St", "city": "Burlington", "state": "VT", "postcode": "05401"},
}
#: The refund requests: (buyer, reason, amount asked, the ticket id).
REQUESTS = (("ana", "damaged", "120.00", "TKT-4101"), ("ben", "defective", "300.00", "TKT-4102"),
            ("dara", "damaged", "80.00", "TKT-4103"), ("eli", "not_as_described", "60.00", "TKT-4104"))
STUCK_DAYS_AGO = 6
DISPUTE_DAYS = 7
#: Eli's PayPal dispute: what is left of his payment after the refund, and PayPal's deadline.
PAYPAL_DISPUTE_VALUE, PAYPAL_DISPUTE_DAYS = "339.00", 10
#: The what-if's changed threshold: reviews from over 350.00 instead of over 250.00.
OLD_LIMIT, NEW_LIMIT = "250.00", "350.00"

Say = Callable[[str], None]


@dataclass
class Placed:
    """A demo order as the outlet took it: our order id and number, the provider it was paid
    through, the payment reference the order carries (Stripe PaymentIntent, Adyen pspReference,
    PayPal capture) and what the provider's admin disputes (the Stripe charge, else the same)."""

    buyer: str
    order_id: int
    number: str
    provider: str
    payment: str
    disputed: str


def money(cents: int, currency: str = "USD") -> str:
    return f"{cents / 100:,.2f} {currency}"


def explained(procs: Processes, what: str, predicate: Callable[[], Any], timeout_s: float,
              seen: Callable[[], str]) -> Any:
    """``procs.wait``, and when it runs out, what the rows showed at that moment (``seen``)."""
    try:
        return procs.wait(what, predicate, timeout_s)
    except DemoFailed as exc:
        try:
            state = seen()
        except Exception as read_failed:  # the explanation must not hide the failure itself
            state = f"(could not read the state: {read_failed})"
        raise DemoFailed(f"{exc}; {state}") from exc


def backorders(procs: Processes, *args: str) -> subprocess.Popen[str]:
    """The product's command, started (several run side by side; :func:`output` collects one)."""
    return subprocess.Popen([str(Path(sys.executable).parent / "backorders"), *args], cwd=REPO_ROOT, env=procs.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def output(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> str:
    """What the command printed; a failed (or hung) command fails the demo with its own words."""
    command = " ".join(str(arg) for arg in list(proc.args)[1:])  # type: ignore[arg-type]
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        raise DemoFailed(f"`backorders {command}` did not finish in {timeout_s:.0f}s") from exc
    if proc.returncode != 0:
        raise DemoFailed(f"`backorders {command}` exited {proc.returncode}: "
                         f"{(err or out).strip()[-500:]}")
    return out


def changed_threshold(business_file: str) -> str:
    """The business file's ``[refunds]`` (with its rules) and the review threshold moved from
    250.00 to 350.00: the rule that sends big requests to review, and the one that approves the
    rest up to it."""
    blocks = re.split(r"(?m)^(?=\[)", business_file)
    section = "".join(b for b in blocks if b.startswith(("[refunds]", "[[refunds.rules]]")))
    changed = section.replace(f'over = "{OLD_LIMIT}"', f'over = "{NEW_LIMIT}"').replace(
        f'up_to = "{OLD_LIMIT}"', f'up_to = "{NEW_LIMIT}"').replace(
        f'name = "over {OLD_LIMIT[:-3]}: review"', f'name = "over {NEW_LIMIT[:-3]}: review"')
    if changed == section:
        raise DemoFailed(f"the business file's [refunds] has no {OLD_LIMIT} threshold to change")
    return changed


def address(buyer: dict[str, str]) -> dict[str, str]:
    return {"first_name": buyer["first_name"], "last_name": buyer["last_name"], "address_1": buyer["address_1"],
            "city": buyer["city"], "state": buyer["state"], "postcode": buyer["postcode"], "country": "US"}


def pay(sandbox_url: str, key: str, buyer: dict[str, str]) -> tuple[str, str]:
    """The buyer's payment at its provider's stand-in: (the reference the store reports, what the
    provider's admin disputes) — Stripe's PaymentIntent and charge, Adyen's pspReference, PayPal's
    capture id."""
    provider, cents = buyer["pays"], int(round(float(buyer["price"]) * 100))
    admin = f"{sandbox_url}/{provider}/{ACCOUNTS[provider]}/_admin"
    name = f"{buyer['first_name']} {buyer['last_name']}"
    if provider == "stripe":
        made = requests.post(f"{admin}/charges", timeout=10, json={"amount": cents, "currency": "usd",
                                                                    "email": buyer["email"], "name": name})
        made.raise_for_status()
        return made.json()["payment_intent"], made.json()["charge"]
    if provider == "adyen":
        made = requests.post(f"{admin}/payments", timeout=10, json={
            "value": cents, "currency": "USD", "reference": f"outlet-{key}", "email": buyer["email"]})
        made.raise_for_status()
        return made.json()["pspReference"], made.json()["pspReference"]
    made = requests.post(f"{admin}/captures", timeout=10, json={"value": buyer["price"], "currency": "USD",
                                                                 "invoice_id": f"outlet-{key}"})
    made.raise_for_status()
    return made.json()["capture"], made.json()["capture"]


def order_on_outlet(sandbox_url: str, key: str, buyer: dict[str, str]) -> tuple[str, str, str]:
    """The buyer pays at its provider and the outlet takes one of its SKU with the gateway's id and
    the payment's reference as its transaction id: (WooCommerce's order id, the reference, what the
    provider's admin disputes)."""
    reference, disputed = pay(sandbox_url, key, buyer)
    method, title = METHODS[buyer["pays"]]
    order = requests.post(f"{sandbox_url}/woocommerce/{STORE}/_admin/create_order", timeout=10, json={
        "lines": [{"sku": buyer["sku"], "quantity": 1, "price": buyer["price"]}],
        "billing": {**address(buyer), "email": buyer["email"], "phone": ""}, "shipping": address(buyer),
        "payment_method": method, "payment_method_title": title, "transaction_id": reference})
    order.raise_for_status()
    return str(order.json()["order"]["id"]), reference, disputed


def place_orders(sandbox_url: str, procs: Processes, say: Say) -> dict[str, Placed]:
    """Each buyer pays at its provider and the order is placed on the outlet with the gateway's id
    and the payment's reference as its transaction id (shipped to the buyer's address); waits for
    the outlet's ``order.created`` webhooks."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import Order, OrderPayment, Store

    paid = {key: order_on_outlet(sandbox_url, key, buyer) for key, buyer in BUYERS.items()}

    def recorded() -> dict[str, Placed] | None:
        procs.check_alive()
        with session_scope() as session:
            rows = {external: (order_id, number) for external, order_id, number in session.execute(
                select(Order.external_id, Order.id, Order.number).join(Store, Store.id == Order.store_id)
                .join(OrderPayment, OrderPayment.order_id == Order.id)
                .where(Store.key == STORE, Order.external_id.in_([p[0] for p in paid.values()]),
                       OrderPayment.reference.is_not(None)))}
        if len(rows) < len(paid):
            return None
        return {key: Placed(key, *rows[external], BUYERS[key]["pays"], reference, disputed)
                for key, (external, reference, disputed) in paid.items()}

    placed: dict[str, Placed] = explained(procs, f"the outlet's {len(paid)} paid orders", recorded, 30,
                                          lambda: f"WooCommerce orders {[p[0] for p in paid.values()]} not all stored")
    for key, one in placed.items():
        buyer = BUYERS[key]
        say(f"{buyer['first_name']} orders 1 × {buyer['sku']} (${buyer['price']}) on the WooCommerce outlet, "
            f"paid with {NAMES[one.provider]}: order {one.number}, payment {one.payment}")
    return placed


def ask_refunds(placed: dict[str, Placed], procs: Processes) -> dict[str, subprocess.Popen[str]]:
    """Both requests through ``backorders refunds decide``, side by side (:func:`refunds_by_policy`
    reads what they printed)."""
    return {ticket: backorders(procs, "refunds", "decide", "--order", placed[buyer].number, "--store", STORE,
                               "--reason", reason, "--amount", amount, "--request-id", ticket, "--json")
            for buyer, reason, amount, ticket in REQUESTS}


def refunds_by_policy(sandbox_url: str, started: dict[str, subprocess.Popen[str]], procs: Processes,
                      say: Say) -> list[str]:
    """The decisions printed; each approval paid once at the provider the order was paid through
    (Adyen's once its REFUND notification arrives), the review in its case. Returns the summary lines."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import InboxEvent, RefundExecution

    decided = {ticket: json.loads(output(proc)) for ticket, proc in started.items()}
    paying = [ticket for ticket, row in decided.items() if row["decision"] in ("approve", "credit")]
    buyer_of = {ticket: buyer for buyer, _, _, ticket in REQUESTS}

    def in_state(tickets: list[str], states: tuple[str, ...]) -> dict[str, dict[str, Any]] | None:
        procs.check_alive()
        rows: dict[str, dict[str, Any]] = {}
        with session_scope() as session:
            for ticket in tickets:
                execution = session.scalar(select(RefundExecution).where(
                    RefundExecution.decision_id == decided[ticket]["id"]))
                if execution is None or execution.state not in states:
                    return None
                rows[ticket] = {"provider": execution.provider, "account": execution.account, "state": execution.state,
                                "provider_ref": execution.provider_ref, "key": execution.idempotency_key}
        return rows

    def payments_seen() -> str:
        with session_scope() as session:
            rows = session.execute(select(RefundExecution.idempotency_key, RefundExecution.provider,
                                          RefundExecution.state, RefundExecution.last_error)).all()
        return f"refund payments: {[tuple(r) for r in rows] or 'none planned'}"

    # Adyen only acknowledges a refund ("received"): once it waits for its outcome, Adyen decides
    # and sends its REFUND notification (the stand-in's admin), which alone settles it.
    at_adyen = [ticket for ticket in paying if BUYERS[buyer_of[ticket]]["pays"] == "adyen"]
    notified: list[dict[str, Any]] = []
    if at_adyen:
        explained(procs, "Adyen to acknowledge the refund", lambda: in_state(at_adyen, ("awaiting",)), 30,
                  payments_seen)
        notified = requests.post(f"{sandbox_url}/adyen/{ACCOUNTS['adyen']}/_admin/notifications/refunds",
                                 timeout=10).json()["webhooks"]
    executions = explained(procs, "the approved refunds to be paid", lambda: in_state(paying, ("succeeded",)), 30,
                           payments_seen) if paying else {}
    counts = {provider: requests.get(f"{sandbox_url}/{provider}/{account}/_admin/state/counts", timeout=5).json()
              for provider, account in ACCOUNTS.items()}
    with session_scope() as session:
        refund_events = [state for (state,) in session.execute(select(InboxEvent.state).where(
            InboxEvent.source == f"payments:{ACCOUNTS['adyen']}", InboxEvent.topic == "REFUND"))]
    lines = []
    for buyer, reason, _, ticket in REQUESTS:
        row, name = decided[ticket], BUYERS[buyer]["first_name"]
        asked = f"{name} asks {money(row['amount_asked_cents'], row['currency'])} back ({reason}, {ticket})"
        verdict = f"{row['decision']} {money(row['amount_approved_cents'], row['currency'])}" \
            if row["decision"] in ("approve", "credit") else row["decision"]
        if ticket in executions:
            paid_at = executions[ticket]
            provider = paid_at["provider"]
            how = {"adyen": f"acknowledged \"received\", then settled by Adyen's REFUND notification (HMAC-signed; "
                            f"answered {'[accepted]' if notified and all(n['accepted'] for n in notified) else '?'}, "
                            f"stored once: {', '.join(refund_events) or 'none'})",
                   "paypal": "POST /v2/payments/captures/{id}/refund, COMPLETED"}.get(provider, "succeeded")
            say(f"{asked} → {verdict} by rule {row['rule']!r}; paid at {provider} ({paid_at['account']}): "
                f"refund {paid_at['provider_ref']}, idempotency key {paid_at['key']}, {how}; {NAMES[provider]} made "
                f"{counts[provider]['refunds_created']} refund(s) in all")
            lines.append(f"{ticket} {name}: {money(row['amount_asked_cents'], row['currency'])} → {verdict} "
                         f"({row['rule']}), paid at {provider} as {paid_at['provider_ref']}"
                         + (" by its REFUND webhook" if provider == "adyen" else ""))
        elif row["case"]:
            case = row["case"]
            say(f"{asked} → {verdict} by rule {row['rule']!r}: case {case['id']} ({case['kind']}) in queue "
                f"{case['queue']}, owner {case['owner'] or '-'}, due {str(case['sla_due_at'])[:16]} UTC")
            for reason_line in case_reasons(int(case["id"])):
                say(f"    the reviewer sees: {reason_line}")
            lines.append(f"{ticket} {name}: {money(row['amount_asked_cents'], row['currency'])} → {verdict} "
                         f"({row['rule']}), case {case['id']} in queue {case['queue']}")
        else:
            raise DemoFailed(f"{ticket} was decided {row['decision']!r} by {row['rule']!r}, and the demo expects an "
                             "approval paid at the provider or a review with its case")
    return lines


def case_reasons(case_id: int) -> list[str]:
    """Why the case is open, as ``backorders cases show`` lists it."""
    from domain.cases import views
    from domain.core.business_config import current_config
    from domain.core.db import session_scope

    with session_scope() as session:
        shown = views.show(session, case_id, current_config().cases)
    return list(shown["reasons"]) if shown else []


@dataclass
class Label:
    """The stuck parcel's label as ShipStation printed it, and how its webhook is subscribed."""

    tracking: str
    subscribed: str


def print_label(sandbox_url: str, order: Placed, subscribing: subprocess.Popen[str]) -> Label:
    """Once SHIP_NOTIFY is subscribed, ShipStation prints the order's label ``STUCK_DAYS_AGO`` days
    back (the stand-in's admin ages it) with no carrier scan since."""
    subscribed = output(subscribing).strip()
    buyer = BUYERS[order.buyer]
    label = requests.post(f"{sandbox_url}/shipstation/{SHIPSTATION}/_admin/labels", timeout=10, json={
        "order_number": order.number, "carrier_code": "ups", "service_code": "ups_ground",
        "items": [{"sku": buyer["sku"], "quantity": 1}], "days_ago": STUCK_DAYS_AGO})
    label.raise_for_status()
    return Label(label.json()["shipments"][0]["trackingNumber"],
                 subscribed.splitlines()[0] if subscribed else "subscribed")


def stuck_parcel(web_url: str, order: Placed, label: Label, procs: Processes, say: Say) -> str:
    """The label's silence past ``stuck_after_days`` → one ``stuck_in_transit`` case, one message."""
    from sqlalchemy import func, select

    from domain.core.db import session_scope
    from domain.core.models import Case, CaseEvent, OutboxMessage, Shipment

    buyer, tracking = BUYERS[order.buyer], label.tracking
    say(f"ShipStation printed {buyer['first_name']}'s label {STUCK_DAYS_AGO} days ago (UPS {tracking}) and no carrier "
        f"has scanned it since; its SHIP_NOTIFY reaches {web_url}/webhooks/shipping/{SHIPSTATION} "
        f"(`backorders shipping subscribe {SHIPSTATION}`: {label.subscribed})")

    def opened() -> tuple[int, str, str] | None:
        procs.check_alive()
        with session_scope() as session:
            case = session.scalar(select(Case).where(Case.kind == "stuck_in_transit", Case.order_id == order.order_id))
            if case is None:
                return None
            states = list(session.scalars(select(OutboxMessage.state).where(
                OutboxMessage.template == "shipment_stuck",
                OutboxMessage.context["order_number"].astext == order.number)))
            if not states or any(s not in ("sent", "delivered") for s in states):
                return None
            note = session.scalar(select(CaseEvent.note).where(CaseEvent.case_id == case.id, CaseEvent.action == "note")
                                  .order_by(CaseEvent.id).limit(1)) or ""
            return case.id, f"case {case.id} ({case.kind}) in queue {case.queue}, {case.priority}, due " \
                            f"{case.sla_due_at:%Y-%m-%d %H:%M} UTC: {case.summary}", note

    def seen() -> str:
        with session_scope() as session:
            shipment = session.execute(select(Shipment.status, Shipment.order_id, Shipment.last_scan_at,
                                              Shipment.stuck_at).where(Shipment.tracking_number == tracking)).first()
        return f"shipment {tracking}: {tuple(shipment) if shipment else 'not stored yet (webhook or poll)'}"

    case_id, told, note = explained(procs, "the stuck parcel's case and the customer's message", opened, 30, seen)
    with session_scope() as session:
        cases = session.scalar(select(func.count()).select_from(Case).where(Case.kind == "stuck_in_transit",
                                                                            Case.order_id == order.order_id))
        messages = session.execute(select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.state).where(
            OutboxMessage.template == "shipment_stuck",
            OutboxMessage.context["order_number"].astext == order.number)).all()
    say(f"the stuck timer fired: {told}")
    say(f"    why: {note}")
    say(f"    {buyer['first_name']} was told once: " + ", ".join(f"{c} to {r} {s}" for c, r, s in messages))
    return (f"parcel {tracking} of order {order.number}: {cases} stuck_in_transit case ({case_id}), "
            f"{len(messages)} customer message(s)")


@dataclass
class Opened:
    """A dispute the provider opened on a demo order: its reference there."""

    order: Placed
    ref: str


def open_chargeback(sandbox_url: str, order: Placed, procs: Processes, say: Say) -> Opened:
    """Once the refund email the evidence quotes is sent, the buyer's bank (Stripe: "credit not
    processed" on the charge) or the buyer (PayPal: "not as described" on the capture) disputes the
    payment and the provider sends its signed webhook."""
    from sqlalchemy import select

    from domain.core.db import session_scope
    from domain.core.models import OutboxMessage

    buyer = BUYERS[order.buyer]

    def refund_email_sent() -> bool:
        with session_scope() as session:
            states = list(session.scalars(select(OutboxMessage.state).where(
                OutboxMessage.template == "refund_paid",
                OutboxMessage.context["order_number"].astext == order.number)))
        return bool(states) and all(s in ("sent", "delivered") for s in states)

    explained(procs, f"the refund email to {buyer['first_name']} (the evidence quotes it)", refund_email_sent, 30,
              lambda: "no refund_paid email sent for order " + order.number)
    admin = f"{sandbox_url}/{order.provider}/{ACCOUNTS[order.provider]}/_admin"
    if order.provider == "stripe":
        opened = requests.post(f"{admin}/disputes", timeout=10, json={
            "charge": order.disputed, "reason": "credit_not_processed", "network_reason_code": "13.6", "amount": 12000,
            "due_in_days": DISPUTE_DAYS})
        opened.raise_for_status()
        ref = opened.json()["dispute"]["id"]
        say(f"{buyer['first_name']}'s bank disputes 120.00 USD of her charge ({ref}, credit not processed, "
            f"Visa 13.6): Stripe sends charge.dispute.created")
        return Opened(order, ref)
    opened = requests.post(f"{admin}/disputes", timeout=10, json={
        "capture": order.disputed, "reason": "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED",
        "value": PAYPAL_DISPUTE_VALUE, "due_in_days": PAYPAL_DISPUTE_DAYS})
    opened.raise_for_status()
    ref = opened.json()["dispute"]["dispute_id"]
    say(f"{buyer['first_name']} disputes the {PAYPAL_DISPUTE_VALUE} USD left of his PayPal payment ({ref}, not as "
        f"described): PayPal sends CUSTOMER.DISPUTE.CREATED, verified by PayPal's verify-webhook-signature call")
    return Opened(order, ref)


def chargeback_staged(sandbox_url: str, opened: Opened, procs: Processes, say: Say) -> str:
    """The dispute's ``chargeback`` case due at the processor's deadline and its packet staged
    before it (at Stripe with ``submit=false``; PayPal has no draft, so kept with us)."""
    from sqlalchemy import select

    from domain.chargebacks import views
    from domain.core.db import session_scope
    from domain.core.models import Dispute

    order, dispute_ref, provider = opened.order, opened.ref, opened.order.provider

    def staged() -> dict[str, Any] | None:
        procs.check_alive()
        with session_scope() as session:
            dispute = session.scalar(select(Dispute).where(Dispute.dispute_ref == dispute_ref))
            if dispute is None or dispute.staged_at is None:
                return None
            return views.show(session, dispute)

    def seen() -> str:
        with session_scope() as session:
            dispute = session.scalar(select(Dispute).where(Dispute.dispute_ref == dispute_ref))
            if dispute is None:
                return "no dispute stored (was the webhook refused? see web.log)"
            shown = views.show(session, dispute)
        packet = shown["packet"] or {}
        return (f"dispute {shown['id']} {shown['state']}, order {shown['order'] or 'not found'}, missing "
                f"{[m.get('fact') for m in packet.get('missing', [])]}, calls {shown['calls']}")

    shown = explained(procs, f"the {NAMES[provider]} chargeback's evidence to be staged", staged, 30, seen)
    case, packet = shown["case"] or {}, shown["packet"] or {}
    due = datetime.fromisoformat(shown["due_by"])
    staged_at = datetime.fromisoformat(shown["staged_at"])
    ahead = due - staged_at
    sla = datetime.fromisoformat(case["sla_due_at"]) if case.get("sla_due_at") else None
    deadline = {"stripe": "Stripe's evidence_details.due_by", "paypal": "PayPal's seller_response_due_date"}[provider]
    say(f"case {case.get('id')} (chargeback) in queue {case.get('queue')}, owner {case.get('owner')}, "
        f"{case.get('priority')}, due {sla:%Y-%m-%d %H:%M} UTC; {deadline} "
        f"{due:%Y-%m-%d %H:%M} UTC" if sla else f"case {case.get('id')} (chargeback) has no SLA")
    missing = ", ".join(m["fact"] for m in packet.get("missing") or []) or "nothing"
    say(f"    packet by rule {packet.get('rule')!r}: has {', '.join(packet.get('present') or []) or 'nothing'}; "
        f"missing: {missing}")
    if provider == "stripe":
        at_stripe = requests.get(f"{sandbox_url}/stripe/{STRIPE}/v1/disputes/{dispute_ref}", timeout=10,
                                 headers={"Authorization": "Bearer sk_test_sandbox"}).json()
        evidence = sorted(name for name, value in at_stripe["evidence"].items() if value)
        say(f"    staged at Stripe {staged_at:%H:%M:%S} UTC, {ahead.days} days {ahead.seconds // 3600} h before the "
            f"deadline (submit=false, status {at_stripe['status']}, submissions "
            f"{at_stripe['evidence_details']['submission_count']}): "
            f"{', '.join(f'evidence[{name}]' for name in evidence)}")
        told = f"{len(evidence)} evidence field(s)"
    else:
        kinds = sorted({name.split(".")[0] for name in packet.get("fields") or {}})
        say(f"    staged {staged_at:%H:%M:%S} UTC, {ahead.days} days {ahead.seconds // 3600} h before the deadline, "
            f"kept with us (PayPal has no draft) until provide-evidence: {', '.join(kinds)} and the bundle as a PDF")
        told = f"{len(kinds)} evidence type(s)"
    say(f"    it waits for a person: `backorders disputes approve {shown['id']}` submits it once")
    return (f"{'' if provider == 'stripe' else NAMES[provider] + ' '}dispute {dispute_ref} on order {order.number}: "
            f"case {case.get('id')} due {due:%Y-%m-%d %H:%M} UTC, {told} staged {ahead.days} days ahead, "
            f"missing {missing}")


def ask_what_if(config_path: Path, procs: Processes) -> tuple[subprocess.Popen[str], Path]:
    """``backorders refunds what-if`` on today's requests with the review threshold at 350.00,
    started; the rules file it reads (removed by :func:`what_if`)."""
    with tempfile.NamedTemporaryFile("w", suffix="-refund-rules.toml", delete=False,
                                     dir=config_path.parent) as rules:
        rules.write(changed_threshold(config_path.read_text()))
    return backorders(procs, "refunds", "what-if", rules.name, "--days", "1"), Path(rules.name)


def what_if(started: tuple[subprocess.Popen[str], Path], say: Say) -> str:
    """What the what-if printed: each request that would be decided otherwise, old → new."""
    proc, rules = started
    try:
        printed = output(proc)
    finally:
        rules.unlink(missing_ok=True)
    say(f"`backorders refunds what-if` with reviews from over {NEW_LIMIT} instead of {OLD_LIMIT}:")
    for line in printed.strip().splitlines():
        say(f"    {line.strip()}")
    differ = re.search(r"(\d+) request\(s\) .* replayed; (\d+) would differ", printed)
    if differ is None or int(differ.group(2)) == 0:
        raise DemoFailed(f"the what-if printed no difference for the changed threshold:\n{printed}")
    return f"what-if at {NEW_LIMIT}: {differ.group(2)} of {differ.group(1)} request(s) would differ"


def run(sandbox_url: str, web_url: str, config_path: Path, say: Say, procs: Processes) -> list[str]:
    """The act, start to end; returns its lines for the demo's summary. Commands start early and
    the clocks (the stuck timer, the payment) run while the story tells what came before."""
    started = time.monotonic()
    say("")
    say("order exceptions: refunds by policy at Stripe, Adyen and PayPal, a stuck parcel, chargebacks")
    secrets = {"stripe": {"secret": procs.env["STRIPE_WEBHOOK_SECRET"]},
               "adyen": {"secret": procs.env["ADYEN_HMAC_KEY"]}, "paypal": {"webhook_id": procs.env["PAYPAL_WEBHOOK_ID"]}}
    for provider, account in ACCOUNTS.items():  # each provider's webhooks to the product's route
        requests.post(f"{sandbox_url}/{provider}/{account}/_admin/webhook_endpoints", timeout=10, json={
            "url": f"{web_url}/webhooks/payments/{account}", **secrets[provider]}).raise_for_status()
    subscribing = backorders(procs, "shipping", "subscribe", SHIPSTATION)  # runs while the orders arrive
    placed = place_orders(sandbox_url, procs, say)
    deciding = ask_refunds(placed, procs)
    label = print_label(sandbox_url, placed["cleo"], subscribing)
    lines = refunds_by_policy(sandbox_url, deciding, procs, say)
    replaying = ask_what_if(config_path, procs)  # today's requests are all decided
    lines.append(stuck_parcel(web_url, placed["cleo"], label, procs, say))
    disputes = [open_chargeback(sandbox_url, placed[buyer], procs, say) for buyer in ("ana", "eli")]
    lines += [chargeback_staged(sandbox_url, opened, procs, say) for opened in disputes]
    lines.append(what_if(replaying, say))
    say(f"(the exceptions took {time.monotonic() - started:.0f} s)")
    return lines
