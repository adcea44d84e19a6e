"""A Business Central company connected with `stores connect`: the subscription handshake against our
own web app, each change notification stored once (a forged one refused), the drain making the
store's incremental read due, and the subscription renewed by its timer row before it expires.
Real PostgreSQL; the Business Central stand-in and our web app over real HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import freezegun
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.business_central import DEFAULTS
from tests.integration.connect.back_office_kit import (
    BUSINESS, FRAMES, SHOWROOM, admin, configured, stand_ins_and_web,
)

CONFIG = BUSINESS + SHOWROOM + """
[[stores]]
key = "bc-erp"
platform = "business_central"
base_url = "{root}"
credentials = {{ client_id = "BC_CLIENT_ID", client_secret = "BC_CLIENT_SECRET" }}
sells = false
locations = {{ "MAIN" = "warehouse", "SHOWROOM" = "showroom" }}
options = {{ tenant = "{tenant}", company_id = "{company}", authority_host = "{root}/login" }}
""" + FRAMES


def later(when: datetime) -> Any:
    """The product's clock at ``when``; the servers' event loops keep the real one."""
    return freezegun.freeze_time(when, tick=True, ignore=["asyncio", "uvicorn", "anyio"])


@pytest.fixture
def connected(db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with stand_ins_and_web() as (sandbox, web):
        root = f"{sandbox}/business_central/futon-bc"
        seeded = requests.post(f"{root}/_admin/seed", timeout=10, json={
            "locations": ["MAIN", "SHOWROOM"],
            "items": [{"sku": "FUT-OAK", "stock": {"MAIN": 5, "SHOWROOM": 2}},
                      {"sku": "FUT-ASH", "stock": {"MAIN": 1}}]})
        seeded.raise_for_status()
        with configured(tmp_path, monkeypatch,
                        CONFIG.format(root=root, tenant=seeded.json()["tenant"], company=seeded.json()["company_id"]),
                        {"BC_CLIENT_ID": DEFAULTS["client_id"], "BC_CLIENT_SECRET": DEFAULTS["client_secret"],
                         "PUBLIC_BASE_URL": web},
                        ["stores", "connect", "bc-erp"], unset=["BC_ERP_WEBHOOK_SECRET"]) as output:
            yield {"root": root, "web": web, "output": output}


def levels(session: Session) -> dict[tuple[str, str], int]:
    from domain.core.models import Location, Sku, StockLevel

    session.expire_all()
    rows = session.execute(select(Sku.code, Location.key, StockLevel.available).join(Sku, Sku.id == StockLevel.sku_id)
                           .join(Location, Location.id == StockLevel.location_id))
    return {(code, key): available for code, key, available in rows}


def test_connect_subscribes_after_the_handshake_and_schedules_the_renewal(connected: dict[str, Any],
                                                                         db_session: Session) -> None:
    from domain.core.models import Timer

    [sub] = admin(connected, "state/subscriptions")["subscriptions"]
    assert sub["notificationUrl"] == f"{connected['web']}/webhooks/bc-erp/notifications"
    [handshake] = admin(connected, "state/handshakes")["handshakes"]
    assert handshake["outcome"] == "validated", "our web app echoed the token"
    assert "BC_ERP_WEBHOOK_SECRET (generated" in connected["output"]
    timer = db_session.scalar(select(Timer).where(Timer.kind == "subscriptions.renew"))
    expiry = datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))
    assert timer is not None and timer.state == "pending"
    assert abs(timer.due_at - (expiry - timedelta(hours=24))) < timedelta(seconds=2), "a day before it expires"
    assert levels(db_session) == {("FUT-OAK", "warehouse"): 5, ("FUT-OAK", "showroom"): 2,
                                  ("FUT-ASH", "warehouse"): 1, ("FUT-ASH", "showroom"): 0}


def test_a_notification_is_stored_once_a_forged_one_refused_and_the_change_read(connected: dict[str, Any],
                                                                               db_session: Session) -> None:
    from domain.core.models import InboxEvent, Store
    from tasks.inbound import drain
    from tasks.polling import poll_store

    admin(connected, "set_stock", {"sku": "FUT-OAK", "location": "SHOWROOM", "quantity": 0})
    [sent] = admin(connected, "notify", {"sku": "FUT-OAK"})["webhooks"]
    assert sent["status"] == 200
    url = f"{connected['web']}/webhooks/bc-erp/notifications"
    again = requests.post(url, data=sent["body"], headers={"Content-Type": "application/json"}, timeout=10)
    forged = requests.post(url, data=sent["body"].replace('"clientState": "', '"clientState": "x'),
                           headers={"Content-Type": "application/json"}, timeout=10)

    assert again.json() == {"status": "accepted", "accepted": 0, "duplicates": 1}
    assert forged.status_code == 401
    assert db_session.scalar(select(func.count()).select_from(InboxEvent)) == 1
    event = db_session.scalar(select(InboxEvent))
    assert event is not None and (event.kind, event.topic) == ("sku_modified", "items.updated")

    store = db_session.scalar(select(Store).where(Store.key == "bc-erp"))
    assert store is not None
    store.next_poll_at = datetime.now(UTC) + timedelta(minutes=15)  # the next read as its interval has it
    db_session.commit()
    drain.apply(args=["bc-erp"]).get()
    db_session.expire_all()
    assert store.next_poll_at is not None and store.next_poll_at <= datetime.now(UTC), \
        "the notification made the next read due now"
    assert db_session.scalar(select(InboxEvent.state)) == "done"
    poll_store.apply(args=[store.id]).get()
    assert levels(db_session)[("FUT-OAK", "showroom")] == 0
    incremental = [r for r in admin(connected, "requests?path_contains=itemLedgerEntries")["requests"]
                   if "entryNo gt" in r["query"].get("$filter", "")]
    assert incremental, "the change was fetched by an incremental read"


def test_the_validation_handshake_is_answered_only_for_a_known_store(connected: dict[str, Any]) -> None:
    base = f"{connected['web']}/webhooks"
    echoed = requests.post(f"{base}/bc-erp/notifications", params={"validationToken": "tok-123"}, timeout=10)
    assert (echoed.status_code, echoed.text, echoed.headers["content-type"].split(";")[0]) == (
        200, "tok-123", "text/plain")
    assert requests.post(f"{base}/nobody/notifications", params={"validationToken": "t"}, timeout=10
                         ).status_code == 404


def test_the_timer_renews_the_subscription_before_it_expires(connected: dict[str, Any], db_session: Session) -> None:
    from domain.core.models import Timer
    from tasks.subscriptions import renew
    from tasks.timers import fire_due

    [sub] = admin(connected, "state/subscriptions")["subscriptions"]
    expiry = datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))
    timer = db_session.scalar(select(Timer).where(Timer.kind == "subscriptions.renew"))
    assert timer is not None
    with later(datetime.now(UTC) + timedelta(hours=47)):
        fire_due.apply().get()
        assert db_session.scalar(select(Timer.state).where(Timer.id == timer.id)) == "pending", "not due yet"
    with later(timer.due_at + timedelta(minutes=1)):
        fire_due.apply().get()
        db_session.expire_all()
        guard = db_session.scalar(select(Timer).where(Timer.kind == "subscriptions.renew", Timer.state == "pending"))
        assert guard is not None and guard.id != timer.id, "a fired renewal leaves a row to try again"
        assert renew.apply(args=[timer.subject_id]).get() == "renewed:1"

    [renewed] = admin(connected, "state/subscriptions")["subscriptions"]
    new_expiry = datetime.fromisoformat(renewed["expirationDateTime"].replace("Z", "+00:00"))
    assert renewed["subscriptionId"] == sub["subscriptionId"] and new_expiry > expiry
    assert [h["outcome"] for h in admin(connected, "state/handshakes")["handshakes"]] == ["validated", "validated"]
    [patch] = admin(connected, "requests?method=PATCH")["requests"]
    assert patch["status"] == 200 and patch["path"].endswith(f"/v2.0/subscriptions('{sub['subscriptionId']}')")
    db_session.expire_all()
    [pending] = db_session.scalars(select(Timer).where(Timer.kind == "subscriptions.renew",
                                                       Timer.state == "pending")).all()
    assert abs(pending.due_at - (new_expiry - timedelta(hours=24))) < timedelta(seconds=2)
