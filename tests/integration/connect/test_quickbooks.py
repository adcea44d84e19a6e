"""A QuickBooks Online company loaded from the TOML file: its rotating refresh token kept sealed in the
database (a restart, a rolled-back task and a burst of renewals all keep the newest), its stock read,
and its webhooks (classic and CloudEvents) stored once by our web app, a forged one refused.
Real PostgreSQL; the QuickBooks stand-in and our web app over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.quickbooks import DEFAULTS
from tests.integration.connect.back_office_kit import BUSINESS, FRAMES, admin, configured, stand_ins_and_web
from workers.cli import main

CONFIG = BUSINESS + """
[[stores]]
key = "qbo-erp"
platform = "quickbooks"
base_url = "{root}"
credentials = {{ client_id = "QBO_CLIENT_ID", client_secret = "QBO_CLIENT_SECRET", refresh_token = "QBO_REFRESH_TOKEN" }}
webhook_secret_env = "QBO_VERIFIER_TOKEN"
sells = false
locations = {{ "default" = "warehouse" }}
options = {{ realm_id = "{realm}", token_url = "{root}/oauth2/v1/tokens/bearer", page_size = 1 }}
""" + FRAMES


@pytest.fixture
def company(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with stand_ins_and_web() as (sandbox, web):
        root = f"{sandbox}/quickbooks/4620816365"
        requests.post(f"{root}/_admin/seed", timeout=10, json={
            "vendors": [{"key": "kyoto-frames"}],
            "items": [{"sku": "FUT-OAK", "qty": 5}, {"sku": "FUT-ASH", "qty": 1}]}).raise_for_status()
        path = tmp_path / "store.toml"
        with configured(tmp_path, monkeypatch, CONFIG.format(root=root, realm="4620816365"),
                        {"QBO_CLIENT_ID": DEFAULTS["client_id"], "QBO_CLIENT_SECRET": DEFAULTS["client_secret"],
                         "QBO_REFRESH_TOKEN": DEFAULTS["refresh_token"],
                         "QBO_VERIFIER_TOKEN": DEFAULTS["verifier_token"]},
                        ["config", "apply", str(path)]):
            yield {"root": root, "web": web}


def build(session: Session) -> Any:
    """A connector as a task builds one: from the store's row, its vault the database."""
    from domain.core.models import Store
    from flows.connections import connector_for

    session.expire_all()
    return connector_for(session.scalar(select(Store).where(Store.key == "qbo-erp")))


def grant_row(session: Session) -> Any:
    from domain.core.models import OAuthGrant

    session.expire_all()
    return session.scalar(select(OAuthGrant))


def test_the_newest_refresh_token_survives_a_restart_and_is_never_stored_in_clear(
        company: dict[str, Any], db_session: Session) -> None:
    admin(company, "config", {"token_lifetime_s": 60})  # shorter than the early renewal: each request renews
    pages = list(build(db_session).fetch_stock(None))
    assert {r.sku: r.on_hand for p in pages for r in p.records} == {"FUT-OAK": 5, "FUT-ASH": 1}

    asked = admin(company, "state/token_requests")["token_requests"]
    [newest] = admin(company, "state/refresh_tokens")["refresh_tokens"]
    row = grant_row(db_session)
    assert len(asked) >= 2 and all(a["accepted"] for a in asked), "each rotation was stored before the next"
    assert row.renewals == len(asked)
    assert newest not in row.sealed and DEFAULTS["refresh_token"] not in row.sealed and "eyJ" not in row.sealed

    restarted = build(db_session)  # a new process: the credential still names the first, long spent token
    assert {r.sku for p in restarted.fetch_stock(None) for r in p.records} == {"FUT-OAK", "FUT-ASH"}
    later = admin(company, "state/token_requests")["token_requests"][len(asked)]
    assert later["refresh_token"] == newest and later["accepted"]


