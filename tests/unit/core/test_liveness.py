"""Lateness of the clock's sweeps, the health thresholds, and the platform deadline middleware."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.core.liveness import Thresholds, judge_sweeps
from workers.deadlines import DeadlineMiddleware

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_sweep_is_late_after_twice_its_interval_plus_slack() -> None:
    verdict = judge_sweeps({"tasks.timers.fire_due": 15.0, "tasks.inbound.redrive": 60.0},
                           {"tasks.timers.fire_due": (NOW, 61.0), "tasks.inbound.redrive": (NOW, 149.0)},
                           slack_s=30.0, up_for_s=1000.0)
    assert [s.task for s in verdict.late] == ["tasks.timers.fire_due"]
    assert verdict.detail == "tasks.timers.fire_due last ran 61s ago (late after 60s)"
    assert not verdict.ok


def test_a_sweep_that_never_ran_is_late_only_once_the_workers_have_been_up_long_enough() -> None:
    schedule = {"tasks.timers.fire_due": 15.0}
    assert judge_sweeps(schedule, {}, slack_s=30.0, up_for_s=20.0).ok
    assert judge_sweeps(schedule, {}, slack_s=30.0, up_for_s=None).ok
    late = judge_sweeps(schedule, {}, slack_s=30.0, up_for_s=61.0)
    assert late.detail == "tasks.timers.fire_due never ran"


def test_thresholds_from_the_environment_name_a_bad_value() -> None:
    assert Thresholds.from_env({}) == Thresholds(10.0, 45.0, 30.0, 2.0)
    assert Thresholds.from_env({"SWEEP_LATE_SLACK_S": "5", "WORKER_STALE_S": "12.5"}).sweep_slack_s == 5.0
    with pytest.raises(ValueError, match="HEALTH_CHECK_TIMEOUT_S"):
        Thresholds.from_env({"HEALTH_CHECK_TIMEOUT_S": "0"})
    with pytest.raises(ValueError, match="WORKER_HEARTBEAT_S: 'soon'"):
        Thresholds.from_env({"WORKER_HEARTBEAT_S": "soon"})


async def _call(app: Any, path: str, budget_s: float) -> tuple[list[dict[str, Any]], float]:
    from workers.deadlines import SCOPE_KEY

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.monotonic()
    scope = {"type": "http", "method": "POST", "path": path, "headers": [], SCOPE_KEY: started + budget_s}
    await DeadlineMiddleware(app)(scope, receive, send)
    return sent, time.monotonic() - started


def _handler(delay_s: float, finished: list[str]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(delay_s)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        finished.append(scope["path"])
    return app


def test_a_handler_past_the_deadline_is_answered_503_and_left_to_finish() -> None:
    finished: list[str] = []

    async def scenario() -> tuple[list[dict[str, Any]], float]:
        sent, seconds = await _call(_handler(0.6, finished), "/callbacks/mailgun", 0.2)
        await asyncio.sleep(0.6)  # the abandoned handler ends on its own; its answer is dropped
        return sent, seconds

    sent, seconds = asyncio.run(scenario())
    assert seconds < 0.5
    assert sent[0]["status"] == 503 and (b"retry-after", b"5") in sent[0]["headers"]
    assert len(sent) == 2, "nothing of the late handler's answer reaches the client"
    assert finished == ["/callbacks/mailgun"]


def test_a_handler_within_the_deadline_and_other_paths_pass_through() -> None:
    finished: list[str] = []
    sent, _ = asyncio.run(_call(_handler(0.01, finished), "/webhooks/shop", 1.0))
    assert sent[0]["status"] == 200
    sent, _ = asyncio.run(_call(_handler(0.3, finished), "/b/token", 0.1))
    assert sent[0]["status"] == 200, "customer pages are not under the platform deadline"
