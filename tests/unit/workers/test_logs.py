"""Log lines: JSON or console by ``LOG_FORMAT``, bound fields on every record, secrets redacted,
and the correlation id handed across the broker as a header and bound when a task starts."""
from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from domain.core import log_context
from workers import correlation
from workers.logs import formatter, log_format


def _render(kind: str, emit: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(kind))
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        emit()
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_structured_and_foreign_lines_carry_the_bound_fields_with_links_redacted() -> None:
    events = log_context.get_logger("tests.logs")
    with log_context.bound(correlation_id="abc123", store="shopify-main", sku="FUT-1"):
        text = _render("json", lambda: (
            events.info("offer.sent", link="https://shop.example/b/SECRET-TOKEN?x=1"),
            logging.getLogger("tests.logs").warning("vendor opened /po/OTHER-SECRET")))
    structured, foreign = (json.loads(line) for line in text.splitlines())
    assert structured["event"] == "offer.sent" and structured["level"] == "info"
    assert structured["link"] == "https://shop.example/b/[redacted]?x=1"
    assert foreign["event"] == "vendor opened /po/[redacted]" and foreign["level"] == "warning"
    for line in (structured, foreign):
        assert (line["correlation_id"], line["store"], line["sku"], line["logger"]) == (
            "abc123", "shopify-main", "FUT-1", "tests.logs")
        assert line["timestamp"].endswith("+00:00")
    assert "SECRET" not in text


def test_an_oauth_token_in_a_form_or_a_query_is_redacted_and_words_ending_in_token_are_not() -> None:
    text = _render("json", lambda: logging.getLogger("tests.logs").warning(
        "POST body grant_type=refresh_token&refresh_token=AB11-ROTATED then access_token=eyJ-LIVE; mytoken=kept"))
    event = json.loads(text)["event"]
    assert "AB11-ROTATED" not in text and "eyJ-LIVE" not in text
    assert "grant_type=refresh_token&refresh_token=[redacted]" in event and "access_token=[redacted]" in event
    assert "mytoken=kept" in event


def test_a_traceback_is_redacted_too() -> None:
    def fail() -> None:
        try:
            raise ValueError("bad link /b/TOKEN-IN-ERROR")
        except ValueError:
            logging.getLogger("tests.logs").exception("send failed")

    text = _render("json", fail)
    assert "TOKEN-IN-ERROR" not in text and "/b/[redacted]" in json.loads(text)["exception"]


def test_console_lines_are_key_value() -> None:
    with log_context.bound(correlation_id="c0ffee"):
        text = _render("console", lambda: log_context.get_logger("tests.logs").info("stage", stage="evaluate"))
    assert "stage" in text and "stage=evaluate" in text and "correlation_id=c0ffee" in text


def test_the_format_follows_the_setting_or_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty, pipe = SimpleNamespace(isatty=lambda: True), SimpleNamespace(isatty=lambda: False)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert (log_format(tty), log_format(pipe)) == ("console", "json")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert log_format(tty) == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_format(pipe)


class _Task:
    name = "tasks.channels.push_due"

    def __init__(self, **request: Any) -> None:
        self.request = SimpleNamespace(**request)

    def run(self, sku_id: int, store_id: int) -> int:
        return 0


def test_the_id_goes_out_as_a_header_and_comes_back_bound_then_unbound() -> None:
    headers: dict[str, Any] = {}
    with log_context.bound(correlation_id="chain-1"):
        correlation._add_header(headers=headers)
    assert headers == {log_context.HEADER: "chain-1"}

    before = log_context.snapshot()
    task = _Task(**{log_context.HEADER: "chain-1"})
    correlation._bind(task_id="t1", task=task, args=(12, 3), kwargs={})
    bound = log_context.snapshot()
    assert (bound["correlation_id"], bound["sku_id"], bound["store_id"], bound["task"]) == (
        "chain-1", 12, 3, "tasks.channels.push_due")
    log_context.bind(store="woo-outlet")  # bound by the task's own code
    correlation._unbind(task_id="t1")
    assert log_context.snapshot() == before, "nothing the task bound outlives it"


def test_a_task_with_no_header_starts_a_chain_of_its_own() -> None:
    correlation._bind(task_id="t2", task=_Task(), args=(1, 2), kwargs={})
    try:
        minted = log_context.current_id()
        assert minted and len(minted) == 16
    finally:
        correlation._unbind(task_id="t2")
    assert log_context.current_id() is None


def test_what_counts_as_a_sweep_that_found_work() -> None:
    from workers.quiet_sweeps import found, sweeper_names

    assert [found(v) for v in (0, 3, None, {}, {"sent": 0, "failed": 0}, {"sent": 1}, [], [4], "store 1")] == [
        False, True, False, False, False, True, False, True, True]
    import celeryconfig

    names = sweeper_names(celeryconfig.beat_schedule)
    assert {"tasks.channels.sweep", "tasks.polling.dispatch_due", "tasks.timers.fire_due"} <= names
    assert "tasks.inbound.drain" not in names
