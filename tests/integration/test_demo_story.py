"""The demo says what happened, read from the rows: a text held for quiet hours is said to be held,
and a figure is told once it has stopped moving."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from demo.processes import DemoFailed, Processes
from demo.run import notices_told, settled
from domain.core.models import OutboxMessage


def test_a_held_text_is_told_as_held_and_a_sent_email_as_sent(db_session: Session, tmp_path: Path) -> None:
    morning = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    db_session.add_all([
        OutboxMessage(idempotency_key="backorder:901:backorder_notice:1:email", channel="email",
                      template="backorder_notice", recipient="jamie@example.com", state="sent"),
        OutboxMessage(idempotency_key="backorder:901:backorder_notice:1:sms", channel="sms",
                      template="backorder_notice", recipient="+12015550123", state="pending", not_before=morning),
    ])
    db_session.commit()
    told = notices_told({"jamie@example.com": 901}, "backorder_notice", Processes(tmp_path, {}))
    assert told == f"Jamie: email sent, sms held for quiet hours until {morning:%H:%M} UTC"


def test_a_message_still_on_its_way_is_not_told_as_sent(db_session: Session, tmp_path: Path) -> None:
    db_session.add(OutboxMessage(idempotency_key="backorder:902:backorder_notice:1:email", channel="email",
                                 template="backorder_notice", recipient="sam@example.com", state="pending"))
    db_session.commit()
    with pytest.raises(DemoFailed, match="the backorder notices to leave or be held"):
        notices_told({"sam@example.com": 902}, "backorder_notice", _quick(tmp_path))


def test_a_figure_is_told_once_it_stops_moving(tmp_path: Path) -> None:
    readings = iter([{"available": 11}, {"available": 10}, {"available": 10}, {"available": 10}])
    assert settled("settle", lambda: next(readings), Processes(tmp_path, {}), quiet_s=0.2) == {"available": 10}


def _quick(tmp_path: Path) -> Processes:
    class Quick(Processes):
        def wait(self, what: str, predicate: object, timeout_s: float = 60.0) -> object:
            return super().wait(what, predicate, 0.5)  # type: ignore[arg-type]
    return Quick(tmp_path, {})
