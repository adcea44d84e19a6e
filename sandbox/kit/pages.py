"""Pagination styles a stand-in declares: each reads the page from the query, refuses bad paging
in the platform's format, and answers one page with the platform's headers.

* :class:`LinkCursor`: an opaque ``page_info`` cursor in ``Link: <…>; rel="next"`` /
  ``rel="previous"`` headers; only ``limit`` and ``fields`` may travel with it
  (https://shopify.dev/docs/api/admin-rest/usage/pagination).
* :class:`NumberedPages`: ``page`` / ``per_page`` with ``X-WP-Total`` / ``X-WP-TotalPages`` and a
  ``Link`` header (https://developer.wordpress.org/rest-api/using-the-rest-api/pagination/).
* :class:`FirstPage`: ``limit`` only, no cursor: the first ``limit`` records in the body.
* :class:`OffsetPages`: ``limit`` / ``offset`` with the paging links in the body (NetSuite REST).
* :class:`VersionPages`: rows after a monotonic ``version`` (``?after=&page_size=``), the page's
  version range in the body (https://x-series-api.lightspeedhq.com/docs/pagination);
  :meth:`VersionPages.serve` serves a whole collection that way, and :class:`Versioned` is the
  state's global version counter every change bumps.
* :class:`Whole`: no paging at all: every record under one key (X-Series' webhook list).
* :class:`ArrayPages`: ``page`` / ``limit`` over a bare JSON array, ``204 No Content`` without a
  body past the end (BigCommerce v2: https://developer.bigcommerce.com/docs/rest-management/orders ).
* :class:`MetaPages`: ``page`` / ``limit`` with ``{"data": [...], "meta": {"pagination": {total,
  count, per_page, current_page, total_pages, links: {previous, current, next}}}}``, the links
  being query strings (BigCommerce v3: https://developer.bigcommerce.com/docs/rest-catalog/products ).
* :class:`SearchCriteriaPages`: Magento / Adobe Commerce ``searchCriteria`` (filter groups, sort
  orders, ``pageSize`` / ``currentPage``) answered ``{"items", "search_criteria", "total_count"}``
  (https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/).
"""
from __future__ import annotations

import base64
import bisect
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from sandbox.kit.standin import Call

#: The platform's error body for invalid paging parameters: ``{param: detail}`` (detail may be "").
InvalidParams = Callable[[dict[str, str]], Any]
Render = Callable[[Any], Any]
#: What a declared collection hands a page style: the query's filters in, (sorted keys, render) out.
Select = Callable[[dict[str, str]], tuple[Sequence[Any], Render]]


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def only_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """``fields=a,b``: keep only the named top-level keys (all of them when none are named)."""
    if not fields:
        return obj
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in obj.items() if k in wanted}


@dataclass(frozen=True)
class Cursor:
    """Where a cursor page starts: after or before a key, under the filters of the first page."""

    position: dict[str, Any]
    filters: dict[str, str]
    limit: int
    fields: str | None


