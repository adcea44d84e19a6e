"""Admin edits every stand-in makes the same way, declared instead of written out.

* :func:`add_config`: ``POST _admin/config`` from a table of :class:`Setting` (which state
  attribute each key sets, how it is read, whether the answer shows it back).
* :func:`add_seed`: ``POST _admin/seed`` from a :class:`Seed` (how the instance is emptied, which
  payload keys make a generated batch's defaults, how one explicit item is added).
* :func:`add_set_stock` / :func:`add_checkout`: a stock change or a checkout made in the
  platform's own admin: the SKU lookups, the lock and the webhooks are the kit's, the change and
  the order the platform's. :func:`add_change` is the same for any record an admin edits (a
  product renamed, a sale voided), found by the field the payload names it by.
* :func:`add_fulfillment`: ``POST _admin/fulfill``, staff shipping an order's lines (all of them,
  or some: a partial fulfilment) as one fulfilment; :func:`add_connect`: ``POST _admin/connect``,
  an item stocked at another of the shop's locations for the first time, and ``POST
  _admin/disconnect``, unstocked there. The records and the topics are the platform's.
* :func:`add_item_state`: ``GET _admin/state/items`` (``skus=`` or ``offset``/``limit``), what tests
  assert stock on.
* :func:`add_state_view`: ``GET _admin/state/<name>``, stored records as plain JSON.
* :func:`add_action`: any other ``POST _admin/<path>``, the change itself declared as a function;
  :func:`add_secret` one that sets an app's signing secret.
* :func:`reset`: a seed's ``clear`` as data: which of the state's fields go back to their defaults.
* :func:`known`: the admin's 404 ``{"error": "unknown sku X"}`` for a SKU (or anything) not there.
* :func:`plain`: stored records (which may hold datetimes) as plain JSON.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Body
from fastapi.responses import JSONResponse

from sandbox.kit.standin import Answer, StandIn

T = TypeVar("T")
#: Webhooks a change emits, in order: (topic, payload).
Events = list[tuple[str, Any]]
#: Delivers events and returns the delivery records.
Deliver = Callable[[Any, Events], list[dict[str, Any]]]


@dataclass(frozen=True)
class Setting:
    """A config key: sets ``state.<attr>`` (dotted: ``bucket.size``) to ``parse(value)``, or calls
    ``apply(state, value)``; ``show`` renders the current value in the answer (None: not shown)."""

    attr: str
    parse: Callable[[Any], Any] = lambda value: value
    show: Callable[[Any], Any] | None = lambda value: value
    apply: Callable[[Any, Any], None] | None = None

    def owner(self, state: Any) -> tuple[Any, str]:
        *path, name = self.attr.split(".")
        for part in path:
            state = getattr(state, part)
        return state, name

    def set(self, state: Any, value: Any) -> None:
        if self.apply is not None:
            self.apply(state, value)
        else:
            owner, name = self.owner(state)
            setattr(owner, name, self.parse(value))

    def get(self, state: Any) -> Any:
        owner, name = self.owner(state)
        return getattr(owner, name)


def add_config(kit: StandIn[Any], settings: dict[str, Setting]) -> None:
    """``POST _admin/config``: each key given is set under the instance lock; the answer shows the
    settings that have a ``show``."""

    @kit.admin.post("/config")
    def config(state: Any = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        with state.lock:
            for name, setting in settings.items():
                if name in payload:
                    setting.set(state, payload[name])
            return {name: s.show(s.get(state)) for name, s in settings.items() if s.show is not None}


def add_item_state(kit: StandIn[Any], keys: Callable[[Any], Sequence[Any]],
                   find_sku: Callable[[Any, str], Any], get: Callable[[Any, Any], Any],
                   render: Callable[[Any, Any], dict[str, Any]]) -> None:
    """``GET _admin/state/items``: the items named by ``skus`` (unknown ones left out), else the
    ``offset``/``limit`` slice of ``keys(state)``; with the catalog's ``total``."""

    @kit.admin.get("/state/items")
    def state_items(skus: str | None = None, offset: int = 0, limit: int = 100,
                    state: Any = kit.state) -> JSONResponse:
        with state.lock:
            every = keys(state)
            if skus:
                found = [find_sku(state, sku) for sku in skus.split(",")]
                chosen = [key for key in found if key is not None]
            else:
                chosen = list(every[offset:offset + limit])
            return JSONResponse({"total": len(every), "items": [render(state, get(state, k)) for k in chosen]})


