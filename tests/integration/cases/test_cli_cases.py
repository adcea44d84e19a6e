"""``backorders cases list|show|assign|resolve`` on the real database, human and ``--json``."""
from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.models import CaseEvent
from tests.integration.cases.conftest import open_for
from workers.cli import main

FRAME = "FUT-FRM-OAK-FULL"


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["cases", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_list_show_assign_resolve(db_session: Session, journey_settings: Any) -> None:
    config = journey_settings.config
    fraud = open_for(db_session, config, kind="fraud_hold", sku=FRAME, channel="shopify-main", subject_id=1)
    backorder = open_for(db_session, config, kind="backorder", sku=FRAME, channel="woo-outlet", subject_id=2)
    db_session.commit()

    listed = json.loads(_run("list", "--json"))
    assert [(c["id"], c["kind"], c["queue"], c["priority"], c["channel"]) for c in listed] == [
        (fraud.id, "fraud_hold", "risk", "urgent", "shopify-main"),  # most urgent first
        (backorder.id, "backorder", "fulfilment", "normal", "woo-outlet")]
    assert [c["id"] for c in json.loads(_run("list", "--queue", "risk", "--json"))] == [fraud.id]
    assert f"#{backorder.id}" in _run("list", "--queue", "fulfilment")

    shown = json.loads(_run("show", str(fraud.id), "--json"))
    assert shown["playbook"][0] == "Review the fraud signals and the customer's prior orders"  # from the file
    assert shown["route_index"] == 3 and [e["action"] for e in shown["history"]] == ["opened"]
    default_playbook = json.loads(_run("show", str(backorder.id), "--json"))["playbook"]
    assert default_playbook[0] == "Check the ETA and open POs for the SKU"  # the default for the kind

    assigned = json.loads(_run("assign", str(fraud.id), "sam", "--by", "dana", "--json"))
    assert assigned == {"id": fraud.id, "state": "in_progress", "owner": "sam"}
    resolved = json.loads(_run("resolve", str(fraud.id), "--note", "verified by phone", "--by", "sam", "--json"))
    assert resolved["state"] == "resolved"
    assert "cannot move from resolved" in _run("resolve", str(fraud.id), "--note", "again", code=1)
    assert "no case 999" in _run("show", "999", code=1)

    human = _run("show", str(fraud.id))
    assert "playbook:" in human and "sam: resolved in_progress→resolved — verified by phone" in human
    db_session.expire_all()
    history = db_session.execute(select(CaseEvent.actor, CaseEvent.action, CaseEvent.to_state)
                                 .where(CaseEvent.case_id == fraud.id).order_by(CaseEvent.id)).tuples().all()
    assert history == [("test", "opened", "open"), ("dana", "assigned", None), ("dana", "state", "in_progress"),
                       ("sam", "resolved", "resolved")]
    assert [c["id"] for c in json.loads(_run("list", "--json"))] == [backorder.id]  # resolved ones drop off
    assert [c["id"] for c in json.loads(_run("list", "--state", "resolved", "--json"))] == [fraud.id]