@dataclass(frozen=True)
class LinkCursor:
    """Cursor paging over a sorted sequence of int keys. The cursor names its list (``key``), so
    one list's cursor is refused by another; the first page's filters live inside it."""

    invalid: InvalidParams
    max_limit: int = 250
    default_limit: int = 50
    beside_cursor: frozenset[str] = field(default_factory=lambda: frozenset({"page_info", "limit", "fields"}))

    def open(self, call: Call[Any], key: str) -> Cursor:
        """Read ``limit``, ``fields`` and ``page_info``; raise the platform's 400 when they are wrong."""
        query = call.query
        try:
            limit = int(query.get("limit", self.default_limit))
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_limit:
            raise call.refuse(self.invalid({"limit": f"must be between 1 and {self.max_limit}"}), 400)
        fields = query.get("fields")
        if "page_info" not in query:
            filters = {k: v for k, v in query.items() if k not in ("limit", "fields")}
            return Cursor({}, filters, limit, fields)
        extra = set(query) - self.beside_cursor
        if extra:
            raise call.refuse(self.invalid({"page_info": f"cannot be combined with {', '.join(sorted(extra))}; "
                                                         f"only limit and fields are allowed with page_info"}), 400)
        data = decode_cursor(query["page_info"])
        if not data or data.get("k") != key:
            raise call.refuse(self.invalid({"page_info": "Invalid value."}), 400)
        return Cursor({k: data[k] for k in ("after", "before") if k in data}, data.get("f", {}), limit, fields)

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        """One page of a declared collection: the filters come from the cursor after the first page."""
        cursor = self.open(call, key)
        seq, render = select(cursor.filters)
        return self.answer(call, key, seq, render, cursor)

    def answer(self, call: Call[Any], key: str, seq: Sequence[int], render: Render, cursor: Cursor) -> Response:
        """``{key: [...]}`` for the page of ``seq`` at the cursor, with the ``Link`` header. The
        link carries ``page_info`` and ``limit`` only; ``fields`` is the client's to re-send."""
        limit = cursor.limit
        if "before" in cursor.position:
            end = bisect.bisect_left(seq, cursor.position["before"])
            start = max(0, end - limit)
        else:
            start = bisect.bisect_right(seq, cursor.position["after"]) if "after" in cursor.position else 0
            end = min(len(seq), start + limit)
        chosen = [seq[i] for i in range(start, end)]
        base = str(call.request.url).split("?")[0]
        links = []
        if start > 0 and chosen:
            token = encode_cursor({"k": key, "f": cursor.filters, "before": chosen[0]})
            links.append(f'<{base}?limit={limit}&page_info={token}>; rel="previous"')
        if end < len(seq) and chosen:
            token = encode_cursor({"k": key, "f": cursor.filters, "after": chosen[-1]})
            links.append(f'<{base}?limit={limit}&page_info={token}>; rel="next"')
        items = [only_fields(render(k), cursor.fields) for k in chosen]
        return call.reply({key: items}, headers={"Link": ", ".join(links)} if links else None)


