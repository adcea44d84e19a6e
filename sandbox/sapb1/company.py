"""The SAP Business One stand-in's declarations: one company's state, the Service Layer's error
body, its session check and the kit.

Sessions follow the Service Layer user manual
(https://help.sap.com/doc/6ab840ef2e8140f3af9eeb7d8fef9f06/latest/en-US/Working_with_SAP_Business_One_Service_Layer.pdf):
``POST Login`` answers ``{"SessionId", "Version", "SessionTimeout"}`` with the cookies ``B1SESSION``
and ``ROUTEID``; every other call must send both. A call whose session is unknown, logged out,
unused for ``SessionTimeout`` minutes (the idle timeout is **assumed**: the manual names the
timeout, not whether use extends it), or whose ``ROUTEID`` names another node (a load balancer
sends it where the session does not live) is 401 ``{"error": {"code": 301, "message": {"lang":
"en-us", "value": "Invalid session or session already timeout."}}}`` — the body public
integrators log. The cookies' path is the stand-in's ``…/b1s``, as the Service Layer's is ``/b1s``.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.faults import any_fault

DEFAULTS = {"company_db": "SBODEMOUS", "username": "manager", "password": "sap_sandbox"}
#: The Service Layer's default page size (``PageSize`` in b1s.conf).
DEFAULT_PAGE_SIZE = 20
INVALID_SESSION = (301, "Invalid session or session already timeout.")
ITEM_FIELDS = frozenset({"ItemCode", "ItemName", "InventoryItem", "UpdateDate", "UpdateTime", "Valid", "Frozen",
                         "ItemWarehouseInfoCollection", "User_Text"})
#: Object types (``BaseType`` of a copied line) of the documents served.
OBJECT_TYPES = {"PurchaseRequests": 1470000113, "PurchaseOrders": 22, "PurchaseDeliveryNotes": 20}


def sap_error(code: int, value: str) -> dict[str, Any]:
    """The Service Layer's (OData v3) error body."""
    return {"error": {"code": code, "message": {"lang": "en-us", "value": value}}}


@dataclass
class CompanyState(KitState):
    """One company database: credentials, sessions, warehouses, items, partners and documents."""

    credentials: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    session_timeout: int = 30
    route: str = ".node1"
    #: Session id → when it was last used.
    sessions: dict[str, datetime] = field(default_factory=dict)
    warehouses: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    partners: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: User-defined fields of the item master (``U_BackorderStatus``), created through ``UserFieldsMD``.
    item_fields: set[str] = field(default_factory=set)
    documents: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in OBJECT_TYPES})
    entries: itertools.count = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.warehouses, self.items, self.partners, self.item_fields = {}, {}, {}, set()
        self.documents = {name: {} for name in OBJECT_TYPES}

    def stamp(self, item: dict[str, Any]) -> None:
        """An item master change: its ``UpdateDate`` / ``UpdateTime`` (company wall-clock time)."""
        now = self.now()
        item["UpdateDate"], item["UpdateTime"] = now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S")

    def open_session(self) -> str:
        session = str(uuid.uuid4())
        self.sessions[session] = self.now()
        return session

    def add_document(self, collection: str, body: dict[str, Any]) -> dict[str, Any]:
        """A new document numbered like the others: ``DocEntry`` and ``DocNum`` from one sequence."""
        entry = next(self.entries)
        lines = [{"LineNum": n, "BaseType": -1, "BaseEntry": None, "BaseLine": None, **line,
                  "RemainingOpenQuantity": line.get("Quantity", 0), "LineStatus": "bost_Open"}
                 for n, line in enumerate(body.get("DocumentLines") or [])]
        doc = {**body, "DocEntry": entry, "DocNum": 1000 + entry, "DocObjectCode": collection,
               "DocumentStatus": "bost_Open", "Cancelled": "tNO", "CancelStatus": "csNo",
               "DocDate": body.get("DocDate") or self.now().strftime("%Y-%m-%d"), "DocumentLines": lines}
        self.documents[collection][entry] = doc
        return doc


def check_session(call: Call[CompanyState]) -> JSONResponse | None:
    """Let ``Login`` in; anything else needs a live session on this node."""
    if call.request.url.path.endswith("/Login"):
        return None
    state, cookies = call.state, call.request.cookies
    with state.lock:
        session = cookies.get("B1SESSION", "")
        last = state.sessions.get(session)
        if last is None or cookies.get("ROUTEID") != state.route \
                or (state.now() - last).total_seconds() >= 60 * state.session_timeout:
            state.sessions.pop(session, None)
            call.entry["auth_failure"] = "session" if last is None else "route or timeout"
            return JSONResponse(sap_error(*INVALID_SESSION), status_code=401)
        state.sessions[session] = state.now()
    return None


kit: StandIn[CompanyState] = StandIn(
    "sap_b1", "/b1s/v1", CompanyState, auth=check_session,
    error_body=lambda status: sap_error(-1, "Internal error" if status >= 500 else f"HTTP {status}"),
    parse_fault=any_fault, clock_view=lambda now: {"now": now.strftime("%Y-%m-%d %H:%M:%S")})
