"""Inline stages are announced: a ``task-stage`` event under a worker and a structured ``stage`` event."""
from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from domain.core.stages import Stage
from flows.stage_events import EVENT, MAX_EVENT_IDS, announce


class FakeTask:
    name = "tasks.inbound.drain"

    def __init__(self, **request: Any) -> None:
        self.request = SimpleNamespace(**request)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def send_event(self, type_: str, retry: bool = True, retry_policy: Any = None, **fields: Any) -> None:
        self.events.append((type_, fields))


def test_under_a_worker_the_stage_is_an_event_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    task = FakeTask(id="abc", called_directly=False, is_eager=False)
    with caplog.at_level(logging.INFO, logger="flows.stage"):
        fields = announce(task, Stage.EVALUATE, list(range(80)), "done", 0.0042)
    assert task.events == [(EVENT, fields)]
    assert fields["stage"] == "evaluate" and fields["stage_task"] == "tasks.stock.evaluate"
    assert fields["count"] == 80 and len(fields["ids"]) == MAX_EVENT_IDS and fields["ms"] == 4.2
    [event] = [r.msg for r in caplog.records if r.name == "flows.stage"]
    assert isinstance(event, dict)
    assert {k: event[k] for k in ("event", "stage", "stage_task", "inline_in", "inline_task_id", "ids", "outcome",
                                  "ms")} == {"event": "stage", "stage": "evaluate", "stage_task": "tasks.stock.evaluate",
                                             "inline_in": "tasks.inbound.drain", "inline_task_id": "abc", "ids": 80,
                                             "outcome": "done", "ms": 4.2}


def test_called_in_process_it_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    eager = FakeTask(id="e1", called_directly=False, is_eager=True)
    direct = FakeTask(id=None, called_directly=True)
    with caplog.at_level(logging.INFO, logger="flows.stage"):
        announce(eager, Stage.OFFER, [5], "fell back", 0.01)
        announce(direct, Stage.OFFER, [6], "done", 0.01)
    assert eager.events == [] and direct.events == []
    assert [r.msg["outcome"] for r in caplog.records if r.name == "flows.stage"] == ["fell back", "done"]


def test_an_event_that_cannot_be_sent_never_fails_the_stage() -> None:
    task = FakeTask(id="abc", called_directly=False, is_eager=False)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("broker gone")

    task.send_event = broken  # type: ignore[method-assign]
    assert announce(task, Stage.EVALUATE, [1], "done", 0.0)["outcome"] == "done"


def test_celerys_event_state_shows_the_stage_on_the_drain_until_it_succeeds() -> None:
    """What Flower displays comes from ``celery.events.state.State``: the custom event type is the
    task's state, with the stage's fields, until ``task-succeeded``."""
    from celery.events.state import State

    task = FakeTask(id="u1", called_directly=False, is_eager=False)
    announce(task, Stage.EVALUATE, [1, 2], "done", 0.001)
    [(kind, fields)] = task.events
    state, now = State(), 1_700_000_000.0
    base = {"uuid": "u1", "hostname": "w1", "local_received": now}
    state.event({"type": "task-started", "timestamp": now, "clock": 1, **base})
    state.event({"type": kind, "timestamp": now + 0.1, "clock": 2, **base, **fields})
    shown = state.tasks["u1"]
    assert (shown.state, shown.stage, shown.stage_task, shown.outcome) == ("STAGE", "evaluate", "tasks.stock.evaluate",
                                                                           "done")
    state.event({"type": "task-succeeded", "timestamp": now + 0.2, "clock": 3, "result": "1", "runtime": 0.2,
                 **base})
    assert (shown.state, shown.stage) == ("SUCCESS", "evaluate")
