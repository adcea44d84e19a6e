"""The shared pieces label APIs are declared on: shipment fields, tracking events, resource notices,
find-then-create under our own reference, one-time subscriptions, own-host resource URLs."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from connectors.carriers import ReturnLabel, ShipmentFields, TrackingEvents, carrier_address, resource_notice
from connectors.errors import MalformedPayloadError, PermanentError
from connectors.hooks import subscribe_once
from connectors.http import RestConnector, platform_error_message
from connectors.idempotency import found_or_created
from connectors.types import ConnectorConfig
from connectors.values import wall_clock_time

PACIFIC = ZoneInfo("America/Los_Angeles")
LABEL = ShipmentFields(id="label_id", order_number="order.number", carrier="carrier", service="service",
                       tracking_number="tracking", created="created_at", shipped="ship_date", items="order.items",
                       line_id="line", void_status="status", skip_line="adjustment", id_is_label_ref=True)


def test_fields_follow_dotted_paths_and_skip_lines_that_carry_no_goods() -> None:
    record = LABEL.record({"label_id": 7, "carrier": "usps", "tracking": "94", "created_at": "2026-01-02T03:04:05Z",
                           "status": "voided", "order": {"number": "1001", "items": [
                               {"sku": "A", "quantity": "2", "line": "L1"}, {"sku": "FEE", "adjustment": True}]}})
    assert (record.external_id, record.order_number, record.carrier, record.tracking_number) == (
        "7", "1001", "usps", "94")
    assert record.status == "voided" and record.label_ref == "7"
    assert record.label_created_at == record.updated_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert [(line.sku, line.quantity, line.line_external_id) for line in record.lines] == [("A", 2, "L1")]
    plain = LABEL.record({"label_id": "8", "status": "completed"})
    assert plain.status is None and plain.order_number is None and plain.lines == ()


def test_wall_clock_text_is_read_in_its_zone() -> None:
    assert wall_clock_time("2016-02-29T09:59:17.7670000", PACIFIC) == datetime(2016, 2, 29, 9, 59, 17, tzinfo=PACIFIC)
    assert wall_clock_time("2016-02-29", PACIFIC) == datetime(2016, 2, 29, tzinfo=timezone.utc)
    assert wall_clock_time(None, PACIFIC) is None and wall_clock_time("not a time at all!!", PACIFIC) is None


def test_tracking_events_give_stable_ids_and_read_returns_from_the_detail_or_the_words() -> None:
    events = TrackingEvents({"IT": "in_transit", "DE": "delivered"})
    body = {"events": [
        {"occurred_at": "2026-01-02T03:04:05Z", "status_code": "IT", "description": "Arrived", "city_locality": "Reno",
         "country_code": "US"},
        {"occurred_at": "2026-01-03T03:04:05Z", "status_code": "IT", "description": "Returned to sender"},
        {"occurred_at": "2026-01-04T03:04:05Z", "status_code": "IT", "status_detail_code": "OUT_FOR_DELIVERY"},
        {"status_code": "DE"}]}
    first, back, out = events.scans(body)
    assert (first.status, first.location, back.status, out.status) == ("in_transit", "Reno, US", "returned",
                                                                       "out_for_delivery")
    assert [scan.event_id for scan in events.scans(body)] == [first.event_id, back.event_id, out.event_id]
    assert len({first.event_id, back.event_id, out.event_id}) == 3 and events.scans(None) == []


def test_a_resource_notice_is_deduplicated_by_its_url_and_fetched_only_for_named_events() -> None:
    body = b'{"resource_url": "https://api.example/shipments?batchId=1", "resource_type": "SHIP_NOTIFY"}'
    notice = resource_notice("acme", body, ("SHIP_NOTIFY",))
    assert notice.dedupe_key.startswith("acme:SHIP_NOTIFY:")
    assert notice.fetch == ("https://api.example/shipments?batchId=1",)
    assert resource_notice("acme", body, ("ITEM_SHIP_NOTIFY",)).fetch == ()
    assert resource_notice("acme", body, ()).dedupe_key == notice.dedupe_key
    with pytest.raises(MalformedPayloadError):
        resource_notice("acme", b'{"resource_type": "SHIP_NOTIFY"}', ("SHIP_NOTIFY",))


def test_found_or_created_creates_only_when_nothing_was_made_under_the_reference() -> None:
    made: list[str] = []

    def create() -> dict[str, Any]:
        made.append("new")
        return {"label_id": "new"}
    assert found_or_created(iter([]), create) == ({"label_id": "new"}, False)
    assert found_or_created([{"label_id": "old"}, {"label_id": "older"}], create) == ({"label_id": "old"}, True)
    assert made == ["new"]


def test_subscribe_once_keeps_what_is_there_and_creates_the_rest_in_order() -> None:
    created: list[str] = []

    def create(event: str) -> int:
        created.append(event)
        return 40 + len(created)
    assert subscribe_once(["A", "B", "C"], ["B", None], create) == [
        "A: subscribed (id 41)", "B: already subscribed", "C: subscribed (id 42)"]
    assert created == ["A", "C"]


class Acme(RestConnector):
    platform: ClassVar[str] = "acme"


def test_own_url_refuses_other_hosts_and_paths_and_splits_the_query() -> None:
    acme = Acme(ConnectorConfig(store_key="s", base_url="https://api.acme.test/v1/"))
    assert acme.own_url("https://api.acme.test/v1/shipments?batchId=3&x=y") == (
        "https://api.acme.test/v1/shipments", {"batchId": "3", "x": "y"})
    for url in ("https://evil.test/v1/shipments", "http://api.acme.test/v1/shipments", "https://api.acme.test/v2/x"):
        with pytest.raises(PermanentError):
            acme.own_url(url)


def test_a_companion_api_exists_only_with_its_credential_and_shares_the_clock() -> None:
    config = ConnectorConfig(store_key="s", base_url="https://v1.test", credentials={"key": "k"}, options={"o": 1})
    tick = lambda: 5.0  # noqa: E731
    acme = Acme(config, clock=tick)
    other = acme.companion(Acme, "https://v2.test", "key")
    assert other is not None and other.base_url == "https://v2.test" and other.options == {"o": 1}
    assert other.clock is tick and other.retry == acme.retry
    assert acme.companion(Acme, "https://v2.test", "missing") is None


def test_asp_net_error_bodies_give_the_exception_message_first() -> None:
    assert platform_error_message({"Message": "An error has occurred.", "ExceptionMessage": "bad date"}) == "bad date"
    assert platform_error_message({"Message": "Not found"}) == "Not found"
    assert platform_error_message({"message": "lower case wins as before"}) == "lower case wins as before"


def test_addresses_and_labels_of_a_label_api() -> None:
    assert carrier_address({"address1": "1 Main", "city": "Reno", "province_code": "NV", "zip": "89501"}, "Ann") == {
        "name": "Ann", "phone": "", "address_line1": "1 Main", "city_locality": "Reno", "state_province": "NV",
        "postal_code": "89501", "country_code": "US"}
    label = ReturnLabel.of({"label_id": 5, "tracking_number": "94", "label_download": {"href": "h", "pdf": "p.pdf"}},
                           True)
    assert label == ReturnLabel("5", "94", "", "p.pdf", True)
