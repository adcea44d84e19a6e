"""NetSuite REST web services stand-in, served at ``/netsuite/{account}/services/rest/…``.

Follows the public docs the connector follows (connectors/netsuite.py lists them):

* token-based authentication checked for real (``sandbox.kit.oauth1``): the realm must be the
  account, ``HMAC-SHA256`` only (SHA-1 ended with 2023.1), the consumer key and token must be the
  seeded ones, the timestamp recent, the nonce unused, and the signature is recomputed from the
  seeded consumer and token secrets. Any failure answers 401 with NetSuite's body ``{"type",
  "title": "Unauthorized", "status": 401, "o:errorDetails": [{"detail": "Invalid login attempt…",
  "o:errorCode": "INVALID_LOGIN"}]}`` and keeps the reason in the request log (``auth_failure``);
* SuiteQL queries that really run, on an in-memory SQLite copy of the seeded tables ``item``,
  ``inventoryitemlocations``, ``location``, ``vendor``, ``transaction`` and ``transactionline``
  (with ``TO_TIMESTAMP`` / ``TO_CHAR`` for the ``'YYYY-MM-DD HH24:MI:SS'`` format), paged by
  ``limit`` 1..1000 and ``offset`` (a multiple of ``limit``, at most 100,000 results);
* purchase orders through the REST record service (create, upsert by external id, read), and
  ``_admin/purchase_orders/receive`` booking an item receipt as receiving does.

Built on ``sandbox.kit``: ``account`` declares the stand-in (state, errors, auth, paging),
``records`` holds the API endpoints, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.netsuite import admin, records  # noqa: F401  (each registers its routes)
from sandbox.netsuite.account import DEFAULTS, kit

__all__ = ["DEFAULTS", "install"]

install = kit.install
