"""The sending flow decides, the task acts: a retry's delay, the last attempt, and how
``tasks.notify.deliver`` turns each outcome into Celery (send again, spend a retry, or done)."""
from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import Retry

from connectors.errors import TransientError
from flows import delivery
from flows.delivery import Attempt, Outcome, retry_delay
from flows.providers import MAX_RETRY_AFTER_S


def test_a_retry_waits_the_providers_retry_after_capped_else_the_tasks_backoff() -> None:
    attempt = Attempt(retries=2, max_retries=8, backoff_s=7.0)
    assert retry_delay(TransientError("429", retry_after_s=2.0), attempt) == 2.0
    assert retry_delay(TransientError("429", retry_after_s=86_400.0), attempt) == MAX_RETRY_AFTER_S
    assert retry_delay(TransientError("429", retry_after_s=-5.0), attempt) == 0.0
    assert retry_delay(TransientError("503"), attempt) == 7.0


def test_the_last_attempt_is_the_one_with_every_retry_spent() -> None:
    assert not Attempt(retries=7, max_retries=8, backoff_s=1.0).last
    assert Attempt(retries=8, max_retries=8, backoff_s=1.0).last


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``tasks.notify.deliver`` with its flow replaced and its broker-facing calls recorded."""
    from workers.app import app

    app.loader.import_default_modules()
    task = app.tasks["tasks.notify.deliver"]
    calls: dict[str, list[Any]] = {"again": [], "retry": [], "attempts": []}

    class Sent:
        def apply_async(self) -> None:
            pass

    def again(**options: Any) -> Sent:
        calls["again"].append(options)
        return Sent()

    def retry(**options: Any) -> Retry:
        calls["retry"].append(options)
        return Retry("retry", options.get("exc"), options.get("countdown"))

    monkeypatch.setattr(task, "signature_from_request", again)
    monkeypatch.setattr(task, "retry", retry)
    task.calls = calls
    yield task
    del task.calls


def _run(task: Any, monkeypatch: pytest.MonkeyPatch, outcome: Outcome) -> Any:
    def flow(_task: Any, outbox_id: int, attempt: Attempt) -> Outcome:
        task.calls["attempts"].append((outbox_id, attempt))
        return outcome

    monkeypatch.setattr(delivery, "deliver", flow)
    return task.apply(args=[41])


def test_done_is_returned_as_is(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(task, monkeypatch, Outcome("sent")).get() == "sent"
    assert task.calls["again"] == [] and task.calls["retry"] == []
    [(outbox_id, attempt)] = task.calls["attempts"]
    assert outbox_id == 41 and attempt.retries == 0 and attempt.max_retries == task.max_retries
    assert 0 <= attempt.backoff_s <= task.retry_backoff_max


def test_pacing_sends_the_task_again_without_spending_a_retry(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(task, monkeypatch, Outcome("paced", again_in_s=1.5)).get() == "paced"
    assert task.calls["again"] == [{"countdown": 1.5, "retries": 0}] and task.calls["retry"] == []


def test_a_transient_error_spends_a_retry_after_the_flows_delay(task: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    error = TransientError("503 from the provider")
    result = _run(task, monkeypatch, Outcome("retry", retry_in_s=4.0, error=error))
    assert result.state == "RETRY"
    assert task.calls["retry"] == [{"countdown": 4.0, "exc": error}] and task.calls["again"] == []
