"""The kit's declared endpoints, webhook subscriptions in both error styles, issued codes, catalog
state and the smaller declarations the stand-ins are built from, over real HTTP where they serve."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.kit import (Bucket, Call, CatalogRecords, CatalogState, Codes, Context, Discounts, Endpoints, Field,
                         FieldErrors, Filter, Fixtures, HeaderToken, IdLists, Issued, Json, KitState, LazyCatalog,
                         LeakyBucket, Ledger, Locations, NumberedPages, Refusal, Refusals, Rule, Schema, Signed,
                         StandIn, Subscriptions, add_action, asked_lines, changed_since, errors, fixed_amount, found,
                         one_of, parses, percentage, present, reset, subscribe, wp_body, wp_required, wp_schema)
from sandbox import control
from sandbox.server import SandboxServer

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


# --- a desk: declared endpoints, events after the lock, issued codes, admin actions -------------


@dataclass
class DeskState(CatalogRecords, KitState):
    token: str = "tok"
    bucket: Bucket = field(default_factory=lambda: Bucket(size=1000, leak_rate=1000))
    catalog: LazyCatalog[Json] = field(default_factory=lambda: LazyCatalog(
        lambda batch, key: {"id": key, "sku": f"{batch.prefix}{key}", "stock": 3, "at": batch.created_at},
        lambda product: product["sku"], key_of=lambda product: product["id"], stamp=lambda product: product["at"]))
    vouchers: list[Json] = field(default_factory=list)
    shelves: list[str] = field(default_factory=list)


REFUSALS = Refusals({"unknown": lambda refusal: (404, {"error": f"no such {refusal.field}"}),
                     "quantity:cap": "not that many", "taken": "is taken", "missing": "is missing",
                     "least": "is too small", "invalid": "is invalid"},
                    lambda refusal, message: (422, {"errors": {refusal.field: [message]}}))
signed = Signed({"X-Topic": "{topic}"})
desk: StandIn[DeskState] = StandIn(
    "desk", "/api", DeskState, auth=HeaderToken("X-Token", lambda: JSONResponse({"error": "no"}, 401)),
    error_body=lambda status: {"error": status}, limit=LeakyBucket("X-Calls", "1.0", lambda: {"error": "slow"}),
    webhook_admin=True, subscribe=lambda state, payload: {"webhook": subscribe(state, payload)},
    deliver=lambda call, events: signed.deliver_all(call.state, events))
api = Endpoints(desk, REFUSALS, invalid=lambda details: {"bad": details})
CODES = Codes(min_length=4, normalize=lambda code: code.strip().upper())
VOUCHERS = Issued("vouchers", {"value": Field(int, least=1), "code": Field(CODES.read), "note": Field(default="")},
                  CODES, lambda state, asked, now: {"id": state.allocate(), **asked, "at": now.isoformat()},
                  hidden=("code",), envelope="voucher")


def sell(call: Call[DeskState], product_id: int) -> Json:
    """Sells from a product's stock; the webhook is emitted first, so a refusal must drop it."""
    product = found(call.state.get(product_id), "product")
    quantity = int((call.body or {}).get("quantity", 1))
    call.emit("product.sold", {"id": product_id, "quantity": quantity})
    if quantity > product["stock"]:
        raise Refusal("quantity", "cap")
    call.state.store(product := {**product, "stock": product["stock"] - quantity, "at": call.state.now()})
    call.emit("product.changed", {"id": product_id, "stock": product["stock"]}, {"id": product_id, "again": True})
    return {"id": product_id, "stock": product["stock"]}


def place(call: Call[DeskState]) -> Json:
    order = {"id": call.state.allocate(), "lines": [{"sku": sku} for sku in call.body["skus"]]}
    call.state.orders.append(order)
    return order


api.one("/orders/{order_id}", "order", DeskState.find_order, "order", fields="fields")
api.many("/orders/{order_id}/lines", "lines", lambda state, order_id: state.order(order_id)["lines"],
         Filter("sku", test=lambda line, sku: line["sku"] == sku))
