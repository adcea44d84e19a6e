"""NetSuite connector against the NetSuite stand-in (real TBA checks, real SuiteQL), over real HTTP."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests

from connectors.base import Connector
from connectors.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentError,
    SignatureError,
    TransientError,
)
from connectors.netsuite import NetSuiteConnector
from connectors.registry import build_connector
from connectors.types import ConnectorConfig, ListingRef
from sandbox.netsuite import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin (conftest is not importable: no package here)


@pytest.fixture
def account(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("netsuite", f"{uuid.uuid4().int % 10**7}_SB1")


def suiteql_calls(account: Admin) -> list[dict[str, Any]]:
    return account.requests_log(path_contains="suiteql")


@pytest.fixture
def config(account: Admin) -> ConnectorConfig:
    realm = account.root.rsplit("/", 1)[1]
    return ConnectorConfig(store_key="futon-erp", base_url=account.root,
                           credentials={"account_id": realm, **DEFAULTS}, options={"page_size": 3}, timeout_s=5.0)


def connector(config: ConnectorConfig, sleeps: list[float]) -> NetSuiteConnector:
    built = build_connector("netsuite", config, sleep=sleeps.append)
    assert isinstance(built, NetSuiteConnector) and isinstance(built, Connector)
    return built


def test_full_fetch_pages_suiteql_by_next_link_with_per_location_rows(account: Admin, config: ConnectorConfig,
                                                                      sleeps: list[float]) -> None:
    seeded = account.post("seed", {"count": 3, "locations": 2, "items": [
        {"sku": "FUTON-QUEEN", "locations": {"1": {"on_hand": 5, "committed": 2}, "2": {"on_hand": 0}}}]})
    queen = seeded["items"][0]

    pages = list(connector(config, sleeps).fetch_stock(None))

    assert [len(p.records) for p in pages] == [3, 3, 2], "4 items x 2 locations, limit 3"
    assert [p.cursor for p in pages[:-1]] == [None, None], "only the finished walk moves the cursor"
    assert pages[-1].cursor == queen["lastmodifieddate"]
    rows = {(r.sku, r.location_external_id): r for p in pages for r in p.records}
    assert len(rows) == 8
    q1 = rows[("FUTON-QUEEN", "1")]
    assert (q1.on_hand, q1.available, q1.committed) == (5, 3, 2)
    assert q1.external_id == queen["item_id"] and q1.updated_at is not None
    assert rows[("FUTON-QUEEN", "2")].available == 0
    calls = suiteql_calls(account)
    assert [c["query"] for c in calls] == [{"limit": "3", "offset": str(n)} for n in (0, 3, 6)]
    assert all(c["status"] == 200 and "inventoryitemlocations" in c["q"] for c in calls)


def test_incremental_fetch_filters_on_lastmodifieddate(account: Admin, config: ConnectorConfig,
                                                       sleeps: list[float]) -> None:
    account.post("seed", {"count": 6})
    account.post("clock", {"advance_s": 60})
    account.post("set_stock", {"sku": "SKU-000000", "on_hand": 1})
    conn = connector(config, sleeps)
    cursor = [p.cursor for p in conn.fetch_stock(None)][-1]
    assert cursor == account.item("SKU-000000")["lastmodifieddate"]
    account.post("clock", {"advance_s": 60})
    changed = {f"SKU-{i:06d}": i for i in (2, 3, 4, 5)}
    for sku, qty in changed.items():
        account.post("set_stock", {"sku": sku, "on_hand": qty})

    pages = list(conn.fetch_stock(cursor))

    assert [len(p.records) for p in pages] == [3, 2]
    assert pages[0].cursor == cursor and pages[-1].cursor > cursor
    # ">=": the item changed in the cursor's own second is re-read, never skipped.
    assert {r.sku: r.available for p in pages for r in p.records} == {"SKU-000000": 1, **changed}
    assert "TO_TIMESTAMP('" in suiteql_calls(account)[-1]["q"]
    # From the newest cursor, only what changed in that last second comes back (a subset of the
    # four, all four when the sandbox stamped them within one second).
    again = {r.sku for p in conn.fetch_stock(pages[-1].cursor) for r in p.records}
    assert again and again <= set(changed)


def test_429_retry_after_is_honoured(account: Admin, config: ConnectorConfig, sleeps: list[float]) -> None:
    account.post("seed", {"count": 2})
    account.post("faults", {"status": 429, "count": 1, "retry_after": "4"})

    pages = list(connector(config, sleeps).fetch_stock(None))

    assert sum(len(p.records) for p in pages) == 2
    assert sleeps == [4.0]


def test_5xx_is_retried_then_raises_transient_beyond_the_budget(account: Admin, config: ConnectorConfig,
                                                               sleeps: list[float]) -> None:
    account.post("seed", {"count": 2})
    account.post("faults", {"status": 503, "count": 2})
    assert sum(len(p.records) for p in connector(config, sleeps).fetch_stock(None)) == 2
    assert len(sleeps) == 2

    account.post("faults", {"status": 500, "count": 10})
    with pytest.raises(TransientError) as caught:
        list(connector(config, []).fetch_stock(None))
    assert caught.value.status_code == 500 and "UNEXPECTED_ERROR" in str(caught.value)


def test_wrong_token_secret_fails_the_signature_check(account: Admin, config: ConnectorConfig,
                                                      sleeps: list[float]) -> None:
    account.post("seed", {"count": 1})
    bad = replace(config, credentials={**config.credentials, "token_secret": "not-the-secret"})

    with pytest.raises(AuthError) as caught:
        list(connector(bad, sleeps).fetch_stock(None))

    assert caught.value.status_code == 401
    assert "INVALID_LOGIN: Invalid login attempt." in str(caught.value)
    assert sleeps == []
    [call] = suiteql_calls(account)
    assert call["auth_failure"] == "signature does not match"


def test_sandbox_checks_realm_method_and_nonce_replay(account: Admin, config: ConnectorConfig,
                                                      sleeps: list[float]) -> None:
    account.post("seed", {"count": 1})
    with pytest.raises(AuthError):
        list(connector(replace(config, credentials={**config.credentials, "account_id": "999"}), sleeps)
             .fetch_stock(None))
    conn = connector(config, sleeps)
    header = conn.session.auth.authorization_header(  # type: ignore[union-attr]
        "POST", f"{account.root}/services/rest/query/v1/suiteql?limit=3&offset=0")
    url = f"{account.root}/services/rest/query/v1/suiteql?limit=3&offset=0"
    send = {"json": {"q": "SELECT id FROM item"}, "headers": {"Authorization": header, "Prefer": "transient"}}
    assert requests.post(url, timeout=5, **send).status_code == 200
    replay = requests.post(url, timeout=5, **send)
    assert replay.status_code == 401 and replay.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    reasons = [c.get("auth_failure") for c in suiteql_calls(account)]
    assert reasons == ["realm '999' is not this account", None, "nonce already used"]


def test_platform_error_detail_surfaces_in_permanent_errors(account: Admin, config: ConnectorConfig,
                                                            sleeps: list[float]) -> None:
    conn = connector(config, sleeps)
    with pytest.raises(PermanentError) as caught:
        list(conn.suiteql("SELECT nosuchcolumn FROM item"))
    assert caught.value.status_code == 400 and "INVALID_PARAMETER: Invalid search query" in str(caught.value)


def test_orders_write_back_and_webhooks_are_refused_on_purpose(config: ConnectorConfig,
                                                              sleeps: list[float]) -> None:
    conn = connector(config, sleeps)
    assert list(conn.fetch_orders(None)) == []
    with pytest.raises(PermanentError, match="read-only"):
        conn.push_availability(ListingRef(sku="FUTON-QUEEN", external_id="1000"), 3, False)
    with pytest.raises(SignatureError, match="no native webhooks"):
        conn.verify_webhook({}, b"{}")
    with pytest.raises(MalformedPayloadError):
        conn.parse_webhook({}, b"{}")


def test_option_values_and_cursors_cannot_inject_suiteql(config: ConnectorConfig) -> None:
    with pytest.raises(ValueError):
        NetSuiteConnector(replace(config, options={"location_ids": ["1) OR (1=1"]}))
    with pytest.raises(ValueError):
        NetSuiteConnector(config).stock_query("2024-01-01' OR '1'='1")
