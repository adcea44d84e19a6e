"""A generic REST warehouse app stand-in, served at ``/warehouse/{instance}/api/v1/…``.

It plays "any unlisted REST platform" for the ``rest`` connector, built from the usual parts of
such APIs rather than one vendor's: ``Authorization: Bearer`` tokens (RFC 6750,
https://www.rfc-editor.org/rfc/rfc6750) answering 401 ``{"error", "message"}``; ``GET /stock``
paged by ``page`` / ``per_page`` with ``X-Total-Count`` / ``X-Total-Pages`` headers and an
``updated_since`` filter (inclusive, ISO-8601); ``GET /orders`` with the next page's URL in the
body (``meta.next``); ``PUT /items/{item_id}/stock`` setting the available quantity at a
location; a leaky-bucket rate limit answering 429 with ``Retry-After`` in seconds (RFC 6585 §4,
https://www.rfc-editor.org/rfc/rfc6585#section-4); webhooks signed
``X-Warehouse-Signature: sha256=<hex HMAC-SHA256 of the body>`` in GitHub's style
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).

Built on ``sandbox.kit``: ``app`` declares the stand-in, ``api`` holds the API endpoints, ``admin``
the control endpoints (docs/sandbox.md).
"""
from sandbox.warehouse import admin, api  # noqa: F401  (each registers its routes)
from sandbox.warehouse.app import DEFAULT_TOKEN, kit

__all__ = ["DEFAULT_TOKEN", "install"]

install = kit.install
