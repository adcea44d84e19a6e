"""``[csat]`` in the business file: thresholds, schedule and rules read, mistakes reported by key path;
survey links signed for their own purpose."""
from __future__ import annotations

import tomllib
from datetime import UTC, datetime, time
from typing import Any

import pytest

from domain.core.business_config import ConfigError, ScorecardSchedule, parse_config
from domain.core.csat_config import DEFAULT_RULES
from domain.journey.links import BadLink, ExpiredLink, LinkClaim, sign, sign_csat_link, verify, verify_csat_link
from tests.conftest import REPO_ROOT

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file() -> None:
    csat = parse_config(_example()).csat
    assert (csat.negative_at_most, csat.link_lifetime_s, csat.report_schedule) == (
        2, 30 * 86400, ScorecardSchedule("weekly", 0, time(8, 0)))
    assert [(r.action, r.kinds, r.queue) for r in csat.rules] == [("reopen", ("case",), "cx"), ("follow_up", (), "cx")]
    assert csat.rules_from_file


def test_without_the_table_the_defaults_apply() -> None:
    data = _example()
    del data["csat"]
    csat = parse_config(data).csat
    assert csat.rules == DEFAULT_RULES and not csat.rules_from_file and csat.kinds == ("backorder", "case")


def test_mistakes_are_reported_by_key_path() -> None:
    data = _example()
    data["csat"].update({"negative_at_most": 5, "report_schedule": "daily", "colour": "red"})
    data["csat"]["rules"][0]["action"] = "refund"
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    text = "\n".join(raised.value.problems)
    for path in ("csat.negative_at_most", "csat.report_schedule", "csat.rules[0].action", "csat"):
        assert path in text


def test_a_survey_link_is_only_a_survey_link() -> None:
    secret = "s" * 40
    token = sign_csat_link(secret, 12, int(NOW.timestamp()) + 60)
    assert verify_csat_link(secret, token, NOW) == 12
    with pytest.raises(ExpiredLink):
        verify_csat_link(secret, token, datetime(2026, 11, 26, tzinfo=UTC))
    with pytest.raises(BadLink):
        verify_csat_link("t" * 40, token, NOW)
    with pytest.raises(BadLink):  # an offer link never answers a survey, nor the other way round
        verify_csat_link(secret, sign(secret, LinkClaim(12, "wait", int(NOW.timestamp()) + 60)), NOW)
    with pytest.raises(BadLink):
        verify(secret, token, NOW)
