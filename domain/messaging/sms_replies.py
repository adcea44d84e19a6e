"""Inbound customer texts: each is taken once (by ``MessageSid``) and answers one conversation.

Twilio signs an inbound-message webhook with the account's auth token over the URL and the form,
and the signature never expires: a captured request verifies again a week later. Without a record
of what was already taken, a replayed ``REFUND`` cancelled and refunded whatever the customer's
*newest* open question was at replay time — an order placed after the text was written. Two rules
close that:

* **Once per ``MessageSid``.** Every inbound text is a row in ``inbound_sms`` (unique
  ``message_sid``), inserted in the transaction that applies it. A replay, or Twilio delivering the
  same message twice, finds the row and changes nothing (the receiver answers 200 with empty
  TwiML). A concurrent duplicate waits on the first one's uncommitted row and then finds it. Rows
  are kept for good, like the signature they answer.
* **A reply answers the last question we texted that number before it arrived.** The conversation
  is the newest SMS outbox row to the customer's number (E.164) from one of the templates that ask
  for a keyword (:data:`QUESTION_TEMPLATES`) that had left us — state ``sending``, ``sent``,
  ``delivered`` or ``unknown``, with ``sent_at`` (else its last update) not after the text's
  ``received_at`` (PostgreSQL's clock, the transaction that records it). Its backorder, named in
  the row's idempotency key (``backorder:<id>:<template>:<key>:sms``), is the only one the reply
  may change; if that backorder was answered or closed since, the customer is told so and nothing
  else moves. A backorder created, or texted, after the reply arrived is never its target. All
  customer texts go out from one sender (``domain.messaging.senders.sms_from``), so "the number we texted
  from" is that sender; the ``To`` the text was sent to is kept on the row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from domain.core.models import InboundSms

QUESTION_TEMPLATES = ("backorder_notice", "backorder_reminder", "backorder_renewed_notice",
                      "backorder_eta_change", "backorder_confirmed")
"""SMS templates that invite a keyword answer (each names WAIT, REFUND or CREDIT)."""
LEFT_US = ("sending", "sent", "delivered", "unknown")
"""Outbox states of a text that may have reached the customer."""
MAX_SID = 64

CONVERSATION_SQL = text("""
SELECT split_part(o.idempotency_key, ':', 2)::bigint AS backorder_id, o.id AS outbox_id
  FROM outbox o
 WHERE o.channel = 'sms' AND o.recipient = :number
   AND o.template = ANY(:templates) AND o.state = ANY(:states)
   AND o.idempotency_key LIKE 'backorder:%'
   AND coalesce(o.sent_at, o.updated_at) <= :received_at
 ORDER BY coalesce(o.sent_at, o.updated_at) DESC, o.id DESC
 LIMIT 1
""")


@dataclass(frozen=True)
class Received:
    """The row a new inbound text was recorded as."""

    id: int
    received_at: datetime


@dataclass(frozen=True)
class Conversation:
    backorder_id: int
    outbox_id: int


def record(session: Session, message_sid: str, from_number: str, to_number: str, keyword: str) -> Received | None:
    """Records the text; None when this ``MessageSid`` was taken before (a replay: do nothing)."""
    row = session.execute(
        insert(InboundSms).values(message_sid=message_sid[:MAX_SID], from_number=from_number[:32],
                                  to_number=to_number[:64], keyword=keyword[:32])
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(InboundSms.id, InboundSms.received_at)).first()
    return None if row is None else Received(int(row.id), row.received_at)


def conversation(session: Session, number: str, received_at: datetime) -> Conversation | None:
    """The backorder the last question texted to ``number`` before ``received_at`` was about."""
    row = session.execute(CONVERSATION_SQL, {"number": number, "templates": list(QUESTION_TEMPLATES),
                                             "states": list(LEFT_US), "received_at": received_at}).first()
    return None if row is None else Conversation(int(row.backorder_id), int(row.outbox_id))


def settle(session: Session, received: Received, result: str, conversation: Conversation | None = None) -> None:
    """Notes what the text did (and to which backorder) on its row."""
    row = session.get(InboundSms, received.id)
    if row is None:
        return
    row.result = result[:32]
    if conversation is not None:
        row.backorder_id = conversation.backorder_id
        row.outbox_id = conversation.outbox_id