api.many("/vouchers", None, VOUCHERS.shown, Filter("min", test=lambda voucher, least: voucher["value"] >= least,
                                                   parse=lambda value, query: int(value), detail="a number"),
         pages=NumberedPages(lambda details: {"bad": details}, max_per_page=2, default_per_page=2))
api.many("/vouchers/search", "vouchers", VOUCHERS.shown, Filter("note", test=lambda v, note: v["note"] == note,
                                                                default="-"))
api.one("/vouchers/{voucher_id}", "voucher", VOUCHERS.find, "voucher")
api.write("POST", "/vouchers", "voucher", lambda call: VOUCHERS.issue(call.state, call.body), 201)
api.write("POST", "/orders", None, place, 201)
api.write("POST", "/products/{product_id}/sell", "sale", sell)


def add_shelf(state: DeskState, payload: Json) -> Json:
    if "name" in payload:
        state.shelves.append(str(payload["name"]))
    return {"shelves": state.shelves}


add_action(desk, "/shelves", add_shelf)
DELIVERIES: list[tuple[str, bool]] = []


def receiver(app: FastAPI) -> None:
    @app.post("/receiver")
    async def receive(request: Request) -> dict[str, str]:
        """Records each delivery and whether the desk's instance lock was free while it came."""
        state = getattr(request.app.state, "desk").get(request.query_params["instance"])
        free = state.lock.acquire(blocking=False)
        if free:
            state.lock.release()
        DELIVERIES.append((request.headers["X-Topic"], free))
        return {"ok": "yes"}


# --- subscriptions in Rails' style (Shopify) and WordPress's (WooCommerce) --------------------------


@dataclass
class HookState(KitState):
    token: str = "tok"
    pings: list[int] = field(default_factory=list)


def hook_standin(name: str) -> StandIn[HookState]:
    return StandIn(name, "/api", HookState, auth=lambda call: None, error_body=lambda status: {"error": status})


rails = hook_standin("rails")
pages = NumberedPages(lambda details: {"bad": details}, max_per_page=5, default_per_page=5)
Subscriptions(
    lambda hook: {"id": hook["id"], "topic": hook["topic"], "address": hook["address"], "version": hook["version"]},
    pages, {"address": "address", "topic": "topic"},
    FieldErrors((Rule("topic", present, ["can't be blank"]), Rule("topic", one_of(("a/b", "c/d")), ["is unknown"]),
                 Rule("address", present, ["can't be blank"])), errors),
    new=lambda state, body, now: {"secret": "app-secret"}, request=lambda call: {"version": call.query.get("v")},
    unknown=lambda deleting: (errors("Not Found"), 404), filters=("topic",), envelope="webhook",
    missing=(errors({"webhook": "missing"}), 400), unique=(errors({"address": ["is taken"]}), 422),
    deleted=lambda hook: {}, count=True).serve(rails, "/webhooks", ".json")
wordpress = hook_standin("wordpress")
Subscriptions(
    lambda hook: {"id": hook["id"], "topic": hook["topic"], "delivery_url": hook["address"],
                  "status": hook["status"]},
    pages, {"delivery_url": "address", "topic": "topic", "status": "status"},
    create=wp_schema(wp_required("topic", "delivery_url"),
                     Rule("status", one_of(("active", "paused")), ("rest_invalid_param", "status"), 400)),
    update=wp_schema(Rule("status", one_of(("active", "paused")), ("rest_invalid_param", "status"), 400)),
    new=lambda state, body, now: {"secret": "s", "status": body.get("status", "active")},
    unknown=lambda deleting: (wp_body("gone" if deleting else "invalid", "ID", 404 if deleting else 400),
                              404 if deleting else 400),
    delete_guard=lambda query: None if query.get("force") == "true" else (wp_body("trash", "no", 501), 501),
    created=lambda state, hook: state.pings.append(hook["id"]), filters=("status",)).serve(wordpress, "/webhooks")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    app = FastAPI()
    for install in (control.install, desk.install, rails.install, wordpress.install, receiver):
        install(app)
    with SandboxServer(app=app) as running:
        yield running


def at(server: SandboxServer, platform: str) -> str:
    return f"{server.base_url}/{platform}/{uuid.uuid4().hex[:8]}"


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers={"X-Token": "tok"}, timeout=10, **kwargs)


