"""``flows.spine.dispatch`` inside a task's unit of work: sent after the commit, never before,
and not at all when the transaction rolls back."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from domain.core.stages import FollowUp, Stage
from flows.spine import dispatch


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr("tasks.base.send_all", lambda messages: sent.extend(
        (signature.name, tuple(args), options) for signature, args, options in messages))
    return sent


def test_follow_ups_leave_after_the_commit(db_session: Any, broker: list[Any]) -> None:
    from tasks.stock import evaluate

    with evaluate.unit_of_work() as uow:
        uow.session.execute(text("CREATE TEMP TABLE IF NOT EXISTS dispatch_probe (n int)"))
        dispatch(uow, [FollowUp(Stage.DELIVER, (11,)), FollowUp(Stage.FILL, (12,))])
        dispatch(uow, [FollowUp(Stage.PUSH_STORE, (3,))], countdown=2.0)
        assert broker == [], "nothing leaves before the commit"
    assert broker == [("tasks.notify.deliver", (11,), {}), ("tasks.followups.fill", (12,), {}),
                      ("tasks.channels.push_store", (3,), {"countdown": 2.0})]


def test_a_task_dispatching_a_stage_its_row_omits_fails_before_anything_is_sent(db_session: Any,
                                                                                broker: list[Any]) -> None:
    """The suite runs with ``FLOWS_STRICT=1``: detection never asks for a customer's offer."""
    from flows.spine import UndeclaredFollowUp
    from tasks.stock import evaluate

    with pytest.raises(UndeclaredFollowUp), evaluate.unit_of_work() as uow:
        dispatch(uow, [FollowUp(Stage.OFFER, (12,))])
    assert broker == []


def test_a_rolled_back_unit_of_work_sends_nothing(db_session: Any, broker: list[Any]) -> None:
    from tasks.stock import evaluate

    with pytest.raises(RuntimeError), evaluate.unit_of_work() as uow:
        dispatch(uow, [FollowUp(Stage.DELIVER, (11,))])
        raise RuntimeError("the decision failed")
    assert broker == []


def test_an_effect_row_and_its_message_are_one_decision(db_session: Any, catalog: Any, broker: list[Any]) -> None:
    """``flows.effects.record`` stores the row in the transaction and dispatches the stage named
    like the kind; the chunking is the table's (``evaluate`` takes lists of up to 1,000 ids)."""
    from domain.core import effects
    from flows import effects as effect_rows
    from tasks.stock import evaluate

    sku_ids = sorted(db_session.scalars(text("SELECT id FROM skus ORDER BY id LIMIT 3")))
    with evaluate.unit_of_work() as uow:
        effect_rows.record(uow, effects.PLAN, sku_ids)
    rows = sorted(db_session.scalars(text("SELECT sku_id FROM pending_effects WHERE kind = 'plan'")))
    assert rows == sku_ids
    assert broker == [("tasks.purchasing.plan_for_skus", (sku_ids,), {})]
