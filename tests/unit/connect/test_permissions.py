"""A refused optional read names the permission the operator must grant."""
from __future__ import annotations

import json

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.permissions import missing_permission


def test_shopify_names_the_scope_in_its_refusal() -> None:
    refused = AuthError("forbidden", status_code=403, platform="shopify", body=json.dumps(
        {"errors": "[API] This action requires merchant approval for read_all_orders scope."}))
    assert missing_permission("shopify", "orders", refused) == "read_all_orders scope"


def test_without_a_scope_in_the_body_the_platforms_permission_is_named() -> None:
    refused = AuthError("forbidden", status_code=403, platform="shopify", body="<html>Forbidden</html>")
    assert missing_permission("shopify", "orders", refused) == "read_orders scope"
    woo = AuthError("no", status_code=401, platform="woocommerce", body=json.dumps(
        {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {}}))
    assert missing_permission("woocommerce", "orders", woo).startswith("Read permission on the API key")


def test_other_failures_are_not_permissions() -> None:
    assert missing_permission("shopify", "orders", PermanentError("gone", status_code=404)) is None
    assert missing_permission("shopify", "orders", TransientError("busy", status_code=503)) is None
