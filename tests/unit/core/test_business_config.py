from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.core.business_config import ConfigError, load_config, parse_config
from workers.cli import main

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "examples" / "futon-store.toml"

BROKEN = """
[business]
name = "Futon Loft"
timezone = "Mars/Olympus"

[[locations]]
key = "warehouse"
name = "Warehouse"

[[stores]]
key = "shop"
platform = "shopifx"
base_url = "ftp://shop"
poll_interval = "soon"
credentials = { access_token = "lower-case" }
locations = { "1" = "attic" }

[[vendors]]
key = "kyoto"
name = "Kyoto"
email = "not-an-email"
lead_time_days = -3

[[skus]]
code = "FUT-1"
vendor = "acme"
threshold = "three"
substitutes = ["FUT-9"]

[[skus]]
code = "FUT-1"
price = "12.345"
colour = "blue"

[policy]
reminder_after = "96h"
sla = "72h"
auto_cancel_action = "shrug"
quiet_hours = "9pm-8am"
"""


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert len(config.stores) >= 4 and len(config.locations) == 2 and len(config.vendors) == 3
    assert 25 <= len(config.skus) <= 35
    assert config.policy_for("woo-outlet").auto_cancel_action == "store_credit"
    assert config.policy_for("shopify-main").sla_s == 72 * 3600
    sku = next(s for s in config.skus if s.code == "FUT-FRM-OAK-FULL")
    assert sku.price_cents == 64900 and sku.vendor == "kyoto-frames"


def test_every_mistake_is_reported_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    expected = [
        "business.timezone: unknown time zone 'Mars/Olympus'",
        "stores[0].platform: unknown platform 'shopifx'",
        "stores[0].base_url: expected an http(s) URL",
        "stores[0].credentials.access_token: expected an environment variable name",
        "stores[0].locations.1: unknown location 'attic'",
        "stores[0].poll_interval: expected a duration",
        "vendors[0].email: not an email address",
        "vendors[0].lead_time_days: must be at least 0",
        "skus[0].vendor: unknown vendor 'acme'",
        "skus[0].threshold: expected a whole number",
        "skus[1].code: duplicate code 'FUT-1'",
        "skus[1].colour: unknown key",
        "skus[1].price: expected an amount",
        "skus[0].substitutes[0]: unknown SKU 'FUT-9'",
        "policy.auto_cancel_action: expected one of refund, store_credit",
        "policy.quiet_hours: expected HH:MM, got '9pm'",
        "policy.reminder_after: the reminder must come before the SLA deadline",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), f"missing {fragment!r} in {problems}"


def test_config_check_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["config", "check", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    assert "30 SKUs" in ok.output
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN)
    bad = runner.invoke(main, ["config", "check", str(broken)])
    assert bad.exit_code == 1
    assert "skus[0].vendor: unknown vendor 'acme'" in bad.output
    assert "problem(s)" in bad.output