@dataclass(frozen=True)
class NumberedPages:
    """``page`` (from 1) and ``per_page`` paging of a list already in answer order; the body is
    the bare list, the totals are headers, ``Link`` keeps every other query parameter."""

    invalid: InvalidParams
    max_per_page: int = 100
    default_per_page: int = 10
    total_header: str = "X-WP-Total"
    pages_header: str = "X-WP-TotalPages"

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        """One page of a declared collection (``key`` names nothing here: the body is a bare list)."""
        keys, render = select(call.query)
        return self.answer(call, keys, render)

    def answer(self, call: Call[Any], keys: Sequence[Any], render: Render) -> Response:
        query = call.query
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", self.default_per_page))
        except ValueError:
            raise call.refuse(self.invalid({"page": "", "per_page": ""}), 400) from None
        if not 1 <= per_page <= self.max_per_page:
            raise call.refuse(self.invalid({"per_page": f"per_page must be between 1 (inclusive) and "
                                                        f"{self.max_per_page} (inclusive)"}), 400)
        total = len(keys)
        pages = (total + per_page - 1) // per_page
        chosen = keys[(page - 1) * per_page: page * per_page] if page >= 1 else []
        base = str(call.request.url).split("?")[0]
        links = []
        if page > 1:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        headers = {self.total_header: str(total), self.pages_header: str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        return call.reply([render(k) for k in chosen], headers=headers)


@dataclass(frozen=True)
class FirstPage:
    """``limit`` (1..``max_limit``) and no cursor: ``{key: [first limit records]}``, as Shopify's
    DraftOrder list answers. The filters are checked before the limit."""

    invalid: InvalidParams
    max_limit: int = 250
    default_limit: int = 50

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        keys, render = select(call.query)
        try:
            limit = int(call.query.get("limit", self.default_limit))
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_limit:
            raise call.refuse(self.invalid({"limit": f"must be between 1 and {self.max_limit}"}), 400)
        return call.reply({key: [render(k) for k in keys[:limit]]})


@dataclass(frozen=True)
class OffsetPages:
    """``limit`` / ``offset`` paging (offset a multiple of limit, a cap on reachable results) in
    NetSuite's collection envelope ``{"links", "count", "hasMore", "items", "offset",
    "totalResults"}`` with ``next`` / ``previous`` / ``self`` links
    (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html)."""

    invalid: Callable[[str], Any]
    max_limit: int = 1000
    max_results: int = 100_000

    def open(self, call: Call[Any]) -> tuple[int, int]:
        """(limit, offset) from the query; raise the platform's 400 when they are wrong."""
        try:
            limit = int(call.query.get("limit", self.max_limit))
            offset = int(call.query.get("offset", 0))
        except ValueError:
            raise call.refuse(self.invalid("Invalid value for the parameter 'limit' or 'offset'."), 400) from None
        if not 1 <= limit <= self.max_limit:
            raise call.refuse(self.invalid(f"Invalid value for the parameter 'limit'. It must be between 1 and "
                                           f"{self.max_limit}."), 400)
        if offset < 0 or offset % limit:
            raise call.refuse(self.invalid("Invalid value for the parameter 'offset'. The offset must be a "
                                           "multiple of limit."), 400)
        if offset >= self.max_results:
            raise call.refuse(self.invalid(f"SuiteQL returns at most {self.max_results} results."), 400)
        return limit, offset

    def answer(self, call: Call[Any], rows: Sequence[Any], render: Render, limit: int, offset: int) -> Response:
        total = min(len(rows), self.max_results)
        items = [render(row) for row in rows[offset:min(offset + limit, total)]]
        base = str(call.request.url).split("?")[0]
        links = [{"rel": "self", "href": f"{base}?limit={limit}&offset={offset}"}]
        has_more = offset + len(items) < total
        if has_more:
            links.insert(0, {"rel": "next", "href": f"{base}?limit={limit}&offset={offset + limit}"})
        if offset > 0:
            links.insert(0, {"rel": "previous", "href": f"{base}?limit={limit}&offset={max(0, offset - limit)}"})
        return call.reply({"links": links, "count": len(items), "hasMore": has_more, "items": items,
                           "offset": offset, "totalResults": total})


@dataclass(frozen=True)
class VersionPages:
    """Rows with ``version > after``, ascending, at most ``page_size``; the answer is
    ``{"data": [...], "version": {"min", "max"}}``, with ``version: null`` past the end."""

    invalid: Callable[[str], Any]
    default_size: int = 1000
    max_size: int = 10_000

    def answer(self, call: Call[Any], rows: Sequence[dict[str, Any]]) -> Response:
        try:
            after = int(call.query.get("after", 0))
            size = int(call.query.get("page_size", self.default_size))
        except ValueError:
            raise call.refuse(self.invalid("after and page_size must be integers"), 400) from None
        if not 1 <= size <= self.max_size:
            raise call.refuse(self.invalid(f"page_size must be 1..{self.max_size}"), 400)
        page = sorted((r for r in rows if r["version"] > after), key=lambda r: r["version"])[:size]
        if not page:
            return call.reply({"data": [], "version": None})
        return call.reply({"data": page, "version": {"min": page[0]["version"], "max": page[-1]["version"]}})

    def serve(self, kit: Any, path: str, rows: Callable[[Any], Iterable[dict[str, Any]]]) -> None:
        """``GET path`` on ``kit.api``: ``rows(state)``, copied under the instance's lock, a page of them."""
        @kit.api.get(path, name=f"list {path}")
        def listing(call: Call[Any] = kit.call) -> Response:
            with call.state.lock:
                return self.answer(call, [dict(row) for row in rows(call.state)])


@dataclass
class Versioned:
    """A state mixin: the instance's global version counter. :meth:`bump` moves it on for every
    change and answers the record's new ``version``; steps are not always 1 (clients must not
    count on that)."""

    version: int = 1_000

    def bump(self) -> int:
        self.version += 1 + (self.version % 3)
        return self.version


@dataclass(frozen=True)
class Whole:
    """No paging: every record, in order, under ``key`` (``{"data": [...]}``), as a list the
    platform documents without paging parameters answers."""

    key: str = "data"
    #: No paging parameters to refuse; a filter's refusal body, where a collection declares one.
    invalid: InvalidParams = lambda params: {"error": "invalid parameter", "params": params}

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        keys, render = select(call.query)
        return self.answer(call, keys, render)

    def answer(self, call: Call[Any], keys: Sequence[Any], render: Render) -> Response:
        return call.reply({self.key: [render(k) for k in keys]})


@dataclass(frozen=True)
class MetaPages:
    """``page`` (from 1) and ``limit`` (1..``max_limit``) over keys already in answer order; the
    page and its ``meta.pagination`` in the body, each link keeping the other query parameters."""

    invalid: InvalidParams
    max_limit: int = 250
    default_limit: int = 50

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        keys, render = select(call.query)
        return self.answer(call, keys, render)

    def answer(self, call: Call[Any], keys: Sequence[Any], render: Render) -> Response:
        query = call.query
        try:
            page, limit = int(query.get("page", 1)), int(query.get("limit", self.default_limit))
        except ValueError:
            raise call.refuse(self.invalid({"page": "", "limit": ""}), 422) from None
        if page < 1 or not 1 <= limit <= self.max_limit:
            raise call.refuse(self.invalid({"limit" if page >= 1 else "page": f"must be 1..{self.max_limit}"}), 422)
        pages = (len(keys) + limit - 1) // limit
        chosen = [render(k) for k in keys[(page - 1) * limit: page * limit]]

        def link(to: int) -> str:
            return "?" + urlencode({**query, "page": to, "limit": limit})
        links = {"current": link(page), **({"previous": link(page - 1)} if page > 1 else {}),
                 **({"next": link(page + 1)} if page < pages else {})}
        return call.reply({"data": chosen, "meta": {"pagination": {
            "total": len(keys), "count": len(chosen), "per_page": limit, "current_page": page, "total_pages": pages,
            "links": links}}})


@dataclass(frozen=True)
class ArrayPages:
    """``page`` (from 1) and ``limit`` (1..``max_limit``) over keys already in answer order; the
    page is the bare array, and an empty one is ``204`` with no body; bad paging is ``status``."""

    invalid: InvalidParams
    max_limit: int = 250
    default_limit: int = 50
    status: int = 400

    def serve(self, call: Call[Any], key: str, select: Select) -> Response:
        keys, render = select(call.query)
        try:
            page, limit = int(call.query.get("page", 1)), int(call.query.get("limit", self.default_limit))
        except ValueError:
            page = limit = 0
        if page < 1 or not 1 <= limit <= self.max_limit:
            raise call.refuse(self.invalid({"page": "", "limit": ""}), self.status)
        chosen = [render(k) for k in keys[(page - 1) * limit: page * limit]]
        return call.reply(chosen) if chosen else call.answer(Response(status_code=204, headers=call.headers))


#: Magento's condition types (``Magento\\Framework\\Api\\Filter``) on a record's value ``a`` and the
#: filter's ``b``; values compare as numbers when both are, else as text (``updated_at`` is UTC text).
CONDITIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: _cmp(a, b) == 0, "neq": lambda a, b: _cmp(a, b) != 0, "gt": lambda a, b: _cmp(a, b) > 0,
    "gteq": lambda a, b: _cmp(a, b) >= 0, "lt": lambda a, b: _cmp(a, b) < 0, "lteq": lambda a, b: _cmp(a, b) <= 0,
    "in": lambda a, b: any(_cmp(a, v) == 0 for v in str(b).split(",")),
    "nin": lambda a, b: all(_cmp(a, v) != 0 for v in str(b).split(",")),
    "like": lambda a, b: re.fullmatch(re.escape(str(b)).replace("%", ".*"), str(a or "")) is not None,
    "null": lambda a, b: a is None, "notnull": lambda a, b: a is not None,
}
CRITERION = re.compile(r"^searchCriteria\[(filter_groups|filterGroups|sortOrders|sort_orders)\]\[(\d+)\]"
                       r"(?:\[filters\]\[(\d+)\])?\[(\w+)\]$")


