"""Dynamics 365 Business Central stand-in, served at ``/business_central/{instance}/…``.

Follows the public docs the connector follows (connectors/business_central.py lists them): the
Entra ID endpoints MSAL calls (``login/{tenant}/…``, ``sandbox.kit.entra``), bearer tokens checked per
tenant with the 401 body Business Central answers, the API v2.0 and Analytics API collections as
OData (``$filter``, ``$select``, ``$orderby``, ``$top``, ``@odata.nextLink`` paging with
``Prefer: odata.maxpagesize``: ``sandbox.kit.odata``), purchase orders and their lines,
posted purchase receipts, webhook subscriptions with the validation handshake and notifications
on changes (``sandbox.kit.validated_subscriptions``), the 6,000-requests-per-5-minutes limit
answered 429 with ``Retry-After``, and control endpoints (``admin``).
"""
from fastapi import FastAPI

from sandbox.business_central import admin, api  # noqa: F401  (each registers its routes)
from sandbox.business_central.company import DEFAULTS, entra, kit, pages, subscriptions

__all__ = ["DEFAULTS", "install"]
subscriptions.serve(kit, pages)


def install(app: FastAPI) -> None:
    """The kit's routes and the tenant's Entra ID endpoints."""
    kit.install(app)
    app.include_router(entra.router())