def test_unparsable_and_missing_files_are_problems_not_tracebacks(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.toml"
    garbage.write_text("[stores\nkey=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(garbage)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_minimal_config_gets_ftc_defaults() -> None:
    config = parse_config({"business": {"name": "x"}, "locations": [{"key": "main", "name": "Main"}]})
    assert config.policy.consent_free_days == 30
    assert config.policy.sla_s == 72 * 3600 and config.policy.reminder_after_s == 24 * 3600
    assert config.policy.quiet_hours[0].hour == 21


def _with_vendor_and_store_policy(vendor_extra: dict, store_policy: dict) -> dict:
    return {"business": {"name": "x", "timezone": "America/New_York"},
            "locations": [{"key": "main", "name": "Main"}],
            "stores": [{"key": "shop", "platform": "shopify", "base_url": "https://shop.example",
                        "credentials": {"access_token": "SHOP_TOKEN"}, "locations": {"1": "main"}}],
            "vendors": [{"key": "kyoto", "name": "Kyoto", "email": "po@kyoto.example", "lead_time_days": 21,
                         **vendor_extra}],
            "store_policies": [{"store": "shop", **store_policy}]}


def test_a_vendor_order_cut_off_is_read_as_a_local_time() -> None:
    config = parse_config(_with_vendor_and_store_policy({"order_cutoff": "14:30"}, {"sla": "96h"}))
    assert config.vendors[0].order_cutoff is not None and config.vendors[0].order_cutoff.isoformat() == "14:30:00"
    assert config.policy_for("shop").sla_s == 96 * 3600


def test_purchasing_policy_cannot_differ_by_store_and_a_bad_cut_off_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_vendor_and_store_policy({"order_cutoff": "2pm"},
                                                   {"po_window": "10m", "po_auto_approve_under": "50.00"}))
    problems = "\n".join(caught.value.problems)
    assert 'vendors[0].order_cutoff: expected HH:MM, got \'2pm\'' in problems
    assert "store_policies[0].po_window: purchase orders are per vendor, not per store" in problems
    assert "store_policies[0].po_auto_approve_under: purchase orders are per vendor" in problems


def test_a_platform_without_a_connector_is_refused_naming_the_key(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.registry import CONNECTORS

    monkeypatch.delitem(CONNECTORS, "zoho_inventory")  # a platform the product knows, its connector gone
    text = EXAMPLE.read_text() + '''
[[stores]]
key = "zoho-b2b"
platform = "zoho_inventory"
base_url = "https://b2b.futonloft.example"
locations = { "default" = "warehouse" }
'''
    index = sum(1 for line in text.splitlines() if line.strip() == "[[stores]]") - 1
    path = tmp_path / "zoho.toml"
    path.write_text(text)
    expected = (f'stores[{index}].platform: no connector for "zoho_inventory" '
                f'(available: {", ".join(sorted(CONNECTORS))})')
    assert index == 6 and "magento, netsuite" in expected and "sap_b1" in expected
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [expected]
    typo = parse_error(text.replace('platform = "zoho_inventory"', 'platform = "zohoo"'))
    assert typo == [f"stores[{index}].platform: unknown platform 'zohoo' "
                    f"(available: {', '.join(sorted(CONNECTORS))})"]

    runner = CliRunner()
    checked = runner.invoke(main, ["config", "check", str(path)])
    assert checked.exit_code == 1 and expected in checked.output
    from domain.core.env_settings import get_settings

    monkeypatch.setenv("SECRET_KEY", "test-secret-key-for-the-config-check")
    applied = runner.invoke(main, ["config", "apply", str(path)])
    get_settings.cache_clear()  # the command cached settings read with this test's variables
    assert applied.exit_code == 1 and expected in applied.output, applied.output


def parse_error(text: str) -> list[str]:
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text))
    return caught.value.problems


def _with_location_thresholds(thresholds: object, store_policy: dict | None = None) -> dict:
    data = _with_vendor_and_store_policy({}, store_policy or {})
    data["locations"].append({"key": "showroom", "name": "Showroom"})
    data["skus"] = [{"code": "FUT-1", "threshold": 3, "location_thresholds": thresholds}]
    return data


def test_location_thresholds_are_read_per_location_key() -> None:
    config = parse_config(_with_location_thresholds({"showroom": 2, "main": 0}))
    assert config.skus[0].location_thresholds == {"showroom": 2, "main": 0}
    assert parse_config(_with_vendor_and_store_policy({}, {})).vendors[0].key == "kyoto"


def test_bad_location_thresholds_are_named_by_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_location_thresholds({"attic": 2, "showroom": -1, "main": "two"}))
    problems = "\n".join(caught.value.problems)
    assert "skus[0].location_thresholds.attic: unknown location 'attic'" in problems
    assert "skus[0].location_thresholds.showroom: must be at least 0, got -1" in problems
    assert "skus[0].location_thresholds.main: expected a whole number, got 'two'" in problems
    with pytest.raises(ConfigError, match=r"skus\[0\]\.location_thresholds: expected a table"):
        parse_config(_with_location_thresholds(2))
    broken = tmp_path / "broken.toml"
    broken.write_text(EXAMPLE.read_text().replace('code = "MAT-MEM-TWIN"\n',
                                                  'code = "MAT-MEM-TWIN"\nlocation_thresholds = { attic = 1 }\n'))
    result = CliRunner().invoke(main, ["config", "check", str(broken)])
    assert result.exit_code == 1 and ".location_thresholds.attic: unknown location 'attic'" in result.output


