"""Support tickets: triage and route stored tickets (``domain.support.intake``) after the receiver's
commit, and sweep up the ones a lost message left untriaged. Triage is its own stage, never part
of receiving: the receiver answers at once and the model runs here."""
from __future__ import annotations

from celery import shared_task

from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.helpdesks import write_backs
from domain.support import intake
from flows.spine import dispatch, for_ids
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.support.triage")
def triage(self: DbTask, ticket_ids: list[int]) -> int:
    """Triage these tickets if still new; those from a helpdesk owe their write-back (tags,
    priority, group, the internal note), recorded in the same transaction. Returns how many were
    triaged now."""
    config = current_config()
    with self.unit_of_work() as uow:
        done = intake.triage_stored(uow.session, config.support, ticket_ids)
        dispatch(uow, write_backs.owe(uow.session, config.helpdesks, done))
        return len(done)


@shared_task(base=DbTask, bind=True, name="tasks.support.sweep")
def sweep(self: DbTask) -> int:
    """Beat: send tickets still new after a minute (their message was lost) to triage again."""
    with self.unit_of_work() as uow:
        ticket_ids = intake.stranded(uow.session, utcnow())
        dispatch(uow, for_ids(Stage.TRIAGE_TICKETS, ticket_ids))
    return len(ticket_ids)
