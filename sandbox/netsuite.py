"""NetSuite REST web services stand-in, served at ``/netsuite/{account}/services/rest/…``.

Follows the public docs the connector follows (connectors/netsuite.py lists them):

* token-based authentication checked for real: the ``Authorization: OAuth realm=…, oauth_…`` header
  is parsed, the realm must be the account, ``HMAC-SHA256`` only (SHA-1 ended with 2023.1), the
  consumer key and token must be the seeded ones, the timestamp recent, the nonce unused, and the
  signature is recomputed here from the seeded consumer and token secrets (an implementation
  independent of connectors/base.py, so each checks the other). Any failure answers 401 with
  NetSuite's body ``{"type", "title": "Unauthorized", "status": 401, "o:errorDetails": [{"detail":
  "Invalid login attempt…", "o:errorCode": "INVALID_LOGIN"}]}``;
* SuiteQL ``POST /services/rest/query/v1/suiteql?limit=&offset=`` with ``Prefer: transient`` and
  ``{"q": "SELECT …"}``. The query really runs, on an in-memory SQLite copy of the seeded tables
  ``item``, ``inventoryitemlocations`` and ``location`` (with ``TO_TIMESTAMP`` / ``TO_CHAR`` for the
  ``'YYYY-MM-DD HH24:MI:SS'`` format); only SELECT is allowed. Answers use the collection shape
  ``{"links", "count", "hasMore", "items", "offset", "totalResults"}`` with lower-case columns,
  values as strings and NULL columns omitted; ``limit`` 1..1000, ``offset`` a multiple of ``limit``,
  at most 100,000 results.

* purchase orders through the REST record service: ``POST /record/v1/purchaseOrder`` and the upsert
  ``PUT /record/v1/purchaseOrder/eid:{externalId}`` (``?replace=item`` replaces the item sublist,
  otherwise new lines are added to it) both answer ``204`` with the record's URL in ``Location``;
  ``GET /record/v1/purchaseOrder/{id | eid:…}`` (``expandSubResources=true`` inlines the lines) or
  404 ``NONEXISTENT_ID``. ``entity.id`` must be a seeded vendor and each ``item.id`` a seeded item,
  else 400 ``INVALID_CONTENT`` with ``o:errorPath`` (the shape of the documented example);
  vendors are also readable through SuiteQL (table ``vendor``: ``id, entityid, companyname,
  externalid``), and purchase orders as NetSuite exposes transactions to SuiteQL: ``transaction``
  (``type = 'PurchOrd'``, ``externalid``, ``tranid``, ``status``) and ``transactionline`` (one
  ``mainline = 'T'`` header row, then item lines with ``item``, ``quantity`` and
  ``quantityshiprecv``, the quantity received so far). ``_admin/purchase_orders/receive`` books an
  item receipt: it raises ``quantityshiprecv`` and the item's on-hand, as receiving does.

Admin endpoints (``/netsuite/{account}/_admin/…``) are documented in ``docs/sandbox.md``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.common import (
    Instances,
    PlatformState,
    add_fault_routes,
    add_request_log_routes,
    answering_fault,
    fault_answer,
)

DEFAULTS = {"consumer_key": "ns_ck_sandbox", "consumer_secret": "ns_cs_sandbox",
            "token_id": "ns_tk_sandbox", "token_secret": "ns_ts_sandbox"}
MAX_LIMIT = 1000
MAX_RESULTS = 100_000
TS_FORMAT = "YYYY-MM-DD HH24:MI:SS"
ITEM_ID_BASE = 1000
INVALID_LOGIN = ("Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
                 "Setup > Users/Roles > User Management > View Login Audit Trail.")
SCHEMA = """
CREATE TABLE item (id INTEGER PRIMARY KEY, itemid TEXT, displayname TEXT, itemtype TEXT,
                   isinactive TEXT, lastmodifieddate TEXT);
