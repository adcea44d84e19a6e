"""Dead letters spooled to a local file while the database refused them, brought into the table."""
from __future__ import annotations

from celery import shared_task

from domain.core import spool
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.deadletters.import_spool", max_retries=0)
def import_spool(self: DbTask) -> int:
    """Beat's sweeper: import what this host's spool holds (a refusing database leaves it for the
    next sweep, and says so in the log)."""
    return spool.try_import()
