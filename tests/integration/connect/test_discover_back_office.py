"""`stores discover` on a back office (NetSuite, Odoo, SAP Business One): its locations are listed and mapped, its
items counted (not copied into ``[[skus]]``), and a part its credential may not read is named with
the permission to grant while the rest is still read."""
from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from demo.scenario import PLATFORM_SECRETS
from sandbox.odoo import DEFAULTS as ODOO
from sandbox.sapb1 import DEFAULTS as SAP
from sandbox.server import SandboxServer
from workers.cli import main

NETSUITE = """[business]
name = "Back office"

[[stores]]
key = "erp"
platform = "netsuite"
base_url = "{base_url}/netsuite/1234567"
credentials = {{ account_id = "NETSUITE_ACCOUNT_ID", consumer_key = "NETSUITE_CONSUMER_KEY", consumer_secret = "NETSUITE_CONSUMER_SECRET", token_id = "NETSUITE_TOKEN_ID", token_secret = "NETSUITE_TOKEN_SECRET" }}
"""
ODOO_FILE = """[business]
name = "Back office"

[[stores]]
key = "odoo"
platform = "odoo"
base_url = "{base_url}/odoo/books"
credentials = {{ database = "ODOO_DB", login = "ODOO_LOGIN", api_key = "ODOO_KEY" }}
"""

SAP_FILE = """[business]
name = "Back office"

[[stores]]
key = "sap"
platform = "sap_b1"
base_url = "{base_url}/sap_b1/futon"
credentials = {{ company_db = "SAP_COMPANY", username = "SAP_USER", password = "SAP_PASSWORD" }}
"""


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in PLATFORM_SECRETS.items():
        if name.startswith("NETSUITE_"):
            monkeypatch.setenv(name, value)
    for name, value in {"ODOO_DB": ODOO["database"], "ODOO_LOGIN": ODOO["login"], "ODOO_KEY": ODOO["api_key"]}.items():
        monkeypatch.setenv(name, value)
    for name, value in {"SAP_COMPANY": SAP["company_db"], "SAP_USER": SAP["username"],
                        "SAP_PASSWORD": SAP["password"]}.items():
        monkeypatch.setenv(name, value)
    with SandboxServer() as server:
        yield server.base_url


def discover(path: Path, key: str) -> Result:
    result = CliRunner().invoke(main, ["stores", "discover", key, "--file", str(path)])
    assert result.exit_code == 0, result.output
    return result


def test_netsuite_locations_are_mapped_and_inventory_items_counted(sandbox: str, tmp_path: Path) -> None:
    admin = f"{sandbox}/netsuite/1234567/_admin"
    requests.post(f"{admin}/seed", json={"locations": 2, "count": 7, "items": [
        {"sku": "KIT-1", "itemtype": "Kit"}]}, timeout=10).raise_for_status()
    path = tmp_path / "erp.toml"
    path.write_text(NETSUITE.format(base_url=sandbox))

    found = discover(path, "erp")
    assert "erp (netsuite): 2 location(s)\n  1  Warehouse 1\n  2  Warehouse 2\n" in found.output
    assert "catalogue: 7 active items of type InvtPart" in found.output  # the kit is not an inventory item
    assert "missing permission" not in found.output
    written = tomllib.loads(path.read_text())
    store = written["stores"][0]
    assert store["locations"] == {"1": "warehouse-1", "2": "warehouse-2"} and store["sells"] is False
    assert "skus" not in written and "read_only" not in store  # counted, not copied; POs are not held back


