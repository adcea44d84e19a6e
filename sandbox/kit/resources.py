"""A declared collection: how a platform lists, filters, sorts and finds one kind of record.

A stand-in declares a :class:`Collection` per resource (its body key, its page style from
``sandbox.kit.pages``, where its keys and records come from, its filters and sort order, its
not-found body) and each endpoint becomes one line: ``return orders.list(call)`` or
``return orders.show(call, order_id)``. Filters are data: :func:`since` (``updated_at_min``,
``modified_after``), :func:`ids`, :func:`since_id`, :func:`equals` with ``choices``; a value the
platform refuses is answered with the page style's own invalid-parameter body. :class:`IdLists`
declares the limits a platform puts on its id-list parameters (how many ids, which are required).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import email.utils
from datetime import datetime, timezone
from typing import Any, Protocol

from fastapi.responses import Response

from sandbox.kit.ledger import Refusal
from sandbox.kit.pages import Render, Select
from sandbox.kit.standin import Call, StandIn

Record = Any
#: (state, keys, value) -> the keys that pass, in their order.
Narrow = Callable[[Any, Sequence[Any], Any], Sequence[Any]]


class PageStyle(Protocol):
    """``LinkCursor``, ``NumberedPages`` or ``FirstPage``."""

    invalid: Callable[[dict[str, str]], Any]

    def serve(self, call: Call[Any], key: str, select: Select) -> Response: ...


@dataclass(frozen=True)
class Filter:
    """Query parameter ``param`` (``default`` when absent; skipped when empty). ``choices`` and
    ``parse`` (ValueError) refuse a bad value with ``status`` and ``detail``; a parse to None is
    no filter. ``test(record, value)`` or ``narrow(state, keys, value)`` keeps what passes."""

    param: str
    test: Callable[[Record, Any], bool] | None = None
    narrow: Narrow | None = None
    parse: Callable[[str, dict[str, str]], Any] = lambda value, query: value
    default: str | None = None
    choices: tuple[str, ...] | None = None
    status: int = 400
    detail: str = ""

    def value(self, call: Call[Any], invalid: Callable[[dict[str, str]], Any], query: dict[str, str]) -> Any:
        """The parsed value, None when the parameter does not filter, or the platform's refusal."""
        raw = query.get(self.param, self.default)
        if not raw:
            return None
        if self.choices is not None and raw not in self.choices:
            raise call.refuse(invalid({self.param: self.detail}), self.status)
        try:
            return self.parse(raw, query)
        except ValueError:
            raise call.refuse(invalid({self.param: self.detail}), self.status) from None


def since(param: str, stamp: Callable[[Record], datetime], parse: Callable[[str, dict[str, str]], Any],
          strictly: bool = False, **options: Any) -> Filter:
    """Records stamped at/after the value (strictly after with ``strictly``)."""
    def test(record: Record, when: datetime) -> bool:
        return stamp(record) > when if strictly else stamp(record) >= when
    return Filter(param, test=test, parse=parse, **options)


def ids(param: str = "ids", id_of: Callable[[Record], Any] = lambda r: r["id"]) -> Filter:
    """Only the records whose id is in the comma-separated list."""
    return Filter(param, test=lambda record, wanted: str(id_of(record)) in wanted,
                  parse=lambda value, query: {v.strip() for v in value.split(",") if v.strip()})


@dataclass(frozen=True)
class IdLists:
    """Query parameters that each carry a comma-separated list of ids (Shopify's
    ``inventory_item_ids`` and ``location_ids``, ``ids``; WooCommerce's ``include``): at most
    ``most`` ids in each, else the :class:`~sandbox.kit.ledger.Refusal` ``<param>:most`` (its
    ``most`` detail is the limit); with ``required``, at least one of them given, else ``ids:required``.
    The platform's refusals table words both."""

    params: tuple[str, ...]
    most: int | None = None
    required: bool = False

    def read(self, query: dict[str, str]) -> dict[str, list[str]]:
        """Each parameter's ids (an empty list when it is absent), or the refusal raised."""
        lists = {name: [value for value in str(query.get(name, "")).split(",") if value] for name in self.params}
        if self.required and not any(lists.values()):
            raise Refusal("ids", "required")
        for name, given in lists.items():
            if self.most is not None and len(given) > self.most:
                raise Refusal(name, "most", most=self.most)
        return lists


def since_id(param: str = "since_id", id_of: Callable[[Record], Any] = lambda r: r["id"]) -> Filter:
    """Only the records with a larger id (a non-number is refused)."""
    return Filter(param, test=lambda record, after: int(id_of(record)) > after, parse=lambda v, q: int(v))


def equals(param: str, field_name: str, **options: Any) -> Filter:
    return Filter(param, test=lambda record, value: record[field_name] == value, **options)


