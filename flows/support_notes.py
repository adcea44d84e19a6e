"""Posting a ticket's reply draft to its helpdesk as an internal note, between two transactions.

The helpdesk connectors (Zendesk, Gorgias, Intercom) plug in here. A ticket whose ``source`` is a
``[[helpdesks]]`` entry's key (or the platform of the one entry on it) is posted through that
entry's connector (``flows.helpdesks.helpdesk_for``): ``write_back`` with a
:class:`~connectors.helpdesk.contract.TicketUpdate` carrying only the note, marked with the
note's idempotency key (``support-note-{id}``) so a retried post leaves one note. Any other source
may register a :data:`NotePoster` (:func:`register`: tests, a future channel). A poster takes the
ticket's id at the helpdesk, the note's body and the idempotency key, writes an *internal* note
(never a public reply: an agent sends the draft) and returns the helpdesk's id of the note; it
raises the classified connector errors (``connectors.errors``). Until a source has a poster its
notes stay ``pending`` and are not swept; from the moment one is configured the sweeper sends them.

``post``: lease the row (``domain.support.notes.claim``), call the poster with no transaction
open, record the answer. Transient → back to pending and raised for the task's retry; permanent →
failed with the reason; outcome unknown → pending again (a second internal note is harmless,
unlike a lost one).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from connectors.errors import PermanentError, TransientError
from connectors.helpdesk.contract import TicketUpdate
from domain.core.business_config import current_config
from domain.core.helpdesk_config import HelpdeskConfig
from domain.core.clock import utcnow
from domain.core.models import SupportNote, SupportTicket
from domain.core.stages import Stage
from domain.support import notes
from flows.helpdesks import helpdesk_for
from flows.spine import dispatch, for_ids
from flows.work import Transactional

log = logging.getLogger(__name__)

#: (the ticket's id at the helpdesk, the note's body, its idempotency key) → the helpdesk's id of the note.
NotePoster = Callable[[str, str, str], str | None]
POSTERS: dict[str, NotePoster] = {}
#: A pending note this old lost its message (or its connector arrived since): the sweeper sends it.
STRANDED_AFTER = timedelta(minutes=1)


def register(source: str, poster: NotePoster | None) -> NotePoster | None:
    """Serve ``source``'s notes with ``poster`` (None removes it); returns the one it replaces."""
    previous = POSTERS.pop(source, None)
    if poster is not None:
        POSTERS[source] = poster
    return previous


def _entry(source: str) -> HelpdeskConfig | None:
    entries = current_config().helpdesks.entries
    by_key = next((e for e in entries if e.key == source), None)
    on_platform = [e for e in entries if e.platform == source]
    return by_key or (on_platform[0] if len(on_platform) == 1 else None)


def _helpdesk_poster(entry: HelpdeskConfig) -> NotePoster:
    def poster(ticket_id: str, body: str, idempotency_key: str) -> str | None:
        outcome = helpdesk_for(entry).write_back(TicketUpdate(ticket_id=ticket_id, idempotency_key=idempotency_key,
                                                              note=body))
        return outcome.note_id or None

    return poster


def poster_for(source: str) -> NotePoster | None:
    """The registered poster of ``source``, else its ``[[helpdesks]]`` entry's connector, else None."""
    if source in POSTERS:
        return POSTERS[source]
    entry = _entry(source)
    return _helpdesk_poster(entry) if entry is not None else None


def served_sources() -> set[str]:
    """Every source a poster serves: registered, or a ``[[helpdesks]]`` entry's key or platform."""
    entries = current_config().helpdesks.entries
    return set(POSTERS) | {e.key for e in entries} | {e.platform for e in entries}


def idempotency_key(note_id: int) -> str:
    return f"support-note-{note_id}"


def post(task: Transactional, note_id: int) -> str:
    """Post one note: ``posted``, ``failed``, ``no helpdesk`` or ``nothing to do``."""
    with task.unit_of_work() as uow:
        ticket_source = uow.session.scalar(select(SupportNote.source).where(SupportNote.id == note_id))
        poster = poster_for(ticket_source or "")
        if poster is None:
            return "no helpdesk"  # stays pending: readable through the CLI and why ticket
        note = notes.claim(uow.session, note_id, utcnow())
        if note is None:
            return "nothing to do"
        ticket = uow.session.get(SupportTicket, note.ticket_id)
        assert ticket is not None
        external_id, body = ticket.external_id, note.body
    try:
        ref = poster(external_id, body, idempotency_key(note_id))
    except TransientError as exc:  # OutcomeUnknownError too: a second internal note is harmless
        with task.unit_of_work() as uow:
            notes.record_failure(uow.session, note_id, f"{type(exc).__name__}: {exc}", utcnow(), permanent=False)
        raise
    except PermanentError as exc:
        with task.unit_of_work() as uow:
            notes.record_failure(uow.session, note_id, f"{type(exc).__name__}: {exc}", utcnow(), permanent=True)
        log.error("ticket note %s refused by %s: %s", note_id, ticket_source, exc)
        return "failed"
    with task.unit_of_work() as uow:
        notes.record_done(uow.session, note_id, ref, utcnow())
    return "posted"


def sweep(task: Transactional, limit: int = 200) -> list[int]:
    """Re-send the notes of sources a helpdesk connector serves whose message was lost."""
    with task.unit_of_work() as uow:
        found = notes.stranded(uow.session, served_sources(), utcnow(), STRANDED_AFTER, limit)
        dispatch(uow, for_ids(Stage.POST_TICKET_NOTE, found))
    return found
