"""Shopify Admin REST stand-in, served at ``/shopify/{instance}/admin/api/{version}/…``.

Follows the public docs the connector follows: ``X-Shopify-Access-Token`` auth answering 401
``{"errors": "[API] Invalid API key or access token …"}``
(https://shopify.dev/docs/api/admin-rest#authentication); cursor pagination through ``Link``
with an opaque ``page_info`` (only ``limit``/``fields`` accepted next to it; the link carries
``page_info`` and ``limit`` only, as the documented link syntax shows, so a client re-sends
``fields``: https://shopify.dev/docs/api/admin-rest/usage/pagination); a real leaky bucket (40, 2/s by
default, configurable per instance) with ``X-Shopify-Shop-Api-Call-Limit`` and 429 +
``Retry-After: 2.0`` (https://shopify.dev/docs/api/admin-rest/usage/rate-limits); ids above 2**53; signed
webhooks (``X-Shopify-Hmac-Sha256``).

Built on ``sandbox.kit``: ``shop`` declares the stand-in (state, renderings, webhooks), ``stock``,
``money`` and ``drafts`` hold the API endpoints, ``admin`` the control endpoints. The catalog is
lazy (``sandbox.kit.catalog``), so 100,000 SKUs cost a few integers until paged through.
"""
from sandbox.shopify import admin, drafts, money, stock  # noqa: F401  (each registers its routes)
from sandbox.shopify import webhooks  # noqa: F401  (webhooks.json subscriptions)
from sandbox.shopify.shop import kit

install = kit.install
