"""``backorders disputes list|show|approve|submit`` and ``backorders why dispute`` on the real
database, human and ``--json``."""
from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import Dispute
from flows import dispute_desk
from tests.integration.chargebacks.conftest import Desk
from tests.integration.chargebacks.test_flow import _opened
from workers.cli import main


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_list_show_approve_submit_and_why(db_session: Session, desk: Desk) -> None:
    dispute_id = _opened(db_session, desk, ref="ch_E", number="#6001", due=utcnow() + timedelta(days=5))
    waiting = _opened(db_session, desk, ref="ch_F", number="#6002", due=utcnow() + timedelta(days=3), delivered=False)
    [stage_call] = desk.work.take("tasks.disputes.call_provider")  # the incomplete one is not staged
    assert dispute_desk.call_provider(desk.work, stage_call) == "done"

    listed = json.loads(_run("disputes", "list", "--json"))
    assert [(d["id"], d["state"], d["missing"]) for d in listed] == [
        (waiting, "packet_ready", ["delivery_proof"]), (dispute_id, "staged", [])]  # soonest deadline first
    assert "missing: delivery_proof" in _run("disputes", "list")

    shown = json.loads(_run("disputes", "show", str(dispute_id), "--json"))
    assert shown["packet"]["rule"].startswith("not received") and shown["case"]["queue"] == "disputes"
    assert shown["calls"][0]["action"] == "stage" and shown["calls"][0]["state"] == "done"
    assert json.loads(_run("disputes", "show", "dp_ch_E", "--json"))["id"] == dispute_id  # by the provider's ref
    human = _run("disputes", "show", str(waiting))
    assert "missing Delivered scan or signature: the carrier has no delivered scan or signature yet" in human
    assert "no dispute 999" in _run("disputes", "show", "999", code=1)

    assert "only approved evidence is submitted" in _run("disputes", "submit", str(dispute_id), code=1)
    approved = json.loads(_run("disputes", "approve", str(dispute_id), "--by", "dana", "--json"))
    assert approved["state"] == "approved" and approved["approved_by"] == "dana"
    assert "only a packet ready or staged can be approved" in _run("disputes", "approve", str(dispute_id), code=1)
    # the worker would send it; a person may send it now instead, once
    submitted = json.loads(_run("disputes", "submit", str(dispute_id), "--json"))
    assert submitted["result"] == "done"
    assert len(desk.providers["stripe-main"].submitted) == 1
    assert "is submitted: only approved evidence is submitted" in _run("disputes", "submit", str(dispute_id), code=1)
    db_session.expire_all()
    found = db_session.get(Dispute, dispute_id)
    assert found is not None and found.state == "submitted"

    trail = json.loads(_run("why", "dispute", str(dispute_id), "--json"))
    assert trail["subject"] == f"dispute {dispute_id} (stripe dp_ch_E)"
    assert any("approved" in e["text"] and "dana" in e["text"] for e in trail["events"])
    assert "stage call done" in _run("why", "dispute", str(dispute_id))
    assert "no dispute" in _run("why", "dispute", "nope", code=1)