def test_a_store_policy_may_set_its_own_drift_tolerance() -> None:
    config = parse_config(_with_location_thresholds({}, {"atp_drift_tolerance": 0.25}))
    assert config.policy_for("shop").atp_drift_tolerance == Decimal("0.25")
    assert config.drift_tolerances() == {"shop": Decimal("0.25")}
    assert parse_config(_with_location_thresholds({}, {"sla": "96h"})).drift_tolerances() == {}, \
        "a store policy that does not set it inherits the business's"
    with pytest.raises(ConfigError, match=r"store_policies\[0\]\.atp_drift_tolerance: expected a fraction"):
        parse_config(_with_location_thresholds({}, {"atp_drift_tolerance": 1.5}))


def _with_owners(*owners: str | None) -> dict:
    """Three locations, two stores mapping some of them, and an ERP mapping the third."""
    locations = [{"key": key, "name": key, **({"owner": owner} if owner else {})}
                 for key, owner in zip(("main", "annex", "depot"), owners, strict=True)]
    store = {"platform": "shopify", "base_url": "https://shop.example", "credentials": {"access_token": "SHOP_TOKEN"}}
    return {"business": {"name": "x"}, "locations": locations,
            "stores": [{"key": "shop", **store, "locations": {"1": "main", "2": "annex", "3": "depot"}},
                       {"key": "pos", **store, "locations": {"9": "main"}},
                       {"key": "erp", **store, "platform": "netsuite", "sells": False, "locations": {"7": "depot"}}]}


def test_a_location_owner_names_a_store_that_maps_it_and_yields_to_the_erp() -> None:
    config = parse_config(_with_owners("pos", None, "erp"))
    assert [location.owner for location in config.locations] == ["pos", None, "erp"]
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_owners("till", "pos", "shop"))
    problems = "\n".join(caught.value.problems)
    assert "locations[0].owner: unknown store 'till'" in problems
    assert "locations[1].owner: store 'pos' does not map location 'annex'" in problems
    assert "locations[2].owner: the ERP 'erp' maps location 'depot' and is its record" in problems


def test_a_store_buffer_floor_must_be_a_whole_number() -> None:
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text())
    data["stores"][1]["options"] = {"buffer_floor": -1}
    data["stores"][2]["options"] = {"buffer_floor": 2}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert [p for p in caught.value.problems if "buffer_floor" in p] == [
        "stores[1].options.buffer_floor: expected a whole number ≥ 0, got -1"]


def test_the_backorder_status_is_kept_only_by_a_back_office_that_can_and_sap_options_are_checked() -> None:
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text())
    data["stores"][0].setdefault("options", {})["backorder_status"] = True  # Shopify sells
    data["stores"][5]["options"] = {"backorder_status": True}  # NetSuite: no place for it here
    data["stores"].append({"key": "sap-erp", "platform": "sap_b1", "base_url": "https://b1.example:50000",
                           "sells": False, "options": {"backorder_status": "yes", "purchase_document": "po"}})
    data["stores"].append({"key": "sap-2", "platform": "sap_b1", "base_url": "https://b1.example:50000",
                           "sells": False, "options": {"backorder_status": True, "purchase_document": "request",
                                                       "backorder_status_field": "U_BoStatus"}})
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    found = sorted(p for p in caught.value.problems if "stores[" in p)
    assert found[0] == ("stores[0].options.backorder_status: only a back office keeps the backorder status (set "
                        "sells = false); a selling store shows it through its own backorder mode")
    assert found[1].startswith("stores[5].options.backorder_status: netsuite has no place for the backorder status "
                               "here (platforms that do: ") and "sap_b1" in found[1]
    assert found[2:] == ["stores[6].options.backorder_status: expected true or false, got 'yes'",
                         "stores[6].options.purchase_document: expected one of order, request, got 'po'"]
