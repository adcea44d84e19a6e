"""``backorders import tradegecko|qbcommerce``: the shipped export files land their SKUs, suppliers and
stock in the business file and the database, `config check` passes on the result, running it again
changes nothing, and a file with a bad row leaves both exactly as they were."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import REPO_ROOT
from workers.cli import main

EXPORTS = REPO_ROOT / "examples" / "imports"
CONFIG = """[business]
name = "Futon Loft"
timezone = "America/New_York"

[[locations]]
key = "warehouse"
name = "Newark warehouse"

[[stores]]
key = "qbo-erp"
platform = "quickbooks"
base_url = "https://quickbooks.api.intuit.com"
credentials = { client_id = "QBO_CLIENT_ID", client_secret = "QBO_CLIENT_SECRET", refresh_token = "QBO_REFRESH_TOKEN" }
sells = false
# the warehouse TradeGecko called "Newark Warehouse" is ours already; the showroom is new
locations = { "Newark Warehouse" = "warehouse" }
options = { realm_id = "4620816365" }

[[vendors]]
key = "kyoto-frames"
name = "Kyoto Frame Works (our terms)"
email = "orders@kyotoframes.example"
lead_time_days = 21

[[vendors]]
key = "lisbon"
name = "Lisbon Linen Atelier"
email = "orders@lisbonlinen.example"
lead_time_days = 30

