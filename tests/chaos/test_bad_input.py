"""Scenario 10: hostile or broken input. Every answer is a 4xx or a 2xx, never a 5xx; nothing
unauthenticated is stored without bound; a replay has no second effect; a broken configuration
stops the processes with the key path that is wrong.

The web app runs over real HTTP (``faults_stack.servers``) on the per-session database and Redis.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import Alert, InboxEvent
from domain.stock import stray_webhooks
from demo.scenario import PLATFORM_SECRETS
from tests.chaos.faults_stack import Servers
from tests.chaos.report import record
from tests.conftest import REPO_ROOT

pytest_plugins = ("tests.chaos.faults_stack",)  # servers

SECRET = PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]
STORE = "shopify-main"
KNOWN_ITEM = 9007199254740993
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "text/plain", "application/xml", "", "application/json; charset=utf-16", "image/png",
                 "application/x-www-form-urlencoded; charset=latin-1"]
SIGNATURE_HEADERS = ["X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature", "X-Twilio-Signature",
                     "X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp",
                     "X-Shopify-Topic", "X-Shopify-Event-Id", "X-WC-Webhook-Topic", "X-Lightspeed-Signature"]
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@pytest.fixture
def web(servers: Servers, db_session: Session, catalog: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The web app's URL, with the example stores in the database and their webhook secrets set."""
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "sandbox-twilio-token")
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", "sandbox-mailgun-signing-key")
    monkeypatch.setenv("PUBLIC_BASE_URL", servers.web.base_url)
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", servers.sandbox.app.state.messaging.sendgrid_public_key_b64)
    yield servers.web.base_url


def shopify_headers(body: bytes, event_id: str, secret: str = SECRET) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": "w-1", "Content-Type": "application/json"}


def level(item: int = KNOWN_ITEM, available: int = 0) -> bytes:
    return json.dumps({"inventory_item_id": item, "location_id": 655441491, "available": available,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()


def inbox_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboxEvent)) or 0


#: Their 503 is a verdict on the deployment, with the failing checks named.
HEALTH_PATHS = ("/healthz", "/readyz")


def endpoints() -> list[tuple[str, str]]:
    """Every (method, path template) the web app documents: new endpoints are fuzzed too."""
    from workers.web import app

    return [(method.upper(), path) for path, operations in app.openapi()["paths"].items()
            for method in operations]


def test_fuzzing_every_endpoint_never_gets_a_5xx(web: str, db_session: Session) -> None:
    routes = endpoints()
    assert {"/webhooks/{store_key}", "/callbacks/twilio/status", "/b/{token}", "/po/{token}"} <= {p for _, p in routes}
    seen: dict[int, int] = {}
    failures: list[str] = []

    bodies = st.one_of(st.binary(max_size=3000),
                       st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ASCII,
                                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ASCII, inner, max_size=4),
                                    max_leaves=12).map(lambda v: json.dumps(v).encode()),
                       st.dictionaries(ASCII, ASCII, max_size=6).map(
                           lambda d: "&".join(f"{quote(k)}={quote(v)}" for k, v in d.items()).encode()))
    params = st.one_of(st.sampled_from([STORE, "woo-outlet", "lightspeed-showroom", "..", "%2e%2e", "a" * 300]),
                       st.text(max_size=80))

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), param=params, body=bodies, content_type=st.sampled_from(CONTENT_TYPES),
           extra=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), ASCII.map(str.strip), max_size=3),
           query=st.dictionaries(ASCII.filter(bool), ASCII, max_size=3))
    def probe(route: tuple[str, str], param: str, body: bytes, content_type: str, extra: dict[str, str],
              query: dict[str, str]) -> None:
        method, template = route
        path = template.replace("{store_key}", quote(param, safe="")).replace("{token}", quote(param, safe=""))
        headers = {"Content-Type": content_type, **extra} if content_type else dict(extra)
        answer = requests.request(method, web + path, params=query, data=body if method == "POST" else None,
                                  headers=headers, timeout=15)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        if template in HEALTH_PATHS and answer.status_code == 503 and answer.json()["status"] == "unavailable":
            return  # a health verdict (no workers run here), not an error
        if answer.status_code >= 500:
            failures.append(f"{method} {path} {content_type!r} -> {answer.status_code} {answer.text[:200]}")
        assert answer.status_code < 500, failures[-1]

    probe()
    assert not failures
    assert inbox_count(db_session) == 0, "nothing unsigned was stored"
    record("10a fuzz every endpoint", runs=sum(seen.values()), events_in=sum(seen.values()), effects=0, lost=0,
           duplicates=0, detail="statuses " + ", ".join(f"{k}x{v}" for k, v in sorted(seen.items())))


