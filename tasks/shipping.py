"""Shipping tasks: beat dispatches due shipping accounts; each poll runs under the account's lease;
stored shipping webhooks are drained, and a sweeper wakes drains whose message was lost."""
from __future__ import annotations

from celery import shared_task

import domain.core.env_settings as runtime_settings
from domain.core.db import get_sessionmaker
from domain.core.stages import FollowUp, Stage
from domain.shipping import accounts
from flows import shipping
from flows.spine import dispatch, messages, send_now
from tasks.base import DbTask, send_all


@shared_task(base=DbTask, bind=True, name="tasks.shipping.dispatch_polls")
def dispatch_polls(self: DbTask) -> int:
    """The accounts of the business file as rows, then a poll for each whose interval has passed."""
    with self.unit_of_work() as uow:
        accounts.sync(uow.session, runtime_settings.current().config.shipping)
        return dispatch(uow, [FollowUp(Stage.SHIPPING_POLL, (account_id,))
                              for account_id in accounts.claim_due(uow.session)])


@shared_task(base=DbTask, bind=True, name="tasks.shipping.poll_account")
def poll_account(self: DbTask, account_id: int) -> str:
    report = shipping.poll(get_sessionmaker(), account_id, self.request.id or "inline",
                           lambda follow_ups: send_all(messages(follow_ups, self.app)))
    return report.summary()


@shared_task(base=DbTask, bind=True, name="tasks.shipping.drain")
def drain(self: DbTask, account_key: str, limit: int = 50) -> int:
    """Apply the account's stored webhooks; re-queue itself while a full batch was found."""
    seen = shipping.drain(get_sessionmaker(), account_key, lambda follow_ups: send_all(messages(follow_ups, self.app)),
                          limit=limit)
    if seen >= limit:
        send_now([FollowUp(Stage.SHIPPING_DRAIN, (account_key, limit))], self.app)
    return seen


@shared_task(base=DbTask, bind=True, name="tasks.shipping.redrive")
def redrive(self: DbTask) -> int:
    """Beat: wake a drain for every account whose stored webhooks have waited too long."""
    with self.unit_of_work() as uow:
        keys = shipping.stranded_accounts(uow.session)
        dispatch(uow, [FollowUp(Stage.SHIPPING_DRAIN, (key,)) for key in keys])
    return len(keys)
