"""Support tickets: triage and route stored tickets (``domain.support.intake``) after the receiver's
commit, draft each triaged ticket's reply (``domain.support.drafts``), post the draft to its
helpdesk as an internal note (``flows.support_notes``), and sweep up what a lost message left
behind. Triage is its own stage, never part of receiving: the receiver answers at once and the
model runs here."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task

import domain.core.env_settings as runtime_settings
from domain.core.business_config import current_config
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.helpdesks import write_backs
from domain.support import drafts, intake
from flows import support_notes
from flows.spine import dispatch, for_ids
from tasks.base import DbTask

#: A triaged ticket with no draft this long after its triage lost its draft message.
UNDRAFTED_AFTER = timedelta(minutes=1)


@shared_task(base=DbTask, bind=True, name="tasks.support.triage")
def triage(self: DbTask, ticket_ids: list[int]) -> int:
    """Triage these tickets if still new, then draft their replies (the draft stage owes a helpdesk
    ticket's write-back, so its one internal note carries the draft). Returns how many were
    triaged now."""
    with self.unit_of_work() as uow:
        done = intake.triage_stored(uow.session, current_config().support, ticket_ids)
        dispatch(uow, for_ids(Stage.DRAFT_TICKETS, done))
    return len(done)


@shared_task(base=DbTask, bind=True, name="tasks.support.draft")
def draft(self: DbTask, ticket_ids: list[int]) -> int:
    """Draft the reply of each triaged ticket not drafted since its triage (applying an answer to a
    backorder offer); a ticket from a helpdesk then owes its write-back (tags, priority, group and
    one internal note: the triage and this draft), recorded in the same transaction. Returns the
    follow-ups owed."""
    settings = runtime_settings.current()
    with self.unit_of_work() as uow:
        follow_ups = drafts.compose_stored(uow.session, settings, ticket_ids)
        follow_ups += write_backs.owe(uow.session, settings.config.helpdesks, ticket_ids)
        dispatch(uow, follow_ups)
    return len(follow_ups)


@shared_task(base=DbTask, bind=True, name="tasks.support.post_note")
def post_note(self: DbTask, note_id: int) -> str:
    """Post one draft to its helpdesk as an internal note; a transient error is retried."""
    return support_notes.post(self, note_id)


@shared_task(base=DbTask, bind=True, name="tasks.support.sweep")
def sweep(self: DbTask) -> int:
    """Beat: send tickets still new after a minute (their message was lost) to triage again, triaged
    tickets never drafted to the composer, and notes a helpdesk connector serves to be posted."""
    now = utcnow()
    with self.unit_of_work() as uow:
        ticket_ids = intake.stranded(uow.session, now)
        undrafted = drafts.undrafted(uow.session, now - UNDRAFTED_AFTER)
        dispatch(uow, for_ids(Stage.TRIAGE_TICKETS, ticket_ids) + for_ids(Stage.DRAFT_TICKETS, undrafted))
    notes = support_notes.sweep(self)
    return len(ticket_ids) + len(undrafted) + len(notes)
