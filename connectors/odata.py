"""OData v4 as REST platforms serve it (Business Central, Dynamics 365, SAP Business One's v2 Service
Layer): collections, filters, server-driven paging, ETags and the error object, declared once.

OData v4 Part 1 and Part 2 (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html,
https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html):

* a collection answers ``{"value": [...], "@odata.nextLink": "<url>"}``; the next link is followed
  verbatim until a page comes without it (server-driven paging, Part 1 §11.2.6.7);
* the client asks for smaller pages with ``Prefer: odata.maxpagesize=N`` (Part 1 §8.2.8.3), which
  Business Central honours on a request basis:
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/webservices/server-driven-paging-in-odata-web-services
* ``$filter`` string literals are single-quoted with quotes doubled (Part 2 §5.1.1.6.1 /
  ABNF ``SQUOTE-in-string``); date-time literals are bare ISO 8601 (``2024-01-01T00:00:00Z``);
* a record carries ``@odata.etag``; an update sends it back in ``If-Match`` and is refused when
  the record changed since (Part 1 §11.4.1.1);
* an error is ``{"error": {"code", "message"}}`` (OData JSON Format §21).

A platform connector declares its collections with :data:`COLLECTION` (``COLLECTION("items",
map=...)``) and builds filters with :func:`literal`, :func:`any_of` and :func:`chunks_of`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, Mapping

from connectors.paging import ODataNextLinkPaginator
from connectors.streams import Collections

#: Every OData v4 collection: records under ``value``, next page by ``@odata.nextLink``.
COLLECTION = Collections(paginator=ODataNextLinkPaginator(), records="value")
#: How many values one ``or`` filter carries: URLs stay well under the 2,048 characters proxies allow.
FILTER_CHUNK = 20


def page_size_header(size: int | None) -> dict[str, str]:
    """``Prefer: odata.maxpagesize=N`` (none when no size is asked)."""
    return {"Prefer": f"odata.maxpagesize={int(size)}"} if size else {}


def literal(value: str) -> str:
    """A string literal for ``$filter``: ``'O''Brien'``."""
    return "'" + str(value).replace("'", "''") + "'"


def timestamp(when: datetime) -> str:
    """A ``DateTimeOffset`` literal in UTC, whole seconds (``2024-05-01T13:02:11Z``)."""
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def any_of(field: str, values: Iterable[str]) -> str:
    """``(field eq 'a' or field eq 'b')``: one filter matching any of the values."""
    return "(" + " or ".join(f"{field} eq {literal(v)}" for v in values) + ")"


def chunks_of(values: Iterable[str], size: int = FILTER_CHUNK) -> Iterator[list[str]]:
    """The distinct values, sorted, in lists of at most ``size`` (one ``or`` filter each)."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


def if_match(record: Mapping[str, Any]) -> dict[str, str]:
    """``If-Match`` with the record's ETag (``*`` when it shows none)."""
    return {"If-Match": str(record.get("@odata.etag") or "*")}


def error_message(body: Any, fallback: str) -> str:
    """``code: message`` from ``{"error": {"code", "message"}}``, so a log names the platform's code
    (``Application_DialogException: You may not enter numbers manually…``)."""
    inner = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(inner, Mapping) and (inner.get("message") or inner.get("code")):
        code, message = inner.get("code"), inner.get("message")
        return f"{code}: {message}" if code and message else str(message or code)
    return fallback
