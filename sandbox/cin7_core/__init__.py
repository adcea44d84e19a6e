"""Cin7 Core stand-in, served at ``/cin7_core/{account}/ExternalApi/v2/…``.

Follows the public docs the connector follows (connectors/cin7_core.py lists them): ``account``
declares the stand-in (state, error body, the two key headers, 60 calls a minute answered 503),
``api`` holds the External API endpoints, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.cin7_core import admin, api  # noqa: F401  (each registers its routes)
from sandbox.cin7_core.account import DEFAULTS, kit

__all__ = ["DEFAULTS", "install"]

install = kit.install
