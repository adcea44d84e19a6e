"""``backorders csat report|answer`` and ``backorders notify-me add|list`` from the command line."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Case, CsatRequest
from tests.integration.csat.conftest import SKU
from workers.cli import main


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_notify_me_add_and_list(db_session: Session, journey_settings: Any) -> None:
    assert "number 1 in the queue" in _run("notify-me", "add", "--sku", SKU, "--email", "a@example.com")
    assert "number 2 in the queue" in _run("notify-me", "add", "--sku", SKU, "--phone", "+14155550123",
                                           "--store", "shopify-main")
    assert "already waiting: number 1" in _run("notify-me", "add", "--sku", SKU, "--email", "a@example.com")
    assert "needs a valid email" in _run("notify-me", "add", "--sku", SKU, code=1)
    rows = json.loads(_run("notify-me", "list", "--sku", SKU, "--json"))
    assert [(r["contact"], r["channel"], r["position"]) for r in rows] == [
        ("a@example.com", "email", 1), ("+14155550123", "sms", 2)]


def test_csat_answer_and_report(db_session: Session, journey_settings: Any) -> None:
    now = utcnow()
    for n, (queue, score) in enumerate((("fulfilment", 5), ("fulfilment", None), ("vip", 4)), start=1):
        db_session.add(CsatRequest(subject_kind="backorder", subject_id=n, queue=queue, intent="shipped",
                                   resolved_by="bot:journey", resolved_at=now - timedelta(days=1),
                                   recipient=f"c{n}@example.com", expires_at=now + timedelta(days=30), score=score))
    db_session.commit()
    assert "survey 2: 1/5 saved, follow_up" in _run("csat", "answer", "2", "1", "--comment", "late")
    report = json.loads(_run("csat", "report", "--days", "7", "--json"))
    queues = {r["group"]: r for r in report["queue"]}
    assert (queues["fulfilment"]["answered"], queues["fulfilment"]["negative"], queues["fulfilment"]["csat"]) == (
        2, 1, "50.0%")
    assert report["comments"][0]["comment"] == "late" and report["comments"][0]["decision"] == "follow_up"
    text = _run("csat", "report")
    assert "per queue" in text and "fulfilment" in text and "1/5 backorder 2 (fulfilment) -> follow_up: late" in text
    db_session.expire_all()
    follow_up = db_session.scalar(select(Case).where(Case.kind == "csat_follow_up"))
    assert follow_up is not None and follow_up.queue == "cx"
    assert "no survey 99" in _run("csat", "answer", "99", "3", code=1)