def test_forged_signatures_are_refused_and_a_replay_has_no_second_effect(web: str, db_session: Session) -> None:
    url = f"{web}/webhooks/{STORE}"
    body = level(available=4)
    forged = [
        (body, shopify_headers(body, "evt-f1", secret="guessed")),
        (level(available=9), shopify_headers(body, "evt-f2")),  # signature of another body
        (body, {**shopify_headers(body, "evt-f3"), "X-Shopify-Hmac-Sha256": ""}),
        (body, {k: v for k, v in shopify_headers(body, "evt-f4").items() if k != "X-Shopify-Hmac-Sha256"}),
    ]
    assert [requests.post(url, data=b, headers=h, timeout=10).status_code for b, h in forged] == [401] * 4
    assert inbox_count(db_session) == 0

    genuine = shopify_headers(body, "evt-replayed")
    answers = [requests.post(url, data=body, headers=genuine, timeout=10).json()["status"] for _ in range(5)]
    assert answers == ["accepted"] + ["duplicate"] * 4
    assert inbox_count(db_session) == 1, "a replayed delivery is the same event: stored once"

    from connectors.messaging.mailgun import sign

    stamp = str(int(time.time()))
    event = {"signature": {"timestamp": stamp, "token": "t" * 50,
                           "signature": sign("sandbox-mailgun-signing-key", stamp, "t" * 50)},
             "event-data": {"event": "delivered", "message": {"headers": {"message-id": "nobody@mg"}}}}
    replays = [requests.post(f"{web}/callbacks/mailgun", json=event, timeout=10).status_code for _ in range(3)]
    assert replays[0] == 200 and replays[1:] == [401, 401], "a Mailgun token is good once"
    bad_twilio = requests.post(f"{web}/callbacks/twilio/status", data={"MessageSid": "SM1", "MessageStatus": "failed"},
                               headers={"X-Twilio-Signature": "forged"}, timeout=10)
    assert bad_twilio.status_code in (401, 403)
    record("10b forged + replayed signatures", runs=1, events_in=5 + len(forged), effects=inbox_count(db_session),
           lost=0, duplicates=inbox_count(db_session) - 1, detail="4 forgeries 401; 5 replays -> 1 inbox row")


