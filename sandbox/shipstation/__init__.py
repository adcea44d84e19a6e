"""ShipStation stand-in, served at ``/shipstation/{instance}/…`` (V1 paths) and ``…/v2/…`` (V2).

Follows the public docs the connector follows (connectors/shipstation.py lists them): V1 HTTP Basic
``api_key:api_secret`` and V2 ``API-Key``, each refused with 401 in its API's error style; V1
``GET /shipments`` with ``createDateStart`` (Pacific time), ``includeShipmentItems``, ``sortBy``,
``page``/``pageSize`` (≤ 500) answering ``{shipments, total, page, pages}``; V1 rate limit 40 a
minute with ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` on every answer and 429 past it;
V2 200 a minute, 429 with ``Retry-After``; ``POST /webhooks/subscribe`` and ``GET /webhooks``; a
batch of labels posts ``{resource_url, resource_type}`` (no signature) to each SHIP_NOTIFY and
ITEM_SHIP_NOTIFY subscriber, its ``resource_url`` being ``/shipments?batchId=…``; V2
``/v2/labels``, ``/v2/shipments/{id}``, ``/v2/tracking`` and ``/v2/labels/{id}/track``.

Built on ``sandbox.kit``: ``account`` declares the stand-in, ``api`` holds the API endpoints,
``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.shipstation import admin, api  # noqa: F401  (each registers its routes)
from sandbox.shipstation.account import DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_V2_KEY, kit

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "DEFAULT_V2_KEY", "install"]

install = kit.install
