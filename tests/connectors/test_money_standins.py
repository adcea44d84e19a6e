"""The money endpoints of the Shopify and WooCommerce stand-ins, over real HTTP: every refusal the
platforms document (body and status), the caps on what can be given back, and what a refund does.

The connector tests (``test_refunds.py``) drive the happy paths; these pin the strictness, so a
stand-in that let an over-refund or a duplicate code through would fail here.
"""
from __future__ import annotations

from typing import Any

import pytest
import requests

Admin = Any  # tests/connectors/conftest.py::Admin

QUANTITY_TOO_HIGH = "cannot refund more items than were purchased"
AMOUNT_TOO_HIGH = "Refund amount exceeds the maximum refundable amount of the transaction"
CANNOT_REFUND = "woocommerce_rest_cannot_create_order_refund"


class Api:
    """A platform's API under one instance, answering (status, JSON body)."""

    def __init__(self, root: str, **auth: Any) -> None:
        self.root, self.auth = root, auth

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        """A ``str`` body is sent as it is (to send what is not JSON), anything else as JSON."""
        raw = isinstance(body, str)
        response = requests.request(method, f"{self.root}/{path}", params=params, timeout=10,
                                    json=None if raw else body, data=body if raw else None, **self.auth)
        return response.status_code, response.json()


# --- Shopify ------------------------------------------------------------------------------------


@pytest.fixture
def shop_api(shop: Admin) -> Api:
    return Api(f"{shop.root}/admin/api/2025-01", headers={"X-Shopify-Access-Token": "shpat_sandbox"})


@pytest.fixture
def shop_order(shop: Admin) -> dict[str, Any]:
    """Paid 423.00 through ``manual``: 2 futons at 199.00 (line 0), 1 cover at 25.00 (line 1)."""
    shop.post("seed", {"items": [{"sku": "FUTON", "available": 5}, {"sku": "COVER", "available": 5}]})
    return shop.post("create_order", {"lines": [{"sku": "FUTON", "quantity": 2, "price": "199.00"},
                                                {"sku": "COVER", "quantity": 1, "price": "25.00"}]})["order"]


def shop_errors(answer: tuple[int, Any]) -> tuple[int, Any]:
    status, body = answer
    return status, body.get("errors")


def calculate(api: Api, order: dict[str, Any], lines: Any) -> tuple[int, Any]:
    return api.call("POST", f"orders/{order['id']}/refunds/calculate.json", {"refund": {"refund_line_items": lines}})


def refund(api: Api, order: dict[str, Any], lines: Any = None, transactions: Any = None) -> tuple[int, Any]:
    body = {"note": "n", **({"refund_line_items": lines} if lines is not None else {}),
            **({"transactions": transactions} if transactions is not None else {})}
    return api.call("POST", f"orders/{order['id']}/refunds.json", {"refund": body})


def sale_of(order: dict[str, Any]) -> dict[str, Any]:
    return order["transactions"][0]


def line(order: dict[str, Any], n: int, quantity: int, restock_type: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"line_item_id": order["line_items"][n]["id"], "quantity": quantity}
    return {**spec, "restock_type": restock_type} if restock_type else spec


def pay_back(order: dict[str, Any], amount: str, **extra: Any) -> dict[str, Any]:
    return {"parent_id": sale_of(order)["id"], "amount": amount, "kind": "refund", "gateway": "manual", **extra}


