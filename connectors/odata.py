"""OData conventions every OData back office shares: query strings, literals, server-driven paging.

* **Query options** (``$select``, ``$filter``, ``$orderby``, ``$top``, ``$skip``) travel in the
  query string with spaces as ``%20``: OData's URL conventions percent-encode, and a ``+`` is a
  literal plus there, not a space
  (https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html, §2).
  :func:`odata_path` builds such a path once; ``requests`` leaves a path's own query alone.
* **String literals** are single-quoted, a quote inside doubled (``'O''Brien'``), the same in a
  ``$filter`` and in a key (``Items('A''B')``): :func:`literal`, :func:`entity_key`.
* **Server-driven paging**: the client asks ``Prefer: odata.maxpagesize=N`` (a preference the
  server may lower: https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part1-protocol.html,
  §8.2.8.3) and follows the next link until a page has none. OData v3 JSON names it
  ``odata.nextLink``, v4 ``@odata.nextLink`` (SAP Business One's Service Layer answers ``/b1s/v1``
  in the first and ``/b1s/v2`` in the second); either may be relative, and a client must treat it
  as opaque, so :data:`NEXT_LINK` resolves it against the page's own URL and sends it unchanged.
* **Error bodies**: v3 ``{"error": {"code", "message": {"lang", "value"}}}`` and v4 ``{"error":
  {"code", "message"}}``, read by ``connectors.http.platform_error_message``.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

from connectors.paging import ODataNextLinkPaginator

#: Characters OData query options keep as they are (``$filter=a eq 'b'`` → ``$filter=a%20eq%20'b'``).
QUERY_SAFE = "$,()'=:/*@"
#: Follows ``odata.nextLink`` (v3) or ``@odata.nextLink`` (v4) verbatim, resolved against the page's URL.
NEXT_LINK = ODataNextLinkPaginator(keys=("@odata.nextLink", "odata.nextLink"), opaque=True)


def literal(value: str) -> str:
    """An OData string literal: ``O'Brien`` → ``'O''Brien'``."""
    return "'" + str(value).replace("'", "''") + "'"


def entity_key(collection: str, key: str) -> str:
    """The path of one entity by a string key: ``Items('A 1')`` (quoted and percent-encoded)."""
    return f"{collection}({quote(literal(key), safe=chr(39))})"


def any_of(field: str, values: list[Any]) -> str:
    """``(f eq 'a' or f eq 'b')``: the ``in`` operator is v4.01 only, so a set is an OR group."""
    return "(" + " or ".join(f"{field} eq {literal(v) if isinstance(v, str) else v}" for v in values) + ")"


def odata_path(collection: str, options: Mapping[str, Any]) -> str:
    """``Items?$select=…&$filter=…`` with the options percent-encoded as OData expects; options
    whose value is None or empty are left out."""
    query = "&".join(f"{name}={quote(str(value), safe=QUERY_SAFE)}" for name, value in options.items()
                     if value not in (None, ""))
    return f"{collection}?{query}" if query else collection


def max_page_size(size: int) -> dict[str, str]:
    """The ``Prefer`` header asking for pages of at most ``size`` records (0: no paging at all)."""
    return {"Prefer": f"odata.maxpagesize={int(size)}"}
