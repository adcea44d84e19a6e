"""Returns without a database: ``[returns]`` read and checked, the survey link signed and checked,
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
from domain.returns import fraud, machine, survey
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file() -> None:
    returns = parse_config(_example()).returns
    assert (returns.location, returns.label_account) == ("warehouse", "shipstation-main")
    assert (returns.window_s, returns.serial_returns, returns.serial_window_s) == (30 * 86400, 3, 60 * 86400)
    assert (returns.empty_box_grams, returns.stuck_after_s, returns.label_sweep_after_s) == (200, 3 * 86400, 6 * 3600)


def test_without_the_table_the_defaults_and_no_label() -> None:
    data = _example()
    del data["returns"]
    assert parse_config(data).returns == ReturnsConfig()


def test_every_mistake_is_named_by_its_key_path() -> None:
    data = _example()
    data["returns"].update({"location": "moon", "label_account": "flexport-freight", "window": "soon",
                            "serial_returns": 1, "colour": "red", "empty_box_grams": -1})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("returns.location: unknown location 'moon'",
                     "returns.label_account: 'flexport-freight' is not a [[shipping.accounts]] key",
                     "returns.window: expected a duration", "returns.serial_returns: must be at least 2",
                     "returns.colour: unknown key", "returns.empty_box_grams: must be at least 0"):
        assert expected in problems, problems


def test_a_survey_link_names_its_return_and_score_and_nothing_else_works() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    expires = int((now + timedelta(days=30)).timestamp())
    token = survey.sign("s" * 40, 12, 4, expires)
    assert survey.verify("s" * 40, token, now) == (12, 4)
    payload, mac = token.split(".")
    for bad in (f"{payload}.{mac[:-1]}A" if mac[-1] != "A" else f"{payload}.{mac[:-1]}B", token + "x", "nope",
                survey.sign("t" * 40, 12, 4, expires)):
        with pytest.raises(survey.BadSurveyLink):
            survey.verify("s" * 40, bad, now)
    with pytest.raises(survey.BadSurveyLink, match="expired"):
        survey.verify("s" * 40, token, now + timedelta(days=31))
    with pytest.raises(survey.BadSurveyLink, match="unknown score"):
        survey.verify("s" * 40, survey.sign("s" * 40, 12, 9, expires), now)
    links = survey.links("s" * 40, "https://shop.example/", 12, expires)
    assert sorted(links) == ["1", "2", "3", "4", "5"] and links["3"].startswith("https://shop.example/returns/survey/")


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
