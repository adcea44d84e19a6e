"""The pipeline's table is the truth: every registered task is a row with its queue, and back."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from domain.core.stages import FollowUp, Stage
from flows import spine
from flows.work import UnitOfWork

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def app() -> Any:
    from workers.app import app

    app.loader.import_default_modules()
    return app


def test_every_registered_task_is_a_row_and_every_row_a_registered_task(app: Any) -> None:
    """Every task the product's task modules define (tests may register their own on the app)."""
    product = {name: task.__module__ for name, task in app.tasks.items() if task.__module__.split(".")[0] == "tasks"}
    assert set(product) == set(spine.BY_TASK), "tasks/ and flows.spine.FLOWS disagree"
    assert set(product.values()) == set(app.conf.imports), "a task module the worker does not import"


def test_each_task_is_routed_to_its_rows_queue(app: Any) -> None:
    for flow in spine.FLOWS:
        assert app.amqp.router.route({}, flow.task)["queue"].name.endswith(flow.queue), flow.task


def test_every_stage_has_one_row_and_what_follows_is_a_stage() -> None:
    assert [flow.stage for flow in spine.FLOWS].count(Stage.DELIVER) == 1
    assert set(spine.BY_STAGE) == set(Stage), "a stage without a task"
    assert len(spine.BY_TASK) == len(spine.FLOWS), "two stages share a task"
    for flow in spine.FLOWS:
        assert set(flow.then) <= set(Stage), flow
        assert flow.queue in {spine.SYNC, spine.DETECT, spine.DEFAULT, spine.NOTIFY, spine.TIMERS}


def test_the_beat_schedule_and_the_clock_sweeps_come_from_the_table() -> None:
    import celeryconfig

    beat = {entry["task"] for entry in celeryconfig.beat_schedule.values()}
    assert beat <= set(spine.BY_TASK)
    assert set(spine.clock_sweeps()) <= beat
    assert set(spine.clock_sweeps()) == {"tasks.polling.dispatch_due", "tasks.timers.fire_due", "tasks.channels.sweep",
                                         "tasks.inbound.redrive", "tasks.notify.redrive"}


def test_for_ids_batches_list_stages_and_keeps_order_for_single_ones() -> None:
    batches = spine.for_ids(Stage.EVALUATE, list(range(2500, 0, -1)) + [7])
    assert [len(args[0]) for _stage, args in batches] == [1000, 1000, 500]
    assert batches[0].args[0][:3] == [1, 2, 3] and batches[-1].args[0][-1] == 2500
    assert spine.for_ids(Stage.DELIVER, [9, 3, 9, 5]) == [FollowUp(Stage.DELIVER, (9,)), FollowUp(Stage.DELIVER, (3,)),
                                                           FollowUp(Stage.DELIVER, (5,))]
    assert spine.for_ids(Stage.PLAN, []) == [] and spine.for_ids(Stage.FILL, []) == []


def test_dispatch_queues_each_follow_up_for_after_the_commit(app: Any) -> None:
    uow = UnitOfWork(session=None, app=app)  # type: ignore[arg-type]
    queued = spine.dispatch(uow, [FollowUp(Stage.DELIVER, (4,)), FollowUp(Stage.REFUND, (8,))])
    spine.dispatch(uow, [FollowUp(Stage.PUSH_DUE, (1, 2))], countdown=1.5)
    assert queued == 2
    assert [(sig.name, args, options) for sig, args, options in uow.after_commit] == [
        ("tasks.notify.deliver", (4,), {}), ("tasks.followups.refund", (8,), {}),
        ("tasks.channels.push_due", (1, 2), {"countdown": 1.5})]


def test_dispatch_refuses_a_task_name_where_a_stage_belongs(app: Any) -> None:
    uow = UnitOfWork(session=None, app=app)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        spine.dispatch(uow, [("tasks.notify.deliver", (4,))])  # type: ignore[list-item]
    assert uow.after_commit == []


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


def test_the_domain_names_no_task() -> None:
    """Stages, not task names: a ``"tasks.…"`` string in ``domain/`` would bypass the table."""
    offenders = []
    for path in _sources("domain"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("tasks."):
                offenders.append(f"{path.name}: {node.value}")
    assert offenders == []


def test_tasks_do_not_import_each_other() -> None:
    """A task module imports ``tasks.base`` at most; it reaches other stages through the spine."""
    offenders = []
    for path in _sources("tasks"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "tasks" or (node.module.startswith("tasks.") and node.module != "tasks.base"):
                    offenders.append(f"{path.name}: from {node.module} import {[a.name for a in node.names]}")
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("tasks.")]
    assert offenders == []


def test_domain_and_flows_never_import_tasks_or_workers() -> None:
    offenders = []
    for folder in ("domain", "flows"):
        for path in _sources(folder):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                           else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                offenders += [f"{folder}/{path.name}: {m}" for m in modules if m.split(".")[0] in ("tasks", "workers")]
    assert offenders == []


def test_a_stage_dispatching_what_its_row_omits_is_caught(app: Any, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    uow = UnitOfWork(session=None, app=app, stage=Stage.OFFER)  # type: ignore[arg-type]
    spine.dispatch(uow, [FollowUp(Stage.DELIVER, (1,))])  # declared: offer → deliver
    monkeypatch.setattr(spine, "STRICT", True)
    with pytest.raises(spine.UndeclaredFollowUp, match="offer dispatched \\['plan'\\]"):
        spine.dispatch(uow, [FollowUp(Stage.PLAN, ([1],))])
    monkeypatch.setattr(spine, "STRICT", False)
    spine.dispatch(uow, [FollowUp(Stage.PLAN, ([1],))])
    assert "not in its row of flows.spine" in caplog.text
    assert [sig.name for sig, _a, _o in uow.after_commit] == ["tasks.notify.deliver", "tasks.purchasing.plan_for_skus"]


def test_a_task_opens_its_unit_of_work_with_its_stage(db_session: Any) -> None:
    from tasks.followups import offer

    with offer.unit_of_work() as uow:
        assert uow.stage is Stage.OFFER
