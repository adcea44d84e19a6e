"""Business Central connector against the Business Central stand-in, over real HTTP: the token
from MSAL, stock per location from the item ledger, purchase orders once, posted receipts, 429s,
and the subscription handshake."""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import freezegun
import pytest

from connectors.business_central import BusinessCentralConnector
from connectors.errors import AuthError, PermanentError, SignatureError, TransientError
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, PurchaseOrderLineRequest, PurchaseOrderRequest
from sandbox.business_central import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)
SECRET = "bc-client-state-secret"


@pytest.fixture
def company(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("business_central", f"tenant-{uuid.uuid4().hex[:10]}")
    seeded = admin.post("seed", {"locations": ["MAIN", "SHOWROOM"],
                                 "vendors": [{"number": "kyoto-frames", "name": "Kyoto Frame Works"}],
                                 "items": [{"sku": "FUT-OAK", "stock": {"MAIN": 5, "SHOWROOM": 2}},
                                           {"sku": "FUT-ASH", "stock": {"MAIN": 1}},
                                           {"sku": "FUT-WAL"}]})
    admin.company_id = seeded["company_id"]  # type: ignore[attr-defined]
    return admin


def connector(admin: Admin, sleeps: list[float] | None = None, secret: str | None = None,
              **options: Any) -> BusinessCentralConnector:
    config = ConnectorConfig(
        store_key="bc-erp", base_url=admin.root, webhook_secret=SECRET, timeout_s=5.0,
        credentials={"client_id": DEFAULTS["client_id"], "client_secret": secret or DEFAULTS["client_secret"]},
        options={"tenant": admin.instance, "company_id": admin.company_id, "authority_host": f"{admin.root}/login",
                 "page_size": 2, **options})
    built = build_connector("business_central", config, sleep=(sleeps if sleeps is not None else []).append)
    assert isinstance(built, BusinessCentralConnector)
    return built


def levels(pages: list[Any]) -> dict[tuple[str, str], int]:
    return {(r.sku, r.location_external_id): r.on_hand for page in pages for r in page.records}


def test_the_token_comes_from_msal_once_and_is_reused_until_it_expires(company: Admin) -> None:
    first = connector(company)
    list(first.fetch_stock(None))
    second = connector(company)  # a new connector, as every task builds one
    list(second.fetch_stock(None))

    assert len(company.get("state/token_requests")["token_requests"]) == 1
    assert second.token.last_source == "cache"
    [asked] = company.get("state/token_requests")["token_requests"]
    assert asked["grant_type"] == "client_credentials" and "https://api.businesscentral.dynamics.com/.default" \
        in asked["scope"].split()
    with freezegun.freeze_time(datetime.now(timezone.utc) + timedelta(seconds=3700), tick=True):
        list(connector(company).fetch_stock(None))
    assert len(company.get("state/token_requests")["token_requests"]) == 2, "an expired token is asked again"


def test_a_wrong_secret_is_an_auth_error_naming_entra_s_reason(company: Admin) -> None:
    with pytest.raises(AuthError, match="invalid_client"):
        list(connector(company, secret="wrong").fetch_stock(None))


def test_full_read_gives_every_item_at_every_location_over_next_links(company: Admin) -> None:
    pages = list(connector(company).fetch_stock(None))

    assert levels(pages) == {("FUT-OAK", "MAIN"): 5, ("FUT-OAK", "SHOWROOM"): 2, ("FUT-ASH", "MAIN"): 1,
                             ("FUT-ASH", "SHOWROOM"): 0, ("FUT-WAL", "MAIN"): 0, ("FUT-WAL", "SHOWROOM"): 0}
    entries = len(company.get("state/ledger")["ledger"])
    assert [p.cursor for p in pages] == [None, str(entries)], "only the last page moves the cursor"
    items_calls = company.requests_log("GET", "/items")
    assert len(items_calls) == 2 and "$skiptoken" in items_calls[1]["query"], "3 items, 2 a page: a next link"


def test_incremental_read_gives_only_the_items_the_new_entries_touch(company: Admin) -> None:
    cursor = list(connector(company).fetch_stock(None))[-1].cursor
    company.post("set_stock", {"sku": "FUT-OAK", "location": "SHOWROOM", "quantity": 0})
    company.post("set_stock", {"sku": "FUT-OAK", "location": "MAIN", "quantity": 7})

    pages = list(connector(company).fetch_stock(cursor))

    assert levels(pages) == {("FUT-OAK", "MAIN"): 7, ("FUT-OAK", "SHOWROOM"): 0}
    assert pages[-1].cursor == str(int(cursor or 0) + 2)
    quiet = list(connector(company).fetch_stock(pages[-1].cursor))
    assert levels(quiet) == {} and quiet[-1].cursor == pages[-1].cursor
    [asked] = [c for c in company.requests_log("GET", "itemLedgerEntries") if "entryNo gt" in
               c["query"].get("$filter", "")][:1]
    assert asked["query"]["$filter"] == f"entryNo gt {cursor}"


def order(number: str = "PO-20250101-7") -> PurchaseOrderRequest:
    return PurchaseOrderRequest(number=number, vendor_ref="kyoto-frames", expected_date="2025-02-01", lines=[
        PurchaseOrderLineRequest(sku="FUT-OAK", quantity=4, unit_cost_cents=18950),
        PurchaseOrderLineRequest(sku="FUT-ASH", quantity=1, unit_cost_cents=20001)])


def test_a_purchase_order_is_created_once_and_a_broken_send_is_finished(company: Admin) -> None:
    company.post("faults", {"status": 500, "count": 1, "method": "POST", "path_contains": "purchaseOrderLines",
                            "after_apply": True})
    with pytest.raises(TransientError):
        connector(company).create_purchase_order(order())  # first line made, its answer lost
    again = connector(company).create_purchase_order(order())
    third = connector(company).create_purchase_order(order())

    [po] = company.get("state/purchase_orders")["purchase_orders"]
    assert po["number"] == "PO-20250101-7" and po["vendorNumber"] == "kyoto-frames"
    assert [(li["lineObjectNumber"], li["quantity"], li["directUnitCost"]) for li in po["purchaseOrderLines"]] == [
        ("FUT-OAK", 4, 189.5), ("FUT-ASH", 1, 200.01)]
    assert not again.created and again.external_id == po["id"] and [li["lineObjectNumber"] for li in
                                                                     again.request["lines"]] == ["FUT-ASH"]
    assert not third.created and third.request["lines"] == []
    assert len(company.requests_log("POST", "/purchaseOrders")) == 1 + 2, "one header, one post per line"


def test_without_manual_numbers_business_central_s_refusal_is_permanent(company: Admin) -> None:
    company.post("config", {"manual_po_numbers": False})
    with pytest.raises(PermanentError, match="Application_DialogException: You may not enter numbers manually"):
        connector(company).create_purchase_order(order())


def test_receipts_are_read_from_posted_purchase_receipts(company: Admin) -> None:
    connector(company).create_purchase_order(order("PO-A"))
    connector(company).create_purchase_order(order("PO-B"))
    company.post("purchase_orders/receive", {"number": "PO-A", "lines": {"FUT-OAK": 3}})
    company.post("purchase_orders/receive", {"number": "PO-A", "lines": {"FUT-OAK": 1, "FUT-ASH": 1}})

    lines = connector(company).fetch_receipts(["PO-A", "PO-B"])

    assert sorted((r.po_number, r.sku, r.received) for r in lines) == [
        ("PO-A", "FUT-ASH", 1), ("PO-A", "FUT-OAK", 1), ("PO-A", "FUT-OAK", 3)]
    assert company.item("FUT-OAK")["stock"]["MAIN"] == 5 + 4, "received goods entered the ledger"


def test_a_429_is_waited_out_as_retry_after_asks(company: Admin) -> None:
    sleeps: list[float] = []
    company.post("faults", {"status": 429, "count": 2, "retry_after": "7", "path_contains": "/locations"})
    assert levels(list(connector(company, sleeps).fetch_stock(None)))[("FUT-OAK", "MAIN")] == 5
    assert sleeps == [7.0, 7.0]


def test_the_throttle_s_own_429_names_its_wait(company: Admin) -> None:
    sleeps: list[float] = []
    company.post("config", {"rate_limit": 1, "rate_window_s": 30})
    with pytest.raises(TransientError) as caught:
        list(connector(company, sleeps).fetch_stock(None))
    assert caught.value.status_code == 429 and "Application_TooManyRequests" in str(caught.value)
    assert sleeps and all(25 <= s <= 30 for s in sleeps), "each retry waited the seconds Retry-After named"


@pytest.fixture
def echo() -> Iterator[dict[str, Any]]:
    """A notification URL that answers the handshake (or not, when told)."""
    seen: dict[str, Any] = {"tokens": [], "echo": True}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            token = parse_qs(urlsplit(self.path).query).get("validationToken", [""])[0]
            seen["tokens"].append(token)
            body = (token if seen["echo"] else "nope").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}/webhooks/bc-erp/notifications"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield seen
    server.shutdown()


