"""The Service Layer endpoints the SAP Business One stand-in serves under ``/b1s/v1``.

As the API reference names them
(https://help.sap.com/doc/056f69366b5345a386bb8149f1700c19/10.0/en-US/Service%20Layer%20API%20Reference.html):
``Login`` / ``Logout``; ``Items`` (with ``ItemWarehouseInfoCollection``), ``Items('{code}')`` read
and ``PATCH``-ed; ``Warehouses``; ``UserFieldsMD`` (a user-defined field created); and the marketing
documents ``PurchaseOrders``, ``PurchaseRequests`` and ``PurchaseDeliveryNotes``, listed with the
OData options (``sandbox.kit.odata``) and created with ``POST``. Collections page by
``Prefer: odata.maxpagesize`` (20 by default) with ``odata.nextLink``, OData v3 as ``/b1s/v1`` is.

Refusals are the Service Layer's ``{"error": {"code", "message": {"lang", "value"}}}``. Confirmed
in public integrators' code and logs: ``100000027`` "Login failed", ``301`` for a lost session,
``-2028`` "No matching records found (ODBC -2028)" for an unknown key, and "Property 'U_X' of
'Item' is invalid" (400) for a field the item does not have. **Assumed**: the codes of that last
one (``-1000``) and of a document refused for its partner (``-10``, "Invalid BP code"), its item
(``-10``, "Invalid item code") or a missing date (``-5002``).
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from sandbox.kit import Call
from sandbox.kit.odata import ODataError, Query, page_size
from sandbox.sapb1.company import DEFAULT_PAGE_SIZE, ITEM_FIELDS, OBJECT_TYPES, CompanyState, kit, sap_error

NOT_FOUND = (-2028, "No matching records found (ODBC -2028)")
#: What each document type needs besides its lines: the partner field, the date fields.
REQUIRED = {"PurchaseOrders": ("CardCode", "DocDueDate"), "PurchaseRequests": (None, "RequriedDate"),
            "PurchaseDeliveryNotes": ("CardCode", None)}


def listing(call: Call[CompanyState], collection: str, rows: list[dict[str, Any]]) -> Response:
    """One page of a collection under the request's OData options."""
    try:
        body = Query(call.query).page(collection, rows, page_size(call.request.headers.get("Prefer"),
                                                                  DEFAULT_PAGE_SIZE))
    except ODataError as exc:
        raise call.refuse(sap_error(-1000, str(exc)), 400) from None
    base = str(call.request.url).split("/b1s/v1/")[0]
    return call.reply({"odata.metadata": f"{base}/b1s/v1/$metadata#{collection}", **body})


def key(text: str) -> str:
    """A string key as written in the path: ``'A1'`` → ``A1``."""
    return text[1:-1].replace("''", "'") if text.startswith("'") and text.endswith("'") else text


@kit.api.post("/Login")
def login(call: Call[CompanyState] = kit.call) -> Response:
    body, state = call.body if isinstance(call.body, dict) else {}, call.state
    with state.lock:
        given = (body.get("CompanyDB"), body.get("UserName"), body.get("Password"))
        if given != (state.credentials["company_db"], state.credentials["username"], state.credentials["password"]):
            raise call.refuse(sap_error(100000027, "Login failed"), 401)
        session = state.open_session()
    response = call.reply({"odata.metadata": "$metadata#B1Sessions/@Element", "SessionId": session,
                           "Version": "1000190", "SessionTimeout": state.session_timeout})
    path = call.request.url.path.rsplit("/v1/", 1)[0]
    response.set_cookie("B1SESSION", session, path=path, httponly=True)
    response.set_cookie("ROUTEID", state.route, path=path)
    return response


@kit.api.post("/Logout")
def logout(call: Call[CompanyState] = kit.call) -> Response:
    with call.state.lock:
        call.state.sessions.pop(call.request.cookies.get("B1SESSION", ""), None)
    return call.answer(Response(status_code=204))


@kit.api.get("/Items")
def items(call: Call[CompanyState] = kit.call) -> Response:
    with call.state.lock:
        return listing(call, "Items", list(call.state.items.values()))


