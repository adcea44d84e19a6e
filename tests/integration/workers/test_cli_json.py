"""``--json`` on every command that prints data: the same facts a script can parse; and
``redrive`` of an id that is not waiting exits 1 and re-sends nothing."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import DeadLetter, Sku
from tests.conftest import REPO_ROOT
from workers.cli import main

EXAMPLE = REPO_ROOT / "examples" / "futon-store.toml"


def _json(args: list[str], exit_code: int = 0) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def test_config_check_and_apply_print_json(db_session: Session, tmp_path: Path) -> None:
    assert _json(["config", "check", str(EXAMPLE), "--json"]) == {
        "file": str(EXAMPLE), "ok": True, "problems": [], "warnings": [], "stores": 6, "locations": 2, "vendors": 3, "skus": 30}
    broken = tmp_path / "broken.toml"
    broken.write_text(EXAMPLE.read_text().replace('timezone = "America/New_York"', 'timezone = "Mars/Olympus"', 1))
    bad = _json(["config", "check", str(broken), "--json"], exit_code=1)
    assert bad["ok"] is False and any("timezone" in p for p in bad["problems"]), bad
    applied = _json(["config", "apply", str(EXAMPLE), "--json"])
    assert applied["skus"] == 30 and applied["stores"] == 6


def test_sync_eta_vendors_and_redrive_print_json(sandboxed: str, db_session: Session) -> None:
    synced = _json(["sync", "shopify-main", "--full", "--json"])
    assert synced["records"] == 30 and synced["full"] is True and synced["unmatched"] == 0
    assert {"sku": "FUT-FRM-MET-FULL", "from_state": "IN_STOCK", "to_state": "LOW"} in [
        {k: t[k] for k in ("sku", "from_state", "to_state")} for t in synced["transitions"]]
    assert all(t["numbers"]["available"] == 4 for t in synced["transitions"]), "4 of each on the stand-in"

    when = (utcnow() + timedelta(days=20)).date()
    eta = _json(["eta", "set", "FUT-FRM-OAK-FULL", when.isoformat(), "--json"])
    assert eta == {"sku": "FUT-FRM-OAK-FULL", "eta": when.isoformat(), "waiting_backorders": 0, "messages_queued": 0}
    assert db_session.scalar(select(Sku.eta).where(Sku.code == "FUT-FRM-OAK-FULL")) == when

    report = _json(["vendors", "report", "--json"])
    assert set(report) == {"since", "until", "vendors"}

    dead = DeadLetter(task_name="tasks.stock.evaluate", task_id="t-1", args=[[1]], kwargs={}, error="boom")
    db_session.add(dead)
    db_session.commit()
    missing = CliRunner().invoke(main, ["redrive", str(dead.id), "424242"])
    assert missing.exit_code == 1 and "no dead letter #424242" in missing.stderr
    db_session.refresh(dead)
    assert dead.redriven_at is None, "nothing is re-sent when one id is unknown"
    assert "no inbound webhook #99" in CliRunner().invoke(main, ["redrive", "--inbox", "99"]).stderr
    sent = _json(["redrive", str(dead.id), "--json"])
    assert sent["dead_letters"] == [{"id": dead.id, "task": "tasks.stock.evaluate", "args": [[1]]}]
    again = CliRunner().invoke(main, ["redrive", str(dead.id)])
    assert again.exit_code == 1 and "already re-driven" in again.stderr