@pytest.mark.parametrize(("lines", "errors"), [
    ("x", {"refund_line_items": ["is invalid"]}),
    ([1], {"refund_line_items": ["is invalid"]}),
    ([{"line_item_id": 1, "quantity": 1}], {"refund_line_items.line_item_id": ["is invalid"]}),
    ([{"quantity": 1}], {"refund_line_items.line_item_id": ["is invalid"]}),
    ([{"line_item_id": 0, "quantity": 1, "restock_type": "bogus"}],
     {"refund_line_items.restock_type": ["is not included in the list"]}),
    ([{"line_item_id": 0, "quantity": 0}], {"refund_line_items.quantity": ["must be greater than 0"]}),
    ([{"line_item_id": 0}], {"refund_line_items.quantity": ["must be greater than 0"]}),
    ([{"line_item_id": 0, "quantity": 3}], {"refund_line_items.quantity": [QUANTITY_TOO_HIGH]}),
    ([{"line_item_id": 0, "quantity": 1}, {"line_item_id": 0, "quantity": 2}],
     {"refund_line_items.quantity": [QUANTITY_TOO_HIGH]}),
])
def test_shopify_refund_lines_are_refused_as_documented(shop_api: Api, shop_order: dict[str, Any], lines: Any,
                                                        errors: Any) -> None:
    lines = [{**spec, "line_item_id": shop_order["line_items"][spec["line_item_id"]]["id"]}
             if isinstance(spec, dict) and spec.get("line_item_id") == 0 else spec
             for spec in lines] if isinstance(lines, list) else lines
    assert shop_errors(calculate(shop_api, shop_order, lines)) == (422, errors)
    assert shop_errors(refund(shop_api, shop_order, lines)) == (422, errors)


def test_shopify_refund_and_gift_card_need_their_object(shop_api: Api, shop_order: dict[str, Any]) -> None:
    path = f"orders/{shop_order['id']}/refunds"
    for answer in (shop_api.call("POST", f"{path}.json", {"x": 1}), shop_api.call("POST", f"{path}/calculate.json")):
        assert shop_errors(answer) == (400, {"refund": "Required parameter missing or invalid"})
    assert shop_errors(shop_api.call("POST", "gift_cards.json", {"gift_card": 5})) == \
        (400, {"gift_card": "Required parameter missing or invalid"})
    assert shop_api.call("GET", "orders/1/refunds.json") == (404, {"errors": "Not Found"})
    assert shop_api.call("POST", "orders/1/refunds.json", {"refund": {}}) == (404, {"errors": "Not Found"})


def test_shopify_calculate_suggests_what_each_sale_can_still_refund(shop_api: Api, shop: Admin,
                                                                     shop_order: dict[str, Any]) -> None:
    status, body = calculate(shop_api, shop_order, [line(shop_order, 0, 2, "cancel"), line(shop_order, 1, 1)])

    assert status == 200
    calculated = body["refund"]
    assert [(ln["quantity"], ln["subtotal"], ln["restock_type"], ln["location_id"] is not None)
            for ln in calculated["refund_line_items"]] == \
        [(2, "398.00", "cancel", True), (1, "25.00", "no_restock", False)]
    [suggested] = calculated["transactions"]
    assert (suggested["kind"], suggested["parent_id"], suggested["amount"], suggested["maximum_refundable"]) == \
        ("suggested_refund", sale_of(shop_order)["id"], "423.00", "423.00")
    assert shop.get(f"state/orders/{shop_order['id']}")["refunds"] == [], "calculating changes nothing"
    assert shop.item("FUTON")["available"] == 3

    assert refund(shop_api, shop_order, [line(shop_order, 1, 1)], [pay_back(shop_order, "100.00")])[0] == 201
    status, body = calculate(shop_api, shop_order, [line(shop_order, 0, 2)])
    assert [(t["amount"], t["maximum_refundable"]) for t in body["refund"]["transactions"]] == [("323.00", "323.00")]
    assert shop_errors(calculate(shop_api, shop_order, [line(shop_order, 1, 1)])) == \
        (422, {"refund_line_items.quantity": [QUANTITY_TOO_HIGH]}), "the cover was refunded already"


@pytest.mark.parametrize(("transactions", "errors"), [
    ("x", {"transactions": ["is invalid"]}),
    ([{"parent_id": 1, "amount": "1.00"}], {"transactions.parent_id": ["is invalid"]}),
    ([{"parent_id": None, "amount": "1.00"}], None),
    ([{"amount": "abc"}], {"transactions.amount": ["is invalid"]}),
    ([{"amount": "1.00", "kind": "sale"}], {"transactions.kind": ["is not included in the list"]}),
    ([{"amount": "1.00", "gateway": "stripe"}],
     {"transactions.gateway": ["must match the parent transaction's gateway"]}),
    ([{"amount": "0.00"}], {"transactions.amount": ["must be greater than 0"]}),
    ([{"amount": "423.01"}], {"base": [AMOUNT_TOO_HIGH]}),
    ([{"amount": "400.00"}, {"amount": "23.01"}], {"base": [AMOUNT_TOO_HIGH]}),
])
def test_shopify_refund_transactions_are_refused_as_documented(shop_api: Api, shop: Admin,
                                                               shop_order: dict[str, Any], transactions: Any,
                                                               errors: Any) -> None:
    if isinstance(transactions, list):
        transactions = [{"parent_id": sale_of(shop_order)["id"], **spec} for spec in transactions]
    status, refused = shop_errors(refund(shop_api, shop_order, [line(shop_order, 0, 1)], transactions))
    assert status == 422 and (errors is None or refused == errors), refused
    assert shop.get(f"state/orders/{shop_order['id']}")["refunds"] == []


