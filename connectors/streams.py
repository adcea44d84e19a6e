"""Declared streams: a platform says *what* to read, the base reads it the same way for everyone.

After the Singer SDK's ``RESTStream`` (https://sdk.meltano.com/en/latest/classes/singer_sdk.RESTStream.html)
and Airbyte's low-code ``DeclarativeStream``
(https://docs.airbyte.com/connector-development/config-based/understanding-the-yaml-file/yaml-overview):
a :class:`Stream` names its path, fixed params, paginator, where the records sit in the body, how
the saved cursor travels in a request, how the cursor is computed, how a raw record becomes ours,
and how many ids one request may carry. :func:`read_stream` (``RestConnector.read``) owns the rest:

* **incremental state** — :class:`HighWater` keeps the newest cursor-field value seen and lets
  only the *last* page carry it; every earlier page carries the cursor that is safe to save (the
  one the read started from), because a walk not ordered by that field may still hold older
  records further on. :class:`PageCursor` is for walks ordered by a monotonic version, where
  each page's own cursor is safe as soon as it is stored;
* **id-list chunking** — ``ids_per_request`` is the platform's documented limit on one id filter
  (Shopify: 50 ``inventory_item_ids`` or ``location_ids``); the ids given to a read are sent in
  chunks of that size, read one after the other as one stream, so the cursor moves once, after
  the last page of the last chunk;
* retries, pacing and error classification come from ``RestConnector.request``.

A minimal stream (see ``docs/connectors.md``)::

    ORDERS = Stream(path="orders.json", records="orders", map=order_record, paginator=LINKS,
                    params={"status": "any"}, page_size_param="limit", since_param="updated_at_min",
                    cursor=HighWater("updated_at"), page=OrderPage)

    def fetch_orders(self, since):
        return self.read(ORDERS, since)
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, TypeVar, \
    runtime_checkable

import requests

from connectors.paging import PageRequest, Paginator
from connectors.types import Page
from connectors.values import parse_timestamp, utc_iso, with_last_flag

R = TypeVar("R")
Raw = Mapping[str, Any]
#: Id filters of one read: query parameter → the ids it must carry (chunked per the stream's limit).
IdLists = Mapping[str, Sequence[str]]
#: A record mapping: one raw record → a record, several records (a list or tuple), or None to drop it.
RecordMap = Callable[[Raw], Any]


def field_value(record: Any, name: str) -> Any:
    """A record's field, whether the record is a dataclass (attribute) or a raw mapping (key)."""
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


@dataclass(frozen=True)
class HighWater:
    """The newest ``field`` value seen, formatted by ``format``; only the last page moves it.

    ``field`` is read from the *mapped* records (``StockRecord.updated_at``), so a walk whose
    records come from several endpoints keeps one watermark. ``parse`` reads a saved cursor back.
    """

    field: str = "updated_at"
    parse: Callable[[str], Any] = parse_timestamp
    format: Callable[[Any], str] = utc_iso

    @classmethod
    def wall_clock(cls, zone: tzinfo, text_format: str = "%Y-%m-%d %H:%M:%S",
                   field: str = "updated_at") -> HighWater:
        """A cursor saved as wall-clock text in the platform's ``zone`` (``2024-05-01 13:02:11``),
        for filters that compare such text (NetSuite SuiteQL ``TO_TIMESTAMP``, Magento's UTC
        ``updated_at``); records still compare as instants."""
        return cls(field, parse=lambda text: datetime.strptime(text, text_format).replace(tzinfo=zone),
                   format=lambda when: when.astimezone(zone).strftime(text_format))

    def over(self, pages: Iterable[list[R]], since: str | None) -> Iterator[tuple[list[R], str | None]]:
        """``(records, cursor)`` per page: ``since`` on every page but the last, which carries
        the newest value seen (or ``since`` again when nothing newer came)."""
        high = self.parse(since) if since else None
        for records, is_last in with_last_flag(iter(pages)):
            for record in records:
                value = field_value(record, self.field)
                if value is not None and (high is None or value > high):
                    high = value
            yield records, (self.format(high) if is_last and high is not None else since)


@dataclass(frozen=True)
class PageCursor:
    """Each page's own cursor, read from its body (e.g. a monotonic ``version.max``): safe to save
    after that page because the walk is ordered by it."""

    of_body: Callable[[Any], Any]


