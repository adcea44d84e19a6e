"""Salesforce B2C Commerce connector against its stand-in, over real HTTP."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import freezegun
import pytest

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.oauth2 import forget_tokens
from connectors.registry import build_connector
from connectors.salesforce_b2c import SalesforceB2CConnector
from connectors.types import ConnectorConfig, ListingRef
from sandbox.salesforce_b2c import CLIENT_ID, CLIENT_SECRET

Admin = Any  # tests/connectors/conftest.py::Admin

LISTS = {"lists": [
    {"id": "futon-inventory", "sites": ["RefArch"], "items": [
        {"sku": "FRAME-OAK", "allocation": 5}, {"sku": "COVER-RED", "allocation": 2},
        {"sku": "MATTRESS", "allocation": 0, "handling": "backorder", "backorder_allocation": 10},
        {"sku": "GIFTCARD", "perpetual": True}]},
    {"id": "showroom", "sites": [], "items": [{"sku": "FRAME-OAK", "allocation": 1}]}]}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Any:
    forget_tokens()
    yield
    forget_tokens()


@pytest.fixture
def sfcc(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("salesforce_b2c", f"zzxx-{uuid.uuid4().hex[:8]}")
    admin.post("seed", LISTS)
    return admin


def connector(sfcc: Admin, sleeps: list[float] | None = None, secret: str = CLIENT_SECRET,
              **options: Any) -> SalesforceB2CConnector:
    config = ConnectorConfig(
        store_key="futon-sfcc", base_url=sfcc.root, credentials={"client_id": CLIENT_ID, "client_secret": secret},
        options={"token_url": f"{sfcc.root}/dwsso/oauth2/access_token", "site_id": "RefArch", "page_size": 2,
                 **options}, timeout_s=5.0)
    built = build_connector("salesforce_b2c", config, sleep=(sleeps if sleeps is not None else []).append)
    assert isinstance(built, SalesforceB2CConnector)
    return built


def stock(conn: SalesforceB2CConnector, since: str | None = None) -> dict[tuple[str | None, str | None], Any]:
    return {(r.sku, r.location_external_id): r for page in conn.fetch_stock(since) for r in page.records}


def test_a_full_read_pages_every_inventory_list_by_start_and_count(sfcc: Admin) -> None:
    pages = list(connector(sfcc).fetch_stock(None))

    found = {(r.sku, r.location_external_id): (r.available, r.backorders_allowed) for p in pages for r in p.records}
    assert found == {("COVER-RED", "futon-inventory"): (2, False), ("FRAME-OAK", "futon-inventory"): (5, False),
                     ("GIFTCARD", "futon-inventory"): (None, False), ("MATTRESS", "futon-inventory"): (0, True),
                     ("FRAME-OAK", "showroom"): (1, False)}
    assert [p.cursor is None for p in pages] == [True, True, False], "only the last page moves the cursor"
    reads = [r["query"] for r in sfcc.requests_log("GET", "/futon-inventory/product_inventory_records")]
    assert reads == [{"start": "0", "count": "2"}, {"start": "2", "count": "2"}], "stops at total, no empty page"
    token = sfcc.get("state/token_requests")["token_requests"]
    assert [(t["client_id"], t["grant_type"]) for t in token] == [(CLIENT_ID, "client_credentials")]


def test_an_incremental_read_keeps_only_the_records_changed_since_the_cursor(sfcc: Admin) -> None:
    conn = connector(sfcc, location_ids=["futon-inventory"])
    sfcc.post("clock", {"advance_s": 60})
    sfcc.post("set_stock", {"sku": "MATTRESS", "quantity": 0})
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    sfcc.post("clock", {"advance_s": 120})
    sfcc.post("set_stock", {"sku": "COVER-RED", "quantity": 9, "list": "futon-inventory"})
    sfcc.post("create_order", {"lines": [{"sku": "FRAME-OAK", "quantity": 2, "price": "499.00"}]})

    pages = list(conn.fetch_stock(cursor))

    changed = {(r.sku, r.available) for p in pages for r in p.records}
    # MATTRESS changed in the cursor's own second: read again rather than risked; GIFTCARD is older
    assert changed == {("COVER-RED", 9), ("FRAME-OAK", 3), ("MATTRESS", 0)}
    assert pages[-1].cursor is not None and pages[-1].cursor > cursor
    assert len(sfcc.requests_log("GET", "/product_inventory_records")) == 4, "OCAPI has no filter: the list is walked"


def test_quantity_and_backorder_status_are_written_back_and_cleared_on_restock(sfcc: Admin) -> None:
    conn = connector(sfcc)
    listing = ListingRef(sku="FRAME-OAK", external_id="FRAME-OAK", location_external_id="futon-inventory")

    result = conn.push_availability(listing, 0, backorder=True)

    assert result.ok and result.levels == {"futon-inventory": 0}
    item = next(i for i in [sfcc.item("FRAME-OAK")] if i["list"] == "futon-inventory")
    assert item["allocation"]["amount"] == 0 and item["pre_order_back_order_handling"] == "backorder"
    assert item["pre_order_back_order_allocation"] == 100 and item["ats"] == 100 and item["stock_level"] == 0
    assert item["in_stock_date"].startswith((date.today() + timedelta(days=14)).isoformat())

    conn.push_availability(listing, 6, backorder=False)

    item = sfcc.item("FRAME-OAK")
    assert (item["stock_level"], item["pre_order_back_order_handling"], item["in_stock_date"]) == (6, "none", None)
    patch = sfcc.requests_log("PATCH")[-1]
    assert patch["path"].endswith("/s/-/dw/data/v23_2/inventory_lists/futon-inventory/product_inventory_records/"
                                  "FRAME-OAK")


def test_each_inventory_list_is_written_as_its_own_location(sfcc: Admin) -> None:
    conn = connector(sfcc)
    results = conn.push_levels(ListingRef(sku="FRAME-OAK", external_id="FRAME-OAK"),
                               {"futon-inventory": 4, "showroom": 0}, backorder=False)

    assert [r.levels for r in results] == [{"futon-inventory": 4}, {"showroom": 0}]
    assert {(r.sku, r.location_external_id): r.available for r in stock(conn).values()
            if r.sku == "FRAME-OAK"} == {("FRAME-OAK", "futon-inventory"): 4, ("FRAME-OAK", "showroom"): 0}


def test_orders_are_read_by_order_search_incrementally_by_last_modified(sfcc: Admin) -> None:
    sfcc.post("create_order", {"lines": [{"sku": "FRAME-OAK", "quantity": 1, "price": "499.00"},
                                         {"sku": "COVER-RED", "quantity": 2, "price": "59.50"}],
                               "email": "grace@example.com", "customer": {"first_name": "Grace", "last_name": "Hopper"}})
    conn = connector(sfcc)

    pages = list(conn.fetch_orders(None))

    [order] = [o for p in pages for o in p.records]
    assert (order.email, order.customer_name, order.total_cents, order.status) == (
        "grace@example.com", "Grace Hopper", 61800, "open")
    assert [(line.sku, line.quantity, line.price_cents) for line in order.lines] == [
        ("FRAME-OAK", 1, 49900), ("COVER-RED", 2, 11900)]
    cursor = pages[-1].cursor
    sfcc.post("clock", {"advance_s": 60})
    sfcc.post("create_order", {"lines": [{"sku": "MATTRESS", "quantity": 1, "price": "899.00"}]})

    later = [o for p in conn.fetch_orders(cursor) for o in p.records]

    assert [o.lines[0].sku for o in later] == ["FRAME-OAK", "MATTRESS"], "the cursor's own second is read again"
    search = sfcc.requests_log("POST", "/order_search")[-1]
    assert search["path"].endswith("/s/RefArch/dw/shop/v23_2/order_search")
    assert search["body"]["query"]["filtered_query"]["filter"]["range_filter"]["field"] == "last_modified"
    assert search["body"]["sorts"] == [{"field": "last_modified", "sort_order": "asc"}]


def test_a_429_is_waited_out_as_retry_after_asks(sfcc: Admin) -> None:
    sleeps: list[float] = []
    sfcc.post("faults", {"status": 429, "count": 2, "retry_after": "3", "path_contains": "/product_inventory_records"})

    assert stock(connector(sfcc, sleeps))[("FRAME-OAK", "futon-inventory")].available == 5
    assert sleeps == [3.0, 3.0]


def test_the_instance_s_own_limit_names_its_wait_and_its_fault(sfcc: Admin) -> None:
    sleeps: list[float] = []
    sfcc.post("config", {"limit": 1, "window_s": 30})

    with pytest.raises(TransientError) as raised:
        stock(connector(sfcc, sleeps))

    assert raised.value.status_code == 429 and "TooManyRequestsException" in str(raised.value)
    assert sleeps and all(25 <= s <= 30 for s in sleeps), "each retry waited the seconds Retry-After named"


def test_the_token_is_kept_and_renewed_a_minute_before_its_1799_seconds_run_out(sfcc: Admin) -> None:
    start = datetime.now(timezone.utc)
    stock(connector(sfcc))
    with freezegun.freeze_time(start + timedelta(seconds=1700), tick=True):
        stock(connector(sfcc))  # a new connector (a new task): the process's token, still good
        assert len(sfcc.get("state/token_requests")["token_requests"]) == 1
    with freezegun.freeze_time(start + timedelta(seconds=1750), tick=True):
        stock(connector(sfcc))
        assert len(sfcc.get("state/token_requests")["token_requests"]) == 2, "renewed before it lapsed"
    assert all(r["status"] == 200 for r in sfcc.requests_log("GET"))


def test_a_token_the_instance_no_longer_takes_is_replaced_once(sfcc: Admin) -> None:
    conn = connector(sfcc)
    stock(conn)
    sfcc.post("clock", {"advance_s": 1800})  # lapsed at the instance while the client still keeps it

    assert stock(conn)[("COVER-RED", "futon-inventory")].available == 2
    assert len(sfcc.get("state/token_requests")["token_requests"]) == 2
    assert [r["status"] for r in sfcc.requests_log("GET")][-4:-2] == [401, 200]


def test_bad_credentials_are_an_auth_error_naming_account_manager_s_reason(sfcc: Admin) -> None:
    with pytest.raises(AuthError) as raised:
        stock(connector(sfcc, secret="wrong"))

    assert raised.value.status_code == 401 and "Client authentication failed" in str(raised.value)
    assert sfcc.requests_log("GET") == [], "no OCAPI call without a token"


def test_faults_are_read_as_type_and_message(sfcc: Admin) -> None:
    with pytest.raises(PermanentError) as raised:
        stock(connector(sfcc, location_ids=["no-such-list"]))
    assert "InventoryListNotFoundException" in str(raised.value) and raised.value.status_code == 404

    sfcc.post("config", {"denied": ["PATCH product_inventory_records"]})
    with pytest.raises(AuthError) as denied:
        connector(sfcc).push_availability(ListingRef(sku="COVER-RED", external_id="COVER-RED"), 1, False)
    assert denied.value.status_code == 403 and "ClientAccessForbiddenException" in str(denied.value)


def test_refunds_store_credit_substitutes_and_webhooks_are_refused_by_name(sfcc: Admin) -> None:
    conn = connector(sfcc)
    for call in (lambda: conn.refund_line(None), lambda: conn.verify_webhook({}, b"")):  # type: ignore[arg-type]
        with pytest.raises(Exception) as raised:
            call()
        assert "salesforce_b2c" in str(raised.value)


def test_discovery_lists_the_inventory_lists_and_each_product_once(sfcc: Admin) -> None:
    from connectors import discovery

    conn = connector(sfcc)

    found = discovery.locations(conn)
    items = [item for page in discovery.catalogue(conn) for item in page]

    assert [(f.external_id, f.name) for f in found] == [("futon-inventory", "futon-inventory (sites: RefArch)"),
                                                        ("showroom", "showroom (sites: none)")]
    assert sorted((i.sku, i.backorders_allowed) for i in items) == [
        ("COVER-RED", False), ("FRAME-OAK", False), ("GIFTCARD", False), ("MATTRESS", True)]


def test_config_check_accepts_the_example_s_commented_store_once_it_is_switched_on(tmp_path: Any) -> None:
    from pathlib import Path

    from domain.core.business_config import load_config

    text = (Path(__file__).resolve().parents[2] / "examples" / "futon-store.toml").read_text()
    start = text.index("# [[stores]]\n# key = \"sfcc-us\"")
    block = text[start:text.index("\n\n", start)]
    path = tmp_path / "sfcc.toml"
    path.write_text(text.replace(block, "\n".join(line.removeprefix("# ") for line in block.splitlines())))

    store = next(s for s in load_config(path).stores if s.key == "sfcc-us")

    assert store.platform == "salesforce_b2c" and store.options["site_id"] == "RefArch"


def test_an_order_search_the_ocapi_settings_leave_out_names_the_resource_to_add(sfcc: Admin) -> None:
    from connectors.permissions import refused_part

    sfcc.post("config", {"denied": ["POST order_search"]})

    with pytest.raises(AuthError) as raised:
        list(connector(sfcc).fetch_orders(None))

    assert "/order_search (post)" in str(refused_part("salesforce_b2c", "orders", raised.value))


def test_a_selling_store_without_its_site_is_refused_by_config_check() -> None:
    from connectors.registry import store_problems

    assert store_problems("salesforce_b2c", {"options": {}}) == [
        ("options.site_id", "missing: the site whose orders are read (Business Manager: Administration → Sites)")]
    assert store_problems("salesforce_b2c", {"options": {"site_id": "RefArch", "api_version": "23.2"}}) == [
        ("options.api_version", "expected an OCAPI version such as v23_2, got '23.2'")]
    assert store_problems("salesforce_b2c", {"sells": False, "options": {}}) == []
