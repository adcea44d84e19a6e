"""A refused optional read names the permission the operator must grant."""
from __future__ import annotations

import json

from connectors.errors import AuthError, PermanentError, TransientError
from connectors.permissions import missing_permission, refused_part


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


def test_a_netsuite_role_without_a_record_permission_is_named_from_suiteqls_answer() -> None:
    hidden = PermanentError("netsuite 400: INVALID_PARAMETER: Invalid search query. Detailed unprocessed description "
                            "follows. Search error occurred: Record 'location' was not found.", status_code=400,
                            platform="netsuite")
    assert missing_permission("netsuite", "locations", hidden) == (
        "Lists → Locations (View) on the token's role (SuiteQL: Record 'location' was not found)")
    assert refused_part("netsuite", "locations", hidden) is not None
    syntax = PermanentError("netsuite 400: INVALID_PARAMETER: Invalid search query.", status_code=400)
    assert missing_permission("netsuite", "locations", syntax) is None


def test_an_odoo_access_error_names_the_model_and_the_groups_that_may_read_it() -> None:
    denied = AuthError("odoo stock.warehouse.search_read: You are not allowed to access 'Warehouse' (stock.warehouse) "
                       "records.\n\nThis operation is allowed for the following groups:\n\t- Inventory / User\n\t- "
                       "Inventory / Administrator\n\nContact your administrator to request access if necessary. "
                       "(odoo.exceptions.AccessError)", platform="odoo")
    assert missing_permission("odoo", "warehouses", denied) == (
        "read access to Warehouse (stock.warehouse) for the API user: add it to a group that has it "
        "(Inventory / User, Inventory / Administrator)")
    wrong_key = AuthError("odoo res.partner.search_read: Access Denied (odoo.exceptions.AccessDenied)",
                          platform="odoo")
    assert missing_permission("odoo", "warehouses", wrong_key) is None


def test_a_401_is_the_credential_itself_not_one_part() -> None:
    woo = AuthError("no", status_code=401, platform="woocommerce", body="{}")
    assert missing_permission("woocommerce", "orders", woo) is not None  # a poll's orders part: named
    assert refused_part("woocommerce", "locations", woo) is None  # discovery: the credential is wrong
    shop = AuthError("forbidden", status_code=403, platform="shopify", body=json.dumps(
        {"errors": "[API] This action requires merchant approval for read_locations scope."}))
    assert refused_part("shopify", "locations", shop) == "read_locations scope"
