"""Capabilities are declared on connector classes and checked by name, never probed with ``getattr``."""
from __future__ import annotations

import pathlib
import re
from typing import Any, ClassVar, Iterator

import pytest

from connectors.base import Capability, RestConnector, UnsupportedCapability, refuses, require, supports
from connectors.capabilities import METHODS, mismatches
from connectors.errors import PermanentError
from connectors.registry import CONNECTORS
from connectors.types import ConnectorConfig, RefundRequest, StockPage

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("platform", sorted(CONNECTORS))
def test_every_connector_declares_exactly_what_it_implements(platform: str) -> None:
    assert mismatches(CONNECTORS[platform]) == []


def test_a_declared_capability_without_its_method_is_caught() -> None:
    class Boasts(RestConnector):
        platform: ClassVar[str] = "boasts"
        capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.REFUNDS, Capability.RECEIPTS})

    assert mismatches(Boasts) == [
        "Boasts declares refunds but lacks refund_line",
        "Boasts declares receipts but lacks fetch_receipts",
    ]


def test_an_undeclared_method_is_caught_and_a_marked_refusal_is_not() -> None:
    class Hides(RestConnector):
        platform: ClassVar[str] = "hides"

        def fetch_stock(self, since: str | None) -> Iterator[StockPage]:
            return iter(())

        @refuses(Capability.WEBHOOKS)
        def verify_webhook(self, headers: Any, body: bytes) -> None:
            raise NotImplementedError

        def parse_webhook(self, headers: Any, body: bytes) -> None:
            raise NotImplementedError

    assert mismatches(Hides) == ["Hides implements fetch_stock but does not declare stock_read"]


def test_supports_and_require_read_the_declaration() -> None:
    netsuite, shopify = CONNECTORS["netsuite"], CONNECTORS["shopify"]
    assert supports(netsuite, Capability.RECEIPTS) and not supports(shopify, Capability.RECEIPTS)
    require(shopify, Capability.REFUNDS)
    with pytest.raises(UnsupportedCapability, match="shopify: reading receipts is not supported") as caught:
        require(shopify, Capability.RECEIPTS)
    assert isinstance(caught.value, PermanentError) and caught.value.capability is Capability.RECEIPTS


def test_an_undeclared_refund_is_refused_by_name_without_a_request() -> None:
    odoo = CONNECTORS["odoo"](ConnectorConfig(store_key="erp", base_url="http://127.0.0.1:9",
                                               credentials={"database": "d", "login": "l", "api_key": "k"}))
    with pytest.raises(UnsupportedCapability, match="odoo: refunds are not supported by this connector"):
        odoo.refund_line(RefundRequest("1", "2", 1, 100, "USD", "r", "k"))


def test_every_capability_names_its_methods() -> None:
    assert set(METHODS) == set(Capability)


def test_no_product_module_probes_a_connector_for_an_ability() -> None:
    names = sorted({name for methods in METHODS.values() for name in methods})
    probe = re.compile(r"(?:getattr|hasattr)\([^)]*[\"'](%s)[\"']" % "|".join(names))
    found = [f"{path.relative_to(ROOT)}:{n}" for part in ("domain", "tasks", "workers", "connectors")
             for path in sorted((ROOT / part).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if probe.search(line)]
    assert found == []
