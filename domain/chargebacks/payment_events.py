"""A payment provider's dispute events reach the chargeback desk: the handler the payment part
calls for every stored event of kind ``dispute`` (``domain.payments.events.handler``).

The payment webhook route verifies each event (Stripe ``Stripe-Signature``, Adyen's HMAC, PayPal's
verify call) and stores it once in the inbox under ``payments:{account}``; the payment events
drain hands it here in its own savepoint, so one bad notice does not stop the others. The notice
is taken once per provider event id (``intake.receive``): a redelivered event changes nothing.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

import domain.core.env_settings as runtime_settings
from connectors.payments.common import ProviderEvent
from domain.chargebacks import intake
from domain.core.stages import FollowUp
from domain.payments import events


@events.handler("dispute")
def dispute_event(session: Session, account: str, event: ProviderEvent, now: datetime) -> list[FollowUp]:
    """Open or update the dispute (and its case, deadline and packet) the event tells of."""
    if event.dispute is None:
        return []
    return intake.receive(session, account, event.dispute, runtime_settings.current().config, now).follow_ups
