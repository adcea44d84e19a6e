"""``[support]`` in the business file: the example's ladder and routes read, every wrong name reported."""
from __future__ import annotations

import tomllib
from typing import Any

import pytest

from domain.core.business_config import ConfigError, parse_config
from domain.core.support_config import SupportConfig
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file() -> None:
    support = parse_config(_example()).support
    assert (support.legal_queue, support.human_queue, support.vip_queue, support.tier2_queue) == (
        "legal", "support-triage", "vip-care", "support-tier2")
    assert support.vip_clv_cents == 150_000 and support.clv_tiers == (("vip", 150_000), ("loyal", 40_000))
    assert [(r.name, r.queue) for r in support.routes][:2] == [("damage and mix-ups", "fulfilment"),
                                                                ("before it ships", "order-desk")]
    assert support.routes[1].priorities == ("urgent", "high") and support.routes[1].auto_answer is False
    assert support.routes[2].languages == ("es",) and support.routes[2].escalate is False


def test_without_the_table_the_ladder_defaults() -> None:
    data = _example()
    del data["support"]
    assert parse_config(data).support == SupportConfig()


def test_every_wrong_name_is_reported_by_its_key_path() -> None:
    data = _example()
    data["support"].update({"confidence_floor": 1.5, "vip_clv": "lots", "colour": "red", "default_language": "eng"})
    data["support"]["clv_tiers"]["standard"] = "10.00"
    data["support"]["routes"][0].update({"intent": ["damaged", "wrong_item"], "channel": "fax"})
    data["support"]["routes"][1].update({"priority": "asap", "clv_tier": "gold", "language": "spanish"})
    del data["support"]["routes"][2]["queue"]
    data["support"]["intent_weights"] = {"wismo": 3}
    data["support"]["priority"] = {"urgent_at": 10, "high_at": 50}
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("support.confidence_floor: expected a number from 0.0 to 1.0, got 1.5",
                     "support.vip_clv: expected an amount", "support.colour: unknown key",
                     "support.default_language: expected a two-letter language code",
                     "support.clv_tiers.standard:", "support.routes[0].intent: unknown intent 'damaged'",
                     "support.routes[0].channel: unknown channel 'fax'",
                     "support.routes[1].priority: unknown priority 'asap'",
                     "support.routes[1].clv_tier: unknown CLV tier 'gold'",
                     "support.routes[1].language: expected a two-letter language code",
                     "support.routes[2].queue: missing", "support.intent_weights.wismo: unknown intent",
                     "support.priority: expected urgent_at ≥ high_at ≥ normal_at"):
        assert expected in problems, f"{expected!r} not in:\n{problems}"


def test_config_check_names_a_wrong_support_route(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from workers.cli import main

    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('intent = ["damaged_defective", "wrong_item"]', 'intent = ["damaged", "wrong_item"]', 1))
    result = CliRunner().invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "support.routes[0].intent: unknown intent 'damaged'" in result.output
    assert CliRunner().invoke(main, ["config", "check", str(REPO_ROOT / "examples" / "futon-store.toml")]).exit_code == 0
