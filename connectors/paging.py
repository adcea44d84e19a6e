"""Paginators: each answers "what is the request after this page?" and nothing else.

A paginator sees the response, its decoded body, how many records the page held and the request
that fetched it, and returns the next :class:`PageRequest` or None. The stream reader
(``connectors.streams``) and :meth:`connectors.http.RestConnector.paginate` drive them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests


@dataclass(frozen=True)
class PageRequest:
    """The next request to make: a path or absolute URL plus its query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)


class Paginator(Protocol):
    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        """The request for the page after ``current``, or None when ``current`` was the last."""
        ...


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query))


class LinkHeaderPaginator:
    """Follows ``Link: <…>; rel="next"`` (RFC 8288), as Shopify and WooCommerce send.

    ``allowed_params`` keeps only those query keys from the next link; Shopify rejects any
    parameter other than ``limit`` and ``fields`` next to ``page_info`` (the filters are baked
    into the opaque cursor), so its connector passes ``("page_info", "limit", "fields")``.

    ``carried_params`` are sent again from the current request when the next link leaves them
    out: Shopify's documented link syntax carries ``page_info`` and ``limit`` only, and a page
    requested without ``fields`` comes back with every field of every record.
    """

    def __init__(self, allowed_params: Iterable[str] | None = None,
                 carried_params: Iterable[str] = ()) -> None:
        self.allowed_params = frozenset(allowed_params) if allowed_params is not None else None
        self.carried_params = tuple(carried_params)

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link = response.links.get("next")
        if not link or not link.get("url"):
            return None
        url, params = _split_url(link["url"])
        if self.allowed_params is not None:
            params = {k: v for k, v in params.items() if k in self.allowed_params}
        for key in self.carried_params:
            if key not in params and key in current.params:
                params[key] = current.params[key]
        return PageRequest(url, params)


def shopify_link_paginator() -> LinkHeaderPaginator:
    """Shopify's rule: only ``limit`` and ``fields`` may travel with ``page_info``, and both are
    re-sent on every page (the filters live in the cursor, the field list does not)."""
    return LinkHeaderPaginator(allowed_params=("page_info", "limit", "fields"), carried_params=("limit", "fields"))


class PageNumberPaginator:
    """``?page=N`` paging that stops at a total-pages header (WordPress REST ``X-WP-TotalPages``,
    https://developer.wordpress.org/rest-api/using-the-rest-api/pagination/ , as WooCommerce sends).

    Without the header it stops at the first short page. A page size already in the request (a
    stream's ``page_size_param``) wins over ``page_size``, and the short-page test uses it.
    """

    def __init__(self, page_param: str = "page", size_param: str = "per_page", page_size: int = 100,
                 total_pages_header: str | None = "X-WP-TotalPages") -> None:
        self.page_param = page_param
        self.size_param = size_param
        self.page_size = page_size
        self.total_pages_header = total_pages_header

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {self.size_param: self.page_size, **params, self.page_param: 1}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        page = int(current.params.get(self.page_param, 1))
        total = response.headers.get(self.total_pages_header) if self.total_pages_header else None
        if total is not None:
            if page >= int(total):
                return None
        elif record_count < int(current.params.get(self.size_param, self.page_size)):
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class MetaPaginationPaginator:
    """BigCommerce v3: ``{"meta": {"pagination": {"current_page", "total_pages"}}}`` in the body."""

    def __init__(self, page_param: str = "page") -> None:
        self.page_param = page_param

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        pagination = ((body or {}).get("meta") or {}).get("pagination") or {}
        page = int(pagination.get("current_page") or current.params.get(self.page_param, 1))
        total = int(pagination.get("total_pages") or 0)
        if page >= total:
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class OffsetPaginator:
    """``offset``/``limit`` paging (Magento-style searchCriteria, Odoo, Zoho): stop on a short page.

    When ``total_key`` names a body field with the total count, it stops there instead.
    """

    def __init__(self, offset_param: str = "offset", limit_param: str = "limit", limit: int = 100,
                 total_key: str | None = None) -> None:
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.total_key = total_key

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, self.offset_param: 0, self.limit_param: self.limit}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        offset = int(current.params.get(self.offset_param, 0)) + record_count
        if self.total_key and isinstance(body, Mapping) and body.get(self.total_key) is not None:
            if offset >= int(body[self.total_key]):
                return None
        elif record_count < self.limit:
            return None
        if record_count == 0:
            return None
        return PageRequest(current.url, {**current.params, self.offset_param: offset})


