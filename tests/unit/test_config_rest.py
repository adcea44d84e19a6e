"""A ``rest`` store is checked with the rest of the file: each problem names its TOML key."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.core.business_config import ConfigError, load_config, parse_config
from workers.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "warehouse-app.toml"

HEAD = """
[business]
name = "Futon Loft"

[[locations]]
key = "warehouse"

[[stores]]
key = "futon-shop"
platform = "shopify"
base_url = "https://futon.myshopify.com"

[[stores]]
key = "wh"
platform = "rest"
base_url = "https://api.warehouse.example"
credentials = { token = "WH_TOKEN" }
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(HEAD + text))
    return caught.value.problems


def test_the_example_is_valid_and_keeps_its_description_in_the_options() -> None:
    config = load_config(EXAMPLE)
    [store] = config.stores
    assert store.platform == "rest" and store.options["stock"]["fields"]["sku"] == "sku"
    assert store.options["write"]["body"]["quantity"] == "{available}"


def test_bad_paths_unknown_pagination_and_missing_mappings_name_their_keys() -> None:
    found = problems("""
sells = false
[stores.options.auth]
scheme = "bearer"
credential = "api_key"
[stores.options.stock]
path = "https://elsewhere.example/v1/stock?all=1"
records = "data..items"
pagination = { style = "cursor" }
[stores.options.stock.fields]
external_id = "id"
location = "loc[x]"
colour = "colour"
""")
    assert found == [
        "stores[1].options.auth.credential: credential 'api_key' is not in this store's credentials (have: token)",
        "stores[1].options.stock.path: expected a path under base_url like \"v1/stock\" (no scheme, query, spaces "
        "or ..), got 'https://elsewhere.example/v1/stock?all=1'",
        "stores[1].options.stock.records: not a field path like \"product.sku\" or \"levels[0].qty\": 'data..items'",
        "stores[1].options.stock.pagination.style: unknown style 'cursor' (one of link_header, next_link, none, "
        "offset, page_number)",
        "stores[1].options.stock.fields.location: not a field path like \"product.sku\" or \"levels[0].qty\": 'loc[x]'",
        "stores[1].options.stock.fields.colour: unknown field (one of available, backorders_allowed, committed, "
        "external_id, inventory_item_id, location, on_hand, parent_external_id, reorder_point, sku, updated_at)",
        "stores[1].options.stock.fields.sku: missing: a stock record needs a mapping for sku",
        "stores[1].options.stock.fields.available: missing: map the quantity as available or on_hand (or both)",
    ]


def test_a_store_without_options_and_a_selling_store_without_a_write() -> None:
    assert problems("") == ["stores[1].options: missing: a rest store is described by its options table "
                            "(auth, stock, optionally orders, write, webhooks)"]
    assert problems("""
[stores.options.stock]
path = "v1/stock"
fields = { sku = "sku", available = "qty" }
""") == ["stores[1].options.write: missing: a selling store (sells = true) is written back to; describe the write, "
         "or set sells = false for a store that is only read"]


def test_write_cursor_webhook_and_type_problems() -> None:
    found = problems("""
[stores.options]
stok = 1
[stores.options.stock]
path = "v1/stock"
pagination = { style = "page_number", page_size = 0, cursor_param = "c" }
cursor = { field = "meta.changed", param = "since", format = "rfc822" }
[stores.options.stock.fields]
sku = "sku"
available = { path = "qty", type = "timestamp" }
updated_at = "changed_at"
[stores.options.write]
method = "DELETE"
path = "v1/items/{item}/stock"
body = { qty = "{available}", where = "{warehouse}" }
[stores.options.webhooks]
signature_header = "X-Sig"
encoding = "base32"
topics = { "stock.updated" = "stock" }
""")
    assert found == [
        "stores[1].options.stok: unknown key (expected one of auth, buffer_floor, max_retries, max_retry_after_s, "
        "orders, stock, webhooks, write)",
        "stores[1].options.stock.pagination.cursor_param: unknown key for style 'page_number' (expected page_param, "
        "page_size, size_param, total_pages_header)",
        "stores[1].options.stock.pagination.page_size: expected a whole number ≥ 1, got 0",
        "stores[1].options.stock.fields.available.type: 'timestamp' cannot fill available (use int)",
        "stores[1].options.stock.cursor.format: unknown format 'rfc822' (one of epoch_seconds, iso8601)",
        "stores[1].options.stock.cursor.field: 'meta.changed' differs from fields.updated_at 'changed_at': the "
        "cursor is the newest updated_at",
        "stores[1].options.write.method: unknown method 'DELETE' (one of PATCH, POST, PUT)",
        "stores[1].options.write.path: unknown placeholder {item} (one of available, backorder, external_id, "
        "inventory_item_id, location, parent_external_id, sku)",
        "stores[1].options.write.body.where: unknown placeholder {warehouse} (one of available, backorder, "
        "external_id, inventory_item_id, location, parent_external_id, sku)",
        "stores[1].webhook_secret_env: missing: options.webhooks needs the variable holding the signing secret",
        "stores[1].options.webhooks.encoding: unknown encoding 'base32' (one of base64, hex, secret)",
        "stores[1].options.webhooks.topics.stock.updated: unknown kind 'stock' (one of inventory_update, "
        "order_created, sku_modified, ping, other)",
        "stores[1].options.webhooks.topic_header: missing: topics need a topic_header or topic_field to read the topic",
    ]


def test_orders_need_lines_with_sku_and_quantity() -> None:
    found = problems("""
sells = false
[stores.options.stock]
path = "v1/stock"
fields = { sku = "sku", on_hand = "qty" }
[stores.options.orders]
path = "v1/orders"
records = "orders"
pagination = { style = "next_link" }
fields = { number = "ref" }
[stores.options.orders.lines]
fields = { sku = "sku" }
""")
    assert found == [
        "stores[1].options.orders.pagination.field: missing: the body field holding the next page's URL",
        "stores[1].options.orders.fields.external_id: missing: an order needs a mapping for external_id",
        "stores[1].options.orders.lines.records: missing (a field path such as \"lines\" or \"data.items\")",
        "stores[1].options.orders.lines.fields.quantity: missing: an order line needs a mapping for quantity",
    ]


def test_config_check_lists_the_rest_problems_and_fails(tmp_path: Path) -> None:
    broken = EXAMPLE.read_text().replace('style = "page_number"', 'style = "numbered"') \
        .replace('sku = "sku"\nlocation', 'location')
    path = tmp_path / "broken.toml"
    path.write_text(broken)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert "stores[0].options.stock.pagination.style: unknown style 'numbered'" in result.output
    assert "stores[0].options.stock.fields.sku: missing: a stock record needs a mapping for sku" in result.output
    assert "2 problem(s)" in result.output
