"""Flexport stand-in, served at ``/flexport/{instance}/…`` with the v2 API's paths.

Follows the public docs the connector follows (connectors/flexport.py lists them): a bearer API key
or a token from ``POST /oauth/token`` (client credentials, 24 hours, 10 a day); the
``Flexport-Version`` header on every call; lists in the paginated envelope with an absolute
``next`` (``page``, ``per`` 1–100); ``/shipments``, ``/shipments/{id}``, ``/shipment_legs`` and
``/events`` (``f.occurred_at.gte``); webhook endpoints set up in the admin (Flexport's Settings)
receive each Event signed ``X-Hub-Signature-256`` (HMAC-SHA256 of the body with the endpoint's
secret token).

Built on ``sandbox.kit``: ``client`` declares the stand-in, ``api`` holds the API endpoints,
``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.flexport import admin, api  # noqa: F401  (each registers its routes)
from sandbox.flexport.client import DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, kit

__all__ = ["DEFAULT_API_KEY", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "install"]

install = kit.install
