"""Zoho Inventory stand-in, served at ``/zoho_inventory/{organization}/inventory/v1/…`` with the
accounts host's token endpoint at ``/zoho_inventory/{organization}/accounts/oauth/v2/token``.

Follows the public docs the connector follows (connectors/zoho_inventory.py lists them):
``org`` declares the stand-in (state, envelope, token and organization check, the 100-a-minute
limit), ``api`` holds the Inventory API and token endpoints, ``admin`` the control endpoints
(docs/sandbox.md).
"""
from fastapi import FastAPI

from sandbox.zoho_inventory import admin, api  # noqa: F401  (each registers its routes)
from sandbox.zoho_inventory.org import DEFAULTS, kit

__all__ = ["DEFAULTS", "install"]


def install(app: FastAPI) -> None:
    """The kit's routes and the accounts host's token endpoint."""
    kit.install(app)
    app.include_router(api.accounts())
