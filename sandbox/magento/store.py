"""The Magento stand-in's declarations: a store's state, its ACL check, errors, renderings, the kit.

Every REST route names the ACL resource Magento's ``webapi.xml`` gives it; a request whose bearer
token is not an integration's (when standalone bearer use is allowed) or an unexpired admin
token, or whose token lacks the resource, is answered 401 ``{"message": "The consumer isn't
authorized to access %resources.", "parameters": {"resources": ...}}`` (``checkPermissions`` in
https://github.com/magento/magento2/blob/2.4-develop/app/code/Magento/Webapi/Controller/Rest/RequestValidator.php).
Errors are ``{"message", "parameters"}``
(https://developer.adobe.com/commerce/webapi/get-started/gs-web-api-response/); times are UTC
text (``2024-05-01 13:02:11``). Without Multi-Source Inventory the inventory routes do not exist
(404 ``Request does not match any route.``); with it, the legacy stock item of a product reads
and writes its ``default`` source, and orders reserve units on stock 1 instead of taking them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.kit import Call, KitState, StandIn
from sandbox.kit.auth import RouteGrants
from sandbox.kit.errors import message_body, message_error
from sandbox.kit.fixtures import Fixtures
from sandbox.kit.inventory import StockStatus
from sandbox.kit.pages import SearchCriteriaPages
from sandbox.kit.webhooks import Signed, post, subscribe

DEFAULT_TOKEN = "magento_sandbox_integration_token"
ADMIN_USER, ADMIN_PASSWORD = "admin", "sandbox-admin-password1"
EVERYTHING = "Magento_Backend::all"
NO_ROUTE = "Request does not match any route."
#: ``StockRegistry::resolveProductId`` and ``ProductRepository::get`` for a SKU the store does not have.
NO_SKU = 'The Product with the "%1" SKU doesn\'t exist.'
NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
#: Stock items' status follows their quantity and backorders (``StockStateProvider::verifyStock``).
STATUS = StockStatus(True, True, False, no_backorders=0, status="is_in_stock", quantity="qty",
                     backorders="backorders", modified="updated_at")
fixture = Fixtures(__file__)


def utc_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class StoreState(KitState):
    """One Magento store: products with their legacy stock items, sources, orders, credit memos."""

    integration_token: str = DEFAULT_TOKEN
    #: "Allow OAuth Access Tokens to be used as standalone Bearer tokens" (off by default since 2.4.4).
    bearer_integration: bool = True
    integration_acl: list[str] = field(default_factory=lambda: [EVERYTHING])
    admins: dict[str, str] = field(default_factory=lambda: {ADMIN_USER: ADMIN_PASSWORD})
    admin_tokens: dict[str, datetime] = field(default_factory=dict)
    token_lifetime_h: float = 4.0
    input_limits: bool = False
    msi: bool = False
    next_id: int = 1
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    skus: dict[str, int] = field(default_factory=dict)
    stock: dict[int, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=lambda: [
        {"source_code": "default", "name": "Default Source", "enabled": True, "country_id": "US"}])
    #: stock id → its sources' codes by priority (stock 1 is the Default Stock).
    stock_sources: dict[int, list[str]] = field(default_factory=lambda: {1: ["default"]})
    source_items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: SKU → units reserved on stock 1 by orders not shipped yet (MSI ``inventory_reservation``).
    reserved: dict[str, int] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    creditmemos: list[dict[str, Any]] = field(default_factory=list)

    def allocate(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def product(self, sku: str) -> dict[str, Any] | None:
        return self.products.get(self.skus.get(sku, -1))

    def qty(self, product: dict[str, Any]) -> float:
        if self.msi:
            return float(self.source_items.get((product["sku"], "default"), {}).get("quantity", 0))
        return float(self.stock[product["entity_id"]]["qty"])

    def set_stock(self, product: dict[str, Any], touch: bool = False, **changes: Any) -> dict[str, Any]:
        """The product's stock item with ``changes`` (its status derived again); under MSI its
        quantity is the ``default`` source's. Only a product saved in the admin (``touch``) moves
        its ``updated_at``: a stock item or source item saved alone (a checkout, the REST stock
        routes) is another table, and the product's row does not change."""
        item = STATUS.changed({**self.stock[product["entity_id"]], "qty": changes.pop("qty", self.qty(product))},
                              self.now(), **changes)
        self.stock[product["entity_id"]] = item
        if self.msi:
            self.set_source(product["sku"], "default", item["qty"], int(item["is_in_stock"]))
        if touch:
            product["updated_at"] = utc_text(self.now())
        return item

    def set_source(self, sku: str, code: str, quantity: float, status: int | None = None) -> dict[str, Any]:
        known = self.source_items.get((sku, code), {"status": 1})
        item = {"sku": sku, "source_code": code, "quantity": quantity,
                "status": known["status"] if status is None else status}
        self.source_items[(sku, code)] = item
        return item

    def salable(self, sku: str, stock_id: int) -> float:
        """The stock's sources in stock, less reservations and the out-of-stock threshold (0)."""
        held = sum(float(i["quantity"]) for code in self.stock_sources.get(stock_id, [])
                   if (i := self.source_items.get((sku, code))) and i["status"])
        return held - self.reserved.get(sku, 0) if stock_id == 1 else held


