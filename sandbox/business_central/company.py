"""The Business Central stand-in's declarations: one tenant's company, its item ledger, its app
registration and tokens (``sandbox.kit.entra``), its webhook subscriptions
(``sandbox.kit.validated_subscriptions``), the throttle and the kit.

Error bodies are OData's ``{"error": {"code", "message"}}`` with the codes Business Central lists
(https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-error-codes):
a refused token is 401 ``Authentication_InvalidCredentials`` "The server has rejected the client
credentials."; the wording of the other refusals is **assumed** from that table's examples.
Throttling: 6,000 requests per 5-minute window per app, then 429
(https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-rate-limits);
the ``Retry-After`` header (seconds to the window's end) and the ``Application_TooManyRequests``
code are **assumed**, the docs name neither.

The ledger is kept as Business Central keeps it: item ledger entries numbered from 1, a positive
entry open with its ``remainingQuantity`` until negative entries use it up (first in, first out),
so an item's stock at a location is the remaining quantity of its open entries there. Webhook-enabled
entities are the list on the dynamics-subscriptions page.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.entra import Entra, EntraApp
from sandbox.kit.limits import Window, WindowLimit
from sandbox.kit.odata import ODataPages
from sandbox.kit.validated_subscriptions import Subscribers, ValidatedSubscriptions

SCOPE = "https://api.businesscentral.dynamics.com/.default"
DEFAULTS = {"client_id": "bc-sandbox-client", "client_secret": "bc-sandbox-secret"}
WEBHOOK_ENTITIES = frozenset({"accounts", "companyInformation", "countriesRegions", "currencies",
                              "customerPaymentJournals", "customers", "dimensions", "employees",
                              "generalLedgerEntries", "itemCategories", "items", "journals", "paymentMethods",
                              "paymentTerms", "purchaseInvoices", "salesCreditMemos", "salesInvoices",
                              "salesOrders", "salesQuotes", "shipmentMethods", "unitsOfMeasure", "vendors"})


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}}


def stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "business_central:" + ":".join(parts)))


@dataclass
class CompanyState(EntraApp, Subscribers, KitState):
    """One ``{instance}``: a tenant (the instance name unless configured) with one company."""

    environment: str = "production"
    manual_po_numbers: bool = True
    window: Window = field(default_factory=lambda: Window(limit=6_000, seconds=300.0))
    locations: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    def __post_init__(self) -> None:
        self.tenant = self.tenant or self.name
        self.client_id, self.client_secret = DEFAULTS["client_id"], DEFAULTS["client_secret"]
        self.company_id = guid(self.name, "company")

    def etag(self) -> str:
        self.version += 1
        return f'W/"JzE5OzE{self.version}Ozsn"'

    def add_item(self, number: str, name: str = "") -> dict[str, Any]:
        item = self.items.get(number) or {"id": guid(self.name, "item", number), "number": number, "type": "Inventory",
                                          "displayName": name or number, "blocked": False, "unitCost": 10.0}
        item.update({"lastModifiedDateTime": stamp(self.now()), "@odata.etag": self.etag()})
        self.items[number] = item
        return item

    def level(self, item: str, location: str) -> int:
        return sum(e["remainingQuantity"] for e in self.ledger if e["open"] and e["itemNo"] == item
                   and e["locationCode"] == location)

    def post(self, item: str, location: str, quantity: int, entry_type: str, document: str) -> None:
        """An item ledger entry; it uses up (or fills) the opposite open entries first in, first out."""
        left = quantity
        for entry in (e for e in self.ledger if e["open"] and e["itemNo"] == item and e["locationCode"] == location):
            if left == 0 or (entry["remainingQuantity"] > 0) == (left > 0):
                continue
            used = min(abs(entry["remainingQuantity"]), abs(left)) * (1 if left > 0 else -1)
            entry["remainingQuantity"] += used
            entry["open"], left = entry["remainingQuantity"] != 0, left - used
        self.ledger.append({"entryNo": len(self.ledger) + 1, "itemNo": item, "locationCode": location,
                            "postingDate": self.now().date().isoformat(), "entryType": entry_type,
                            "documentNo": document, "quantity": quantity, "remainingQuantity": left,
                            "open": left != 0, "positive": quantity > 0})

    def set_level(self, item: str, location: str, quantity: int) -> None:
        delta = quantity - self.level(item, location)
        if delta:
            self.post(item, location, delta, "Positive Adjmt." if delta > 0 else "Negative Adjmt.", "ADJ")

    def render_item(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "inventory": sum(e["quantity"] for e in self.ledger if e["itemNo"] == item["number"])}

    def resource(self, entity: str) -> str:
        return f"/api/v2.0/companies({self.company_id})/{entity}"


def unauthorized() -> JSONResponse:
    return JSONResponse(error("Authentication_InvalidCredentials", "The server has rejected the client credentials."),
                        status_code=401, headers={"WWW-Authenticate": "Bearer"})


def bearer(call: Call[CompanyState]) -> JSONResponse | None:
    """A token of this tenant (``Entra.bearer``), on a path naming this environment."""
    refused = Entra.bearer(unauthorized)(call)
    environment = call.request.path_params.get("environment")
    if refused is None and environment != call.state.environment:
        return JSONResponse(error("BadRequest_ResourceNotFound", f"Environment '{environment}' does not exist."),
                            status_code=404)
    return refused


def company(call: Call[CompanyState], company_id: str) -> None:
    if company_id != call.state.company_id:
        raise call.refuse(error("BadRequest_ResourceNotFound", "Resource not found for the segment 'companies'."), 404)


def subscribable(state: CompanyState, resource: str) -> bool:
    entity = resource.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return f"companies({state.company_id})" in resource and entity in WEBHOOK_ENTITIES


kit: StandIn[CompanyState] = StandIn(
    "business_central", "/v2.0/{tenant}/{environment}/api", CompanyState, auth=bearer,
    error_body=lambda status: error("Internal_ServerError", "The service is temporarily unavailable."),
    limit=WindowLimit(lambda: error("Application_TooManyRequests", "Too many requests reached.")), webhook_admin=True)
pages = ODataPages(lambda message: error("BadRequest_NotFound", message))
entra = Entra(kit, SCOPE)
subscriptions = ValidatedSubscriptions("/v2.0/subscriptions", error, subscribable)


def notify(state: CompanyState, entity: str, record_id: str, change: str) -> list[dict[str, Any]]:
    return subscriptions.notify(state, state.resource(entity), record_id, change)
