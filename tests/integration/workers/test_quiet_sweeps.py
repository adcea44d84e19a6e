"""Under a real worker, a sweep that found nothing sends no event Flower would list; one that found
work is listed (received, then succeeded with what it found), and ordinary tasks are unchanged.
The sweep still ran and still counts for ``/healthz`` (its ``sweep_runs`` row)."""
from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import InboxEvent
from tests.conftest import wait_for


def _runs(session: Session, task: str) -> int:
    session.expire_all()
    return int(session.execute(text("SELECT coalesce(max(runs), 0) FROM sweep_runs WHERE task = :t"),
                               {"t": task}).scalar_one())


def test_idle_sweeps_are_silent_and_busy_ones_are_listed(celery_app: Any, celery_worker: Any,
                                                         db_session: Session) -> None:
    from tasks.channels import sweep
    from tasks.inbound import redrive

    sent_events = celery_app.conf.task_send_sent_event
    celery_app.conf.task_send_sent_event = False  # as in the beat process (beat_init)

    seen: list[dict[str, Any]] = []
    listening = threading.Event()
    receivers: list[Any] = []

    def listen() -> None:
        with celery_app.connection_for_read() as connection:
            receiver = celery_app.events.Receiver(connection, handlers={"*": seen.append})
            receiver.on_iteration = listening.set
            receivers.append(receiver)
            with contextlib.suppress(TimeoutError):
                receiver.capture(limit=None, timeout=60, wakeup=False)

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert listening.wait(10)
    try:
        assert not celery_app.tasks[sweep.name].send_events, "the worker quieted the scheduled sweepers"
        idle = sweep.delay()
        wait_for(lambda: _runs(db_session, sweep.name) >= 1, timeout_s=30)

        db_session.add(InboxEvent(source="gone-store", dedupe_key="stranded-1", kind="inventory_update",
                                  topic="t", payload={}, received_at=utcnow() - timedelta(minutes=5)))
        db_session.commit()
        busy = redrive.delay()

        def busy_events() -> list[str]:
            return [e["type"] for e in seen if e.get("uuid") == busy.id]

        wait_for(lambda: "task-succeeded" in busy_events(), timeout_s=30)
        succeeded = next(e for e in seen if e.get("uuid") == busy.id and e["type"] == "task-succeeded")
        received = next(e for e in seen if e.get("uuid") == busy.id and e["type"] == "task-received")
        assert received["name"] == "tasks.inbound.redrive" and succeeded["result"] == "1"
        assert succeeded["runtime"] >= 0
        # the drain it dispatched is an ordinary task: the worker announces it as always
        wait_for(lambda: any(e["type"] == "task-succeeded" and e.get("uuid") != busy.id for e in seen
                             if e.get("uuid")), timeout_s=30)
        drains = [e for e in seen if e["type"] == "task-received" and e.get("name") == "tasks.inbound.drain"]
        assert drains and drains[0]["args"].startswith("source='gone-store', chain="), "Flower reads what it drains"
        assert [e for e in seen if e.get("uuid") == idle.id] == [], "the idle sweep left no trace in Flower"
        assert _runs(db_session, redrive.name) >= 1
        assert db_session.scalar(select(InboxEvent.state).where(InboxEvent.dedupe_key == "stranded-1")) == "pending"
    finally:
        celery_app.conf.task_send_sent_event = sent_events
        if receivers:
            receivers[0].should_stop = True
        thread.join(5)