def test_shopify_refunds_add_up_to_what_was_paid(shop_api: Api, shop: Admin, shop_order: dict[str, Any]) -> None:
    status, body = refund(shop_api, shop_order, [line(shop_order, 0, 1, "cancel")], [pay_back(shop_order, "199.00")])

    assert status == 201
    created = body["refund"]
    assert created["restock"] is True and created["note"] == "n"
    [refund_line] = created["refund_line_items"]
    assert (refund_line["quantity"], refund_line["subtotal"], refund_line["restock_type"]) == (1, 199.0, "cancel")
    assert refund_line["line_item"]["id"] == shop_order["line_items"][0]["id"]
    [paid_back] = created["transactions"]
    assert (paid_back["kind"], paid_back["status"], paid_back["amount"], paid_back["parent_id"]) == \
        ("refund", "success", "199.00", sale_of(shop_order)["id"])
    assert shop.item("FUTON")["available"] == 4, "5 seeded, 2 sold, 1 cancelled back"
    state = shop.get(f"state/orders/{shop_order['id']}")
    assert state["financial_status"] == "partially_refunded"
    status, listed = shop_api.call("GET", f"orders/{shop_order['id']}/transactions.json")
    assert [t["kind"] for t in listed["transactions"]] == ["sale", "refund"]

    assert shop_errors(refund(shop_api, shop_order, None, [pay_back(shop_order, "224.01")])) == \
        (422, {"base": [AMOUNT_TOO_HIGH]})
    assert refund(shop_api, shop_order, None, [pay_back(shop_order, "224.00")])[0] == 201
    assert shop.get(f"state/orders/{shop_order['id']}")["financial_status"] == "refunded"
    status, listed = shop_api.call("GET", f"orders/{shop_order['id']}/refunds.json")
    assert status == 200 and len(listed["refunds"]) == 2


@pytest.mark.parametrize(("card", "errors"), [
    ({"initial_value": "0"}, {"initial_value": ["must be greater than 0"]}),
    ({"initial_value": "abc"}, {"initial_value": ["must be greater than 0"]}),
    ({}, {"initial_value": ["must be greater than 0"]}),
    ({"initial_value": "5", "code": "abcd123"}, {"code": ["is too short (minimum is 8 characters)"]}),
    ({"initial_value": "5", "code": "a" * 21}, {"code": ["is too long (maximum is 20 characters)"]}),
    ({"initial_value": "5", "code": "abcd-efgh"}, {"code": ["is invalid"]}),
    ({"initial_value": "5", "code": "   "}, {"code": ["is too short (minimum is 8 characters)"]}),
])
def test_shopify_gift_cards_are_refused_as_documented(shop_api: Api, card: dict[str, Any], errors: Any) -> None:
    assert shop_errors(shop_api.call("POST", "gift_cards.json", {"gift_card": card})) == (422, errors)