CREATE TABLE location (id INTEGER PRIMARY KEY, name TEXT, isinactive TEXT);
CREATE TABLE inventoryitemlocations (item INTEGER, location INTEGER, quantityonhand REAL,
                   quantityavailable REAL, quantitycommitted REAL, quantitybackordered REAL,
                   quantityonorder REAL, reorderpoint REAL, PRIMARY KEY (item, location));
CREATE TABLE vendor (id INTEGER PRIMARY KEY, entityid TEXT, companyname TEXT, externalid TEXT UNIQUE,
                   isinactive TEXT);
CREATE TABLE "transaction" (id INTEGER PRIMARY KEY, tranid TEXT, externalid TEXT, type TEXT, entity INTEGER,
                   status TEXT, memo TEXT, lastmodifieddate TEXT);
CREATE TABLE transactionline (id INTEGER, "transaction" INTEGER, linesequencenumber INTEGER, mainline TEXT,
                   item INTEGER, quantity REAL, quantityshiprecv REAL, rate REAL, location INTEGER,
                   PRIMARY KEY ("transaction", id));
"""
#: SuiteQL's table and column ``transaction`` is a reserved word to SQLite: quoted before running.
TRANSACTION_WORD = re.compile(r'(?<!["\w])transaction(?!["\w])', re.IGNORECASE)
VENDOR_ID_BASE = 500
PO_ID_BASE = 7000
NONEXISTENT = "The record instance does not exist. Provide a valid record instance ID."


def error_body(status: int, title: str, detail: str, code: str) -> dict[str, Any]:
    """NetSuite's REST error shape (RFC 9457-style with ``o:errorDetails``)."""
    return {"type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.{status - 399}",
            "title": title, "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}


def pct(value: str) -> str:
    return quote(value, safe="-._~")


def base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and not ((parts.scheme == "http" and parts.port == 80) or
                           (parts.scheme == "https" and parts.port == 443)):
        host = f"{host}:{parts.port}"
    uri = f"{parts.scheme.lower()}://{host}{parts.path}"
    normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in params))
    return "&".join((method.upper(), pct(uri), pct(normalized)))