def test_subscriptions_are_made_after_the_handshake_found_then_renewed_near_expiry(company: Admin,
                                                                                   echo: dict[str, Any]) -> None:
    made = connector(company).ensure_subscriptions(echo["url"], SECRET, secret_is_new=True)
    found = connector(company).ensure_subscriptions(echo["url"], SECRET, secret_is_new=False)

    assert [s.outcome for s in made] == ["created"] and [s.outcome for s in found] == ["found"]
    assert len(echo["tokens"]) == 1 and echo["tokens"][0], "one handshake, with a token"
    [sub] = company.get("state/subscriptions")["subscriptions"]
    assert sub["resource"] == f"/api/v2.0/companies({company.company_id})/items" and sub["clientState"] == SECRET
    expiry = made[0].expires_at
    assert expiry is not None and timedelta(days=2, hours=23) < expiry - datetime.now(timezone.utc) <= timedelta(days=3)
    with freezegun.freeze_time(expiry - timedelta(hours=20), tick=True):
        renewed = connector(company).ensure_subscriptions(echo["url"], SECRET, secret_is_new=False)
    assert [s.outcome for s in renewed] == ["renewed"] and renewed[0].external_id == made[0].external_id
    assert renewed[0].expires_at is not None and renewed[0].expires_at > expiry
    assert len(echo["tokens"]) == 2, "a renewal runs the handshake again"
    [patch] = company.requests_log("PATCH", "subscriptions")
    assert patch["status"] == 200


