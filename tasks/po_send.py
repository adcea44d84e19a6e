"""Sending an approved purchase order: one vendor email (with the CSV), one ERP record, state
``sent`` — exactly once, however often the task runs (``flows.po_send`` says how)."""
from __future__ import annotations

from celery import shared_task

from flows import po_send
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.purchasing_send.send")
def send(self: DbTask, po_id: int) -> str:
    """Send an approved PO once; returns ``sent`` or why nothing was done (for logs and tests)."""
    return po_send.send(self, po_id)