def parse_oauth_header(value: str) -> dict[str, str] | None:
    if not value.startswith("OAuth "):
        return None
    return {k: unquote(v) for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', value[6:])}


def _to_timestamp(text: str, fmt: str) -> str:
    if fmt != TS_FORMAT:
        raise ValueError(f"unsupported format {fmt}")
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")


def _to_char(value: str | None, fmt: str) -> str | None:
    if fmt != TS_FORMAT:
        raise ValueError(f"unsupported format {fmt}")
    return value


@dataclass
class AccountState(PlatformState):
    """One NetSuite account: credentials, tables, faults and a request log."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    timestamp_tolerance_s: float = 300.0
    clock_offset: timedelta = timedelta()
    nonces: set[str] = field(default_factory=set)
    db: sqlite3.Connection = field(init=False)
    purchase_orders: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.db.create_function("TO_TIMESTAMP", 2, _to_timestamp, deterministic=True)
        self.db.create_function("TO_CHAR", 2, _to_char, deterministic=True)
        self.purchase_orders = {}

    def po_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        return next((po for po in self.purchase_orders.values() if po["externalId"] == external_id), None)

    def now(self) -> str:
        """Account time as NetSuite stores ``lastmodifieddate`` (second precision)."""
        return (datetime.now(timezone.utc) + self.clock_offset).strftime("%Y-%m-%d %H:%M:%S")

    def item_row(self, sku: str) -> tuple | None:
        return self.db.execute("SELECT id FROM item WHERE itemid = ?", (sku,)).fetchone()

    def run_select(self, query: str) -> tuple[list[str], list[tuple]]:
        """Run a read-only SELECT; the authorizer refuses anything that would write."""
        def authorize(action: int, *_: Any) -> int:
            allowed = (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION)
            return sqlite3.SQLITE_OK if action in allowed else sqlite3.SQLITE_DENY
        self.db.set_authorizer(authorize)
        try:
            cursor = self.db.execute(TRANSACTION_WORD.sub('"transaction"', query))
            return [d[0].lower() for d in cursor.description or []], cursor.fetchall()
        finally:
            self.db.set_authorizer(None)


def render(value: Any) -> str:
    """SuiteQL renders every value as text; whole floats lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_oauth(state: AccountState, request: Request, body: bytes) -> str | None:
    """The reason the TBA header is refused, or None when it is valid."""
    fields = parse_oauth_header(request.headers.get("Authorization", ""))
    if fields is None:
        return "no OAuth Authorization header"
    realm = fields.get("realm", "").upper().replace("-", "_")
    if realm != state.name.upper().replace("-", "_"):
        return f"realm {fields.get('realm')!r} is not this account"
    if fields.get("oauth_signature_method") != "HMAC-SHA256":
        return f"signature method {fields.get('oauth_signature_method')!r} is not HMAC-SHA256"
    creds = state.credentials
    if fields.get("oauth_consumer_key") != creds["consumer_key"]:
        return "unknown consumer key"
    if fields.get("oauth_token") != creds["token_id"]:
        return "unknown token"
    try:
        stamp = int(fields.get("oauth_timestamp", ""))
    except ValueError:
        return "timestamp missing"
    if abs(time.time() - stamp) > state.timestamp_tolerance_s:
        return "timestamp outside the allowed window"
    nonce = fields.get("oauth_nonce", "")
    if len(nonce) < 6:
        return "nonce shorter than 6 characters"
    params = [(k, v) for k, v in fields.items() if k.startswith("oauth_") and k != "oauth_signature"]
    params += parse_qsl(request.url.query, keep_blank_values=True)
    if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        params += parse_qsl(body.decode(), keep_blank_values=True)
    key = f"{pct(creds['consumer_secret'])}&{pct(creds['token_secret'])}"
    expected = base64.b64encode(hmac.new(key.encode(), base_string(request.method, str(request.url), params)
                                         .encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, fields.get("oauth_signature", "")):
        return "signature does not match"
    with state.lock:
        if nonce in state.nonces:
            return "nonce already used"
        state.nonces.add(nonce)
    return None


def unexpected_error(status: int) -> dict[str, Any]:
    """NetSuite's body for a server-side failure: that of an injected fault that brings none."""
    return error_body(status, "Internal Server Error", "An unexpected error occurred.", "UNEXPECTED_ERROR")


def install(app: FastAPI) -> None:
    sandbox = Instances(AccountState)
    app.state.netsuite = sandbox
    api = APIRouter(prefix="/netsuite/{instance}/services/rest")
    admin = APIRouter(prefix="/netsuite/{instance}/_admin")

    async def guard(request: Request, instance: str) -> tuple[AccountState, dict, bytes, Response | None]:
        """Faults, then token-based authentication, as a real request meets them."""
        state = sandbox.get(instance)
        body = await request.body()
        entry = state.requests.record(request, body.decode(errors="replace"), state.now())
        faulted = fault_answer(state, request, entry, unexpected_error)
        if faulted:
            return state, entry, body, faulted
        reason = check_oauth(state, request, body)
        if reason:
            entry["status"], entry["auth_failure"] = 401, reason
            return state, entry, body, JSONResponse(
                error_body(401, "Unauthorized", INVALID_LOGIN, "INVALID_LOGIN"), status_code=401,
                headers={"WWW-Authenticate": f'OAuth realm="{instance}", error="token_rejected", '
                                             f'error_description="Invalid login attempt."'})
        return state, entry, body, None

    def reply(entry: dict, content: Any, status: int = 200) -> Response:
        entry["status"] = status
        return JSONResponse(content, status_code=status)

    def bad(entry: dict, detail: str, code: str = "INVALID_PARAMETER", status: int = 400) -> Response:
        return reply(entry, error_body(status, "Bad Request", detail, code), status)

    @api.post("/query/v1/suiteql")
    async def suiteql(request: Request, instance: str) -> Response:
        state, entry, raw, denied = await guard(request, instance)
        if denied:
            return denied
        if request.headers.get("Prefer", "").lower() != "transient":
            return bad(entry, "The request header 'Prefer' must be 'transient' for SuiteQL queries.",
                       "INVALID_HEADER")
        try:
            limit = int(request.query_params.get("limit", MAX_LIMIT))
            offset = int(request.query_params.get("offset", 0))
        except ValueError:
            return bad(entry, "Invalid value for the parameter 'limit' or 'offset'.")
        if not 1 <= limit <= MAX_LIMIT:
            return bad(entry, f"Invalid value for the parameter 'limit'. It must be between 1 and {MAX_LIMIT}.")
        if offset < 0 or offset % limit:
            return bad(entry, "Invalid value for the parameter 'offset'. The offset must be a multiple of limit.")
        if offset >= MAX_RESULTS:
            return bad(entry, f"SuiteQL returns at most {MAX_RESULTS} results.")
        try:
            query = json.loads(raw or b"{}").get("q")
        except (ValueError, AttributeError):
            query = None
        if not isinstance(query, str) or not query.strip().upper().startswith("SELECT") or ";" in query:
            return bad(entry, "Invalid search query. Provide a single SELECT statement in the body field 'q'.",
                       "INVALID_PARAMETER")
        entry["q"] = query
        with state.lock:
            try:
                columns, rows = state.run_select(query)
            except (sqlite3.Error, ValueError) as exc:
                return bad(entry, f"Invalid search query. Detailed unprocessed description follows. {exc}")
        total = min(len(rows), MAX_RESULTS)
        page = rows[offset:min(offset + limit, total)]
        items = [{"links": [], **{c: render(v) for c, v in zip(columns, row) if v is not None}} for row in page]
        base = str(request.url).split("?")[0]
        links = [{"rel": "self", "href": f"{base}?limit={limit}&offset={offset}"}]
        has_more = offset + len(page) < total
        if has_more:
            links.insert(0, {"rel": "next", "href": f"{base}?limit={limit}&offset={offset + limit}"})
        if offset > 0:
            links.insert(0, {"rel": "previous", "href": f"{base}?limit={limit}&offset={max(0, offset - limit)}"})
        return reply(entry, {"links": links, "count": len(items), "hasMore": has_more, "items": items,
                             "offset": offset, "totalResults": total})

    # --- purchase orders (REST record service) -----------------------------------------------

    def record_url(request: Request, instance: str, po_id: int) -> str:
        root = f"{request.url.scheme}://{request.url.netloc}"
        return f"{root}/netsuite/{instance}/services/rest/record/v1/purchaseOrder/{po_id}"

    def written(entry: dict, request: Request, instance: str, po_id: int) -> Response:
        entry["status"] = 204
        return Response(status_code=204, headers={"Location": record_url(request, instance, po_id)})

    def not_found(entry: dict) -> Response:
        return reply(entry, error_body(404, "Record Not Found", NONEXISTENT, "NONEXISTENT_ID"), 404)

    def po_payload(raw: bytes) -> dict[str, Any] | None:
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    @api.post("/record/v1/purchaseOrder")
    async def create_po(request: Request, instance: str) -> Response:
        state, entry, raw, denied = await guard(request, instance)
        if denied:
            return denied
        payload = po_payload(raw)
        if payload is None:
            return bad(entry, "Invalid JSON in the request body.", "INVALID_CONTENT")
        with state.lock:
            external = payload.get("externalId")
            if external is not None and state.po_by_external_id(str(external)):
                return bad(entry, "Error while accessing resource: A record with the same external ID "
                                  "already exists.", "USER_ERROR")
            problem = validate_po(state, payload)
            if problem:
                return reply(entry, problem, 400)
            po = store_po(state, payload, str(external) if external is not None else None)
        return written(entry, request, instance, po["id"])

    @api.put("/record/v1/purchaseOrder/eid:{external_id}")
    async def upsert_po(request: Request, instance: str, external_id: str) -> Response:
        state, entry, raw, denied = await guard(request, instance)
        if denied:
            return denied
        payload = po_payload(raw)
        if payload is None:
            return bad(entry, "Invalid JSON in the request body.", "INVALID_CONTENT")
        if not re.match(r"^[A-Za-z0-9_-]+$", external_id):
            return bad(entry, f"Invalid external ID '{external_id}'.", "INVALID_ID")
        replace = "item" in request.query_params.get("replace", "").split(",")
        with state.lock:
            existing = state.po_by_external_id(external_id)
            problem = validate_po(state, payload, partial=existing is not None)
            if problem:
                return reply(entry, problem, 400)
            if existing is None:
                po = store_po(state, payload, external_id)
            else:
                po = update_po(state, existing, payload, replace_items=replace)
        return written(entry, request, instance, po["id"])

    @api.get("/record/v1/purchaseOrder/{ref}")
    async def get_po(request: Request, instance: str, ref: str) -> Response:
        state, entry, _, denied = await guard(request, instance)
        if denied:
            return denied
        with state.lock:
            if ref.startswith("eid:"):
                po = state.po_by_external_id(ref[4:])
            else:
                po = state.purchase_orders.get(int(ref)) if ref.isdigit() else None
            if po is None:
                return not_found(entry)
            expand = request.query_params.get("expandSubResources", "").lower() == "true"
            return reply(entry, po_view(po, record_url(request, instance, po["id"]), expand))

    # --- admin ------------------------------------------------------------------------------

    @admin.post("/seed")
    def seed(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """``{"locations": K, "count": N, "sku_prefix", "on_hand", "available", "items": [{"sku",
        "on_hand", "available", "committed", "locations": {"<id>": {...}}}]}``."""
        state = sandbox.get(instance)
        with state.lock:
            if payload.get("reset", True):
                state.reset()
            db = state.db
            location_ids = [n + 1 for n in range(int(payload.get("locations", 1)))]
            db.executemany("INSERT OR IGNORE INTO location VALUES (?, ?, 'F')",
                           [(lid, f"Warehouse {lid}") for lid in location_ids])
            next_id = (db.execute("SELECT MAX(id) FROM item").fetchone()[0] or ITEM_ID_BASE - 1) + 1
            specs = [{"sku": f"{payload.get('sku_prefix', 'SKU-')}{n:06d}",
                      "on_hand": payload.get("on_hand", 10), "available": payload.get("available")}
                     for n in range(int(payload.get("count", 0)))] + list(payload.get("items", []))
            for offset, vendor in enumerate(payload.get("vendors", [])):
                vendor_id = (db.execute("SELECT MAX(id) FROM vendor").fetchone()[0] or VENDOR_ID_BASE - 1) + 1
                external = vendor.get("external_id") or vendor.get("externalid")
                db.execute("INSERT INTO vendor VALUES (?, ?, ?, ?, 'F')",
                           (vendor_id, vendor.get("entityid", external or f"V{vendor_id}"),
                            vendor.get("name", external or ""), external))
            created = []
            now = state.now()
            generated = int(payload.get("count", 0))
            for offset, spec in enumerate(specs):
                item_id = next_id + offset
                db.execute("INSERT INTO item VALUES (?, ?, ?, ?, 'F', ?)",
                           (item_id, spec["sku"], spec.get("name", spec["sku"]), spec.get("itemtype", "InvtPart"),
                            now))
                per_location = spec.get("locations") or {str(lid): spec for lid in location_ids}
                for lid, qty in per_location.items():
                    on_hand = int(qty.get("on_hand", 0))
                    committed = int(qty.get("committed", 0))
                    available = qty.get("available")
                    available = on_hand - committed if available is None else int(available)
                    db.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
                               (item_id, int(lid), on_hand, available, committed))
                if offset >= generated:
                    created.append(admin_item(state, item_id))
            db.commit()
            total = db.execute("SELECT COUNT(*) FROM item").fetchone()[0]
            vendors = [{"id": str(r[0]), "entityid": r[1], "companyname": r[2], "externalid": r[3]}
                       for r in db.execute("SELECT id, entityid, companyname, externalid FROM vendor ORDER BY id")]
            return {"total": total, "locations": [str(x) for x in location_ids], "items": created,
                    "vendors": vendors}

    @admin.post("/config")
    def config(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Sets the TBA credentials the account accepts (and the timestamp tolerance)."""
        state = sandbox.get(instance)
        with state.lock:
            for key in DEFAULTS:
                if key in payload:
                    state.credentials[key] = str(payload[key])
            state.timestamp_tolerance_s = float(payload.get("timestamp_tolerance_s", state.timestamp_tolerance_s))
            return {"credentials": state.credentials, "timestamp_tolerance_s": state.timestamp_tolerance_s}

    @admin.post("/clock")
    def clock(instance: str, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        state = sandbox.get(instance)
        state.clock_offset += timedelta(seconds=float(payload.get("advance_s", 0)))
        return {"now": state.now()}

    @admin.post("/set_stock")
    def set_stock(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """Changes one item's quantities at one location and touches its ``lastmodifieddate``."""
        state = sandbox.get(instance)
        with state.lock:
            row = state.item_row(str(payload.get("sku")))
            if row is None:
                return JSONResponse({"error": f"unknown sku {payload.get('sku')}"}, status_code=404)
            location = int(payload.get("location_id", 1))
            on_hand = int(payload["on_hand"])
            committed = int(payload.get("committed", 0))
            available = int(payload.get("available", on_hand - committed))
            state.db.execute("INSERT OR REPLACE INTO inventoryitemlocations VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
                             (row[0], location, on_hand, available, committed))
            if payload.get("touch_item", True):
                state.db.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", (state.now(), row[0]))
            state.db.commit()
            return JSONResponse({"item": admin_item(state, row[0])})

    @admin.post("/purchase_orders/receive")
    def receive(instance: str, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        """``{"external_id": "PO-…", "lines": {"SKU": qty}, "location_id": 1}``: an item receipt
        (without ``lines``, everything outstanding arrives)."""
        state = sandbox.get(instance)
        with state.lock:
            po = state.po_by_external_id(str(payload.get("external_id")))
            if po is None:
                return JSONResponse({"error": f"no purchaseOrder eid:{payload.get('external_id')}"}, status_code=404)
            location = int(payload.get("location_id") or po.get("location") or 1)
            booked = receive_po(state, po, payload.get("lines"), location)
            return JSONResponse({"purchase_order": po["tranId"], "status": po["status"], "received": booked})

    @admin.get("/state/items")
    def state_items(instance: str, skus: str | None = None) -> JSONResponse:
        state = sandbox.get(instance)
        with state.lock:
            if skus:
                ids = [r[0] for s in skus.split(",") if (r := state.item_row(s))]
            else:
                ids = [r[0] for r in state.db.execute("SELECT id FROM item ORDER BY id")]
            return JSONResponse({"items": [admin_item(state, i) for i in ids]})

    @admin.get("/state/purchase_orders")
    def state_purchase_orders(instance: str) -> JSONResponse:
        """Every purchase order with its lines, ids as strings (how tests count what was created)."""
        state = sandbox.get(instance)
        with state.lock:
            return JSONResponse({"purchase_orders": [po_view(po, "", True)
                                                     for _, po in sorted(state.purchase_orders.items())]})

    add_fault_routes(admin, sandbox, answering_fault)
    add_request_log_routes(admin, sandbox)
    app.include_router(api)
    app.include_router(admin)


def admin_item(state: AccountState, item_id: int) -> dict[str, Any]:
    """Admin view: the item's ids and quantities per location, ids as strings."""
    sku, modified = state.db.execute("SELECT itemid, lastmodifieddate FROM item WHERE id = ?", (item_id,)).fetchone()
    levels = state.db.execute("SELECT location, quantityonhand, quantityavailable, quantitycommitted "
                              "FROM inventoryitemlocations WHERE item = ? ORDER BY location", (item_id,)).fetchall()
    return {"sku": sku, "item_id": str(item_id), "lastmodifieddate": modified,
            "locations": {str(loc): {"on_hand": int(oh), "available": int(av), "committed": int(cm)}
                          for loc, oh, av, cm in levels}}


def validate_po(state: AccountState, payload: dict[str, Any], partial: bool = False) -> dict[str, Any] | None:
    """NetSuite's 400 for a reference it cannot resolve (``INVALID_CONTENT`` with ``o:errorPath``)."""
    def invalid(value: Any, field_name: str, path: str) -> dict[str, Any]:
        body = error_body(400, "Bad Request", f"Error while accessing resource: You have entered an Invalid "
                                              f"Field Value {value} for the following field: {field_name}",
                          "INVALID_CONTENT")
        body["o:errorDetails"][0]["o:errorPath"] = path
        return body

    entity = payload.get("entity")
    if entity is None and not partial:
        return error_body(400, "Bad Request", "Error while accessing resource: Please enter value(s) for: Vendor",
                          "USER_ERROR")
    if entity is not None:
        vendor_id = str((entity or {}).get("id", "")) if isinstance(entity, dict) else ""
        if not vendor_id.isdigit() or state.db.execute("SELECT 1 FROM vendor WHERE id = ?",
                                                       (int(vendor_id),)).fetchone() is None:
            return invalid(vendor_id, "entity", "entity")
    lines = ((payload.get("item") or {}).get("items")) if isinstance(payload.get("item"), dict) else None
    if lines is None and not partial:
        return error_body(400, "Bad Request", "Error while accessing resource: You must enter at least one "
                                              "line item for this transaction.", "USER_ERROR")
    for index, line in enumerate(lines or []):
        item_id = str(((line or {}).get("item") or {}).get("id", ""))
        if not item_id.isdigit() or state.db.execute("SELECT 1 FROM item WHERE id = ?",
                                                     (int(item_id),)).fetchone() is None:
            return invalid(item_id, "item", f"item.items[{index}].item")
    return None


def _po_lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"item": str(line["item"]["id"]), "quantity": float(line.get("quantity", 1)),
             "rate": float(line.get("rate", 0))} for line in (payload.get("item") or {}).get("items") or []]


def index_po(state: AccountState, po: dict[str, Any]) -> None:
    """Mirror a purchase order into the SuiteQL tables (header line first, as NetSuite has it)."""
    state.db.execute('DELETE FROM transactionline WHERE "transaction" = ?', (po["id"],))
    state.db.execute('INSERT OR REPLACE INTO "transaction" VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                     (po["id"], po["tranId"], po["externalId"], "PurchOrd", int(po["entity"]), po["status"],
                      po["memo"], state.now()))
    location = int(po["location"]) if po.get("location") else None
    state.db.execute("INSERT INTO transactionline VALUES (?, ?, ?, 'T', NULL, NULL, NULL, NULL, ?)",
                     (0, po["id"], 0, location))
    for n, line in enumerate(po["lines"], start=1):
        state.db.execute("INSERT INTO transactionline VALUES (?, ?, ?, 'F', ?, ?, ?, ?, ?)",
                         (n, po["id"], n, int(line["item"]), line["quantity"], line.get("received", 0.0),
                          line["rate"], location))
    state.db.commit()


def receive_po(state: AccountState, po: dict[str, Any], wanted: dict[str, Any] | None,
               location: int) -> list[dict[str, Any]]:
    """An item receipt against ``po``: each line's received quantity rises (never past what was
    ordered), the items' on-hand at ``location`` rises with it, and the PO's status follows."""
    booked = []
    for line in po["lines"]:
        sku = state.db.execute("SELECT itemid FROM item WHERE id = ?", (int(line["item"]),)).fetchone()[0]
        outstanding = line["quantity"] - line.get("received", 0.0)
        qty = outstanding if wanted is None else min(float(wanted.get(sku, 0)), outstanding)
        if qty <= 0:
            continue
        line["received"] = line.get("received", 0.0) + qty
        state.db.execute("INSERT OR IGNORE INTO inventoryitemlocations VALUES (?, ?, 0, 0, 0, 0, 0, 0)",
                         (int(line["item"]), location))
        state.db.execute("UPDATE inventoryitemlocations SET quantityonhand = quantityonhand + ?, "
                         "quantityavailable = quantityavailable + ? WHERE item = ? AND location = ?",
                         (qty, qty, int(line["item"]), location))
        state.db.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", (state.now(), int(line["item"])))
        booked.append({"sku": sku, "quantity": qty})
    done = all(line.get("received", 0.0) >= line["quantity"] for line in po["lines"])
    po["status"] = "Pending Bill" if done else "Partially Received"
    index_po(state, po)
    return booked


def store_po(state: AccountState, payload: dict[str, Any], external_id: str | None) -> dict[str, Any]:
    po_id = max(state.purchase_orders, default=PO_ID_BASE - 1) + 1
    po = {"id": po_id, "tranId": f"PO{po_id}", "externalId": external_id, "memo": payload.get("memo"),
          "entity": str(payload["entity"]["id"]), "location": (payload.get("location") or {}).get("id"),
          "subsidiary": (payload.get("subsidiary") or {}).get("id"), "status": "Pending Receipt",
          "lines": _po_lines(payload), "createdDate": state.now(), "writes": 1}
    state.purchase_orders[po_id] = po
    index_po(state, po)
    return po


def update_po(state: AccountState, po: dict[str, Any], payload: dict[str, Any], replace_items: bool) -> dict[str, Any]:
    """An upsert that matched: body fields overwrite; item lines are replaced or added to."""
    for name in ("memo",):
        if name in payload:
            po[name] = payload[name]
    if payload.get("entity"):
        po["entity"] = str(payload["entity"]["id"])
    if payload.get("item") is not None:
        po["lines"] = _po_lines(payload) if replace_items else po["lines"] + _po_lines(payload)
    po["writes"] += 1
    index_po(state, po)
    return po


def po_view(po: dict[str, Any], url: str, expand: bool) -> dict[str, Any]:
    """The record as REST GET shows it: references as ``{"id"}`` objects, sublist as a link unless expanded."""
    total = sum(line["quantity"] * line["rate"] for line in po["lines"])
    items: dict[str, Any] = {"links": [{"rel": "self", "href": f"{url}/item"}]}
    if expand:
        items["items"] = [{"line": n + 1, "item": {"id": line["item"]}, "quantity": line["quantity"],
                           "rate": line["rate"], "amount": round(line["quantity"] * line["rate"], 2)}
                          for n, line in enumerate(po["lines"])]
    view = {"links": [{"rel": "self", "href": url}], "id": str(po["id"]), "tranId": po["tranId"],
            "externalId": po["externalId"], "memo": po["memo"], "entity": {"id": po["entity"]},
            "status": po["status"], "createdDate": po["createdDate"], "total": round(total, 2), "item": items}
    for name in ("location", "subsidiary"):
        if po.get(name) is not None:
            view[name] = {"id": str(po[name])}
    if not url:
        view["writes"] = po["writes"]
    return view