def test_netsuite_names_the_permission_its_role_lacks_and_reads_the_rest(sandbox: str, tmp_path: Path) -> None:
    admin = f"{sandbox}/netsuite/1234567/_admin"
    requests.post(f"{admin}/seed", json={"locations": 3, "count": 4}, timeout=10).raise_for_status()
    requests.post(f"{admin}/config", json={"hidden_records": ["item"]}, timeout=10).raise_for_status()
    path = tmp_path / "erp.toml"
    path.write_text(NETSUITE.format(base_url=sandbox))

    found = discover(path, "erp")
    assert "missing permission for items: Lists → Items (View) on the token's role" in found.output
    assert "Record 'item' was not found" in found.output
    assert "  3  Warehouse 3" in found.output and "catalogue:" not in found.output
    assert len(tomllib.loads(path.read_text())["stores"][0]["locations"]) == 3

    requests.post(f"{admin}/config", json={"hidden_records": ["location"]}, timeout=10).raise_for_status()
    again = discover(path, "erp")
    assert "missing permission for locations: Lists → Locations (View)" in again.output
    assert "catalogue: 4 active items" in again.output
    as_json = CliRunner().invoke(main, ["stores", "discover", "erp", "--file", str(path), "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert report["platform"] == "netsuite" and report["back_office"] is True and report["file"] == str(path)
    assert [m for m in report["missing"] if m.startswith("locations:")], report["missing"]
    assert report["items"] == 4 and report["counted"].startswith("active items of type InvtPart")


def test_odoo_internal_locations_with_their_warehouses_and_the_product_count(sandbox: str, tmp_path: Path) -> None:
    admin = f"{sandbox}/odoo/books/_admin"
    requests.post(f"{admin}/seed", json={
        "warehouses": [{"name": "San Francisco", "code": "WH"}, {"name": "Berlin", "code": "BE"}],
        "products": [{"default_code": "FUT-1"}, {"default_code": "FUT-2"}, {"name": "Gift wrap"}]},
        timeout=10).raise_for_status()
    path = tmp_path / "odoo.toml"
    path.write_text(ODOO_FILE.format(base_url=sandbox))

    found = discover(path, "odoo")
    assert "odoo (odoo): 2 location(s)\n  2  WH/Stock (San Francisco)\n  4  BE/Stock (Berlin)\n" in found.output
    assert "warehouse Berlin (BE): its stock is kept in BE/Stock" in found.output
    assert "catalogue: 3 products, 2 with an Internal Reference" in found.output
    store = tomllib.loads(path.read_text())["stores"][0]
    assert store["locations"] == {"2": "wh-stock-san-francisco", "4": "be-stock-berlin"}


def test_odoo_names_the_access_right_the_user_lacks(sandbox: str, tmp_path: Path) -> None:
    admin = f"{sandbox}/odoo/books/_admin"
    requests.post(f"{admin}/seed", json={"warehouses": [{"name": "San Francisco", "code": "WH"}],
                                         "products": [{"default_code": "FUT-1"}],
                                         "denied_models": ["stock.warehouse", "product.product"]},
                  timeout=10).raise_for_status()
    path = tmp_path / "odoo.toml"
    path.write_text(ODOO_FILE.format(base_url=sandbox))

    found = discover(path, "odoo")
    assert ("missing permission for warehouses: read access to Warehouse (stock.warehouse) for the API user: "
            "add it to a group that has it (Inventory / User)") in found.output
    assert "missing permission for products: read access to Product Variant (product.product)" in found.output
    assert "  2  WH/Stock\n" in found.output  # the locations are still read, without their warehouse's name


def test_a_wrong_key_is_an_error_not_a_missing_permission(sandbox: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    requests.post(f"{sandbox}/odoo/books/_admin/seed", json={}, timeout=10).raise_for_status()
    monkeypatch.setenv("ODOO_KEY", "wrong")
    path = tmp_path / "odoo.toml"
    path.write_text(ODOO_FILE.format(base_url=sandbox))
    result = CliRunner().invoke(main, ["stores", "discover", "odoo", "--file", str(path)])
    assert result.exit_code == 1 and "authentication refused" in result.output
    assert "locations" not in path.read_text()


def test_sap_warehouses_are_mapped_and_inventory_items_counted(sandbox: str, tmp_path: Path) -> None:
    requests.post(f"{sandbox}/sap_b1/futon/_admin/seed", timeout=10, json={
        "warehouses": [{"code": "01", "name": "Newark"}, {"code": "SHOW", "name": "Brooklyn showroom"}],
        "items": [{"sku": "FUT-1"}, {"sku": "FUT-2"}, {"sku": "ASSEMBLY", "inventory": False}]}).raise_for_status()
    path = tmp_path / "sap.toml"
    path.write_text(SAP_FILE.format(base_url=sandbox))

    found = discover(path, "sap")
    assert "sap (sap_b1): 2 location(s)\n  01  Newark\n  SHOW  Brooklyn showroom\n" in found.output
    assert "catalogue: 2 inventory items" in found.output and "missing permission" not in found.output
    store = tomllib.loads(path.read_text())["stores"][0]
    assert store["locations"] == {"01": "newark", "SHOW": "brooklyn-showroom"} and store["sells"] is False