def test_shopify_gift_card_codes_are_unique_and_shown_once(shop_api: Api, shop: Admin) -> None:
    status, body = shop_api.call("POST", "gift_cards.json",
                                 {"gift_card": {"initial_value": "25", "code": "Abcd Efgh 1234"}})
    assert status == 201
    card = body["gift_card"]
    assert (card["code"], card["last_characters"], card["balance"], card["initial_value"]) == \
        ("abcdefgh1234", "1234", "25.00", "25.00")
    assert shop_errors(shop_api.call("POST", "gift_cards.json", {"gift_card": {"initial_value": "5",
                                                                               "code": "ABCDEFGH1234"}})) == \
        (422, {"code": ["has already been taken"]})
    status, body = shop_api.call("POST", "gift_cards.json", {"gift_card": {"initial_value": "1.50"}})
    assert status == 201 and len(body["gift_card"]["code"]) == 16

    status, found = shop_api.call("GET", "gift_cards/search.json", query="last_characters:1234")
    assert [c["id"] for c in found["gift_cards"]] == [card["id"]] and "code" not in found["gift_cards"][0]
    assert shop_api.call("GET", "gift_cards/search.json", query="note:x")[1] == {"gift_cards": []}
    assert len(shop_api.call("GET", "gift_cards.json", status="enabled")[1]["gift_cards"]) == 2
    assert shop_api.call("GET", "gift_cards.json", status="disabled")[1] == {"gift_cards": []}
    status, got = shop_api.call("GET", f"gift_cards/{card['id']}.json")
    assert status == 200 and got["gift_card"]["last_characters"] == "1234" and "code" not in got["gift_card"]
    assert shop_api.call("GET", "gift_cards/1.json") == (404, {"errors": "Not Found"})
    assert [c["code"] for c in shop.get("state/gift_cards")["gift_cards"]][0] == "abcdefgh1234"


# --- WooCommerce --------------------------------------------------------------------------------


@pytest.fixture
def woo_api(woo: Admin) -> Api:
    return Api(f"{woo.root}/wp-json/wc/v3", auth=("ck_sandbox", "cs_sandbox"))


def woo_order(woo: Admin, **extra: Any) -> dict[str, Any]:
    """423.00: 2 futons at 199.00 (line 0), 1 cover at 25.00 (line 1), both managed stock."""
    woo.post("seed", {"items": [{"sku": "FUTON", "stock_quantity": 5}, {"sku": "COVER", "stock_quantity": 5}]})
    return woo.post("create_order", {"lines": [{"sku": "FUTON", "quantity": 2, "price": "199.00"},
                                               {"sku": "COVER", "quantity": 1, "price": "25.00"}], **extra})["order"]


def wp(code: str, message: str, status: int) -> tuple[int, tuple[str, str, int]]:
    return status, (code, message, status)


def wp_answer(answer: tuple[int, Any]) -> tuple[int, tuple[str, str, int]]:
    status, body = answer
    return status, (body["code"], body["message"], body["data"]["status"])


