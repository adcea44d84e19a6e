"""The kit's declared parts: collections (filters, sorting, page styles, reads), validation rules,
signed-delivery headers, admin edits, added locations and catalog change queries. The HTTP tests
drive a small stand-in built only from these declarations over real HTTP."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import control
from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.admin import (
    Events,
    Seed,
    Setting,
    add_checkout,
    add_config,
    add_item_state,
    add_seed,
    add_set_stock,
    add_state_view,
    known,
)
from sandbox.kit.errors import errors_schema, wp_invalid, wp_schema
from sandbox.kit.auth import HeaderToken
from sandbox.kit.catalog import LazyCatalog
from sandbox.kit.limits import Bucket
from sandbox.kit.locations import STRIDE, Locations
from sandbox.kit.pages import FirstPage, LinkCursor, NumberedPages
from sandbox.kit.resources import Collection, Filter, Sorting, equals, ids, in_list, instant, positions, since, since_id
from sandbox.kit.validation import (
    MISSING,
    Rule,
    Schema,
    exists,
    given,
    is_object,
    list_of_objects,
    non_empty_list,
    number,
    one_of,
    whole_at_least,
)
from sandbox.kit.webhooks import Signed, subscribe
from sandbox.server import SandboxServer

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class ShelfState(KitState):
    token: str = "tok"
    bucket: Bucket = field(default_factory=Bucket)
    books: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": 100 + n, "title": f"Book {n}", "genre": "poetry" if n % 2 else "prose",
         "updated_at": (T0 + timedelta(days=n)).isoformat()} for n in range(7)])
    notes: list[str] = field(default_factory=list)


def invalid(details: dict[str, str]) -> dict[str, Any]:
    return {"errors": {name: [detail] for name, detail in details.items()}}


shelf: StandIn[ShelfState] = StandIn(
    "shelf", "/api", ShelfState, auth=HeaderToken("X-Token", lambda: JSONResponse({"errors": "no"}, 401)),
    error_body=lambda status: {"errors": status}, webhook_admin=True,
    subscribe=lambda state, payload: {"webhook": subscribe(state, payload)})
BOOK_FILTERS = (ids(), since_id(), equals("genre", "genre", choices=("poetry", "prose"), status=422,
                                          detail="is not included in the list"),
                since("updated_at_min", lambda b: instant(b["updated_at"]), lambda v, q: instant(v)))
cursor_books = Collection("books", LinkCursor(invalid, max_limit=3, default_limit=2), positions("books", 100),
                          in_list("books", 100), filters=BOOK_FILTERS, single="book",
                          missing=lambda: {"errors": "Not Found"})
numbered_books = Collection("books", NumberedPages(invalid, max_per_page=5, default_per_page=3),
                            positions("books", 100), in_list("books", 100), filters=BOOK_FILTERS,
                            sort=Sorting({"title": lambda b: b["title"], "id": None}, default="id"))
first_books = Collection("books", FirstPage(invalid, max_limit=4, default_limit=2), positions("books", 100),
                         in_list("books", 100), filters=(Filter("genre", default="prose",
                                                                test=lambda b, g: b["genre"] == g),))
cursor_books.listing(shelf, "/books.json")
cursor_books.reading(shelf, "/books/{book_id}.json", "book_id")
numbered_books.listing(shelf, "/books")
first_books.listing(shelf, "/first")
NOTE = Schema((
    Rule("note", is_object, "Required parameter missing or invalid", 400),
    Rule("note.text", given, ["can't be blank"], field="text"),
    Rule("note.tags", list_of_objects, ["is invalid"], field="tags"),
), lambda name, error, status: {"errors": {name: error}})
signed = Signed({"X-Topic": "{topic}", "X-Sig": "{signature}", "X-Id": "{uuid}", "X-Other-Id": "{uuid}",
                 "X-Shop": "{instance}.example", "X-Version": "{version}", "X-Extra": "{extra}",
                 "X-Parts": "{resource}|{event}|{hook_id}"},
                record={"delivery_id": "X-Id"}, values=lambda state, hook: {"extra": f"hook-{hook['id']}"})
add_config(shelf, {"token": Setting("token"), "bucket_size": Setting("bucket.size", float),
                   "bucket_level": Setting("bucket.level", show=None,
                                           apply=lambda state, level: state.bucket.fill(float(level)))})
add_item_state(shelf, lambda state: [b["id"] for b in state.books],
               lambda state, title: next((b["id"] for b in state.books if b["title"] == title), None),
               lambda state, key: in_list("books", 100)(state, key), lambda state, book: {"title": book["title"]})
add_state_view(shelf, "notes", lambda state: state.notes)


@shelf.api.post("/notes.json")
def add_note(call: Call[ShelfState] = shelf.call) -> Response:
    NOTE.enforce(call, call.body)
    with call.state.lock:
        call.state.notes.append(call.body["note"]["text"])
    records = signed.deliver(call.state, "note.created", call.body, version="2026-01")
    return call.reply({"note": call.body["note"], "deliveries": records}, 201)


@shelf.admin.get("/book_by_title")
def book_by_title(title: str, state: ShelfState = shelf.state) -> dict[str, Any]:
    return {"id": known(next((b["id"] for b in state.books if b["title"] == title), None), f"title {title}")}


@dataclass
class BinState(KitState):
    """A store of bins: a lazy catalog, stock per key, orders and the webhooks each edit emitted."""

    catalog: LazyCatalog[dict[str, Any]] = field(default_factory=lambda: LazyCatalog(
        lambda batch, key: {"sku": f"{batch.prefix}{key}", "stock": batch.defaults["stock"],
                            "size": batch.defaults["size"]}, lambda item: item["sku"]))
    orders: list[dict[str, Any]] = field(default_factory=list)
    emitted: list[tuple[str, Any]] = field(default_factory=list)
    numbers: int = 0


bins: StandIn[BinState] = StandIn("bins", "/api", BinState, auth=lambda call: None, error_body=lambda status: {})


def bin_sku(state: BinState, sku: str) -> int | None:
    return state.catalog.key_for_sku(sku)


def record(state: BinState, events: Events) -> list[dict[str, Any]]:
    state.emitted += events
    return [{"topic": topic} for topic, _ in events]


def next_number(state: BinState) -> int:
    state.numbers += 1
    return state.numbers


def sell_bin(state: BinState, key: int, quantity: int, price: Any, now: datetime) -> tuple[dict[str, Any], Events]:
    item = dict(state.catalog.get(key) or {})
    item["stock"] -= quantity
    state.catalog.store(key, item)
    return {"sku": item["sku"], "quantity": quantity, "price": price}, [("bin/changed", item)]


def place_bin_order(state: BinState, lines: list[dict[str, Any]], payload: dict[str, Any], now: datetime,
                    number: int) -> tuple[dict[str, Any], Events]:
    order = {"number": number, "lines": lines, "note": payload.get("note")}
    state.orders.append(order)
    return {"order": order}, [("order/placed", order)]


def change_bin(state: BinState, key: int, payload: dict[str, Any], now: datetime) -> tuple[Any, Events]:
    item = {**(state.catalog.get(key) or {}), "stock": int(payload["stock"])}
    state.catalog.store(key, item)
    return item, [("bin/changed", item)]


def add_bin(state: BinState, spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    key = state.catalog.total
    state.catalog.add_batch(key, key + 1, "\0", now, stock=0, size="M")
    state.catalog.store(key, spec)
    return spec


add_seed(bins, Seed(clear=lambda state: state.catalog.clear(), start=lambda state, count: state.catalog.total,
                    add=add_bin,
                    total=lambda state: state.catalog.total, render=lambda state, item: {"sku": item["sku"]},
                    batch={"stock": ("stock", int, 5), "size": ("size", str, "M")}))
add_set_stock(bins, bin_sku, change_bin, record)
add_checkout(bins, bin_sku, sell_bin, place_bin_order, record, begin=next_number)
RECEIVED: list[tuple[bytes, dict[str, str]]] = []
RECEIVED_LOCK = threading.Lock()


def receive_route(app: FastAPI) -> None:
    @app.post("/receiver")
    async def receiver(request: Request) -> dict[str, str]:
        with RECEIVED_LOCK:
            RECEIVED.append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    app = FastAPI()
    for install in (control.install, shelf.install, bins.install, receive_route):
        install(app)
    with SandboxServer(app=app) as running:
        yield running


@pytest.fixture
def base(server: SandboxServer) -> str:
    return f"{server.base_url}/shelf/{uuid.uuid4().hex[:8]}"


def get(base: str, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{base}/api{path}", params=params, headers={"X-Token": "tok"}, timeout=5)


# --- declared collections -----------------------------------------------------------------------


def test_a_cursor_collection_pages_its_filtered_records_and_keeps_the_filters_in_the_cursor(base: str) -> None:
    first = get(base, "/books.json", genre="poetry")
    assert [b["id"] for b in first.json()["books"]] == [101, 103]
    second = requests.get(first.links["next"]["url"], headers={"X-Token": "tok"}, timeout=5)
    assert [b["id"] for b in second.json()["books"]] == [105]
    assert "next" not in second.links


def test_ids_since_id_and_updated_at_min_narrow_a_list(base: str) -> None:
    assert [b["id"] for b in get(base, "/books.json", ids="102,104,999", limit=3).json()["books"]] == [102, 104]
    assert [b["id"] for b in get(base, "/books.json", since_id=104, limit=3).json()["books"]] == [105, 106]
    later = (T0 + timedelta(days=5)).isoformat()
    assert [b["id"] for b in get(base, "/books.json", updated_at_min=later, limit=3).json()["books"]] == [105, 106]


def test_a_filter_value_outside_its_choices_or_unparseable_is_refused_in_the_platform_body(base: str) -> None:
    refused = get(base, "/books.json", genre="drama")
    assert refused.status_code == 422
    assert refused.json() == {"errors": {"genre": ["is not included in the list"]}}
    assert get(base, "/books.json", since_id="x").status_code == 400


def test_numbered_collections_sort_by_the_declared_keys_and_refuse_other_orders(base: str) -> None:
    by_title = get(base, "/books", orderby="title", order="asc", per_page=5)
    assert [b["title"] for b in by_title.json()] == sorted(f"Book {n}" for n in range(5))
    assert by_title.headers["X-WP-Total"] == "7"
    newest_first = get(base, "/books", per_page=2)
    assert [b["id"] for b in newest_first.json()] == [106, 105]
    assert get(base, "/books", orderby="colour").json() == {"errors": {"orderby": [""]}}


def test_a_first_page_collection_checks_filters_then_the_limit(base: str) -> None:
    assert [b["id"] for b in get(base, "/first").json()["books"]] == [100, 102]
    assert [b["id"] for b in get(base, "/first", genre="poetry", limit=4).json()["books"]] == [101, 103, 105]
    too_many = get(base, "/first", limit=5)
    assert too_many.status_code == 400 and too_many.json() == {"errors": {"limit": ["must be between 1 and 4"]}}


def test_a_read_wraps_one_record_and_answers_the_declared_not_found(base: str) -> None:
    assert get(base, "/books/103.json").json() == {"book": get(base, "/books.json", ids="103").json()["books"][0]}
    for missing in ("99", "107", "abc"):
        answer = get(base, f"/books/{missing}.json")
        assert (answer.status_code, answer.json()) == (404, {"errors": "Not Found"})


# --- validation rules ---------------------------------------------------------------------------


def test_the_first_broken_rule_is_answered_with_its_field_error_and_status() -> None:
    assert NOTE.problem([1, 2]) == (400, {"errors": {"note": "Required parameter missing or invalid"}})
    assert NOTE.problem({"note": {}}) == (422, {"errors": {"text": ["can't be blank"]}})
    assert NOTE.problem({"note": {"text": None, "tags": [{}, 3]}}) == (422, {"errors": {"tags": ["is invalid"]}})
    assert NOTE.problem({"note": {"text": "hi", "tags": [{"a": 1}]}}) is None


def test_rules_under_one_list_run_element_by_element_in_order() -> None:
    lines = Schema((
        Rule("lines", non_empty_list, "blank"),
        Rule("lines[]", is_object, "not an object"),
        Rule("lines[].quantity", whole_at_least(1, default=1), "quantity"),
        Rule("lines[].sku", exists(lambda state, sku: state.get(sku)), lambda sku: f"unknown {sku}",
             when=lambda line: "sku" in line),
    ), lambda name, error, status: (name, error))
    state = {"A": 1}
    assert lines.problem({"lines": []}, state) == (422, ("lines", "blank"))
    assert lines.problem({"lines": [{"sku": "Z"}, {"quantity": 0}]}, state) == (422, ("lines.sku", "unknown Z"))
    assert lines.problem({"lines": [{"quantity": 0}, {"sku": "Z"}]}, state) == (422, ("lines.quantity", "quantity"))
    assert lines.problem({"lines": [{"sku": "A"}, "x"]}, state) == (422, ("lines", "not an object"))
    assert lines.problem({"lines": [{"sku": "A", "quantity": "2"}, {}]}, state) is None


def test_optional_parents_skip_their_rules_and_checks_tell_absent_from_null() -> None:
    discount = Schema((Rule("discount.value", number, "not a number"),
                       Rule("status", one_of(("a", "b")), "bad status", 400),
                       Rule("policy", one_of(("x",), allow_null=True), "bad policy")),
                      lambda name, error, status: error)
    assert discount.problem({}) is None
    assert discount.problem({"discount": None}) is None
    assert discount.problem({"discount": {"value": "1e400000"}}) is None
    assert discount.problem({"discount": {"value": "NaN"}}) == (422, "not a number")
    assert discount.problem({"discount": {"value": True}}) == (422, "not a number")
    assert discount.problem({"status": None}) == (400, "bad status")
    assert discount.problem({"policy": None}) is None
    assert given(None, {}, None) and not given(MISSING, {}, None)


def test_an_enforced_rule_answers_over_http_and_a_valid_body_goes_through(base: str) -> None:
    url = f"{base}/api/notes.json"
    refused = requests.post(url, json={"note": {"tags": "x"}}, headers={"X-Token": "tok"}, timeout=5)
    assert (refused.status_code, refused.json()) == (422, {"errors": {"text": ["can't be blank"]}})
    accepted = requests.post(url, json={"note": {"text": "hello"}}, headers={"X-Token": "tok"}, timeout=5)
    assert accepted.status_code == 201
    assert requests.get(f"{base}/_admin/state/notes", timeout=5).json() == {"notes": ["hello"]}


# --- signed deliveries --------------------------------------------------------------------------


def test_signed_headers_fill_their_templates_and_sign_the_exact_body(server: SandboxServer, base: str) -> None:
    address = f"{server.base_url}/receiver"
    hook = requests.post(f"{base}/_admin/webhooks", json={"address": address, "secret": "s3", "topic": "note.created"},
                         timeout=5).json()["webhook"]
    answer = requests.post(f"{base}/api/notes.json", json={"note": {"text": "signed"}}, headers={"X-Token": "tok"},
                           timeout=5).json()
    record = answer["deliveries"][0]
    headers, body = record["headers"], record["body"].encode()
    assert headers["X-Sig"] == base64.b64encode(hmac.new(b"s3", body, hashlib.sha256).digest()).decode()
    assert headers["X-Topic"] == "note.created" and headers["X-Version"] == "2026-01"
    assert headers["X-Shop"] == f"{base.rsplit('/', 1)[1]}.example"
    assert headers["X-Parts"] == f"note|created|{hook['id']}" and headers["X-Extra"] == f"hook-{hook['id']}"
    assert headers["X-Id"] != headers["X-Other-Id"] and record["delivery_id"] == headers["X-Id"]
    assert record["status"] == 200 and json.loads(body) == {"note": {"text": "signed"}}
    with RECEIVED_LOCK:
        assert any(raw == body and got.get("x-sig") == headers["X-Sig"] for raw, got in RECEIVED)


# --- admin edits --------------------------------------------------------------------------------


def test_config_sets_the_declared_attributes_and_shows_only_the_shown_ones(base: str) -> None:
    shown = requests.post(f"{base}/_admin/config", json={"token": "t2", "bucket_size": "7", "bucket_level": 5},
                          timeout=5).json()
    assert shown == {"token": "t2", "bucket_size": 7.0}
    assert get(base, "/books.json").status_code == 401
    assert requests.get(f"{base}/api/books.json", headers={"X-Token": "t2"}, timeout=5).status_code == 200


def test_item_state_reads_by_sku_or_by_slice_and_unknown_is_a_404(base: str) -> None:
    by_sku = requests.get(f"{base}/_admin/state/items", params={"skus": "Book 2,nope,Book 0"}, timeout=5).json()
    assert by_sku == {"total": 7, "items": [{"title": "Book 2"}, {"title": "Book 0"}]}
    sliced = requests.get(f"{base}/_admin/state/items", params={"offset": 5, "limit": 5}, timeout=5).json()
    assert [i["title"] for i in sliced["items"]] == ["Book 5", "Book 6"]
    assert requests.get(f"{base}/_admin/book_by_title", params={"title": "Book 3"}, timeout=5).json() == {"id": 103}
    missing = requests.get(f"{base}/_admin/book_by_title", params={"title": "Zzz"}, timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"error": "unknown title Zzz"})


# --- added locations and the lazy catalog -------------------------------------------------------


def test_added_locations_number_on_stock_only_what_is_placed_and_list_by_sort_key() -> None:
    places = Locations()
    places.add(after=10, count=2)
    assert places.ids == [11, 12]
    assert places.place(99, 1, 5, T0) is None
    assert places.place(12, 3, None, T0) == 0
    assert places.place(11, 4, 7, T0 + timedelta(hours=1)) == 7
    assert places.place(11, 4, None, T0 + timedelta(hours=2)) == 7
    assert places.keys((), None, None) == [STRIDE + 4, 2 * STRIDE + 3]
    assert places.keys(("12",), None, None) == [2 * STRIDE + 3]
    assert places.keys((), {3}, None) == [2 * STRIDE + 3]
    assert places.keys((), None, T0 + timedelta(hours=2)) == [STRIDE + 4]
    assert places.at(STRIDE + 4) == (11, 4, 7, T0 + timedelta(hours=2))
    assert places.at(4) is None
    main_changed = lambda since: range(10) if since is None else [2, 4, 6]  # noqa: E731
    assert places.level_keys(1, main_changed, 10, (), None, None) == [*range(10), STRIDE + 4, 2 * STRIDE + 3]
    assert places.level_keys(1, main_changed, 10, ("11",), None, None) == [STRIDE + 4]
    assert places.level_keys(1, main_changed, 10, ("1", "12"), {3, 4, 99}, None) == [3, 4, 2 * STRIDE + 3]
    assert places.level_keys(1, main_changed, 10, (), {3, 4}, T0 + timedelta(hours=2)) == [4, STRIDE + 4]


def test_catalog_changes_since_cover_stored_and_generated_items_without_building_them() -> None:
    built: list[int] = []

    def build(batch: Any, key: int) -> dict[str, Any]:
        built.append(key)
        return {"sku": f"{batch.prefix}{key}", "at": batch.created_at}

    catalog = LazyCatalog(build, lambda item: item["sku"])
    catalog.add_batch(0, 1000, "OLD-", T0)
    catalog.add_batch(1000, 1003, "NEW-", T0 + timedelta(days=2))
    catalog.store(5, {"sku": "OLD-5", "at": T0 + timedelta(days=3)})
    assert catalog.total == 1003
    assert catalog.changed_since(T0 + timedelta(days=2), lambda i: i["at"]) == [5, 1000, 1001, 1002]
    assert catalog.changed_since(T0 + timedelta(days=2), lambda i: i["at"], strictly=True) == [5]
    assert built == []


# --- admin edits: seed, stock changes, checkouts ------------------------------------------------


def test_seed_resets_then_adds_a_generated_batch_with_parsed_defaults(server: SandboxServer) -> None:
    admin = f"{server.base_url}/bins/{uuid.uuid4().hex[:8]}/_admin"
    first = requests.post(f"{admin}/seed", json={"count": 3, "sku_prefix": "B-", "stock": "7"}, timeout=5).json()
    assert first == {"total": 3, "items": []}
    more = requests.post(f"{admin}/seed", json={"reset": False, "count": 2, "sku_prefix": "C-"}, timeout=5).json()
    assert more["total"] == 5
    changed = requests.post(f"{admin}/set_stock", json={"sku": "B-1", "stock": 2}, timeout=5).json()
    assert changed == {"item": {"sku": "B-1", "stock": 2, "size": "M"}, "webhooks": [{"topic": "bin/changed"}]}
    assert requests.post(f"{admin}/set_stock", json={"sku": "C-4", "stock": 0}, timeout=5).json()["item"]["stock"] == 0
    again = requests.post(f"{admin}/seed", json={"items": [{"sku": "ONLY"}]}, timeout=5).json()
    assert again == {"total": 1, "items": [{"sku": "ONLY"}]}
    gone = requests.post(f"{admin}/set_stock", json={"sku": "B-1", "stock": 1}, timeout=5)
    assert (gone.status_code, gone.json()) == (404, {"error": "unknown sku B-1"})


def test_a_checkout_numbers_first_sells_each_line_and_emits_the_order_before_its_lines(
        server: SandboxServer) -> None:
    admin = f"{server.base_url}/bins/{uuid.uuid4().hex[:8]}/_admin"
    requests.post(f"{admin}/seed", json={"count": 2, "sku_prefix": "B-"}, timeout=5)
    placed = requests.post(f"{admin}/create_order", json={"lines": [{"sku": "B-0", "quantity": 2},
                                                                    {"sku": "B-1", "price": "3.00"}],
                                                          "note": "n"}, timeout=5).json()
    assert placed["order"] == {"number": 1, "note": "n", "lines": [{"sku": "B-0", "quantity": 2, "price": "10.00"},
                                                                   {"sku": "B-1", "quantity": 1, "price": "3.00"}]}
    assert [hook["topic"] for hook in placed["webhooks"]] == ["order/placed", "bin/changed", "bin/changed"]
    refused = requests.post(f"{admin}/create_order", json={"lines": [{"sku": "B-0"}, {"sku": "NOPE"}]}, timeout=5)
    assert (refused.status_code, refused.json()) == (404, {"error": "unknown sku NOPE"})
    retried = requests.post(f"{admin}/create_order", json={"lines": [{"sku": "B-1"}]}, timeout=5).json()
    assert retried["order"]["number"] == 3, "the refused checkout had taken its number, as a store's would"


# --- error body styles --------------------------------------------------------------------------


def test_error_styles_render_the_platforms_bodies() -> None:
    shopify = errors_schema(Rule("variant", is_object, "Required parameter missing or invalid", 400),
                            Rule("available", given, ["not at this location"], field=""))
    assert shopify.problem({}) == (400, {"errors": {"variant": "Required parameter missing or invalid"}})
    assert shopify.problem({"variant": {}}) == (422, {"errors": ["not at this location"]})
    woo = wp_schema(Rule("", is_object, ("rest_invalid_json", "Invalid JSON body passed."), 400),
                    Rule("status", one_of(("a",)), ("rest_invalid_param", "Invalid parameter(s): status",
                                                    {"params": {"status": "status is not one of a."}}), 400))
    assert woo.problem("x") == (400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed.",
                                      "data": {"status": 400}})
    assert woo.problem({"status": "b"})[1]["data"] == {"status": 400, "params": {"status": "status is not one of a."}}
    assert wp_invalid({"per_page": "", "page": "must be 1 or more"}) == {
        "code": "rest_invalid_param", "message": "Invalid parameter(s): per_page, page",
        "data": {"status": 400, "params": {"page": "must be 1 or more"}}}
