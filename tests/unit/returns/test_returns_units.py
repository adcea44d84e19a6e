"""Returns without a database: ``[returns]`` read and checked, the return's survey is csat's,
Loop's webhook verified and read, the state machine's moves, the empty-box check."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors import loop_returns
from connectors.errors import MalformedPayloadError, SignatureError
from domain.core.business_config import ConfigError, parse_config
from domain.core.returns_config import ReturnsConfig
from domain.csat import sources as csat_sources
from domain.csat import surveys as csat_surveys
from domain.journey.links import verify_csat_link
from domain.returns import csat_source, fraud, machine
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file() -> None:
    returns = parse_config(_example()).returns
    assert (returns.location, returns.label_account) == ("warehouse", "shipstation-main")
    assert (returns.window_s, returns.serial_returns, returns.serial_window_s) == (30 * 86400, 3, 60 * 86400)
    assert (returns.empty_box_grams, returns.stuck_after_s, returns.label_sweep_after_s) == (200, 3 * 86400, 6 * 3600)
    assert returns.empty_box_percent == 25 and dict(returns.item_grams)["FUT-FRM-OAK-FULL"] == 16000


def test_without_the_table_the_defaults_and_no_label() -> None:
    data = _example()
    del data["returns"]
    assert parse_config(data).returns == ReturnsConfig()


def test_every_mistake_is_named_by_its_key_path() -> None:
    data = _example()
    data["returns"].update({"location": "moon", "label_account": "flexport-freight", "window": "soon",
                            "serial_returns": 1, "colour": "red", "empty_box_grams": -1, "empty_box_percent": 100,
                            "item_grams": {"FUT-FRM-OAK-FULL": 0, "NO-SUCH-SKU": 10}})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("returns.location: unknown location 'moon'",
                     "returns.label_account: 'flexport-freight' is not a [[shipping.accounts]] key",
                     "returns.window: expected a duration", "returns.serial_returns: must be at least 2",
                     "returns.colour: unknown key", "returns.empty_box_grams: must be at least 0",
                     "returns.empty_box_percent: must be under 100", "returns.item_grams.FUT-FRM-OAK-FULL: must be "
                     "at least 1", "returns.item_grams.NO-SUCH-SKU: unknown SKU"):
        assert expected in problems, problems


def test_a_return_is_surveyed_by_csat_through_its_registered_source() -> None:
    assert csat_sources.SOURCES["return"] is csat_source.settled_returns
    config = parse_config(_example())
    assert "return" in config.csat.kinds and "ticket" in config.csat.kinds
    data = _example()
    data["returns"]["survey_valid_for"] = "30d"
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    assert "returns.survey_valid_for: unknown key" in raised.value.problems, "the return's own survey is retired"


def test_the_return_emails_score_links_are_the_csat_survey_link_with_a_score() -> None:
    class Survey:
        id = 41
        expires_at = datetime(2027, 1, 2, tzinfo=UTC)

    now = datetime(2026, 12, 3, tzinfo=UTC)
    url = csat_surveys.link("https://shop.example", "s" * 40, Survey())  # type: ignore[arg-type]
    links = csat_surveys.score_urls(url)
    assert sorted(links) == ["1", "2", "3", "4", "5"]
    assert links["3"].startswith("https://shop.example/csat/") and links["3"].endswith("?score=3")
    token = links["3"].split("/csat/")[1].split("?")[0]
    assert verify_csat_link("s" * 40, token, now) == 41


def _signed(body: bytes, secret: str = "k") -> dict[str, str]:
    return {"X-Loop-Signature": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()}


def test_loop_signature_is_checked_on_the_raw_body() -> None:
    body = b'{"topic":"return","id":1}'
    loop_returns.verify("k", _signed(body), body)
    for headers, secret in ((_signed(body, "other"), "k"), ({}, "k"), (_signed(body), None)):
        with pytest.raises(SignatureError):
            loop_returns.verify(secret, headers, body)
    with pytest.raises(SignatureError):
        loop_returns.verify("k", _signed(body), body + b" ")


def test_loop_return_read_into_lines_and_a_reason() -> None:
    body = json.dumps({"topic": "return", "trigger": "return.created", "id": 77, "state": "open",
                       "order_name": "#1001", "provider_order_id": 4501, "customer": "a@example.com",
                       "line_items": [{"sku": "A", "parent_return_reason": "Wrong Item"}, {"sku": "A"},
                                      {"sku": "B", "quantity": 2}, {"title": "no sku"}]}).encode()
    read = loop_returns.parse(body)
    assert (read.return_id, read.trigger, read.order_name, read.provider_order_id) == ("77", "return.created",
                                                                                       "1001", "4501")
    assert read.lines == {"A": 2, "B": 2} and read.reason == "wrong_item"
    with pytest.raises(MalformedPayloadError):
        loop_returns.parse(b'{"topic":"label","id":1}')
    with pytest.raises(MalformedPayloadError):
        loop_returns.parse(b"[]")


def test_the_state_machine_allows_only_its_moves() -> None:
    assert machine.MOVES["requested"] == ("approved", "review", "rejected", "cancelled")
    assert "settled" not in machine.MOVES["approved"], "a return is settled only once received"
    assert machine.MOVES["settled"] == () and "settled" not in machine.OPEN
    reachable = {"requested"}
    frontier = ["requested"]
    while frontier:
        for nxt in machine.MOVES[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(machine.MOVES)


def test_an_empty_box_by_weight_or_by_qc() -> None:
    config = ReturnsConfig(empty_box_grams=200)
    assert fraud.at_receipt(config, "restock", 9000) == []
    assert fraud.at_receipt(config, "restock", None) == []
    [light] = fraud.at_receipt(config, "restock", 150)
    assert light["check"] == "empty_box" and light["weight_g"] == 150
    assert fraud.at_receipt(config, "empty", 9000)[0]["check"] == "empty_box"
    assert fraud.at_receipt(ReturnsConfig(), "dispose", 1) == [], "weight not checked when no floor is set"


def test_an_empty_box_of_a_heavy_item_by_its_share_of_the_items_weight() -> None:
    """A futon frame's empty carton weighs kilograms, far over any floor in grams: the parcel is
    compared with what the items it should hold weigh."""
    config = ReturnsConfig(empty_box_grams=200, item_grams=(("FRAME", 16000), ("DUVET", 2500)), empty_box_percent=25)
    two_frames = [{"sku": "FRAME", "quantity": 2}]
    assert config.expected_grams(two_frames) == 32000
    assert config.expected_grams([*two_frames, {"sku": "UNWEIGHED", "quantity": 1}]) is None
    [carton] = fraud.at_receipt(config, "restock", 3100, config.expected_grams(two_frames))
    assert carton["check"] == "empty_box" and (carton["weight_g"], carton["expected_g"]) == (3100, 32000)
    assert "under 25% of the 32000 g" in carton["reason"]
    assert fraud.at_receipt(config, "restock", 8000, 32000) == [], "a quarter of the weight is enough"
    assert fraud.at_receipt(config, "restock", 3100, None) == [], "no weight known for the items: the floor only"
