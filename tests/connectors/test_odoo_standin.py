"""The Odoo stand-in's own wire behaviour over real HTTP: the web login and a proxy's fault page."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox.odoo import DEFAULT_PASSWORD, DEFAULTS

Admin = Any  # tests/connectors/conftest.py::Admin


@pytest.fixture
def admin(admin_for: Callable[[str, str], Admin]) -> Admin:
    return admin_for("odoo", f"odoo-{uuid.uuid4().hex[:8]}")


def login(admin: Admin, **params: str) -> requests.Response:
    body = {"jsonrpc": "2.0", "method": "call", "id": 7, "params": {
        "db": DEFAULTS["database"], "login": DEFAULTS["login"], "password": DEFAULT_PASSWORD, **params}}
    return requests.post(f"{admin.root}/web/session/authenticate", json=body, timeout=10)


def test_web_login_answers_the_session_info_and_a_session_cookie(admin: Admin) -> None:
    answer = login(admin)
    assert answer.status_code == 200 and answer.json()["id"] == 7
    info = answer.json()["result"]
    assert info["uid"] == 2 and info["db"] == DEFAULTS["database"] and info["username"] == DEFAULTS["login"]
    assert len(answer.cookies["session_id"]) == 40


@pytest.mark.parametrize(("params", "name", "message"), [
    ({"password": DEFAULTS["api_key"]}, "odoo.exceptions.AccessDenied", "Access Denied"),
    ({"db": "elsewhere"}, "odoo.exceptions.AccessError", "Database not found."),
], ids=["api-key-is-no-password", "unknown-database"])
def test_web_login_refusals_are_odoo_errors_without_a_cookie(admin: Admin, params: dict[str, str], name: str,
                                                            message: str) -> None:
    answer = login(admin, **params)
    assert answer.status_code == 200 and "session_id" not in answer.cookies
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (200, "Odoo Server Error")
    assert (error["data"]["name"], error["data"]["message"]) == (name, message)
    assert admin.requests_log("POST", "session/authenticate")[-1]["error"] == name


def test_a_fault_is_the_proxys_html_page_and_only_hits_the_named_call(admin: Admin) -> None:
    admin.post("faults", {"status": 503, "count": 1, "call": "purchase.order.create"})
    version = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": "common", "method": "version"}}
    assert requests.post(f"{admin.root}/jsonrpc", json=version, timeout=10).json()["result"]["protocol_version"] == 1

    create = {"jsonrpc": "2.0", "method": "call", "id": 2, "params": {"service": "object", "method": "execute_kw",
              "args": [DEFAULTS["database"], 2, DEFAULTS["api_key"], "purchase.order", "create", [{}]]}}
    refused = requests.post(f"{admin.root}/jsonrpc", json=create, timeout=10)
    assert refused.status_code == 503 and refused.headers["content-type"].startswith("text/html")
    assert "503 Service Unavailable" in refused.text
    again = requests.post(f"{admin.root}/jsonrpc", json=create, timeout=10).json()
    assert again["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
