"""The helpdesk records and registry: what the web edge stores reads back the same; the registry
builds each platform's connector and refuses an unknown one."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.helpdesk.contract import HelpdeskDelivery, TicketRecord, TicketUpdate, note_marker, with_marker
from connectors.helpdesk.common import note_once
from connectors.helpdesk.registry import build_helpdesk
from connectors.types import ConnectorConfig


def test_a_ticket_survives_the_json_the_inbox_keeps() -> None:
    ticket = TicketRecord("gorgias", "42", "Late", "Where is it?", "a@example.com", "Ana", "7", "email", ("vip",),
                          "high", "open", "3", "9", "fr", datetime(2026, 12, 1, 9, tzinfo=UTC),
                          datetime(2026, 12, 1, 10, tzinfo=UTC), {"id": 42})
    stored = HelpdeskDelivery("gorgias", "gorgias:42:ticket-created", "ticket-created", ticket).as_json()
    assert TicketRecord.from_json(stored["ticket"]) == ticket


def test_a_note_is_posted_unless_one_carries_the_marker_already() -> None:
    update = TicketUpdate("1", "k-1", note="Draft")
    posted: list[str] = []
    first = note_once(update, lambda: [("5", "customer text")], lambda: posted.append("x") or "9", ("tags",))
    assert (first.note_id, first.note_existed, first.fields_written) == ("9", False, ("tags", "note"))
    again = note_once(update, lambda: [("9", with_marker("Draft", "k-1"))], lambda: posted.append("y") or "10", ())
    assert (again.note_id, again.note_existed, posted) == ("9", True, ["x"])
    assert note_marker("k-1") in with_marker("Draft", "k-1")
    assert note_once(TicketUpdate("1", "k-2"), lambda: [], lambda: "never", ()).note_id == ""


def test_the_registry_builds_each_platform_and_defaults_intercoms_host() -> None:
    creds = {"email": "e", "api_token": "t", "api_key": "k", "access_token": "a"}
    for platform in ("zendesk", "gorgias", "intercom"):
        connector = build_helpdesk(platform, ConnectorConfig("h", "https://x.example", creds, options={"admin_id": "1"}))
        assert connector.platform == platform
    intercom = build_helpdesk("intercom", ConnectorConfig("h", "", {"access_token": "a"}, options={"admin_id": "1"}))
    assert intercom.base_url == "https://api.intercom.io"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown helpdesk platform 'freshdesk'"):
        build_helpdesk("freshdesk", ConnectorConfig("h", "https://x.example"))
