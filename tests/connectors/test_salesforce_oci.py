"""Salesforce B2C Commerce on Omnichannel Inventory: the connector against the OCAPI and OCI stand-ins."""
from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta
from typing import Any, Callable

import pytest
import requests

from connectors.errors import AuthError
from connectors.oauth2 import forget_tokens
from connectors.registry import build_connector, store_problems
from connectors.salesforce_b2c import SalesforceB2CConnector
from connectors.types import ConnectorConfig, ListingRef
from sandbox.salesforce_b2c import CLIENT_ID, CLIENT_SECRET
from sandbox.salesforce_oci import CLIENT_ID as OCI_ID, CLIENT_SECRET as OCI_SECRET, TENANT_GROUP, TENANT_ID

Admin = Any  # tests/connectors/conftest.py::Admin
SOON, LATER = "2027-01-20T00:00:00Z", "2027-03-01T00:00:00Z"
OCI = {"locations": {
    "wh-east": {"FRAME-OAK": {"onHand": 5, "reserved": 1}, "COVER-RED": {"onHand": 2},
                "MATTRESS": {"onHand": 0, "futures": [{"quantity": 4, "expectedDate": LATER},
                                                      {"quantity": 6, "expectedDate": SOON}]}},
    "wh-west": {"FRAME-OAK": {"onHand": 3, "safetyStockCount": 1}}},
    "groups": {"us-online": ["wh-east", "wh-west"]}}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Any:
    forget_tokens()
    yield
    forget_tokens()