def grants(state: StoreState, token: str) -> list[str]:
    """An integration's grants (when it may be used as a bearer), or all of them for an admin
    token not lapsed yet on the store's clock."""
    if token == state.integration_token and state.bearer_integration:
        return state.integration_acl
    return [EVERYTHING] if token in state.admin_tokens and state.admin_tokens[token] > state.now() else []


ACL = RouteGrants(grants, lambda resource: JSONResponse(message_body(
    "The consumer isn't authorized to access %resources.", {"resources": resource}), status_code=401), EVERYTHING)
kit: StandIn[StoreState] = StandIn(
    "magento", "/rest", StoreState, auth=ACL, clock_view=lambda now: {"now": utc_text(now)}, webhook_admin=True,
    subscribe=lambda state, payload: {"webhook": subscribe(state, payload)}, redeliver=post,
    error_body=lambda status: message_body("Internal Error. Details are available in Magento log file. "
                                           "Report ID: webapi-sandbox"))
pages = SearchCriteriaPages(message_body, limited=lambda state: bool(state.input_limits))
#: A store's own observer module: ``sha256=`` + hex HMAC-SHA256 of the body, as ``hash_hmac`` gives it.
webhooks = Signed({"Content-Type": "application/json", "X-Magento-Topic": "{topic}",
                   "X-Magento-Signature": "sha256={signature_hex}", "X-Magento-Webhook-Id": "{uuid}"})


def route(method: str, path: str, resource: str | None) -> Callable[[Any], Any]:
    """Serve ``method path`` under ``/{store}/V1`` (any store code), needing ``resource``."""
    return ACL.route(kit, method, f"/{{store}}/V1{path}", resource)


def inventory(call: Call[StoreState]) -> StoreState:
    """The state, where Multi-Source Inventory is on; its routes do not exist otherwise."""
    if not call.state.msi:
        raise message_error(call, NO_ROUTE, status=404)
    return call.state


def stock_item_json(state: StoreState, product: dict[str, Any]) -> dict[str, Any]:
    item = state.stock[product["entity_id"]]
    return fixture.fill("stock_item", item, qty=state.qty(product))


def stock_item_event(state: StoreState, product: dict[str, Any]) -> dict[str, Any]:
    """A stock item as the observer posts it: with its SKU and the time of the save."""
    return {**stock_item_json(state, product), "sku": product["sku"], "updated_at": utc_text(state.now())}


def product_json(product: dict[str, Any]) -> dict[str, Any]:
    return fixture.fill("product", product, url_key=product["sku"].lower())


def new_product(state: StoreState, spec: dict[str, Any]) -> dict[str, Any]:
    """A simple product and its stock item from ``{sku, qty, backorders, manage_stock, name, price}``."""
    pid, now = state.allocate(), utc_text(state.now())
    product = {"entity_id": pid, "sku": spec["sku"], "name": spec.get("name", spec["sku"]),
               "type_id": spec.get("type_id", "simple"), "price": float(spec.get("price", 10)),
               "created_at": now, "updated_at": now}
    state.products[pid], state.skus[spec["sku"]] = product, pid
    state.stock[pid] = {"item_id": pid, "product_id": pid, "qty": 0, "is_in_stock": False, "backorders": 0,
                        "use_config_backorders": "backorders" not in spec, "manage_stock": spec.get("manage_stock", True),
                        "use_config_manage_stock": "manage_stock" not in spec}
    for code, quantity in (spec.get("sources") or {}).items():
        state.set_source(spec["sku"], code, float(quantity))
    quantity = spec.get("qty", (spec.get("sources") or {}).get("default", 0))
    state.set_stock(product, qty=float(quantity), backorders=int(spec.get("backorders", 0)))
    return product


def order_json(order: dict[str, Any]) -> dict[str, Any]:
    return fixture.fill("order", order, items=[fixture.fill("order_item", item) for item in order["items"]])
