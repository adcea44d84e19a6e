"""Worker and beat stopped between a notice and its deadline, restarted after it: nothing lost.

The reminder and the deadline are timer rows; with every process down when they fall due, the
restarted beat's sweeper fires each exactly once.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.types import OrderLineRecord, OrderRecord, StockRecord
from domain.core.business_config import load_config
from domain.core.clock import utcnow
from domain.core.models import AuditLog, Backorder, OutboxMessage, Store, Timer
from domain.journey import customer_journey
from domain.stock.catalog import apply_config
from domain.stock.levels import record_batch
from domain.stock.orders import record_orders
from tests.conftest import REPO_ROOT, wait_for


def _processes(env: dict[str, str], logs: Path, tag: str) -> list[subprocess.Popen[bytes]]:
    bin_dir = Path(sys.executable).parent
    return [subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=open(logs / f"{name}-{tag}.log", "wb"),
                             stderr=subprocess.STDOUT, start_new_session=True)
            for name, argv in (
                ("worker", [str(bin_dir / "celery"), "-A", "workers.app", "worker", "-Q",
                            "sync,detect,default,timers", "-c", "2", "-l", "WARNING", "-n", f"restart-{tag}@%h"]),
                ("beat", [str(bin_dir / "celery"), "-A", "workers.app", "beat", "-l", "WARNING", "--schedule",
                          str(logs / f"beat-{tag}")]))]


def _stop(procs: list[subprocess.Popen[bytes]], sig: int) -> None:
    for proc in procs:
        os.killpg(proc.pid, sig)
    for proc in procs:
        proc.wait(timeout=30)


@pytest.mark.e2e
def test_timers_survive_a_full_stop(services: dict[str, str], db_session: Session, tmp_path: Path) -> None:
    text = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
    text = re.sub(r'(?m)^reminder_after = "[^"]*"', 'reminder_after = "4s"', text)
    text = re.sub(r'(?m)^sla = "72h"', 'sla = "10s"', text)
    config_path = tmp_path / "store.toml"
    config_path.write_text(text)
    config = load_config(config_path)
    apply_config(db_session, config)
    shop = db_session.scalar(select(Store.id).where(Store.key == "shopify-main"))
    record_batch(db_session, shop, [StockRecord(external_id="v1", sku="FUT-FRM-OAK-FULL",  # type: ignore[arg-type]
                                                location_external_id="655441491", available=0, on_hand=0)])
    [backorder_id] = record_orders(db_session, shop, [OrderRecord(  # type: ignore[arg-type]
        external_id="9001", number="#9001", placed_at=utcnow(), email="jamie@example.com", phone=None,
        customer_name="Jamie", lines=[OrderLineRecord(external_id="9001-1", sku="FUT-FRM-OAK-FULL", quantity=1,
                                                      title="Oak futon frame", price_cents=64900)])]).backorder_ids
    settings = customer_journey.Settings(config, "https://shop.example", os.environ["SECRET_KEY"])
    customer_journey.offer(db_session, backorder_id, settings)
    db_session.commit()
    deadline = db_session.scalar(select(Backorder.deadline_at).where(Backorder.id == backorder_id))
    assert deadline is not None

    env = {**os.environ, "BACKORDERS_CONFIG": str(config_path), "SWEEP_INTERVAL_S": "1",
           "PUBLIC_BASE_URL": "https://shop.example"}
    first = _processes(env, tmp_path, "first")
    time.sleep(2)
    _stop(first, signal.SIGKILL)  # the harshest stop: no warm shutdown
    assert db_session.scalar(select(func.count()).select_from(Timer).where(Timer.state == "pending")) == 2
    while utcnow() < deadline + timedelta(seconds=2):
        time.sleep(0.5)

    second = _processes(env, tmp_path, "second")
    try:
        def settled() -> bool:
            db_session.expire_all()
            return db_session.scalar(select(func.count()).select_from(Timer).where(Timer.state == "pending")) == 0
        wait_for(settled, timeout_s=60)
    finally:
        _stop(second, signal.SIGTERM)

    db_session.expire_all()
    fired = db_session.scalars(select(Timer).where(Timer.subject_type == "backorder",
                                                Timer.subject_id == backorder_id)).all()
    assert sorted((t.kind, t.state) for t in fired) == [("backorder.deadline", "fired"),
                                                        ("backorder.reminder", "fired")]
    assert db_session.scalar(select(Backorder.state).where(Backorder.id == backorder_id)) == "accepted_wait"
    reminders = db_session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "backorder_reminder"))
    assert reminders == 1, "one reminder (email only: no phone on the order)"
    decisions = db_session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "backorder.transition", AuditLog.subject_id == str(backorder_id),
        AuditLog.data["to_state"].astext == "accepted_wait"))
    assert decisions == 1
