"""QuickBooks Online connector against its stand-in, over real HTTP: rotating refresh tokens kept in a
vault, the full read and the CDC increment, webhooks in both formats (forged ones refused), purchase
orders once under retries, and the throttle's 429."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connectors.errors import AuthError, OutcomeUnknownError, PermanentError, SignatureError, TransientError
from connectors.quickbooks import QuickBooksConnector
from connectors.registry import build_connector
from connectors.token_rotation import MemoryVault, Sealer
from connectors.types import ConnectorConfig, PurchaseOrderLineRequest, PurchaseOrderRequest
from sandbox.quickbooks import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin


@pytest.fixture
def realm(admin_for: Callable[[str, str], Admin]) -> Admin:
    admin = admin_for("quickbooks", f"{uuid.uuid4().int % 10**15}")
    admin.post("seed", {"vendors": [{"key": "kyoto-frames", "name": "Kyoto Frame Works"}],
                        "items": [{"sku": "FUT-OAK", "qty": 5, "reorder_point": 2}, {"sku": "FUT-ASH", "qty": 1},
                                  {"sku": "FUT-WAL", "qty": 0}, {"sku": "DELIVERY", "type": "Service"}]})
    return admin


def connector(admin: Admin, vault: MemoryVault, sleeps: list[float] | None = None, refresh_token: str | None = None,
              **options: Any) -> QuickBooksConnector:
    config = ConnectorConfig(
        store_key="qbo-erp", base_url=admin.root, webhook_secret=DEFAULTS["verifier_token"], timeout_s=5.0,
        credentials={"client_id": DEFAULTS["client_id"], "client_secret": DEFAULTS["client_secret"],
                     "refresh_token": refresh_token or DEFAULTS["refresh_token"]},
        options={"realm_id": admin.instance, "token_url": f"{admin.root}/oauth2/v1/tokens/bearer", "page_size": 2,
                 **options}, token_vault=vault)
    built = build_connector("quickbooks", config, sleep=(sleeps if sleeps is not None else []).append)
    assert isinstance(built, QuickBooksConnector)
    return built


def figures(pages: list[Any]) -> dict[str, int | None]:
    return {r.sku: r.on_hand for page in pages for r in (page.records if hasattr(page, "records") else page.stock)}


def signed(body: bytes, token: str = DEFAULTS["verifier_token"]) -> dict[str, str]:
    return {"intuit-signature": base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()}


def test_full_read_pages_the_inventory_items_and_cdc_reads_only_what_changed(realm: Admin) -> None:
    qbo = connector(realm, MemoryVault())
    realm.post("clock", {"advance_s": 5})  # the seeding's second is behind the walk
    pages = list(qbo.fetch_stock(None))

    assert figures(pages) == {"FUT-OAK": 5, "FUT-ASH": 1, "FUT-WAL": 0}, "services are not stock"
    assert [r.reorder_point for r in pages[0].records if r.sku == "FUT-OAK"] == [2]
    assert {r.location_external_id for p in pages for r in p.records} == {"default"}
    asked = [e["query"]["query"] for e in realm.requests_log("GET", "/query")]
    assert asked[0].endswith("STARTPOSITION 1 MAXRESULTS 2") and asked[1].endswith("STARTPOSITION 3 MAXRESULTS 2")
    cursor = pages[-1].cursor
    assert cursor and all(p.cursor is None for p in pages[:-1]), "only the finished walk moves the cursor"

    realm.post("clock", {"advance_s": 5})
    realm.post("set_stock", {"sku": "FUT-ASH", "quantity": 7, "notify": False})
    realm.post("clock", {"advance_s": 1})
    [page] = list(qbo.fetch_stock(cursor))
    assert figures([page]) == {"FUT-ASH": 7}
    [cdc] = realm.requests_log("GET", "/cdc")
    assert cdc["query"]["entities"] == "Item" and cdc["query"]["changedSince"] == cursor
    assert page.cursor and page.cursor > cursor

    realm.post("clock", {"advance_s": 5})
    realm.post("delete_item", {"sku": "FUT-WAL"})
    realm.post("clock", {"advance_s": 1})
    [page] = list(qbo.fetch_stock(page.cursor))
    assert figures([page]) == {}, "a deleted item brings no figure"


def test_a_cursor_older_than_cdc_keeps_reads_everything_again(realm: Admin) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
    pages = list(connector(realm, MemoryVault()).fetch_stock(old))

    assert figures(pages) == {"FUT-OAK": 5, "FUT-ASH": 1, "FUT-WAL": 0}
    assert realm.requests_log("GET", "/cdc") == []


def test_the_rotated_refresh_token_is_the_one_a_new_connector_uses(realm: Admin) -> None:
    vault = MemoryVault()
    list(connector(realm, vault).fetch_stock(None))
    [first] = realm.get("state/token_requests")["token_requests"]
    assert first["refresh_token"] == DEFAULTS["refresh_token"] and first["accepted"]
    [rotated] = realm.get("state/refresh_tokens")["refresh_tokens"]
    assert rotated != DEFAULTS["refresh_token"], "the stand-in spent the first token"
    [(key, sealed)] = vault.rows.items()
    assert rotated not in sealed and DEFAULTS["refresh_token"] not in sealed, "the vault holds it sealed"
    grant = Sealer(DEFAULTS["client_secret"]).open(sealed)
    assert grant is not None and grant.refresh_token == rotated
    vault.rows[key] = Sealer(DEFAULTS["client_secret"]).seal(replace(grant, expires_at=0.0))  # an hour later

    restarted = connector(realm, vault)  # a new process: nothing in memory but the vault
    list(restarted.fetch_stock(None))
    asked = realm.get("state/token_requests")["token_requests"]
    assert asked[1]["refresh_token"] == rotated and asked[1]["accepted"], "the newest token, not the credential"
    assert all(a["accepted"] for a in asked)
    assert "AB11" not in repr(restarted.token.kept)


def test_a_live_access_token_is_shared_a_401_renews_it_once_and_a_spent_refresh_token_is_refused(
        realm: Admin) -> None:
    vault = MemoryVault()
    list(connector(realm, vault).fetch_stock(None))
    list(connector(realm, vault).fetch_stock(None))
    assert len(realm.get("state/token_requests")["token_requests"]) == 1, "the next connector reuses the access token"

    realm.post("config", {"revoke_access_tokens": True})  # revoked at QuickBooks: the API answers 401
    assert figures(list(connector(realm, vault).fetch_stock(None)))["FUT-OAK"] == 5
    asked = realm.get("state/token_requests")["token_requests"]
    assert len(asked) == 2 and asked[1]["accepted"] and asked[1]["refresh_token"] != DEFAULTS["refresh_token"]

    with pytest.raises(AuthError, match="invalid_grant"):
        list(connector(realm, MemoryVault()).fetch_stock(None))  # the credential's token was spent long ago


def test_a_new_credential_from_connecting_again_replaces_the_stored_chain(realm: Admin) -> None:
    vault = MemoryVault()
    list(connector(realm, vault).fetch_stock(None))
    fresh = realm.post("connect")["refresh_token"]  # the customer connected the app again

    list(connector(realm, vault, refresh_token=fresh).fetch_stock(None))
    asked = realm.get("state/token_requests")["token_requests"]
    assert asked[-1]["refresh_token"] == fresh and asked[-1]["accepted"]


def test_a_purchase_order_is_made_once_under_retries_and_repeats(realm: Admin) -> None:
    po = PurchaseOrderRequest(number="PO-1042", vendor_ref="kyoto-frames", expected_date="2027-01-10", lines=[
        PurchaseOrderLineRequest(sku="FUT-OAK", quantity=6, unit_cost_cents=31000),
        PurchaseOrderLineRequest(sku="FUT-ASH", quantity=2, unit_cost_cents=12550)])
    realm.post("faults", {"path_contains": "/purchaseorder", "status": 503, "count": 1, "after_apply": True})
    vault = MemoryVault()
    qbo = connector(realm, vault)
    made = qbo.create_purchase_order(po)

    [order] = realm.purchase_orders()
    assert made.created and made.external_id == order["Id"] and order["DocNumber"] == "PO-1042"
    assert [(ln["ItemBasedExpenseLineDetail"]["Qty"], ln["Amount"]) for ln in order["Line"]] == [(6, 1860.0), (2, 251.0)]
    posts = realm.requests_log("POST", "/purchaseorder")
    assert len(posts) == 2 and posts[0]["query"]["requestid"] == posts[1]["query"]["requestid"], \
        "the retry carries the same requestid and QuickBooks answers the first order again"
    again = connector(realm, vault).create_purchase_order(po)
    assert not again.created and again.external_id == order["Id"] and len(realm.purchase_orders()) == 1


def test_a_purchase_order_naming_what_quickbooks_lacks_is_refused_before_anything_is_sent(realm: Admin) -> None:
    po = PurchaseOrderRequest(number="PO-1", vendor_ref="nobody", lines=[
        PurchaseOrderLineRequest(sku="FUT-NONE", quantity=1, unit_cost_cents=100)])
    with pytest.raises(PermanentError, match="FUT-NONE.*vendor nobody"):
        connector(realm, MemoryVault()).create_purchase_order(po)
    assert realm.requests_log("POST", "/purchaseorder") == []


@pytest.mark.parametrize("fmt", ["classic", "cloudevents"])
def test_webhooks_in_either_format_are_accepted_once_and_read_the_named_item(
        realm: Admin, webhook_receiver: Any, fmt: str) -> None:
    realm.post("config", {"webhook_format": fmt})
    realm.post("webhooks", {"address": webhook_receiver.url})
    realm.post("set_stock", {"sku": "FUT-OAK", "quantity": 9})
    [delivery] = webhook_receiver.received
    qbo = connector(realm, MemoryVault())

    qbo.verify_webhook(delivery.headers, delivery.body)
    event = qbo.parse_webhook(delivery.headers, delivery.body)
    assert event.kind == "sku_modified" and len(event.resource_ids) == 1 and not event.stock
    assert qbo.thin_webhooks
    assert qbo.parse_webhook(delivery.headers, delivery.body).dedupe_key == event.dedupe_key, "a redelivery is one event"
    assert figures([qbo.resolve_webhook(event)]) == {"FUT-OAK": 9}

    forged = delivery.body.replace(b"-00:00", b"+01:00")
    assert forged != delivery.body
    with pytest.raises(SignatureError):
        qbo.verify_webhook(delivery.headers, forged)
    with pytest.raises(SignatureError):
        qbo.verify_webhook(signed(delivery.body, "not-the-verifier"), delivery.body)


def test_another_realm_s_events_are_ignored(realm: Admin) -> None:
    body = json.dumps({"eventNotifications": [{"realmId": "999", "dataChangeEvent": {"entities": [
        {"name": "Item", "id": "3", "operation": "Update", "lastUpdated": "2026-01-01T00:00:00Z"}]}}]}).encode()
    event = connector(realm, MemoryVault()).parse_webhook(signed(body), body)
    assert event.kind == "other" and event.resource_ids == []


def test_the_throttle_s_429_is_honoured_with_the_sixty_seconds_intuit_asks(realm: Admin) -> None:
    sleeps: list[float] = []
    qbo = connector(realm, MemoryVault(), sleeps=sleeps, bucket_size=1000, leak_rate=1000)
    list(qbo.fetch_stock(None))  # a token and a walk
    realm.post("config", {"rate_limit": 0})
    with pytest.raises(TransientError, match="ThrottleExceeded"):
        list(qbo.fetch_stock(None))
    assert sleeps == [60.0, 60.0, 60.0], "three retries, each after the wait Intuit's limits page names"

    realm.post("config", {"rate_limit": 500})
    realm.post("faults", {"path_contains": "/query", "status": 429, "count": 1})
    assert figures(list(qbo.fetch_stock(None)))["FUT-OAK"] == 5


def test_a_timeout_after_sending_a_purchase_order_is_an_unknown_outcome(realm: Admin) -> None:
    realm.post("faults", {"path_contains": "/purchaseorder", "delay_s": 2, "count": 1})
    po = PurchaseOrderRequest(number="PO-7", vendor_ref="kyoto-frames", lines=[
        PurchaseOrderLineRequest(sku="FUT-OAK", quantity=1, unit_cost_cents=100)])
    qbo = connector(realm, MemoryVault())
    qbo.config = ConnectorConfig(**{**qbo.config.__dict__, "timeout_s": 1.0})
    with pytest.raises(OutcomeUnknownError):
        qbo.create_purchase_order(po)


def test_webhooks_are_checked_without_the_api_credentials_which_are_refused_only_when_used(realm: Admin) -> None:
    config = ConnectorConfig(store_key="qbo-erp", base_url=realm.root, webhook_secret=DEFAULTS["verifier_token"],
                             options={"realm_id": realm.instance}, token_vault=MemoryVault())
    qbo = build_connector("quickbooks", config)  # the web process: no client id, secret or refresh token
    body = json.dumps([{"specversion": "1.0", "id": "e-1", "type": "qbo.item.updated.v1", "time": "2026-05-01T10:00:00Z",
                        "intuitentityid": "7", "intuitaccountid": realm.instance, "data": {}}]).encode()
    qbo.verify_webhook(signed(body), body)
    assert qbo.parse_webhook(signed(body), body).resource_ids == ["Item:7"]
    with pytest.raises(AuthError, match="client_id, client_secret and refresh_token"):
        list(qbo.fetch_stock(None))
    assert realm.get("state/token_requests")["token_requests"] == []


def test_a_po_number_longer_than_doc_number_holds_is_found_again_by_its_first_21_characters(realm: Admin) -> None:
    vault = MemoryVault()
    po = PurchaseOrderRequest(number="PO-2026-12-03-KYOTO-FRAMES-0001", vendor_ref="Kyoto Frame Works", lines=[
        PurchaseOrderLineRequest(sku="FUT-WAL", quantity=3, unit_cost_cents=39000)])
    first = connector(realm, vault).create_purchase_order(po)
    again = connector(realm, vault).create_purchase_order(po)

    [order] = realm.purchase_orders()
    assert order["DocNumber"] == po.number[:21] and order["VendorRef"]["name"] == "Kyoto Frame Works"
    assert first.created and not again.created and again.external_id == first.external_id


def test_a_kept_access_token_is_used_without_asking_the_vault_again(realm: Admin) -> None:
    class Counting(MemoryVault):
        peeks = 0

        def peek(self, key: str) -> str | None:
            Counting.peeks += 1
            return super().peek(key)

    qbo = connector(realm, Counting())
    list(qbo.fetch_stock(None))  # two pages and a token
    assert Counting.peeks == 1, "the vault is read once, when nothing is kept yet"


def test_a_stored_token_the_company_no_longer_knows_falls_back_to_the_credential_once(realm: Admin) -> None:
    vault = MemoryVault()
    list(connector(realm, vault).fetch_stock(None))
    realm.post("connect", {"refresh_token": DEFAULTS["refresh_token"]})  # a reset company: only the first is good
    [(key, sealed)] = vault.rows.items()
    sealer = Sealer(DEFAULTS["client_secret"])
    vault.rows[key] = sealer.seal(replace(sealer.open(sealed), expires_at=0.0))  # type: ignore[arg-type]

    list(connector(realm, vault).fetch_stock(None))
    asked = realm.get("state/token_requests")["token_requests"]
    assert [(a["refresh_token"] == DEFAULTS["refresh_token"], a["accepted"]) for a in asked] == [
        (True, True), (False, False), (True, True)], "the stored token refused, the credential taken once"
