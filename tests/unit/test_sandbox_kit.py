"""The stand-in kit's parts over real HTTP: a small stand-in built only from the kit, served by
uvicorn like the platform stand-ins, driven with ``requests``."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox import control
from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.auth import BearerToken, HeaderToken, KeyAndSecret
from sandbox.kit.catalog import LazyCatalog
from sandbox.kit.limits import Bucket, LeakyBucket, Window, WindowLimit, ratelimit_headers, retry_at_date
from sandbox.kit.oauth1 import OAuth1, base_string, pct
from sandbox.kit.pages import LinkCursor, NumberedPages, OffsetPages, VersionPages
from sandbox.kit.webhooks import hmac_sha256_b64, post, send, subscribe, subscribers
from sandbox.server import SandboxServer

TOKEN = "tok_kit"


@dataclass
class DemoState(KitState):
    token: str = TOKEN
    consumer_key: str = "ck"
    consumer_secret: str = "cs"
    bucket: Bucket = field(default_factory=lambda: Bucket(size=1000))
    writes: int = 0


kit: StandIn[DemoState] = StandIn(
    "demo", "/api/v1", DemoState,
    auth=HeaderToken("X-Demo-Token", lambda: JSONResponse({"error": "bad token"}, status_code=401)),
    error_body=lambda status: {"error": f"injected {status}"},
    limit=LeakyBucket("X-Demo-Calls", "2.0", lambda: {"error": "slow down"}),
    clock_view=lambda now: {"now": now.isoformat()}, webhook_admin=True, redeliver=post)
cursor_pages = LinkCursor(lambda details: {"invalid": details}, max_limit=5, default_limit=2)
numbered_pages = NumberedPages(lambda details: {"invalid": sorted(details)}, max_per_page=4, default_per_page=2)

basic = StandIn("basic", "/api", DemoState, error_body=lambda status: {"error": status}, auth=KeyAndSecret(
    missing=lambda request: JSONResponse({"error": f"no credentials for {request.method}"}, status_code=401),
    bad_key=lambda: JSONResponse({"error": "bad key"}, status_code=401),
    bad_secret=lambda: JSONResponse({"error": "bad secret"}, status_code=401)))

CREDENTIALS = {"consumer_key": "ck1", "consumer_secret": "cs&1", "token_id": "tk1", "token_secret": "ts 1"}


@dataclass
class SignedState(KitState):
    credentials: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))
    timestamp_tolerance_s: float = 300.0
    nonces: set[str] = field(default_factory=set)


def tba_refusal(call: Call[SignedState], reason: str) -> JSONResponse:
    call.entry["auth_failure"] = reason
    return JSONResponse({"error": "INVALID_LOGIN"}, status_code=401)


signed = StandIn("signed", "/rest", SignedState, auth=OAuth1(tba_refusal), error_body=lambda status: {},
                 log_body=lambda raw: raw.decode())
offset_pages = OffsetPages(lambda detail: {"detail": detail}, max_limit=10, max_results=20)

@dataclass
class WindowState(KitState):
    token: str = "bearer-1"
    window: Window = field(default_factory=lambda: Window(limit=2, seconds=60.0))


windowed = StandIn("windowed", "/api", WindowState, error_body=lambda status: {},
                   auth=BearerToken(lambda: JSONResponse({"error": "who?"}, status_code=401)),
                   limit=WindowLimit(lambda: {"error": "Too Many Requests"}, ratelimit_headers, retry_at_date))
version_pages = VersionPages(lambda message: {"message": message}, default_size=2, max_size=3)

RECEIVED: list[tuple[bytes, dict[str, str]]] = []
RECEIVED_LOCK = threading.Lock()


@kit.api.get("/things")
def list_things(call: Call[DemoState] = kit.call) -> Response:
    cursor = cursor_pages.open(call, "things")
    return cursor_pages.answer(call, "things", range(7), lambda k: {"id": k, "name": f"thing {k}"}, cursor)


@kit.api.get("/others")
def list_others(call: Call[DemoState] = kit.call) -> Response:
    cursor = cursor_pages.open(call, "others")
    return cursor_pages.answer(call, "others", range(3), lambda k: {"id": k}, cursor)


@kit.api.get("/rows")
def list_rows(call: Call[DemoState] = kit.call) -> Response:
    return numbered_pages.answer(call, list(range(100, 107)), lambda k: {"id": k})


@kit.api.post("/writes")
def write(call: Call[DemoState] = kit.call) -> Response:
    with call.state.lock:
        call.state.writes += 1
    return call.reply({"writes": call.state.writes, "echo": call.body}, 201)


@kit.api.post("/events")
def emit(call: Call[DemoState] = kit.call) -> Response:
    body = json.dumps(call.body).encode()
    records = [send(call.state, hook, "thing/created", body,
                    {"Content-Type": "application/json", "X-Demo-Signature": hmac_sha256_b64(hook["secret"], body)},
                    event_id=str(uuid.uuid4()))
               for hook in subscribers(call.state, "thing/created")]
    return call.reply({"delivered": [r["status"] for r in records]})


@kit.admin.post("/webhooks")
def add_webhook(state: DemoState = kit.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return {"webhook": subscribe(state, payload)}


@basic.api.get("/whoami")
def whoami(call: Call[DemoState] = basic.call) -> Response:
    return call.reply({"ok": True})


@signed.api.post("/query")
def query(call: Call[SignedState] = signed.call) -> Response:
    limit, offset = offset_pages.open(call)
    return offset_pages.answer(call, list(range(25)), lambda n: {"n": n}, limit, offset)


@windowed.api.get("/rows")
def versioned_rows(call: Call[WindowState] = windowed.call) -> Response:
    return version_pages.answer(call, [{"id": n, "version": 1000 + 7 * n} for n in (3, 0, 2, 1)])


def receive_route(app: FastAPI) -> None:
    @app.post("/receiver")
    async def receiver(request: Request) -> dict[str, str]:
        with RECEIVED_LOCK:
            RECEIVED.append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    app = FastAPI()
    for install in (control.install, kit.install, basic.install, signed.install, windowed.install,
                    receive_route):
        install(app)
    with SandboxServer(app=app) as running:
        yield running


@pytest.fixture
def base(server: SandboxServer) -> str:
    """A fresh instance of the demo stand-in."""
    return f"{server.base_url}/demo/{uuid.uuid4().hex[:8]}"


def api(base: str, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
    headers = {"X-Demo-Token": TOKEN, **kwargs.pop("headers", {})}
    return requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=5, **kwargs)


def next_link(response: requests.Response, rel: str = "next") -> str | None:
    return response.links.get(rel, {}).get("url")


# --- the call pipeline: auth, request log, faults -------------------------------------------------


def test_a_wrong_token_is_refused_with_the_declared_body_and_logged(base: str) -> None:
    refused = api(base, "/things", headers={"X-Demo-Token": "nope"})
    assert (refused.status_code, refused.json()) == (401, {"error": "bad token"})
    assert api(base, "/things").status_code == 200
    log = requests.get(f"{base}/_admin/requests", params={"path_contains": "/things"}, timeout=5).json()
    assert [row["status"] for row in log["requests"]] == [401, 200]


def test_basic_credentials_or_query_keys_are_checked_key_then_secret(server: SandboxServer) -> None:
    url = f"{server.base_url}/basic/b1/api/whoami"
    assert requests.get(url, auth=("ck", "cs"), timeout=5).json() == {"ok": True}
    assert requests.get(url, params={"consumer_key": "ck", "consumer_secret": "cs"}, timeout=5).ok
    assert requests.get(url, timeout=5).json() == {"error": "no credentials for GET"}
    assert requests.get(url, auth=("xx", "cs"), timeout=5).json() == {"error": "bad key"}
    assert requests.get(url, auth=("ck", "xx"), timeout=5).json() == {"error": "bad secret"}


def test_a_fault_answers_in_place_of_the_stand_in_then_is_used_up(base: str) -> None:
    requests.post(f"{base}/_admin/faults", json={"status": 503, "count": 1, "retry_after": "7",
                                                 "path_contains": "/writes"}, timeout=5)
    faulted = api(base, "/writes", "POST", json={"a": 1})
    assert (faulted.status_code, faulted.json()) == (503, {"error": "injected 503"})
    assert faulted.headers["Retry-After"] == "7"
    assert api(base, "/writes", "POST", json={"a": 1}).json() == {"writes": 1, "echo": {"a": 1}}


def test_an_after_apply_fault_lets_the_write_happen_and_spoils_only_the_answer(base: str) -> None:
    requests.post(f"{base}/_admin/faults", json={"status": 502, "after_apply": True}, timeout=5)
    assert api(base, "/writes", "POST", json={}).status_code == 502
    assert api(base, "/writes", "POST", json={}).json()["writes"] == 2


def test_the_clock_moves_by_advance_s(base: str) -> None:
    before = datetime.fromisoformat(requests.post(f"{base}/_admin/clock", json={}, timeout=5).json()["now"])
    after = datetime.fromisoformat(requests.post(f"{base}/_admin/clock", json={"advance_s": 3600},
                                                 timeout=5).json()["now"])
    assert timedelta(minutes=59) < after - before < timedelta(minutes=61)


# --- pagination ---------------------------------------------------------------------------------


def test_cursor_pages_follow_next_links_to_the_end_and_previous_back(base: str) -> None:
    first = api(base, "/things", params={"limit": 3})
    assert [t["id"] for t in first.json()["things"]] == [0, 1, 2] and next_link(first, "previous") is None
    seen, page = [], first
    while True:
        seen += [t["id"] for t in page.json()["things"]]
        url = next_link(page)
        if url is None:
            break
        assert set(requests.utils.urlparse(url).query.split("&")[0:1]) == {"limit=3"}
        page = requests.get(url, headers={"X-Demo-Token": TOKEN}, timeout=5)
    assert seen == list(range(7))
    back = requests.get(next_link(page, "previous"), headers={"X-Demo-Token": TOKEN}, timeout=5)
    assert [t["id"] for t in back.json()["things"]] == [3, 4, 5]


def test_cursor_pages_keep_fields_to_the_page_that_sends_them(base: str) -> None:
    first = api(base, "/things", params={"fields": "id"})
    assert first.json()["things"] == [{"id": 0}, {"id": 1}]
    second = requests.get(next_link(first), headers={"X-Demo-Token": TOKEN}, timeout=5)
    assert second.json()["things"][0] == {"id": 2, "name": "thing 2"}


def test_cursor_pages_refuse_bad_limits_extra_filters_and_foreign_cursors(base: str) -> None:
    too_big = api(base, "/things", params={"limit": 6})
    assert (too_big.status_code, too_big.json()) == (400, {"invalid": {"limit": "must be between 1 and 5"}})
    token = requests.utils.urlparse(next_link(api(base, "/things"))).query.split("page_info=")[1]
    mixed = api(base, "/things", params={"page_info": token, "since": "x"})
    assert mixed.status_code == 400 and "cannot be combined with since" in mixed.json()["invalid"]["page_info"]
    foreign = api(base, "/others", params={"page_info": token})
    assert (foreign.status_code, foreign.json()) == (400, {"invalid": {"page_info": "Invalid value."}})
    assert api(base, "/things", params={"page_info": "%%%"}).status_code == 400


def test_numbered_pages_carry_totals_and_links_that_keep_the_query(base: str) -> None:
    first = api(base, "/rows", params={"per_page": 3, "status": "any"})
    assert first.json() == [{"id": 100}, {"id": 101}, {"id": 102}]
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("7", "3")
    assert "prev" not in first.links and "status=any" in next_link(first)
    last = requests.get(requests.utils.requote_uri(next_link(requests.get(
        next_link(first), headers={"X-Demo-Token": TOKEN}, timeout=5))), headers={"X-Demo-Token": TOKEN}, timeout=5)
    assert last.json() == [{"id": 106}] and next_link(last) is None and "page=2" in next_link(last, "prev")
    assert api(base, "/rows", params={"page": 9}).json() == []


def test_numbered_pages_refuse_per_page_out_of_range_and_non_numbers(base: str) -> None:
    assert api(base, "/rows", params={"per_page": 5}).json() == {"invalid": ["per_page"]}
    bad = api(base, "/rows", params={"page": "two"})
    assert (bad.status_code, bad.json()) == (400, {"invalid": ["page", "per_page"]})


# --- rate limit ---------------------------------------------------------------------------------


def test_the_bucket_fills_answers_429_with_retry_after_then_leaks(server: SandboxServer, base: str) -> None:
    state = server.app.state.demo.get(base.rsplit("/", 1)[1])
    state.bucket = Bucket(size=2, leak_rate=1.0)
    answers = [api(base, "/things") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-Demo-Calls"] for a in answers] == ["1/2", "2/2", "2/2"]
    assert answers[2].headers["Retry-After"] == "2.0" and answers[2].json() == {"error": "slow down"}
    time.sleep(1.1)
    assert api(base, "/things").status_code == 200
    log = requests.get(f"{base}/_admin/requests", timeout=5).json()["requests"]
    assert [row["status"] for row in log] == [200, 200, 429, 200]


def test_a_fixed_window_counts_down_then_answers_429_until_an_http_date(server: SandboxServer) -> None:
    url = f"{server.base_url}/windowed/{uuid.uuid4().hex[:6]}/api/rows"
    assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5).json() == {"error": "who?"}
    answers = [requests.get(url, headers={"Authorization": "Bearer bearer-1"}, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"2"}
    ends = email.utils.parsedate_to_datetime(answers[2].headers["Retry-After"])
    assert timedelta(seconds=50) < ends - datetime.now(timezone.utc) <= timedelta(seconds=61)
    assert answers[2].json() == {"error": "Too Many Requests"}


def test_version_pages_answer_rows_after_a_version_in_order(server: SandboxServer) -> None:
    instance = uuid.uuid4().hex[:6]
    url = f"{server.base_url}/windowed/{instance}/api/rows"
    server.app.state.windowed.get(instance).window = Window(limit=100, seconds=60.0)
    headers = {"Authorization": "Bearer bearer-1"}
    first = requests.get(url, headers=headers, timeout=5).json()
    assert [r["id"] for r in first["data"]] == [0, 1] and first["version"] == {"min": 1000, "max": 1007}
    rest = requests.get(url, params={"after": 1007, "page_size": 3}, headers=headers, timeout=5).json()
    assert [r["id"] for r in rest["data"]] == [2, 3] and rest["version"] == {"min": 1014, "max": 1021}
    assert requests.get(url, params={"after": 1021}, headers=headers, timeout=5).json() == {"data": [], "version": None}
    too_big = requests.get(url, params={"page_size": 4}, headers=headers, timeout=5)
    assert (too_big.status_code, too_big.json()) == (400, {"message": "page_size must be 1..3"})


# --- webhooks -----------------------------------------------------------------------------------


def test_deliveries_are_signed_with_the_subscription_secret_and_redelivered_byte_for_byte(
        server: SandboxServer, base: str) -> None:
    secret = "whsec_kit"
    requests.post(f"{base}/_admin/webhooks", json={"address": f"{server.base_url}/receiver", "secret": secret,
                                                   "topic": "thing/created"}, timeout=5)
    with RECEIVED_LOCK:
        RECEIVED.clear()
    assert api(base, "/events", "POST", json={"id": 7}).json() == {"delivered": [200]}
    body, headers = RECEIVED[0]
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert json.loads(body) == {"id": 7} and headers["x-demo-signature"] == expected
    listed = requests.get(f"{base}/_admin/webhooks", timeout=5).json()
    assert listed["deliveries"][0]["status"] == 200 and listed["webhooks"][0]["topics"] == ["thing/created"]
    again = requests.post(f"{base}/_admin/redeliver", json={"index": 0, "times": 2}, timeout=5).json()
    assert again == {"statuses": [200, 200], "event_id": listed["deliveries"][0]["event_id"]}
    assert [b for b, _ in RECEIVED] == [body] * 3
    assert {h["x-demo-signature"] for _, h in RECEIVED} == {expected}


def test_an_address_that_does_not_answer_is_recorded_as_an_error(base: str) -> None:
    requests.post(f"{base}/_admin/webhooks", json={"address": "http://127.0.0.1:9/", "secret": "s",
                                                   "topics": ["thing/created"]}, timeout=5)
    assert api(base, "/events", "POST", json={}).json()["delivered"][0].startswith("error: ")


# --- OAuth 1.0a and offset pages ----------------------------------------------------------------


def test_the_signature_base_string_is_the_one_rfc_5849_shows() -> None:
    """RFC 5849 section 3.4.1.1's example request and the base string it gives for it."""
    params = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("oauth_consumer_key", "9djdj82h48djs9d2"),
              ("oauth_token", "kkk9d7dh3k39sjv7"), ("oauth_signature_method", "HMAC-SHA1"),
              ("oauth_timestamp", "137131201"), ("oauth_nonce", "7d8f3e4a"), ("c2", ""), ("a3", "2 q")]
    assert base_string("POST", "http://example.com/request?b5=%3D%253D", params) == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
        "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
        "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7")


