"""Salesforce Omnichannel Inventory (OCI) stand-in, served at
``/salesforce_oci/{instance}/inventory/availability/v1/organizations/{tenantGroupId}/…`` (in production
``https://{shortCode}.api.commercecloud.salesforce.com``) and its Account Manager at
``/salesforce_oci/{instance}/dwsso/oauth2/access_token`` (``https://account.demandware.com``).

Follows the public docs connectors/salesforce_oci.py follows: scoped client credentials tokens,
availability by location or group (at most 100 SKU × place pairs), delta tokens and deltas, batch
updates, RFC 7807 and OCI error bodies, 429 with ``Retry-After`` (``store``, ``api``); control
endpoints in ``admin``.
"""
from fastapi import FastAPI

from sandbox.salesforce_oci import admin, api  # noqa: F401  (each registers its routes)
from sandbox.salesforce_oci.store import CLIENT_ID, CLIENT_SECRET, TENANT_GROUP, TENANT_ID, account_manager, kit

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "TENANT_GROUP", "TENANT_ID", "install"]


def install(app: FastAPI) -> None:
    """The kit's routes and Account Manager's token endpoint."""
    kit.install(app)
    app.include_router(account_manager)