def test_no_subscription_without_the_handshake(company: Admin, echo: dict[str, Any]) -> None:
    echo["echo"] = False
    with pytest.raises(PermanentError, match="not validated"):
        connector(company).ensure_subscriptions(echo["url"], SECRET, secret_is_new=True)
    assert company.get("state/subscriptions")["subscriptions"] == []


def test_a_notification_is_verified_by_its_client_state_and_names_the_changed_item(company: Admin) -> None:
    body = json.dumps({"value": [{"subscriptionId": "s1", "clientState": SECRET, "changeType": "updated",
                                  "resource": f"api/v2.0/companies({company.company_id})/items(abc)",
                                  "expirationDateTime": "2030-01-01T00:00:00Z",
                                  "lastModifiedDateTime": "2025-01-01T10:00:00.5Z"}]}).encode()
    bc = connector(company)
    bc.verify_webhook({}, body)
    event = bc.parse_webhook({}, body)
    assert (event.kind, event.topic, event.stock) == ("sku_modified", "items.updated", [])
    assert event.resource_ids == [f"api/v2.0/companies({company.company_id})/items(abc)"]
    assert event.dedupe_key == bc.parse_webhook({}, body).dedupe_key
    with pytest.raises(SignatureError, match="clientState"):
        bc.verify_webhook({}, body.replace(SECRET.encode(), b"forged"))


def test_discover_maps_the_locations_and_counts_the_inventory_items(company: Admin) -> None:
    from connectors.discovery import is_back_office, survey

    bc = connector(company)
    found = survey(bc)
    assert is_back_office(bc) and found.missing == []
    assert [(place.external_id, place.name) for place in found.locations] == [
        ("MAIN", "Main"), ("SHOWROOM", "Showroom")]
    assert found.items == 3 and "type Inventory" in found.counted


def test_a_part_the_app_may_not_read_names_the_permission_to_grant(company: Admin) -> None:
    from connectors.discovery import survey

    company.post("faults", {"status": 403, "count": 100, "path_contains": "/locations", "body": {"error": {
        "code": "Authorization_InsufficientPermissions", "message": "You do not have the following permissions "
        "on TableData Location: Read"}}})
    found = survey(connector(company))
    assert found.locations == [] and found.items == 3
    assert found.missing == ["locations: a permission set reading Location on the app's Microsoft Entra Applications "
                             "card in Business Central (D365 BASIC reads them all)"]