def time_after(param: str, *, lookback_s: float = 0.0, utc_offset: bool = True,
               **fixed: str) -> Callable[[str], dict[str, str]]:
    """A ``since_param`` for a time cursor the platform compares strictly ("modified after") at
    one-second resolution: sent ``lookback_s`` earlier, so a record in the cursor's own second is
    read again rather than lost (the set-based upsert absorbs it). ``utc_offset=False`` sends UTC
    wall-clock time without ``+00:00`` (WordPress with ``dates_are_gmt``); ``fixed`` parameters
    travel with it. A cursor that does not parse sends nothing (a full read)."""
    def params(cursor: str) -> dict[str, str]:
        when = parse_timestamp(cursor)
        if when is None:
            return {}
        sent = utc_iso(when - timedelta(seconds=lookback_s))
        return {param: sent if utc_offset else sent.replace("+00:00", ""), **fixed}
    return params


@runtime_checkable
class FirstParams(Protocol):
    """Paginators that add their own parameters to the first request (page 1, offset 0)."""

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ...


@dataclass(frozen=True)
class Stream:
    """One readable collection of a platform, declared once at module or class level.

    ``records`` is the body key holding the list, ``"$"`` when the body itself is the list (a
    top-level JSON array, as WordPress answers), or a function of the body. ``map`` turns a raw
    record into records (None drops it); a read may pass another ``map`` when mapping needs what
    the read learned (a variant lookup). ``since_param`` is the query parameter the saved cursor
    travels in, or a function ``cursor → params``. ``page_size_param`` receives the connector's
    ``page_size``. ``stop_on_empty_page`` ends the read at an empty page without yielding it (walks
    that signal their end that way). ``page`` builds each yielded page (``StockPage``, ``OrderPage``).

    A query sent as a body (SuiteQL, GraphQL) names ``method="POST"``, its ``headers`` and the JSON
    ``body`` every page's request carries (:meth:`with_body` fills it per read); a stream only
    reads, so its requests are retried like a GET's whatever the method.
    """

    path: str
    records: str | Callable[[Any], list[Raw]]
    paginator: Paginator
    map: RecordMap | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    page_size_param: str | None = None
    since_param: str | Callable[[str], Mapping[str, Any]] | None = None
    cursor: HighWater | PageCursor | None = None
    ids_per_request: int | None = None
    stop_on_empty_page: bool = False
    page: Callable[[list[Any], str | None], Any] = Page
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    def at(self, **values: Any) -> Stream:
        """This stream under a parent: ``REFUNDS.at(order=42)`` fills ``orders/{order}/refunds.json``,
        and the same placeholders in its parameter values (Magento's credit memos are one list
        filtered by ``order_id``); other placeholders there stay as they are."""
        def fill(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            for name, given in values.items():
                value = value.replace("{" + name + "}", str(given))
            return value
        return replace(self, path=self.path.format(**values), params={k: fill(v) for k, v in self.params.items()})

    def from_url(self, url: str, query: Mapping[str, Any]) -> Stream:
        """This stream read at an absolute URL (a webhook's resource URL, checked by
        ``RestConnector.own_url``), that URL's query sent with the stream's own params over it."""
        return replace(self, path=url, params={**query, **self.params})

    def with_body(self, body: Any) -> Stream:
        """This stream asking with ``body``: ``SUITEQL.with_body({"q": "SELECT …"})``."""
        return replace(self, body=body)

    def extract(self, body: Any) -> list[Raw]:
        if callable(self.records):
            return list(self.records(body) or [])
        if self.records == "$":
            return list(body) if isinstance(body, list) else []
        return list((body or {}).get(self.records) or []) if isinstance(body, Mapping) else []


@dataclass(frozen=True)
class Collections:
    """A platform's convention for its collections, declared once: every list it serves pages the
    same way, takes its page size in the same parameter and puts its records in the same place.

    ``records`` is where the list sits (``"$"``: the body itself, as WordPress answers); None means
    under the collection's own name, the path's last segment without ``suffix`` (Shopify answers
    ``orders.json`` as ``{"orders": [...]}``). ``params`` go with every request (a collection's own
    are added). ``REST("orders", map=…)`` is the :class:`Stream` at ``orders`` + ``suffix``; what a
    collection declares beyond the convention is passed on, and an explicit ``records`` wins (a
    search endpoint named otherwise than its records).

    A platform whose every collection is one walk by the same cursor (Lightspeed X-Series' global
    ``version``: ``?after=``, each page's ``version.max``, an empty page at the end) declares that
    once too: ``since_param``, ``cursor`` and ``stop_on_empty_page`` are each collection's unless
    it declares its own.
    """

    paginator: Paginator
    page_size_param: str | None = None
    records: str | None = None
    suffix: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    since_param: str | Callable[[str], Mapping[str, Any]] | None = None
    cursor: HighWater | PageCursor | None = None
    stop_on_empty_page: bool = False

    def __call__(self, path: str, **declared: Any) -> Stream:
        declared["params"] = {**self.params, **declared.get("params", {})}
        declared.setdefault("records", self.records or path.rsplit("/", 1)[-1])
        for name in ("page_size_param", "since_param", "cursor", "stop_on_empty_page"):
            declared.setdefault(name, getattr(self, name))
        return Stream(path=path + self.suffix, paginator=self.paginator, **declared)


class Reader(Protocol):
    """What :func:`read_stream` needs from a connector (``RestConnector`` has it all)."""

    page_size: int

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
                headers: Mapping[str, str] | None = None, retry: bool | None = None) -> requests.Response:
        ...

    def decode(self, response: requests.Response) -> Any:
        ...


