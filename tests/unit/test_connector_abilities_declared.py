"""What the pipeline asks of a connector is declared on the connector, never probed for.

``webhook_headers`` (the headers a stored delivery keeps to be parsed again) is part of the
``Connector`` protocol with an empty default on the base, so ``workers.webhooks`` reads it
directly; and no module of the pipeline looks a connector's abilities up with ``getattr``/``hasattr``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.base import Connector, RestConnector
from connectors.registry import CONNECTORS

ROOT = Path(__file__).resolve().parents[2]
PROBE = re.compile(r"\b(getattr|hasattr)\(\s*(self\.)?connector\b")


def test_the_protocol_and_the_base_declare_webhook_headers_empty_by_default() -> None:
    assert "webhook_headers" in Connector.__annotations__
    assert RestConnector.webhook_headers == ()


@pytest.mark.parametrize("platform", sorted(set(CONNECTORS) - {"rest"}))
def test_every_built_in_platform_keeps_no_extra_headers(platform: str) -> None:
    assert CONNECTORS[platform].webhook_headers == ()


def test_no_pipeline_module_probes_a_connector_with_getattr_or_hasattr() -> None:
    probes = [f"{path.relative_to(ROOT)}:{n}" for folder in ("workers", "tasks", "flows", "domain")
              for path in sorted((ROOT / folder).rglob("*.py"))
              for n, line in enumerate(path.read_text().splitlines(), 1) if PROBE.search(line)]
    assert probes == []


def test_the_probe_pattern_catches_what_it_forbids() -> None:
    assert PROBE.search('getattr(connector, "webhook_headers", ())')
    assert PROBE.search('hasattr(self.connector, "find_sent")')
    assert not PROBE.search("connector.webhook_headers")
