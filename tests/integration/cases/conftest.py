"""Fixtures of the case tests: the example configuration loaded, and a case opener on it."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import domain.cases.sla  # noqa: F401  (registers the case SLA timer handler, as tasks.timers does)
import domain.core.env_settings as runtime_settings
from domain.cases import lifecycle
from domain.core.models import Case, Sku, Store


@pytest.fixture
def journey_settings(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> runtime_settings.JourneySettings:
    """The settings every timer handler and listener reads (``runtime_settings.current``), on the example file."""
    settings = runtime_settings.JourneySettings(config=catalog, public_base_url="https://shop.example",
                                                secret_key="k" * 40)
    monkeypatch.setattr(runtime_settings, "current", lambda: settings)
    return settings


def open_for(session: Session, config: Any, *, kind: str, sku: str, channel: str, tier: str | None = None,
             subject_id: int = 1) -> Case:
    sku_id = session.scalar(select(Sku.id).where(Sku.code == sku))
    store_id = session.scalar(select(Store.id).where(Store.key == channel))
    assert sku_id is not None and store_id is not None
    return lifecycle.open_case(session, lifecycle.NewCase(
        kind=kind, subject_type="test", subject_id=subject_id, summary=f"{kind} on {sku}", store_id=store_id,
        sku_ids=(sku_id,), tier=tier), config, actor="test")
