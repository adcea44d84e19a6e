"""The kit's model-call parts without HTTP: searches by domain, the serialized exception, the
automation rule's notification body."""
from __future__ import annotations

import json

import pytest

from sandbox.kit import KitState
from sandbox.kit.model_rpc import Domains, ServerError, external_api, field_notification

TABLES = {"place": {1: {"id": 1, "usage": "internal"}, 2: {"id": 2, "usage": "view"}},
          "quant": {1: {"id": 1, "place_id": 1, "qty": 3, "stamp": "b"}, 2: {"id": 2, "place_id": 2, "qty": 9, "stamp": "c"},
                    3: {"id": 3, "place_id": 1, "qty": 5, "stamp": "a"}}}
DOMAINS = Domains({"place_id": "place"})


def test_a_domain_follows_many2one_paths_and_orders_offsets_and_limits() -> None:
    internal = [["place_id.usage", "=", "internal"]]
    assert [r["id"] for r in DOMAINS.search(TABLES, "quant", internal, {})] == [1, 3]
    assert [r["id"] for r in DOMAINS.search(TABLES, "quant", internal, {"order": "stamp desc", "limit": 1})] == [1]
    assert [r["id"] for r in DOMAINS.search(TABLES, "quant", ["&", ["qty", ">=", 5]], {"offset": 1})] == [3]
    assert DOMAINS.search(TABLES, "quant", [["missing_id.usage", "=", "internal"]], {}) == []


def test_an_invalid_leaf_refuses_the_whole_domain_as_the_server_does() -> None:
    with pytest.raises(ServerError) as raised:
        DOMAINS.search(TABLES, "quant", [["qty", ">", 1], ["qty", "~", 2]], {})
    body = raised.value.body()
    assert (body["code"], body["message"], body["data"]["name"]) == (200, "Odoo Server Error", "builtins.ValueError")
    assert body["data"]["arguments"] == ["Invalid leaf ['qty', '~', 2]"]


class State:
    credentials = {"database": "db", "login": "me", "api_key": "k"}


def test_the_external_api_checks_the_database_login_and_key_before_executing() -> None:
    ran: list[tuple[str, str, list[object], dict[str, object]]] = []

    def execute(state: object, model: str, method: str, args: list[object], kwargs: dict[str, object]) -> str:
        ran.append((model, method, args, kwargs))
        return "done"

    def call(service: str, method: str, *args: object) -> object:
        return external_api(State(), {"service": service, "method": method, "args": list(args)}, execute, 7, "18.0")

    assert call("common", "version")["server_version"] == "18.0"  # type: ignore[index]
    assert call("common", "authenticate", "db", "me", "k", {}) == 7
    assert call("common", "authenticate", "db", "me", "wrong", {}) is False
    assert call("object", "execute_kw", "db", 7, "k", "quant", "read", [[1]], {"fields": ["qty"]}) == "done"
    assert ran == [("quant", "read", [[1]], {"fields": ["qty"]})]
    cases: list[tuple[tuple[object, ...], str]] = [
        (("other", 7, "k", "m", "x", []), "psycopg2.OperationalError"),
        (("db", 7, "wrong", "m", "x", []), "odoo.exceptions.AccessDenied"), (("db", 7, "k", "m"), "builtins.TypeError")]
    for args, name in cases:
        with pytest.raises(ServerError) as raised:
            call("object", "execute_kw", *args)
        assert raised.value.name == name
    assert len(ran) == 1


def test_the_rules_notification_is_the_chosen_fields_sorted_and_kept_as_a_delivery() -> None:
    state = KitState("acme")
    body = field_notification(state, {"url": "http://hook", "fields": ["qty", "lot"]}, "quant", TABLES["quant"][1])
    assert body == json.dumps({"_action": "Send Webhook Notification(#41)", "_id": 1, "_model": "quant", "lot": False,
                               "qty": 3}, sort_keys=True).encode()
    assert state.deliveries == [{"address": "http://hook", "body": body.decode(),
                                 "headers": {"Content-Type": "application/json"}}]
