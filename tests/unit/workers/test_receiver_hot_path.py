"""The receiver's per-request layers, made cheap for the webhook path, still do what they promise:
the deadline answers 503 for a stuck handler and only for it, the input guard refuses NULs and deep
JSON and hands every body on unchanged, a webhook whose batch never answers hears 503 by its
deadline and is withdrawn, and every answer is counted under its store and reason."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from domain.core import log_context
from flows import metrics
from workers import webhooks
from workers.deadlines import SCOPE_KEY, DeadlineMiddleware
from workers.ingest_writer import Outcome
from workers.input_guard import InputGuardMiddleware, too_deep


def _scope(path: str = "/webhooks/shop", deadline_in_s: float | None = None,
           headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
                             "query_string": b"", "headers": headers or [(b"content-type", b"application/json")]}
    if deadline_in_s is not None:
        scope[SCOPE_KEY] = time.monotonic() + deadline_in_s
    return scope


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.messages if m["type"] == "http.response.start"))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


async def _answer(send: Any, status: int = 200, body: bytes = b"ok") -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


# --- DeadlineMiddleware ---------------------------------------------------------------------------


def test_a_prompt_handler_is_answered_as_it_answers() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await _answer(send, 202, b"stored")

    sent = Recorder()
    asyncio.run(DeadlineMiddleware(handler)(_scope(deadline_in_s=1.0), _no_body, sent))
    assert (sent.status, sent.body) == (202, b"stored")


def test_a_stuck_handler_gets_503_by_the_deadline_and_its_late_answer_is_dropped() -> None:
    release = asyncio.Event()
    finished: list[bool] = []

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await _answer(send, 200, b"too late")
        finished.append(True)

    async def run() -> Recorder:
        sent = Recorder()
        await DeadlineMiddleware(handler)(_scope(deadline_in_s=0.2), _no_body, sent)
        assert not finished  # answered while the handler still waited
        release.set()
        for _ in range(50):  # the abandoned handler ends on its own
            if finished:
                break
            await asyncio.sleep(0.01)
        return sent

    sent = asyncio.run(run())
    assert sent.status == 503 and json.loads(sent.body)["error"].startswith("not handled within")
    assert (b"retry-after", b"5") in next(m for m in sent.messages if m["type"] == "http.response.start")["headers"]
    assert finished == [True] and b"too late" not in sent.body


def test_a_handler_that_began_its_answer_is_let_finish_past_the_deadline() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"slow client"})

    sent = Recorder()
    asyncio.run(DeadlineMiddleware(handler)(_scope(deadline_in_s=0.1), _no_body, sent))
    assert (sent.status, sent.body) == (200, b"slow client")


def test_what_the_handler_raises_is_raised() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        asyncio.run(DeadlineMiddleware(handler)(_scope(deadline_in_s=1.0), _no_body, Recorder()))


# --- InputGuardMiddleware -------------------------------------------------------------------------


def _guarded(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None
             ) -> tuple[Recorder, list[dict[str, Any]]]:
    """Run the guard over ``messages``; what it answered and what the endpoint received."""
    seen: list[dict[str, Any]] = []

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await _answer(send)

    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    sent = Recorder()
    asyncio.run(InputGuardMiddleware(endpoint)(_scope(headers=headers), receive, sent))
    return sent, seen


def test_a_body_in_one_message_reaches_the_endpoint_unchanged() -> None:
    body = json.dumps({"items": [{"id": n} for n in range(200)]}).encode()  # 201 brackets, depth 3
    sent, seen = _guarded([{"type": "http.request", "body": body, "more_body": False}])
    assert sent.status == 200
    assert [(m["type"], m["body"], m.get("more_body", False)) for m in seen] == [("http.request", body, False)]


def test_a_body_in_chunks_is_handed_on_whole() -> None:
    sent, seen = _guarded([{"type": "http.request", "body": b'{"a": ', "more_body": True},
                           {"type": "http.request", "body": b'[1, 2]}', "more_body": False}])
    assert sent.status == 200 and [m["body"] for m in seen] == [b'{"a": [1, 2]}']


def test_a_client_gone_mid_body_is_passed_on_as_it_happened() -> None:
    sent, seen = _guarded([{"type": "http.request", "body": b'{"a": ', "more_body": True},
                           {"type": "http.disconnect"}])
    assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]


def test_nul_in_a_header_and_deep_json_are_refused_before_the_endpoint() -> None:
    headers = [(b"content-type", b"application/json"), (b"x-shopify-topic", b"orders/create\x00")]
    sent, seen = _guarded([{"type": "http.request", "body": b"{}", "more_body": False}], headers)
    assert sent.status == 400 and b"header contains a NUL" in sent.body and seen == []

    sent, seen = _guarded([{"type": "http.request", "body": b"[" * 65 + b"]" * 65, "more_body": False}])
    assert sent.status == 400 and b"nested deeper than 64" in sent.body and seen == []


def test_depth_is_counted_only_past_the_brackets_a_body_has() -> None:
    assert too_deep(b"[" * 64 + b"]" * 64, 64) is None
    assert too_deep(b"[" * 65 + b"]" * 65, 64) == "JSON nested deeper than 64 levels"
    assert too_deep(b"[" + b"[]," * 100 + b"[]]", 64) is None  # 102 brackets, depth 2
    assert too_deep(b'{"a": "' + b"[" * 100 + b'"}', 64) is None  # brackets inside a string


# --- the accept path: the deadline's backstop, the correlation id, the counters -------------------


class StuckWriter:
    """A writer whose batches never answer (a database that stopped mid-statement)."""

    def __init__(self, outcome: Outcome | None = None) -> None:
        self.outcome = outcome
        self.events: list[Any] = []
        self.withdrawn: list[asyncio.Future[Outcome]] = []

    def submit(self, event: Any, deadline: float | None = None) -> asyncio.Future[Outcome]:
        self.events.append(event)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self.outcome is not None:
            future.set_result(self.outcome)
        return future

    def withdraw(self, future: asyncio.Future[Outcome]) -> bool:
        self.withdrawn.append(future)
        return True


class Event:
    source, topic = "shop", "inventory_levels/update"

    def __init__(self) -> None:
        self.payload: dict[str, Any] = {}


def _accept_with(writer: StuckWriter, monkeypatch: pytest.MonkeyPatch, deadline_in_s: float
                 ) -> webhooks.Answer:
    monkeypatch.setattr(webhooks.webhook_stores, "cached", lambda key: (True, object()))
    monkeypatch.setattr(webhooks, "check_webhook", lambda store, headers, body: Event())
    monkeypatch.setattr(webhooks, "get_writer", lambda: writer)

    async def run() -> webhooks.Answer:
        return await webhooks.accept_webhook("shop", {}, b"{}", time.monotonic() + deadline_in_s)

    return asyncio.run(run())


def _count(counter: Any, *labels: str) -> float:
    return float(counter.labels(*labels)._value.get())


def test_a_batch_that_never_answers_is_503_by_the_deadline_and_withdrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = StuckWriter()
    before = _count(metrics.WEBHOOKS_REFUSED, "shop", "unavailable")
    answer = _accept_with(writer, monkeypatch, 0.2)
    assert answer is webhooks.TOO_SLOW
    assert len(writer.withdrawn) == 1 and writer.withdrawn[0].result() is webhooks.EXPIRED
    assert _count(metrics.WEBHOOKS_REFUSED, "shop", "unavailable") == before + 1


def test_an_accepted_webhook_carries_a_fresh_correlation_id_and_is_counted(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    before = _count(metrics.WEBHOOKS_ACCEPTED, "shop", "accepted")
    ids = []
    for _ in range(2):
        writer = StuckWriter(Outcome(event_id=7))
        with caplog.at_level(logging.DEBUG, logger="workers.webhooks"):
            answer = _accept_with(writer, monkeypatch, 1.0)
        assert (answer.status, answer.body) == (200, {"status": "accepted", "id": 7}) and writer.withdrawn == []
        ids.append(writer.events[0].payload[log_context.CORRELATION_ID])
    assert all(len(cid) == 16 and int(cid, 16) >= 0 for cid in ids) and ids[0] != ids[1]
    assert _count(metrics.WEBHOOKS_ACCEPTED, "shop", "accepted") == before + 2
    received = [r for r in caplog.records if "webhook.received" in r.getMessage()]
    assert len(received) == 2  # logged at debug when debug is on
    assert log_context.current_id() is None  # bound for the request only


def test_accepted_webhooks_are_not_logged_at_info(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="workers.webhooks"):
        _accept_with(StuckWriter(Outcome(duplicate=True)), monkeypatch, 1.0)
    assert not [r for r in caplog.records if "webhook.received" in r.getMessage()]


def test_each_answer_is_counted_under_its_store_and_reason() -> None:
    cases = [("shop", "accepted", metrics.WEBHOOKS_ACCEPTED, ("shop", "accepted")),
             ("shop", "duplicate", metrics.WEBHOOKS_ACCEPTED, ("shop", "duplicate")),
             ("shop", "signature", metrics.WEBHOOKS_REFUSED, ("shop", "signature")),
             ("no-such-store", "unknown_store", metrics.WEBHOOKS_REFUSED, ("-", "unknown_store")),
             ("other", "unknown_store", metrics.WEBHOOKS_REFUSED, ("-", "unknown_store"))]
    for store, reason, counter, labels in cases:
        before = _count(counter, *labels)
        for _ in range(3):
            metrics.webhook_answered(store, reason)
        assert _count(counter, *labels) == before + 3, (store, reason)
    assert ("no-such-store", "unknown_store") not in metrics._answer_children  # no label per made-up key


# --- the per-source limiter's settings and keys ---------------------------------------------------


def test_limits_follow_a_changed_setting_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.source_limits import SourceLimits

    monkeypatch.setenv("WEBHOOK_LIMIT_PER_IP_PER_S", "7")
    monkeypatch.setenv("WEBHOOK_LIMIT_PER_STORE_BURST", "0.5")
    first = SourceLimits.current()
    assert (first.ip_rate, first.store_burst) == (7.0, 1.0) and SourceLimits.current() is first
    monkeypatch.setenv("WEBHOOK_LIMIT_PER_IP_PER_S", "9")
    assert SourceLimits.current().ip_rate == 9.0
    monkeypatch.delenv("WEBHOOK_LIMIT_PER_IP_PER_S")
    assert SourceLimits.current() == SourceLimits.from_env() and SourceLimits.current().ip_rate == 200.0


def test_bucket_keys_are_the_deployments_redis_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.env_settings import redis_key
    from workers.source_limits import buckets_for

    monkeypatch.setenv("REDIS_KEY_PREFIX", "deploy-a:")
    assert buckets_for("/webhooks/shop-1", "10.0.0.1") == (redis_key("source", "ip", "10.0.0.1"),
                                                           redis_key("source", "store", "shop-1"))
    assert buckets_for("/webhooks/NOT A KEY", "::1")[1] == redis_key("source", "store", "-")  # type: ignore[index]
    assert buckets_for("/healthz", "10.0.0.1") is None
    assert redis_key("source", "ip", "x").startswith("deploy-a:")


def test_the_fast_paths_answer_is_the_responses_bytes_and_headers() -> None:
    for answer in (webhooks.Answer(200, {"status": "accepted", "id": 12}), webhooks.TOO_SLOW,
                   webhooks.Answer(400, {"error": "malformed payload: ünïcode"})):
        sent = Recorder()
        asyncio.run(answer.send(sent))
        response = answer.response()
        assert (sent.status, sent.body) == (response.status_code, response.body)
        start = next(m for m in sent.messages if m["type"] == "http.response.start")
        assert sorted(start["headers"]) == sorted(response.raw_headers)



def _limit_calls(monkeypatch: pytest.MonkeyPatch, rate: str, burst: str, requests: int) -> tuple[list[float], int]:
    """``requests`` concurrent ``wait_for`` on fresh buckets in real Redis: their waits, and EVALSHAs sent."""
    import uuid

    from domain.core.env_settings import get_settings
    from workers.source_limits import SourceLimitMiddleware, buckets_for

    monkeypatch.setenv("SECRET_KEY", "limits-test-" + "k" * 40)
    get_settings.cache_clear()
    for name in ("IP", "STORE"):
        monkeypatch.setenv(f"WEBHOOK_LIMIT_PER_{name}_PER_S", rate)
        monkeypatch.setenv(f"WEBHOOK_LIMIT_PER_{name}_BURST", burst)
    keys = buckets_for(f"/webhooks/limits-{uuid.uuid4().hex[:12]}", f"10.9.{uuid.uuid4().int % 250}.1")
    assert keys is not None
    middleware = SourceLimitMiddleware(None)  # type: ignore[arg-type]
    sent = [0]

    async def run() -> list[float]:
        client = middleware.client()
        script = middleware._script

        async def counted(**kwargs: Any) -> Any:
            sent[0] += 1
            return await script(**kwargs)

        middleware._script = counted
        try:
            return list(await asyncio.gather(*(middleware.wait_for(keys) for _ in range(requests))))
        finally:
            await client.delete(*keys)
            await client.aclose()

    try:
        return asyncio.run(run()), sent[0]
    finally:
        get_settings.cache_clear()


def test_concurrent_requests_share_one_refill_of_the_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    waits, sent = _limit_calls(monkeypatch, rate="1000", burst="100000", requests=64)
    assert waits == [0.0] * 64
    assert sent == 2, "a lease of 32 tokens serves 32 requests; the others wait for the refill on its way"


def test_a_refused_refill_refuses_everyone_who_waited_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    waits, sent = _limit_calls(monkeypatch, rate="0.01", burst="3", requests=10)
    assert waits[:3] == [0.0] * 3 and all(wait > 1 for wait in waits[3:]), waits
    assert sent == 4, "three leases of one token, then one refusal shared by the seven left"