def raw_post(base: str, path: str, head_extra: str, first: bytes, more: bytes = b"") -> tuple[int, float]:
    """A hand-written request, so the test controls how much of the body is ever sent."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"{head_extra}\r\n".encode() + first)
        if more:
            try:
                conn.sendall(more)
            except OSError:
                pass  # the server may close as soon as it has answered
        reply = b""
        while b"\r\n" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ")[1]), time.monotonic() - started


@pytest.mark.parametrize("path", ["/webhooks/shopify-main", "/callbacks/sendgrid", "/sms/inbound", "/b/x.y", "/po/x.y"])
def test_a_20_mb_body_is_refused_before_it_is_read(web: str, path: str) -> None:
    declared = 20 * 1024 * 1024
    status, took = raw_post(web, path, f"Content-Length: {declared}\r\n", b"{" + b" " * 65535)
    assert status == 413 and took < 5, "answered after 64 kB of a declared 20 MB"
    chunk = b" " * (1024 * 1024)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8))
    status, _ = raw_post(web, path, "Transfer-Encoding: chunked\r\n", chunked[:4 * (len(chunk) + 12)],
                         chunked[4 * (len(chunk) + 12):])
    # Cut off at the ceiling, or refused before the body was read at all (a bad link, a bad store).
    assert status in (413, 400, 401, 404), f"a chunked body without a length answered {status}"
    if path.startswith("/webhooks"):
        record("10c 20 MB body", runs=1, events_in=1, effects=0, lost=0, duplicates=0,
               detail="413 after 64 kB of a declared 20 MB; chunked cut at the ceiling")


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_wrong_content_types_get_a_4xx(web: str, content_type: str) -> None:
    body = level()
    for method, template in endpoints():
        if method != "POST":
            continue
        path = template.replace("{store_key}", STORE).replace("{token}", "abc.def")
        headers = {**shopify_headers(body, "evt-ct"), "Content-Type": content_type}
        status = requests.post(web + path, data=b"<xml>&\x00\xff", headers=headers, timeout=10).status_code
        assert 400 <= status < 500, f"{path} with {content_type!r} answered {status}"


def test_unknown_sku_is_quarantined_and_alerted(web: str, db_session: Session) -> None:
    from tasks.inbound import drain

    body = level(item=4242424242, available=3)
    answer = requests.post(f"{web}/webhooks/{STORE}", data=body, headers=shopify_headers(body, "evt-unknown"), timeout=10)
    assert answer.json()["status"] == "accepted"
    drain.apply(args=[STORE])
    db_session.expire_all()
    [event] = db_session.scalars(select(InboxEvent)).all()
    assert event.state == "quarantined" and "4242424242" in (event.error or "")
    alerts = db_session.scalars(select(Alert).where(Alert.dedupe_key == f"quarantine:{event.id}")).all()
    assert len(alerts) == 1
    record("10d unknown SKU in a webhook", runs=1, events_in=1, effects=1, lost=0, duplicates=0,
           detail="quarantined (kept for redrive) + 1 staff alert")


def test_unknown_store_is_404_and_leaves_a_bounded_trace(web: str, db_session: Session,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A namespace of its own: the fuzzing above already spent this hour's stray-alert budget.
    monkeypatch.setenv("REDIS_KEY_PREFIX", f"{os.environ['CELERY_KEY_PREFIX']}strays-{time.time_ns()}:")
    body = level()
    for _ in range(5):
        assert requests.post(f"{web}/webhooks/renamed-store", data=body, headers=shopify_headers(body, "e"),
                             timeout=10).status_code == 404
    recent = stray_webhooks.recent()
    assert [r["store_key"] for r in recent[:5]] == ["renamed-store"] * 5
    assert recent[0]["topic"] == "inventory_levels/update" and "body" not in recent[0]
    db_session.expire_all()
    assert len(db_session.scalars(select(Alert).where(Alert.dedupe_key.like("stray_webhook:renamed-store:%"))).all()) == 1

    monkeypatch.setattr(stray_webhooks, "RECENT_MAX", 50)
    for n in range(60):  # a scan of made-up keys
        stray_webhooks.note_unknown_store(f"scan-{n}", {"User-Agent": "x" * 5000}, 10)
    assert len(stray_webhooks.recent()) == 50, "the record is capped"
    assert all(len(r["user_agent"]) <= 120 for r in stray_webhooks.recent())
    strays = db_session.scalars(select(Alert).where(Alert.dedupe_key.like("stray_webhook:%"))).all()
    assert len(strays) == stray_webhooks.ALERTS_PER_HOUR, "at most this many stray alerts an hour"
    assert stray_webhooks.note_unknown_store("../../etc", {}, 1).store_key == "(malformed)"
    record("10e unknown store", runs=1, events_in=66, effects=len(strays), lost=0, duplicates=0,
           detail=f"404 + capped trace; {len(strays)} alerts for 61 stray keys (cap per hour)")


BROKEN = {
    "syntax": ("[business\nname = 1", "not valid TOML"),
    "wrong type": (None, "stores[0].poll_interval"),
    "unknown event": (None, "notifications.routes[{backorder_route}].event: unknown event 'stock.vanished'"),
}


def first_backorder_route() -> int:
    """Where the example's first ``stock.backorder`` route sits (the one the test breaks)."""
    import tomllib

    routes = tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())["notifications"]["routes"]
    return next(i for i, route in enumerate(routes) if route["event"] == "stock.backorder")


