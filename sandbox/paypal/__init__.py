"""PayPal REST stand-in, served at ``/paypal/{instance}/…`` with PayPal's paths below it
(``/v1/oauth2/token``, ``/v2/payments/…``, ``/v1/notifications/…``, ``/v1/customer/disputes/…``).

Follows the public docs the connector follows: OAuth 2 client credentials with expiring tokens,
``{name, message, debug_id, details}`` errors, ``PayPal-Request-Id`` giving back the refund it made,
``Prefer: return=representation``, refunds capped at what the capture has left, webhook
transmissions signed with RSA and checked by ``verify-webhook-signature``, and evidence taken
only while a dispute waits for the seller.

Built on ``sandbox.kit``: ``merchant`` declares the stand-in, ``api`` the API endpoints, ``admin``
the control endpoints (docs/sandbox-payments.md).
"""
from sandbox.paypal import admin, api  # noqa: F401  (each registers its routes)
from sandbox.paypal.merchant import DEFAULT_CLIENT_ID, DEFAULT_SECRET, DEFAULT_WEBHOOK_ID, kit

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_SECRET", "DEFAULT_WEBHOOK_ID", "install"]

install = kit.install
