"""Lightspeed Retail X-Series stand-in, served at ``/lightspeed/{instance}/api/…``.

Follows the public docs the connector follows (connectors/lightspeed.py lists them): Bearer token
auth; API 2.0 collections ``/api/2.0/products`` and ``/api/2.0/inventory`` paged by the global,
monotonic ``version`` (``?after=&page_size=``, answer ``{"data": [...], "version": {"min", "max"}}``,
an empty ``data`` past the end); ``PUT /api/2.1/products/{id}`` with ``details.inventory`` to set
``current_amount`` at an outlet; a fixed-window rate limit (300 × registers + 50 per 5 minutes by
default) answering 429 ``{"error": "Too Many Requests", "message": "Rate limiting enforced"}`` with
``Retry-After`` as an HTTP-date and ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``
(https://x-series-api.lightspeedhq.com/docs/rate_limiting); signed form-encoded webhooks, and
the ``/api/2.0/webhooks`` resource an app registers them through.

Built on ``sandbox.kit``: ``retailer`` declares the stand-in, ``api`` holds the API endpoints,
``webhooks`` the webhook resource, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.lightspeed import admin, api, sales, webhooks  # noqa: F401  (each registers its routes)
from sandbox.lightspeed.retailer import DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, kit

__all__ = ["DEFAULT_CLIENT_SECRET", "DEFAULT_TOKEN", "install"]

install = kit.install