def broken_config(tmp_path: Path, kind: str) -> Path:
    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    if kind == "syntax":
        text = BROKEN[kind][0]
    elif kind == "wrong type":
        text = text.replace('poll_interval = "5m"', 'poll_interval = "soon"', 1)
    else:
        text = text.replace('event = "stock.backorder"', 'event = "stock.vanished"', 1)
    path = tmp_path / f"{kind.replace(' ', '-')}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_config_is_named_and_stops_the_processes(kind: str, tmp_path: Path, services: dict[str, str]) -> None:
    path = broken_config(tmp_path, kind)
    expected = BROKEN[kind][1].format(backorder_route=first_backorder_route())
    check = subprocess.run([sys.executable, "-m", "workers.cli", "config", "check", str(path)],
                           check=False, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert check.returncode == 1 and expected in check.stderr, check.stderr

    env = {**os.environ, "BACKORDERS_CONFIG": str(path)}
    web = subprocess.run([sys.executable, "-c", "import workers.web"], check=False, capture_output=True, text=True,
                         timeout=60, cwd=REPO_ROOT, env=env)
    assert web.returncode != 0 and "web not started" in web.stderr and expected in web.stderr, web.stderr[-800:]
    if kind == "syntax":  # a worker takes a few seconds to boot: check it once
        worker = subprocess.run([sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool=solo",
                                 "-Q", "none-such", "--without-heartbeat", "--without-mingle", "--without-gossip"],
                                check=False, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, env=env)
        assert worker.returncode != 0 and "worker not started" in worker.stderr + worker.stdout
        record("10f broken config", runs=len(BROKEN), events_in=len(BROKEN), effects=0, lost=0, duplicates=0,
               detail="config check exit 1 with the key path; web and worker refuse to start")


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def assert_clean_400(answer: requests.Response, what: str) -> None:
    assert answer.status_code == 400, f"{what} answered {answer.status_code}: {answer.text[:200]}"
    assert "Traceback" not in answer.text and "error" in answer.json(), f"{what}: {answer.text[:200]}"


def raw_request(base: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Bytes on the wire exactly as written (a NUL in a header or a path that a client would refuse)."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(head + b"\r\n" + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ")[1]), reply