class TotalCountPaginator:
    """Numbered pages whose body names the unpaged count (Magento / Adobe Commerce ``searchCriteria``
    lists answer ``{"items", "search_criteria", "total_count"}``,
    https://developer.adobe.com/commerce/webapi/rest/use-rest/performing-searches/ ).

    It stops once ``page × size`` reaches ``total_count`` (or at an empty page), never by waiting
    for a short or empty page: Magento answers a ``currentPage`` past the end with the last page
    again (https://github.com/magento/magento2/issues/25619), so a client that waits for an empty
    page reads the last one for ever. The page size sent is the one the client asked for.
    """

    def __init__(self, page_param: str = "page", size_param: str = "page_size", page_size: int = 100,
                 total_key: str = "total_count") -> None:
        self.page_param = page_param
        self.size_param = size_param
        self.page_size = page_size
        self.total_key = total_key

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {self.size_param: self.page_size, **params, self.page_param: 1}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        page = int(current.params.get(self.page_param, 1))
        size = int(current.params.get(self.size_param, self.page_size))
        total = body.get(self.total_key) if isinstance(body, Mapping) else None
        if record_count == 0 or total is None or page * size >= int(total):
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class ODataNextLinkPaginator:
    """OData server-driven paging: follow the body's next link until a page has none.

    ``keys`` are where the link may sit (v4 ``@odata.nextLink``; v3 ``odata.nextLink``). By default
    the link's query is split into parameters (Business Central's absolute links); ``opaque`` sends
    it as the server wrote it, resolved against the page's own URL, since OData clients must treat
    it as opaque and a server may answer it relative (SAP Business One's ``Items?$skip=20``).
    """

    def __init__(self, key: str = "@odata.nextLink", *, keys: tuple[str, ...] = (), opaque: bool = False) -> None:
        self.key = key
        self.keys = keys or (key,)
        self.opaque = opaque

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link = next((body[key] for key in self.keys if isinstance(body, Mapping) and body.get(key)), None)
        if not link:
            return None
        if self.opaque:
            return PageRequest(urljoin(response.url or "", link), {})
        url, params = _split_url(link)
        return PageRequest(url, params)


class BodyLinksPaginator:
    """Oracle-style collections (NetSuite REST web services and SuiteQL,
    https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156414087576.html ):
    ``{"items", "hasMore", "offset", "count", "links": [{"rel": "next", "href"}]}``.

    While ``hasMore`` is true the next request is the ``links`` entry whose ``rel`` is ``next``
    (its query carries ``limit`` and ``offset``), or, when a server leaves that link out, the same
    request at ``offset`` + the records this page held. The first request asks from offset 0.
    """

    def __init__(self, offset_param: str = "offset", more_key: str = "hasMore", rel: str = "next") -> None:
        self.offset_param = offset_param
        self.more_key = more_key
        self.rel = rel

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, self.offset_param: 0}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        if not isinstance(body, Mapping) or not body.get(self.more_key) or record_count == 0:
            return None
        href = next((link.get("href") for link in body.get("links") or []
                     if isinstance(link, Mapping) and link.get("rel") == self.rel), None)
        if href:
            url, params = _split_url(href)
            return PageRequest(url, params)
        offset = int(body.get(self.offset_param) or current.params.get(self.offset_param) or 0) + record_count
        return PageRequest(current.url, {**current.params, self.offset_param: offset})


class VersionCursorPaginator:
    """``?after=<version>`` paging over a global, monotonic version (Lightspeed X-Series API 2.0,
    https://x-series-api.lightspeedhq.com/docs/pagination): the next request asks for what comes
    after the page's ``version.max``; it stops on an empty page, or when a server does not move
    the version (which would otherwise loop forever)."""

    def __init__(self, after_param: str = "after") -> None:
        self.after_param = after_param

    @staticmethod
    def page_version(body: Any) -> int | None:
        """``version.max`` of the page, else the highest ``version`` of its rows; None when empty."""
        rows = (body or {}).get("data") or [] if isinstance(body, Mapping) else []
        if not rows:
            return None
        high = ((body or {}).get("version") or {}).get("max")
        if high is None:
            high = max(int(row.get("version") or 0) for row in rows)
        return int(high)

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        high = self.page_version(body)
        if high is None or high <= int(current.params.get(self.after_param) or 0):
            return None
        return PageRequest(current.url, {**current.params, self.after_param: high})


class BodyPagesPaginator:
    """``?page=N`` paging that stops at the body's page count: ``{"page": 2, "pages": 7, …}`` at the
    top level, as ShipStation answers its V1 lists (``shipments``, ``total``, ``page``, ``pages``:
    https://docs.shipstation.com/apis/shipstation-v1/docs/shipments/list) and its V2 lists
    (https://docs.shipstation.com/apis/shipengine/docs/reference/pagination). A body without a
    count stops at the first empty page."""

    def __init__(self, page_param: str = "page", pages_key: str = "pages") -> None:
        self.page_param = page_param
        self.pages_key = pages_key

    def first_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, self.page_param: 1}

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        page = int(current.params.get(self.page_param, 1))
        pages = body.get(self.pages_key) if isinstance(body, Mapping) else None
        if (pages is not None and page >= int(pages)) or (pages is None and record_count == 0):
            return None
        return PageRequest(current.url, {**current.params, self.page_param: page + 1})


class NestedNextLinkPaginator:
    """Follows an absolute next-page URL kept inside the body at ``path`` (Flexport's
    ``{"data": {"_object": "/api/collections/paginated", "next": "https://…?page=2", …}}``,
    https://apidocs.flexport.com/v2/tag/Shipment ), verbatim: its query carries every filter."""

    def __init__(self, path: tuple[str, ...] = ("data", "next")) -> None:
        self.path = path

    def next_page(self, response: requests.Response, body: Any, record_count: int,
                  current: PageRequest) -> PageRequest | None:
        link: Any = body
        for key in self.path:
            link = link.get(key) if isinstance(link, Mapping) else None
        if not link or not isinstance(link, str):
            return None
        url, params = _split_url(link)
        return PageRequest(url, params)