@kit.api.get("/Items/$count")
def count_items(call: Call[CompanyState] = kit.call) -> Response:
    """The number of items the ``$filter`` keeps, as plain text."""
    with call.state.lock:
        try:
            counted = len(Query(call.query).apply(call.state.items.values()))
        except ODataError as exc:
            raise call.refuse(sap_error(-1000, str(exc)), 400) from None
    return call.answer(Response(str(counted), media_type="text/plain"))


@kit.api.get("/Items({code})")
def item(code: str, call: Call[CompanyState] = kit.call) -> Response:
    with call.state.lock:
        found = call.state.items.get(key(code))
        if found is None:
            raise call.refuse(sap_error(*NOT_FOUND), 404)
        return call.reply(Query(call.query).select(found))


@kit.api.patch("/Items({code})")
def update_item(code: str, call: Call[CompanyState] = kit.call) -> Response:
    """A partial update: only known properties and the item master's user-defined fields."""
    state, body = call.state, call.body if isinstance(call.body, dict) else {}
    with state.lock:
        found = state.items.get(key(code))
        if found is None:
            raise call.refuse(sap_error(*NOT_FOUND), 404)
        for name in body:
            if name not in ITEM_FIELDS and name not in state.item_fields:
                raise call.refuse(sap_error(-1000, f"Property '{name}' of 'Item' is invalid"), 400)
        found.update(body)
        state.stamp(found)
    return call.answer(Response(status_code=204))


@kit.api.get("/Warehouses")
def warehouses(call: Call[CompanyState] = kit.call) -> Response:
    with call.state.lock:
        return listing(call, "Warehouses", list(call.state.warehouses.values()))


@kit.api.post("/UserFieldsMD")
def add_user_field(call: Call[CompanyState] = kit.call) -> Response:
    """A user-defined field; only the item master's (``OITM``) are kept, as ``U_<Name>``."""
    body = call.body if isinstance(call.body, dict) else {}
    if not body.get("Name") or not body.get("TableName"):
        raise call.refuse(sap_error(-5002, "Field name and table name are required"), 400)
    with call.state.lock:
        name = f"U_{body['Name']}"
        if body["TableName"] == "OITM" and name in call.state.item_fields:
            raise call.refuse(sap_error(-2035, "This entry already exists in the following tables"), 400)
        if body["TableName"] == "OITM":
            call.state.item_fields.add(name)
    return call.reply({**body, "FieldID": len(call.state.item_fields)}, 201)


def documents(collection: str) -> None:
    """``GET`` and ``POST`` of one marketing document type."""

    @kit.api.get(f"/{collection}", name=f"list_{collection}")
    def read(call: Call[CompanyState] = kit.call) -> Response:
        with call.state.lock:
            return listing(call, collection, list(call.state.documents[collection].values()))

    @kit.api.post(f"/{collection}", name=f"add_{collection}")
    def add(call: Call[CompanyState] = kit.call) -> Response:
        state, body = call.state, call.body if isinstance(call.body, dict) else {}
        partner, date = REQUIRED[collection]
        with state.lock:
            if partner and body.get(partner) not in state.partners:
                raise call.refuse(sap_error(-10, f"Invalid BP code '{body.get(partner)}'"), 400)
            if date and not body.get(date):
                raise call.refuse(sap_error(-5002, f"Enter a value for '{date}'"), 400)
            lines = body.get("DocumentLines") or []
            if not lines:
                raise call.refuse(sap_error(-5002, "Document must contain at least one line"), 400)
            for line in lines:
                if line.get("ItemCode") not in state.items:
                    raise call.refuse(sap_error(-10, f"Invalid item code '{line.get('ItemCode')}'"), 400)
                if line.get("LineVendor") and line["LineVendor"] not in state.partners:
                    raise call.refuse(sap_error(-10, f"Invalid BP code '{line['LineVendor']}'"), 400)
            return call.reply(state.add_document(collection, body), 201)


for _collection in OBJECT_TYPES:
    documents(_collection)
