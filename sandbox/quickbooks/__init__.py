"""QuickBooks Online stand-in, served at ``/quickbooks/{instance}/…``.

Follows the public docs the connector follows (connectors/quickbooks.py lists them): the OAuth 2.0
token endpoint with rotating refresh tokens (``/oauth2/v1/tokens/bearer``), the company API under
``/v3/company/{realmId}`` (queries with ``STARTPOSITION``/``MAXRESULTS``, Change Data Capture,
purchase orders once per ``requestid``), the 500-a-minute throttle answered 429 ``ThrottleExceeded``,
webhooks signed in ``intuit-signature`` in the classic or the CloudEvents format, and control
endpoints (``admin``).
"""
from fastapi import FastAPI

from sandbox.quickbooks import admin, api  # noqa: F401  (each registers its routes)
from sandbox.quickbooks.company import DEFAULTS, kit, tokens

__all__ = ["DEFAULTS", "install"]


def install(app: FastAPI) -> None:
    """The kit's routes and the OAuth token endpoint."""
    kit.install(app)
    app.include_router(tokens)
