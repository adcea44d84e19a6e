"""The NetSuite stand-in's declarations: the account's state (an in-memory SQLite copy of the
SuiteQL tables), NetSuite's error body, token-based authentication, the kit.

Errors are ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156570709583.html, the
kit's ``oracle_body``); SuiteQL names a table the role may not see as it names an unknown one,
400 "Search error occurred: Record 'location' was not found."; any
failed login answers 401 ``INVALID_LOGIN``
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html).
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, OAuth1, OffsetPages, StandIn, answering_fault
from sandbox.kit.errors import oracle_bad_request as bad_request, oracle_body as error_body

DEFAULTS = {"consumer_key": "ns_ck_sandbox", "consumer_secret": "ns_cs_sandbox",
            "token_id": "ns_tk_sandbox", "token_secret": "ns_ts_sandbox"}
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


def _to_timestamp(text: str, fmt: str) -> str:
    if fmt != TS_FORMAT:
        raise ValueError(f"unsupported format {fmt}")
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")


def _to_char(value: str | None, fmt: str) -> str | None:
    if fmt != TS_FORMAT:
        raise ValueError(f"unsupported format {fmt}")
    return value


def not_found(table: str) -> ValueError:
    """SuiteQL's answer for a table it does not show: unknown, or hidden from the token's role."""
    return ValueError(f"Search error occurred: Record '{table}' was not found.")


@dataclass
class AccountState(KitState):
    """One NetSuite account: credentials, tables, faults and a request log."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    timestamp_tolerance_s: float = 300.0
    nonces: set[str] = field(default_factory=set)
    db: sqlite3.Connection = field(init=False)
    purchase_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: SuiteQL tables the token's role has no permission for (``_admin/config`` ``hidden_records``).
    hidden: set[str] = field(default_factory=set)
    #: The deployed RESTlet (``sandbox.netsuite_restlet``): its ids and the item field it writes.
    restlet: dict[str, str] = field(default_factory=lambda: {"script": "1201", "deploy": "1",
                                                              "status_field": "custitem_ba_backorder"})
    #: Custom item field values the RESTlet wrote, by (item id, field id).
    item_fields: dict[tuple[int, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.db.create_function("TO_TIMESTAMP", 2, _to_timestamp, deterministic=True)
        self.db.create_function("TO_CHAR", 2, _to_char, deterministic=True)
        self.purchase_orders = {}
        self.item_fields = {}

    def po_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        return next((po for po in self.purchase_orders.values() if po["externalId"] == external_id), None)

    def stamp(self) -> str:
        """Account time as NetSuite stores ``lastmodifieddate`` (second precision)."""
        return self.now().strftime("%Y-%m-%d %H:%M:%S")

    def log_time(self) -> str:
        return self.stamp()

    def item_row(self, sku: str) -> tuple | None:
        return self.db.execute("SELECT id FROM item WHERE itemid = ?", (sku,)).fetchone()

    def run_select(self, query: str) -> tuple[list[str], list[tuple]]:
        """Run a read-only SELECT; the authorizer refuses anything that would write. A table the
        role may not see (``hidden``), like one that does not exist, is "not found" to SuiteQL."""
        def authorize(action: int, *_: Any) -> int:
            allowed = (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION)
            return sqlite3.SQLITE_OK if action in allowed else sqlite3.SQLITE_DENY
        tables = re.findall(r'\b(?:FROM|JOIN)\s+"?(\w+)', query, re.IGNORECASE)
        hidden = [table for table in tables if table.lower() in self.hidden]
        if hidden:
            raise not_found(hidden[0])
        self.db.set_authorizer(authorize)
        try:
            cursor = self.db.execute(TRANSACTION_WORD.sub('"transaction"', query))
            return [d[0].lower() for d in cursor.description or []], cursor.fetchall()
        except sqlite3.OperationalError as exc:
            unknown = re.match(r"no such table: (\w+)", str(exc))
            raise not_found(unknown.group(1)) if unknown else exc
        finally:
            self.db.set_authorizer(None)


def render(value: Any) -> str:
    """SuiteQL renders every value as text; whole floats lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def unauthorized(call: Call[AccountState], reason: str) -> JSONResponse:
    """The 401 for any failed TBA check; the reason is only kept in the request log."""
    call.entry["auth_failure"] = reason
    return JSONResponse(error_body(401, "Unauthorized", INVALID_LOGIN, "INVALID_LOGIN"), status_code=401,
                        headers={"WWW-Authenticate": f'OAuth realm="{call.state.name}", error="token_rejected", '
                                                    f'error_description="Invalid login attempt."'})


kit: StandIn[AccountState] = StandIn(
    "netsuite", "/services/rest", AccountState, auth=OAuth1(unauthorized),
    error_body=lambda status: error_body(status, "Internal Server Error", "An unexpected error occurred.",
                                         "UNEXPECTED_ERROR"),
    parse_fault=answering_fault, clock_view=lambda now: {"now": now.strftime("%Y-%m-%d %H:%M:%S")},
    log_body=lambda raw: raw.decode(errors="replace"))
pages = OffsetPages(bad_request)
