"""NetSuite with our scripts: the SKU's backorder status lands in the item's checkbox through the
RESTlet, and an inventory adjustment posted by the User Event script is received signed, stored
once and applied. Real PostgreSQL, the NetSuite stand-in (with the scripts) over HTTP, the web app
in process, the tasks applied in turn."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.models import AuditLog, InboxEvent, Location, Sku, Store, StoreLocation
from sandbox.netsuite import DEFAULTS
from sandbox.server import SandboxServer

CODE = "FUT-FRM-OAK-FULL"
ACCOUNT = "7654321_SB1"
ENV = {"account_id": "NS_ACCOUNT_ID", "consumer_key": "NS_CK", "consumer_secret": "NS_CS", "token_id": "NS_TK",
       "token_secret": "NS_TS"}
SECRET = "ns-ue-secret"


@pytest.fixture
def netsuite(monkeypatch: pytest.MonkeyPatch, catalog: object, db_session: Session, celery_app: object
             ) -> Iterator[dict[str, Any]]:
    """A NetSuite account holding the SKU at 0 at location 1 (our warehouse), scripts deployed."""
    with SandboxServer() as server:
        for name, env in ENV.items():
            monkeypatch.setenv(env, ACCOUNT if name == "account_id" else DEFAULTS[name])
        monkeypatch.setenv("NS_WEBHOOK_SECRET", SECRET)
        root = f"{server.base_url}/netsuite/{ACCOUNT}"
        seeded = requests.post(f"{root}/_admin/seed", timeout=10, json={
            "count": 0, "items": [{"sku": CODE, "locations": {"1": {"on_hand": 0}}}]})
        seeded.raise_for_status()
        store = Store(key="ns-erp", platform="netsuite_restlet", name="NetSuite", base_url=root, sells=False,
                      credentials_env=ENV, webhook_secret_env="NS_WEBHOOK_SECRET",
                      options={"backorder_status": True,
                               "restlet_url": f"{root}/app/site/hosting/restlet.nl?script=1201&deploy=1"})
        db_session.add(store)
        db_session.flush()
        warehouse = db_session.scalar(select(Location.id).where(Location.key == "warehouse"))
        db_session.add(StoreLocation(store_id=store.id, location_id=warehouse, external_id="1"))
        db_session.commit()
        yield {"root": root, "store_id": store.id, "item_id": seeded.json()["items"][0]["item_id"],
               "sku_id": db_session.scalar(select(Sku.id).where(Sku.code == CODE))}


def poll_and_push(ns: dict[str, Any], full: bool) -> None:
    from tasks.channels import push_store
    from tasks.polling import poll_store
    from tasks.stock import evaluate

    poll_store.apply(args=[ns["store_id"], full], throw=True)
    evaluate.apply(args=[[ns["sku_id"]]], throw=True)
    push_store.apply(args=[ns["store_id"]], throw=True)


def checkbox(ns: dict[str, Any]) -> list[dict[str, Any]]:
    return requests.get(f"{ns['root']}/_admin/state/item_fields", timeout=5).json()["item_fields"]


def test_the_item_checkbox_follows_the_sku_and_events_arrive_signed(netsuite: dict[str, Any], db_session: Session,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from tasks.channels import push_store
    from tasks.inbound import drain
    from tasks.stock import evaluate
    from workers.web import create_app

    monkeypatch.setenv("PUSH_DEBOUNCE_S", "0")
    poll_and_push(netsuite, full=True)
    db_session.expire_all()
    assert db_session.get(Sku, netsuite["sku_id"]).state == "BACKORDER"
    assert checkbox(netsuite) == [{"item_id": netsuite["item_id"], "field": "custitem_ba_backorder", "value": True}]
    written = db_session.scalar(select(AuditLog).where(AuditLog.action == "erp.backorder_status"))
    assert written is not None and written.data["request"]["items"][0]["backorder"] is True

    received: list[tuple[dict[str, str], bytes]] = []
    with TestClient(create_app()) as client:
        class Relay(BaseHTTPRequestHandler):  # the script posts to "our web process": relayed in process
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        relay = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        threading.Thread(target=relay.serve_forever, daemon=True).start()
        try:
            requests.post(f"{netsuite['root']}/_admin/restlet", timeout=5, json={
                "address": f"http://127.0.0.1:{relay.server_address[1]}/webhooks/ns-erp", "secret": SECRET})
            requests.post(f"{netsuite['root']}/_admin/adjust", timeout=5,
                          json={"sku": CODE, "location_id": 1, "delta": 9}).raise_for_status()
        finally:
            relay.shutdown()
        [(headers, body)] = received
        for _ in range(2):  # a resent post is the same event
            answer = client.post("/webhooks/ns-erp", content=body, headers=headers)
            assert answer.status_code in (200, 202), answer.text
        forged = client.post("/webhooks/ns-erp", content=body.replace(b"9", b"8", 1), headers=headers)
        assert forged.status_code == 401, forged.text
    assert db_session.scalar(select(func.count()).select_from(InboxEvent).where(InboxEvent.source == "ns-erp")) == 1
    drain.apply(args=["ns-erp"], throw=True)
    evaluate.apply(args=[[netsuite["sku_id"]]], throw=True)
    push_store.apply(args=[netsuite["store_id"]], throw=True)
    db_session.expire_all()
    assert db_session.get(Sku, netsuite["sku_id"]).state != "BACKORDER"
    assert checkbox(netsuite)[0]["value"] is False