# --- declared endpoints -------------------------------------------------------------------------


def test_a_read_finds_by_the_paths_ids_keeps_asked_fields_and_refuses_from_the_table(server: SandboxServer) -> None:
    base = at(server, "desk")
    order = call("POST", f"{base}/api/orders", json={"skus": ["A", "B", "A"]})
    assert order.status_code == 201 and order.headers["X-Calls"].startswith("1")
    order_id = order.json()["id"]
    assert call("GET", f"{base}/api/orders/{order_id}", params={"fields": "id"}).json() == {"order": {"id": order_id}}
    assert call("GET", f"{base}/api/orders/{order_id + 5}").json() == {"error": "no such order"}
    assert call("GET", f"{base}/api/orders/abc").status_code == 422  # not an id, as any typed path parameter
    lines = call("GET", f"{base}/api/orders/{order_id}/lines", params={"sku": "A"})
    assert lines.json() == {"lines": [{"sku": "A"}, {"sku": "A"}]}
    unknown = call("GET", f"{base}/api/orders/{order_id + 5}/lines")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no such order"})


def test_a_write_answers_its_record_and_issued_codes_stay_unique_and_hidden(server: SandboxServer) -> None:
    base = at(server, "desk")
    assert call("POST", f"{base}/api/vouchers", json={}).json() == {"errors": {"voucher": ["is missing"]}}
    assert call("POST", f"{base}/api/vouchers", json={"voucher": {"value": 0, "code": "abcd"}}).json() == {
        "errors": {"value": ["is too small"]}}
    first = call("POST", f"{base}/api/vouchers", json={"voucher": {"value": 5, "code": " abcd ", "note": "x"}})
    assert first.status_code == 201 and first.json()["voucher"]["code"] == "ABCD"
    again = call("POST", f"{base}/api/vouchers", json={"voucher": {"value": 5, "code": "ABCD"}})
    assert (again.status_code, again.json()) == (422, {"errors": {"code": ["is taken"]}})
    call("POST", f"{base}/api/vouchers", json={"voucher": {"value": 9, "code": "wxyz"}})
    listed = call("GET", f"{base}/api/vouchers", params={"min": 6})
    assert [v["value"] for v in listed.json()] == [9] and listed.headers["X-WP-Total"] == "1"
    assert all("code" not in v for v in call("GET", f"{base}/api/vouchers").json())
    assert call("GET", f"{base}/api/vouchers", params={"min": "lots"}).json() == {"bad": {"min": "a number"}}
    assert call("GET", f"{base}/api/vouchers/search").json() == {"vouchers": []}, "absent: the default searches"
    assert [v["note"] for v in call("GET", f"{base}/api/vouchers/search", params={"note": "x"}).json()["vouchers"]] \
        == ["x"]
    voucher_id = first.json()["voucher"]["id"]
    assert "code" not in call("GET", f"{base}/api/vouchers/{voucher_id}").json()["voucher"]


def test_events_go_out_after_the_lock_in_order_and_a_refusal_drops_them(server: SandboxServer) -> None:
    base = at(server, "desk")
    instance = base.rsplit("/", 1)[1]
    requests.post(f"{base}/_admin/webhooks", timeout=10, json={
        "address": f"{server.base_url}/receiver?instance={instance}", "secret": "s",
        "topics": ["product.sold", "product.changed"]})
    state = server.app.state.desk.get(instance)
    with state.lock:
        state.catalog.add_batch(0, 2, "P-", T0)
    DELIVERIES.clear()
    refused = call("POST", f"{base}/api/products/1/sell", json={"quantity": 9})
    assert (refused.status_code, refused.json()) == (422, {"errors": {"quantity": ["not that many"]}})
    assert DELIVERIES == []
    sold = call("POST", f"{base}/api/products/1/sell", json={"quantity": 2})
    assert sold.json() == {"sale": {"id": 1, "stock": 1}}
    assert DELIVERIES == [("product.sold", True), ("product.changed", True), ("product.changed", True)]
    assert call("POST", f"{base}/api/products/7/sell").json() == {"error": "no such product"}


