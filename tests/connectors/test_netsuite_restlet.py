"""NetSuite with the RESTlet and User Event script of integrations/netsuite/ deployed, against the
NetSuite stand-in serving them (real TBA checks on the RESTlet URL, real HTTP both ways)."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import Connector
from connectors.capabilities import Capability, supports
from connectors.errors import AuthError, PermanentError, SignatureError
from connectors.netsuite_restlet import NetSuiteRestletConnector
from connectors.registry import build_connector, store_problems
from connectors.types import ConnectorConfig, ListingRef
from sandbox.netsuite import DEFAULTS
from tests.connectors.conftest import Admin, WebhookReceiver

SECRET = "ns_ue_secret"


@pytest.fixture
def account(sandbox_for: Callable[..., Any]) -> Admin:
    server = sandbox_for("sandbox.netsuite", "sandbox.netsuite_restlet")
    return Admin(server.base_url, "netsuite", f"{uuid.uuid4().int % 10**7}_SB1")


def config_for(account: Admin, **options: Any) -> ConnectorConfig:
    realm = account.root.rsplit("/", 1)[1]
    return ConnectorConfig(
        store_key="futon-erp", base_url=account.root, credentials={"account_id": realm, **DEFAULTS},
        webhook_secret=SECRET, timeout_s=5.0,
        options={"page_size": 3, "restlet_url": f"{account.root}/app/site/hosting/restlet.nl?script=1201&deploy=1",
                 **options})


def connector(account: Admin, sleeps: list[float], **options: Any) -> NetSuiteRestletConnector:
    built = build_connector("netsuite_restlet", config_for(account, **options), sleep=sleeps.append)
    assert isinstance(built, NetSuiteRestletConnector) and isinstance(built, Connector)
    return built


def restlet_calls(account: Admin) -> list[dict[str, Any]]:
    return account.requests_log(path_contains="restlet.nl")


def test_full_read_pages_the_restlet_and_signs_script_and_deploy(account: Admin, sleeps: list[float]) -> None:
    account.post("seed", {"count": 3, "locations": 2, "items": [
        {"sku": "FUTON-QUEEN", "locations": {"1": {"on_hand": 5, "committed": 2}, "2": {"on_hand": 0}}}]})

    pages = list(connector(account, sleeps).fetch_stock(None))

    assert [len(p.records) for p in pages] == [3, 3, 2]
    assert [p.cursor for p in pages[:-1]] == [None, None], "only the finished walk moves the cursor"
    rows = {(r.sku, r.location_external_id): r for p in pages for r in p.records}
    queen = rows[("FUTON-QUEEN", "1")]
    assert (queen.on_hand, queen.available, queen.committed) == (5, 3, 2)
    calls = restlet_calls(account)
    assert [(c["query"]["action"], c["query"]["offset"], c["status"]) for c in calls] == [
        ("stock", "0", 200), ("stock", "3", 200), ("stock", "6", 200)]
    assert all(c["query"]["script"] == "1201" and c["query"]["deploy"] == "1" for c in calls)
    assert not account.requests_log(path_contains="suiteql"), "stock comes from the RESTlet only"


def test_incremental_read_finds_an_adjustment_that_left_the_item_untouched(account: Admin,
                                                                           sleeps: list[float]) -> None:
    account.post("seed", {"count": 4})
    conn = connector(account, sleeps)
    seeded_at = [p.cursor for p in conn.fetch_stock(None)][-1]
    assert seeded_at is not None
    account.post("clock", {"advance_s": 120})
    since = (datetime.strptime(seeded_at, "%Y-%m-%d %H:%M:%S") + timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S")
    before = account.item("SKU-000002")["lastmodifieddate"]

    account.post("adjust", {"sku": "SKU-000002", "location_id": 1, "delta": -3})

    assert account.item("SKU-000002")["lastmodifieddate"] == before, "an adjustment leaves the item record alone"
    pages = list(conn.fetch_stock(since))
    assert {r.sku for p in pages for r in p.records} == {"SKU-000002"}, \
        "the RESTlet finds the item through its inventory transaction"
    assert pages[-1].cursor is not None and pages[-1].cursor > since
    assert restlet_calls(account)[-1]["query"]["since"] == since
    suiteql = build_connector("netsuite", replace(config_for(account), options={"page_size": 3}), sleep=sleeps.append)
    assert [r for p in suiteql.fetch_stock(since) for r in p.records] == [], \
        "SuiteQL on lastmodifieddate alone misses it: the reason for the RESTlet"


def test_backorder_status_is_written_once_through_the_restlet(account: Admin, sleeps: list[float]) -> None:
    seeded = account.post("seed", {"count": 1, "items": [{"sku": "FUTON-QUEEN"}]})
    item_id = next(i["item_id"] for i in seeded["items"] if i["sku"] == "FUTON-QUEEN")
    conn = connector(account, sleeps)
    assert supports(conn, Capability.BACKORDER_STATUS)
    listing = ListingRef(sku="FUTON-QUEEN", external_id=item_id)

    first = conn.write_backorder_status(listing, True)
    again = conn.write_backorder_status(listing, True)

    assert first.ok and json.loads(first.detail)["updated"] == [
        {"item_id": item_id, "field": "custitem_ba_backorder", "value": True}]
    assert again.ok and json.loads(again.detail)["unchanged"] == [item_id]
    assert account.get("state/item_fields")["item_fields"] == [
        {"item_id": item_id, "field": "custitem_ba_backorder", "value": True}]
    conn.write_backorder_status(listing, False)
    assert account.get("state/item_fields")["item_fields"][0]["value"] is False


def test_the_account_concurrency_limit_is_retried_not_refused(account: Admin, sleeps: list[float]) -> None:
    account.post("seed", {"count": 1})
    account.post("restlet", {"busy": 2})

    pages = list(connector(account, sleeps).fetch_stock(None))

    assert sum(len(p.records) for p in pages) == 1
    assert [c["status"] for c in restlet_calls(account)] == [400, 400, 200]
    assert len(sleeps) == 2


def test_a_deployment_that_is_not_there_and_a_bad_token_are_named(account: Admin, sleeps: list[float]) -> None:
    account.post("seed", {"count": 1})
    account.post("restlet", {"deploy": "2"})
    with pytest.raises(PermanentError, match="SSS_INVALID_SCRIPTLET_ID|404"):
        list(connector(account, sleeps).fetch_stock(None))
    account.post("restlet", {"deploy": "1"})
    account.post("config", {"token_secret": "rotated"})
    with pytest.raises(AuthError):
        list(connector(account, sleeps).fetch_stock(None))
    with pytest.raises(ValueError, match="restlet_url"):
        connector(account, sleeps, restlet_url="https://example.com/no-script")


def test_user_event_posts_are_verified_parsed_and_tampered_ones_refused(account: Admin, sleeps: list[float],
                                                                         webhook_receiver: WebhookReceiver) -> None:
    account.post("seed", {"count": 2})
    account.post("restlet", {"address": webhook_receiver.url, "secret": SECRET})

    account.post("adjust", {"sku": "SKU-000001", "location_id": 1, "delta": 4})

    [delivery] = webhook_receiver.received
    conn = connector(account, sleeps)
    conn.verify_webhook(delivery.headers, delivery.body)
    event = conn.parse_webhook(delivery.headers, delivery.body)
    assert event.kind == "inventory_update" and event.topic == "inventory.changed"
    assert event.dedupe_key.startswith("netsuite_restlet:inventoryadjustment:")
    assert {r.sku for r in event.stock} == {"SKU-000001"}
    assert event.stock[0].on_hand == account.item("SKU-000001")["locations"]["1"]["on_hand"]
    with pytest.raises(SignatureError):
        conn.verify_webhook(delivery.headers, delivery.body.replace(b'"on_hand"', b'"on_hand" ', 1))


def test_config_check_names_bad_webhook_overrides() -> None:
    assert store_problems("netsuite_restlet", {"options": {"webhooks": {"encoding": "rot13"}}})
    assert store_problems("netsuite_restlet", {"options": {}}) == []
