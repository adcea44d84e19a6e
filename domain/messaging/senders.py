"""Who a message is from: the one place that decides, for every channel and audience.

The configuration file decides; the environment is the fallback for a key the file leaves out:

==========================  =====================================================================
message                     sender, first one set wins
==========================  =====================================================================
customer email              ``[notifications] from_email`` → ``EMAIL_FROM``
vendor email (PO, chaser)   ``[notifications] from_email`` → ``EMAIL_FROM``
staff email (alerts, …)     ``[notifications] staff_from_email`` → ``EMAIL_FROM`` →
                            ``[notifications] from_email``
SMS                         ``[notifications] sms_from`` (a number, or a Twilio messaging service
                            SID ``MG…``) → ``TWILIO_FROM`` → ``TWILIO_MESSAGING_SERVICE_SID``
==========================  =====================================================================

Why the file first: the addresses are business facts an operator edits with the rest of the
set-up and checks with ``backorders config check``; the environment holds secrets and endpoints.
A deployment that already sets ``EMAIL_FROM`` keeps working while its file has no sender keys.

Customer messages are the ``backorder_*`` templates and ``CUSTOMER_TEMPLATES`` (the same rule pacing uses to let them go
first); vendor messages are the purchase-order templates sent to the vendor's own address;
everything else is staff.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from domain.core.business_config import NotificationConfig

Audience = Literal["customer", "vendor", "staff"]
VENDOR_TEMPLATES = frozenset({"po_to_vendor", "po_escalation"})
#: Customer messages that are not about a backorder: a refund or credit paid (``domain.payments``), a
#: satisfaction survey (``domain.csat``), a back-in-stock notice (``domain.journey.rationing``).
CUSTOMER_TEMPLATES = frozenset({"refund_paid", "csat_request", "back_in_stock"})


class NoSenderError(Exception):
    """No sender is configured for a message; the text names the keys that would set one."""


@dataclass(frozen=True)
class SmsSender:
    """Exactly one of a sending number and a messaging service SID."""

    from_: str | None = None
    messaging_service_sid: str | None = None


def audience(template: str) -> Audience:
    if template.startswith("backorder_") or template in CUSTOMER_TEMPLATES:
        return "customer"
    if template in VENDOR_TEMPLATES:
        return "vendor"
    return "staff"


def _first(*candidates: str | None) -> str | None:
    for value in candidates:
        if value and value.strip():
            return value.strip()
    return None


def email_from(template: str, notifications: NotificationConfig | None, env: Mapping[str, str]) -> str:
    """The From address of an email rendered from ``template``."""
    toml = notifications or NotificationConfig()
    if audience(template) == "staff":
        sender = _first(toml.staff_from_email, env.get("EMAIL_FROM"), toml.from_email)
        keys = "[notifications] staff_from_email (or EMAIL_FROM)"
    else:
        sender = _first(toml.from_email, env.get("EMAIL_FROM"))
        keys = "[notifications] from_email (or EMAIL_FROM)"
    if sender is None:
        raise NoSenderError(f"no sender address for {audience(template)} email: set {keys}")
    return sender


def sms_from(notifications: NotificationConfig | None, env: Mapping[str, str]) -> SmsSender:
    """The sending number (or messaging service) of an SMS."""
    toml = notifications or NotificationConfig()
    configured = _first(toml.sms_from)
    if configured:
        return SmsSender(messaging_service_sid=configured) if configured.startswith("MG") else SmsSender(configured)
    number, service = _first(env.get("TWILIO_FROM")), _first(env.get("TWILIO_MESSAGING_SERVICE_SID"))
    if number:
        return SmsSender(number)
    if service:
        return SmsSender(messaging_service_sid=service)
    raise NoSenderError("no SMS sender: set [notifications] sms_from (or TWILIO_FROM / TWILIO_MESSAGING_SERVICE_SID)")
