"""BigCommerce stand-in, served at ``/bigcommerce/{instance}/v3/…`` and ``…/v2/…``.

``{instance}`` stands for the store hash (``https://api.bigcommerce.com/stores/{store_hash}`` in
production). Follows the public docs the connector follows (connectors/bigcommerce.py lists them):
``X-Auth-Token`` answered 401 with the v3 error body; a request quota per window with the four
``X-Rate-Limit-*`` headers on every answer and 429 once it is used up
(https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits);
``meta.pagination`` on v3 lists; the catalog and the Inventory API over locations; v2 orders;
refund quotes and refunds checked against the quote; ``/v3/hooks`` and deliveries that carry ids
only, a ``hash`` and the subscription's custom headers.

Built on ``sandbox.kit``: ``store`` declares the stand-in, ``api`` and ``money`` hold the API
endpoints, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.bigcommerce import admin, api, money  # noqa: F401  (each registers its routes)
from sandbox.bigcommerce.store import DEFAULT_TOKEN, kit

__all__ = ["DEFAULT_TOKEN", "install"]

install = kit.install
