"""``[shipping]`` in the business file: accounts and rules read, every wrong key reported by path."""
from __future__ import annotations

import tomllib
from typing import Any

import pytest

from domain.core.business_config import ConfigError, parse_config
from domain.core.shipping_config import DEFAULT_STUCK_AFTER_DAYS, TELL_KINDS
from tests.conftest import REPO_ROOT


def _example() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "examples" / "futon-store.toml").read_text())


def test_the_example_file_reads_its_accounts_and_rules() -> None:
    shipping = parse_config(_example()).shipping
    assert shipping.stuck_after_days == 4 and all(shipping.tells(kind) for kind in TELL_KINDS)
    ss, fx = shipping.accounts
    assert (ss.key, ss.provider, ss.poll_interval_s, ss.webhook_secret_env) == (
        "shipstation-main", "shipstation", 600, "SHIPSTATION_WEBHOOK_TOKEN")
    assert ss.credentials == {"api_key": "SHIPSTATION_API_KEY", "api_secret": "SHIPSTATION_API_SECRET",
                              "v2_api_key": "SHIPSTATION_V2_API_KEY"}
    assert (fx.provider, fx.base_url, fx.poll_interval_s) == ("flexport", "https://api.flexport.com", 1800)
    assert (ss.stuck_after_days, fx.stuck_after_days) == (None, 10)
    assert (shipping.stuck_days("shipstation-main"), shipping.stuck_days("flexport-freight"), shipping.stuck_days(None)) \
        == (4, 10, 4)
    assert shipping.account("flexport-freight") is fx and shipping.account("nope") is None


def test_left_out_it_defaults_to_no_accounts_and_every_notice_on() -> None:
    data = _example()
    del data["shipping"]
    del data["returns"]  # its label account is a shipping account
    shipping = parse_config(data).shipping
    assert shipping.accounts == () and shipping.stuck_after_days == DEFAULT_STUCK_AFTER_DAYS
    assert all(shipping.tells(kind) for kind in TELL_KINDS)


def test_one_switch_or_one_per_kind_tells_the_customer() -> None:
    data = _example()
    data["shipping"]["tell_customer"] = False
    assert not any(parse_config(data).shipping.tells(kind) for kind in TELL_KINDS)
    data["shipping"]["tell_customer"] = {"split": False}
    told = parse_config(data).shipping
    assert (told.tells("split"), told.tells("stuck"), told.tells("returned")) == (False, True, True)


def test_every_wrong_key_is_reported_by_its_path() -> None:
    data = _example()
    data["shipping"].update({"stuck_after_days": 0, "tell_customer": {"lost": True, "stuck": "yes"}, "colour": 1})
    data["shipping"]["accounts"][0].update({"provider": "easypost", "base_url": "ftp://x", "poll_interval": "soon"})
    data["shipping"]["accounts"][1].update({"key": "shipstation-main", "credentials": {"api_key": "lower-case"},
                                            "stuck_after_days": 0})
    with pytest.raises(ConfigError) as raised:
        parse_config(data)
    problems = "\n".join(raised.value.problems)
    for expected in ("shipping.stuck_after_days: must be at least 1", "shipping.tell_customer.lost: unknown key",
                     "shipping.tell_customer.stuck: expected true or false", "shipping.colour: unknown key",
                     "shipping.accounts[0].provider: unknown shipping provider 'easypost' (one of flexport, shipstation)",
                     "shipping.accounts[0].base_url: expected an http(s) URL",
                     "shipping.accounts[0].poll_interval: expected a duration",
                     "shipping.accounts[1].key: duplicate key 'shipstation-main'",
                     "shipping.accounts[1].credentials.api_key: expected an environment variable name",
                     "shipping.accounts[1].stuck_after_days: must be at least 1"):
        assert expected in problems, problems
