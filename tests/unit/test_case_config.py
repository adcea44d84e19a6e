"""``[cases]`` in the business file: routes and playbooks read, every wrong name reported by key path."""
from __future__ import annotations

import tomllib
from typing import Any

import pytest

from domain.core.business_config import ConfigError, parse_config
from domain.core.case_config import DEFAULT_PLAYBOOKS
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file_routes_and_playbooks() -> None:
    cases = parse_config(_example()).cases
    assert [(r.kind, r.tier, r.category, r.channel, r.queue, r.sla_s) for r in cases.routes][:2] == [
        ("backorder", "high_value", None, None, "vip-care", 4 * 3600),
        ("backorder", None, "futon-mattresses", "woo-outlet", "outlet-care", 48 * 3600)]
    assert cases.playbooks["fraud_hold"][0].startswith("Review the fraud signals")
    assert cases.playbooks["chargeback"] == DEFAULT_PLAYBOOKS["chargeback"]
    assert set(cases.playbooks) == set(DEFAULT_PLAYBOOKS)


def test_every_wrong_name_is_reported_by_its_key_path() -> None:
    data = _example()
    data["cases"]["routes"][0].update({"kind": "lost_parcel", "tier": "gold", "priority": "asap", "sla": "soon"})
    data["cases"]["routes"][1].update({"category": "futons", "channel": "amazon", "colour": "red"})
    del data["cases"]["routes"][2]["queue"]
    data["cases"]["playbooks"] = {"lost_parcel": ["x"], "fraud_hold": []}
    data["notifications"]["routes"][0]["queue"] = "vip-care"  # stock.backorder is not a case event
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("cases.routes[0].kind: unknown kind 'lost_parcel'", "cases.routes[0].tier: unknown tier 'gold'",
                     "cases.routes[0].priority: expected one of urgent, high, normal, low, got 'asap'",
                     "cases.routes[0].sla: expected a duration", "cases.routes[1].category: unknown category 'futons'",
                     "cases.routes[1].channel: unknown channel 'amazon'", "cases.routes[1].colour: unknown key",
                     "cases.routes[2].queue: missing", "cases.playbooks.lost_parcel: unknown kind",
                     "cases.playbooks.fraud_hold: expected a non-empty list",
                     "notifications.routes[0].queue: only case events"):
        assert expected in problems, f"{expected!r} not in:\n{problems}"
