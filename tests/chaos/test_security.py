"""Security checks: nobody gets in without credentials, links cannot be bent, logs keep secrets and
phone numbers out, customer text is escaped, and one source cannot flood the webhook endpoints."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy.orm import Session

from domain.journey import links
from domain.messaging.rendering import render_email
from demo.scenario import PLATFORM_SECRETS
from tasks.notify import deliver
from tests.chaos.faults_stack import Captured, Messaging, Servers, enqueue, outbox_row
from tests.chaos.report import record
from tests.conftest import REPO_ROOT, wait_for

pytest_plugins = ("tests.chaos.faults_stack",)  # servers, worker, messaging

SECRET = "k" * 40
EVIL = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'
E164 = re.compile(r"\+\d{8,15}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flower_refuses_requests_without_credentials_and_keeps_its_password_off_argv(services: dict[str, str]) -> None:
    port = free_port()
    env = {**os.environ, "FLOWER_BASIC_AUTH": "ops:correct-horse-battery"}
    process = subprocess.Popen([sys.executable, "-m", "workers.cli", "flower", "--port", str(port), "--address",
                                "127.0.0.1"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        def answers() -> list[requests.Response]:
            try:
                return [requests.get(f"http://127.0.0.1:{port}/", timeout=2)]
            except requests.ConnectionError:
                return []

        [anonymous] = wait_for(answers, timeout_s=30, interval_s=0.3)
        assert anonymous.status_code == 401
        assert requests.get(f"http://127.0.0.1:{port}/api/workers", timeout=5).status_code == 401
        wrong = requests.get(f"http://127.0.0.1:{port}/", auth=("ops", "guess"), timeout=5)
        assert wrong.status_code == 401
        right = requests.get(f"http://127.0.0.1:{port}/", auth=("ops", "correct-horse-battery"), timeout=5)
        assert right.status_code == 200
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert requests.get(metrics, timeout=5).status_code == 401, "Prometheus metrics need the password too"
        assert requests.get(metrics, auth=("ops", "guess"), timeout=5).status_code == 401
        assert requests.get(metrics, auth=("ops", "correct-horse-battery"), timeout=5).status_code == 200
        with open(f"/proc/{process.pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
        assert b"flower_app" in b" ".join(argv), argv  # the exec'd Flower itself, not a wrapper
        assert not any(b"correct-horse-battery" in arg for arg in argv), "the password is not in argv (ps)"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_signed_links_expire_and_break_when_any_character_changes() -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    claim = links.LinkClaim(backorder_id=42, choice="cancel", expires_at=int((now + timedelta(days=7)).timestamp()))
    token = links.sign(SECRET, claim)
    assert links.verify(SECRET, token, now) == claim
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    accepted = []
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            bent = token[:position] + replacement + token[position + 1:]
            try:
                links.verify(SECRET, bent, now)
            except links.BadLink:
                continue
            accepted.append(bent)
    assert not accepted, f"{len(accepted)} altered tokens verified, e.g. {accepted[:2]}"
    with pytest.raises(links.ExpiredLink):
        links.verify(SECRET, token, now + timedelta(days=7, seconds=1))
    with pytest.raises(links.BadLink):
        links.verify("another-secret-" * 3, token, now)
    po_token = links.sign_po_link(SECRET, 7, claim.expires_at)
    with pytest.raises(links.BadLink):
        links.verify(SECRET, po_token, now)  # a vendor's link is never a customer's
    for position in range(len(po_token)):
        bent = po_token[:position] + ("A" if po_token[position] != "A" else "B") + po_token[position + 1:]
        with pytest.raises(links.BadLink):
            links.verify_po_link(SECRET, bent, now)
    record("sec signed links", runs=len(token) * (len(alphabet) - 1), events_in=len(token) * (len(alphabet) - 1),
           effects=len(accepted), lost=0, duplicates=0, detail="every one-character change refused; expiry holds")


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def test_logs_carry_no_secret_and_no_full_phone_number(worker, db_session: Session, messaging: Messaging,
                                                       servers: Servers, captured: Captured) -> None:
    numbers = ["+15551230042", "+15551239999", "+4915112345678"]
    messaging_config = requests.post(f"{messaging.base}/config", json={"twilio_unsubscribed": [numbers[1]]}, timeout=5)
    messaging_config.raise_for_status()
    customer = {"store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada", "item_title": "Futon",
                "sku": "FUT-1", "quantity": 1, "eta": "2026-08-01", "consent_required": False,
                "deadline": "2026-07-14T18:00:00+00:00", "links": {"wait": "w", "cancel": "c", "credit": "k"},
                "substitutes": [], "sms_keywords": ["WAIT", "REFUND", "CREDIT"], "auto_cancel_action": "refund"}
    ids = [enqueue(db_session, "sms", number, f"sec:log:{n}", template="backorder_notice", context=customer)
           for n, number in enumerate(numbers)]
    ids.append(enqueue(db_session, "sms", "5551234567", "sec:log:bad", template="backorder_notice", context=customer))
    ids.append(enqueue(db_session, "email", "ada@example.test", "sec:log:mail", template="backorder_notice",
                       context=customer))
    messaging.fault(provider="slack", mode="hang", hang_s=2)
    ids.append(enqueue(db_session, "slack", "SLACK_WEBHOOK_OPS", "sec:log:slack"))
    for outbox_id in ids:
        deliver.delay(outbox_id)
    for outbox_id in ids:
        wait_for(lambda i=outbox_id: outbox_row(db_session, i).state not in ("pending", "sending"), timeout_s=20)
    inbound = requests.post(f"{messaging.base}/twilio/inbound", json={
        "url": f"{servers.web.base_url}/sms/inbound", "from": numbers[2], "to": "+15005550006", "body": "STOP"},
        timeout=10).json()
    assert inbound["status_code"] == 200, inbound
    time.sleep(1.0)  # let the follow-ups (staff alerts for failed messages) log too

    text = captured.text()
    assert "outbox" in text, "the flow was logged at all"
    secrets = ["sandbox-twilio-token", "sandbox-mailgun-key", "SG.sandbox-sendgrid-key", "T000/B000/SANDBOX",
               "sandbox-mailgun-signing-key", os.environ["SECRET_KEY"], *PLATFORM_SECRETS.values()]
    leaked = [line for line in captured.lines if any(s and s in line for s in secrets)]
    phones = sorted(set(E164.findall(text)) - {"+15005550006"})  # the shop's own sender number is public
    assert not leaked, f"secrets in logs: {leaked}"
    quoted = [n for n in [*numbers, "5551234567"] if n.lstrip("+") in text]
    assert not quoted, f"phone numbers in logs: {quoted}"
    assert not phones, f"full phone numbers in logs: {phones}\n" + "\n".join(
        line for line in captured.lines if E164.search(line))[:2000]
    record("sec logs", runs=1, events_in=len(ids) + 1, effects=len(captured.lines), lost=0, duplicates=0,
           detail=f"{len(captured.lines)} log lines: no secret, no full phone number")


def test_customer_text_is_escaped_in_mail_and_pages(servers: Servers, db_session: Session) -> None:
    context = {"store_name": EVIL, "order_number": EVIL, "customer_name": EVIL, "item_title": EVIL, "sku": "S-1",
               "quantity": 1, "eta": "2026-08-01", "consent_required": True,
               "deadline": "2026-07-14T18:00:00+00:00",
               "links": {"wait": "https://s/w", "cancel": "https://s/c", "credit": "https://s/k"},
               "substitutes": [{"sku": "S-2", "title": EVIL, "price_cents": 100, "link": "https://s/s"}],
               "sms_keywords": ["WAIT"], "auto_cancel_action": "refund"}
    email = render_email("backorder_notice", context)
    assert "<script>" not in email.html and "<img" not in email.html
    assert "&lt;script&gt;" in email.html
    for path in (f"/b/{EVIL}", f"/po/{EVIL}", f"/b/a.{EVIL}"):
        page = requests.get(servers.web.base_url + "/" + requests.utils.quote(path.lstrip("/"), safe="/"), timeout=10)
        assert page.status_code < 500 and "<script>" not in page.text and "<img" not in page.text


def shopify(body: bytes, event_id: str) -> dict[str, str]:
    secret = PLATFORM_SECRETS["SHOPIFY_WEBHOOK_SECRET"]
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Topic": "inventory_levels/update", "X-Shopify-Hmac-Sha256": digest,
            "X-Shopify-Event-Id": event_id, "Content-Type": "application/json"}


def test_webhook_rate_is_limited_per_source_with_retry_after(servers: Servers, db_session: Session, catalog: object,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.source_limits import SourceLimits

    assert SourceLimits.from_env({}).ip_burst >= 1000, "defaults leave room for a platform's burst"
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REDIS_KEY_PREFIX", f"{os.environ['CELERY_KEY_PREFIX']}ratelimit-{time.time_ns()}:")
    body = json.dumps({"inventory_item_id": 9007199254740993, "location_id": 655441491, "available": 1,
                       "updated_at": "2026-11-25T10:00:00-05:00"}).encode()
    url = f"{servers.web.base_url}/webhooks/shopify-main"

    burst = [requests.post(url, data=body, headers=shopify(body, f"b-{n}"), timeout=10) for n in range(300)]
    assert all(r.status_code == 200 for r in burst), "a platform's burst is never refused at the defaults"

    monkeypatch.setenv("WEBHOOK_LIMIT_PER_IP_PER_S", "5")
    monkeypatch.setenv("WEBHOOK_LIMIT_PER_IP_BURST", "10")
    flood = [requests.post(url, data=body, headers=shopify(body, f"f-{n}"), timeout=10) for n in range(40)]
    refused = [r for r in flood if r.status_code == 429]
    assert all(r.status_code == 200 for r in flood[:10]), "the burst itself passes"
    assert len(refused) >= 15, f"{len(refused)} of 40 refused (burst 10 at 5/s)"
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    time.sleep(int(refused[-1].headers["Retry-After"]))
    assert requests.post(url, data=body, headers=shopify(body, "after-wait"), timeout=10).status_code == 200

    monkeypatch.setenv("WEBHOOK_LIMIT_PER_IP_PER_S", "0")  # now only the per-store bucket
    monkeypatch.setenv("WEBHOOK_LIMIT_PER_STORE_PER_S", "2")
    monkeypatch.setenv("WEBHOOK_LIMIT_PER_STORE_BURST", "5")
    at_store = [requests.post(url, data=body, headers=shopify(body, f"s-{n}"), timeout=10).status_code
                for n in range(10)]
    elsewhere = requests.post(f"{servers.web.base_url}/webhooks/woo-outlet", data=b"webhook_id=1",
                              headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert at_store.count(429) >= 4 and elsewhere.status_code == 200, (at_store, elsewhere.status_code)
    record("sec webhook rate limit", runs=1, events_in=350, effects=350 - len(refused) - at_store.count(429), lost=0,
           duplicates=0, detail=f"300-burst accepted at defaults; flood: {len(refused)}/40 got 429 + Retry-After")


def test_link_tokens_never_reach_the_web_log(services: dict[str, str], tmp_path: object) -> None:
    """The web process as the Procfile runs it (uvicorn, access log on): customer and vendor links
    are requested, one with a NUL so our own warning names the path too; the log holds neither token."""
    from pathlib import Path

    port = free_port()
    log_path = Path(str(tmp_path)) / "web.log"
    now = datetime.now(UTC)
    customer = links.sign(os.environ["SECRET_KEY"], links.LinkClaim(
        backorder_id=987654, choice="cancel", expires_at=int((now + timedelta(days=45)).timestamp())))
    vendor = links.sign_po_link(os.environ["SECRET_KEY"], 876543, int((now + timedelta(days=30)).timestamp()))
    with log_path.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "workers.web:app", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=REPO_ROOT, env=dict(os.environ), stdout=sink,
                                   stderr=subprocess.STDOUT)
        try:
            def up() -> list[int]:
                try:
                    return [requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code]
                except requests.ConnectionError:
                    return []

            wait_for(up, timeout_s=60, interval_s=0.3)
            base = f"http://127.0.0.1:{port}"
            statuses = [requests.get(f"{base}/b/{customer}", timeout=10).status_code,
                        requests.post(f"{base}/b/{customer}", timeout=10).status_code,
                        requests.get(f"{base}/po/{vendor}?from=email", timeout=10).status_code,
                        requests.get(f"{base}/b/{customer}%00", timeout=10).status_code]
            assert statuses[-1] == 400 and all(s < 500 for s in statuses), statuses
            wait_for(lambda: log_path.read_text().count("/b/[redacted]") >= 2, timeout_s=10, interval_s=0.2)
        finally:
            process.terminate()
            process.wait(timeout=20)
    text = log_path.read_text()
    assert "GET /b/[redacted] HTTP/1.1" in text and "/po/[redacted]" in text, text[-2000:]
    assert "refused: the path contains a NUL" in text, "our own warning about the path is in the log"
    for token in (customer, vendor):
        for piece in token.split("."):
            assert piece not in text, "a link token reached the web log"
    record("sec link tokens in logs", runs=1, events_in=len(statuses), effects=0, lost=0, duplicates=0,
           detail=f"{text.count('[redacted]')} redacted paths, 0 tokens in the web log")