@pytest.mark.parametrize(("payload", "order_extra", "refusal"), [
    ("{not json", {}, wp("rest_invalid_json", "Invalid JSON body passed.", 400)),
    ({"line_items": "x"}, {}, wp("rest_invalid_param", "Invalid parameter(s): line_items", 400)),
    ({"line_items": [{"id": 1, "quantity": 1}]}, {}, wp("rest_invalid_param", "Invalid parameter(s): line_items", 400)),
    ({"line_items": [{"id": "abc"}]}, {}, wp("rest_invalid_param", "Invalid parameter(s): line_items", 400)),
    ({"amount": "abc"}, {}, wp("rest_invalid_param", "Invalid parameter(s): amount", 400)),
    ({"amount": "-1"}, {},
     wp("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400)),
    ({"amount": "423.01"}, {}, wp(CANNOT_REFUND, "Invalid refund amount.", 500)),
    ({"amount": "1"}, {"payment_method": "bacs"},
     wp(CANNOT_REFUND, "The payment gateway for this order does not support automatic refunds.", 500)),
    ({"amount": "1"}, {"payment_method": "nope"},
     wp(CANNOT_REFUND, "The payment gateway for this order does not exist.", 500)),
])
def test_woo_refunds_are_refused_as_documented(woo_api: Api, woo: Admin, payload: Any, order_extra: dict[str, Any],
                                               refusal: Any) -> None:
    order = woo_order(woo, **order_extra)
    assert wp_answer(woo_api.call("POST", f"orders/{order['id']}/refunds", payload)) == refusal
    assert woo.get(f"state/orders/{order['id']}")["refunds_full"] == []


def test_woo_refunds_are_capped_at_what_is_left(woo_api: Api, woo: Admin) -> None:
    order = woo_order(woo)
    path = f"orders/{order['id']}/refunds"
    futons = order["line_items"][0]
    assert wp_answer(woo_api.call("POST", "orders/1/refunds", {"amount": "1"})) == \
        wp("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
    assert wp_answer(woo_api.call("GET", "orders/1/refunds")) == \
        wp("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)

    status, first = woo_api.call("POST", path, {"reason": "r", "line_items": [
        {"id": futons["id"], "quantity": 2, "refund_total": "398"}]})
    assert status == 201 and first["amount"] == "398.00" and first["refunded_payment"] is True
    assert (first["line_items"][0]["quantity"], first["line_items"][0]["total"]) == (-2, "-398.00")
    assert woo.item("FUTON")["stock_quantity"] == 5, "2 sold, 2 restocked"
    assert wp_answer(woo_api.call("POST", path, {"amount": "25.01"})) == \
        wp(CANNOT_REFUND, "Invalid refund amount.", 500)
    status, second = woo_api.call("POST", path, {"amount": "25.00", "api_refund": False, "api_restock": False})
    assert status == 201 and second["refunded_payment"] is False
    state = woo.get(f"state/orders/{order['id']}")
    assert state["status"] == "refunded" and [r["total"] for r in state["refunds"]] == ["-25.00", "-398.00"]
    status, listed = woo_api.call("GET", path)
    assert status == 200 and [r["id"] for r in listed] == [second["id"], first["id"]]


@pytest.mark.parametrize(("payload", "refusal"), [
    ("{not json", wp("rest_invalid_json", "Invalid JSON body passed.", 400)),
    ({"amount": "5"}, wp("rest_missing_callback_param", "Missing parameter(s): code", 400)),
    ({"code": "   "}, wp("rest_missing_callback_param", "Missing parameter(s): code", 400)),
    ({"code": "x", "discount_type": "bogus"}, wp("rest_invalid_param", "Invalid parameter(s): discount_type", 400)),
    ({"code": "x", "discount_type": None}, wp("rest_invalid_param", "Invalid parameter(s): discount_type", 400)),
    ({"code": "x", "amount": "abc"}, wp("rest_invalid_param", "Invalid parameter(s): amount", 400)),
])
def test_woo_coupons_are_refused_as_documented(woo_api: Api, payload: Any, refusal: Any) -> None:
    assert wp_answer(woo_api.call("POST", "coupons", payload)) == refusal
    assert woo_api.call("GET", "coupons") == (200, [])


def test_woo_coupon_codes_are_unique_lower_case(woo_api: Api, woo: Admin) -> None:
    status, coupon = woo_api.call("POST", "coupons", {"code": " Credit-ABC ", "amount": "12.5", "usage_limit": 1,
                                                      "email_restrictions": ["Ada@Example.com"]})
    assert status == 201
    assert (coupon["code"], coupon["amount"], coupon["discount_type"], coupon["usage_limit"],
            coupon["email_restrictions"]) == ("credit-abc", "12.50", "fixed_cart", 1, ["ada@example.com"])
    assert wp_answer(woo_api.call("POST", "coupons", {"code": "CREDIT-abc"})) == \
        wp("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists", 400)
    assert [c["id"] for c in woo_api.call("GET", "coupons", code="Credit-ABC")[1]] == [coupon["id"]]
    assert woo_api.call("GET", f"coupons/{coupon['id']}") == (200, coupon)
    assert wp_answer(woo_api.call("GET", "coupons/1")) == \
        wp("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.", 404)
    assert len(woo.get("state/coupons")["coupons"]) == 1


def test_woo_restock_counts_every_line_of_one_product(woo_api: Api, woo: Admin) -> None:
    woo.post("seed", {"items": [{"sku": "FUTON", "stock_quantity": 5}]})
    order = woo.post("create_order", {"lines": [{"sku": "FUTON", "quantity": 2, "price": "10.00"},
                                                {"sku": "FUTON", "quantity": 1, "price": "10.00"}]})["order"]
    first, second = order["line_items"]

    status, _ = woo_api.call("POST", f"orders/{order['id']}/refunds", {"line_items": [
        {"id": first["id"], "quantity": 2, "refund_total": "20"},
        {"id": second["id"], "quantity": 1, "refund_total": "10"}]})

    assert status == 201
    assert woo.item("FUTON")["stock_quantity"] == 5, "5 seeded, 3 sold, 2 + 1 restocked"
