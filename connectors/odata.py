"""OData as the back offices serve it (Business Central's API v2.0, SAP Business One's Service Layer):
query strings, literals, server-driven paging, ETags and the error object, declared once.

OData Part 1 and Part 2 (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html,
https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html):

* **Query options** (``$select``, ``$filter``, ``$orderby``, ``$top``, ``$skip``) travel in the
  query string with spaces as ``%20``: OData's URL conventions percent-encode, and a ``+`` is a
  literal plus there, not a space (Part 2, §2). :func:`odata_path` builds such a path once;
  ``requests`` leaves a path's own query alone.
* **String literals** are single-quoted, a quote inside doubled (``'O''Brien'``, Part 2
  §5.1.1.6.1), the same in a ``$filter`` and in a key (``Items('A''B')``): :func:`literal`,
  :func:`entity_key`; date-time literals are bare ISO 8601 (:func:`timestamp`). A set of values is
  an ``or`` group (:func:`any_of`; ``in`` is v4.01 only), at most :data:`FILTER_CHUNK` values a
  request (:func:`chunks_of`).
* **Server-driven paging** (Part 1 §11.2.6.7): the client asks ``Prefer: odata.maxpagesize=N``
  (§8.2.8.3; a preference the server may lower, which Business Central honours per request:
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/webservices/server-driven-paging-in-odata-web-services)
  and follows the next link until a page has none. OData v3 JSON names it ``odata.nextLink``, v4
  ``@odata.nextLink`` (SAP Business One's Service Layer answers ``/b1s/v1`` in the first and
  ``/b1s/v2`` in the second; Business Central in the second); either may be relative, and a client
  must treat it as opaque, so :data:`NEXT_LINK` resolves it against the page's own URL and sends it
  unchanged. :data:`COLLECTION` is a collection read so: records under ``value``.
* **ETags**: a record carries ``@odata.etag``; an update sends it back in ``If-Match`` and is
  refused when the record changed since (Part 1 §11.4.1.1): :func:`if_match`.
* **Error bodies**: v4 ``{"error": {"code", "message"}}`` (OData JSON Format §21) and v3
  ``{"error": {"code", "message": {"lang", "value"}}}``: :func:`error_message` gives ``code: message``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote

from connectors.paging import ODataNextLinkPaginator
from connectors.streams import Collections

#: Characters OData query options keep as they are (``$filter=a eq 'b'`` → ``$filter=a%20eq%20'b'``).
QUERY_SAFE = "$,()'=:/*@"
#: Follows ``odata.nextLink`` (v3) or ``@odata.nextLink`` (v4) verbatim, resolved against the page's URL.
NEXT_LINK = ODataNextLinkPaginator(keys=("@odata.nextLink", "odata.nextLink"), opaque=True)
#: An OData collection: records under ``value``, the next page by :data:`NEXT_LINK`.
COLLECTION = Collections(paginator=NEXT_LINK, records="value")
#: How many values one ``or`` filter carries: URLs stay well under the 2,048 characters proxies allow.
FILTER_CHUNK = 20


def literal(value: str) -> str:
    """An OData string literal: ``O'Brien`` → ``'O''Brien'``."""
    return "'" + str(value).replace("'", "''") + "'"


def timestamp(when: datetime) -> str:
    """A ``DateTimeOffset`` literal in UTC, whole seconds (``2024-05-01T13:02:11Z``)."""
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def entity_key(collection: str, key: str) -> str:
    """The path of one entity by a string key: ``Items('A 1')`` (quoted and percent-encoded)."""
    return f"{collection}({quote(literal(key), safe=chr(39))})"


def any_of(field: str, values: Iterable[Any]) -> str:
    """``(f eq 'a' or f eq 'b')``: the ``in`` operator is v4.01 only, so a set is an OR group;
    strings are quoted, numbers are not."""
    return "(" + " or ".join(f"{field} eq {literal(v) if isinstance(v, str) else v}" for v in values) + ")"


def chunks_of(values: Iterable[str], size: int = FILTER_CHUNK) -> Iterator[list[str]]:
    """The distinct values, sorted, in lists of at most ``size`` (one ``or`` filter each)."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


def odata_path(collection: str, options: Mapping[str, Any]) -> str:
    """``Items?$select=…&$filter=…`` with the options percent-encoded as OData expects; options
    whose value is None or empty are left out."""
    query = "&".join(f"{name}={quote(str(value), safe=QUERY_SAFE)}" for name, value in options.items()
                     if value not in (None, ""))
    return f"{collection}?{query}" if query else collection


def max_page_size(size: int) -> dict[str, str]:
    """The ``Prefer`` header asking for pages of at most ``size`` records (SAP Business One: 0 is
    no paging at all)."""
    return {"Prefer": f"odata.maxpagesize={int(size)}"}


def if_match(record: Mapping[str, Any]) -> dict[str, str]:
    """``If-Match`` with the record's ETag (``*`` when it shows none)."""
    return {"If-Match": str(record.get("@odata.etag") or "*")}


def error_message(body: Any, fallback: str) -> str:
    """``code: message`` from ``{"error": {"code", "message"}}`` (v3: the message is ``{"lang",
    "value"}``), so a log names the platform's code (``Application_DialogException: You may not
    enter numbers manually…``)."""
    inner = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(inner, Mapping):
        return fallback
    code, message = inner.get("code"), inner.get("message")
    if isinstance(message, Mapping):
        message = message.get("value")
    if code and message:
        return f"{code}: {message}"
    return str(message or code or fallback)