@pytest.fixture
def sfcc(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("salesforce_b2c", f"zzxx-{uuid.uuid4().hex[:8]}")
    admin.post("seed", {"items": [{"sku": sku, "allocation": 0} for sku in ("COVER-RED", "FRAME-OAK", "MATTRESS")]})
    return admin


@pytest.fixture
def oci(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("salesforce_oci", f"oci-{uuid.uuid4().hex[:8]}")
    admin.post("seed", OCI)
    return admin


def connector(sfcc: Admin, oci: Admin, sleeps: list[float] | None = None, secret: str = OCI_SECRET,
              **places: Any) -> SalesforceB2CConnector:
    config = ConnectorConfig(
        store_key="futon-sfcc", base_url=sfcc.root, timeout_s=5.0,
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "oci_client_id": OCI_ID,
                     "oci_client_secret": secret},
        options={"token_url": f"{sfcc.root}/dwsso/oauth2/access_token", "site_id": "RefArch", "oci": {
            "base_url": oci.root, "token_url": f"{oci.root}/dwsso/oauth2/access_token", "tenant_id": TENANT_ID,
            "tenant_group_id": TENANT_GROUP, **(places or {"groups": ["us-online"], "write_location": "wh-east"})}})
    built = build_connector("salesforce_b2c", config, sleep=(sleeps if sleeps is not None else []).append)
    assert isinstance(built, SalesforceB2CConnector)
    return built


def read(conn: SalesforceB2CConnector, since: str | None) -> tuple[dict[tuple[str | None, str | None], Any], str]:
    pages = list(conn.fetch_stock(since))
    assert all(p.cursor is None for p in pages[:-1]) and pages[-1].cursor, "only the last page moves the cursor"
    return {(r.sku, r.location_external_id): r for p in pages for r in p.records}, str(pages[-1].cursor)


def test_a_full_read_asks_oci_for_every_listed_sku_and_reads_ato_as_available(sfcc: Admin, oci: Admin) -> None:
    found, cursor = read(connector(sfcc, oci), None)

    assert {key: (r.available, r.on_hand, r.backorders_allowed) for key, r in found.items()} == {
        ("COVER-RED", "us-online"): (2, 2, False), ("FRAME-OAK", "us-online"): (6, 8, False),
        ("MATTRESS", "us-online"): (10, 0, True)}, "ato: on hand − reserved − safety stock + futures"
    assert found[("MATTRESS", "us-online")].restock_eta == date(2027, 1, 20), "the nearest future"
    assert found[("FRAME-OAK", "us-online")].restock_eta is None
    assert cursor.startswith("oci:")
    calls = [r["path"].rsplit("/", 1)[-1] for r in oci.requests_log("POST", "/availability-records/")]
    assert calls == ["delta-token", "get-availability"], "the token is taken before the read"
    [token] = oci.get("state/token_requests")["token_requests"]
    assert (token["client_id"], token["scope"]) == (OCI_ID, f"SALESFORCE_COMMERCE_API:{TENANT_ID} "
                                                            "sfcc.inventory.availability.rw")
    assert oci.requests_log("POST", "/delta-token")[0]["body"] == {"placeType": "group", "places": ["us-online"]}


def test_a_full_read_asks_at_most_100_sku_place_pairs_a_call(sfcc: Admin, oci: Admin) -> None:
    skus = [f"SKU-{n:03d}" for n in range(120)]
    sfcc.post("seed", {"items": [{"sku": sku, "allocation": 0} for sku in skus]})
    oci.post("seed", {"locations": {"wh-east": {sku: {"onHand": n} for n, sku in enumerate(skus)}, "wh-west": {}}})

    found, _ = read(connector(sfcc, oci, locations=["wh-east", "wh-west"]), None)

    assert len(found) == 120 and found[("SKU-007", "wh-east")].available == 7
    bodies = [r["body"] for r in oci.requests_log("POST", "/get-availability")]
    assert [len(b["skus"]) for b in bodies] == [50, 50, 20] and all(b["locations"] == ["wh-east", "wh-west"]
                                                                     for b in bodies)


def test_the_stand_in_refuses_more_than_100_pairs_as_oci_does(oci: Admin) -> None:
    token = requests.post(f"{oci.root}/dwsso/oauth2/access_token", auth=(OCI_ID, OCI_SECRET), timeout=5, data={
        "grant_type": "client_credentials", "scope": f"SALESFORCE_COMMERCE_API:{TENANT_ID} "
                                                      "sfcc.inventory.availability"}).json()["access_token"]
    url = f"{oci.root}/inventory/availability/v1/organizations/{TENANT_GROUP}/availability-records/actions/"
    answer = requests.post(url + "get-availability", json={"skus": [f"S{n}" for n in range(51)],
                                                           "locations": ["wh-east", "wh-west"]},
                           headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["errorCode"] == "InvalidRequestParameter"
    assert answer.json()["parameterName"] == "skus"
    write = requests.post(url + "batch-update", json={"records": []}, headers={"Authorization": f"Bearer {token}"},
                          timeout=5)
    assert write.status_code == 403 and write.json()["title"] == "Forbidden", "a read-only token writes nothing"


def test_an_incremental_poll_reads_the_deltas_and_an_unchanged_one_reads_nothing(sfcc: Admin, oci: Admin) -> None:
    conn = connector(sfcc, oci)
    _, cursor = read(conn, None)
    oci.post("set_stock", {"location": "wh-west", "sku": "FRAME-OAK", "onHand": 0})
    oci.post("set_stock", {"location": "wh-east", "sku": "COVER-RED", "delete": True})

    changed, after = read(conn, cursor)

    assert {key: r.available for key, r in changed.items()} == {("FRAME-OAK", "us-online"): 4,
                                                                ("COVER-RED", "us-online"): 0}
    assert after != cursor and oci.requests_log("POST", "/get-deltas")[-1]["body"] == {
        "deltaToken": cursor.removeprefix("oci:")}
    assert len(oci.requests_log("POST", "/get-availability")) == 1, "no full read"
    assert len(sfcc.requests_log("GET", "/product_inventory_records")) == 1, "the SKU list is read for a full read only"

    nothing, again = read(conn, after)

    assert nothing == {} and again != after


def test_deltas_are_read_again_while_oci_says_should_query_again(sfcc: Admin, oci: Admin) -> None:
    conn = connector(sfcc, oci, locations=["wh-east"])
    _, cursor = read(conn, None)
    oci.post("config", {"delta_page": 1})
    for onhand in (7, 8):
        oci.post("set_stock", {"location": "wh-east", "sku": "COVER-RED", "onHand": onhand})
    oci.post("set_stock", {"location": "wh-west", "sku": "FRAME-OAK", "onHand": 9})  # not a place read

    pages = list(conn.fetch_stock(cursor))

    assert [[(r.sku, r.available) for r in p.records] for p in pages] == [[("COVER-RED", 8)], [("COVER-RED", 8)], []]
    assert len(oci.requests_log("POST", "/get-deltas")) == 3
    assert all(p.cursor and p.cursor.startswith("oci:") for p in pages), "each page's token is safe to save"


def test_an_expired_delta_token_is_logged_and_the_stock_read_in_full(sfcc: Admin, oci: Admin,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    conn = connector(sfcc, oci)
    _, cursor = read(conn, None)
    oci.post("clock", {"advance_s": 23.5 * 3600})

    with caplog.at_level(logging.WARNING, logger="connectors.salesforce_oci"):
        found, after = read(conn, cursor)

    assert found[("FRAME-OAK", "us-online")].available == 6 and len(found) == 3
    assert after != cursor and "ExpiredDeltaLink" in caplog.text
    statuses = [(r["path"].rsplit("/", 1)[-1], r["status"]) for r in oci.requests_log("POST", "/availability-")]
    assert statuses[-3:] == [("get-deltas", 410), ("delta-token", 200), ("get-availability", 200)]
    assert read(conn, "oci:not-a-token")[0].keys() == found.keys(), "an unreadable token: read in full too"


def test_a_429_is_retried_after_the_seconds_retry_after_names(sfcc: Admin, oci: Admin) -> None:
    sleeps: list[float] = []
    conn = connector(sfcc, oci, sleeps)
    _, cursor = read(conn, None)
    oci.post("set_stock", {"location": "wh-east", "sku": "COVER-RED", "onHand": 1})
    oci.post("faults", {"status": 429, "count": 2, "retry_after": "7", "path_contains": "/get-deltas"})

    found, _ = read(conn, cursor)

    assert found[("COVER-RED", "us-online")].available == 1 and sleeps == [7.0, 7.0]
    assert [r["status"] for r in oci.requests_log("POST", "/get-deltas")] == [429, 429, 200]


def test_a_wrong_secret_or_tenant_is_a_permanent_auth_error(sfcc: Admin, oci: Admin) -> None:
    with pytest.raises(AuthError) as wrong:
        read(connector(sfcc, oci, secret="wrong"), None)
    assert wrong.value.status_code == 401 and "Client authentication failed" in str(wrong.value)

    oci.post("config", {"tenant_id": "zzzz_prd"})
    with pytest.raises(AuthError) as tenant:
        read(connector(sfcc, oci), None)
    assert tenant.value.status_code == 400 and "invalid_scope" in str(tenant.value)
    assert oci.requests_log("POST", "/availability-records/") == [], "no OCI call without a token"


def test_a_write_sets_on_hand_above_what_oci_holds_back_and_the_backorder_as_a_future(sfcc: Admin,
                                                                                      oci: Admin) -> None:
    conn = connector(sfcc, oci, locations=["wh-east", "wh-west"])
    listing = ListingRef(sku="FRAME-OAK", external_id="FRAME-OAK", location_external_id="wh-east")

    result = conn.push_availability(listing, 0, backorder=True)

    assert result.ok and result.levels == {"wh-east": 0}
    held = oci.get("state/locations")["locations"]["wh-east"]["FRAME-OAK"]
    ready = (date.today() + timedelta(days=14)).isoformat()
    assert held["onHand"] == 1 and held["futures"] == [{"quantity": 100, "expectedDate": f"{ready}T00:00:00Z"}]
    assert read(conn, None)[0][("FRAME-OAK", "wh-east")].available == 100, "sold beyond stock, to arrive"

    conn.push_availability(listing, 6, backorder=False)

    found, _ = read(conn, None)
    assert (found[("FRAME-OAK", "wh-east")].available, found[("FRAME-OAK", "wh-east")].restock_eta) == (6, None)
    assert sfcc.requests_log("PATCH") == [], "OCAPI's inventory lists are OCI's cache: not written"
    assert len(oci.requests_log("POST", "/get-availability")) == 2 + 2, "each write read what OCI holds back"
    assert conn.write_calls({"wh-east": 0, "wh-west": 0}) == 4 and conn.oci is not None


def test_oci_options_are_checked_by_config_check() -> None:
    good = {"short_code": "kv7kzm78", "tenant_group_id": "tg", "tenant_id": "zzxy_prd", "groups": ["us"]}
    assert store_problems("salesforce_b2c", {"options": {"site_id": "RefArch", "oci": good}}) == []
    both = {**good, "locations": ["wh"]}
    assert store_problems("salesforce_b2c", {"options": {"site_id": "RefArch", "oci": both}}) == [
        ("options.oci", "name the OCI groups or the locations to read (one of them)")]
    assert store_problems("salesforce_b2c", {"options": {"site_id": "RefArch", "oci": {"groups": ["us"]}}}) == [
        ("options.oci", "missing tenant_group_id, tenant_id, short_code")]


def test_the_short_code_and_tenant_group_make_oci_s_production_address() -> None:
    config = ConnectorConfig(store_key="sfcc", base_url="https://zzxy-001.dx.commercecloud.salesforce.com",
                             credentials={"client_id": "a", "client_secret": "b", "oci_client_id": "c"},
                             options={"site_id": "RefArch", "oci": {"short_code": "kv7kzm78", "tenant_id": "zzxy_prd",
                                                                    "tenant_group_id": "tg-1", "groups": ["us"]}})
    built = build_connector("salesforce_b2c", config)
    assert isinstance(built, SalesforceB2CConnector) and built.oci is not None
    assert built.oci.url("availability-records/actions/get-deltas") == (
        "https://kv7kzm78.api.commercecloud.salesforce.com/inventory/availability/v1/organizations/tg-1/"
        "availability-records/actions/get-deltas")
    assert built.oci.session.auth.token_url == "https://account.demandware.com/dwsso/oauth2/access_token"  # type: ignore[union-attr]


def test_orders_stay_ocapi_s_when_stock_goes_through_oci(sfcc: Admin, oci: Admin) -> None:
    """OCI holds availability, not orders: with ``options.oci`` set the site's orders are still read
    through the Shop API's ``order_search``, incrementally by ``last_modified``, and OCI is not asked."""
    sfcc.post("create_order", {"lines": [{"sku": "FRAME-OAK", "quantity": 2, "price": "499.00"}],
                               "email": "ada@example.com"})
    conn = connector(sfcc, oci)

    pages = list(conn.fetch_orders(None))

    [order] = [o for p in pages for o in p.records]
    assert (order.email, order.total_cents, [(line.sku, line.quantity) for line in order.lines]) == (
        "ada@example.com", 99800, [("FRAME-OAK", 2)])
    sfcc.post("clock", {"advance_s": 60})
    sfcc.post("create_order", {"lines": [{"sku": "MATTRESS", "quantity": 1, "price": "899.00"}]})

    later = [o.lines[0].sku for p in conn.fetch_orders(pages[-1].cursor) for o in p.records]

    assert later == ["FRAME-OAK", "MATTRESS"], "from one second before the cursor"
    searches = sfcc.requests_log("POST", "/order_search")
    assert len(searches) == 2 and searches[-1]["path"].endswith("/s/RefArch/dw/shop/v23_2/order_search")
    assert oci.requests_log("POST") == [] and oci.get("state/token_requests")["token_requests"] == [], \
        "no OCI call, no OCI token"
