"""Salesforce B2C Commerce stand-in, served at ``/salesforce_b2c/{instance}/s/…`` (OCAPI) and
``/salesforce_b2c/{instance}/dwsso/oauth2/access_token`` (Account Manager).

``{instance}`` stands for the instance host (``https://zzxx-001.dx.commercecloud.salesforce.com`` in
production) and for Account Manager, which in production is ``https://account.demandware.com``.
Follows the public docs the connector follows (connectors/salesforce_b2c.py lists them): client
credentials tokens that lapse after ``expires_in`` (1799 s), OCAPI faults, Data API inventory lists
and product inventory records paged by ``start`` / ``count``, the Shop API's order search and a
rate limit answered 429 (``store``, ``api``); control endpoints in ``admin``.
"""
from fastapi import FastAPI

from sandbox.salesforce_b2c import admin, api  # noqa: F401  (each registers its routes)
from sandbox.salesforce_b2c.store import CLIENT_ID, CLIENT_SECRET, account_manager, kit

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "install"]


def install(app: FastAPI) -> None:
    """The kit's routes and Account Manager's token endpoint."""
    kit.install(app)
    app.include_router(account_manager)