def test_an_admin_action_runs_its_function_under_the_lock_and_answers_what_it_returns(
        server: SandboxServer) -> None:
    base = at(server, "desk")
    assert requests.post(f"{base}/_admin/shelves", json={"name": "top"}, timeout=10).json() == {"shelves": ["top"]}
    assert requests.post(f"{base}/_admin/shelves", timeout=10).json() == {"shelves": ["top"]}


# --- subscriptions ------------------------------------------------------------------------------


def test_rails_style_subscriptions_report_every_field_then_uniqueness_and_count(server: SandboxServer) -> None:
    api_url = f"{at(server, 'rails')}/api"
    assert call("POST", f"{api_url}/webhooks.json", json={"topic": "a/b"}).json() == {"errors": {"webhook": "missing"}}
    bad = call("POST", f"{api_url}/webhooks.json", json={"webhook": {"topic": "x/y"}})
    assert (bad.status_code, bad.json()) == (422, {"errors": {"topic": ["is unknown"], "address": ["can't be blank"]}})
    made = call("POST", f"{api_url}/webhooks.json", params={"v": "2026-01"},
                json={"webhook": {"topic": "a/b", "address": "https://x.example/1"}})
    assert made.status_code == 201 and made.json()["webhook"]["version"] == "2026-01"
    taken = call("POST", f"{api_url}/webhooks.json", json={"webhook": {"topic": "a/b", "address": "https://x.example/1"}})
    assert (taken.status_code, taken.json()) == (422, {"errors": {"address": ["is taken"]}})
    call("POST", f"{api_url}/webhooks.json", json={"webhook": {"topic": "c/d", "address": "https://x.example/1"}})
    assert call("GET", f"{api_url}/webhooks/count.json", params={"topic": "c/d"}).json() == {"count": 1}
    hook_id = made.json()["webhook"]["id"]
    assert call("DELETE", f"{api_url}/webhooks/{hook_id}.json").json() == {}
    assert call("GET", f"{api_url}/webhooks/{hook_id}.json").status_code == 404
    assert call("GET", f"{api_url}/webhooks/nope.json").json() == {"errors": "Not Found"}


def test_wordpress_style_subscriptions_answer_the_first_error_update_and_guard_deletes(server: SandboxServer) -> None:
    base = at(server, "wordpress")
    missing = call("POST", f"{base}/api/webhooks", json={"topic": "a.b"})
    assert missing.json() == wp_body("rest_missing_callback_param", "Missing parameter(s): delivery_url", 400,
                                     params=["delivery_url"])
    made = call("POST", f"{base}/api/webhooks", json={"topic": "a.b", "delivery_url": "https://x.example/1"})
    hook = made.json()
    assert made.status_code == 201 and hook["status"] == "active"
    assert server.app.state.wordpress.get(base.rsplit("/", 1)[1]).pings == [hook["id"]]
    assert call("PUT", f"{base}/api/webhooks/{hook['id']}", json={"status": "odd"}).status_code == 400
    assert call("PUT", f"{base}/api/webhooks/{hook['id']}", json={"status": "paused"}).json()["status"] == "paused"
    assert [h["id"] for h in call("GET", f"{base}/api/webhooks", params={"status": "paused"}).json()] == [hook["id"]]
    assert len(call("GET", f"{base}/api/webhooks", params={"status": "all"}).json()) == 1
    assert call("DELETE", f"{base}/api/webhooks/{hook['id']}").status_code == 501
    assert call("DELETE", f"{base}/api/webhooks/{hook['id']}", params={"force": "true"}).json()["id"] == hook["id"]
    assert call("DELETE", f"{base}/api/webhooks/{hook['id']}", params={"force": "true"}).status_code == 404
    assert call("GET", f"{base}/api/webhooks/{hook['id']}").status_code == 400


def test_a_refusal_as_is_keeps_the_limit_headers_and_survives_an_after_apply_fault(server: SandboxServer) -> None:
    base = at(server, "rails")
    requests.post(f"{base}/_admin/faults", timeout=10, json={"status": 503, "after_apply": True, "count": 1})
    bad = call("POST", f"{base}/api/webhooks.json", json={"webhook": {}})
    assert bad.status_code == 422, "the check ran before anything was applied: its answer stands"


