"""The web receiver wakes a drain through the pipeline's table, like every other send."""
from __future__ import annotations

from typing import Any

import pytest

from domain.core.stages import Stage
from flows import spine


class Recorded:
    def __init__(self, stage: Stage, sent: list[tuple[Stage, tuple[Any, ...]]], fail: bool) -> None:
        self.stage, self.sent, self.fail = stage, sent, fail

    def apply_async(self, args: tuple[Any, ...], **options: Any) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((self.stage, tuple(args)))


@pytest.mark.parametrize("broker_up", [True, False])
def test_a_woken_drain_is_the_drain_stage_of_the_table(monkeypatch: pytest.MonkeyPatch, broker_up: bool) -> None:
    from workers import ingest_writer

    sent: list[tuple[Stage, tuple[Any, ...]]] = []
    cleared: list[str] = []
    monkeypatch.setattr(spine, "signature", lambda stage, app=None: Recorded(stage, sent, fail=not broker_up))
    monkeypatch.setattr(ingest_writer.coalesce, "clear", cleared.append)
    ingest_writer.enqueue_drain("shop-a")
    if broker_up:
        assert sent == [(Stage.DRAIN, ("shop-a",))] and cleared == []
        assert spine.task_name(Stage.DRAIN) == "tasks.inbound.drain"
    else:  # the row is committed: the flag is cleared so the inbox sweeper's wake-up is not swallowed
        assert sent == [] and cleared == ["shop-a"]