def chunks(ids: Sequence[R], size: int | None) -> Iterator[list[R]]:
    """``ids`` in lists of at most ``size`` (all at once when None), in order."""
    step = size or max(1, len(ids))
    for start in range(0, len(ids), step):
        yield list(ids[start:start + step])


def first_requests(stream: Stream, page_size: int | None, since: str | None,
                   ids: IdLists | None) -> Iterator[PageRequest]:
    """The first request of each chunk: fixed params, page size, the cursor, one chunk of ids."""
    params: dict[str, Any] = dict(stream.params)
    if stream.page_size_param and page_size:
        params[stream.page_size_param] = page_size
    if isinstance(stream.paginator, FirstParams):
        params = stream.paginator.first_params(params)
    if since is not None and stream.since_param is not None:
        params.update({stream.since_param: since} if isinstance(stream.since_param, str)
                      else stream.since_param(since))
    if not ids:
        yield PageRequest(stream.path, params)
        return
    if len(ids) != 1:
        raise ValueError(f"{stream.path}: one id list per read, got {sorted(ids)}")
    [(name, values)] = ids.items()
    for chunk in chunks(values, stream.ids_per_request):
        yield PageRequest(stream.path, {**params, name: ",".join(chunk)})


def raw_pages(reader: Reader, stream: Stream, since: str | None = None,
              ids: IdLists | None = None) -> Iterator[tuple[Any, list[Raw]]]:
    """``(body, raw records)`` per page, every chunk's pages in turn."""
    for current in first_requests(stream, getattr(reader, "page_size", None), since, ids):
        request: PageRequest | None = current
        while request is not None:
            response = reader.request(stream.method, request.url, params=request.params, json_body=stream.body,
                                      headers=stream.headers or None, retry=True)
            body = reader.decode(response)
            rows = stream.extract(body)
            if not rows and stream.stop_on_empty_page:
                break
            yield body, rows
            request = stream.paginator.next_page(response, body, len(rows), request)


def mapped(rows: Iterable[Raw], record_map: RecordMap | None) -> list[Any]:
    """Apply a record mapping: None drops a row, a list or tuple adds several records."""
    if record_map is None:
        return list(rows)
    records: list[Any] = []
    for row in rows:
        out = record_map(row)
        if out is None:
            continue
        if isinstance(out, (list, tuple)):
            records.extend(out)
        else:
            records.append(out)
    return records


def read_stream(reader: Reader, stream: Stream, since: str | None = None, *,
                ids: IdLists | None = None, map: RecordMap | None = None) -> Iterator[Any]:
    """Stream ``stream``'s pages as ``stream.page(records, cursor)``; see the module docstring."""
    record_map = map or stream.map
    pages = raw_pages(reader, stream, since, ids)
    if isinstance(stream.cursor, PageCursor):
        for body, rows in pages:
            cursor = stream.cursor.of_body(body)
            yield stream.page(mapped(rows, record_map), since if cursor is None else str(cursor))
    elif isinstance(stream.cursor, HighWater):
        for records, cursor in stream.cursor.over((mapped(rows, record_map) for _, rows in pages), since):
            yield stream.page(records, cursor)
    else:
        for _, rows in pages:
            yield stream.page(mapped(rows, record_map), since)


def incremental(pages: Iterable[list[R]], since: str | None, cursor: HighWater = HighWater(),
                page: Callable[[list[R], str | None], Any] = Page) -> Iterator[Any]:
    """:class:`HighWater` over pages a connector composed itself (a walk over two endpoints)."""
    for records, moved in cursor.over(pages, since):
        yield page(records, moved)
