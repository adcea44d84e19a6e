"""ShipStation connector against the ShipStation stand-in, over real HTTP: V1 labels paged by the
body's page count and read from the cursor, the rate window honoured before and after a 429, the
token-only webhook and its resource URL, V2 labels and tracking."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from connectors.carrier_registry import build_shipping_connector
from connectors.carriers import ShippingConnector, TrackRequest
from connectors.errors import AuthError, MalformedPayloadError, PermanentError, SignatureError
from connectors.shipstation import ShipStationConnector
from connectors.types import ConnectorConfig
from sandbox.shipstation import DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_V2_KEY

Admin = Any  # tests/connectors/conftest.py::Admin
WebhookReceiver = Any
TOKEN = "tok-" + "9" * 40


@pytest.fixture
def account(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("shipstation", f"ss-{uuid.uuid4().hex[:8]}")


def connector(account: Admin, sleep: Callable[[float], None], **options: Any) -> ShipStationConnector:
    config = ConnectorConfig(store_key="ss", base_url=account.root, webhook_secret=TOKEN, timeout_s=5.0,
                             credentials={"api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET,
                                          "v2_api_key": DEFAULT_V2_KEY},
                             options={"v2_base_url": account.root, **options})
    built = build_shipping_connector("shipstation", config, sleep=sleep)
    assert isinstance(built, ShipStationConnector) and isinstance(built, ShippingConnector)
    return built


def label(order: str, *items: tuple[str, int], days_ago: float = 0) -> dict[str, Any]:
    return {"order_number": order, "days_ago": days_ago,
            "items": [{"sku": sku, "quantity": qty, "line_item_key": f"{order}-{sku}"} for sku, qty in items]}


def test_labels_are_read_page_by_page_with_their_lines_then_from_the_cursor(account: Admin, sleeps: list[float]) -> None:
    account.post("labels", {"labels": [label(f"#{n}", ("FUT-A", n), days_ago=5 - n) for n in range(1, 6)]})
    ss = connector(account, sleeps.append, page_size=2)

    pages = list(ss.fetch_shipments(None))

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [r.order_number for p in pages for r in p.records] == ["#1", "#2", "#3", "#4", "#5"]
    first = pages[0].records[0]
    assert first.lines[0].sku == "FUT-A" and first.lines[0].quantity == 1 and first.lines[0].line_external_id == "#1-FUT-A"
    assert first.carrier == "ups" and first.tracking_number.startswith("1Z") and first.label_created_at is not None
    assert [p.cursor for p in pages[:-1]] == [None, None], "only the last page moves a time cursor"
    calls = account.requests_log("GET", "/shipments")
    assert [c["query"]["page"] for c in calls] == ["1", "2", "3"]
    assert all(c["query"]["includeShipmentItems"] == "true" and c["query"]["pageSize"] == "2" for c in calls)

    account.post("labels", label("#6", ("FUT-B", 1)))
    again = [r.order_number for p in ss.fetch_shipments(pages[-1].cursor) for r in p.records]
    assert again == ["#5", "#6"], "createDateStart is inclusive: the cursor's own label comes again, nothing older"
    assert account.requests_log("GET", "/shipments")[-1]["query"]["createDateStart"] == pages[-1].cursor


def test_wrong_credentials_are_refused_with_the_platforms_message(account: Admin, sleeps: list[float]) -> None:
    ss = connector(account, sleeps.append)
    ss.session.auth = requests.auth.HTTPBasicAuth(DEFAULT_KEY, "wrong")
    with pytest.raises(AuthError, match="Authorization has been denied"):
        list(ss.fetch_shipments(None))


def test_a_spent_window_is_waited_out_before_the_next_call(account: Admin) -> None:
    account.post("config", {"rate_limit": 1})
    account.post("labels", {"labels": [label("#1", ("A", 1), days_ago=1), label("#2", ("A", 1))]})
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the minute passes: the stand-in opens a new window
        waits.append(seconds)
        account.post("config", {"reset_window": True})

    pages = list(connector(account, sleep, page_size=1).fetch_shipments(None))

    assert [r.order_number for p in pages for r in p.records] == ["#1", "#2"]
    statuses = [c["status"] for c in account.requests_log("GET", "/shipments")]
    assert statuses == [200, 200], "the pacer waited for the window instead of meeting a 429"
    assert len(waits) == 1 and 1 <= waits[0] <= 60, "the wait is the X-Rate-Limit-Reset the answer gave"


def test_a_429_is_retried_after_the_reset_the_platform_named(account: Admin) -> None:
    account.post("config", {"rate_limit": 1})
    requests.get(f"{account.root}/shipments", auth=(DEFAULT_KEY, DEFAULT_SECRET), timeout=5)  # another client spent it
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        account.post("config", {"reset_window": True})

    assert list(connector(account, sleep).fetch_shipments(None))[0].records == []
    statuses = [c["status"] for c in account.requests_log("GET", "/shipments")]
    assert statuses == [200, 429, 200]
    assert waits and 1 <= waits[0] <= 60


def test_v2_tracking_429_honours_retry_after(account: Admin) -> None:
    made = account.post("labels", label("#7", ("A", 1)))["shipments"][0]
    account.post("scans", {"tracking_number": made["trackingNumber"], "status": "in_transit"})
    account.post("config", {"v2_rate_limit": 0})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        account.post("config", {"v2_rate_limit": 200, "reset_window": True})

    scans = connector(account, sleep).track(TrackRequest(str(made["shipmentId"]), "ups", made["trackingNumber"]))
    assert scans is not None and [s.status for s in scans] == ["in_transit"]
    assert [c["status"] for c in account.requests_log("GET", "/v2/tracking")] == [429, 200]
    assert waits and 1 <= waits[0] <= 60, "the Retry-After seconds were waited"


def test_tracking_maps_scans_to_statuses_and_names_each_scan_stably(account: Admin, sleeps: list[float]) -> None:
    made = account.post("labels", label("#8", ("A", 1)))["shipments"][0]
    for status in ("accepted", "in_transit", "out_for_delivery", "exception", "returned"):
        account.post("scans", {"tracking_number": made["trackingNumber"], "status": status})
    ss = connector(account, sleeps.append)
    request = TrackRequest(str(made["shipmentId"]), "ups", made["trackingNumber"])
    scans = ss.track(request)
    assert scans is not None
    assert sorted(s.status or "" for s in scans) == sorted(["manifested", "in_transit", "out_for_delivery",
                                                            "exception", "returned"])
    again = ss.track(request)
    assert again is not None and {s.event_id for s in again} == {s.event_id for s in scans}
    query = account.requests_log("GET", "/v2/tracking")[0]["query"]
    assert query == {"carrier_code": "ups", "tracking_number": made["trackingNumber"]}


def test_ship_notify_carries_only_a_resource_url_which_is_read_with_its_items(
        account: Admin, sleeps: list[float], webhook_receiver: WebhookReceiver) -> None:
    ss = connector(account, sleeps.append)
    target = f"{webhook_receiver.url}?token={TOKEN}"
    assert ss.subscribe(target) == ["SHIP_NOTIFY: subscribed (id 9001)", "ITEM_SHIP_NOTIFY: subscribed (id 9002)"]
    assert ss.subscribe(target) == ["SHIP_NOTIFY: already subscribed", "ITEM_SHIP_NOTIFY: already subscribed"]

    account.post("labels", label("#9", ("FUT-A", 2), ("FUT-B", 1)))

    notify = next(r for r in webhook_receiver.received if b"SHIP_NOTIFY" in r.body and b"ITEM_" not in r.body)
    body = json.loads(notify.body)
    assert set(body) == {"resource_url", "resource_type"} and "includeShipmentItems=False" in body["resource_url"]
    with pytest.raises(SignatureError):
        ss.verify_delivery(notify.headers, notify.body, None)
    with pytest.raises(SignatureError):
        ss.verify_delivery(notify.headers, notify.body, "tok-guess")
    ss.verify_delivery(notify.headers, notify.body, TOKEN)
    ss.verify_delivery({"X-Shipping-Token": TOKEN}, notify.body)
    notice = ss.parse_delivery(notify.headers, notify.body)
    assert notice.fetch == (body["resource_url"],) and notice.topic == "SHIP_NOTIFY"
    assert notice.dedupe_key == ss.parse_delivery({}, notify.body).dedupe_key, "a redelivery has the same key"

    [record] = ss.fetch_resource(body["resource_url"])
    assert record.order_number == "#9" and [(line.sku, line.quantity) for line in record.lines] == [("FUT-A", 2),
                                                                                                    ("FUT-B", 1)]
    assert account.requests_log("GET", "/shipments")[-1]["query"]["includeShipmentItems"] == "true"


def test_a_resource_url_off_the_api_host_is_refused_before_any_request(account: Admin, sleeps: list[float]) -> None:
    ss = connector(account, sleeps.append)
    with pytest.raises(PermanentError, match="is not on"):
        ss.fetch_resource("https://evil.example/shipments?batchId=1")
    assert account.requests_log("GET") == []
    with pytest.raises(MalformedPayloadError):
        ss.parse_delivery({}, b'{"resource_type": "SHIP_NOTIFY"}')


def test_v2_mode_reads_labels_and_their_orders(account: Admin, sleeps: list[float]) -> None:
    account.post("labels", {"labels": [label("#21", ("A", 1), days_ago=1), label("#22", ("B", 3))]})
    pages = list(connector(account, sleeps.append, api="v2").fetch_shipments(None))
    records = [r for p in pages for r in p.records]
    assert [(r.order_number, r.label_ref is not None, [(x.sku, x.quantity) for x in r.lines]) for r in records] == [
        ("#21", True, [("A", 1)]), ("#22", True, [("B", 3)])]
    assert pages[-1].cursor is not None
    assert account.requests_log("GET", "/v2/labels")[0]["query"]["sort_dir"] == "asc"


RETURN_OPTIONS = {"return_carrier_id": "se-1234567", "return_service_code": "usps_ground_advantage",
                  "return_to": {"name": "Returns", "address1": "100 Port St", "city": "Newark", "state": "NJ",
                                "zip": "07114", "country_code": "US"}}


def test_a_return_label_is_bought_once_per_rma_and_addressed_back_to_us(account: Admin, sleeps: list[float]) -> None:
    from connectors.shipstation_returns import buy_return_label

    ss = connector(account, sleeps.append, **RETURN_OPTIONS)
    customer = {"name": "Ana Lima", "address1": "1 Elm St", "city": "Austin", "province_code": "TX", "zip": "78701"}
    bought = buy_return_label(ss, "RMA-000042", customer, "Ana Lima")
    again = buy_return_label(ss, "RMA-000042", customer, "Ana Lima")

    assert not bought.found and again.found and again.label_id == bought.label_id
    assert bought.tracking_number and bought.url and bought.url.endswith(".pdf")
    [sent] = account.requests_log("POST", "/v2/labels")
    body = sent["body"] if isinstance(sent.get("body"), dict) else json.loads(sent["body"])
    assert body["is_return_label"] is True and body["rma_number"] == "RMA-000042"
    assert body["charge_event"] == "carrier_default"
    shipment = body["shipment"]
    assert shipment["ship_from"]["city_locality"] == "Austin" and shipment["ship_from"]["state_province"] == "TX"
    assert shipment["ship_to"]["postal_code"] == "07114" and shipment["carrier_id"] == "se-1234567"
    assert [c["query"]["rma_number"] for c in account.requests_log("GET", "/v2/labels")] == ["RMA-000042"] * 2
    assert buy_return_label(ss, "RMA-000043", customer, "Ana Lima").label_id != bought.label_id


def test_a_return_label_without_its_options_or_v2_key_is_refused_before_any_call(account: Admin,
                                                                               sleeps: list[float]) -> None:
    from connectors.shipstation_returns import buy_return_label

    with pytest.raises(PermanentError, match="return_carrier_id"):
        buy_return_label(connector(account, sleeps.append), "RMA-1", None, "Ana")
    config = ConnectorConfig(store_key="ss", base_url=account.root, webhook_secret=TOKEN, timeout_s=5.0,
                             credentials={"api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET},
                             options={"v2_base_url": account.root, **RETURN_OPTIONS})
    built = build_shipping_connector("shipstation", config)
    assert isinstance(built, ShipStationConnector)
    with pytest.raises(PermanentError, match="v2_api_key"):
        buy_return_label(built, "RMA-1", None, "Ana")
    assert account.requests_log(path_contains="/v2/labels") == []


def test_the_stand_in_refuses_a_return_label_without_its_charge_event(account: Admin) -> None:
    answer = requests.post(f"{account.root}/v2/labels", headers={"API-Key": DEFAULT_V2_KEY}, timeout=10, json={
        "is_return_label": True, "rma_number": "R", "shipment": {
            "carrier_id": "se-1", "service_code": "x", "ship_to": {"name": "a"}, "ship_from": {"name": "b"},
            "packages": [{"weight": {"value": 1, "unit": "ounce"}}]}})
    assert answer.status_code == 400 and "charge_event" in answer.text