def tba_header(url: str, realm: str, nonce: str, method: str = "HMAC-SHA256", stamp: float | None = None,
               secrets: tuple[str, str] = (CREDENTIALS["consumer_secret"], CREDENTIALS["token_secret"])) -> str:
    oauth = {"oauth_consumer_key": "ck1", "oauth_token": "tk1", "oauth_signature_method": method,
             "oauth_timestamp": str(int(stamp if stamp is not None else time.time())), "oauth_nonce": nonce,
             "oauth_version": "1.0"}
    query = [tuple(pair.split("=", 1)) for pair in requests.utils.urlparse(url).query.split("&") if pair]
    key = f"{pct(secrets[0])}&{pct(secrets[1])}".encode()
    text = base_string("POST", url, [*oauth.items(), *query]).encode()
    oauth["oauth_signature"] = base64.b64encode(hmac.new(key, text, hashlib.sha256).digest()).decode()
    return f'OAuth realm="{realm}", ' + ", ".join(f'{k}="{pct(v)}"' for k, v in oauth.items())


def test_oauth1_accepts_a_signed_request_once_and_names_each_refusal(server: SandboxServer) -> None:
    account = f"acct-{uuid.uuid4().hex[:6]}"
    url = f"{server.base_url}/signed/{account}/rest/query?limit=5"

    def post_with(header: str) -> int:
        return requests.post(url, headers={"Authorization": header}, data=b"{}", timeout=5).status_code

    realm = account.upper().replace("-", "_")
    assert post_with(tba_header(url, realm, "nonce-1")) == 200
    assert post_with(tba_header(url, realm, "nonce-1")) == 401
    assert post_with(tba_header(url, "OTHER", "nonce-2")) == 401
    assert post_with(tba_header(url, realm, "nonce-3", method="HMAC-SHA1")) == 401
    assert post_with(tba_header(url, realm, "nonce-4", stamp=time.time() - 3600)) == 401
    assert post_with(tba_header(url, realm, "nonce-5", secrets=("cs&1", "wrong"))) == 401
    assert post_with(tba_header(url, realm, "n6")) == 401
    assert post_with("Bearer x") == 401
    log = requests.get(f"{server.base_url}/signed/{account}/_admin/requests", timeout=5).json()["requests"]
    assert [row.get("auth_failure") for row in log] == [
        None, "nonce already used", "realm 'OTHER' is not this account",
        "signature method 'HMAC-SHA1' is not HMAC-SHA256", "timestamp outside the allowed window",
        "signature does not match", "nonce shorter than 6 characters", "no OAuth Authorization header"]
    assert log[0]["body"] == "{}" and log[0]["status"] == 200


