"""Satisfaction beat tasks: ask the recently resolved subjects (``domain.csat.surveys.sweep``) and
send the weekly report when its period comes (``domain.csat.report.send_report``)."""
from __future__ import annotations

from celery import shared_task

import domain.core.env_settings as runtime_settings
from domain.core.clock import utcnow
from domain.core.stages import Stage
from domain.csat import report, surveys
from domain.returns import csat_source  # noqa: F401  (registers the ``return`` source)
from flows.spine import dispatch, for_ids
from tasks.base import DbTask


@shared_task(base=DbTask, bind=True, name="tasks.csat.sweep")
def sweep(self: DbTask) -> int:
    """Beat: one survey per subject resolved lately and not asked yet; returns the emails queued."""
    settings = runtime_settings.current()
    with self.unit_of_work() as uow:
        outbox_ids = surveys.sweep(uow.session, settings.config, settings.public_base_url, settings.secret_key)
        dispatch(uow, for_ids(Stage.DELIVER, outbox_ids))
    return len(outbox_ids)


@shared_task(base=DbTask, bind=True, name="tasks.csat.send_report")
def send_report(self: DbTask) -> int:
    """Beat calls this often; the report goes out once per ``[csat] report_schedule`` period."""
    settings = runtime_settings.current()
    with self.unit_of_work() as uow:
        outbox_ids = report.send_report(uow.session, utcnow(), settings.config)
        dispatch(uow, for_ids(Stage.DELIVER, outbox_ids))
    return len(outbox_ids)