@dataclass(frozen=True)
class Sorting:
    """``orderby`` picks a sort key from ``by`` (None keeps the stored order; anything not in
    ``by`` is refused), ``order`` reverses unless it says ``asc``-like (anything but ``desc``).
    ``param=None`` sorts by ``default`` and reads only the direction."""

    by: dict[str, Callable[[Record], Any] | None]
    param: str | None = "orderby"
    default: str = "date"
    direction: str = "order"
    descending: str = "desc"

    def apply(self, call: Call[Any], invalid: Callable[[dict[str, str]], Any], keys: Sequence[Any],
              get: Callable[[Any], Record]) -> list[Any]:
        query = call.query
        choice = query.get(self.param, self.default) if self.param else self.default
        if choice not in self.by:
            raise call.refuse(invalid({str(self.param): ""}), 400)
        sort_key = self.by[choice]
        ordered = list(keys) if sort_key is None else sorted(keys, key=lambda k: (sort_key(get(k)), k))
        return ordered[::-1] if query.get(self.direction, self.descending) == "desc" else ordered


@dataclass(frozen=True)
class Collection:
    """One resource: ``keys(call)`` in their natural order, ``get(state, key)`` (None: no such
    record), ``render(record)`` as the API shows it. Lists run under the instance's lock."""

    key: str
    pages: PageStyle
    keys: Callable[[Call[Any]], Sequence[Any]]
    get: Callable[[Any, Any], Record | None]
    render: Render = lambda record: record
    filters: tuple[Filter, ...] = ()
    sort: Sorting | None = None
    #: Shopify wraps one record as ``{"draft_order": {...}}``; WooCommerce answers it bare.
    single: str | None = None
    missing: Callable[[], Any] = lambda: {"error": "Not Found"}
    missing_status: int = 404
    #: How a path's id is read (``int``); an id it refuses is not found.
    id_type: Callable[[str], Any] = int

    def select(self, call: Call[Any], query: dict[str, str]) -> tuple[Sequence[Any], Render]:
        """The keys that pass every filter, sorted; the render that shows each."""
        state = call.state
        keys: Sequence[Any] = self.keys(call)
        for filt in self.filters:
            value = filt.value(call, self.pages.invalid, query)
            if value is None:
                continue
            if filt.narrow is not None:
                keys = filt.narrow(state, keys, value)
            elif filt.test is not None:
                test = filt.test
                keys = [k for k in keys if test(self.get(state, k), value)]
        if self.sort is not None:
            keys = self.sort.apply(call, self.pages.invalid, keys, lambda k: self.get(state, k))
        return keys, lambda k: self.render(self.get(state, k))

    def list(self, call: Call[Any]) -> Response:
        with call.state.lock:
            return self.pages.serve(call, self.key, lambda query: self.select(call, query))

    def find(self, call: Call[Any], key: Any) -> Record:
        """The record, or the platform's not-found answer raised."""
        with call.state.lock:
            record = self.get(call.state, key)
        if record is None:
            raise call.refuse(self.missing(), self.missing_status)
        return record

    def show(self, call: Call[Any], key: Any) -> Response:
        body = self.render(self.find(call, key))
        return call.reply({self.single: body} if self.single else body)

    def listing(self, kit: StandIn[Any], path: str) -> None:
        """Serve ``GET path`` (on ``kit.api``) as :meth:`list`."""
        def list_records(call: Call[Any] = kit.call) -> Response:
            return self.list(call)
        kit.api.get(path, name=f"list_{self.key}")(list_records)

    def reading(self, kit: StandIn[Any], path: str, param: str) -> None:
        """Serve ``GET path`` (on ``kit.api``) as :meth:`show` of the id in the ``param`` segment."""
        def read_record(call: Call[Any] = kit.call) -> Response:
            try:
                key = self.id_type(call.path_param(param))
            except ValueError:
                raise call.refuse(self.missing(), self.missing_status) from None
            return self.show(call, key)
        kit.api.get(path, name=f"read_{self.key}")(read_record)


def instant(value: str) -> datetime | None:
    """An ISO 8601 time as query strings carry it (``Z``, or ``+`` decoded to a space), UTC when
    it names no zone; None when it is not a time."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def in_list(attr: str, id_base: int = 0) -> Callable[[Any, Any], Record | None]:
    """``get`` for records kept in ``state.<attr>`` at position ``key - id_base``."""
    def get(state: Any, key: Any) -> Record | None:
        records = getattr(state, attr)
        index = int(key) - id_base
        return records[index] if 0 <= index < len(records) else None
    return get


def positions(attr: str, id_base: int = 0) -> Callable[[Call[Any]], Sequence[int]]:
    """``keys`` for records kept in ``state.<attr>``: their positions plus ``id_base``."""
    return lambda call: range(id_base, id_base + len(getattr(call.state, attr)))


def moment(value: str, query: dict[str, str]) -> datetime:
    """A filter's time: ISO 8601 (:func:`instant`) or RFC 2822 (``Thu, 20 Apr 2017 11:32:00 -0400``,
    which BigCommerce's v2 ``min_date_modified`` also takes:
    https://developer.bigcommerce.com/docs/rest-management/orders ); ValueError for anything else."""
    when = instant(value)
    if when is None:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise ValueError(value) from None
    return when