def test_offset_pages_link_next_and_previous_and_refuse_bad_offsets(server: SandboxServer) -> None:
    account = f"acct-{uuid.uuid4().hex[:6]}"
    realm = account.upper().replace("-", "_")

    def page(query: str, nonce: str) -> requests.Response:
        url = f"{server.base_url}/signed/{account}/rest/query?{query}"
        return requests.post(url, headers={"Authorization": tba_header(url, realm, nonce)}, timeout=5)

    middle = page("limit=5&offset=5", "nonce-a").json()
    assert [i["n"] for i in middle["items"]] == [5, 6, 7, 8, 9]
    assert (middle["count"], middle["hasMore"], middle["offset"], middle["totalResults"]) == (5, True, 5, 20)
    assert [(link["rel"], link["href"].split("?")[1]) for link in middle["links"]] == [
        ("previous", "limit=5&offset=0"), ("next", "limit=5&offset=10"), ("self", "limit=5&offset=5")]
    last = page("limit=10&offset=10", "nonce-b").json()
    assert last["hasMore"] is False and last["count"] == 10 and [link["rel"] for link in last["links"]] == [
        "previous", "self"]
    assert page("limit=5&offset=3", "nonce-c").json() == {
        "detail": "Invalid value for the parameter 'offset'. The offset must be a multiple of limit."}
    assert page("limit=11", "nonce-d").status_code == 400
    assert page("limit=5&offset=20", "nonce-e").json() == {"detail": "SuiteQL returns at most 20 results."}


# --- the lazy catalog ---------------------------------------------------------------------------


def test_the_lazy_catalog_builds_untouched_items_and_finds_skus_in_both() -> None:
    catalog: LazyCatalog[dict[str, Any]] = LazyCatalog(
        lambda batch, key: {"sku": f"{batch.prefix}{key:06d}", "qty": batch.defaults["qty"]}, lambda i: i["sku"])
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    catalog.add_batch(0, 100_000, "SKU-", t0, qty=5)
    catalog.add_batch(100_000, 100_001, "\0", t0 + timedelta(hours=1), qty=0)
    catalog.store(100_000, {"sku": "CHAIR", "qty": 2})
    assert catalog.get(99_999) == {"sku": "SKU-099999", "qty": 5} and catalog.get(100_001) is None
    assert catalog.key_for_sku("SKU-000042") == 42 and catalog.key_for_sku("CHAIR") == 100_000
    catalog.store(42, {"sku": "RENAMED", "qty": 5})
    assert catalog.key_for_sku("SKU-000042") is None and catalog.key_for_sku("SKU-100000") is None
    assert catalog.generated_since(t0 + timedelta(minutes=1)) == set()
    assert len(catalog.generated_since(t0)) == 99_999 and catalog.stored.keys() == {42, 100_000}
