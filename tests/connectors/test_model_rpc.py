"""The shared model-call connector (``execute_kw`` over JSON-RPC, or JSON-2) with nothing of a
platform's own, against the Odoo stand-in over real HTTP."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.model_rpc import ModelRpcConnector
from connectors.types import ConnectorConfig
from sandbox.odoo import DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin


class PlainModels(ModelRpcConnector):
    """No JSON-2 by version, no error names declared."""

    platform: ClassVar[str] = "plainmodels"


class FromNineteen(PlainModels):
    json2_from: ClassVar[int | None] = 19
    transient_error_names: ClassVar[frozenset[str]] = frozenset({"odoo.exceptions.MissingError"})
    auth_error_names: ClassVar[frozenset[str]] = frozenset({"odoo.exceptions.AccessDenied"})


def client(cls: type[PlainModels], admin: Admin, **options: Any) -> PlainModels:
    config = ConnectorConfig(store_key="models", base_url=admin.root, credentials=dict(DEFAULTS), options=options,
                             timeout_s=5.0)
    return cls(config, sleep=lambda _s: None)


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    instance = admin_for("odoo", f"models-{uuid.uuid4().hex[:8]}")
    instance.post("seed", {"version": "19.0", "partners": [{"name": "Kyoto", "ref": "kyoto"}],
                           "products": [{"default_code": "FUT-OAK", "name": "Oak"}, {"name": "No code"}]})
    return instance


@pytest.mark.parametrize(("cls", "options", "json2"), [
    (PlainModels, {"version": "19.0"}, False), (PlainModels, {"version": "19.0", "api": "json2"}, True),
    (FromNineteen, {"version": "19.0"}, True), (FromNineteen, {"version": "saas~19.1"}, True),
    (FromNineteen, {"version": "19.0", "api": "jsonrpc"}, False), (FromNineteen, {"version": "18.0"}, False),
], ids=["no-threshold", "asked", "by-version", "saas-version", "kept-old", "older"])
def test_the_protocol_is_chosen_by_option_then_version_and_both_answer_the_same(
        admin: Admin, cls: type[PlainModels], options: dict[str, Any], json2: bool) -> None:
    models = client(cls, admin, **options)
    rows = models.search_read("product.product", [["default_code", "!=", False]], ["default_code"], order="id")
    assert models.json2 is json2
    assert [r["default_code"] for r in rows] == ["FUT-OAK"]
    assert models.read_records("product.product", [], ["name"]) == []
    [read] = models.read_records("product.product", [int(rows[0]["id"])], ["name"])
    assert read["name"] == "Oak"
    posted = [r["path"] for r in admin.requests_log("POST")]
    assert all(("/json/2/" in p) is json2 and p.endswith("/jsonrpc") is not json2 for p in posted)


@pytest.mark.parametrize("api", ["jsonrpc", "json2"])
def test_create_answers_the_new_id_over_either_protocol(admin: Admin, api: str) -> None:
    models = client(PlainModels, admin, api=api)
    [partner] = models.search_read("res.partner", [["ref", "=", "kyoto"]], ["id"])
    new_id = models.create("purchase.order", {"partner_id": partner["id"], "partner_ref": "PO-1", "order_line": []})
    assert isinstance(new_id, int)
    assert models.search_read("purchase.order", [["partner_ref", "=", "PO-1"]], ["id"]) == [{"id": new_id}]


def test_error_objects_are_classified_by_the_declared_exception_names(admin: Admin) -> None:
    bad = {"partner_id": 999, "order_line": []}
    with pytest.raises(PermanentError) as plain:
        client(PlainModels, admin).create("purchase.order", bad)
    assert str(plain.value).startswith("plainmodels purchase.order.create: Record does not exist")
    assert str(plain.value).endswith("(odoo.exceptions.MissingError)")
    assert not isinstance(plain.value, (AuthError, TransientError))
    with pytest.raises(TransientError, match="Record does not exist"):
        client(FromNineteen, admin, api="jsonrpc").create("purchase.order", bad)

    revoked = client(FromNineteen, admin, api="jsonrpc")
    revoked.uid()
    admin.post("seed", {"reset": False, "api_key": "rotated"})
    with pytest.raises(AuthError, match="plainmodels purchase.order.search_read: Access Denied"):
        revoked.search_read("purchase.order", [], ["id"])


def test_a_refused_login_and_missing_credentials_name_the_platform(admin: Admin) -> None:
    config = ConnectorConfig(store_key="models", base_url=admin.root, credentials={**DEFAULTS, "api_key": "wrong"})
    with pytest.raises(AuthError, match="plainmodels: authentication refused for login"):
        PlainModels(config, sleep=lambda _s: None).uid()
    with pytest.raises(ValueError, match="plainmodels credentials need database, login and api_key"):
        PlainModels(ConnectorConfig(store_key="models", base_url=admin.root, credentials={"login": "x"}))
