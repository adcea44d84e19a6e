"""SAP Business One Service Layer stand-in, served at ``/sap_b1/{company}/b1s/v1/…``.

Follows the public docs the connector follows (connectors/sapb1.py lists them): ``Login`` with
``CompanyDB`` / ``UserName`` / ``Password`` answered with the ``B1SESSION`` and ``ROUTEID``
cookies, sessions that time out and are refused with the Service Layer's 401 body; OData
collections with ``$select``, ``$filter`` (``any`` over document lines included), ``$orderby``,
``$top``, ``$skip`` and ``Prefer: odata.maxpagesize`` paging by ``odata.nextLink``; items with
their warehouse rows, warehouses, user-defined fields on the item master, purchase orders,
purchase requests and goods receipt POs, the documents numbered and copied from one another as
in B1's document flow.

Built on ``sandbox.kit``: ``company`` declares the stand-in (state, error body, session check),
``api`` holds the Service Layer endpoints, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.sapb1 import admin, api  # noqa: F401  (each registers its routes)
from sandbox.sapb1.company import DEFAULTS, kit

__all__ = ["DEFAULTS", "install"]

install = kit.install
