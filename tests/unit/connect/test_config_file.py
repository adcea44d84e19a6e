"""Discovery's edits to the business file: only additions, every hand edit and comment kept."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from domain.core import config_file
from domain.core.business_config import ConfigError, parse_config
from domain.core.config_file import MergeSummary, NewLocation, NewSku

HAND_WRITTEN = """# Our shop — thresholds tuned by hand, keep them.
[business]
name = "Shop"
timezone = "Europe/Paris"

[[locations]]
key = "warehouse"   # the big one
name = "Warehouse"

[[stores]]
key = "shop"
platform = "shopify"
base_url = "https://shop.example"
credentials = { access_token = "SHOP_TOKEN" }
read_only = false
locations = { "1" = "warehouse" }

[[skus]]
code = "A-1"
title = "Kept title"
threshold = 7 # raised after the spring sale
allow_backorder = false
"""


def _merge(text: str, tmp_path: Path, locations: list[NewLocation], skus: list[NewSku]) -> tuple[str, MergeSummary]:
    path = tmp_path / "shop.toml"
    path.write_text(text)
    document = config_file.load(path)
    summary = MergeSummary()
    table = config_file.store_table(document, "shop")
    config_file.set_default(table, "read_only", True, summary)
    config_file.merge_locations(document, "shop", locations, summary)
    config_file.merge_skus(document, "shop", skus, 2, summary)
    config_file.save(path, document)
    return path.read_text(), summary


def test_a_merge_adds_only_what_is_missing_and_keeps_every_hand_edit(tmp_path: Path) -> None:
    text, summary = _merge(HAND_WRITTEN, tmp_path,
                           [NewLocation("1", "Main warehouse"), NewLocation("2", "Brooklyn Showroom"),
                            NewLocation("3", "Warehouse")],
                           [NewSku("A-1", "Platform title", "99.00", True), NewSku("B-2", "Bed", "12.5", None),
                            NewSku("C-3", "Cot", "free", False)])
    assert text.startswith(HAND_WRITTEN.split("[[skus]]")[0].split("[[stores]]")[0])
    assert 'threshold = 7 # raised after the spring sale' in text and 'key = "warehouse"   # the big one' in text
    data = tomllib.loads(text)
    assert data["stores"][0]["read_only"] is False  # set by hand: not overwritten
    assert data["stores"][0]["locations"] == {"1": "warehouse", "2": "brooklyn-showroom", "3": "warehouse-2"}
    assert [loc["timezone"] for loc in data["locations"][1:]] == ["Europe/Paris"] * 2
    skus = {s["code"]: s for s in data["skus"]}
    assert skus["A-1"] == {"code": "A-1", "title": "Kept title", "threshold": 7, "allow_backorder": False}
    assert skus["B-2"] == {"code": "B-2", "title": "Bed", "price": "12.50", "threshold": 2}
    assert skus["C-3"] == {"code": "C-3", "title": "Cot", "threshold": 2, "allow_backorder": False}
    assert summary.skus_added == 2 and summary.skus_kept == 1 and summary.locations_kept == 1
    assert summary.keys_set == []
    parse_config(data)  # still a valid configuration


def test_merging_the_same_catalogue_twice_changes_nothing(tmp_path: Path) -> None:
    locations, skus = [NewLocation("default", "the store")], [NewSku("X", "X", "1.00", False)]
    first, _ = _merge(HAND_WRITTEN.replace('read_only = false\n', ''), tmp_path, locations, skus)
    second, summary = _merge(first, tmp_path, locations, skus)
    assert first == second and summary.skus_added == 0 and summary.keys_set == []
    assert tomllib.loads(first)["stores"][0]["locations"]["default"] == "shop"
    assert tomllib.loads(first)["stores"][0]["read_only"] is True


def test_a_store_is_read_before_the_file_has_locations_or_skus(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text('[business]\nname = "S"\n\n[[stores]]\nkey = "s"\nplatform = "shopify"\n'
                    'base_url = "https://s.example"\ncredentials = { access_token = "T" }\n')
    document = config_file.load(path)
    assert config_file.read_store(document, "s").credentials == {"access_token": "T"}
    with pytest.raises(ConfigError, match="no store with key 'nope'"):
        config_file.read_store(document, "nope")
    path.write_text(path.read_text().replace('platform = "shopify"', 'platform = "shopify"\nread_only = "yes"'))
    with pytest.raises(ConfigError, match="read_only: expected true or false"):
        config_file.read_store(config_file.load(path), "s")