def test_a_rotation_outlives_the_task_transaction_that_rolled_back(company: dict[str, Any], db_session: Session) -> None:
    from domain.core.db import session_scope

    with pytest.raises(RuntimeError), session_scope():
        list(build(db_session).fetch_stock(None))
        raise RuntimeError("the poll's own work failed")
    assert grant_row(db_session).renewals == 1
    list(build(db_session).fetch_stock(None))  # the stored access token; no refresh token spent twice
    assert len(admin(company, "state/token_requests")["token_requests"]) == 1


@pytest.mark.parametrize("fmt", ["classic", "cloudevents"])
def test_a_webhook_is_stored_once_a_forged_one_refused_and_the_item_read(
        company: dict[str, Any], db_session: Session, fmt: str) -> None:
    from domain.core.models import InboxEvent, Sku, StockLevel
    from tasks.inbound import drain

    admin(company, "config", {"webhook_format": fmt})
    admin(company, "webhooks", {"address": f"{company['web']}/webhooks/qbo-erp"})
    [sent] = admin(company, "set_stock", {"sku": "FUT-OAK", "quantity": 9})["webhooks"]
    assert sent["status"] == 200
    url = f"{company['web']}/webhooks/qbo-erp"
    again = requests.post(url, data=sent["body"], headers=sent["headers"], timeout=10)
    forged_body = sent["body"].replace("FUT", "XXX").replace('"9"', '"7"').replace("-00:00", "+01:00")
    forged = requests.post(url, data=forged_body, headers=sent["headers"], timeout=10)
    bad_key = base64.b64encode(hmac.new(b"guess", sent["body"].encode(), hashlib.sha256).digest()).decode()
    guessed = requests.post(url, data=sent["body"], headers={**sent["headers"], "intuit-signature": bad_key}, timeout=10)

    assert again.json()["status"] == "duplicate"
    assert forged.status_code == 401 and guessed.status_code == 401
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    drain.apply(args=["qbo-erp"]).get()  # the names-only event is deferred, the item fetched, then applied
    db_session.expire_all()
    assert db_session.scalar(select(InboxEvent.state)) == "done"
    figure = db_session.scalar(select(StockLevel.on_hand).join(Sku, Sku.id == StockLevel.sku_id)
                               .where(Sku.code == "FUT-OAK"))
    assert figure == 9


def test_connect_names_the_webhook_address_and_takes_the_first_full_sync(
        company: dict[str, Any], db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.core.models import Location, Sku, StockLevel

    monkeypatch.setenv("PUBLIC_BASE_URL", company["web"])
    result = CliRunner().invoke(main, ["stores", "connect", "qbo-erp"])
    assert result.exit_code == 0, result.output
    assert f"point them at {company['web']}/webhooks/qbo-erp" in result.output, "set in Intuit's developer portal"
    db_session.expire_all()
    rows = db_session.execute(select(Sku.code, Location.key, StockLevel.on_hand)
                              .join(Sku, Sku.id == StockLevel.sku_id).join(Location, Location.id == StockLevel.location_id))
    assert {(code, key): on_hand for code, key, on_hand in rows} == {("FUT-OAK", "warehouse"): 5,
                                                                    ("FUT-ASH", "warehouse"): 1}


def test_workers_renewing_at_once_spend_the_refresh_token_once(company: dict[str, Any], db_session: Session) -> None:
    from concurrent.futures import ThreadPoolExecutor

    list(build(db_session).fetch_stock(None))  # the grant's row exists, with a live access token
    admin(company, "config", {"revoke_access_tokens": True})  # now every worker meets a 401 and renews
    connectors = [build(db_session) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        read = list(pool.map(lambda qbo: {r.sku for p in qbo.fetch_stock(None) for r in p.records}, connectors))

    assert read == [{"FUT-OAK", "FUT-ASH"}] * 4
    asked = admin(company, "state/token_requests")["token_requests"]
    assert len(asked) == 2 and all(a["accepted"] for a in asked), \
        "the row lock let one worker refresh; the others took its token"