def test_nul_and_deep_json_get_a_clean_400_on_every_endpoint(web: str, db_session: Session) -> None:
    """Before: a NUL in a store key answered 503 with a traceback in the log, and a signed 60 kB
    nested body a 500 (RecursionError). Every documented endpoint, each way of carrying a NUL."""
    deep = nested(12_000)  # 60 kB
    assert len(deep) > 60_000
    answers = 0
    for method, template in endpoints():
        real = template.replace("{store_key}", STORE).replace("{token}", "abc.def")
        nul = template.replace("{store_key}", "shop%00ify").replace("{token}", "abc%00def")
        if nul != real:
            assert_clean_400(requests.request(method, web + nul, timeout=10), f"{method} {nul}")
        assert_clean_400(requests.request(method, web + real + "?x=a%00b", timeout=10), f"{method} {real}?%00")
        status, reply = raw_request(web, f"{method} {real} HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n"
                                         "Content-Length: 0\r\n".encode())
        assert status == 400 and b"Traceback" not in reply, f"{method} {real} NUL header -> {status}"
        answers += 3
        if method != "POST":
            continue
        for body, content_type, what in [
            (deep, "application/json", "60 kB nested JSON"),
            (b'{"sku": "FUT\\u0000"}', "application/json", "JSON \\u0000"),
            (b"Body=WA%00IT&From=%2B1", "application/x-www-form-urlencoded", "form %00"),
            (b"Body=WA\x00IT", "application/x-www-form-urlencoded", "raw NUL"),
            (b"[" * 70_000, "text/plain", "unclosed brackets, no JSON content type"),
        ]:
            assert_clean_400(requests.post(web + real, data=body, headers={"Content-Type": content_type}, timeout=10),
                             f"POST {real} {what}")
            answers += 1
    # Signed, so nothing but the nesting is wrong: the fast path, and the endpoint's own check above
    # the size the middleware measures unsigned bodies to.
    for body in (deep, nested(70) + b" " * 300_000):
        assert_clean_400(requests.post(f"{web}/webhooks/{STORE}", data=body,
                                       headers=shopify_headers(body, f"evt-deep-{len(body)}"), timeout=10),
                         f"signed nested webhook of {len(body)} bytes")
        answers += 1
    fine = nested(40)
    assert requests.post(f"{web}/webhooks/{STORE}", data=fine, headers=shopify_headers(fine, "evt-40"),
                         timeout=10).status_code in (200, 400), "40 levels pass the guard (the connector judges it)"
    assert inbox_count(db_session) == 0
    record("10g NUL + nested JSON, every endpoint", runs=answers, events_in=answers, effects=0, lost=0, duplicates=0,
           detail="400 with a JSON error for each; no 5xx, no traceback")


def test_api_docs_are_off_by_default(web: str) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert requests.get(web + path, timeout=10).status_code == 404, path
    assert "/webhooks/{store_key}" in json.dumps(endpoints()), "the schema is still built in-process"


def test_api_docs_on_with_the_setting(monkeypatch: pytest.MonkeyPatch, services: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from workers.web import create_app

    monkeypatch.setenv("API_DOCS", "1")
    with TestClient(create_app()) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


def test_twilio_replay_never_reaches_a_newer_order(web: str, db_session: Session, catalog: object) -> None:
    """A captured, signed inbound REFUND is replayed after the customer placed a newer order that
    was offered and texted: the replay answers empty TwiML and the newer order is untouched."""
    from connectors.messaging.twilio_sms import compute_signature
    from domain.core.models import Backorder, InboundSms
    from domain.journey import customer_journey
    from tests.integration.journey.test_replies import PHONE_E164, make_backorder
    from workers import replies

    settings = customer_journey.Settings(catalog, web, os.environ["SECRET_KEY"])  # type: ignore[arg-type]
    older = make_backorder(db_session, settings, order="9001", notified_ago=timedelta(hours=2))
    form = {"MessageSid": "SM" + "ab" * 16, "From": PHONE_E164, "To": "+15005550006", "Body": "REFUND",
            "NumMedia": "0"}
    url = replies.current_settings().public_base_url + "/sms/inbound"
    signed = {"X-Twilio-Signature": compute_signature("sandbox-twilio-token", url, form)}
    first = requests.post(f"{web}/sms/inbound", data=form, headers=signed, timeout=10)
    assert first.status_code == 200 and "refunding you in full" in first.text, first.text

    newer = make_backorder(db_session, settings, order="9002")
    replays = [requests.post(f"{web}/sms/inbound", data=form, headers=signed, timeout=10) for _ in range(3)]
    assert all(r.status_code == 200 and "<Message>" not in r.text for r in replays)
    db_session.expire_all()
    states = {b.id: b.state for b in db_session.scalars(select(Backorder).where(Backorder.id.in_([older, newer])))}
    assert states == {older: "cancelled_by_customer", newer: "notified"}, states
    taken = db_session.scalars(select(InboundSms)).all()
    assert [(t.backorder_id, t.result) for t in taken] == [(older, "applied")]
    record("10h Twilio replay", runs=1, events_in=1 + len(replays), effects=1, lost=0,
           duplicates=sum(1 for s in states.values() if s != "notified") - 1,
           detail="3 replays after a newer order: empty TwiML, newer order untouched")