[[skus]]
code = "FUT-FRM-OAK-FULL"
title = "Oak Mission futon frame, full"
vendor = "kyoto-frames"
threshold = 3
"""


def config(tmp_path: Path) -> Path:
    path = tmp_path / "store.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def levels(session: Session) -> dict[tuple[str, str], tuple[int, int]]:
    from domain.core.models import Location, Sku, StockLevel

    session.expire_all()
    rows = session.execute(select(Sku.code, Location.key, StockLevel.on_hand, StockLevel.available)
                           .join(Sku, Sku.id == StockLevel.sku_id).join(Location, Location.id == StockLevel.location_id))
    return {(code, key): (on_hand, available) for code, key, on_hand, available in rows}


def test_a_tradegecko_export_lands_skus_suppliers_and_stock_and_passes_config_check(
        db_session: Session, tmp_path: Path) -> None:
    from domain.core.models import Sku, Vendor

    path = config(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["import", "tradegecko", str(EXPORTS / "tradegecko-export.csv"), "--file", str(path),
                                  "--store", "qbo-erp", "--threshold", "2"])
    assert result.exit_code == 0, result.output
    assert "SKUs: 10 added, 1 already listed" in result.output and "vendors: 2 added, 2 already listed" in result.output

    checked = runner.invoke(main, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "4 vendors, 11 SKUs" in checked.output

    written = tomllib.loads(path.read_text())
    skus = {s["code"]: s for s in written["skus"]}
    assert skus["FUT-FRM-OAK-FULL"] == {"code": "FUT-FRM-OAK-FULL", "title": "Oak Mission futon frame, full",
                                        "vendor": "kyoto-frames", "threshold": 3}, "a SKU already listed is left as written"
    assert skus["FUT-FRM-SHK-QUEEN-ESP"] == {
        "code": "FUT-FRM-SHK-QUEEN-ESP", "title": "Shaker futon frame, queen, espresso", "category": "futon-frames",
        "price": "689.00", "cost": "335.00", "vendor": "kyoto-frames", "threshold": 2, "reorder_point": 4,
        "allow_backorder": False}
    vendors = {v["key"]: v for v in written["vendors"]}
    assert vendors["kyoto-frames"]["name"] == "Kyoto Frame Works (our terms)"
    assert vendors["dreamfoam"] == {"key": "dreamfoam", "name": "DreamFoam Mattress Co.", "email": "po@dreamfoam.example",
                                    "lead_time_days": 14}
    assert "lla-01" not in vendors and skus["BED-COVER-LIN-FULL-OAT"]["vendor"] == "lisbon", \
        "a supplier the file knows by name keeps the file's vendor key"
    [store] = written["stores"]
    showroom = store["locations"]["Brooklyn Showroom"]
    assert store["locations"]["Newark Warehouse"] == "warehouse" and showroom in {loc["key"] for loc in written["locations"]}

    assert db_session.scalar(select(func.count()).select_from(Sku)) == 11
    assert db_session.scalar(select(func.count()).select_from(Vendor)) == 4
    stock = levels(db_session)
    assert stock[("FUT-FRM-SHK-QUEEN-NAT", "warehouse")] == (3, 3) and stock[("FUT-FRM-SHK-QUEEN-NAT", showroom)] == (1, 0)
    assert stock[("BED-COVER-LIN-FULL-CHR", "warehouse")] == (-2, -4), "oversold, with two more promised"
    assert len(stock) == 22

    before = path.read_text()
    again = runner.invoke(main, ["import", "tradegecko", str(EXPORTS / "tradegecko-export.csv"), "--file", str(path),
                                 "--store", "qbo-erp"])
    assert again.exit_code == 0, again.output
    assert "SKUs: 0 added, 11 already listed" in again.output and path.read_text() == before


def test_a_qbcommerce_export_imports_into_the_example_file_without_a_database(tmp_path: Path) -> None:
    path = tmp_path / "futon-store.toml"
    shutil.copy(REPO_ROOT / "examples" / "futon-store.toml", path)
    runner = CliRunner()
    result = runner.invoke(main, ["import", "qbcommerce", str(EXPORTS / "qbcommerce-export.csv"), "--file", str(path),
                                  "--store", "netsuite-erp", "--file-only"])
    assert result.exit_code == 0, result.output
    checked = runner.invoke(main, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    codes = [s["code"] for s in tomllib.loads(path.read_text())["skus"]]
    assert "BED-THROW-WOOL-GRY" in codes and len(codes) == len(set(codes))


def test_a_bad_row_stops_the_import_naming_its_line_and_nothing_is_written(db_session: Session, tmp_path: Path) -> None:
    from domain.core.models import Sku

    path = config(tmp_path)
    broken = tmp_path / "broken.csv"
    lines = (EXPORTS / "tradegecko-export.csv").read_text().splitlines()
    lines[5] = lines[5].replace("FUT-MAT-ORG-FULL", "")
    broken.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["import", "tradegecko", str(broken), "--file", str(path), "--store", "qbo-erp"])

    assert result.exit_code != 0
    assert "broken.csv line 6: column 'Variant SKU' is empty" in result.output and "nothing was imported" in result.output
    assert path.read_text() == CONFIG
    assert db_session.scalar(select(func.count()).select_from(Sku)) == 0


def test_a_supplier_without_an_email_is_refused_unless_one_is_given(db_session: Session, tmp_path: Path) -> None:
    path = config(tmp_path)
    export = tmp_path / "no-emails.csv"
    export.write_text("Product Name,Supplier,Variant Name,Variant SKU,Stock On Hand\n"
                      "Tatami mat,Osaka Rush Weavers,Tatami mat,TAT-1,3\n"
                      "Tatami mat,Osaka Rush Weavers,Tatami mat (large),TAT-2,1\n")
    runner = CliRunner()
    refused = runner.invoke(main, ["import", "tradegecko", str(export), "--file", str(path), "--store", "qbo-erp"])
    assert refused.exit_code != 0 and "supplier 'Osaka Rush Weavers' (first on line 2) has no email" in refused.output
    assert path.read_text() == CONFIG

    given = runner.invoke(main, ["import", "tradegecko", str(export), "--file", str(path), "--store", "qbo-erp",
                                 "--vendor-email", "purchasing@futonloft.example"])
    assert given.exit_code == 0, given.output
    vendors = {v["key"]: v for v in tomllib.loads(path.read_text())["vendors"]}
    assert vendors["osaka-rush-weavers"]["email"] == "purchasing@futonloft.example"
    assert runner.invoke(main, ["config", "check", str(path)]).exit_code == 0


def test_an_import_the_file_would_refuse_writes_nothing(db_session: Session, tmp_path: Path) -> None:
    path = config(tmp_path)
    result = CliRunner().invoke(main, ["import", "tradegecko", str(EXPORTS / "tradegecko-export.csv"), "--file",
                                       str(path), "--store", "no-such-store"])
    assert result.exit_code != 0 and "no store with key 'no-such-store'" in result.output
    assert path.read_text() == CONFIG
