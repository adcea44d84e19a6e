"""The chargeback desk's tasks: build a dispute's evidence packet, send one provider call (stage
or submit), and sweep up what lost its message. The work lives in ``flows.dispute_desk``."""
from __future__ import annotations

from celery import shared_task

from flows import dispute_desk
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.disputes.build_packet")
def build_packet(self: DbTask, dispute_id: int) -> int:
    return dispute_desk.build_packet(self, dispute_id)


@shared_task(base=DbTask, bind=True, name="tasks.disputes.call_provider")
def call_provider(self: DbTask, call_id: int) -> str:
    """Stage or submit evidence once; a transient provider error is retried with backoff."""
    return dispute_desk.call_provider(self, call_id)


@shared_task(base=DbTask, bind=True, name="tasks.disputes.sweep")
def sweep(self: DbTask, limit: int = 200) -> int:
    """Beat: provider calls and packet builds whose message was lost are sent again."""
    return dispute_desk.sweep(self, limit)