# --- validation styles and checks -----------------------------------------------------------------


def test_field_errors_name_every_field_once_and_schema_only_the_first() -> None:
    rules = (Rule("a", present, ["blank"]), Rule("a", one_of(("x",)), ["unknown"]), Rule("b", present, ["blank"]))
    assert FieldErrors(rules, errors).problem({"a": "y"}) == (422, {"errors": {"a": ["unknown"], "b": ["blank"]}})
    assert FieldErrors(rules, errors).problem({"a": "x", "b": "z"}) is None
    assert Schema(rules, lambda name, error, status: {name: error}).problem({}) == (422, {"a": ["blank"]})


def test_parses_present_and_wordpress_required_checks() -> None:
    read_int = parses(int)
    assert read_int(5, {}, None) and read_int("7", {}, None) and not read_int("x", {}, None)
    assert not read_int(None, {}, None) and parses(int, allow_null=True)(None, {}, None)
    assert not present("", {}, None) and not present(None, {}, None) and present("a", {}, None)
    body = wp_schema(wp_required("topic", "url")).problem({"topic": "a"})
    assert body == (400, wp_body("rest_missing_callback_param", "Missing parameter(s): url", 400, params=["url"]))


def test_id_lists_refuse_too_many_ids_and_none_at_all_with_the_limit_as_a_detail() -> None:
    lists = IdLists(("item_ids", "place_ids"), most=2, required=True)
    assert lists.read({"item_ids": "1,2", "place_ids": ""}) == {"item_ids": ["1", "2"], "place_ids": []}
    with pytest.raises(Refusal) as none:
        lists.read({})
    assert (none.value.field, none.value.kind) == ("ids", "required")
    with pytest.raises(Refusal) as many:
        lists.read({"place_ids": "1,2,3"})
    assert (many.value.field, many.value.kind, many.value.details) == ("place_ids", "most", {"most": 2})


def test_refusal_tables_as_fixtures_fill_the_field_and_details_into_keys_and_text(tmp_path: Any) -> None:
    (tmp_path / "refusals.json").write_text('{"most": [422, {"{field}": ["at most {most} ids"]}]}')
    shapes = Fixtures(tmp_path)
    table = Refusals(shapes.shape("refusals"), lambda refusal, entry: (
        entry[0], shapes.fill_node(entry[1], field=refusal.field, **refusal.details)))
    assert table.answer(Refusal("place_ids", "most", most=50)) == (422, {"place_ids": ["at most 50 ids"]})


def test_a_discount_is_checked_as_its_kinds_declare() -> None:
    discounts = Discounts({"percentage": percentage, "fixed_amount": fixed_amount}, most={"percentage": 100})
    schema = Schema(discounts.rules("order.discount", "discount", "kind", "number", "range"),
                    lambda name, error, status: {name: error})
    assert schema.problem({"order": {}}) is None
    assert schema.problem({"order": {"discount": {"value_type": "odd", "value": 1}}})[1] == {
        "discount.value_type": "kind"}
    assert schema.problem({"order": {"discount": {"value_type": "percentage", "value": "x"}}})[1] == {
        "discount.value": "number"}
    assert schema.problem({"order": {"discount": {"value_type": "percentage", "value": 120}}})[1] == {
        "discount.value": "range"}
    assert schema.problem({"order": {"discount": {"value_type": "fixed_amount", "value": 120}}}) is None


# --- catalog state, issued codes, refund lines, seeds ---------------------------------------------


@dataclass
class Shop(CatalogState):
    name: str = "s"
    catalog: LazyCatalog[Json] = field(default_factory=lambda: LazyCatalog(
        lambda batch, key: {"key": key, "sku": f"{batch.prefix}{key}", "at": batch.created_at},
        lambda item: item["sku"], key_of=lambda item: item["key"], stamp=lambda item: item["at"]))
    places: Locations = field(default_factory=Locations)
    notes: list[str] = field(default_factory=lambda: ["kept"])

    def now(self) -> datetime:
        return T0


