"""Helpdesk tasks: stored deliveries drained into support tickets, helpdesks polled as
reconciliation (beat finds the due ones), write-backs after triage performed with retries, and a
sweeper for drains and write-backs whose message was lost (``flows.helpdesk_tickets``)."""
from __future__ import annotations

from celery import shared_task

from connectors.errors import PermanentError
from domain.core.business_config import current_config
from domain.core.db import get_sessionmaker
from domain.core.stages import FollowUp, Stage
from domain.helpdesks import states, write_backs
from flows import helpdesk_tickets
from flows.spine import dispatch, for_ids, messages, send_now
from tasks.base import DbTask, send_all


@shared_task(base=DbTask, bind=True, name="tasks.helpdesks.drain")
def drain(self: DbTask, key: str, limit: int = 50) -> int:
    """Store the helpdesk's pending deliveries as tickets; re-queue itself while a full batch was found."""
    seen = helpdesk_tickets.drain(get_sessionmaker(), key, lambda f: send_all(messages(f, self.app)), limit=limit)
    if seen >= limit:
        send_now([FollowUp(Stage.HELPDESK_DRAIN, (key, limit))], self.app)
    return seen


@shared_task(base=DbTask, bind=True, name="tasks.helpdesks.dispatch_polls")
def dispatch_polls(self: DbTask) -> int:
    """Beat: the ``[[helpdesks]]`` entries as rows, then a poll for each whose interval has passed."""
    with self.unit_of_work() as uow:
        states.sync(uow.session, current_config().helpdesks)
        return dispatch(uow, [FollowUp(Stage.HELPDESK_POLL, (state_id,))
                              for state_id in states.claim_due(uow.session)])


@shared_task(base=DbTask, bind=True, name="tasks.helpdesks.poll")
def poll(self: DbTask, state_id: int) -> str:
    report = helpdesk_tickets.poll(get_sessionmaker(), state_id, self.request.id or "inline",
                                   lambda f: send_all(messages(f, self.app)))
    return report.summary()


@shared_task(base=DbTask, bind=True, name="tasks.helpdesks.write_back")
def write_back(self: DbTask, row_id: int) -> str:
    """Write triage back to the helpdesk ticket; a transient error is retried (the row stays due),
    a permanent one leaves the row ``failed`` with its error."""
    try:
        return helpdesk_tickets.write_back(get_sessionmaker(), row_id)
    except PermanentError as exc:
        return f"write-back {row_id} failed: {exc}"


@shared_task(base=DbTask, bind=True, name="tasks.helpdesks.sweep")
def sweep(self: DbTask) -> int:
    """Beat: wake drains for deliveries pending over a minute and re-send lost write-backs."""
    with self.unit_of_work() as uow:
        keys = helpdesk_tickets.stranded_helpdesks(uow.session)
        rows = write_backs.stranded(uow.session)
        dispatch(uow, [FollowUp(Stage.HELPDESK_DRAIN, (key,)) for key in keys])
        dispatch(uow, for_ids(Stage.HELPDESK_WRITE_BACK, rows))
    return len(keys) + len(rows)
