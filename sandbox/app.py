"""Builds the sandbox ASGI app from the stand-in modules listed in ``MODULES``.

Each module exposes ``install(app: FastAPI) -> None``: it creates its own state on
``app.state`` and includes its router. Keeping state on the app (not in module globals) lets a
test run several independent sandboxes.
"""
from __future__ import annotations

import importlib

from fastapi import FastAPI

MODULES: tuple[str, ...] = (
    "sandbox.control",
    "sandbox.shopify",
    "sandbox.woocommerce",
    "sandbox.lightspeed",
    "sandbox.netsuite",
    "sandbox.netsuite_restlet",
    "sandbox.odoo",
    "sandbox.business_central",
    "sandbox.bigcommerce",
    "sandbox.magento",
    "sandbox.salesforce_b2c",
    "sandbox.salesforce_oci",
    "sandbox.sapb1",
    "sandbox.quickbooks",
    "sandbox.zoho_inventory",
    "sandbox.cin7_core",
    "sandbox.airtable",
    "sandbox.warehouse",
    "sandbox.shipstation",
    "sandbox.flexport",
    "sandbox.messaging",
    "sandbox.twilio",
    "sandbox.mailgun",
    "sandbox.sendgrid",
    "sandbox.slack",
    "sandbox.stripe",
    "sandbox.adyen",
    "sandbox.paypal",
    "sandbox.zendesk",
    "sandbox.gorgias",
    "sandbox.intercom",
)


def create_app() -> FastAPI:
    app = FastAPI(title="Backorder Automator sandbox", docs_url=None, redoc_url=None)
    for name in MODULES:
        importlib.import_module(name).install(app)
    return app
