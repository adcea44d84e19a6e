"""`status` and `why` say why each pending outbox message waits."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.core.models import OutboxMessage
from domain.messaging.outbox_reasons import explain

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 22:00 the day before in New York
ZONE = ZoneInfo("America/New_York")


def _row(not_before: datetime | None = None, last_error: str | None = None, age: timedelta = timedelta()) -> OutboxMessage:
    return OutboxMessage(channel="sms", template="backorder_notice", recipient="+15550001111", state="pending",
                         not_before=not_before, last_error=last_error, created_at=NOW - age)


def test_each_kind_of_wait_is_named() -> None:
    quiet = NOW + timedelta(hours=10)  # 08:00 the next morning in New York
    assert explain(_row(quiet), NOW, ZONE).text == "held for quiet hours until 08:00 America/New_York time"
    circuit = explain(_row(NOW + timedelta(seconds=30), "twilio circuit open: not attempted, deferred 30.0s"), NOW, ZONE)
    assert circuit.code == "circuit" and "twilio circuit open" in circuit.text
    assert explain(_row(NOW + timedelta(minutes=1), "HTTP 503"), NOW, ZONE).text.startswith("retrying after error: HTTP 503")
    assert explain(_row(), NOW, ZONE).text == "queued for delivery"
    assert "is `notify` running?" in explain(_row(age=timedelta(minutes=5)), NOW, ZONE).text