def test_catalog_state_finds_stores_and_narrows_by_change_without_building_items() -> None:
    shop = Shop()
    shop.catalog.add_batch(0, 100_000, "S-", T0)
    shop.store({**shop.get(7), "at": T0 + timedelta(days=1)})
    assert shop.total == 100_000 and shop.by_sku("S-7")["at"] == T0 + timedelta(days=1) and shop.by_sku("X") is None
    assert shop.changed(range(shop.total), T0 + timedelta(hours=1)) == [7]
    assert shop.changed([9, 7, 3], T0) == [9, 7, 3] and shop.changed([9, 7], T0, strictly=True) == [7]
    assert shop.changed([1, 2], None) == [1, 2]
    assert changed_since("since", lambda value, query: value).narrow(shop, [7, 8], T0 + timedelta(hours=1)) == [7]
    assert (shop.allocate(), shop.allocate(3), shop.allocate()) == (1, 2, 5)
    shop.orders.append({"id": 4})
    assert shop.order(4) == {"id": 4}
    with pytest.raises(Refusal):
        shop.order(5)


def test_reset_puts_named_fields_back_to_their_defaults_and_leaves_the_rest() -> None:
    shop = Shop()
    shop.orders.append({"id": 1})
    shop.notes.append("gone")
    shop.places.add(10, 2)
    shop.places.place(11, 3, 4, T0)
    reset("orders", "notes", "places.levels")(shop)
    assert shop.orders == [] and shop.notes == ["kept"] and shop.places.levels == {}
    assert shop.places.all(10) == [10, 11, 12], "the added places stay"


def test_issued_records_claim_their_code_after_every_field_is_read() -> None:
    shop = Shop()
    shop.catalog.add_batch(0, 1, "S-", T0)
    codes = Codes(min_length=3, normalize=str.lower, generate=lambda: "gen")
    issued = Issued("notes_issued", {"code": Field(codes.read), "value": Field(int, least=1)}, codes,
                    lambda state, asked, now: {"id": len(state.notes_issued) + 1, **asked}, hidden=("code",))
    shop.notes_issued = []  # type: ignore[attr-defined]
    assert issued.issue(shop, {"value": 2}) == {"id": 1, "code": "gen", "value": 2}
    with pytest.raises(Refusal) as small:
        issued.issue(shop, {"code": "GEN", "value": 0})
    assert small.value.kind == "least", "the fields are read before the code is claimed"
    with pytest.raises(Refusal) as taken:
        issued.issue(shop, {"code": "GEN", "value": 1})
    assert taken.value.kind == "taken"
    assert issued.shown(shop) == [{"id": 1, "value": 2}] and issued.find(shop, 1) == {"id": 1, "value": 2}


def test_asked_lines_read_each_line_against_the_orders_lines_and_build_it() -> None:
    lines = {10: {"id": 10, "price": "2.00"}, 11: {"id": 11, "price": "3.00"}}
    context = Context({"lines": lines}, Ledger([(10, 2), (11, 1)]))
    fields = {"line": Field(int, within="lines"), "quantity": Field(int, least=1, cap="line")}
    built = asked_lines({"lines": [{"line": 10, "quantity": 2}]}, "lines", fields, context, "line",
                        lambda ask, line: (ask["quantity"], line["price"]))
    assert built == [(2, "2.00")]
    with pytest.raises(Refusal) as capped:
        asked_lines({"lines": [{"line": 11, "quantity": 1}, {"line": 11, "quantity": 1}]}, "lines", fields,
                    Context({"lines": lines}, Ledger([(11, 1)])), "line", lambda ask, line: ask)
    assert (capped.value.field, capped.value.kind) == ("lines.quantity", "cap")


def test_a_lazy_catalog_puts_items_under_their_own_key() -> None:
    catalog = LazyCatalog(lambda batch, key: {"k": key}, lambda item: item.get("sku"), key_of=lambda item: item["k"])
    catalog.put({"k": 3, "sku": "three"})
    assert catalog.get(3) == {"k": 3, "sku": "three"} and catalog.key_for_sku("three") == 3