def add_state_view(kit: StandIn[Any], name: str, view: Callable[[Any], Any]) -> None:
    """``GET _admin/state/<name>``: ``{name: view(state)}`` under the instance lock, as plain JSON."""

    @kit.admin.get(f"/state/{name}", name=f"state_{name}")
    def state_view(state: Any = kit.state) -> JSONResponse:
        with state.lock:
            return plain({name: view(state)})


def reset(*attrs: str) -> Callable[[Any], None]:
    """A :class:`Seed`'s ``clear``: each named field of the state (a dataclass; dotted for a field of
    one of its fields, ``locations.levels``) set back to its default, a fresh one when it has a
    factory; everything else (credentials, limits) stays."""
    def clear(state: Any) -> None:
        for attr in attrs:
            *path, name = attr.split(".")
            owner = state
            for part in path:
                owner = getattr(owner, part)
            spec = next(f for f in dataclasses.fields(owner) if f.name == name)
            fresh = spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default
            setattr(owner, name, fresh)
    return clear


def add_action(kit: StandIn[Any], path: str, act: Callable[[Any, dict[str, Any]], Any]) -> None:
    """``POST _admin<path>``: ``act(state, payload)`` under the instance lock (no body is ``{}``); what
    it returns is the answer, as plain JSON. For an admin edit no other declaration covers."""

    def action(state: Any = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> JSONResponse:
        with state.lock:
            return plain(act(state, payload))
    kit.admin.post(path, name="admin_" + path.strip("/").replace("/", "_"))(action)


def add_secret(kit: StandIn[Any], path: str, name: str, default: str) -> None:
    """``POST _admin<path> {name}``: the instance's ``name`` attribute (an app's secret that signs its
    webhook deliveries) set; answered ``{"<name>_set": bool}``, whether it differs from ``default``
    (the secret itself is never shown)."""

    def set_secret(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
        setattr(state, name, str(payload.get(name, getattr(state, name))))
        return {f"{name}_set": getattr(state, name) != default}
    add_action(kit, path, set_secret)


def known(found: T | None, what: str) -> T:
    """``found``, or the admin's 404 ``{"error": "unknown <what>"}`` raised."""
    if found is None:
        raise Answer(JSONResponse({"error": f"unknown {what}"}, status_code=404))
    return found


def plain(value: Any) -> JSONResponse:
    """Admin views of stored records (which may hold datetimes) as plain JSON."""
    return JSONResponse(json.loads(json.dumps(value, default=str)))


@dataclass(frozen=True)
class Seed:
    """``POST _admin/seed``: ``reset`` (default true) calls ``clear(state)``; ``count`` generated
    items start at ``start(state, count)`` with ``sku_prefix`` and the batch defaults read from the
    payload (default name → (payload key, parse, value when absent)); each of ``items`` goes
    through ``add(state, spec, now)``. The answer: ``{"total": total(state), "items": [render(...)]}``."""

    clear: Callable[[Any], None]
    start: Callable[[Any, int], int]
    add: Callable[[Any, dict[str, Any], datetime], Any]
    total: Callable[[Any], int]
    render: Callable[[Any, Any], dict[str, Any]]
    batch: dict[str, tuple[str, Callable[[Any], Any], Any]] = field(default_factory=dict)


def add_seed(kit: StandIn[Any], seed: Seed) -> None:
    @kit.admin.post("/seed")
    def seed_catalog(state: Any = kit.state, payload: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        with state.lock:
            if payload.get("reset", True):
                seed.clear(state)
            now, count = state.now(), int(payload.get("count", 0))
            if count:
                start = seed.start(state, count)
                state.catalog.add_batch(start, start + count, payload.get("sku_prefix", "SKU-"), now, **{
                    name: parse(payload.get(key, absent)) for name, (key, parse, absent) in seed.batch.items()})
            added = [seed.add(state, spec, now) for spec in payload.get("items", [])]
            return {"total": seed.total(state), "items": [seed.render(state, item) for item in added]}


#: A change made in the platform's own admin: ``(state, key, payload, now)`` → (what to show, webhooks).
Change = Callable[[Any, Any, dict[str, Any], datetime], tuple[Any, Events]]


def add_change(kit: StandIn[Any], path: str, find: Callable[[Any, str], Any], change: Change, deliver: Deliver,
               by: str = "sku", shown: str = "item") -> None:
    """``POST _admin/<path>``: the record named by the payload's ``by`` field (``find(state,
    value)``, else the admin 404 ``unknown <by> <value>``) changes through ``change``, under the
    instance's lock; answered ``{shown: …, "webhooks": […]}`` once the webhooks are delivered."""

    @kit.admin.post(path, name=path.strip("/"))
    def admin_change(state: Any = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        with state.lock:
            key = known(find(state, str(payload.get(by))), f"{by} {payload.get(by)}")
            record, events = change(state, key, payload, state.now())
        return JSONResponse({shown: record, "webhooks": deliver(state, events)})


def add_set_stock(kit: StandIn[Any], find_sku: Callable[[Any, str], Any], change: Change, deliver: Deliver) -> None:
    """``POST _admin/set_stock``: the item named by ``sku`` (else the admin 404) changes through
    ``change(state, key, payload, now)``, which says what to show and which webhooks follow;
    answered ``{"item", "webhooks"}`` (:func:`add_change`)."""
    add_change(kit, "/set_stock", find_sku, change, deliver)


def add_checkout(kit: StandIn[Any], find_sku: Callable[[Any, str], Any],
                 sell: Callable[[Any, Any, int, Any, datetime], tuple[dict[str, Any], Events]],
                 place: Callable[[Any, list[dict[str, Any]], dict[str, Any], datetime, Any],
                                 tuple[dict[str, Any], Events]],
                 deliver: Deliver, begin: Callable[[Any], Any] = lambda state: None) -> None:
    """``POST _admin/create_order`` ``{"lines": [{sku, quantity, price}], ...}``: each line's item is
    found by SKU (else the admin 404) and ``sell(state, key, quantity, price, now)`` takes its stock,
    giving the order line and its webhooks; ``place(state, lines, payload, now, begun)`` stores the
    order, giving the answer and the order's webhooks, which go out before the lines' ones.
    ``begin(state)`` runs first (a platform that numbers the order before its lines: ``begun``)."""

    @kit.admin.post("/create_order")
    def create_order(state: Any = kit.state, payload: dict[str, Any] = Body(...)) -> JSONResponse:
        with state.lock:
            now, begun, lines, line_events = state.now(), begin(state), [], []
            for spec in payload.get("lines", []):
                key = known(find_sku(state, str(spec["sku"])), f"sku {spec['sku']}")
                line, events = sell(state, key, int(spec.get("quantity", 1)), spec.get("price", "10.00"), now)
                lines.append(line)
                line_events += events
            answer, events = place(state, lines, payload, now, begun)
        return JSONResponse({**answer, "webhooks": deliver(state, events + line_events)})


def add_fulfillment(kit: StandIn[Any], find_order: Callable[[Any, str], Any], deliver: Deliver, topic: str,
                    fulfilment: Callable[[Any, dict[str, Any]], dict[str, Any]], lines: str = "line_items",
                    status: str = "fulfillment_status", partial_topic: str | None = None) -> None:
    """``POST _admin/fulfill {"order_id", ...}``: the order's lines shipped as one fulfilment;
    ``fulfilment(state, asked)`` makes its record from the payload with ``tracking_company`` and
    ``tracking_number`` (None unless given), the order's ``order_id``, the shipped lines (under
    ``lines``) and ``now``. Without ``"lines"`` every line still unshipped goes; with ``"lines":
    [{"sku" or "line_id", "quantity"}]`` only those (a line's whole quantity unless said). A line
    shipped in full is marked ``fulfilled``, in part ``partial``; the order ``fulfilled`` once every
    line is, else ``partial``, and it is sent as ``topic`` — or as ``partial_topic`` while lines
    remain (Shopify's ``orders/partially_fulfilled``). The record is appended to the order's
    ``fulfillments``; a line named twice, unknown or already shipped is the admin 404."""

    def shipped_of(order: dict[str, Any], line: dict[str, Any]) -> int:
        return sum(int(one["quantity"]) for done in order.get("fulfillments", []) for one in done.get(lines, [])
                   if one["id"] == line["id"])

    def fulfil(state: Any, order: dict[str, Any], payload: dict[str, Any], now: datetime) -> tuple[Any, Events]:
        asked = payload.get("lines") or [{"line_id": line["id"]} for line in order[lines]
                                         if shipped_of(order, line) < int(line["quantity"])]
        shipped: list[dict[str, Any]] = []
        for spec in asked:
            line = known(next((one for one in order[lines] if str(one["id"]) == str(spec.get("line_id"))
                               or (spec.get("sku") and one.get("sku") == spec["sku"])), None),
                         f"line {spec.get('line_id') or spec.get('sku')}")
            left = int(line["quantity"]) - shipped_of(order, line)
            quantity = int(spec.get("quantity", left))
            known(quantity if 0 < quantity <= left and all(s["id"] != line["id"] for s in shipped) else None,
                  f"quantity {quantity} of line {line['id']} ({left} left to ship)")
            line[status] = "fulfilled" if quantity == left else "partial"
            shipped.append({**line, "quantity": quantity})
        record = fulfilment(state, {"tracking_company": None, "tracking_number": None, **payload,
                                    "order_id": order["id"], lines: shipped, "now": now})
        order["fulfillments"] = [*order.get("fulfillments", []), record]
        done = all(line.get(status) == "fulfilled" for line in order[lines])
        order[status] = "fulfilled" if done else "partial"
        return order, [(topic if done or partial_topic is None else partial_topic, order)]
    add_change(kit, "/fulfill", find_order, fulfil, deliver, by="order_id", shown="order")


def add_connect(kit: StandIn[Any], find_sku: Callable[[Any, str], Any],
                level: Callable[[Any, Any, int, int, datetime], dict[str, Any]], deliver: Deliver, topic: str,
                main: Callable[[Any], int] = lambda state: state.location_id, disconnect_topic: str | None = None,
                unlinked: tuple[str, ...] = ("inventory_item_id", "location_id")) -> None:
    """Locations beside the state's ``main(state)`` one (its ``location_id`` unless said; its ``locations``, a
    ``sandbox.kit.locations.Locations``) and items connected to them:

    * ``POST _admin/locations {"count"}`` adds ``count`` active locations (a shop with many stores
      or warehouses), answered with every location id;
    * ``POST _admin/connect {"sku", "location_id", "available"}`` stocks the item at an added
      location (any other is the admin 404) with ``available`` units (0 unless given);
      ``level(state, key, location, available, now)`` is the level the ``topic`` webhook carries
      and the answer shows;
    * ``POST _admin/disconnect {"sku", "location_id"}`` (with ``disconnect_topic``) unstocks the item
      there (an item not stocked at an added location is the admin 404): its level leaves every
      list and ``disconnect_topic`` carries the ``unlinked`` fields of that level (Shopify's
      ``inventory_levels/disconnect``: ``inventory_item_id`` and ``location_id``)."""

    def add_locations(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
        state.locations.add(main(state), int(payload.get("count", 1)))
        return {"location_ids": [str(location) for location in state.locations.all(main(state))]}
    add_action(kit, "/locations", add_locations)

    def connect(state: Any, key: Any, payload: dict[str, Any], now: datetime) -> tuple[Any, Events]:
        location = int(payload["location_id"])
        available = known(state.locations.place(location, key, int(payload.get("available", 0)), now),
                          f"location {location}")
        shown = level(state, key, location, available, now)
        return shown, [(topic, shown)]
    add_change(kit, "/connect", find_sku, connect, deliver)

    def disconnect(state: Any, key: Any, payload: dict[str, Any], now: datetime) -> tuple[Any, Events]:
        location = int(payload["location_id"])
        had = known(state.locations.remove(location, key), f"level of {payload.get('sku')} at location {location}")
        shown = {name: value for name, value in level(state, key, location, had, now).items() if name in unlinked}
        return shown, [(str(disconnect_topic), shown)]
    if disconnect_topic is not None:
        add_change(kit, "/disconnect", find_sku, disconnect, deliver)
