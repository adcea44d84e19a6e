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
"""
from __future__ import annotations

import base64
import bisect
import json
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

    def answer(self, call: Call[Any], keys: Sequence[Any], render: Render) -> Response:
        return call.reply({self.key: [render(k) for k in keys]})
