"""`config check` warns when no route hears an event the SKUs will raise."""
from __future__ import annotations

import tomllib
from typing import Any

from domain.core.business_config import parse_config
from domain.core.config_warnings import route_warnings

BASE = """
[business]
name = "S"
[[locations]]
key = "w"
[[stores]]
key = "shop"
platform = "shopify"
base_url = "https://s.example"
read_only = true
[[skus]]
code = "A"
[[skus]]
code = "B"
allow_backorder = false
threshold = 3
"""


def _warnings(routes: list[str]) -> list[str]:
    data: dict[str, Any] = tomllib.loads(BASE)
    data["notifications"] = {"routes": [{"event": e, "emails": ["ops@example.com"]} for e in routes]}
    return route_warnings(parse_config(data))


def test_only_stock_out_routed_misses_the_backorder_switch_and_low_stock() -> None:
    warnings = _warnings(["stock.out"])
    assert len(warnings) == 2
    assert "1 SKU accept backorders" in warnings[0] and "inventory_policy=continue" in warnings[0]
    assert "backorders=notify" in warnings[0] and "no route names stock.backorder" in warnings[0]
    assert "have a threshold (e.g. B)" in warnings[1]


def test_every_raised_event_routed_warns_of_nothing() -> None:
    assert _warnings(["stock.out", "stock.backorder", "stock.low"]) == []


def test_no_routes_at_all_is_one_warning() -> None:
    assert _warnings([]) == ["notifications.routes: none; alerts are stored (and shown by `backorders status`) "
                             "but nobody is told"]


def test_a_live_store_needs_push_failures_routed() -> None:
    data: dict[str, Any] = tomllib.loads(BASE.replace("read_only = true", "read_only = false"))
    data["notifications"] = {"routes": [{"event": e, "emails": ["o@example.com"]}
                                        for e in ("stock.out", "stock.backorder", "stock.low")]}
    assert route_warnings(parse_config(data)) == [
        "notifications.routes: stock is written to shop, and a write that fails for good raises "
        "channel.push_failed, but no route names it"]
