"""The declared-stream base against the real local stand-ins (Shopify's and Lightspeed's), over HTTP.

The connector here is written the way ``docs/connectors.md`` says a new one is: a ``RestConnector``
subclass with an auth scheme and declared streams, no reading loop of its own.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from connectors.base import (
    BearerToken,
    HeaderToken,
    HighWater,
    LinkHeaderPaginator,
    PageCursor,
    RestConnector,
    Stream,
    VersionCursorPaginator,
    id_str,
    parse_timestamp,
    utc_iso,
)
from connectors.errors import PermanentError
from connectors.types import ConnectorConfig, StockPage
from sandbox.lightspeed import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN

Admin = Any  # tests/connectors/conftest.py::Admin

LINKS = LinkHeaderPaginator(allowed_params=("page_info", "limit"), carried_params=("limit",))


def order_row(raw: dict[str, Any]) -> dict[str, Any]:
    return {"id": id_str(raw["id"]), "updated_at": parse_timestamp(raw.get("updated_at"))}


ORDERS = Stream(path="orders.json", records="orders", map=order_row, paginator=LINKS, params={"status": "any"},
                page_size_param="limit", since_param="updated_at_min", cursor=HighWater("updated_at"))
LEVELS_BY_7 = Stream(path="inventory_levels.json", records="inventory_levels", paginator=LINKS,
                     page_size_param="limit", ids_per_request=7)


class MiniShop(RestConnector):
    """Just enough of a Shopify client to read two declared streams."""

    platform: ClassVar[str] = "minishop"
    api_prefix: ClassVar[str] = "/admin/api/2025-01"
    page_size = 2

    def build_auth(self) -> HeaderToken:
        return HeaderToken("X-Shopify-Access-Token", self.config.credentials["access_token"])


def minishop(config: ConnectorConfig) -> MiniShop:
    return MiniShop(config, sleep=lambda s: None)


def test_only_the_last_page_moves_a_high_water_cursor(shop: Admin, shop_config: ConnectorConfig) -> None:
    shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 50}]})
    for n in range(5):
        shop.post("clock", {"advance_s": 60})
        shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 1, "price": "10.00"}]})
    since = "2000-01-01T00:00:00+00:00"

    pages = list(minishop(shop_config).read(ORDERS, since))

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.cursor for p in pages[:-1]] == [since, since], "earlier pages carry the safe cursor"
    newest = max(r["updated_at"] for p in pages for r in p.records)
    assert pages[-1].cursor == utc_iso(newest)
    sent = [r["query"] for r in shop.requests_log("GET", "orders.json")]
    assert sent[0]["updated_at_min"] == since and sent[0]["limit"] == "2"
    assert all(set(q) <= {"page_info", "limit"} for q in sent[1:]), sent


def test_a_read_with_nothing_newer_keeps_the_cursor(shop: Admin, shop_config: ConnectorConfig) -> None:
    shop.post("seed", {"items": [{"sku": "FUTON-QUEEN", "available": 50}]})
    shop.post("create_order", {"lines": [{"sku": "FUTON-QUEEN", "quantity": 1, "price": "10.00"}]})
    conn = minishop(shop_config)
    cursor = list(conn.read(ORDERS, None))[-1].cursor
    assert cursor is not None
    shop.post("clock", {"advance_s": 3600})

    again = list(conn.read(ORDERS, cursor))

    assert [(len(p.records), p.cursor) for p in again] == [(1, cursor)], "the boundary second is re-read"


def test_id_lists_are_sent_in_chunks_of_the_declared_size(shop: Admin, shop_config: ConnectorConfig) -> None:
    shop.post("seed", {"count": 1})
    locations = shop.post("locations", {"count": 19})["location_ids"]
    assert len(locations) == 20

    pages = list(minishop(shop_config).read(LEVELS_BY_7, ids={"location_ids": locations}))

    sent = [q["location_ids"].split(",") for q in (r["query"] for r in shop.requests_log("GET", "inventory_levels"))
            if "location_ids" in q]
    assert [len(chunk) for chunk in sent] == [7, 7, 6]
    assert sum(sent, []) == locations, "chunks keep the given order and lose nothing"
    assert {str(level["location_id"]) for p in pages for level in p.records} <= set(locations)


def test_the_declared_number_is_what_the_platform_sees(shop: Admin, shop_config: ConnectorConfig) -> None:
    shop.post("seed", {"count": 1})
    locations = shop.post("locations", {"count": 50})["location_ids"]
    conn = minishop(shop_config)

    with pytest.raises(PermanentError, match="location_ids"):
        list(conn.read(replace(LEVELS_BY_7, ids_per_request=51), ids={"location_ids": locations}))
    list(conn.read(replace(LEVELS_BY_7, ids_per_request=50), ids={"location_ids": locations}))

    sizes = [len(r["query"]["location_ids"].split(",")) for r in shop.requests_log("GET", "inventory_levels")]
    assert sizes == [51, 50, 1]


def test_an_empty_id_list_reads_nothing(shop: Admin, shop_config: ConnectorConfig) -> None:
    assert list(minishop(shop_config).read(LEVELS_BY_7, ids={"location_ids": []})) == []
    assert shop.requests_log("GET", "inventory_levels") == []


class MiniRetail(RestConnector):
    """A Lightspeed X-Series client reading one version-cursor stream."""

    platform: ClassVar[str] = "miniretail"
    api_prefix: ClassVar[str] = "/api/2.0"
    page_size = 3

    def build_auth(self) -> BearerToken:
        return BearerToken(self.config.credentials["access_token"])


INVENTORY = Stream(path="inventory", records="data", paginator=VersionCursorPaginator("after"), params={"after": 0},
                   page_size_param="page_size", since_param="after",
                   cursor=PageCursor(VersionCursorPaginator.page_version), stop_on_empty_page=True, page=StockPage)


@pytest.fixture
def retail(admin_for: Callable[[str, str], Admin]) -> tuple[Admin, MiniRetail]:
    admin = admin_for("lightspeed", f"ls-{uuid.uuid4().hex[:8]}")
    config = ConnectorConfig(store_key="pos", base_url=admin.root, credentials={"access_token": DEFAULT_TOKEN},
                             webhook_secret=DEFAULT_CLIENT_SECRET, timeout_s=5.0)
    return admin, MiniRetail(config, sleep=lambda s: None)


def test_a_page_cursor_moves_with_every_page_and_an_empty_page_ends(retail: tuple[Admin, MiniRetail]) -> None:
    admin, conn = retail
    admin.post("seed", {"count": 7})

    pages = list(conn.read(INVENTORY))

    assert [len(p.records) for p in pages] == [3, 3, 1] and all(isinstance(p, StockPage) for p in pages)
    cursors = [int(p.cursor) for p in pages]
    assert cursors == sorted(set(cursors)), "every page carries its own, higher, version"
    assert cursors[-1] == max(int(r["version"]) for p in pages for r in p.records)
    calls = admin.get("requests", path_contains="/2.0/inventory")["requests"]
    assert [c["query"]["after"] for c in calls] == ["0", *map(str, cursors)], "the empty page is read, not yielded"
    assert list(conn.read(INVENTORY, pages[-1].cursor)) == []
