"""A B2C Commerce store on Omnichannel Inventory, loaded from the TOML file and synced by the CLI: the
first sync reads OCI's availability and keeps its delta token as the store's cursor; the next sync
(a new connector, as after a restart) reads only the deltas since it. Real PostgreSQL; the B2C
Commerce and OCI stand-ins over real HTTP."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.oauth2 import forget_tokens
from sandbox.salesforce_b2c import CLIENT_ID, CLIENT_SECRET
from sandbox.salesforce_oci import CLIENT_ID as OCI_ID, CLIENT_SECRET as OCI_SECRET, TENANT_GROUP, TENANT_ID
from sandbox.server import SandboxServer
from workers.cli import main

CONFIG = """[business]
name = "Futon Loft US"
timezone = "America/New_York"

[[locations]]
key = "warehouse"
name = "Newark warehouse"

[[stores]]
key = "sfcc-us"
platform = "salesforce_b2c"
base_url = "{root}"
credentials = {{ client_id = "SFCC_CLIENT_ID", client_secret = "SFCC_CLIENT_SECRET", oci_client_id = "SFCC_OCI_ID", oci_client_secret = "SFCC_OCI_SECRET" }}
read_only = true
locations = {{ "us-online" = "warehouse" }}
options = {{ site_id = "RefArch", token_url = "{root}/dwsso/oauth2/access_token", oci = {{ base_url = "{oci}", token_url = "{oci}/dwsso/oauth2/access_token", tenant_id = "{tenant}", tenant_group_id = "{group}", groups = ["us-online"], write_location = "wh-east" }} }}

[[skus]]
code = "FRAME-OAK"
title = "Oak futon frame"
threshold = 1

[[skus]]
code = "MATTRESS"
title = "Cotton mattress"
threshold = 1
"""


@pytest.fixture
def store(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from domain.core.env_settings import get_settings

    forget_tokens()
    with SandboxServer() as sandbox:
        root, oci = f"{sandbox.base_url}/salesforce_b2c/sfcc-us", f"{sandbox.base_url}/salesforce_oci/sfcc-us"
        requests.post(f"{root}/_admin/seed", timeout=10, json={"lists": [{"id": "us-online", "items": [
            {"sku": "FRAME-OAK", "allocation": 0}, {"sku": "MATTRESS", "allocation": 0}]}]}).raise_for_status()
        requests.post(f"{oci}/_admin/seed", timeout=10, json={"groups": {"us-online": ["wh-east"]}, "locations": {
            "wh-east": {"FRAME-OAK": {"onHand": 3}, "MATTRESS": {"onHand": 0, "futures": [
                {"quantity": 5, "expectedDate": "2027-02-01T00:00:00Z"}]}}}}).raise_for_status()
        path = tmp_path / "store.toml"
        path.write_text(CONFIG.format(root=root, oci=oci, tenant=TENANT_ID, group=TENANT_GROUP))
        for key, value in {"SFCC_CLIENT_ID": CLIENT_ID, "SFCC_CLIENT_SECRET": CLIENT_SECRET, "SFCC_OCI_ID": OCI_ID,
                           "SFCC_OCI_SECRET": OCI_SECRET, "BACKORDERS_CONFIG": str(path),
                           "BACKORDERS_DATA_DIR": str(tmp_path / "data")}.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        applied = CliRunner().invoke(main, ["config", "apply", str(path)])
        assert applied.exit_code == 0, applied.output
        yield {"root": root, "oci": oci}
    forget_tokens()
    get_settings.cache_clear()


def sync() -> dict[str, Any]:
    forget_tokens()  # a new process each time
    result = CliRunner().invoke(main, ["sync", "sfcc-us", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{"):])


def test_the_first_sync_reads_oci_in_full_and_the_next_only_its_deltas(store: dict[str, str],
                                                                       db_session: Session) -> None:
    from domain.core.models import Sku, StockLevel, Store

    first = sync()

    assert first["records"] == 2 and first["unmatched"] == 0
    db_session.expire_all()
    cursor = db_session.scalar(select(Store.stock_cursor).where(Store.key == "sfcc-us"))
    assert cursor is not None and cursor.startswith("oci:"), "the delta token is the store's cursor"
    levels = dict(db_session.execute(select(Sku.code, StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id))
                  .tuples().all())
    assert levels == {"FRAME-OAK": 3, "MATTRESS": 5}, "ATO: the mattress's future is sellable"
    assert db_session.scalar(select(Sku.eta).where(Sku.code == "MATTRESS")) == date(2027, 2, 1)

    requests.post(f"{store['oci']}/_admin/set_stock", timeout=10,
                  json={"location": "wh-east", "sku": "FRAME-OAK", "onHand": 0}).raise_for_status()
    second = sync()

    assert second["records"] == 1 and second["changed"] == 1
    db_session.expire_all()
    assert db_session.scalar(select(StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
                             .where(Sku.code == "FRAME-OAK")) == 0
    log = requests.get(f"{store['oci']}/_admin/requests", timeout=10).json()["requests"]
    assert [r["path"].rsplit("/", 1)[-1] for r in log if "/availability-records/" in r["path"]] == [
        "delta-token", "get-availability", "get-deltas"]
    assert db_session.scalar(select(Store.stock_cursor).where(Store.key == "sfcc-us")) != cursor