def _cmp(a: Any, b: Any) -> int:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        x, y = str(a if a is not None else ""), str(b)  # type: ignore[assignment]
    return (x > y) - (x < y)


@dataclass(frozen=True)
class SearchCriteriaPages:
    """``searchCriteria`` as Magento's ``SearchCriteria`` reads a query: filters in a group OR-ed,
    groups AND-ed, ``sortOrders`` in order, ``currentPage`` from 1. Without ``pageSize`` every
    record comes in one page. A ``currentPage`` past the end answers the last page again, as
    Magento does (https://github.com/magento/magento2/issues/25619). With input limits on (Stores >
    Configuration > Services > Web Api Input Limits), a ``pageSize`` above ``max_page_size`` is 400
    ``Maximum SearchCriteria pageSize is %max`` and a missing one gets ``default_page_size``
    (https://developer.adobe.com/commerce/webapi/get-started/api-security/)."""

    invalid: Callable[[str, dict[str, Any]], Any]
    #: Whether the instance has input limits on (``state`` → bool).
    limited: Callable[[Any], bool] = lambda state: False
    max_page_size: int = 300
    default_page_size: int = 20

    def parse(self, query: dict[str, str]) -> tuple[list[list[dict[str, str]]], list[dict[str, str]]]:
        """(filter groups, sort orders) from the bracketed query parameters."""
        groups: dict[int, dict[int, dict[str, str]]] = {}
        orders: dict[int, dict[str, str]] = {}
        for key, value in query.items():
            found = CRITERION.match(key)
            if not found:
                continue
            kind, n, f, name = found.groups()
            if kind.startswith("sort"):
                orders.setdefault(int(n), {})[name] = value
            elif f is not None:
                groups.setdefault(int(n), {}).setdefault(int(f), {})[name.replace("conditionType", "condition_type")] = value
        return ([list(g[k] for k in sorted(g)) for _, g in sorted(groups.items())], [orders[k] for k in sorted(orders)])

    def answer(self, call: Call[Any], records: Sequence[dict[str, Any]], render: Render = lambda r: r) -> Response:
        """The page of ``records`` (raw: filters and sorts read their fields) the query asks for."""
        query, limited = call.query, self.limited(call.state)
        groups, orders = self.parse(query)
        kept = [r for r in records if all(any(CONDITIONS.get(f.get("condition_type", "eq"), CONDITIONS["eq"])(
            r.get(f.get("field", "")), f.get("value", "")) for f in group) for group in groups)]
        for order in reversed(orders):
            kept.sort(key=lambda r: (r.get(order.get("field", "")) is None, _key(r.get(order.get("field", "")))),
                      reverse=order.get("direction", "ASC").upper() == "DESC")
        size_text = query.get("searchCriteria[pageSize]") or query.get("searchCriteria[page_size]")
        size = int(size_text) if size_text and size_text.isdigit() else (self.default_page_size if limited else 0)
        if limited and size > self.max_page_size:
            raise call.refuse(self.invalid("Maximum SearchCriteria pageSize is %max", {"max": self.max_page_size}), 400)
        page = max(1, int(query.get("searchCriteria[currentPage]") or query.get("searchCriteria[current_page]") or 1))
        if size:
            page = min(page, max(1, -(-len(kept) // size)))  # past the end: the last page again
        chosen = kept[(page - 1) * size: page * size] if size else kept
        criteria: dict[str, Any] = {"filter_groups": [{"filters": group} for group in groups]}
        if orders:
            criteria["sort_orders"] = orders
        if size:
            criteria.update(page_size=size, current_page=page)
        return call.reply({"items": [render(r) for r in chosen], "search_criteria": criteria,
                           "total_count": len(kept)})


def _key(value: Any) -> tuple[int, Any]:
    try:
        return 0, float(value)
    except (TypeError, ValueError):
        return 1, str(value)
