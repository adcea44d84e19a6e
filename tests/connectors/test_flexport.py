"""Flexport connector against the Flexport stand-in, over real HTTP: the event walk, the version
header, client-credential tokens kept per process, and the X-Hub-Signature-256 check."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors import oauth2
from connectors.carrier_registry import build_shipping_connector
from connectors.errors import AuthError, MalformedPayloadError, SignatureError
from connectors.flexport import FlexportConnector
from connectors.types import ConnectorConfig
from sandbox.flexport import DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

Admin = Any
WebhookReceiver = Any
SECRET = "fx-endpoint-secret-" + "7" * 20


@pytest.fixture(autouse=True)
def _no_kept_tokens() -> Iterator[None]:
    oauth2.forget_tokens()
    yield
    oauth2.forget_tokens()


@pytest.fixture
def client(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("flexport", f"fx-{uuid.uuid4().hex[:8]}")


def connector(client: Admin, credentials: dict[str, str] | None = None, **options: Any) -> FlexportConnector:
    config = ConnectorConfig(store_key="fx", base_url=client.root, webhook_secret=SECRET, timeout_s=5.0,
                             credentials=credentials or {"api_key": DEFAULT_API_KEY}, options=options)
    built = build_shipping_connector("flexport", config, sleep=lambda s: None)
    assert isinstance(built, FlexportConnector)
    return built


def test_the_event_walk_brings_shipments_with_their_order_lines_and_milestones(client: Admin) -> None:
    booked = client.post("shipments", {"order_number": "#1001", "skus": ["FUT-A", "FUT-B"], "days_ago": 2})["shipment"]
    for milestone in ("departed", "arrived", "out_for_delivery", "delivered"):
        client.post("milestones", {"shipment_id": booked["id"], "milestone": milestone})

    pages = list(connector(client, page_size=2).fetch_shipments(None))

    assert [len(p.records) for p in pages] == [2, 2, 1]
    records = [r for p in pages for r in p.records]
    assert {r.external_id for r in records} == {str(booked["id"])}
    assert all(r.order_number == "#1001" and [line.sku for line in r.lines] == ["FUT-A", "FUT-B"] for r in records)
    assert sorted(r.scans[0].status or "" for r in records) == sorted(
        ["label_created", "in_transit", "in_transit", "out_for_delivery", "delivered"])
    assert pages[-1].cursor is not None and pages[0].cursor is None
    calls = client.requests_log("GET", "/events")
    assert [c["query"].get("page") for c in calls] == ["1", "2", "3"], "the absolute next link was followed"
    again = list(connector(client).fetch_shipments(pages[-1].cursor))
    assert client.requests_log("GET", "/events")[-1]["query"]["f.occurred_at.gte"] == pages[-1].cursor
    seen_again = [r.scans[0] for p in again for r in p.records]
    assert seen_again and all(s.status != "label_created" for s in seen_again), \
        "from the cursor's second on: the booking two days ago is not read again"


def test_every_call_names_the_api_version_and_a_bad_key_is_refused(client: Admin) -> None:
    list(connector(client).fetch_shipments(None))
    fx = connector(client, {"api_key": "wrong"})
    with pytest.raises(AuthError, match="Invalid or expired"):
        list(fx.fetch_shipments(None))
    fx = connector(client)
    del fx.session.headers["Flexport-Version"]
    with pytest.raises(Exception, match="Flexport-Version header is required"):
        list(fx.fetch_shipments(None))


def test_client_credentials_are_exchanged_once_for_a_token_kept_by_the_process(client: Admin) -> None:
    credentials = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    client.post("shipments", {"order_number": "#7"})
    for _ in range(3):  # a poll per task: three connectors, one token
        assert len([r for p in connector(client, credentials).fetch_shipments(None) for r in p.records]) == 1
    assert client.get("state/events")["token_requests"] == 1
    token_call = client.requests_log("POST", "/oauth/token")[0]["body"]
    assert token_call["grant_type"] == "client_credentials" and token_call["audience"] == "https://api.flexport.com"
    oauth2.forget_tokens()
    with pytest.raises(AuthError, match="token request refused"):
        list(connector(client, {"client_id": DEFAULT_CLIENT_ID, "client_secret": "wrong"}).fetch_shipments(None))


def test_the_signature_check_takes_the_right_secret_and_refuses_a_tampered_body_or_a_wrong_secret(
        client: Admin, webhook_receiver: WebhookReceiver) -> None:
    client.post("webhooks", {"url": webhook_receiver.url, "secret": SECRET})
    booked = client.post("shipments", {"order_number": "#1001", "skus": ["FUT-A"]})["shipment"]
    client.post("milestones", {"shipment_id": booked["id"], "milestone": "exception"})
    delivery = webhook_receiver.received[-1]
    fx = connector(client)

    fx.verify_delivery(delivery.headers, delivery.body)
    notice = fx.parse_delivery(delivery.headers, delivery.body)
    assert notice.topic == "/shipment#exception" and notice.records[0].scans[0].status == "exception"
    assert notice.dedupe_key.startswith("flexport:event:")

    tampered = delivery.body.replace(b"#1001", b"#9999")
    with pytest.raises(SignatureError, match="does not match"):
        fx.verify_delivery(delivery.headers, tampered)
    wrong = hmac.new(b"not-the-secret", delivery.body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError, match="does not match"):
        fx.verify_delivery({**delivery.headers, "X-Hub-Signature-256": f"sha256={wrong}"}, delivery.body)
    with pytest.raises(SignatureError, match="missing"):
        fx.verify_delivery({"X-Hub-Signature": delivery.headers["X-Hub-Signature"]}, delivery.body)
    with pytest.raises(MalformedPayloadError):
        fx.parse_delivery({}, b'{"_object": "/shipment"}')
