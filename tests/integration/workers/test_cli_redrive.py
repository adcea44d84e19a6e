"""``backorders redrive`` sends dead letters through the spine, and says what it could not send.

The messages are read back from the real broker (this session's key prefix on Redis): a re-driven
dead letter must land on the queue ``flows.spine`` gives its stage, named as the spine names it.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy.orm import Session

import tasks.channels  # noqa: F401  (registers the push task: Celery then checks its arguments)
from domain.core.models import DeadLetter
from domain.core.stages import Stage
from flows.spine import BY_STAGE, FLOWS
from workers.broker_names import QUEUES
from workers.cli import main


@pytest.fixture
def broker(services: dict[str, str]) -> Iterator[redis.Redis]:
    """The broker's Redis, with this session's task queues emptied before and after."""
    client = redis.Redis.from_url(os.environ["BROKER_URL"])
    keys = [f"{os.environ.get('CELERY_KEY_PREFIX', '')}{queue}" for queue in QUEUES]
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()


def queued(broker: redis.Redis) -> list[tuple[str, str, list[Any]]]:
    """(queue, task name, args) of every message waiting on this session's task queues."""
    out = []
    for queue in QUEUES:
        for raw in broker.lrange(f"{os.environ.get('CELERY_KEY_PREFIX', '')}{queue}", 0, -1):
            message = json.loads(raw)
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            out.append((queue, message["headers"]["task"], args))
    return out


def dead_letter(db_session: Session, task_name: str, args: list[Any]) -> int:
    row = DeadLetter(task_name=task_name, task_id=str(uuid.uuid4()), args=args, kwargs={}, error="boom")
    db_session.add(row)
    db_session.commit()
    return row.id


def redriven_at(db_session: Session, dead_id: int) -> Any:
    db_session.expire_all()
    return db_session.get(DeadLetter, dead_id).redriven_at  # type: ignore[union-attr]


def test_a_dead_letter_is_sent_again_as_its_stage_on_the_stage_queue(db_session: Session,
                                                                     broker: redis.Redis) -> None:
    push = BY_STAGE[Stage.PUSH]
    dead_id = dead_letter(db_session, push.task, [4242, 7])

    result = CliRunner().invoke(main, ["redrive", str(dead_id)])

    assert result.exit_code == 0, result.output
    assert f"re-sent #{dead_id} {push.task}(4242, 7)" in result.output and "1 task(s) re-sent" in result.output
    assert queued(broker) == [(push.queue, push.task, [4242, 7])]
    assert redriven_at(db_session, dead_id) is not None
    again = CliRunner().invoke(main, ["redrive", str(dead_id)])
    assert again.exit_code == 1 and f"#{dead_id}" in again.output and len(queued(broker)) == 1


def test_a_task_name_no_longer_in_the_spine_is_reported_not_sent(db_session: Session, broker: redis.Redis) -> None:
    assert all(flow.task != "tasks.retired.old_push" for flow in FLOWS)
    gone = dead_letter(db_session, "tasks.retired.old_push", [7])
    kept = dead_letter(db_session, BY_STAGE[Stage.SEND_PO].task, [8])

    result = CliRunner().invoke(main, ["redrive", "--all"])

    assert result.exit_code == 1, result.output
    assert f"not re-sent #{gone} tasks.retired.old_push(7,): no stage runs that task any more" in result.output
    assert "1 task(s) re-sent" in result.output
    assert queued(broker) == [(BY_STAGE[Stage.SEND_PO].queue, BY_STAGE[Stage.SEND_PO].task, [8])]
    assert redriven_at(db_session, gone) is None, "left pending: still shown by status"
    assert redriven_at(db_session, kept) is not None


def test_ids_with_no_pending_dead_letter_are_named_and_fail_the_command(db_session: Session,
                                                                        broker: redis.Redis) -> None:
    """A typo must not half-run a redrive: every unknown id is named and nothing is sent."""
    known = dead_letter(db_session, BY_STAGE[Stage.PUSH].task, [1, 2])

    result = CliRunner().invoke(main, ["redrive", "12345", str(known), "12346"])

    assert result.exit_code == 1, result.output
    assert "no dead letter #12345" in result.output and "no dead letter #12346" in result.output
    assert queued(broker) == []
    assert redriven_at(db_session, known) is None, "left pending for a corrected command"
    alone = CliRunner().invoke(main, ["redrive", "12345"])
    assert alone.exit_code == 1 and "#12345" in alone.output


def test_arguments_the_task_no_longer_takes_are_reported_not_sent(db_session: Session, broker: redis.Redis) -> None:
    push = BY_STAGE[Stage.PUSH]
    stale = dead_letter(db_session, push.task, [4242])  # stored when the push took a SKU id only
    fine = dead_letter(db_session, push.task, [4242, 7])

    result = CliRunner().invoke(main, ["redrive", str(stale), str(fine)])

    assert result.exit_code == 1, result.output
    assert f"not re-sent #{stale} {push.task}(4242,): " in result.output and "store_id" in result.output
    assert "1 task(s) re-sent" in result.output
    assert queued(broker) == [(push.queue, push.task, [4242, 7])]
    assert redriven_at(db_session, stale) is None and redriven_at(db_session, fine) is not None
