"""Adyen stand-in, served at ``/adyen/{instance}/…`` with Adyen's own paths below it: Checkout
``/checkout/v{n}/payments/{pspReference}/refunds`` and the Disputes API
``/ca/services/DisputeService/v30/…`` (the SDK's service ``baseUrl`` points there).

Follows the public docs the connector follows: ``X-API-Key`` auth, ``{status, errorCode, message,
errorType}`` errors, ``Idempotency-Key`` echoed and answered once, refunds acknowledged as
``received`` with their outcome in a REFUND notification, dispute notifications with
``defensePeriodEndsAt``, every item HMAC-signed in ``additionalData.hmacSignature`` and answered
``[accepted]`` by the receiver.

Built on ``sandbox.kit``: ``company`` declares the stand-in, ``api`` the API endpoints, ``admin``
the control endpoints (docs/sandbox-payments.md).
"""
from sandbox.adyen import admin, api  # noqa: F401  (each registers its routes)
from sandbox.adyen.company import DEFAULT_API_KEY, DEFAULT_HMAC_KEY, DEFAULT_MERCHANT, kit

__all__ = ["DEFAULT_API_KEY", "DEFAULT_HMAC_KEY", "DEFAULT_MERCHANT", "install"]

install = kit.install
