"""The pipeline's stages by name, and the follow-up a domain decision asks for.

A domain function that decides something returns the work it owes next as :class:`FollowUp`
values — a :class:`Stage` and the ids it needs — and never a task name: which Celery task runs a
stage, on which queue, is said once, in ``flows.spine``, which also sends them after the commit.
Values are plain stage names; a ``FollowUp`` is still a ``(stage, args)`` pair, so code that
unpacks one as a tuple keeps working.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class Stage(StrEnum):
    """Every stage the pipeline runs (``flows.spine.FLOWS`` gives each its task and queue)."""

    # stock truth
    DISPATCH_POLLS = "dispatch_polls"
    POLL = "poll"
    DRAIN = "drain"
    EVALUATE = "evaluate"
    PUSH_STORE = "push_store"
    PUSH_DUE = "push_due"
    PUSH = "push"
    # the customer's journey
    OFFER = "offer"
    FILL = "fill"
    REFUND = "refund"
    PLACE_SUBSTITUTE = "place_substitute"
    FIRE_TIMERS = "fire_timers"
    # purchasing
    PLAN = "plan"
    CLOSE_PO_WINDOWS = "close_po_windows"
    SEND_PO = "send_po"
    READ_ERP_RECEIPTS = "read_erp_receipts"
    RENEW_SUBSCRIPTIONS = "renew_subscriptions"
    SCORECARD = "scorecard"
    # satisfaction: surveys after resolved subjects, the weekly report
    CSAT_SWEEP = "csat_sweep"
    CSAT_REPORT = "csat_report"
    # chargebacks
    DISPUTE_PACKET = "dispute_packet"
    DISPUTE_CALL = "dispute_call"
    # fraud hints
    FRAUD_SCORE = "fraud_score"
    # shipping: the order's path to the doorstep
    SHIPPING_DISPATCH = "shipping_dispatch"
    SHIPPING_POLL = "shipping_poll"
    SHIPPING_DRAIN = "shipping_drain"
    SWEEP_SHIPPING_INBOX = "sweep_shipping_inbox"
    # payments: refund decisions paid back at the provider or the store, provider events
    PAY_REFUND = "pay_refund"
    POLL_REFUND = "poll_refund"
    APPLY_PAYMENT_EVENTS = "apply_payment_events"
    SWEEP_REFUNDS = "sweep_refunds"
    # support tickets: triaged and routed after they are stored
    TRIAGE_TICKETS = "triage_tickets"
    SWEEP_TICKETS = "sweep_tickets"
    # returns (RMA): the next step of one return, and the sweeper of stuck ones
    RETURN_STEP = "return_step"
    SWEEP_RETURNS = "sweep_returns"
    #: our decision on a store's own return, written back to the store
    STORE_RETURN_WRITE = "store_return_write"
    # helpdesks: deliveries and polls stored as tickets, triage written back
    HELPDESK_DRAIN = "helpdesk_drain"
    HELPDESK_DISPATCH = "helpdesk_dispatch"
    HELPDESK_POLL = "helpdesk_poll"
    HELPDESK_WRITE_BACK = "helpdesk_write_back"
    SWEEP_HELPDESKS = "sweep_helpdesks"
    # support macros: a reply draft with the order's facts; its internal note posted to the helpdesk
    DRAFT_TICKETS = "draft_tickets"
    POST_TICKET_NOTE = "post_ticket_note"
    # messages
    DELIVER = "deliver"
    DIGEST = "digest"
    RECONCILE_OUTBOX = "reconcile_outbox"
    # sweepers: rows whose message was lost
    SWEEP_INBOX = "sweep_inbox"
    SWEEP_OUTBOX = "sweep_outbox"
    SWEEP_PUSHES = "sweep_pushes"
    SWEEP_EFFECTS = "sweep_effects"
    SWEEP_OFFERS = "sweep_offers"
    SWEEP_SUBSTITUTES = "sweep_substitutes"
    SWEEP_DISPUTES = "sweep_disputes"
    SWEEP_FRAUD = "sweep_fraud"
    IMPORT_DEAD_LETTERS = "import_dead_letters"
    PURGE_REPLAY_TOKENS = "purge_replay_tokens"


class FollowUp(NamedTuple):
    """Work a committed decision owes: run ``stage`` with ``args`` (ids only)."""

    stage: Stage
    args: tuple[Any, ...]
